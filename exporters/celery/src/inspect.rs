//! What danihodovic/celery-exporter learns by asking the workers rather than from events: for
//! each queue, the workers consuming it (`active_queues`) and their pool processes (`stats`,
//! `pool.processes`), for `celery_active_worker_count` and `celery_active_process_count`. The
//! requests are Celery's remote-control broadcasts, as `app.control.inspect().stats()` and
//! `.active_queues()` send them: a `celery.pidbox` broadcast naming a reply exchange
//! (`reply.celery.pidbox`, direct), a routing key of our own and a ticket; each worker answers
//! `{"<node name>": <reply>}` there, with the ticket in the message headers. This module is the
//! pure part: the request bodies, the replies, and what they add up to per queue. The brokers'
//! I/O is in [`crate::control`] (Redis) and [`crate::amqp::control`] (RabbitMQ).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// kombu's reply exchange of the `celery` mailbox.
pub const REPLY_EXCHANGE: &str = "reply.celery.pidbox";
/// How long replies are awaited after a request: Celery's default inspect timeout.
pub const REPLY_WINDOW: Duration = Duration::from_secs(1);
/// How often the workers are asked.
pub const ASK_EVERY: Duration = Duration::from_secs(10);

/// The two questions asked each round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Question {
    /// `stats`: the pool's processes.
    Stats,
    /// `active_queues`: the queues the worker consumes.
    ActiveQueues,
}

impl Question {
    /// Both, in the order they are asked.
    pub const ALL: [Question; 2] = [Question::Stats, Question::ActiveQueues];

    fn method(self) -> &'static str {
        match self {
            Question::Stats => "stats",
            Question::ActiveQueues => "active_queues",
        }
    }
}

/// Our mailbox id (kombu's `oid`): the reply routing key, and the reply queue's name prefix.
pub fn new_oid() -> String {
    crate::random::hex_id()
}

/// The reply queue kombu would declare for `oid`: `<oid>.reply.celery.pidbox`.
pub fn reply_queue(oid: &str) -> String {
    format!("{oid}.{REPLY_EXCHANGE}")
}

/// The ticket of request `n` of this process: unique, so late replies to an earlier round are
/// told apart.
pub fn ticket(oid: &str, question: Question, n: u64) -> String {
    format!("{oid}-{}-{n}", question.method())
}

/// The JSON body of a request to every worker, replies to `oid` under `ticket`.
pub fn request_body(question: Question, oid: &str, ticket: &str) -> String {
    serde_json::json!({
        "method": question.method(),
        "arguments": {},
        "destination": null,
        "pattern": null,
        "matcher": null,
        "ticket": ticket,
        "reply_to": {"exchange": REPLY_EXCHANGE, "routing_key": oid},
    })
    .to_string()
}

/// What one round of replies says, by worker node name.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Answers {
    /// `stats`: the number of pool processes.
    processes: BTreeMap<String, usize>,
    /// `active_queues`: the queue names.
    queues: BTreeMap<String, Vec<String>>,
}

