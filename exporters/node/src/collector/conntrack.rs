//! PLACEHOLDER: to be replaced by the real `conntrack` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct ConntrackCollector;

impl ConntrackCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        ConntrackCollector
    }
}

impl BlockingCollector for ConntrackCollector {
    fn name(&self) -> &'static str {
        "conntrack"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
