//! PLACEHOLDER: to be replaced by the real `arp` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct ArpCollector;

impl ArpCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        ArpCollector
    }
}

impl BlockingCollector for ArpCollector {
    fn name(&self) -> &'static str {
        "arp"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
