//! PLACEHOLDER: to be replaced by the real `timex` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct TimexCollector;

impl TimexCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        TimexCollector
    }
}

impl BlockingCollector for TimexCollector {
    fn name(&self) -> &'static str {
        "timex"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
