//! PLACEHOLDER: to be replaced by the real `edac` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct EdacCollector;

impl EdacCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        EdacCollector
    }
}

impl BlockingCollector for EdacCollector {
    fn name(&self) -> &'static str {
        "edac"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
