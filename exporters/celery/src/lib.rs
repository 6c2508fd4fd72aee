//! Celery exporter: task and worker metrics from the broker's event stream, queue depth at scrape
//! time. No Python at run time: it reads kombu's envelopes on Redis itself.
//!
//! Pure parts (unit-tested on literal and captured input): [`resp`] (RESP2, the crate shared with the Redis exporter), [`event`] (kombu
//! envelopes, `task.multi` batches), [`tasks`] (bounded uuid map, state precedence), [`state`]
//! (counters, histograms, worker liveness), [`config`] (URL, transport options). I/O: [`conn`]
//! (one Redis connection), [`consumer`] (PSUBSCRIBE loop with reconnects), [`queues`] (the
//! scrape-time queue-depth collector), [`control`] (the `enable_events` broadcast).

pub mod config;
pub mod conn;
pub mod consumer;
pub mod control;
pub mod event;
pub mod queues;
pub use resp;
pub mod state;
pub mod tasks;

use std::sync::Arc;
use std::time::Duration;

use exporter_core::{asynchronous, BoxFuture, CollectResult, Collector, Exporter};

use crate::config::{BrokerUrl, ConfigError, Keys, TransportOptions};
use crate::conn::Connector;
use crate::consumer::Shared;
use crate::queues::QueuesCollector;

/// Everything the binary's flags decide.
#[derive(Debug, Clone)]
pub struct Config {
    pub broker: BrokerUrl,
    /// From `--broker-password-file`; replaces the URL's password.
    pub password: Option<String>,
    pub transport: TransportOptions,
    pub queues: Vec<String>,
    /// `None`: no discovery from `_kombu.binding.*`.
    pub queue_discovery_interval: Option<Duration>,
    /// `Some(interval)`: broadcast `enable_events` that often.
    pub enable_events: Option<Duration>,
    pub state: state::Options,
}

/// The exporter plus the background tasks that feed it.
pub struct Celery {
    pub exporter: Exporter,
    background: Background,
}

struct Background {
    connector: Arc<Connector>,
    keys: Keys,
    shared: Arc<Shared>,
    enable_events: Option<Duration>,
}

impl Celery {
    pub fn new(config: Config) -> Result<Celery, ConfigError> {
        let connector = Arc::new(Connector::new(&config.broker, config.password.clone())?);
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
