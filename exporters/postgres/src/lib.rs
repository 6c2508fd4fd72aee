//! PostgreSQL metrics under the names of prometheus-community/postgres_exporter (0.11 and current
//! releases), for less work on the database: one pooled connection per server, statements
//! prepared once, the settings in one query, and a scrape that never fails as a whole.
//!
//! Reading order: [`flags`] (the command line, turned into [`Options`]), [`data_source`] and
//! [`dsn`] (the servers), [`build_exporter`] (one collector per table row of `collector`, run
//! against every server), then the collectors themselves under `src/collector/`.

pub mod auth_modules;
mod collector;
mod connection;
pub mod data_source;
pub mod dsn;
pub mod flags;
mod instance;
pub mod multi_target;
mod queries;
mod self_metrics;
mod tls;
mod value;

use std::sync::Arc;
use std::time::Duration;

use exporter_core::{asynchronous, AnyCollector, Exporter};

use crate::collector::{Build, CollectorConfig, Running, ScrapeStats};
use crate::dsn::Dsn;
use crate::instance::{DiscoveryFilter, Instance};
use crate::queries::{UserQuery, UserQueryCollector};
use crate::self_metrics::{ExporterCollector, QueriesFile};

/// Everything but the data sources: what to collect and how. Built from the command line by
/// [`flags::Flags::options`]; the default is every collector that is on by default.
#[derive(Debug, Clone)]
pub struct Options {
    /// Names from [`collector::COLLECTORS`].
    pub(crate) collectors: Vec<&'static str>,
    /// Options some collectors take.
    pub(crate) collector_config: CollectorConfig,
    /// `--constantLabels`.
    pub(crate) constant_labels: Vec<(String, String)>,
    /// `--auto-discover-databases` with its include/exclude lists.
    pub(crate) discovery: Option<DiscoveryFilter>,
    /// Connection (and `pg_up` check) timeout unless the DSN sets `connect_timeout`.
    pub(crate) connect_timeout: Duration,
    /// `--extend.query-path`: each query its own collector.
    pub(crate) user_queries: Vec<Arc<UserQuery>>,
    /// The file they came from, for `pg_exporter_user_queries_load_error`.
    pub(crate) queries_file: Option<QueriesFile>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            collectors: collector::COLLECTORS
                .rows()
                .iter()
                .filter(|c| c.default_enabled)
                .map(|c| c.name)
                .collect(),
            collector_config: CollectorConfig::default(),
            constant_labels: Vec::new(),
            discovery: None,
            connect_timeout: Duration::from_secs(3),
            user_queries: Vec::new(),
            queries_file: None,
        }
    }
}

impl Options {
    /// The enabled collectors minus those a user query of the same namespace replaces.
    pub(crate) fn effective_collectors(&self) -> Vec<&'static collector::CollectorSpec> {
        self.collectors
            .iter()
            .filter_map(|n| collector::COLLECTORS.find(n))
            .filter(|spec| {
                let replaced = self
                    .user_queries
                    .iter()
                    .any(|q| q.name == spec.build.namespace);
                if replaced {
                    tracing::info!(
                        collector = spec.name,
                        query = spec.build.namespace,
                        "user query replaces the built-in collector"
                    );
                }
                !replaced
            })
            .collect()
    }
}

/// Builds the exporter for `dsns` (several DSNs: one set of series per server, told apart by
/// the `server` label). Fails only on TLS files that cannot be read.
pub fn build_exporter(dsns: Vec<Dsn>, opts: &Options) -> Result<Exporter, String> {
    let mut instances = Vec::new();
    for dsn in dsns {
        let tls = tls::client_config(&dsn).map_err(|e| format!("{}: {e}", dsn.redacted()))?;
        instances.push(Arc::new(Instance::new(
            dsn,
            tls,
            &opts.constant_labels,
            opts.discovery.clone(),
            opts.connect_timeout,
        )));
    }
    let instances: Arc<[Arc<Instance>]> = instances.into();
    let stats = Arc::new(ScrapeStats::default());
    let mut collectors: Vec<AnyCollector> = vec![asynchronous(ExporterCollector {
        instances: Arc::clone(&instances),
        stats: Arc::clone(&stats),
        up_timeout: opts.connect_timeout,
        queries_file: opts.queries_file.clone(),
        constant_labels: opts
            .constant_labels
            .iter()
            .map(|(k, v)| (k.clone().into(), v.into()))
            .collect(),
    })];
    if !instances.is_empty() {
        let build = Build::new(opts.collector_config.clone());
        for spec in opts.effective_collectors() {
            collectors.push(asynchronous(Running {
                name: spec.name,
                inner: (spec.build.new)(&build),
                instances: Arc::clone(&instances),
                stats: Arc::clone(&stats),
            }));
        }
        for q in &opts.user_queries {
            collectors.push(asynchronous(Running {
                name: q.collector_name,
                inner: Arc::new(UserQueryCollector::new(Arc::clone(q))),
                instances: Arc::clone(&instances),
                stats: Arc::clone(&stats),
            }));
        }
    }
    Ok(Exporter::new("pg", collectors))
}

/// SHA-256 of a file's contents, hex (upstream's `hashsum` label).
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
