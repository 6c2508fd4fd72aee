//! The request metric families, in prometheus_flask_exporter's schema, and their configuration.

use std::collections::HashMap;

use prometheus::core::Desc;
use prometheus::{
    Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};
use regex::Regex;

use crate::request_total::RequestTotal;
use crate::series::RouteTable;

/// prometheus_flask_exporter's (and the Python client's) default latency buckets, in seconds.
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The `path` value of requests that matched no route (404 floods, scanners): one series for all.
pub const UNMATCHED_PATH: &str = "<unmatched>";

/// Why a metrics setup could not be built.
#[derive(Debug)]
pub struct Error(pub(crate) String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<prometheus::Error> for Error {
    fn from(e: prometheus::Error) -> Self {
        Error(e.to_string())
    }
}

/// Configures and registers [`HttpMetrics`].
///
/// ```
/// let metrics = instrument::HttpMetrics::builder()
///     .prefix("forecaster")
///     .exclude_prefix("/healthz")
///     .const_label("service", "api")
///     .registry(prometheus::Registry::new())
///     .build()
///     .unwrap();
/// # let _ = metrics;
/// ```
pub struct HttpMetricsBuilder {
    prefix: String,
    buckets: Vec<f64>,
    const_labels: HashMap<String, String>,
    registry: Option<Registry>,
    exclude_prefixes: Vec<String>,
    exclude_regexes: Vec<Regex>,
}

impl Default for HttpMetricsBuilder {
    fn default() -> Self {
        HttpMetricsBuilder {
            prefix: "flask".into(),
            buckets: DEFAULT_BUCKETS.to_vec(),
            const_labels: HashMap::new(),
            registry: None,
            // Scrapes of the metrics endpoint itself are not traffic.
            exclude_prefixes: vec!["/metrics".into()],
            exclude_regexes: Vec::new(),
        }
    }
}

impl HttpMetricsBuilder {
    /// Metric name prefix (default `flask`, so the guide's PromQL works unchanged).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Latency histogram buckets in seconds (default [`DEFAULT_BUCKETS`]).
    pub fn buckets(mut self, buckets: &[f64]) -> Self {
        self.buckets = buckets.to_vec();
        self
    }

    /// A label with a fixed value on every series (e.g. `service="api"`).
    pub fn const_label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.const_labels.insert(name.into(), value.into());
        self
    }

    /// Registry to register in (default: the prometheus crate's default registry, where the
    /// `register_*!` macros put custom metrics).
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Do not track routes whose template starts with `prefix`.
    pub fn exclude_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.exclude_prefixes.push(prefix.into());
        self
    }

    /// Do not track routes whose template matches `regex`.
    pub fn exclude_regex(mut self, regex: Regex) -> Self {
        self.exclude_regexes.push(regex);
        self
    }

    /// Track the metrics endpoint too (it is excluded by default).
    pub fn track_metrics_endpoint(mut self) -> Self {
        self.exclude_prefixes.retain(|p| p != "/metrics");
        self
    }

    /// Registers the families and returns the handle the layer records into.
    pub fn build(self) -> Result<HttpMetrics, Error> {
        let registry = self
            .registry
            .unwrap_or_else(|| prometheus::default_registry().clone());
        let p = &self.prefix;
        let opts = |name: &str, help: &str| {
            Opts::new(format!("{p}_{name}"), help).const_labels(self.const_labels.clone())
        };
        let duration = HistogramVec::new(
            HistogramOpts::from(opts(
                "http_request_duration_seconds",
                "Flask HTTP request duration in seconds",
            ))
            .buckets(self.buckets.clone()),
            &["method", "path", "status"],
        )?;
        let requests = RequestTotal::new(
            Desc::new(
                format!("{p}_http_request_total"),
                "Total number of HTTP requests".into(),
                vec!["method".into(), "status".into(), "path".into()],
                self.const_labels.clone(),
            )?,
            duration.clone(),
        );
        let exceptions = IntCounterVec::new(
            opts(
                "http_request_exceptions_total",
                "Total number of HTTP requests which resulted in an exception",
            ),
            &["method", "status"],
        )?;
        let in_progress = IntGaugeVec::new(
            opts(
                "http_requests_in_progress",
                "Number of HTTP requests in progress",
            ),
            &["method", "path"],
        )?;
        let info = GaugeVec::new(
            opts(
                "exporter_info",
                "Information about the Prometheus Flask exporter",
            ),
            &["version"],
        )?;
        registry.register(Box::new(requests))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(exceptions.clone()))?;
        registry.register(Box::new(in_progress.clone()))?;
        registry.register(Box::new(info.clone()))?;
        let info_gauge: Gauge = info.with_label_values(&[env!("CARGO_PKG_VERSION")]);
        info_gauge.set(1.0);

        let families = Families {
            duration,
            exceptions,
            in_progress,
        };
        Ok(HttpMetrics {
            inner: Box::leak(Box::new(Inner {
                routes: RouteTable::new(),
                families,
                exclude_prefixes: self.exclude_prefixes,
                exclude_regexes: self.exclude_regexes,
                registry,
            })),
        })
    }
}

#[derive(Clone)]
pub(crate) struct Families {
    pub duration: HistogramVec,
    pub exceptions: IntCounterVec,
    pub in_progress: IntGaugeVec,
}

pub(crate) struct Inner {
    pub routes: RouteTable,
    pub families: Families,
    exclude_prefixes: Vec<String>,
    exclude_regexes: Vec<Regex>,
    registry: Registry,
}

impl Inner {
    /// Checked once per route template (the answer is cached with the route).
    pub(crate) fn excluded(&self, route: &str) -> bool {
        self.exclude_prefixes
            .iter()
            .any(|p| route.starts_with(p.as_str()))
            || self.exclude_regexes.iter().any(|r| r.is_match(route))
    }
}

/// The HTTP request metrics; give them to [`crate::HttpMetricsLayer::new`]. Build them once:
/// they live as long as the process, like the series they register.
///
/// They are never freed because axum clones a route's service for every request: a reference
/// count here would be two atomic operations per request on a cache line that every thread
/// shares. (The series outlive any `HttpMetrics` anyway, in their registry.)
#[derive(Clone, Copy)]
pub struct HttpMetrics {
    pub(crate) inner: &'static Inner,
}

impl HttpMetrics {
    /// Options: prefix, registry, buckets, constant labels.
    pub fn builder() -> HttpMetricsBuilder {
        HttpMetricsBuilder::default()
    }

    /// Default settings in the default registry.
    pub fn new() -> Result<HttpMetrics, Error> {
        Self::builder().build()
    }

    /// The registry these metrics live in; serve it with [`crate::MetricsHandler`].
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Number of distinct `path` values tracked so far (bounded by routes + 1).
    pub fn tracked_paths(&self) -> usize {
        self.inner.routes.len()
    }
}
