//! Queue depth on RabbitMQ, at scrape time. Without `--rabbitmq-management-url`: a passive
//! `queue.declare` per queue on a connection of its own (message and consumer counts, what
//! danihodovic/celery-exporter and kombu read), for the queues of `--queues` (default `celery`)
//! and those task events name. With it: one `GET /api/queues/{vhost}`, every queue of the vhost
//! but Celery's own (event receivers, remote control), plus the unacknowledged messages.
//!
//! A RabbitMQ priority queue (`x-max-priority`, kombu's `queue_max_priority`) is one queue whose
//! count covers every priority: nothing to add up, unlike Redis' per-priority lists.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use exporter_core::{BoxFuture, CollectError, CollectResult, Collector, MetricFamily};
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Channel, Connection};

use super::consumer::{scrub, Broker};
use super::management::{self, ManagementUrl};
use crate::consumer::Shared;
use crate::state::{bounded_label, MAX_QUEUES};

/// The queue measured when `--queues` names none: Celery's default.
pub const DEFAULT_QUEUE: &str = "celery";

/// One queue's counts.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueDepth {
    /// The queue's name.
    pub name: String,
    /// Messages ready for delivery.
    pub ready: f64,
    /// Delivered and not acknowledged (management API only).
    pub unacked: Option<f64>,
    /// Consumers of the queue.
    pub consumers: f64,
}

/// The `queues` collector on RabbitMQ.
pub struct AmqpQueuesCollector {
    broker: Arc<Broker>,
    management: Option<ManagementUrl>,
    configured: Vec<String>,
    events: Arc<Shared>,
    inner: tokio::sync::Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Kept between scrapes; dropped on any connection error or an abandoned scrape.
    conn: Option<(Connection, Channel)>,
    named_by_events: Vec<String>,
    /// Queues a passive declare did not find, and when to look again: each miss closes the
    /// channel (and lapin logs it as an error), so not on every scrape.
    missing: HashMap<String, Instant>,
}

/// How long a queue that was not found is left alone (unless a task event names it).
const MISSING_RECHECK: Duration = Duration::from_secs(30);

impl AmqpQueuesCollector {
    /// Measures `configured` (default `celery`) and the queues task events name, or what the
    /// management API lists when `management` is given.
    pub(crate) fn new(
        broker: Arc<Broker>,
        management: Option<ManagementUrl>,
        configured: Vec<String>,
        events: Arc<Shared>,
    ) -> AmqpQueuesCollector {
        let configured = if configured.is_empty() {
            vec![DEFAULT_QUEUE.to_string()]
        } else {
            configured
        };
        AmqpQueuesCollector {
            broker,
            management,
            configured,
            events,
            inner: tokio::sync::Mutex::new(Inner::default()),
        }
    }

    async fn collect_inner(&self) -> CollectResult {
        let depths = match &self.management {
            Some(m) => self.by_management_api(m).await?,
            None => self.by_passive_declare().await?,
        };
        Ok(families(&depths, self.management.is_some()))
    }

    fn queues_to_measure(&self, inner: &mut Inner) -> BTreeSet<String> {
        {
            let state = self.events.lock();
            let new = state.queues_named_since(inner.named_by_events.len());
            for q in new {
                // A task was just sent to it: it exists now, whatever the last look said.
                inner.missing.remove(&**q);
                inner.named_by_events.push(q.to_string());
            }
        }
        let mut queues: BTreeSet<String> = self.configured.iter().cloned().collect();
        for q in &inner.named_by_events {
            if queues.len() >= MAX_QUEUES {
                break;
            }
            queues.insert(q.clone());
        }
        queues
    }

    async fn channel(&self, inner: &mut Inner) -> Result<(), CollectError> {
        if let Some((conn, ch)) = &inner.conn {
            if conn.status().connected() && ch.status().connected() {
                return Ok(());
            }
        }
        inner.conn = None;
        let conn = self.broker.connect().await.map_err(CollectError::Other)?;
        let ch = conn.create_channel().await.map_err(|e| {
            CollectError::Other(scrub(
                &format!("cannot open a channel: {e}"),
                self.broker.credentials().1,
            ))
        })?;
        inner.conn = Some((conn, ch));
        Ok(())
    }

