//! Collectors and the wrapper that runs them.
//!
//! A collector gathers fresh metric families on every scrape (no caching). The wrapper runs every
//! enabled collector concurrently under the scrape deadline and turns each one's outcome into
//! `<ns>_scrape_collector_success{collector}` and `<ns>_scrape_collector_duration_seconds{collector}`.
//! A collector that errors, panics or overruns the deadline reports success 0; the scrape goes on.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::metric::MetricFamily;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a collector produced nothing.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The data source does not exist on this host (no PSI, no conntrack module, ...).
    /// Reported at debug level: it is the normal state of many hosts.
    #[error("not available: {0}")]
    NotAvailable(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("parse error: {0}")]
    Parse(String),
    #[error("{0}")]
    Other(String),
}

impl CollectError {
    /// Wraps an I/O error with the path or operation it came from; a missing file becomes
    /// [`CollectError::NotAvailable`].
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        let context = context.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            CollectError::NotAvailable(context)
        } else {
            CollectError::Io { context, source }
        }
    }
}

pub type CollectResult = Result<Vec<MetricFamily>, CollectError>;

/// An asynchronous collector (network exporters: Redis, PostgreSQL, ...).
pub trait Collector: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn collect(&self) -> BoxFuture<'_, CollectResult>;
}

/// A collector that does blocking work (reading /proc and /sys). It runs on the blocking pool so a
/// slow file system cannot stall the server's event loop.
pub trait BlockingCollector: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn collect(&self) -> CollectResult;
}

/// Adapts a [`BlockingCollector`] to [`Collector`] by running it on tokio's blocking pool.
pub struct Blocking<C>(pub Arc<C>);

impl<C: BlockingCollector> Collector for Blocking<C> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn collect(&self) -> BoxFuture<'_, CollectResult> {
        let inner = Arc::clone(&self.0);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || inner.collect())
                .await
                .unwrap_or_else(|e| Err(join_error(e)))
        })
    }
}

/// Boxes a blocking collector for a collector table.
pub fn blocking<C: BlockingCollector>(c: C) -> Arc<dyn Collector> {
    Arc::new(Blocking(Arc::new(c)))
}

fn join_error(e: tokio::task::JoinError) -> CollectError {
    if e.is_panic() {
        let payload = e.into_panic();
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        CollectError::Other(format!("collector panicked: {msg}"))
    } else {
        CollectError::Other("collector task cancelled".into())
    }
}

/// The outcome of one collector in one scrape.
#[derive(Debug)]
pub struct CollectorOutcome {
    pub name: &'static str,
    pub duration: Duration,
    pub result: CollectResult,
}

/// Runs every collector concurrently, each bounded by `deadline`. Panics are caught (each
/// collector runs in its own task) and reported as errors; overruns as timeouts.
pub async fn run_collectors(
    collectors: &[Arc<dyn Collector>],
    deadline: Duration,
) -> Vec<CollectorOutcome> {
    let handles: Vec<_> = collectors
        .iter()
        .map(|c| {
            let c = Arc::clone(c);
            let name = c.name();
            let handle = tokio::spawn(async move {
                let start = Instant::now();
                let result = match tokio::time::timeout(deadline, c.collect()).await {
                    Ok(r) => r,
                    Err(_) => Err(CollectError::Other(format!(
                        "timed out after {:.3}s",
                        deadline.as_secs_f64()
                    ))),
                };
                (start.elapsed(), result)
            });
            (name, handle)
        })
        .collect();

    let mut outcomes = Vec::with_capacity(handles.len());
    for (name, handle) in handles {
        let (duration, result) = handle
            .await
            .unwrap_or_else(|e| (Duration::ZERO, Err(join_error(e))));
        outcomes.push(CollectorOutcome {
            name,
            duration,
            result,
        });
    }
    outcomes
}

/// Turns outcomes into the collected families plus the per-collector success/duration families.
/// Errors are logged here, once, with the collector's name.
pub fn outcomes_to_families(namespace: &str, outcomes: Vec<CollectorOutcome>) -> Vec<MetricFamily> {
    let mut success = MetricFamily::gauge(
        format!("{namespace}_scrape_collector_success"),
        format!("{namespace}_exporter: Whether a collector succeeded."),
    );
    let mut duration = MetricFamily::gauge(
        format!("{namespace}_scrape_collector_duration_seconds"),
        format!("{namespace}_exporter: Duration of a collector scrape."),
    );
    let mut families = Vec::new();
    for o in outcomes {
        duration.push(&[("collector", o.name)], o.duration.as_secs_f64());
        let ok = match o.result {
            Ok(f) => {
                families.extend(f);
                true
            }
            Err(CollectError::NotAvailable(what)) => {
                tracing::debug!(collector = o.name, %what, "collector source not available");
                false
            }
            Err(err) => {
                tracing::error!(collector = o.name, %err, "collector failed");
                false
            }
        };
        success.push(&[("collector", o.name)], if ok { 1.0 } else { 0.0 });
    }
    families.push(success);
    families.push(duration);
    families
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(&'static str, u8);
    impl BlockingCollector for Fixed {
        fn name(&self) -> &'static str {
            self.0
        }
        fn collect(&self) -> CollectResult {
            match self.1 {
                0 => Ok(vec![MetricFamily::gauge("t_ok", "ok").with(&[], 1.0)]),
                1 => Err(CollectError::Parse("bad".into())),
                2 => panic!("boom"),
                _ => {
                    std::thread::sleep(Duration::from_millis(500));
                    Ok(vec![MetricFamily::gauge("t_late", "late").with(&[], 1.0)])
                }
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failing_panicking_and_slow_collectors_only_lose_their_own_metrics() {
        let collectors = vec![
            blocking(Fixed("ok", 0)),
            blocking(Fixed("err", 1)),
            blocking(Fixed("panic", 2)),
            blocking(Fixed("slow", 3)),
        ];
        let outcomes = run_collectors(&collectors, Duration::from_millis(100)).await;
        let fams = outcomes_to_families("t", outcomes);
        let names: Vec<_> = fams.iter().map(|f| f.name.as_str()).collect();
        assert!(names.contains(&"t_ok"));
        assert!(!names.contains(&"t_late"));
        let success = fams
            .iter()
            .find(|f| f.name == "t_scrape_collector_success")
            .unwrap();
        let by_name: Vec<(String, f64)> = success
            .samples
            .iter()
            .map(|s| (s.labels[0].1.clone(), s.value))
            .collect();
        assert_eq!(
            by_name,
            vec![
                ("ok".into(), 1.0),
                ("err".into(), 0.0),
                ("panic".into(), 0.0),
                ("slow".into(), 0.0)
            ]
        );
    }
}