impl Answers {
    /// Takes one reply body (`{"<node>": <reply>}`) to `question`; anything else is ignored.
    pub fn add_reply(&mut self, question: Question, body: &[u8]) {
        let Ok(serde_json::Value::Object(by_node)) = serde_json::from_slice(body) else {
            return;
        };
        for (node, reply) in by_node {
            match question {
                Question::Stats => {
                    // A pool without processes (solo, threads) has no list: 0, as upstream.
                    let n = reply
                        .pointer("/pool/processes")
                        .and_then(|p| p.as_array())
                        .map_or(0, Vec::len);
                    self.processes.insert(node, n);
                }
                Question::ActiveQueues => {
                    let names = reply
                        .as_array()
                        .map(|qs| {
                            qs.iter()
                                .filter_map(|q| q.get("name")?.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    self.queues.insert(node, names);
                }
            }
        }
    }

    /// Every queue some worker consumes.
    pub fn queue_names(&self) -> BTreeSet<&str> {
        self.queues.values().flatten().map(String::as_str).collect()
    }

    /// (workers consuming `queue`, their pool processes), as upstream adds them up: a worker
    /// that answered `active_queues` but not `stats` counts with 0 processes.
    pub fn for_queue(&self, queue: &str) -> (usize, usize) {
        let consuming = self
            .queues
            .iter()
            .filter(|(_, qs)| qs.iter().any(|q| q == queue));
        consuming.fold((0, 0), |(workers, processes), (node, _)| {
            (
                workers + 1,
                processes + self.processes.get(node).copied().unwrap_or(0),
            )
        })
    }
}

/// Which question a reply answers, by its ticket (`None`: not ours, or an earlier round's).
pub fn question_of(ticket: &str, tickets: &[(Question, String)]) -> Option<Question> {
    tickets.iter().find(|(_, t)| t == ticket).map(|(q, _)| *q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_what_celery_inspect_sends() {
        let t = ticket("abc", Question::Stats, 7);
        let body: serde_json::Value =
            serde_json::from_str(&request_body(Question::Stats, "abc", &t)).unwrap();
        assert_eq!(body["method"], "stats");
        assert_eq!(body["ticket"], "abc-stats-7");
        assert_eq!(body["reply_to"]["exchange"], "reply.celery.pidbox");
        assert_eq!(body["reply_to"]["routing_key"], "abc");
        assert!(body["destination"].is_null());
        assert_eq!(reply_queue("abc"), "abc.reply.celery.pidbox");
        assert_ne!(ticket("abc", Question::ActiveQueues, 7), t);
    }

    #[test]
    fn replies_add_up_per_queue() {
        let mut a = Answers::default();
        // Shapes of Celery 5.4's replies, trimmed.
        a.add_reply(
            Question::Stats,
            br#"{"w1@box": {"pool": {"max-concurrency": 3, "processes": [11, 12, 13]}, "pid": 10}}"#,
        );
        a.add_reply(
            Question::Stats,
            br#"{"w2@box": {"pool": {"max-concurrency": 2, "processes": [21, 22]}}}"#,
        );
        a.add_reply(Question::Stats, br#"{"solo@box": {"pool": {}}}"#);
        a.add_reply(
            Question::ActiveQueues,
            br#"{"w1@box": [{"name": "celery", "exclusive": false}, {"name": "high"}]}"#,
        );
        a.add_reply(
            Question::ActiveQueues,
            br#"{"w2@box": [{"name": "celery"}]}"#,
        );
        a.add_reply(
            Question::ActiveQueues,
            br#"{"solo@box": [{"name": "high"}]}"#,
        );
        a.add_reply(Question::ActiveQueues, br#"{"w3@box": [{"name": "low"}]}"#);
        a.add_reply(Question::Stats, b"not json");
        a.add_reply(Question::ActiveQueues, br#"["not", "an", "object"]"#);
        assert_eq!(a.for_queue("celery"), (2, 5));
        assert_eq!(a.for_queue("high"), (2, 3));
        // w3 answered active_queues only.
        assert_eq!(a.for_queue("low"), (1, 0));
        assert_eq!(a.for_queue("none"), (0, 0));
        assert_eq!(
            a.queue_names().into_iter().collect::<Vec<_>>(),
            ["celery", "high", "low"]
        );
    }

    #[test]
    fn replies_are_told_apart_by_ticket() {
        let tickets = [
            (Question::Stats, ticket("o", Question::Stats, 2)),
            (
                Question::ActiveQueues,
                ticket("o", Question::ActiveQueues, 2),
            ),
        ];
        assert_eq!(
            question_of("o-active_queues-2", &tickets),
            Some(Question::ActiveQueues)
        );
        assert_eq!(question_of("o-stats-1", &tickets), None);
    }
}
