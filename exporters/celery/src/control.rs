//! Celery's remote control on Redis. `--enable-events`: like Flower, periodically broadcast the
//! `enable_events` command, so workers started without `-E` send task events too (the message
//! `app.control.enable_events()` publishes: a kombu envelope on the `celery.pidbox` fanout
//! channel, no reply requested). With danihodovic's names: ask the workers `stats` and
//! `active_queues` as `app.control.inspect()` does ([`crate::inspect`]), the replies coming to
//! a list of ours that the `reply.celery.pidbox` direct exchange routes to.

use std::sync::Arc;
use std::time::Duration;

use resp::{Connection, Connector, Reply};

use crate::consumer::Shared;
use crate::inspect::{self, Answers, Question};
use crate::transport::Keys;
use exporter_core::base64;

/// The remote-control command that turns task events on; no destination, so every worker takes
/// it.
pub const ENABLE_EVENTS: &str = r#"{"method": "enable_events", "arguments": {}, "destination": null, "pattern": null, "matcher": null}"#;

/// The envelope of one `enable_events` broadcast. `n` makes the delivery tag unique.
pub fn enable_events_message(n: u64) -> String {
    broadcast_envelope(ENABLE_EVENTS, n)
}

/// kombu's envelope of a `celery.pidbox` broadcast with the JSON `body`.
fn broadcast_envelope(body: &str, n: u64) -> String {
    serde_json::json!({
        "body": base64::encode(body.as_bytes()),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        // expires 0: never stale (pub/sub does not queue it anyway).
        "headers": {"clock": n + 1, "expires": 0},
        "properties": {
            "delivery_mode": 2,
            "delivery_info": {"exchange": "celery.pidbox", "routing_key": ""},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": format!("celery-exporter-{}-{n}", std::process::id()),
        },
    })
    .to_string()
}

/// A worker's reply as kombu LPUSHes it: (the ticket header, the body).
pub fn parse_reply(envelope: &[u8]) -> Option<(String, Vec<u8>)> {
    let env: serde_json::Value = serde_json::from_slice(envelope).ok()?;
    let ticket = env.pointer("/headers/ticket")?.as_str()?.to_owned();
    let body = env.get("body")?.as_str()?;
    let body = if env.pointer("/properties/body_encoding") == Some(&"base64".into()) {
        let mut out = Vec::new();
        base64::decode_into(body.as_bytes(), &mut out)?;
        out
    } else {
        body.as_bytes().to_vec()
    };
    Some((ticket, body))
}

