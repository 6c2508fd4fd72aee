//! PLACEHOLDER: to be replaced by the real `cpu` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct CpuCollector;

impl CpuCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        CpuCollector
    }
}

impl BlockingCollector for CpuCollector {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
