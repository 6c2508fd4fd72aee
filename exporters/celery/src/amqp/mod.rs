//! RabbitMQ (AMQP 0-9-1) brokers, through `lapin` (rustls for `amqps://`): the event consumer
//! ([`consumer`]: an exclusive auto-delete queue bound to the `celeryev` topic exchange, as
//! Flower does), queue depth at scrape time ([`queues`]: passive declare, or the management API
//! with [`management`]) and the broker URL ([`url`], password redacted everywhere).

pub mod consumer;
pub mod control;
pub mod management;
pub mod queues;
pub mod url;

use std::time::Duration;

/// Up to +25%, so many exporters do not reconnect in lockstep after a broker restart.
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    d + d.mul_f64(f64::from(nanos % 1000) / 4000.0)
}
