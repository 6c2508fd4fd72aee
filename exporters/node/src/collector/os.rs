//! PLACEHOLDER: to be replaced by the real `os` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct OsCollector;

impl OsCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        OsCollector
    }
}

impl BlockingCollector for OsCollector {
    fn name(&self) -> &'static str {
        "os"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
