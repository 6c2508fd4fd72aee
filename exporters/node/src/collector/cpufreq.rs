//! PLACEHOLDER: to be replaced by the real `cpufreq` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct CpufreqCollector;

impl CpufreqCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        CpufreqCollector
    }
}

impl BlockingCollector for CpufreqCollector {
    fn name(&self) -> &'static str {
        "cpufreq"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
