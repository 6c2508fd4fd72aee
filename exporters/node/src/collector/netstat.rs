//! PLACEHOLDER: to be replaced by the real `netstat` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct NetstatCollector;

impl NetstatCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        NetstatCollector
    }
}

impl BlockingCollector for NetstatCollector {
    fn name(&self) -> &'static str {
        "netstat"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
