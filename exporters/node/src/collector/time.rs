//! PLACEHOLDER: to be replaced by the real `time` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct TimeCollector;

impl TimeCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        TimeCollector
    }
}

impl BlockingCollector for TimeCollector {
    fn name(&self) -> &'static str {
        "time"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
