//! The event consumer on RabbitMQ, as Flower (celery's `EventReceiver`) does it: declare the
//! `celeryev` topic exchange (durable, as Celery declares it), bind an exclusive, auto-delete
//! queue `celeryev.<uuid>` to it with routing key `#` (messages expire after 5 s, the queue 60 s
//! after its consumer is gone: Celery's `event_queue_ttl` / `event_queue_expires`). Unlike Celery's
//! receiver it acknowledges (one `multiple` ack per batch) under a prefetch limit, so a stalled
//! exporter never back-pressures the workers publishing events. Bodies are the events themselves (JSON; no base64 envelope as on Redis), a single event or
//! a `task.multi` batch. Reconnects with capped exponential backoff; `celery_up` is 0 meanwhile
//! and the counters carry on.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_core::Stream;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};

use super::url::AmqpUrl;
use crate::broker_url::url_host;
use crate::consumer::Shared;
use crate::event::{decode_body, Undecodable};
use exporter_core::percent;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Celery's `event_queue_ttl` default (`--event-queue-ttl`): events older than this are dropped
/// by the broker rather than piling up behind a stalled consumer.
pub const DEFAULT_EVENT_QUEUE_TTL: Duration = Duration::from_secs(5);
/// Celery's `event_queue_expires`: the queue goes 60 s after its consumer.
const EVENT_QUEUE_EXPIRES_MS: i32 = 60_000;
/// Messages taken per batch (applied under one lock, acknowledged with one `multiple` ack).
const BATCH: usize = 256;
/// Unacknowledged messages the broker may push: a few batches in flight.
const PREFETCH: u16 = 1024;

/// How the exporter reaches a RabbitMQ broker: the URL plus the password from
/// `--broker-password-file`, and the TLS roots for `amqps://`.
pub struct Broker {
    url: AmqpUrl,
    password: String,
    /// PEM of the CAs that sign the broker's certificate (`amqps://` only).
    ca_pem: Option<String>,
}

/// The largest frame asked for. lapin keeps 32 frames of read and of write buffer per
/// connection, zero-filled: at RabbitMQ's 128 KiB that is 8 MiB a connection; at 8 KiB, 512 KiB.
/// Celery's messages (a batch of 24 events is about 10 KiB) then take one or two frames.
const FRAME_MAX: u32 = 8192;

/// The system CA bundle (Debian's path), used for `amqps://` without `cacertfile`.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

impl Broker {
    /// Reads the CA file now, so a missing one stops start-up with a message naming it.
    pub fn new(
        url: AmqpUrl,
        password: Option<String>,
    ) -> Result<Broker, crate::broker_url::ConfigError> {
        let ca_pem = if url.tls {
            let path = url
                .ca_certs
                .clone()
                .unwrap_or_else(|| SYSTEM_CA_BUNDLE.into());
            Some(std::fs::read_to_string(&path).map_err(|e| {
                crate::broker_url::ConfigError(format!(
                    "--broker-url: cannot read the CA file {}: {e}",
                    path.display()
                ))
            })?)
        } else {
            None
        };
        Ok(Broker {
            password: password.unwrap_or_else(|| url.password.clone()),
            url,
            ca_pem,
        })
    }

    /// The broker URL (password included: never print it; see [`Broker::redacted`]).
    pub fn url(&self) -> &AmqpUrl {
        &self.url
    }

    /// The URL without the password.
    pub fn redacted(&self) -> String {
        self.url.redacted()
    }

    /// The user and password to log in with (also the management API's default).
    pub fn credentials(&self) -> (&str, &str) {
        (&self.url.username, &self.password)
    }

    /// Opens a connection, within [`CONNECT_TIMEOUT`]. Errors never hold the password: lapin's
    /// messages name the host and the AMQP reply, not the URI.
    pub async fn connect(&self) -> Result<Connection, String> {
        let u = &self.url;
        let uri = format!(
            "{}://{}:{}@{}:{}/{}?heartbeat={}&frame_max={FRAME_MAX}",
            if u.tls { "amqps" } else { "amqp" },
            percent::encode(&u.username),
            percent::encode(&self.password),
            url_host(&u.host),
            u.port,
            percent::encode(&u.vhost),
            u.heartbeat,
        );
        let uri: lapin::uri::AMQPUri = uri
            .parse()
            .map_err(|_| format!("cannot use the broker URL {}", self.redacted()))?;
        let properties =
            ConnectionProperties::default().with_connection_name("celery-exporter".into());
        let tls = lapin::tcp::OwnedTLSConfig {
            identity: None,
            cert_chain: self.ca_pem.clone(),
        };
        let runtime = lapin::runtime::default_runtime().map_err(|e| e.to_string())?;
        let connecting = Connection::connect_uri_with_config(uri, properties, tls, runtime);
        match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(scrub(&e.to_string(), &self.password)),
            Err(_) => Err(format!("no AMQP connection within {CONNECT_TIMEOUT:?}")),
        }
    }
}

