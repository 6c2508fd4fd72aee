//! The scrape-time collector of queue depth: LLEN over every queue's lists (the queue and its
//! priority sub-queues, key prefix included) and HLEN of the unacked hash, in one pipeline on a
//! connection of its own. Queues come from `--queues`, from task events (a queue a task event
//! names is measured from the next scrape on) and from kombu's `_kombu.binding.*` sets,
//! rediscovered with SCAN (never KEYS) every `--queue-discovery-interval`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use exporter_core::{BoxFuture, CollectError, CollectResult, Collector, MetricFamily};

use resp::{ConnError, Connection, Connector, Reply};

use crate::consumer::Shared;
use crate::state::{bounded_label, MAX_QUEUES};
use crate::transport::Keys;

/// SCAN calls per scrape; a huge keyspace is walked over several scrapes.
const SCAN_CALLS_PER_SCRAPE: usize = 50;
const SCAN_COUNT: &str = "1000";
/// Binding sets read per discovery.
const MAX_BINDING_KEYS: usize = 1000;

/// The `queues` collector: `celery_queue_length` and `celery_queue_unacked` at scrape time.
pub(crate) struct QueuesCollector {
    connector: Arc<Connector>,
    keys: Keys,
    configured: Vec<String>,
    /// The event consumer's state, which knows the queues task events named.
    events: Arc<Shared>,
    /// `None`: discovery off.
    discovery_interval: Option<Duration>,
    inner: tokio::sync::Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Kept between scrapes; dropped on any error (or when a scrape is abandoned at its deadline,
    /// since the future owning it is dropped).
    conn: Option<Connection>,
    discovered: BTreeSet<String>,
    /// Copied from the event state as they appear (it only ever appends).
    named_by_events: Vec<String>,
    next_discovery: Option<Instant>,
    /// An unfinished SCAN: cursor and binding keys found so far.
    scan: Option<(u64, BTreeSet<String>)>,
}

impl QueuesCollector {
    /// A collector dialling with `connector`; `configured` are `--queues`, `events` the event
    /// state (for the queues task events name), `discovery_interval` `None` for no discovery.
    pub(crate) fn new(
        connector: Arc<Connector>,
        keys: Keys,
        configured: Vec<String>,
        events: Arc<Shared>,
        discovery_interval: Option<Duration>,
    ) -> QueuesCollector {
        QueuesCollector {
            connector,
            keys,
            configured,
            events,
            discovery_interval,
            inner: tokio::sync::Mutex::new(Inner::default()),
        }
    }

    async fn collect_inner(&self) -> CollectResult {
        let mut inner = self.inner.lock().await;
        let mut conn = match inner.conn.take() {
            Some(c) => c,
            None => self
                .connector
                .connect_within(Duration::from_secs(5))
                .await
                .map_err(to_collect_error)?,
        };
        if let Some(interval) = self.discovery_interval {
            let due = inner.next_discovery.is_none_or(|t| Instant::now() >= t);
            if due
                && self
                    .discover(&mut conn, &mut inner)
                    .await
                    .map_err(to_collect_error)?
            {
                inner.next_discovery = Some(Instant::now() + interval);
            }
        }
        self.copy_queues_named_by_events(&mut inner);
        let queues = self.queues_to_measure(&inner);
        let mut commands = 0;
        for q in &queues {
            for key in self.keys.queue_keys(q) {
                conn.queue(&["LLEN", key.as_str()]);
                commands += 1;
            }
        }
        conn.queue(&["HLEN", self.keys.unacked_key().as_str()]);
        commands += 1;
        let replies = conn
            .read_replies(commands)
            .await
            .map_err(to_collect_error)?;

        let per_queue = self.keys.queue_keys("").len();
        let mut length = MetricFamily::gauge(
            "celery_queue_length",
            "Messages waiting in a queue, summed over its priority sub-queues.",
        );
        let mut replies = replies.iter();
        for q in &queues {
            let mut sum = 0.0;
            for _ in 0..per_queue {
                // A key of another type under a queue's name is not a queue: count nothing.
                if let Some(Reply::Integer(n)) = replies.next() {
                    sum += *n as f64;
                }
            }
            length.push(&[("queue", bounded_label(q))], sum);
        }
        let unacked = match replies.next() {
            Some(Reply::Integer(n)) => *n as f64,
            Some(Reply::Error(e)) => {
                return Err(CollectError::Other(format!(
                    "HLEN {}: {e}",
                    self.keys.unacked_key()
                )))
            }
            _ => 0.0,
        };
        drop(queues);
        inner.conn = Some(conn);
        Ok(vec![
            length,
            MetricFamily::gauge(
                "celery_queue_unacked",
                "Messages delivered to workers and not yet acknowledged (the unacked hash).",
            )
            .with(&[], unacked),
        ])
    }

