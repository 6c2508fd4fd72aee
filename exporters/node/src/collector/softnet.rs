//! PLACEHOLDER: to be replaced by the real `softnet` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct SoftnetCollector;

impl SoftnetCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        SoftnetCollector
    }
}

impl BlockingCollector for SoftnetCollector {
    fn name(&self) -> &'static str {
        "softnet"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
