//! PLACEHOLDER: to be replaced by the real `thermal_zone` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct ThermalZoneCollector;

impl ThermalZoneCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        ThermalZoneCollector
    }
}

impl BlockingCollector for ThermalZoneCollector {
    fn name(&self) -> &'static str {
        "thermal_zone"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
