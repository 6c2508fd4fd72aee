//! Host metrics from /proc and /sys under the names of prometheus/node_exporter.

pub mod collector;
pub mod config;
pub mod kept;
#[cfg(target_os = "linux")]
pub mod netlink;
pub mod util;

use exporter_core::Exporter;

pub use config::NodeConfig;

/// Builds an exporter with the named collectors (names from [`collector::COLLECTORS`]). A scrape
/// may narrow them with `collect[]` or `exclude[]`, as node_exporter's can.
pub fn build_exporter(cfg: &NodeConfig, enabled: &[&str]) -> Exporter {
    let collectors = enabled
        .iter()
        .filter_map(|name| collector::find(name))
        .map(|spec| (spec.build)(cfg))
        .collect();
    Exporter::new("node", collectors).with_collector_selection()
}
