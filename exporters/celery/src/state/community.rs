//! danihodovic/celery-exporter's families (`--metrics=celery-exporter`), so the celery-mixin
//! dashboards and alerts work unchanged. Names, types, labels and buckets as its `exporter.py`
//! (0.10-0.12) declares them:
//!
//! - `celery_task_{sent,received,started,succeeded,failed,rejected,revoked,retried}_total`
//!   counters `{name, hostname, queue_name}`, `celery_task_failed_total` with `exception` too
//!   (the class name of the task's exception, `UnknownException` when it does not parse, `""` on
//!   the zero series);
//! - `celery_task_runtime` histogram `{name, hostname, queue_name}`, prometheus_client's default
//!   buckets unless `--buckets` says otherwise;
//! - `celery_worker_up`, `celery_worker_tasks_active` `{hostname}`;
//! - `celery_queue_length`, `celery_active_consumer_count`, `celery_active_worker_count`,
//!   `celery_active_process_count` `{queue_name}` (the last two from the workers' answers to
//!   `active_queues` and `stats`, [`crate::inspect`]).
//!
//! Its label rules: `hostname` is the part after `@` of Celery's node name (`w1@host` -> `host`,
//! producers' `gen123@host` too); `queue_name` is the queue task-sent named, else `celery` (its
//! `getattr(task, "queue", "celery")`); any task event but task-sent creates all eight counters of
//! its (name, hostname, queue_name) at 0, so ratios have both sides. Pure: events in, families out.

use std::collections::HashMap;

use exporter_core::MetricFamily;

use crate::inspect::Answers;
use crate::state::bounded_label;
use crate::state::histogram::Histogram;

/// Distinct values kept per label; later ones are reported as `other`.
const MAX_VALUES: usize = 2000;
/// Distinct (name, hostname, queue_name) series; later ones fold into (`other`, `other`, `other`).
const MAX_SERIES: usize = 20_000;
/// Distinct exception classes per series kept for `celery_task_failed_total`.
const MAX_EXCEPTIONS: usize = 200;

/// The queue danihodovic's exporter reports when task-sent did not name one.
pub const DEFAULT_QUEUE_NAME: &str = "celery";

/// The task events it counts, in its counters' order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEvent {
    /// task-sent
    Sent,
    /// task-received
    Received,
    /// task-started
    Started,
    /// task-succeeded
    Succeeded,
    /// task-failed
    Failed,
    /// task-rejected
    Rejected,
    /// task-revoked
    Revoked,
    /// task-retried
    Retried,
}

impl TaskEvent {
    /// Every one, in the counters' order.
    pub const ALL: [TaskEvent; 8] = [
        TaskEvent::Sent,
        TaskEvent::Received,
        TaskEvent::Started,
        TaskEvent::Succeeded,
        TaskEvent::Failed,
        TaskEvent::Rejected,
        TaskEvent::Revoked,
        TaskEvent::Retried,
    ];

    /// From a Celery event type (`task-succeeded`); `None` for other events.
    pub fn from_type(kind: &str) -> Option<TaskEvent> {
        Some(match kind {
            "task-sent" => TaskEvent::Sent,
            "task-received" => TaskEvent::Received,
            "task-started" => TaskEvent::Started,
            "task-succeeded" => TaskEvent::Succeeded,
            "task-failed" => TaskEvent::Failed,
            "task-rejected" => TaskEvent::Rejected,
            "task-revoked" => TaskEvent::Revoked,
            "task-retried" => TaskEvent::Retried,
            _ => return None,
        })
    }

    fn index(self) -> usize {
        self as usize
    }

    fn family(self) -> (&'static str, &'static str) {
        match self {
            TaskEvent::Sent => (
                "celery_task_sent_total",
                "Sent when a task message is published.",
            ),
            TaskEvent::Received => (
                "celery_task_received_total",
                "Sent when the worker receives a task.",
            ),
            TaskEvent::Started => (
                "celery_task_started_total",
                "Sent just before the worker executes the task.",
            ),
            TaskEvent::Succeeded => (
                "celery_task_succeeded_total",
                "Sent if the task executed successfully.",
            ),
            TaskEvent::Failed => (
                "celery_task_failed_total",
                "Sent if the execution of the task failed.",
            ),
            TaskEvent::Rejected => (
                "celery_task_rejected_total",
                "The task was rejected by the worker, possibly to be re-queued or moved to a dead letter queue.",
            ),
            TaskEvent::Revoked => (
                "celery_task_revoked_total",
                "Sent if the task has been revoked.",
            ),
            TaskEvent::Retried => (
                "celery_task_retried_total",
                "Sent if the task failed, but will be retried in the future.",
            ),
        }
    }
}

