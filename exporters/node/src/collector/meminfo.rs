//! PLACEHOLDER: to be replaced by the real `meminfo` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct MeminfoCollector;

impl MeminfoCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        MeminfoCollector
    }
}

impl BlockingCollector for MeminfoCollector {
    fn name(&self) -> &'static str {
        "meminfo"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
