//! `--enable-events` on RabbitMQ: the `enable_events` remote-control broadcast, as
//! `app.control.enable_events()` sends it (what Flower does every 5 s): a JSON message on kombu's
//! `celery.pidbox` fanout exchange, which every worker's pidbox queue is bound to. The exchange is
//! only checked (passive declare), never created: before any worker has started there is no one
//! to tell, and a declaration with other arguments than kombu's would be refused.

use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicPublishOptions, ExchangeDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ExchangeKind};

use super::consumer::{scrub, Broker};

/// kombu's broadcast mailbox exchange.
const PIDBOX_EXCHANGE: &str = "celery.pidbox";

/// The command: no destination, so every worker takes it.
pub const ENABLE_EVENTS: &[u8] =
    br#"{"method": "enable_events", "arguments": {}, "destination": null, "pattern": null, "matcher": null}"#;

fn properties() -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert("clock".into(), AMQPValue::LongLongInt(1));
    headers.insert("expires".into(), AMQPValue::LongLongInt(0));
    BasicProperties::default()
        .with_content_type("application/json".into())
        .with_content_encoding("utf-8".into())
        .with_delivery_mode(1)
        .with_headers(headers)
}

async fn broadcast(ch: &Channel) -> Result<bool, lapin::Error> {
    let exists = ch
        .exchange_declare(
            PIDBOX_EXCHANGE.into(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions {
                passive: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await;
    if exists.is_err() {
        // NOT_FOUND: no worker has declared it yet (the channel is closed; a new one next time).
        return Ok(false);
    }
    ch.basic_publish(
        PIDBOX_EXCHANGE.into(),
        "".into(),
        BasicPublishOptions::default(),
        ENABLE_EVENTS,
        properties(),
    )
    .await?;
    Ok(true)
}

/// Broadcasts every `interval`, on a connection of its own, reconnecting as needed.
pub(crate) async fn run(broker: Arc<Broker>, interval: Duration) {
    let mut conn: Option<(Connection, Channel)> = None;
    loop {
        if conn
            .as_ref()
            .is_none_or(|(c, ch)| !c.status().connected() || !ch.status().connected())
        {
            conn = None;
            match broker.connect().await {
                Ok(c) => match c.create_channel().await {
                    Ok(ch) => conn = Some((c, ch)),
                    Err(e) => tracing::debug!(error = %e, "enable_events: no channel"),
                },
                Err(e) => tracing::debug!(error = %e, "enable_events: no connection"),
            }
        }
        if let Some((_, ch)) = &conn {
            match broadcast(ch).await {
                Ok(true) => tracing::debug!("broadcast enable_events"),
                Ok(false) => {
                    tracing::debug!("no celery.pidbox exchange yet: no worker to tell");
                    conn = None;
                }
                Err(e) => {
                    let (_, password) = broker.credentials();
                    tracing::warn!(error = %scrub(&e.to_string(), password), "cannot broadcast enable_events");
                    conn = None;
                }
            }
        }
        tokio::time::sleep(interval).await;
    }
}
