//! Property tests of the event path: a pub/sub frame, its payload (kombu envelope, base64 body,
//! one event or a `task.multi` batch) decoded into events, applied to the state, rendered at
//! scrape time. Arbitrary bytes, valid envelopes (whose events must come out exactly as
//! generated) and near-valid ones: wrong types, missing fields, huge numbers, bad base64, nested
//! bodies, truncation. Nothing may panic, and no exposition may repeat a series.
//!
//! `FUZZ_CASES` sets the cases per property (default 2,000, 10-20 s in a debug build); the
//! bench-style run is `FUZZ_CASES=1000000 cargo test --release -p celery-exporter --test fuzz`.
//!
//! Generators return boxed strategies: unboxed, the nested strategy types give proptest's
//! debug-build value trees stack frames large enough to overflow a test thread's stack.

use std::collections::HashSet;

use celery_exporter::consumer::{apply_payload, handle_frame};
use celery_exporter::event::{decode_message, is_producer_hostname, Decoded, Event, Undecodable};
use celery_exporter::flags::parse_buckets;
use celery_exporter::resp::{self, encode_command};
use celery_exporter::state::{Options, State, DEFAULT_QUEUE_WAIT_BUCKETS, DEFAULT_RUNTIME_BUCKETS};
use exporter_core::base64;
use exporter_core::encode::encode_text;
use exporter_core::testkit::fuzz::{fuzz_cases, fuzz_config};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

// ---- JSON values ----

/// Short strings heavy in what JSON must escape (quotes, backslashes, control characters) and
/// in multi-byte characters; cheaper to generate than `any::<String>()`.
fn string() -> BoxedStrategy<String> {
    let character = prop_oneof![
        4 => proptest::char::range(' ', '~'),
        1 => prop_oneof![Just('"'), Just('\\'), Just('/'), Just('é'), Just('\u{2028}'), Just('😀')],
        1 => proptest::char::range('\u{0}', '\u{1f}'),
        1 => any::<char>(),
    ];
    proptest::collection::vec(character, 0..16)
        .prop_map(String::from_iter)
        .boxed()
}

fn finite_f64() -> BoxedStrategy<f64> {
    prop_oneof![
        4 => -1e10f64..1e10,
        1 => proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL,
        1 => prop_oneof![Just(f64::MAX), Just(f64::MIN), Just(1e308), Just(-0.0), Just(5e-324)],
    ]
    .boxed()
}

fn number() -> BoxedStrategy<Value> {
    prop_oneof![
        finite_f64().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
    ]
    .boxed()
}

