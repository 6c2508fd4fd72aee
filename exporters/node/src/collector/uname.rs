//! PLACEHOLDER: to be replaced by the real `uname` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct UnameCollector;

impl UnameCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        UnameCollector
    }
}

impl BlockingCollector for UnameCollector {
    fn name(&self) -> &'static str {
        "uname"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
