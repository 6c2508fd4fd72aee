//! PLACEHOLDER: to be replaced by the real `selinux` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct SelinuxCollector;

impl SelinuxCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        SelinuxCollector
    }
}

impl BlockingCollector for SelinuxCollector {
    fn name(&self) -> &'static str {
        "selinux"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
