//! PLACEHOLDER: to be replaced by the real `textfile` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct TextfileCollector;

impl TextfileCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        TextfileCollector
    }
}

impl BlockingCollector for TextfileCollector {
    fn name(&self) -> &'static str {
        "textfile"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
