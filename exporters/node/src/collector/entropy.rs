//! PLACEHOLDER: to be replaced by the real `entropy` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct EntropyCollector;

impl EntropyCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        EntropyCollector
    }
}

impl BlockingCollector for EntropyCollector {
    fn name(&self) -> &'static str {
        "entropy"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
