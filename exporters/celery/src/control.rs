//! `--enable-events`: like Flower, periodically broadcast Celery's `enable_events` remote-control
//! command, so workers started without `-E` send task events too. The message is what
//! `app.control.enable_events()` publishes: a kombu envelope on the `celery.pidbox` fanout
//! channel, no reply requested.

use std::sync::Arc;
use std::time::Duration;

use resp::{Connection, Connector, Reply};

use crate::event::encode_base64;

/// The envelope of one `enable_events` broadcast. `n` makes the delivery tag unique.
pub fn enable_events_message(n: u64) -> String {
    let body = r#"{"method": "enable_events", "arguments": {}, "destination": null, "pattern": null, "matcher": null}"#;
    serde_json::json!({
        "body": encode_base64(body.as_bytes()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::decode_base64;

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
        decode_base64(m["body"].as_str().unwrap().as_bytes(), &mut body).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["method"], "enable_events");
        assert_eq!(body["arguments"], serde_json::json!({}));
        assert!(body["destination"].is_null());
        assert!(body.get("reply_to").is_none());
    }
}