    /// Picks up the queues task events named since the last scrape, so a queue is measured
    /// from the first scrape after its first task event, not after the next discovery walk.
    fn copy_queues_named_by_events(&self, inner: &mut Inner) {
        let state = self.events.lock();
        let new = state.queues_named_since(inner.named_by_events.len());
        inner
            .named_by_events
            .extend(new.iter().map(|q| q.to_string()));
    }

    /// `--queues` first, then the queues task events named, then discovered ones, at most
    /// [`MAX_QUEUES`] in all.
    fn queues_to_measure<'a>(&'a self, inner: &'a Inner) -> BTreeSet<&'a str> {
        let mut queues: BTreeSet<&str> = self.configured.iter().map(String::as_str).collect();
        for q in inner.named_by_events.iter().chain(&inner.discovered) {
            if queues.len() >= MAX_QUEUES {
                break;
            }
            queues.insert(q);
        }
        queues
    }

    /// Walks the binding sets; true when the walk is complete and `discovered` was replaced.
    async fn discover(&self, conn: &mut Connection, inner: &mut Inner) -> Result<bool, ConnError> {
        let pattern = self.keys.bindings_pattern();
        let (mut cursor, mut found) = inner.scan.take().unwrap_or_default();
        for _ in 0..SCAN_CALLS_PER_SCRAPE {
            let reply = conn
                .request(&[
                    "SCAN",
                    &cursor.to_string(),
                    "MATCH",
                    &pattern,
                    "COUNT",
                    SCAN_COUNT,
                ])
                .await?;
            let (next, keys) = parse_scan(&reply).ok_or(ConnError::Unexpected("SCAN"))?;
            for k in keys {
                if found.len() < MAX_BINDING_KEYS {
                    found.insert(k);
                }
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        if cursor != 0 {
            inner.scan = Some((cursor, found));
            return Ok(false);
        }
        let binding_keys: Vec<&String> = found
            .iter()
            .filter(|k| self.keys.binding_exchange(k).is_some())
            .collect();
        for k in &binding_keys {
            conn.queue(&["SMEMBERS", k.as_str()]);
        }
        let replies = conn.read_replies(binding_keys.len()).await?;
        let mut discovered = BTreeSet::new();
        for reply in &replies {
            for member in reply.as_array().unwrap_or_default() {
                let Some(member) = member.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
                else {
                    continue;
                };
                if let Some(q) = self.keys.binding_queue(member) {
                    if discovered.len() < MAX_QUEUES {
                        discovered.insert(q.to_string());
                    }
                }
            }
        }
        inner.discovered = discovered;
        Ok(true)
    }
}

/// `[cursor, [key, ...]]`.
fn parse_scan(reply: &Reply) -> Option<(u64, Vec<String>)> {
    let [cursor, keys] = reply.as_array()? else {
        return None;
    };
    let cursor = u64::try_from(cursor.as_int()?).ok()?;
    let keys = keys
        .as_array()?
        .iter()
        .filter_map(|k| String::from_utf8(k.as_bytes()?.to_vec()).ok())
        .collect();
    Some((cursor, keys))
}

fn to_collect_error(e: ConnError) -> CollectError {
    CollectError::Other(e.to_string())
}

impl Collector for QueuesCollector {
    fn name(&self) -> &'static str {
        "queues"
    }

    fn collect(&self) -> BoxFuture<'_, CollectResult> {
        Box::pin(self.collect_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_replies_parse() {
        let reply = Reply::Array(Some(vec![
            Reply::Bulk(Some(b"17".to_vec())),
            Reply::Array(Some(vec![
                Reply::Bulk(Some(b"_kombu.binding.celery".to_vec())),
                Reply::Bulk(Some(vec![0xff])),
            ])),
        ]));
        assert_eq!(
            parse_scan(&reply),
            Some((17, vec!["_kombu.binding.celery".to_string()]))
        );
        assert_eq!(parse_scan(&Reply::Integer(1)), None);
        assert_eq!(
            parse_scan(&Reply::Array(Some(vec![Reply::Integer(0)]))),
            None
        );
    }
}
