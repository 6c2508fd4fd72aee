//! PLACEHOLDER: to be replaced by the real `stat` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct StatCollector;

impl StatCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        StatCollector
    }
}

impl BlockingCollector for StatCollector {
    fn name(&self) -> &'static str {
        "stat"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
