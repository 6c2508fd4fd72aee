//! PLACEHOLDER: to be replaced by the real `diskstats` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct DiskstatsCollector;

impl DiskstatsCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        DiskstatsCollector
    }
}

impl BlockingCollector for DiskstatsCollector {
    fn name(&self) -> &'static str {
        "diskstats"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
