//! PLACEHOLDER: to be replaced by the real `schedstat` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct SchedstatCollector;

impl SchedstatCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        SchedstatCollector
    }
}

impl BlockingCollector for SchedstatCollector {
    fn name(&self) -> &'static str {
        "schedstat"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
