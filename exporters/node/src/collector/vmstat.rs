//! PLACEHOLDER: to be replaced by the real `vmstat` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct VmstatCollector;

impl VmstatCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        VmstatCollector
    }
}

impl BlockingCollector for VmstatCollector {
    fn name(&self) -> &'static str {
        "vmstat"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
