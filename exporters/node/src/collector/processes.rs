//! PLACEHOLDER: to be replaced by the real `processes` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct ProcessesCollector;

impl ProcessesCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        ProcessesCollector
    }
}

impl BlockingCollector for ProcessesCollector {
    fn name(&self) -> &'static str {
        "processes"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
