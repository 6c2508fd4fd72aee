//! Celery events as they arrive on a Redis broker: a kombu envelope (JSON) whose base64 body
//! holds one event, or an array of events for the prefork pool's `task.multi` batches.
//! Pure: bytes in, borrowed events out; anything else is a counted [`Undecodable`] reason.

use std::borrow::Cow;

use exporter_core::base64;
use serde::Deserialize;
use serde_json::value::RawValue;

/// Why a message (or one element of a batch) was dropped. Bounded: these are label values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undecodable {
    /// Not a JSON kombu envelope at all.
    Garbage,
    /// `application/x-python-serialize`: the producer uses the pickle serializer.
    Pickle,
    /// Another serializer we cannot read (msgpack, yaml, ...).
    Serializer,
    /// `body_encoding` base64 but the body is not valid base64.
    Base64,
    /// The body decoded but is not a JSON event or array of events.
    Body,
    /// One element of a batch lacked `type` or had fields of the wrong type.
    Event,
}

impl Undecodable {
    /// Every reason, in the order of the exported series.
    pub const ALL: [Undecodable; 6] = [
        Undecodable::Garbage,
        Undecodable::Pickle,
        Undecodable::Serializer,
        Undecodable::Base64,
        Undecodable::Body,
        Undecodable::Event,
    ];

    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Undecodable::Garbage => "garbage",
            Undecodable::Pickle => "pickle",
            Undecodable::Serializer => "serializer",
            Undecodable::Base64 => "base64",
            Undecodable::Body => "body",
            Undecodable::Event => "event",
        }
    }

    /// Position in [`Undecodable::ALL`], for a counter array.
    pub fn index(self) -> usize {
        self as usize
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    body: Option<Cow<'a, str>>,
    #[serde(rename = "content-type", borrow, default)]
    content_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    properties: Option<Properties<'a>>,
}

#[derive(Deserialize)]
struct Properties<'a> {
    #[serde(borrow, default)]
    body_encoding: Option<Cow<'a, str>>,
}

/// The fields of an event this exporter reads; the rest (args, kwargs, traceback, ...) is skipped
/// without being stored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Event<'a> {
    /// The event's `type`: `task-sent`, `worker-heartbeat`, ...
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    /// The sender: `worker@host`, or `gen<PID>@host` for a producer.
    #[serde(borrow, default)]
    pub hostname: Option<Cow<'a, str>>,
    /// The task id (task events).
    #[serde(borrow, default)]
    pub uuid: Option<Cow<'a, str>>,
    /// The task name (task-sent and task-received only).
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    /// The queue (task-sent only).
    #[serde(borrow, default)]
    pub queue: Option<Cow<'a, str>>,
    /// The routing key (task-sent), the queue when `queue` is missing.
    #[serde(borrow, default)]
    pub routing_key: Option<Cow<'a, str>>,
    /// The sender's clock, seconds since the epoch.
    #[serde(default)]
    pub timestamp: Option<f64>,
    /// Run time of a succeeded task as the worker measured it, seconds.
    #[serde(default)]
    pub runtime: Option<f64>,
    /// Heartbeat frequency of a worker, seconds.
    #[serde(default)]
    pub freq: Option<f64>,
    /// Tasks a worker is executing (heartbeats).
    #[serde(default)]
    pub active: Option<f64>,
    /// Tasks a worker has processed since it started (heartbeats).
    #[serde(default)]
    pub processed: Option<f64>,
    /// The exception of a failed or retried task, as its `repr` (`ValueError('bad')`).
    #[serde(borrow, default)]
    pub exception: Option<Cow<'a, str>>,
    /// Present and not null: the task waits for an ETA/countdown, so its queue wait is not one.
    #[serde(default, deserialize_with = "present")]
    pub eta: bool,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<serde::de::IgnoredAny>::deserialize(d)?.is_some())
}

/// What one message held.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// Events handed to the callback.
    pub events: usize,
    /// Elements of a batch that were not events (each also reported as [`Undecodable::Event`]).
    pub bad_events: usize,
}