/// `celery.utils.nodesplit(name)[1]`: the host part of a node name.
pub fn host_of(node: &str) -> &str {
    node.split_once('@').map_or(node, |(_, host)| host)
}

/// The class name of a task-failed event's `exception` (`ValueError('bad')` -> `ValueError`),
/// `UnknownException` when it is not `Name(...`: its `^(\w+)\(`.
pub fn exception_class(exception: &str) -> &str {
    let end = exception
        .char_indices()
        .find(|&(_, c)| !(c.is_alphanumeric() || c == '_'))
        .map_or(exception.len(), |(i, _)| i);
    if end > 0 && exception[end..].starts_with('(') {
        &exception[..end]
    } else {
        "UnknownException"
    }
}

struct Labels {
    ids: HashMap<Box<str>, u16>,
    names: Vec<Box<str>>,
}

const OTHER: u16 = 0;

impl Labels {
    fn new() -> Labels {
        Labels {
            ids: HashMap::from([("other".into(), OTHER)]),
            names: vec!["other".into()],
        }
    }

    fn id(&mut self, s: &str) -> u16 {
        let s = bounded_label(s);
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        if self.names.len() > MAX_VALUES {
            return OTHER;
        }
        let id = self.names.len() as u16;
        self.names.push(s.into());
        self.ids.insert(s.into(), id);
        id
    }

    fn name(&self, id: u16) -> &str {
        &self.names[id as usize]
    }
}

struct Series {
    counts: [u64; 8],
    /// Which counters exist (task-sent creates only its own).
    present: u8,
    /// (exception id, count); the `""` zero series is implied by `present`.
    failed: Vec<(u16, u64)>,
    runtime: Option<Histogram>,
}

/// The task families of danihodovic/celery-exporter, fed one event at a time.
pub struct CommunityTasks {
    names: Labels,
    hosts: Labels,
    queues: Labels,
    exceptions: Labels,
    series: HashMap<(u16, u16, u16), Series>,
    buckets: Vec<f64>,
}

impl CommunityTasks {
    /// Empty series; `buckets` are `celery_task_runtime`'s upper bounds.
    pub fn new(buckets: Vec<f64>) -> CommunityTasks {
        CommunityTasks {
            names: Labels::new(),
            hosts: Labels::new(),
            queues: Labels::new(),
            exceptions: Labels::new(),
            series: HashMap::new(),
            buckets,
        }
    }

    /// Counts one task event. `name` and `queue` are what is known of the task when the event
    /// arrives (`None`: not known), `node` the event's hostname, `runtime` task-succeeded's,
    /// `exception` task-failed's.
    pub fn task_event(
        &mut self,
        event: TaskEvent,
        name: Option<&str>,
        queue: Option<&str>,
        node: &str,
        runtime: Option<f64>,
        exception: Option<&str>,
    ) {
        // Its state keeps `None` for a task it never saw named; the label reads "None".
        let name = self.names.id(name.unwrap_or("None"));
        let host = self.hosts.id(host_of(node));
        let queue = self.queues.id(queue.unwrap_or(DEFAULT_QUEUE_NAME));
        let key =
            if self.series.len() >= MAX_SERIES && !self.series.contains_key(&(name, host, queue)) {
                (OTHER, OTHER, OTHER)
            } else {
                (name, host, queue)
            };
        let s = self.series.entry(key).or_insert_with(|| Series {
            counts: [0; 8],
            present: 0,
            failed: Vec::new(),
            runtime: None,
        });
        s.counts[event.index()] += 1;
        s.present |= if event == TaskEvent::Sent {
            1 << TaskEvent::Sent.index()
        } else {
            // Every other event makes all eight visible (its `inc(0)`).
            0xFF
        };
        if event == TaskEvent::Failed {
            let class = exception_class(exception.unwrap_or(""));
            let id = self.exceptions.id(class);
            let id = if s.failed.len() >= MAX_EXCEPTIONS && !s.failed.iter().any(|(e, _)| *e == id)
            {
                OTHER
            } else {
                id
            };
            match s.failed.iter_mut().find(|(e, _)| *e == id) {
                Some((_, n)) => *n += 1,
                None => s.failed.push((id, 1)),
            }
        }
        if event == TaskEvent::Succeeded {
            let n = self.buckets.len();
            let r = s.runtime.get_or_insert_with(|| Histogram::new(n));
            // Its state's runtime is 0 when the event carries none; observed either way.
            r.observe(
                &self.buckets,
                runtime.filter(|v| v.is_finite()).unwrap_or(0.0),
            );
        }
    }

