//! PLACEHOLDER: to be replaced by the real `netdev` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct NetdevCollector;

impl NetdevCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        NetdevCollector
    }
}

impl BlockingCollector for NetdevCollector {
    fn name(&self) -> &'static str {
        "netdev"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