/// Any JSON value, a few levels deep.
fn any_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        number(),
        string().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((string(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}

/// Arrays or objects nested past serde_json's recursion limit (128) and below it.
fn deeply_nested() -> BoxedStrategy<String> {
    (1usize..300, any::<bool>(), any::<bool>())
        .prop_map(|(depth, arrays, closed)| {
            let (open, close) = if arrays {
                ("[", "]")
            } else {
                ("{\"kwargs\":", "}")
            };
            let mut s = open.repeat(depth);
            s.push('1');
            if closed {
                s.push_str(&close.repeat(depth));
            }
            s
        })
        .boxed()
}

// ---- events ----

const KINDS: [&str; 14] = [
    "task-sent",
    "task-received",
    "task-started",
    "task-succeeded",
    "task-failed",
    "task-retried",
    "task-revoked",
    "task-rejected",
    "task-custom",
    "worker-online",
    "worker-heartbeat",
    "worker-offline",
    "worker-",
    "",
];

fn kind() -> BoxedStrategy<String> {
    prop_oneof![
        6 => proptest::sample::select(&KINDS[..]).prop_map(str::to_string),
        1 => string(),
    ]
    .boxed()
}

/// From a small pool, so a stream of events keeps meeting the same tasks and workers.
fn pooled(pool: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        8 => proptest::sample::select(pool).prop_map(str::to_string),
        1 => string(),
        1 => (0usize..400).prop_map(|n| "x".repeat(n)),
    ]
}

fn hostname() -> BoxedStrategy<String> {
    pooled(&["w1@h", "w2@h", "gen123@h", "gen1", "", "general@h"]).boxed()
}

fn uuid() -> BoxedStrategy<String> {
    pooled(&[
        "u0",
        "u1",
        "u2",
        "3f1c8a52-2b7e-4d0a-9c1e-6a2b9f0d7e11",
        "3F1C8A52-2B7E-4D0A-9C1E-6A2B9F0D7E11",
        "3f1c8a522b7e4d0a9c1e6a2b9f0d7e11",
        "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
        "",
    ])
    .boxed()
}

fn task_name() -> BoxedStrategy<String> {
    pooled(&["tests.add", "tests.fail", "unknown", "other"]).boxed()
}

fn queue() -> BoxedStrategy<String> {
    pooled(&["celery", "q1", "unknown", "other", ""]).boxed()
}

/// An event with every field of the right type (or absent), and fields we skip as noise.
#[derive(Debug, Clone, PartialEq)]
struct ModelEvent {
    kind: String,
    hostname: Option<String>,
    uuid: Option<String>,
    name: Option<String>,
    queue: Option<String>,
    routing_key: Option<String>,
    timestamp: Option<f64>,
    runtime: Option<f64>,
    freq: Option<f64>,
    active: Option<f64>,
    processed: Option<f64>,
    /// `None`: absent; `Some(Null)`: present but null; anything else: an ETA.
    eta: Option<Value>,
    noise: Vec<(&'static str, Value)>,
}

const NOISE_KEYS: [&str; 8] = [
    "args",
    "kwargs",
    "result",
    "traceback",
    "clock",
    "utcoffset",
    "loadavg",
    "sw_ident",
];

fn model_event() -> BoxedStrategy<ModelEvent> {
    let strings = (
        kind(),
        proptest::option::of(hostname()),
        proptest::option::of(uuid()),
        proptest::option::of(task_name()),
        proptest::option::of(queue()),
        proptest::option::of(queue()),
    );
    let number = || proptest::option::of(finite_f64());
    let numbers = (number(), number(), number(), number(), number());
    let rest = (
        proptest::option::of(prop_oneof![Just(Value::Null), any_json()]),
        proptest::collection::vec(
            (proptest::sample::select(&NOISE_KEYS[..]), any_json()),
            0..3,
        ),
    );
    (strings, numbers, rest)
        .prop_map(
            |(
                (kind, hostname, uuid, name, queue, routing_key),
                (timestamp, runtime, freq, active, processed),
                (eta, noise),
            )| ModelEvent {
                kind,
                hostname,
                uuid,
                name,
                queue,
                routing_key,
                timestamp,
                runtime,
                freq,
                active,
                processed,
                eta,
                noise,
            },
        )
        .boxed()
}

impl ModelEvent {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (k, v) in &self.noise {
            m.insert(k.to_string(), v.clone());
        }
        m.insert("type".into(), self.kind.clone().into());
        let strings = [
            ("hostname", &self.hostname),
            ("uuid", &self.uuid),
            ("name", &self.name),
            ("queue", &self.queue),
            ("routing_key", &self.routing_key),
        ];
        for (k, v) in strings {
            if let Some(v) = v {
                m.insert(k.into(), v.clone().into());
            }
        }
        let numbers = [
            ("timestamp", self.timestamp),
            ("runtime", self.runtime),
            ("freq", self.freq),
            ("active", self.active),
            ("processed", self.processed),
        ];
        for (k, v) in numbers {
            if let Some(v) = v {
                m.insert(k.into(), v.into());
            }
        }
        if let Some(eta) = &self.eta {
            m.insert("eta".into(), eta.clone());
        }
        Value::Object(m)
    }

    /// Whether `e` is what this model encodes, floats to within serde_json's parsing error (it
    /// is not built with `float_roundtrip`: the last bit may differ, more for subnormals).
    fn matches(&self, e: &Event<'_>) -> bool {
        fn same_f64(a: Option<f64>, b: Option<f64>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => {
                    let error = (a - b).abs();
                    error <= a.abs().max(b.abs()) * 1e-15 || error < f64::MIN_POSITIVE
                }
                (a, b) => a.is_none() && b.is_none(),
            }
        }
        let same = |a: &Option<String>, b: &Option<std::borrow::Cow<'_, str>>| {
            a.as_deref() == b.as_deref()
        };
        self.kind == e.kind
            && same(&self.hostname, &e.hostname)
            && same(&self.uuid, &e.uuid)
            && same(&self.name, &e.name)
            && same(&self.queue, &e.queue)
            && same(&self.routing_key, &e.routing_key)
            && same_f64(self.timestamp, e.timestamp)
            && same_f64(self.runtime, e.runtime)
            && same_f64(self.freq, e.freq)
            && same_f64(self.active, e.active)
            && same_f64(self.processed, e.processed)
            && e.eta == self.eta.as_ref().is_some_and(|v| !v.is_null())
    }
}