/// Decodes one pub/sub payload and hands every event to `on_event`. `scratch` is reused between
/// calls for the base64-decoded body. A batch with some bad elements still yields the good ones.
pub fn decode_message(
    payload: &[u8],
    scratch: &mut Vec<u8>,
    mut on_event: impl FnMut(Event<'_>),
) -> Result<Decoded, Undecodable> {
    let envelope: Envelope<'_> =
        serde_json::from_slice(payload).map_err(|_| Undecodable::Garbage)?;
    if let Some(ct) = &envelope.content_type {
        if ct != "application/json" {
            return Err(
                if ct.contains("python-serialize") || ct.contains("pickle") {
                    Undecodable::Pickle
                } else {
                    Undecodable::Serializer
                },
            );
        }
    }
    let body = envelope.body.ok_or(Undecodable::Body)?;
    let base64 = envelope
        .properties
        .as_ref()
        .and_then(|p| p.body_encoding.as_deref())
        == Some("base64");
    let body: &[u8] = if base64 {
        scratch.clear();
        base64::decode_into(body.as_bytes(), scratch).ok_or(Undecodable::Base64)?;
        scratch
    } else {
        body.as_bytes()
    };
    decode_body(body, &mut on_event)
}

/// Decodes a message body that is the event itself (a JSON object, or an array of them for a
/// `task.multi` batch): what an envelope's body holds on Redis, and what an AMQP message carries
/// on RabbitMQ. A batch with some bad elements still yields the good ones.
pub fn decode_body(
    body: &[u8],
    on_event: &mut impl FnMut(Event<'_>),
) -> Result<Decoded, Undecodable> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'{') => {
            let e: Event<'_> = serde_json::from_slice(body).map_err(|_| Undecodable::Body)?;
            on_event(e);
            Ok(Decoded {
                events: 1,
                bad_events: 0,
            })
        }
        Some(b'[') => {
            // Fast path: a well-formed batch in one pass.
            if let Ok(events) = serde_json::from_slice::<Vec<Event<'_>>>(body) {
                let n = events.len();
                events.into_iter().for_each(&mut *on_event);
                return Ok(Decoded {
                    events: n,
                    bad_events: 0,
                });
            }
            // Otherwise element by element, keeping the good ones.
            let items: Vec<&RawValue> =
                serde_json::from_slice(body).map_err(|_| Undecodable::Body)?;
            let mut d = Decoded::default();
            for item in items {
                match serde_json::from_str::<Event<'_>>(item.get()) {
                    Ok(e) => {
                        d.events += 1;
                        on_event(e);
                    }
                    Err(_) => d.bad_events += 1,
                }
            }
            Ok(d)
        }
        _ => Err(Undecodable::Body),
    }
}

