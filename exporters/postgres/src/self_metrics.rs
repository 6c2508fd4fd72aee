//! The `exporter` collector: `pg_up` (1 only when this scrape reached the server), `pg_static`
//! (version labels) and upstream's `pg_exporter_*` self-metrics.

use std::sync::Arc;
use std::time::Duration;

use exporter_core::{BoxFuture, CollectResult, Collector, Label, LabelValue, MetricFamily};

use crate::collector::ScrapeStats;
use crate::instance::Instance;

/// The user queries file as upstream reports it: file name and SHA-256.
#[derive(Debug, Clone)]
pub(crate) struct QueriesFile {
    /// As given to `--extend.query-path`.
    pub(crate) filename: String,
    /// SHA-256 of its contents, hex.
    pub(crate) hashsum: String,
}

/// The collector named `exporter`, always on.
pub(crate) struct ExporterCollector {
    /// Every configured server.
    pub(crate) instances: Arc<[Arc<Instance>]>,
    /// Whole-scrape statistics shared with every collector.
    pub(crate) stats: Arc<ScrapeStats>,
    /// Bounds the connection check so `pg_up 0` is reported even when the server hangs.
    pub(crate) up_timeout: Duration,
    /// `--extend.query-path`, for `pg_exporter_user_queries_load_error`.
    pub(crate) queries_file: Option<QueriesFile>,
    /// `--constantLabels`, also on the self-metrics as upstream.
    pub(crate) constant_labels: Vec<Label>,
}

const PING: &str = "SELECT 1";

impl Collector for ExporterCollector {
    fn name(&self) -> &'static str {
        "exporter"
    }

    fn collect(&self) -> BoxFuture<'_, CollectResult> {
        Box::pin(async move {
            let (scrapes, last_duration, last_error) = self.stats.begin();
            let mut up = MetricFamily::gauge(
                "pg_up",
                "Whether the last scrape of metrics from PostgreSQL was able to connect to the server (1 for yes, 0 for no).",
            );
            let mut version =
                MetricFamily::untyped("pg_static", "Version string as reported by postgres");
            let several = self.instances.len() > 1;
            for inst in self.instances.iter() {
                let check = async {
                    let session = inst.main.session().await?;
                    inst.main.query(&session, PING).await?;
                    Ok::<_, crate::connection::QueryError>(session)
                };
                let reached = match tokio::time::timeout(self.up_timeout, check).await {
                    Ok(Ok(session)) => {
                        let mut labels: Vec<Label> = vec![
                            ("short_version".into(), session.short_version().into()),
                            ("version".into(), LabelValue::new(&session.version)),
                        ];
                        labels.extend(inst.labels.iter().cloned());
                        version.push_labels(labels, 1.0);
                        true
                    }
                    Ok(Err(_)) => false,
                    Err(_) => {
                        tracing::warn!(
                            server = inst.server(),
                            "PostgreSQL did not answer within {:?}",
                            self.up_timeout
                        );
                        false
                    }
                };
                self.stats.finish(!reached);
                // One server: pg_up without labels, as upstream. Several: one series each.
                let labels = if several {
                    inst.labels.clone()
                } else {
                    self.constant_labels.clone()
                };
                up.push_labels(labels, if reached { 1.0 } else { 0.0 });
            }
            let c = &self.constant_labels;
            let gauge = |name: &'static str, help: &'static str, v: f64| {
                let mut f = MetricFamily::gauge(name, help);
                f.push_labels(c.clone(), v);
                f
            };
            let mut families = vec![
                up,
                version,
                gauge(
                    "pg_exporter_last_scrape_duration_seconds",
                    "Duration of the last scrape of metrics from PostgreSQL.",
                    last_duration,
                ),
                gauge(
                    "pg_exporter_last_scrape_error",
                    "Whether the last scrape of metrics from PostgreSQL resulted in an error (1 for error, 0 for success).",
                    if last_error { 1.0 } else { 0.0 },
                ),
            ];
            let mut total = MetricFamily::counter(
                "pg_exporter_scrapes_total",
                "Total number of times PostgreSQL was scraped for metrics.",
            );
            total.push_labels(c.clone(), scrapes as f64);
            families.push(total);
            if let Some(q) = &self.queries_file {
                let mut f = MetricFamily::gauge(
                    "pg_exporter_user_queries_load_error",
                    "Whether the user queries file was loaded and parsed successfully (1 for error, 0 for success).",
                );
                let mut labels: Vec<Label> = vec![
                    ("filename".into(), LabelValue::new(&q.filename)),
                    ("hashsum".into(), LabelValue::new(&q.hashsum)),
                ];
                labels.extend(c.iter().cloned());
                f.push_labels(labels, 0.0);
                families.push(f);
            }
            Ok(families)
        })
    }
}