    /// The task families, series sorted by their labels.
    pub fn families(&self) -> Vec<MetricFamily> {
        let mut keys: Vec<&(u16, u16, u16)> = self.series.keys().collect();
        keys.sort_by(|a, b| {
            (
                self.names.name(a.0),
                self.hosts.name(a.1),
                self.queues.name(a.2),
            )
                .cmp(&(
                    self.names.name(b.0),
                    self.hosts.name(b.1),
                    self.queues.name(b.2),
                ))
        });
        let mut out = Vec::with_capacity(9);
        for event in TaskEvent::ALL {
            let (fname, help) = event.family();
            let mut fam = MetricFamily::counter(fname, help);
            for k in &keys {
                let s = &self.series[k];
                if s.present & (1 << event.index()) == 0 {
                    continue;
                }
                let (name, host, queue) = (
                    self.names.name(k.0),
                    self.hosts.name(k.1),
                    self.queues.name(k.2),
                );
                if event == TaskEvent::Failed {
                    fam.push(
                        &[
                            ("name", name),
                            ("hostname", host),
                            ("exception", ""),
                            ("queue_name", queue),
                        ],
                        0.0,
                    );
                    for &(e, n) in &s.failed {
                        fam.push(
                            &[
                                ("name", name),
                                ("hostname", host),
                                ("exception", self.exceptions.name(e)),
                                ("queue_name", queue),
                            ],
                            n as f64,
                        );
                    }
                } else {
                    fam.push(
                        &[("name", name), ("hostname", host), ("queue_name", queue)],
                        s.counts[event.index()] as f64,
                    );
                }
            }
            out.push(fam);
        }
        let mut runtime = MetricFamily::histogram(
            "celery_task_runtime",
            "Histogram of task runtime measurements.",
        );
        for k in &keys {
            let Some(r) = &self.series[k].runtime else {
                continue;
            };
            let labels = [
                ("name", self.names.name(k.0)),
                ("hostname", self.hosts.name(k.1)),
                ("queue_name", self.queues.name(k.2)),
            ];
            r.push_to(&mut runtime, &labels, &self.buckets);
        }
        out.push(runtime);
        out
    }
}

/// One worker as our state knows it.
pub struct WorkerView<'a> {
    /// Celery's node name (`w1@host`).
    pub node: &'a str,
    /// Alive by the heartbeat rule.
    pub alive: bool,
    /// Tasks executing, from its last heartbeat.
    pub active: Option<f64>,
}

/// `celery_worker_up` and `celery_worker_tasks_active` by host part of the node name. Two
/// workers on one host share its series there (one gauge set by each); here: up if any is,
/// active summed.
pub fn worker_families(workers: &[WorkerView<'_>]) -> Vec<MetricFamily> {
    let mut by_host: std::collections::BTreeMap<&str, (bool, Option<f64>)> = Default::default();
    for w in workers {
        let e = by_host.entry(host_of(w.node)).or_insert((false, None));
        e.0 |= w.alive;
        if let Some(a) = w.active {
            let a = if w.alive { a } else { 0.0 };
            e.1 = Some(e.1.unwrap_or(0.0) + a);
        }
    }
    let mut up = MetricFamily::gauge(
        "celery_worker_up",
        "Indicates if a worker has recently sent a heartbeat.",
    );
    let mut active = MetricFamily::gauge(
        "celery_worker_tasks_active",
        "The number of tasks the worker is currently processing",
    );
    for (host, (alive, a)) in by_host {
        let host = bounded_label(host);
        up.push(&[("hostname", host)], if alive { 1.0 } else { 0.0 });
        active.push(&[("hostname", host)], a.unwrap_or(0.0));
    }
    vec![up, active]
}

/// One queue's depth as the queue collectors measure it.
pub struct QueueView<'a> {
    /// The queue's name.
    pub name: &'a str,
    /// Messages waiting.
    pub length: f64,
    /// RabbitMQ's consumer count; `None` on Redis, which has no such count.
    pub consumers: Option<f64>,
}

