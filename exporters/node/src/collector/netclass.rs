//! PLACEHOLDER: to be replaced by the real `netclass` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct NetclassCollector;

impl NetclassCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        NetclassCollector
    }
}

impl BlockingCollector for NetclassCollector {
    fn name(&self) -> &'static str {
        "netclass"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
