//! PLACEHOLDER: to be replaced by the real `filefd` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct FilefdCollector;

impl FilefdCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        FilefdCollector
    }
}

impl BlockingCollector for FilefdCollector {
    fn name(&self) -> &'static str {
        "filefd"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