/// A JSON value in a field's place: usually the right type, sometimes absent, now and then any
/// other (rare enough that most events still decode and reach the state).
fn field(right: BoxedStrategy<Value>) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        20 => right.prop_map(Some),
        3 => Just(None),
        1 => any_json().prop_map(Some),
    ]
}

fn text(s: impl Strategy<Value = String> + 'static) -> BoxedStrategy<Value> {
    s.prop_map(Value::from).boxed()
}

/// An event object with wrong types and missing fields mixed in.
fn loose_event() -> BoxedStrategy<Value> {
    let numbers = || number().boxed();
    let fields = (
        (
            field(text(kind())),
            field(text(hostname())),
            field(text(uuid())),
            field(text(task_name())),
            field(text(queue())),
            field(text(queue())),
        ),
        (
            field(numbers()),
            field(numbers()),
            field(numbers()),
            field(numbers()),
            field(numbers()),
            field(any_json().boxed()),
        ),
    );
    fields
        .prop_map(|((k, h, u, n, q, rk), (ts, rt, fq, ac, pr, eta))| {
            let names = [
                ("type", k),
                ("hostname", h),
                ("uuid", u),
                ("name", n),
                ("queue", q),
                ("routing_key", rk),
                ("timestamp", ts),
                ("runtime", rt),
                ("freq", fq),
                ("active", ac),
                ("processed", pr),
                ("eta", eta),
            ];
            Value::Object(
                names
                    .into_iter()
                    .filter_map(|(k, v)| Some((k.to_string(), v?)))
                    .collect(),
            )
        })
        .boxed()
}

/// What a body may decode to: one event, a batch, any JSON, deep nesting, not JSON at all, or
/// a whole envelope (a producer that wrapped twice).
fn loose_body() -> BoxedStrategy<Vec<u8>> {
    let json_body = prop_oneof![
        4 => loose_event(),
        3 => proptest::collection::vec(
            prop_oneof![4 => loose_event(), 1 => any_json()],
            0..12,
        )
        .prop_map(Value::Array),
        1 => any_json(),
    ]
    .prop_map(|v| v.to_string().into_bytes());
    prop_oneof![
        8 => json_body,
        1 => deeply_nested().prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..64),
        1 => loose_event().prop_map(|e| envelope_json(e.to_string().as_bytes(), true).to_string().into_bytes()),
    ]
    .boxed()
}

/// How the body sits in the envelope.
#[derive(Debug, Clone)]
enum BodyForm {
    Base64 {
        strip_padding: bool,
    },
    /// Valid base64, then one character changed, inserted or removed.
    BrokenBase64(usize, u8, u8),
    Plain,
    /// Not a string at all.
    Raw(Value),
}

fn body_form() -> impl Strategy<Value = BodyForm> {
    prop_oneof![
        10 => any::<bool>().prop_map(|strip_padding| BodyForm::Base64 { strip_padding }),
        2 => (any::<usize>(), 0u8..3, any::<u8>()).prop_map(|(i, op, b)| BodyForm::BrokenBase64(i, op, b)),
        3 => Just(BodyForm::Plain),
        1 => any_json().prop_map(BodyForm::Raw),
    ]
}

fn place_body(body: &[u8], form: &BodyForm) -> Value {
    match form {
        BodyForm::Base64 { strip_padding } => {
            let b64 = base64::encode(body);
            if *strip_padding {
                b64.trim_end_matches('=').into()
            } else {
                b64.into()
            }
        }
        BodyForm::BrokenBase64(i, op, byte) => {
            let mut b64 = base64::encode(body).into_bytes();
            let at = i % (b64.len() + 1);
            match op {
                0 if at < b64.len() => b64[at] = *byte,
                1 => b64.insert(at, *byte),
                _ if at < b64.len() => {
                    b64.remove(at);
                }
                _ => {}
            }
            String::from_utf8_lossy(&b64).into_owned().into()
        }
        BodyForm::Plain => String::from_utf8_lossy(body).into_owned().into(),
        BodyForm::Raw(v) => v.clone(),
    }
}

