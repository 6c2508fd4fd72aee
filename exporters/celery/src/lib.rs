//! Celery exporter: task and worker metrics from the broker's event stream, queue depth at scrape
//! time. No Python at run time: it reads kombu's envelopes on Redis itself.
//!
//! Pure parts (unit-tested on literal and captured input): [`event`] (kombu envelopes,
//! `task.multi` batches), [`tasks`] (bounded uuid map, state precedence), [`state`] (counters,
//! histograms, worker liveness, Flower's families), [`broker_url`] (the URL and its `ssl_*`
//! parameters), [`transport`] (kombu transport options, key names), [`flags`] (the flags and the
//! [`Config`] they build). I/O: [`consumer`] (PSUBSCRIBE loop with reconnects), [`queues`] (the
//! scrape-time queue-depth collector), [`control`] (the `enable_events` broadcast); the Redis
//! connection and RESP2 are the shared [`resp`] crate's.

pub mod broker_url;
pub mod consumer;
pub mod control;
pub mod event;
pub mod flags;
pub mod queues;
pub use resp;
pub mod state;
pub mod tasks;
pub mod transport;

use std::sync::Arc;
use std::time::Duration;

use exporter_core::{asynchronous, BoxFuture, CollectResult, Collector, Exporter};

use resp::Connector;

use crate::broker_url::{BrokerUrl, ConfigError};
use crate::consumer::Shared;
use crate::queues::QueuesCollector;
use crate::transport::{Keys, TransportOptions};

/// Everything the binary's flags decide.
#[derive(Debug, Clone)]
pub struct Config {
    /// The broker, from `--broker-url`.
    pub broker: BrokerUrl,
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

struct Background {
    connector: Arc<Connector>,
    /// The broker URL without credentials, for the consumer's logs.
    broker: String,
    keys: Keys,
    shared: Arc<Shared>,
    enable_events: Option<Duration>,
}

impl Celery {
    /// Builds the collectors and the connector (reading any TLS files); nothing connects yet.
    pub fn new(config: Config) -> Result<Celery, ConfigError> {
        let connector = Arc::new(config.broker.connector(config.password.clone())?);
        let keys = Keys::new(&config.transport, config.broker.db);
        let shared = Shared::new(state::State::new(config.state.clone()));
        let exporter = Exporter::new(
            "celery",
            vec![
                asynchronous(EventsCollector(Arc::clone(&shared))),
                asynchronous(QueuesCollector::new(
                    Arc::clone(&connector),
                    keys.clone(),
                    config.queues.clone(),
                    Arc::clone(&shared),
                    config.queue_discovery_interval,
                )),
            ],
        );
        Ok(Celery {
            exporter,
            background: Background {
                connector,
                broker: config.broker.redacted(),
                keys,
                shared,
                enable_events: config.enable_events,
            },
        })
    }

    /// Splits off the exporter; the returned closure starts the event consumer (and the
    /// `enable_events` broadcaster) and must run inside the tokio runtime.
    pub fn into_parts(self) -> (Exporter, impl FnOnce()) {
        let bg = self.background;
        let start = move || {
            tokio::spawn(consumer::run(
                Arc::clone(&bg.connector),
                bg.broker,
                bg.keys.events_pattern(),
                Arc::clone(&bg.shared),
            ));
            if let Some(interval) = bg.enable_events {
                tokio::spawn(control::run(
                    Arc::clone(&bg.connector),
                    bg.keys.pidbox_channel(),
                    interval,
                ));
            }
        };
        (self.exporter, start)
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