/// `celery_queue_length`, `celery_active_consumer_count` (RabbitMQ only, as upstream),
/// `celery_active_worker_count` and `celery_active_process_count` `{queue_name}`: the last two
/// from the workers' answers, as upstream (the workers whose `active_queues` name the queue, and
/// the sum of their pool processes from `stats`; 0 before any worker answered).
pub fn queue_families(queues: &[QueueView<'_>], answers: &Answers) -> Vec<MetricFamily> {
    let mut length = MetricFamily::gauge(
        "celery_queue_length",
        "The number of message in broker queue.",
    );
    let mut consumers = MetricFamily::gauge(
        "celery_active_consumer_count",
        "The number of active consumer in broker queue.",
    );
    let mut workers = MetricFamily::gauge(
        "celery_active_worker_count",
        "The number of active workers in broker queue.",
    );
    let mut processes = MetricFamily::gauge(
        "celery_active_process_count",
        "The number of active processes in broker queue.",
    );
    for q in queues {
        let label = [("queue_name", bounded_label(q.name))];
        length.push(&label, q.length);
        if let Some(c) = q.consumers {
            consumers.push(&label, c);
        }
        let (w, p) = answers.for_queue(q.name);
        workers.push(&label, w as f64);
        processes.push(&label, p as f64);
    }
    vec![length, consumers, workers, processes]
}

/// danihodovic's queue families from ours (`celery_queue_length{queue}` and, on RabbitMQ,
/// `celery_queue_consumers{queue}`), as the `queues` collector measured them.
pub fn queue_families_from(ours: &[MetricFamily], answers: &Answers) -> Vec<MetricFamily> {
    let queue_of = |s: &exporter_core::Sample| {
        s.labels
            .iter()
            .find(|(k, _)| k == "queue")
            .map(|(_, v)| v.to_string())
    };
    let family = |name: &str| ours.iter().find(|f| f.name == name);
    // (queue, value) of each sample of one of our families.
    let by_queue = |name: &str| -> Vec<(String, f64)> {
        family(name)
            .map(|f| {
                f.samples
                    .iter()
                    .filter_map(|s| Some((queue_of(s)?, s.value)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let consumers: HashMap<String, f64> = by_queue("celery_queue_consumers").into_iter().collect();
    let lengths = by_queue("celery_queue_length");
    let on_rabbitmq = family("celery_queue_consumers").is_some();
    let views: Vec<QueueView<'_>> = lengths
        .iter()
        .map(|(name, length)| QueueView {
            name,
            length: *length,
            consumers: on_rabbitmq.then(|| consumers.get(name).copied().unwrap_or(0.0)),
        })
        .collect();
    queue_families(&views, answers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use exporter_core::testkit::assert_maps;

    fn text(families: &[MetricFamily]) -> String {
        let mut out = String::new();
        for f in families {
            for s in &f.samples {
                out.push_str(&format!(
                    "{}{} {:?} {}\n",
                    f.name, s.suffix, s.labels, s.value
                ));
            }
        }
        out
    }

    #[test]
    fn label_rules_of_upstream() {
        let hosts = [("w1@box", "box"), ("gen123@box", "box"), ("plain", "plain")];
        assert_maps(host_of, &hosts);
        let classes = [
            ("ValueError('bad')", "ValueError"),
            ("mod.Err('x')", "UnknownException"),
            ("", "UnknownException"),
        ];
        assert_maps(exception_class, &classes);
        assert_eq!(
            TaskEvent::from_type("task-retried"),
            Some(TaskEvent::Retried)
        );
        assert_eq!(TaskEvent::from_type("worker-heartbeat"), None);
    }

    #[test]
    fn counters_histogram_and_zero_series() {
        let mut c = CommunityTasks::new(vec![0.1, 1.0]);
        c.task_event(
            TaskEvent::Sent,
            Some("t.add"),
            Some("q1"),
            "gen9@client",
            None,
            None,
        );
        let f = c.families();
        // task-sent alone creates only its own counter.
        assert_eq!(f[0].samples.len(), 1);
        assert!(f[1].samples.is_empty());
        c.task_event(
            TaskEvent::Received,
            Some("t.add"),
            Some("q1"),
            "w1@box",
            None,
            None,
        );
        c.task_event(
            TaskEvent::Succeeded,
            Some("t.add"),
            Some("q1"),
            "w1@box",
            Some(0.5),
            None,
        );
        c.task_event(
            TaskEvent::Failed,
            Some("t.add"),
            None,
            "w1@box",
            None,
            Some("KeyError('k')"),
        );
        let f = c.families();
        let t = text(&f);
        assert_eq!(f.len(), 9);
        // Every counter of (t.add, box, q1) exists once any worker event came.
        for fam in &f[1..8] {
            assert!(!fam.samples.is_empty(), "{}", fam.name);
        }
        assert!(t.contains("celery_task_succeeded_total"), "{t}");
        let failed: Vec<_> = f[4]
            .samples
            .iter()
            .map(|s| (s.labels.clone(), s.value))
            .collect();
        // Unknown queue: "celery"; the zero series has exception "".
        assert!(failed.iter().any(|(l, v)| *v == 1.0
            && l.iter().any(|(k, v)| k == "exception" && v == "KeyError")
            && l.iter().any(|(k, v)| k == "queue_name" && v == "celery")));
        assert!(failed
            .iter()
            .any(|(l, v)| *v == 0.0 && l.iter().any(|(k, v)| k == "exception" && v.is_empty())));
        let runtime = &f[8];
        let count = runtime
            .samples
            .iter()
            .find(|s| s.suffix == "_count")
            .unwrap();
        assert_eq!(count.value, 1.0);
        let le1 = runtime
            .samples
            .iter()
            .find(|s| s.suffix == "_bucket" && s.labels.iter().any(|(k, v)| k == "le" && v == "1"))
            .unwrap();
        assert_eq!(le1.value, 1.0);
    }

    #[test]
    fn workers_and_queues() {
        let w = worker_families(&[
            WorkerView {
                node: "a@box",
                alive: true,
                active: Some(2.0),
            },
            WorkerView {
                node: "b@box",
                alive: false,
                active: Some(5.0),
            },
            WorkerView {
                node: "c@other",
                alive: false,
                active: None,
            },
        ]);
        assert_eq!(w[0].samples.len(), 2);
        assert_eq!(w[0].samples[0].value, 1.0);
        assert_eq!(w[1].samples[0].value, 2.0);
        assert_eq!(w[0].samples[1].value, 0.0);
        let mut answers = Answers::default();
        answers.add_reply(
            crate::inspect::Question::Stats,
            br#"{"a@box": {"pool": {"processes": [1, 2, 3]}}}"#,
        );
        answers.add_reply(
            crate::inspect::Question::ActiveQueues,
            br#"{"a@box": [{"name": "celery"}]}"#,
        );
        let celery = |consumers| {
            [QueueView {
                name: "celery",
                length: 4.0,
                consumers,
            }]
        };
        let q = queue_families(&celery(Some(1.0)), &answers);
        assert_eq!(q[0].samples[0].value, 4.0);
        assert_eq!(q[1].samples[0].value, 1.0);
        assert_eq!(q[2].samples[0].value, 1.0);
        assert_eq!(q[3].name, "celery_active_process_count");
        assert_eq!(q[3].samples[0].value, 3.0);
        // On Redis no consumer count; before any answer, 0 workers and processes.
        let q = queue_families(&celery(None), &Answers::default());
        assert!(q[1].samples.is_empty());
        assert_eq!(q[2].samples[0].value, 0.0);
        assert_eq!(q[3].samples[0].value, 0.0);
    }
}
