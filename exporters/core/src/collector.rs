//! Collectors and the wrapper that runs them.
//!
//! A collector gathers fresh metric families on every scrape (no caching). The wrapper runs every
//! enabled collector concurrently under the scrape deadline and turns each one's outcome into
//! `<ns>_scrape_collector_success{collector}` and `<ns>_scrape_collector_duration_seconds{collector}`.
//! A collector that errors, panics or overruns the deadline reports success 0; the scrape goes on.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::metric::MetricFamily;

/// The future an asynchronous collector or an extra endpoint returns: boxed so that the traits
/// stay object-safe (`Arc<dyn Collector>`), `Send` so that it can run as a tokio task.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a collector produced nothing.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The data source does not exist on this host (no PSI, no conntrack module, ...).
    /// Reported at debug level: it is the normal state of many hosts.
    #[error("not available: {0}")]
    NotAvailable(String),
    /// Reading the source failed for another reason than its absence (permissions, a device
    /// error). Logged as an error.
    #[error("{context}: {source}")]
    Io {
        /// The path or operation that failed, e.g. `/proc/net/dev`.
        context: String,
        /// What the OS reported.
        #[source]
        source: std::io::Error,
    },
    /// The source was read but is not in the format the parser knows (a kernel or server whose
    /// output changed). The text says what was unexpected.
    #[error("parse error: {0}")]
    Parse(String),
    /// Anything else, worded by the collector; also how the wrapper reports a panic, a timeout
    /// or a cancelled task.
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

/// What a collector gives for one scrape: every family it can vouch for, or why it has none (the
/// wrapper then reports `<ns>_scrape_collector_success 0` for it).
pub type CollectResult = Result<Vec<MetricFamily>, CollectError>;

tokio::task_local! {
    static DEADLINE: tokio::time::Instant;
}

/// When the current scrape must be answered. Asynchronous collectors that talk to a target read
/// it to give up in time and still report `<ns>_up 0` (the wrapper's own timeout would drop their
/// output entirely); `None` outside a scrape.
pub fn scrape_deadline() -> Option<tokio::time::Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// An asynchronous collector (network exporters: Redis, PostgreSQL, ...).
pub trait Collector: Send + Sync + 'static {
    /// The `collector` label of `<ns>_scrape_collector_success` and the name a scrape selects it
    /// by; the same on every call.
    fn name(&self) -> &'static str;
    /// Gathers fresh families for one scrape. The future is dropped at the deadline, losing
    /// everything: read [`scrape_deadline`] to give up in time with a partial answer instead.
    fn collect(&self) -> BoxFuture<'_, CollectResult>;
}

/// A collector that does blocking work (reading /proc and /sys). Blocking collectors run on pool
/// threads ("lanes") that take the next collector from a shared queue: one lane to start with,
/// so a scrape costs two thread hand-offs, not one per collector; another lane joins whenever
/// the queue makes no progress for 50 ms, so a hung collector stalls only its lane.
pub trait BlockingCollector: Send + Sync + 'static {
    /// The `collector` label of `<ns>_scrape_collector_success` and the name a scrape selects it
    /// by (`collect[]=cpu`); the same on every call.
    fn name(&self) -> &'static str;
    /// Gathers fresh families for one scrape, on a pool thread. A call still running at the
    /// deadline is reported as timed out, and what it returns later is thrown away.
    fn collect(&self) -> CollectResult;
}

/// A collector as registered with an exporter.
#[derive(Clone)]
pub enum AnyCollector {
    /// Runs as a task on the runtime (made by [`asynchronous`]).
    Async(Arc<dyn Collector>),
    /// Runs on a blocking lane (made by [`blocking`]).
    Blocking(Arc<dyn BlockingCollector>),
}

impl AnyCollector {
    /// The collector's own [`name`](Collector::name): its label value, and what `collect[]` and
    /// `exclude[]` match.
    pub fn name(&self) -> &'static str {
        match self {
            AnyCollector::Async(c) => c.name(),
            AnyCollector::Blocking(c) => c.name(),
        }
    }
}

/// Registers a blocking collector.
pub fn blocking<C: BlockingCollector>(c: C) -> AnyCollector {
    AnyCollector::Blocking(Arc::new(c))
}

