//! PLACEHOLDER: to be replaced by the real `powersupplyclass` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct PowersupplyclassCollector;

impl PowersupplyclassCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        PowersupplyclassCollector
    }
}

impl BlockingCollector for PowersupplyclassCollector {
    fn name(&self) -> &'static str {
        "powersupplyclass"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