/// `gen<PID>@host`: the hostname Celery gives a producer (client) process. One per process, so
/// never a label value.
pub fn is_producer_hostname(hostname: &str) -> bool {
    let Some(rest) = hostname.strip_prefix("gen") else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && matches!(rest.as_bytes().get(digits), None | Some(b'@'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use exporter_core::testkit::assert_maps;

    const FIXTURE: &str = include_str!("../tests/fixtures/celery-5.4.0-events.jsonl");

    /// (channel, payload) of every message captured from a real celery 5.4.0 prefork worker.
    fn captured() -> Vec<(String, String)> {
        FIXTURE
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["channel"].as_str().unwrap().to_string(),
                    v["data"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn decode_all(payload: &[u8]) -> Result<(Decoded, Vec<String>), Undecodable> {
        let mut scratch = Vec::new();
        let mut kinds = Vec::new();
        let d = decode_message(payload, &mut scratch, |e| kinds.push(e.kind.into_owned()))?;
        Ok((d, kinds))
    }

    #[test]
    fn decodes_every_captured_event_including_batches() {
        let mut kinds = Vec::new();
        let mut batches = 0;
        for (channel, payload) in captured() {
            if !channel.contains("celeryev") {
                continue;
            }
            let (d, k) = decode_all(payload.as_bytes()).unwrap();
            assert_eq!(d.bad_events, 0);
            if channel.ends_with("task.multi") {
                batches += 1;
            }
            kinds.extend(k);
        }
        assert!(batches > 5);
        let count = |t: &str| kinds.iter().filter(|k| *k == t).count();
        let counts = [
            ("task-sent", 8),
            ("task-received", 8),
            ("task-started", 8),
            ("task-succeeded", 5),
            ("task-failed", 2),
            ("task-retried", 1),
            ("worker-online", 1),
            ("worker-offline", 1),
        ];
        assert_maps(count, &counts);
    }

    #[test]
    fn event_fields_are_read() {
        let body = br#"{"hostname": "w1@vm", "uuid": "u-1", "name": "tests.add", "queue": "celery",
            "timestamp": 1795617881.5, "runtime": 0.25, "eta": "2026-01-01T00:00:00", "args": "(1,)",
            "kwargs": {"nested": [1, 2, {"x": null}]}, "type": "task-succeeded", "active": 3}"#;
        let mut got = None;
        decode_body(body, &mut |e| got = Some(e.clone().into_static())).unwrap();
        let e = got.unwrap();
        assert_eq!(e.kind, "task-succeeded");
        assert_eq!(e.hostname.as_deref(), Some("w1@vm"));
        assert_eq!(e.uuid.as_deref(), Some("u-1"));
        assert_eq!(e.runtime, Some(0.25));
        assert_eq!(e.active, Some(3.0));
        assert!(e.eta);
        let mut got = None;
        decode_body(br#"{"type":"task-sent","eta":null}"#, &mut |e| {
            got = Some(e.eta)
        })
        .unwrap();
        assert_eq!(got, Some(false));
    }

    #[test]
    fn batches_keep_good_elements() {
        let body = br#"[{"type":"task-started","uuid":"a"}, {"no_type":1}, 5, {"type":"task-started","runtime":"x"}, {"type":"task-succeeded","uuid":"a"}]"#;
        let mut kinds = Vec::new();
        let d = decode_body(body, &mut |e| kinds.push(e.kind.into_owned())).unwrap();
        assert_eq!(
            d,
            Decoded {
                events: 2,
                bad_events: 3
            }
        );
        assert_eq!(kinds, ["task-started", "task-succeeded"]);
    }

    fn envelope(body: &str, content_type: &str, encoding: &str) -> String {
        serde_json::json!({
            "body": body, "content-encoding": "utf-8", "content-type": content_type,
            "headers": {"hostname": "w"}, "properties": {"body_encoding": encoding,
            "delivery_info": {"exchange": "celeryev", "routing_key": "task.multi"}}
        })
        .to_string()
    }

    #[test]
    fn undecodable_messages_are_classified() {
        let cases: Vec<(Vec<u8>, Undecodable)> = vec![
            (b"garbage".to_vec(), Undecodable::Garbage),
            (b"".to_vec(), Undecodable::Garbage),
            (b"{\"body\": ".to_vec(), Undecodable::Garbage),
            (vec![0xff, 0xfe, 0x00], Undecodable::Garbage),
            (
                envelope("gASVAAAA", "application/x-python-serialize", "base64").into(),
                Undecodable::Pickle,
            ),
            (
                envelope("gqR0eXBl", "application/x-msgpack", "base64").into(),
                Undecodable::Serializer,
            ),
            (
                envelope("!!!not base64!!!", "application/json", "base64").into(),
                Undecodable::Base64,
            ),
            (
                envelope(
                    &base64::encode(b"\"a string\""),
                    "application/json",
                    "base64",
                )
                .into(),
                Undecodable::Body,
            ),
            (
                envelope(
                    &base64::encode(b"{\"no\": \"type\"}"),
                    "application/json",
                    "base64",
                )
                .into(),
                Undecodable::Body,
            ),
            (
                envelope(&base64::encode(b"[1, 2"), "application/json", "base64").into(),
                Undecodable::Body,
            ),
            (br#"{"headers": {}}"#.to_vec(), Undecodable::Body),
        ];
        for (payload, want) in cases {
            assert_eq!(
                decode_all(&payload).unwrap_err(),
                want,
                "{}",
                String::from_utf8_lossy(&payload)
            );
        }
        // A plain (not base64) JSON body is accepted too.
        let plain = envelope(
            r#"{"type": "worker-heartbeat", "hostname": "w"}"#,
            "application/json",
            "utf-8",
        );
        assert_eq!(
            decode_all(plain.as_bytes()).unwrap().1,
            ["worker-heartbeat"]
        );
    }

    #[test]
    fn truncated_captured_messages_never_panic() {
        for (_, payload) in captured().iter().take(8) {
            let bytes = payload.as_bytes();
            for cut in 0..bytes.len() {
                let _ = decode_all(&bytes[..cut]);
            }
        }
    }

    #[test]
    fn producer_hostnames() {
        assert!(is_producer_hostname("gen24975@vm"));
        assert!(is_producer_hostname("gen1"));
        assert!(!is_producer_hostname("general@vm"));
        assert!(!is_producer_hostname("gen@vm"));
        assert!(!is_producer_hostname("w1@vm"));
    }

    impl Event<'_> {
        fn into_static(self) -> Event<'static> {
            let own = |c: Option<Cow<'_, str>>| c.map(|c| Cow::Owned(c.into_owned()));
            Event {
                kind: Cow::Owned(self.kind.into_owned()),
                hostname: own(self.hostname),
                uuid: own(self.uuid),
                name: own(self.name),
                queue: own(self.queue),
                routing_key: own(self.routing_key),
                timestamp: self.timestamp,
                runtime: self.runtime,
                freq: self.freq,
                active: self.active,
                processed: self.processed,
                exception: own(self.exception),
                eta: self.eta,
            }
        }
    }
}