    async fn by_passive_declare(&self) -> Result<Vec<QueueDepth>, CollectError> {
        let mut inner = self.inner.lock().await;
        let queues = self.queues_to_measure(&mut inner);
        let mut out = Vec::with_capacity(queues.len());
        let now = Instant::now();
        inner.missing.retain(|_, until| *until > now);
        for q in queues {
            if inner.missing.contains_key(&q) {
                continue;
            }
            self.channel(&mut inner).await?;
            let Some((_, ch)) = &inner.conn else {
                continue;
            };
            let declared = ch
                .queue_declare(
                    q.as_str().into(),
                    QueueDeclareOptions {
                        passive: true,
                        ..QueueDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await;
            match declared {
                Ok(info) => out.push(QueueDepth {
                    name: q,
                    ready: f64::from(info.message_count()),
                    unacked: None,
                    consumers: f64::from(info.consumer_count()),
                }),
                // NOT_FOUND closes the channel, not the connection: the queue does not exist
                // (yet); report nothing for it and open a new channel for the next one.
                Err(e) if is_not_found(&e) => {
                    tracing::debug!(queue = %q, "no such queue; looking again in 30 s");
                    inner.missing.insert(q, now + MISSING_RECHECK);
                    if let Some((conn, _)) = inner.conn.take() {
                        if let Ok(ch) = conn.create_channel().await {
                            inner.conn = Some((conn, ch));
                        }
                    }
                }
                Err(e) => {
                    inner.conn = None;
                    return Err(CollectError::Other(scrub(
                        &format!("passive declare of {q}: {e}"),
                        self.broker.credentials().1,
                    )));
                }
            }
        }
        Ok(out)
    }

    async fn by_management_api(&self, m: &ManagementUrl) -> Result<Vec<QueueDepth>, CollectError> {
        let (broker_user, broker_password) = self.broker.credentials();
        let (user, password) = match &m.credentials {
            Some((u, p)) => (u.as_str(), p.as_str()),
            None => (broker_user, broker_password),
        };
        let path = m.queues_path(&self.broker.url().vhost);
        let body = management::get(m, &path, user, password)
            .await
            .map_err(CollectError::Other)?;
        let listed = management::parse_queues(&body).map_err(CollectError::Other)?;
        Ok(listed
            .into_iter()
            .filter(|q| !management::is_internal_queue(&q.name))
            .take(MAX_QUEUES)
            .map(|q| QueueDepth {
                ready: q.messages_ready.unwrap_or(0) as f64,
                unacked: Some(q.messages_unacknowledged.unwrap_or(0) as f64),
                consumers: q.consumers.unwrap_or(0) as f64,
                name: q.name,
            })
            .collect())
    }
}

fn is_not_found(e: &lapin::Error) -> bool {
    let text = e.to_string();
    text.contains("NOT_FOUND") || text.contains("404")
}

/// `celery_queue_length{queue}`, `celery_queue_consumers{queue}` and, from the management API,
/// `celery_queue_unacked` (the sum over the queues, as the Redis `unacked` hash counts it).
pub fn families(depths: &[QueueDepth], with_unacked: bool) -> Vec<MetricFamily> {
    let mut length = MetricFamily::gauge(
        "celery_queue_length",
        "Messages waiting in a queue (RabbitMQ's message count: every priority of a priority queue).",
    );
    let mut consumers = MetricFamily::gauge(
        "celery_queue_consumers",
        "Consumers of a queue (RabbitMQ's consumer count: one per worker consuming it).",
    );
    let mut unacked = 0.0;
    for d in depths {
        let label = [("queue", bounded_label(&d.name))];
        length.push(&label, d.ready);
        consumers.push(&label, d.consumers);
        unacked += d.unacked.unwrap_or(0.0);
    }
    let mut out = vec![length, consumers];
    if with_unacked {
        out.push(
            MetricFamily::gauge(
                "celery_queue_unacked",
                "Messages delivered to workers and not yet acknowledged, summed over the queues.",
            )
            .with(&[], unacked),
        );
    }
    out
}

impl Collector for AmqpQueuesCollector {
    fn name(&self) -> &'static str {
        "queues"
    }

    fn collect(&self) -> BoxFuture<'_, CollectResult> {
        Box::pin(async move {
            // The runtime's scrape deadline drops this future; the connection goes with it.
            match tokio::time::timeout(Duration::from_secs(30), self.collect_inner()).await {
                Ok(r) => r,
                Err(_) => Err(CollectError::Other(
                    "queue depth took longer than 30 s".into(),
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_of_depths() {
        let depths = [
            QueueDepth {
                name: "celery".into(),
                ready: 3.0,
                unacked: Some(1.0),
                consumers: 2.0,
            },
            QueueDepth {
                name: "prio".into(),
                ready: 4.0,
                unacked: Some(0.0),
                consumers: 0.0,
            },
        ];
        let f = families(&depths, true);
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].samples.len(), 2);
        assert_eq!(f[2].samples[0].value, 1.0);
        assert_eq!(families(&depths, false).len(), 2);
    }
}
