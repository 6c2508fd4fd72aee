//! PLACEHOLDER: to be replaced by the real `filesystem` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct FilesystemCollector;

impl FilesystemCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        FilesystemCollector
    }
}

impl BlockingCollector for FilesystemCollector {
    fn name(&self) -> &'static str {
        "filesystem"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