fn envelope_json(body: &[u8], base64: bool) -> Value {
    let encoding = if base64 { "base64" } else { "utf-8" };
    let body = if base64 {
        base64::encode(body)
    } else {
        String::from_utf8_lossy(body).into_owned()
    };
    json!({
        "body": body,
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {"hostname": "w1@h"},
        "properties": {
            "body_encoding": encoding,
            "delivery_info": {"exchange": "celeryev", "routing_key": "task.multi"},
        },
    })
}

fn content_type() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        12 => Just(Some(Value::from("application/json"))),
        1 => Just(Some(Value::from("application/x-python-serialize"))),
        1 => Just(Some(Value::from("application/x-msgpack"))),
        2 => Just(None),
        1 => any_json().prop_map(Some),
    ]
}

/// The envelope's `properties`: right (with the body encoding the body really has), with a
/// `body_encoding` of any value, any value at all, or absent.
#[derive(Debug, Clone)]
enum PropertiesForm {
    Right,
    Encoding(Value),
    Any(Value),
    Absent,
}

fn properties_form() -> impl Strategy<Value = PropertiesForm> {
    prop_oneof![
        12 => Just(PropertiesForm::Right),
        1 => any_json().prop_map(PropertiesForm::Encoding),
        1 => any_json().prop_map(PropertiesForm::Any),
        1 => Just(PropertiesForm::Absent),
    ]
}

fn place_properties(form: PropertiesForm, body: &BodyForm) -> Option<Value> {
    let encoding = match body {
        BodyForm::Base64 { .. } | BodyForm::BrokenBase64(..) => "base64",
        _ => "utf-8",
    };
    match form {
        PropertiesForm::Right => {
            Some(json!({"body_encoding": encoding, "delivery_info": {"routing_key": "task.multi"}}))
        }
        PropertiesForm::Encoding(e) => Some(json!({ "body_encoding": e })),
        PropertiesForm::Any(v) => Some(v),
        PropertiesForm::Absent => None,
    }
}

/// A whole payload as it would arrive on the event channel, from near-valid to broken.
fn loose_payload() -> BoxedStrategy<Vec<u8>> {
    let parts = (
        loose_body(),
        body_form(),
        content_type(),
        properties_form(),
        proptest::option::of(any::<usize>()),
    );
    parts
        .prop_map(|(body, form, content_type, properties, truncate)| {
            let mut m = Map::new();
            m.insert("body".into(), place_body(&body, &form));
            if let Some(ct) = content_type {
                m.insert("content-type".into(), ct);
            }
            if let Some(p) = place_properties(properties, &form) {
                m.insert("properties".into(), p);
            }
            m.insert("headers".into(), json!({"hostname": "w1@h"}));
            let mut bytes = Value::Object(m).to_string().into_bytes();
            // One payload in sixteen is cut short.
            if let Some(at) = truncate.filter(|t| t % 16 == 0) {
                bytes.truncate(at % (bytes.len() + 1));
            }
            bytes
        })
        .boxed()
}

/// How a subscribed connection delivers (or fails to deliver) a payload.
#[derive(Debug, Clone, Copy)]
enum Frame {
    /// `pmessage pattern channel payload`, what PSUBSCRIBE delivers.
    PMessage,
    /// `message channel payload`, what SUBSCRIBE delivers (`fanout_patterns=false`).
    Message,
    /// A pmessage without its payload.
    MissingPayload,
    /// A pmessage whose payload is an integer.
    IntegerPayload,
    /// A subscription confirmation or a subscribed PING's reply.
    Confirmation,
    /// An error reply: the subscription is gone.
    ErrorReply,
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        6 => Just(Frame::PMessage),
        2 => Just(Frame::Message),
        1 => Just(Frame::MissingPayload),
        1 => Just(Frame::IntegerPayload),
        1 => Just(Frame::Confirmation),
        1 => Just(Frame::ErrorReply),
    ]
}

