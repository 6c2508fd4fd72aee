//! Host metrics from /proc and /sys under the names of prometheus/node_exporter.

pub mod collector;
pub mod config;
pub mod util;

pub use config::NodeConfig;