/// Broadcasts every `interval`, forever, on a connection of its own (a subscribed connection
/// cannot PUBLISH).
pub(crate) async fn run(connector: Arc<Connector>, channel: String, interval: Duration) {
    let mut conn: Option<Connection> = None;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 0u64;
    loop {
        tick.tick().await;
        if conn.is_none() {
            match connector.connect_within(Duration::from_secs(5)).await {
                Ok(c) => conn = Some(c),
                Err(err) => {
                    tracing::debug!(%err, "enable_events: cannot connect");
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let message = enable_events_message(n);
        n += 1;
        let sent = tokio::time::timeout(
            Duration::from_secs(5),
            c.request(&["PUBLISH", channel.as_str(), message.as_str()]),
        )
        .await;
        match sent {
            Ok(Ok(Reply::Integer(workers))) => {
                tracing::debug!(workers, "enable_events broadcast")
            }
            Ok(Ok(other)) => {
                tracing::warn!(reply = ?other, "enable_events: unexpected PUBLISH reply");
                conn = None;
            }
            Ok(Err(err)) => {
                tracing::debug!(%err, "enable_events: publish failed");
                conn = None;
            }
            Err(_) => conn = None,
        }
    }
}

/// Asks the workers every [`inspect::ASK_EVERY`], forever, on a connection of its own, and keeps
/// each round's answers for the scrape.
pub(crate) async fn ask_workers(connector: Arc<Connector>, keys: Keys, shared: Arc<Shared>) {
    let oid = inspect::new_oid();
    let mut conn: Option<Connection> = None;
    let mut round = 0u64;
    loop {
        if conn.is_none() {
            match connector.connect_within(Duration::from_secs(5)).await {
                Ok(c) => conn = Some(c),
                Err(err) => tracing::debug!(%err, "inspect: cannot connect"),
            }
        }
        if let Some(c) = conn.as_mut() {
            round += 1;
            match ask_round(c, &keys, &oid, round).await {
                Ok(answers) => shared.set_answers(answers),
                Err(err) => {
                    tracing::debug!(%err, "inspect: round failed");
                    conn = None;
                }
            }
        }
        tokio::time::sleep(inspect::ASK_EVERY).await;
    }
}

/// One round: bind our reply list (kombu's direct exchange on Redis is a set of bindings), ask
/// both questions, and read replies for [`inspect::REPLY_WINDOW`].
async fn ask_round(
    c: &mut Connection,
    keys: &Keys,
    oid: &str,
    round: u64,
) -> Result<Answers, String> {
    let reply_list = keys.queue_key(&inspect::reply_queue(oid));
    let (bindings, member) = keys.binding(inspect::REPLY_EXCHANGE, oid, &inspect::reply_queue(oid));
    let tickets: Vec<(Question, String)> = Question::ALL
        .iter()
        .map(|&q| (q, inspect::ticket(oid, q, round)))
        .collect();
    let channel = keys.pidbox_channel();
    let mut cmds = vec![resp::cmd(&["SADD", bindings.as_str(), member.as_str()])];
    for (i, (q, ticket)) in tickets.iter().enumerate() {
        let body = inspect::request_body(*q, oid, ticket);
        let envelope = broadcast_envelope(&body, round * 2 + i as u64);
        cmds.push(resp::cmd(&["PUBLISH", channel.as_str(), envelope.as_str()]));
    }
    let sent = tokio::time::timeout(Duration::from_secs(5), c.pipeline(&cmds)).await;
    match sent {
        Ok(Ok(replies)) if replies.iter().all(|r| matches!(r, Reply::Integer(_))) => {}
        Ok(Ok(replies)) => return Err(format!("unexpected replies {replies:?}")),
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("no reply within 5 s".into()),
    }
    let mut answers = Answers::default();
    let deadline = tokio::time::Instant::now() + inspect::REPLY_WINDOW;
    while tokio::time::Instant::now() < deadline {
        // BRPOP's timeout is whole seconds here (Redis before 6 takes no fractions): 1 s, the
        // window, at most once past the deadline.
        let popped = tokio::time::timeout(
            Duration::from_secs(5),
            c.request(&["BRPOP", reply_list.as_str(), "1"]),
        )
        .await;
        match popped {
            Ok(Ok(Reply::Array(Some(kv)))) => {
                if let Some(Reply::Bulk(Some(envelope))) = kv.get(1) {
                    if let Some((ticket, body)) = parse_reply(envelope) {
                        if let Some(q) = inspect::question_of(&ticket, &tickets) {
                            answers.add_reply(q, &body);
                        }
                    }
                }
            }
            Ok(Ok(Reply::Array(None))) => break,
            Ok(Ok(other)) => return Err(format!("unexpected BRPOP reply {other:?}")),
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err("BRPOP: no reply within 5 s".into()),
        }
    }
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_is_what_celery_control_publishes() {
        let m: serde_json::Value = serde_json::from_str(&enable_events_message(3)).unwrap();
        assert_eq!(
            m["properties"]["delivery_info"]["exchange"],
            "celery.pidbox"
        );
        assert_eq!(m["properties"]["delivery_info"]["routing_key"], "");
        assert_eq!(m["properties"]["body_encoding"], "base64");
        assert_eq!(m["content-type"], "application/json");
        assert_eq!(m["headers"]["clock"], 4);
        let mut body = Vec::new();
        base64::decode_into(m["body"].as_str().unwrap().as_bytes(), &mut body).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["method"], "enable_events");
        assert_eq!(body["arguments"], serde_json::json!({}));
        assert!(body["destination"].is_null());
        assert!(body.get("reply_to").is_none());
    }

    #[test]
    fn replies_are_read_from_kombus_envelope() {
        // A Celery 5.4 worker's reply on Redis, body shortened.
        let envelope = format!(
            r#"{{"body": "{}", "content-encoding": "utf-8", "content-type": "application/json", "headers": {{"ticket": "t-1", "clock": 9}}, "properties": {{"delivery_mode": 1, "priority": 0, "body_encoding": "base64", "delivery_tag": "x"}}}}"#,
            base64::encode(br#"{"w1@box": {"pool": {"processes": [1, 2]}}}"#)
        );
        let (ticket, body) = parse_reply(envelope.as_bytes()).unwrap();
        assert_eq!(ticket, "t-1");
        assert_eq!(body, br#"{"w1@box": {"pool": {"processes": [1, 2]}}}"#);
        assert_eq!(parse_reply(b"{}"), None);
        assert_eq!(parse_reply(b"garbage"), None);
    }
}