/// The frame's bytes on the wire.
fn frame_bytes(frame: Frame, payload: &[u8]) -> Vec<u8> {
    let pattern: &[u8] = b"/0.celeryev/*";
    let channel: &[u8] = b"/0.celeryev/task.multi";
    let mut out = Vec::new();
    match frame {
        Frame::PMessage => encode_command(&[&b"pmessage"[..], pattern, channel, payload], &mut out),
        Frame::Message => encode_command(&[&b"message"[..], channel, payload], &mut out),
        Frame::MissingPayload => encode_command(&[&b"pmessage"[..], pattern, channel], &mut out),
        Frame::IntegerPayload => {
            out.extend_from_slice(b"*4\r\n");
            for part in [&b"pmessage"[..], pattern, channel] {
                out.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
                out.extend_from_slice(part);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b":5\r\n");
        }
        Frame::Confirmation => encode_command(&[&b"psubscribe"[..], pattern, b"1"], &mut out),
        Frame::ErrorReply => out.extend_from_slice(b"-ERR unknown command\r\n"),
    }
    out
}

// ---- checks ----

/// Decodes `payload`, checking that the events handed out are the ones counted.
fn decode_counted(payload: &[u8]) -> Result<Decoded, Undecodable> {
    let mut scratch = Vec::new();
    let mut seen = 0;
    let decoded = decode_message(payload, &mut scratch, |e| {
        let _ = e.hostname.as_deref().map(is_producer_hostname);
        seen += 1;
    });
    if let Ok(d) = decoded {
        assert_eq!(d.events, seen);
    }
    decoded
}

fn options(max_tasks: usize, worker_timeout: Option<f64>, flower: bool) -> Options {
    // danihodovic/celery-exporter's names instead of ours in half of the Flower cases (the two
    // sets are exclusive): every name set goes through the same streams.
    let celery_exporter = flower && max_tasks.is_multiple_of(2);
    Options {
        max_tasks,
        worker_timeout,
        purge_offline_after: Some(30.0),
        runtime_buckets: parse_buckets("buckets", DEFAULT_RUNTIME_BUCKETS).expect("default"),
        queue_wait_buckets: parse_buckets("queue-wait-buckets", DEFAULT_QUEUE_WAIT_BUCKETS)
            .expect("default"),
        ours: !celery_exporter,
        flower,
        celery_exporter,
    }
}

/// Renders a scrape and checks that no series appears twice (Prometheus rejects such a scrape).
fn scrape(state: &mut State, now: f64) {
    let mut out = String::new();
    encode_text(&state.families(now), &mut out);
    let mut series = HashSet::new();
    for line in out.lines().filter(|l| !l.starts_with('#')) {
        let key = line.rsplit_once(' ').map_or(line, |(k, _)| k);
        assert!(series.insert(key.to_string()), "repeated series {key}");
    }
}

