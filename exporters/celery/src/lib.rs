//! Celery exporter: task and worker metrics from the broker's event stream, queue depth at scrape
//! time. No Python at run time: it reads kombu's envelopes on Redis, and Celery's messages on
//! RabbitMQ ([`amqp`]), itself.
//!
//! Pure parts (unit-tested on literal and captured input): [`event`] (kombu envelopes,
//! `task.multi` batches), [`tasks`] (bounded uuid map, state precedence), [`state`] (counters,
//! histograms, worker liveness, Flower's families), [`broker_url`] (the URL and its `ssl_*`
//! parameters), [`transport`] (kombu transport options, key names), [`flags`] (the flags and the
//! [`Config`] they build). I/O: [`consumer`] (PSUBSCRIBE loop with reconnects), [`queues`] (the
//! scrape-time queue-depth collector), [`control`] (the `enable_events` broadcast); the Redis
//! connection and RESP2 are the shared [`resp`] crate's.

pub mod amqp;
pub mod broker_url;
pub mod consumer;
pub mod control;
pub mod event;
pub mod flags;
pub mod inspect;
pub mod queues;
mod random;
pub use resp;
pub mod state;
pub mod tasks;
pub mod transport;

use std::sync::Arc;
use std::time::Duration;

use exporter_core::{asynchronous, BoxFuture, CollectResult, Collector, Exporter};

use resp::Connector;

use crate::amqp::management::ManagementUrl;
use crate::amqp::url::AmqpUrl;
use crate::broker_url::{BrokerUrl, ConfigError};
use crate::consumer::Shared;
use crate::queues::QueuesCollector;
use crate::transport::{Keys, TransportOptions};

/// The broker `--broker-url` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broker {
    /// `redis://` or `rediss://`.
    Redis(BrokerUrl),
    /// `amqp://` or `amqps://` (RabbitMQ).
    Amqp(AmqpUrl),
}

impl Broker {
    /// `amqp://...` and `amqps://...` are RabbitMQ; anything else goes to the Redis parser.
    pub fn parse(url: &str) -> Result<Broker, ConfigError> {
        if AmqpUrl::is_amqp(url) {
            AmqpUrl::parse(url).map(Broker::Amqp)
        } else {
            BrokerUrl::parse(url).map(Broker::Redis)
        }
    }

    /// The URL without credentials, for logs and messages.
    pub fn redacted(&self) -> String {
        match self {
            Broker::Redis(u) => u.redacted(),
            Broker::Amqp(u) => u.redacted(),
        }
    }
}

/// Everything the binary's flags decide.
#[derive(Debug, Clone)]
pub struct Config {
    /// The broker, from `--broker-url`.
    pub broker: Broker,
    /// RabbitMQ's management API (`--rabbitmq-management-url`): queue depth from
    /// `/api/queues` instead of passive declares.
    pub rabbitmq_management: Option<ManagementUrl>,
    /// The message TTL of the RabbitMQ event queue (`--event-queue-ttl`; `None`: none).
    pub event_queue_ttl: Option<Duration>,
    /// From `--broker-password-file`; replaces the URL's password.
    pub password: Option<String>,
    /// kombu's transport options, from `--broker-transport-option`.
    pub transport: TransportOptions,
    /// Queues to measure besides those task events name and discovery finds (`--queues`).
    pub queues: Vec<String>,
    /// `None`: no discovery from `_kombu.binding.*`.
    pub queue_discovery_interval: Option<Duration>,
    /// `Some(interval)`: broadcast `enable_events` that often.
    pub enable_events: Option<Duration>,
    /// What the event state keeps and how (`--max-tasks`, buckets, timeouts, Flower's families).
    pub state: state::Options,
}

/// The exporter plus the background tasks that feed it.
pub struct Celery {
    /// The collectors `events` and `queues`, for the shared runtime.
    pub exporter: Exporter,
    background: Background,
}

enum Background {
    Redis {
        connector: Arc<Connector>,
        /// The broker URL without credentials, for the consumer's logs.
        broker: String,
        keys: Keys,
        shared: Arc<Shared>,
        enable_events: Option<Duration>,
        ask_workers: bool,
    },
    Amqp {
        broker: Arc<amqp::consumer::Broker>,
        shared: Arc<Shared>,
        event_queue_ttl: Option<Duration>,
        enable_events: Option<Duration>,
        /// Ask the workers `stats` and `active_queues` (danihodovic's names only).
        ask_workers: bool,
    },
}

