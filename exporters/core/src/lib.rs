//! Shared runtime of the suite's Prometheus exporters.
//!
//! Every exporter binary wires its collectors into this crate and gets the same surface as the Go
//! exporters: `--web.*` and `--log.*` flags, exporter-toolkit web-config (TLS, basic auth), a
//! landing page, health endpoints, per-collector success metrics and `process_*` self-metrics.
//! The runtime never knows what a collector talks to; a collector never knows about HTTP.

pub mod base64;
pub mod basic_auth;
pub mod collector;
pub mod collector_table;
pub mod duration;
pub mod encode;
pub mod metric;
pub mod percent;

pub use collector::{
    asynchronous, blocking, scrape_deadline, AnyCollector, BlockingCollector, BoxFuture,
    CollectError, CollectResult, Collector,
};
pub use metric::{Label, LabelValue, MetricFamily, MetricType, Sample};
pub mod exporter;
pub mod flags;
pub mod intern;
pub mod kept_targets;
pub mod log;
pub mod memory;
pub mod process;
pub mod run;
pub mod server;
mod systemd;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod tls_client;
pub mod web_config;
pub mod web_config_reload;

pub use exporter::Exporter;
pub use server::{Server, ServerConfig};