proptest! {
    #![proptest_config(fuzz_config(fuzz_cases(2_000)))]

    #[test]
    fn arbitrary_bytes_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..256)) {
        let decoded = decode_counted(&payload);
        if serde_json::from_slice::<serde::de::IgnoredAny>(&payload).is_err() {
            prop_assert_eq!(decoded, Err(Undecodable::Garbage));
        }
    }

    #[test]
    fn valid_envelopes_yield_exactly_their_events(
        events in proptest::collection::vec(model_event(), 1..12),
        batch in any::<bool>(),
        base64 in any::<bool>(),
        strip_padding in any::<bool>(),
        declare_content_type in any::<bool>(),
    ) {
        let events = if batch { events } else { events[..1].to_vec() };
        let body = if batch {
            Value::Array(events.iter().map(ModelEvent::to_json).collect())
        } else {
            events[0].to_json()
        };
        let mut envelope = envelope_json(body.to_string().as_bytes(), base64);
        if base64 && strip_padding {
            let b64 = envelope["body"].as_str().unwrap_or_default().trim_end_matches('=').to_string();
            envelope["body"] = b64.into();
        }
        if !declare_content_type {
            envelope.as_object_mut().map(|m| m.remove("content-type"));
        }
        let mut scratch = Vec::new();
        let mut got = 0;
        let decoded = decode_message(envelope.to_string().as_bytes(), &mut scratch, |e| {
            assert!(events[got].matches(&e), "event {got}: {:?} from {:?}", e, events[got]);
            got += 1;
        });
        prop_assert_eq!(decoded, Ok(Decoded { events: events.len(), bad_events: 0 }));
        prop_assert_eq!(got, events.len());
    }

    #[test]
    fn near_valid_envelopes_never_panic(payload in loose_payload()) {
        let _ = decode_counted(&payload);
        let mut state = State::new(options(4, None, true));
        apply_payload(&payload, &mut state, &mut Vec::new(), 0.0);
        scrape(&mut state, 0.0);
    }

    #[test]
    fn event_streams_keep_the_state_sound(
        payloads in proptest::collection::vec((loose_payload(), 0.0f64..20.0), 1..8),
        max_tasks in 1usize..6,
        worker_timeout in proptest::option::of(0.5f64..60.0),
        flower in any::<bool>(),
        scrape_after in any::<usize>(),
    ) {
        let mut state = State::new(options(max_tasks, worker_timeout, flower));
        let mut scratch = Vec::new();
        let mut now = 0.0;
        let mut applied = 0;
        // A scrape mid-stream (settling held-back counts, purging workers) and one at the end:
        // scraping after every message would triple the cost of a case.
        let mid_stream = scrape_after % payloads.len();
        for (i, (payload, step)) in payloads.iter().enumerate() {
            now += step;
            if let Ok(d) = decode_counted(payload) {
                applied += d.events as u64;
            }
            apply_payload(payload, &mut state, &mut scratch, now);
            prop_assert_eq!(state.events, applied);
            prop_assert!(state.tracked_tasks() <= max_tasks);
            if i == mid_stream {
                scrape(&mut state, now);
            }
        }
        scrape(&mut state, now + 20.0);
    }

    #[test]
    fn pubsub_frames_reach_the_state_as_their_payloads_do(
        payload in loose_payload(),
        frame in frame(),
    ) {
        let bytes = frame_bytes(frame, &payload);
        let Ok(Some((value, _))) = resp::parse(&bytes) else {
            panic!("not a frame: {:?}", String::from_utf8_lossy(&bytes));
        };
        let mut via_frame = State::new(options(4, None, true));
        let handled = handle_frame(value, &mut via_frame, &mut Vec::new(), 1.0);
        // What the payload alone does, or nothing, or one `garbage` message.
        let mut direct = State::new(options(4, None, true));
        match frame {
            Frame::PMessage | Frame::Message => {
                apply_payload(&payload, &mut direct, &mut Vec::new(), 1.0)
            }
            Frame::MissingPayload | Frame::IntegerPayload => {
                direct.count_undecodable(Undecodable::Garbage)
            }
            Frame::Confirmation | Frame::ErrorReply => {}
        }
        prop_assert_eq!(handled.is_err(), matches!(frame, Frame::ErrorReply));
        prop_assert_eq!(via_frame.events, direct.events);
        prop_assert_eq!(via_frame.undecodable, direct.undecodable);
    }

    #[test]
    fn base64_round_trips_and_rejects_without_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..96),
        noise in proptest::collection::vec(any::<u8>(), 0..32),
    ) {
        let encoded = base64::encode(&bytes);
        let mut out = Vec::new();
        prop_assert_eq!(base64::decode_into(encoded.as_bytes(), &mut out), Some(()));
        prop_assert_eq!(&out, &bytes);
        out.clear();
        prop_assert_eq!(base64::decode_into(encoded.trim_end_matches('=').as_bytes(), &mut out), Some(()));
        prop_assert_eq!(&out, &bytes);
        out.clear();
        if base64::decode_into(&noise, &mut out).is_some() {
            // Whatever is accepted decodes to three bytes per four characters.
            let unpadded = noise.iter().rev().skip_while(|&&c| c == b'=').count();
            prop_assert_eq!(out.len(), unpadded * 3 / 4);
        }
    }

    #[test]
    fn deep_nesting_in_a_body_is_refused_not_overflowed(body in deeply_nested(), base64 in any::<bool>()) {
        let payload = envelope_json(body.as_bytes(), base64).to_string();
        let _ = decode_counted(payload.as_bytes());
        let _ = decode_counted(body.as_bytes());
    }
}