impl Celery {
    /// Builds the collectors and the connector (reading any TLS files); nothing connects yet.
    pub fn new(config: Config) -> Result<Celery, ConfigError> {
        let shared = Shared::new(state::State::new(config.state.clone()));
        let events = asynchronous(EventsCollector(Arc::clone(&shared)));
        let names = queue_names(&config.state);
        match &config.broker {
            Broker::Redis(url) => {
                let connector = Arc::new(url.connector(config.password.clone())?);
                let keys = Keys::new(&config.transport, url.db);
                let queues = QueuesCollector::new(
                    Arc::clone(&connector),
                    keys.clone(),
                    config.queues.clone(),
                    Arc::clone(&shared),
                    config.queue_discovery_interval,
                );
                let exporter = exporter(events, queues, names, &shared);
                Ok(Celery {
                    exporter,
                    background: Background::Redis {
                        connector,
                        broker: url.redacted(),
                        keys,
                        shared,
                        enable_events: config.enable_events,
                        ask_workers: config.state.celery_exporter,
                    },
                })
            }
            Broker::Amqp(url) => {
                let broker = Arc::new(amqp::consumer::Broker::new(
                    url.clone(),
                    config.password.clone(),
                )?);
                let queues = amqp::queues::AmqpQueuesCollector::new(
                    Arc::clone(&broker),
                    config.rabbitmq_management.clone(),
                    config.queues.clone(),
                    Arc::clone(&shared),
                );
                let exporter = exporter(events, queues, names, &shared);
                Ok(Celery {
                    exporter,
                    background: Background::Amqp {
                        broker,
                        shared,
                        event_queue_ttl: config.event_queue_ttl,
                        enable_events: config.enable_events,
                        ask_workers: config.state.celery_exporter,
                    },
                })
            }
        }
    }

    /// Splits off the exporter; the returned closure starts the event consumer (and the
    /// `enable_events` broadcaster) and must run inside the tokio runtime.
    pub fn into_parts(self) -> (Exporter, impl FnOnce()) {
        let bg = self.background;
        let start = move || match bg {
            Background::Redis {
                connector,
                broker,
                keys,
                shared,
                enable_events,
                ask_workers,
            } => {
                tokio::spawn(consumer::run(
                    Arc::clone(&connector),
                    broker,
                    keys.events_pattern(),
                    Arc::clone(&shared),
                ));
                if let Some(interval) = enable_events {
                    tokio::spawn(control::run(
                        Arc::clone(&connector),
                        keys.pidbox_channel(),
                        interval,
                    ));
                }
                if ask_workers {
                    tokio::spawn(control::ask_workers(connector, keys, shared));
                }
            }
            Background::Amqp {
                broker,
                shared,
                event_queue_ttl,
                enable_events,
                ask_workers,
            } => {
                if let Some(interval) = enable_events {
                    tokio::spawn(amqp::control::run(Arc::clone(&broker), interval));
                }
                if ask_workers {
                    tokio::spawn(amqp::control::ask_workers(
                        Arc::clone(&broker),
                        Arc::clone(&shared),
                    ));
                }
                tokio::spawn(amqp::consumer::run(broker, shared, event_queue_ttl));
            }
        };
        (self.exporter, start)
    }
}

/// The collectors `events` and `queues` (either broker's, under the names asked for).
fn exporter(
    events: exporter_core::AnyCollector,
    queues: impl Collector,
    names: QueueNames,
    shared: &Arc<Shared>,
) -> Exporter {
    let queues = RenamedQueues::new(queues, names, Arc::clone(shared));
    Exporter::new("celery", vec![events, asynchronous(queues)])
}

/// Which queue families the `queues` collector's answer becomes.
#[derive(Debug, Clone, Copy)]
struct QueueNames {
    ours: bool,
    celery_exporter: bool,
}

fn queue_names(o: &state::Options) -> QueueNames {
    QueueNames {
        ours: o.ours,
        celery_exporter: o.celery_exporter,
    }
}

/// The queue-depth collector of either broker, its answer under our names
/// (`celery_queue_length{queue}`, ...) and/or danihodovic/celery-exporter's
/// (`celery_queue_length{queue_name}`, `celery_active_consumer_count`, ...).
struct RenamedQueues<C> {
    inner: C,
    names: QueueNames,
    events: Arc<Shared>,
}

impl<C> RenamedQueues<C> {
    fn new(inner: C, names: QueueNames, events: Arc<Shared>) -> RenamedQueues<C> {
        RenamedQueues {
            inner,
            names,
            events,
        }
    }
}

impl<C: Collector> Collector for RenamedQueues<C> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn collect(&self) -> BoxFuture<'_, CollectResult> {
        Box::pin(async move {
            let ours = self.inner.collect().await?;
            if !self.names.celery_exporter {
                return Ok(ours);
            }
            let answers = self.events.answers().unwrap_or_default();
            let mut out = state::community::queue_families_from(&ours, &answers);
            if self.names.ours {
                out.extend(ours);
            }
            Ok(out)
        })
    }
}

/// Task and worker families from the consumer's state, plus `celery_up` and self-metrics.
struct EventsCollector(Arc<Shared>);

impl Collector for EventsCollector {
    fn name(&self) -> &'static str {
        "events"
    }

    fn collect(&self) -> BoxFuture<'_, CollectResult> {
        Box::pin(async move {
            let now = self.0.now();
            Ok(self.0.lock().families(now))
        })
    }
}
