//! PLACEHOLDER: to be replaced by the real `sockstat` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct SockstatCollector;

impl SockstatCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        SockstatCollector
    }
}

impl BlockingCollector for SockstatCollector {
    fn name(&self) -> &'static str {
        "sockstat"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
