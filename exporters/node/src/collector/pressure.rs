//! PLACEHOLDER: to be replaced by the real `pressure` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct PressureCollector;

impl PressureCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        PressureCollector
    }
}

impl BlockingCollector for PressureCollector {
    fn name(&self) -> &'static str {
        "pressure"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
