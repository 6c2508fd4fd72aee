//! RabbitMQ (AMQP 0-9-1) brokers, through `lapin` (rustls for `amqps://`): the event consumer
//! ([`consumer`]: an exclusive auto-delete queue bound to the `celeryev` topic exchange, as
//! Flower does), queue depth at scrape time ([`queues`]: passive declare, or the management API
//! with [`management`]) and the broker URL ([`url`], password redacted everywhere).

pub mod consumer;
pub mod control;
pub mod management;
pub mod queues;
pub mod url;