/// Registers an asynchronous collector.
pub fn asynchronous<C: Collector>(c: C) -> AnyCollector {
    AnyCollector::Async(Arc::new(c))
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> CollectError {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    CollectError::Other(format!("collector panicked: {msg}"))
}

fn join_error(e: tokio::task::JoinError) -> CollectError {
    if e.is_panic() {
        panic_message(e.into_panic())
    } else {
        CollectError::Other("collector task cancelled".into())
    }
}

fn timeout_error(deadline: Duration) -> CollectError {
    CollectError::Other(format!("timed out after {:.3}s", deadline.as_secs_f64()))
}

/// The outcome of one collector in one scrape.
#[derive(Debug)]
pub(crate) struct CollectorOutcome {
    pub(crate) name: &'static str,
    pub(crate) duration: Duration,
    pub(crate) result: CollectResult,
}

/// Upper bound on blocking lanes: enough to get past a few hung reads.
const MAX_BLOCKING_LANES: usize = 4;

/// How long the blocking collectors may go without finishing before another lane joins. Reading
/// /proc and /sys takes a few ms; waking a second lane up front cost the node exporter 6% more
/// CPU per scrape, for a scrape 0.3 ms sooner.
const LANE_STALL: Duration = Duration::from_millis(50);

/// The blocking collectors of one scrape, shared by its lanes.
struct BlockingScrape {
    queue: Arc<[(usize, Arc<dyn BlockingCollector>)]>,
    next: AtomicUsize,
    /// (slot, duration, result) of every collector that finished.
    results: Mutex<Vec<(usize, Duration, CollectResult)>>,
    /// Woken once, by the lane that finishes the last collector: one wake-up of the scrape per
    /// scrape, where a message per collector cost a wake-up (a write, an epoll_wait and a futex
    /// call) per collector.
    all_done: tokio::sync::Notify,
    /// Set when the scrape stopped waiting (deadline): lanes stop taking work.
    abandoned: AtomicBool,
}

impl BlockingScrape {
    fn run_lane(&self) {
        while !self.abandoned.load(Ordering::Relaxed) {
            let Some((slot, c)) = self.queue.get(self.next.fetch_add(1, Ordering::Relaxed)) else {
                break;
            };
            let start = Instant::now();
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| c.collect()))
                .unwrap_or_else(|p| Err(panic_message(p)));
            let mut results = self.results.lock().unwrap_or_else(|e| e.into_inner());
            results.push((*slot, start.elapsed(), result));
            if results.len() == self.queue.len() {
                // Stores a permit if the scrape is not waiting yet.
                self.all_done.notify_one();
            }
        }
    }
}

/// Runs every collector concurrently, all bounded by `deadline`. Panics are caught and reported as
/// errors; collectors that have not finished by the deadline as timeouts. Outcomes come back in
/// the order of `collectors`.
pub(crate) async fn run_collectors(
    collectors: &[AnyCollector],
    deadline: Duration,
) -> Vec<CollectorOutcome> {
    let until = tokio::time::Instant::now() + deadline;
    let mut slots: Vec<Option<(Duration, CollectResult)>> =
        collectors.iter().map(|_| None).collect();

    let async_tasks: Vec<_> = collectors
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match c {
            AnyCollector::Async(c) => Some((i, Arc::clone(c))),
            AnyCollector::Blocking(_) => None,
        })
        .map(|(i, c)| {
            let task = tokio::spawn(DEADLINE.scope(until, async move {
                let start = Instant::now();
                let result = tokio::time::timeout_at(until, c.collect())
                    .await
                    .unwrap_or_else(|_| Err(timeout_error(deadline)));
                (start.elapsed(), result)
            }));
            (i, task)
        })
        .collect();

    let queue: Arc<[(usize, Arc<dyn BlockingCollector>)]> = collectors
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match c {
            AnyCollector::Blocking(c) => Some((i, Arc::clone(c))),
            AnyCollector::Async(_) => None,
        })
        .collect();
    if !queue.is_empty() {
        let scrape = Arc::new(BlockingScrape {
            results: Mutex::new(Vec::with_capacity(queue.len())),
            queue,
            next: AtomicUsize::new(0),
            all_done: tokio::sync::Notify::new(),
            abandoned: AtomicBool::new(false),
        });
        let add_lane = || {
            let scrape = Arc::clone(&scrape);
            tokio::task::spawn_blocking(move || scrape.run_lane());
        };
        add_lane();
        let mut lanes = 1;
        let in_time = loop {
            let check = until.min(tokio::time::Instant::now() + LANE_STALL);
            if tokio::time::timeout_at(check, scrape.all_done.notified())
                .await
                .is_ok()
            {
                break true;
            }
            if check == until {
                break false;
            }
            if lanes < MAX_BLOCKING_LANES
                && scrape.next.load(Ordering::Relaxed) < scrape.queue.len()
            {
                add_lane();
                lanes += 1;
            }
        };
        if !in_time {
            scrape.abandoned.store(true, Ordering::Relaxed);
        }
        let mut results = scrape.results.lock().unwrap_or_else(|e| e.into_inner());
        for (slot, duration, result) in results.drain(..) {
            slots[slot] = Some((duration, result));
        }
    }

    for (i, task) in async_tasks {
        slots[i] = Some(
            task.await
                .unwrap_or_else(|e| (Duration::ZERO, Err(join_error(e)))),
        );
    }

    collectors
        .iter()
        .zip(slots)
        .map(|(c, slot)| {
            let (duration, result) = slot.unwrap_or((deadline, Err(timeout_error(deadline))));
            CollectorOutcome {
                name: c.name(),
                duration,
                result,
            }
        })
        .collect()
}

