//! PLACEHOLDER: to be replaced by the real `hwmon` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct HwmonCollector;

impl HwmonCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        HwmonCollector
    }
}

impl BlockingCollector for HwmonCollector {
    fn name(&self) -> &'static str {
        "hwmon"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
