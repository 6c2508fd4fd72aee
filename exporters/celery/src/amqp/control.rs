//! Celery's remote control on RabbitMQ, through kombu's `celery.pidbox` fanout exchange, which
//! every worker's pidbox queue is bound to. `--enable-events`: the `enable_events` broadcast, as
//! `app.control.enable_events()` sends it (what Flower does every 5 s). With danihodovic's names:
//! `stats` and `active_queues` as `app.control.inspect()` asks them ([`crate::inspect`]), the
//! replies coming to an exclusive queue of ours bound to the `reply.celery.pidbox` direct
//! exchange with our mailbox id. The broadcast exchange is only checked (passive declare), never
//! created: before any worker has started there is no one to ask, and a declaration with other
//! arguments than kombu's would be refused.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_core::Stream;
use lapin::options::{BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, Consumer, ExchangeKind};

use super::consumer::{consume_exclusively, declare_private_queue, scrub, Broker};
use crate::consumer::Shared;
use crate::inspect::{self, Answers, Question};

/// kombu's broadcast mailbox exchange.
const PIDBOX_EXCHANGE: &str = "celery.pidbox";

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

/// Publishes `body` to every worker; `Ok(false)` when no worker has declared the exchange yet
/// (the channel is then closed by the broker: open a new one).
async fn broadcast(ch: &Channel, body: &[u8]) -> Result<bool, lapin::Error> {
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
        body,
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
            match broadcast(ch, crate::control::ENABLE_EVENTS.as_bytes()).await {
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

/// Asks the workers every [`inspect::ASK_EVERY`], forever, and keeps each round's answers for the
/// scrape. One connection: a channel consuming our reply queue, and a channel per round for the
/// broadcast (a missing `celery.pidbox` closes it).
pub(crate) async fn ask_workers(broker: Arc<Broker>, shared: Arc<Shared>) {
    let oid = inspect::new_oid();
    let mut session: Option<(Connection, Consumer)> = None;
    let mut round = 0u64;
    loop {
        if session
            .as_ref()
            .is_some_and(|(c, _)| !c.status().connected())
        {
            session = None;
        }
        if session.is_none() {
            match listen_for_replies(&broker, &oid).await {
                Ok(s) => session = Some(s),
                Err(e) => tracing::debug!(error = %e, "inspect: cannot listen for replies"),
            }
        }
        if let Some((conn, replies)) = session.as_mut() {
            round += 1;
            match ask_round(conn, replies, &oid, round).await {
                Ok(answers) => shared.set_answers(answers),
                Err(e) => {
                    let (_, password) = broker.credentials();
                    tracing::debug!(error = %scrub(&e.to_string(), password), "inspect: round failed");
                    session = None;
                }
            }
        }
        tokio::time::sleep(inspect::ASK_EVERY).await;
    }
}

/// Connects and consumes `<oid>.reply.celery.pidbox`, bound to the reply exchange with `oid`.
async fn listen_for_replies(broker: &Broker, oid: &str) -> Result<(Connection, Consumer), String> {
    let conn = broker.connect().await?;
    let setup = async {
        let ch = conn.create_channel().await?;
        // As kombu declares it (workers declare it again before replying): direct, not durable.
        ch.exchange_declare(
            inspect::REPLY_EXCHANGE.into(),
            ExchangeKind::Direct,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await?;
        let queue = inspect::reply_queue(oid);
        declare_private_queue(&ch, queue.as_str().into(), FieldTable::default()).await?;
        ch.queue_bind(
            queue.as_str().into(),
            inspect::REPLY_EXCHANGE.into(),
            oid.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
        consume_exclusively(&ch, queue.as_str().into(), "celery-exporter-inspect", true).await
    };
    match setup.await {
        Ok(consumer) => Ok((conn, consumer)),
        Err(e) => Err(e.to_string()),
    }
}

/// One round: both questions broadcast, replies read for [`inspect::REPLY_WINDOW`].
async fn ask_round(
    conn: &Connection,
    replies: &mut Consumer,
    oid: &str,
    round: u64,
) -> Result<Answers, lapin::Error> {
    let tickets: Vec<(Question, String)> = Question::ALL
        .iter()
        .map(|&q| (q, inspect::ticket(oid, q, round)))
        .collect();
    let ch = conn.create_channel().await?;
    for (q, ticket) in &tickets {
        let body = inspect::request_body(*q, oid, ticket);
        if !broadcast(&ch, body.as_bytes()).await? {
            // No worker has ever started on this broker: nobody to ask.
            return Ok(Answers::default());
        }
    }
    let _ = ch.close(200, "asked".into()).await;
    let mut answers = Answers::default();
    let deadline = tokio::time::Instant::now() + inspect::REPLY_WINDOW;
    loop {
        let next = poll_fn(|cx| Pin::new(&mut *replies).poll_next(cx));
        match tokio::time::timeout_at(deadline, next).await {
            Err(_) => return Ok(answers),
            Ok(Some(Ok(reply))) => {
                let ticket = reply
                    .properties
                    .headers()
                    .as_ref()
                    .and_then(|h| h.inner().get("ticket"))
                    .and_then(ticket_text);
                if let Some(q) = ticket.and_then(|t| inspect::question_of(&t, &tickets)) {
                    answers.add_reply(q, &reply.data);
                }
            }
            Ok(Some(Err(e))) => return Err(e),
            Ok(None) => return Ok(answers),
        }
    }
}

/// kombu sends header strings as AMQP long strings; short ones are taken too.
fn ticket_text(v: &AMQPValue) -> Option<String> {
    match v {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}