/// Turns outcomes into the collected families plus the per-collector success/duration families.
/// Errors are logged here, once, with the collector's name.
pub(crate) fn outcomes_to_families(
    namespace: &str,
    outcomes: Vec<CollectorOutcome>,
) -> Vec<MetricFamily> {
    let mut success = MetricFamily::gauge(
        crate::interned!("{namespace}_scrape_collector_success"),
        crate::interned!("{namespace}_exporter: Whether a collector succeeded."),
    );
    let mut duration = MetricFamily::gauge(
        crate::interned!("{namespace}_scrape_collector_duration_seconds"),
        crate::interned!("{namespace}_exporter: Duration of a collector scrape."),
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

    struct SeesDeadline;
    impl Collector for SeesDeadline {
        fn name(&self) -> &'static str {
            "deadline"
        }
        fn collect(&self) -> BoxFuture<'_, CollectResult> {
            Box::pin(async {
                let left = scrape_deadline()
                    .map(|d| d.saturating_duration_since(tokio::time::Instant::now()))
                    .ok_or_else(|| CollectError::Other("no deadline".into()))?;
                Ok(vec![
                    MetricFamily::gauge("t_left", "").with(&[], left.as_secs_f64())
                ])
            })
        }
    }

    #[tokio::test]
    async fn async_collectors_see_the_scrape_deadline() {
        assert!(scrape_deadline().is_none());
        let outcomes = run_collectors(&[asynchronous(SeesDeadline)], Duration::from_secs(3)).await;
        let families = outcomes.into_iter().next().unwrap().result.unwrap();
        let left = families[0].samples[0].value;
        assert!(left > 2.0 && left <= 3.0, "{left}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_scrape_ends_when_its_last_blocking_collector_does_not_at_the_deadline() {
        let collectors: Vec<_> = (0..20).map(|_| blocking(Fixed("ok", 0))).collect();
        let start = Instant::now();
        let outcomes = run_collectors(&collectors, Duration::from_secs(60)).await;
        assert!(start.elapsed() < Duration::from_secs(30));
        assert!(outcomes.iter().all(|o| o.result.is_ok()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hung_collector_does_not_hold_up_the_ones_queued_after_it() {
        let collectors = [
            blocking(Fixed("slow", 3)),
            blocking(Fixed("ok", 0)),
            blocking(Fixed("ok", 0)),
        ];
        let outcomes = run_collectors(&collectors, LANE_STALL * 6).await;
        let ok: Vec<_> = outcomes.iter().map(|o| o.result.is_ok()).collect();
        assert_eq!(ok, [false, true, true]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failing_panicking_and_slow_collectors_only_lose_their_own_metrics() {
        let collectors = [
            blocking(Fixed("ok", 0)),
            blocking(Fixed("err", 1)),
            blocking(Fixed("panic", 2)),
            blocking(Fixed("slow", 3)),
        ];
        let outcomes = run_collectors(&collectors, Duration::from_millis(100)).await;
        let fams = outcomes_to_families("t", outcomes);
        let names: Vec<_> = fams.iter().map(|f| f.name.as_ref()).collect();
        assert!(names.contains(&"t_ok"));
        assert!(!names.contains(&"t_late"));
        let success = fams
            .iter()
            .find(|f| f.name == "t_scrape_collector_success")
            .unwrap();
        let by_name: Vec<(String, f64)> = success
            .samples
            .iter()
            .map(|s| (s.labels[0].1.to_string(), s.value))
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
