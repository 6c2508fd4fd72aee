//! PLACEHOLDER: to be replaced by the real `udp_queues` collector.

use exporter_core::{BlockingCollector, CollectError, CollectResult};

use crate::config::NodeConfig;

pub struct UdpQueuesCollector;

impl UdpQueuesCollector {
    pub fn new(_cfg: &NodeConfig) -> Self {
        UdpQueuesCollector
    }
}

impl BlockingCollector for UdpQueuesCollector {
    fn name(&self) -> &'static str {
        "udp_queues"
    }

    fn collect(&self) -> CollectResult {
        Err(CollectError::NotAvailable("not implemented yet".into()))
    }
}