/// Belt and braces: whatever an error message says, it never carries the password.
pub(crate) fn scrub(message: &str, password: &str) -> String {
    if password.len() >= 3 && message.contains(password) {
        message.replace(password, "<secret>")
    } else {
        message.to_string()
    }
}

fn queue_arguments(ttl: Option<Duration>) -> FieldTable {
    let mut args = FieldTable::default();
    if let Some(ttl) = ttl {
        let ms = i32::try_from(ttl.as_millis()).unwrap_or(i32::MAX);
        args.insert("x-message-ttl".into(), AMQPValue::LongInt(ms));
    }
    args.insert(
        "x-expires".into(),
        AMQPValue::LongInt(EVENT_QUEUE_EXPIRES_MS),
    );
    args
}

/// A queue name of our own, unique per connection: `celeryev.<32 hex digits>`, like Celery's.
fn event_queue_name() -> String {
    format!("celeryev.{}", crate::random::hex_id())
}

/// Connects, declares and binds the event queue, and starts consuming.
async fn subscribe(
    broker: &Broker,
    ttl: Option<Duration>,
) -> Result<(Connection, Channel, lapin::Consumer), String> {
    let conn = broker.connect().await?;
    let pw = &broker.password;
    let e = |what: &str, err: lapin::Error| scrub(&format!("{what}: {err}"), pw);
    let channel = conn
        .create_channel()
        .await
        .map_err(|err| e("cannot open a channel", err))?;
    // Celery declares `celeryev` as a durable topic exchange; the same arguments, or the broker
    // refuses the declaration (PRECONDITION_FAILED).
    channel
        .exchange_declare(
            "celeryev".into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(|err| e("cannot declare the celeryev exchange", err))?;
    let queue: ShortString = event_queue_name().into();
    declare_private_queue(&channel, queue.clone(), queue_arguments(ttl))
        .await
        .map_err(|err| e("cannot declare the event queue", err))?;
    channel
        .queue_bind(
            queue.clone(),
            "celeryev".into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|err| e("cannot bind the event queue", err))?;
    // Acknowledged, with a prefetch limit, unlike Celery's receiver (no_ack): a consumer that
    // stalls then holds at most PREFETCH messages while the rest waits in its queue (and expires
    // after the TTL), instead of the broker pushing into a full socket, which back-pressures
    // every publisher of the exchange, the workers included (measured: 400,000 messages published
    // to a stopped no-ack consumer blocked the publisher until it timed out; with acks it
    // published them at full speed). Without acks the broker's queue process would spend about
    // 1.4x less CPU per message; not worth workers blocked behind a stalled exporter.
    channel
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await
        .map_err(|err| e("cannot set the prefetch limit", err))?;
    let consumer = consume_exclusively(&channel, queue, "celery-exporter", false)
        .await
        .map_err(|err| e("cannot consume the event queue", err))?;
    Ok((conn, channel, consumer))
}

/// Declares `queue` for this connection alone: exclusive, deleted with its last consumer.
pub(crate) async fn declare_private_queue(
    channel: &Channel,
    queue: ShortString,
    arguments: FieldTable,
) -> lapin::Result<()> {
    let options = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    channel.queue_declare(queue, options, arguments).await?;
    Ok(())
}

/// Consumes `queue` as its only consumer, tagged `tag`; `no_ack`: deliveries are not
/// acknowledged.
pub(crate) async fn consume_exclusively(
    channel: &Channel,
    queue: ShortString,
    tag: &str,
    no_ack: bool,
) -> lapin::Result<lapin::Consumer> {
    let options = BasicConsumeOptions {
        no_ack,
        exclusive: true,
        ..BasicConsumeOptions::default()
    };
    channel
        .basic_consume(queue, tag.into(), options, FieldTable::default())
        .await
}

/// Runs forever: connect, bind, consume; on any failure wait and start over. `ttl`: the event
/// queue's message TTL (`None`: none).
pub(crate) async fn run(broker: Arc<Broker>, shared: Arc<Shared>, ttl: Option<Duration>) {
    let mut backoff = MIN_BACKOFF;
    let mut was_connected = false;
    loop {
        match subscribe(&broker, ttl).await {
            Ok((conn, _channel, mut consumer)) => {
                {
                    let mut st = shared.lock();
                    if was_connected {
                        st.reconnects += 1;
                    }
                    st.connected = true;
                }
                tracing::info!(broker = %broker.redacted(), "consuming Celery events from the celeryev exchange");
                was_connected = true;
                backoff = MIN_BACKOFF;
                let err = consume(&mut consumer, &shared).await;
                shared.lock().connected = false;
                let err = scrub(&err, &broker.password);
                tracing::warn!(broker = %broker.redacted(), %err, "lost the event stream; reconnecting");
                // Closing may wait for a broker that is gone: bounded, in the background.
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(1),
                        conn.close(200, "reconnecting".into()),
                    )
                    .await;
                });
            }
            Err(err) => {
                tracing::warn!(broker = %broker.redacted(), %err, retry_in = ?backoff, "cannot consume Celery events");
            }
        }
        tokio::time::sleep(crate::random::jitter(backoff)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Applies deliveries until the stream ends or fails; returns why.
async fn consume(consumer: &mut lapin::Consumer, shared: &Shared) -> String {
    let mut pending: Vec<lapin::message::Delivery> = Vec::with_capacity(BATCH);
    loop {
        let next = poll_fn(|cx| Pin::new(&mut *consumer).poll_next(cx)).await;
        match next {
            Some(Ok(delivery)) => pending.push(delivery),
            Some(Err(e)) => return e.to_string(),
            None => return "the broker cancelled the consumer".into(),
        }
        // Take what is already buffered too, then apply the lot under one lock.
        while pending.len() < BATCH {
            match poll_fn(|cx| {
                std::task::Poll::Ready(match Pin::new(&mut *consumer).poll_next(cx) {
                    std::task::Poll::Ready(item) => Some(item),
                    std::task::Poll::Pending => None,
                })
            })
            .await
            {
                Some(Some(Ok(d))) => pending.push(d),
                Some(Some(Err(e))) => {
                    apply_deliveries(&pending, shared);
                    return e.to_string();
                }
                Some(None) => {
                    apply_deliveries(&pending, shared);
                    return "the broker cancelled the consumer".into();
                }
                None => break,
            }
        }
        apply_deliveries(&pending, shared);
        if let Some(last) = pending.last() {
            // Everything up to the last one at once; a lost ack is redelivered, never lost.
            if let Err(e) = last.acker.ack(BasicAckOptions { multiple: true }).await {
                return e.to_string();
            }
        }
        pending.clear();
    }
}

fn apply_deliveries(deliveries: &[lapin::message::Delivery], shared: &Shared) {
    if deliveries.is_empty() {
        return;
    }
    let now = shared.now();
    let mut st = shared.lock();
    for d in deliveries {
        let content_type = d.properties.content_type().as_ref().map(|c| c.as_str());
        apply_body(content_type, &d.data, &mut st, now);
    }
}

/// Applies one AMQP message body: JSON events, else a counted [`Undecodable`] reason.
pub fn apply_body(content_type: Option<&str>, body: &[u8], st: &mut crate::state::State, now: f64) {
    if let Err(why) = check_content_type(content_type) {
        st.count_undecodable(why);
        return;
    }
    let outcome = decode_body(body, &mut |e| st.apply(&e, now));
    crate::consumer::count_outcome(st, outcome, body.len());
}

/// kombu sets `content_type` on every message; a producer with another event serializer cannot
/// be read. A message without one is tried as JSON (`garbage` when it is not).
pub fn check_content_type(content_type: Option<&str>) -> Result<(), Undecodable> {
    match content_type {
        None | Some("application/json") => Ok(()),
        Some(ct) if ct.contains("python-serialize") || ct.contains("pickle") => {
            Err(Undecodable::Pickle)
        }
        Some(_) => Err(Undecodable::Serializer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_queue_names_are_unique_and_celerys_shape() {
        let a = event_queue_name();
        let b = event_queue_name();
        assert_ne!(a, b);
        assert!(
            a.starts_with("celeryev.") && a.len() == "celeryev.".len() + 32,
            "{a}"
        );
    }

    #[test]
    fn content_types() {
        assert_eq!(check_content_type(Some("application/json")), Ok(()));
        assert_eq!(check_content_type(None), Ok(()));
        assert_eq!(
            check_content_type(Some("application/x-python-serialize")),
            Err(Undecodable::Pickle)
        );
        assert_eq!(
            check_content_type(Some("application/x-msgpack")),
            Err(Undecodable::Serializer)
        );
    }

    #[test]
    fn passwords_are_scrubbed() {
        assert_eq!(
            scrub("ACCESS_REFUSED for s3cret", "s3cret"),
            "ACCESS_REFUSED for <secret>"
        );
        assert_eq!(scrub("fine", "s3cret"), "fine");
    }
}
