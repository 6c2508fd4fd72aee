//! Helpers of the state's unit tests: options, the captured stream replayed, made-up events,
//! reading a sample back from the exposition.

use exporter_core::encode::encode_text;
pub(super) use exporter_core::testkit::assert_samples;
use exporter_core::testkit::sample_value;

use super::{Options, State, DEFAULT_QUEUE_WAIT_BUCKETS, DEFAULT_RUNTIME_BUCKETS};
use crate::event::{decode_message, Event};
use crate::flags::parse_buckets;

pub(super) const FIXTURE: &str = include_str!("../../tests/fixtures/celery-5.4.0-events.jsonl");

pub(super) fn options() -> Options {
    Options {
        max_tasks: 1000,
        worker_timeout: None,
        purge_offline_after: Some(600.0),
        runtime_buckets: parse_buckets("buckets", DEFAULT_RUNTIME_BUCKETS).unwrap(),
        queue_wait_buckets: parse_buckets("queue-wait-buckets", DEFAULT_QUEUE_WAIT_BUCKETS)
            .unwrap(),
        ours: true,
        flower: true,
        celery_exporter: true,
    }
}

pub(super) fn text(state: &mut State, now: f64) -> String {
    let mut out = String::new();
    encode_text(&state.families(now), &mut out);
    out
}

pub(super) fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    sample_value(text, name, labels).unwrap_or_else(|| panic!("{name}{labels:?} missing"))
}

/// Feeds every captured message, one second of receipt time apart.
pub(super) fn replay(state: &mut State) -> f64 {
    let mut scratch = Vec::new();
    let mut now = 0.0;
    for line in FIXTURE.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if !v["channel"].as_str().unwrap().contains("celeryev") {
            continue;
        }
        now += 0.1;
        let mut events = Vec::new();
        decode_message(v["data"].as_str().unwrap().as_bytes(), &mut scratch, |e| {
            events.push(serde_json::to_string(&EventCopy::from(&e)).unwrap())
        })
        .unwrap();
        for e in events {
            let copy: EventCopy = serde_json::from_str(&e).unwrap();
            state.apply(&copy.as_event(), now);
        }
    }
    now
}

/// An owned event, so the test can apply events after the scratch buffer moved on.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct EventCopy {
    kind: String,
    hostname: Option<String>,
    uuid: Option<String>,
    name: Option<String>,
    queue: Option<String>,
    timestamp: Option<f64>,
    runtime: Option<f64>,
    freq: Option<f64>,
    active: Option<f64>,
    processed: Option<f64>,
    eta: bool,
}

impl From<&Event<'_>> for EventCopy {
    fn from(e: &Event<'_>) -> Self {
        EventCopy {
            kind: e.kind.to_string(),
            hostname: e.hostname.as_deref().map(str::to_string),
            uuid: e.uuid.as_deref().map(str::to_string),
            name: e.name.as_deref().map(str::to_string),
            queue: e.queue.as_deref().map(str::to_string),
            timestamp: e.timestamp,
            runtime: e.runtime,
            freq: e.freq,
            active: e.active,
            processed: e.processed,
            eta: e.eta,
        }
    }
}

impl EventCopy {
    fn as_event(&self) -> Event<'_> {
        Event {
            kind: self.kind.as_str().into(),
            hostname: self.hostname.as_deref().map(Into::into),
            uuid: self.uuid.as_deref().map(Into::into),
            name: self.name.as_deref().map(Into::into),
            queue: self.queue.as_deref().map(Into::into),
            routing_key: None,
            timestamp: self.timestamp,
            runtime: self.runtime,
            freq: self.freq,
            active: self.active,
            processed: self.processed,
            exception: None,
            eta: self.eta,
        }
    }
}

pub(super) fn ev<'a>(kind: &'a str, host: &'a str) -> Event<'a> {
    Event {
        kind: kind.into(),
        hostname: Some(host.into()),
        uuid: None,
        name: None,
        queue: None,
        routing_key: None,
        timestamp: None,
        runtime: None,
        freq: None,
        active: None,
        processed: None,
        exception: None,
        eta: false,
    }
}

pub(super) fn task<'a>(kind: &'a str, host: &'a str, uuid: &'a str, ts: f64) -> Event<'a> {
    Event {
        uuid: Some(uuid.into()),
        timestamp: Some(ts),
        ..ev(kind, host)
    }
}

pub(super) fn heartbeat<'a>(host: &'a str, freq: f64, active: Option<f64>) -> Event<'a> {
    Event {
        freq: Some(freq),
        active,
        processed: active.map(|a| a * 10.0),
        ..ev("worker-heartbeat", host)
    }
}
