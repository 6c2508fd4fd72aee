//! What the event stream tells us, as a pure state machine: `apply` one event at a time (with the
//! monotonic time it was received), `families` at scrape time. No I/O, no clock: time is passed
//! in, so every rule is unit-tested with made-up times.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use exporter_core::MetricFamily;

use crate::event::{is_producer_hostname, Event, Undecodable};
use crate::tasks::{task_key, Task, TaskKey, TaskMap, TaskState};

pub mod community;
mod families;
mod flower;
mod histogram;
mod labels;
#[cfg(test)]
mod test_support;
mod workers;

use flower::FlowerWorker;
use histogram::Histogram;
pub use labels::bounded_label;
use labels::Interner;
use workers::Worker;

/// Label values are bounded: a value longer than this is cut (at a character boundary).
pub const MAX_LABEL_LEN: usize = 200;
/// Distinct task names kept as label values; later ones are reported as `other`.
pub const MAX_TASK_NAMES: usize = 2000;
/// Distinct queue names kept as label values; later ones are reported as `other`.
pub const MAX_QUEUES: usize = 500;
/// Distinct (name, queue) series; later combinations are reported as (`other`, `other`).
pub const MAX_SERIES: usize = 20_000;
/// Workers tracked at once (purging long-gone ones makes room).
pub const MAX_WORKERS: usize = 1000;
/// Distinct event types kept for `flower_events_total{type}` (custom task events exist).
const MAX_EVENT_TYPES: usize = 64;

/// Celery's default heartbeat frequency of a worker known only from task events
/// (`celery.events.state.Worker.freq`).
const DEFAULT_FREQ: f64 = 60.0;
/// Celery's `HEARTBEAT_EXPIRE_WINDOW`: a worker is alive until last receipt + 200% of freq.
const EXPIRE_WINDOW: f64 = 2.0;

/// How long the events of a task first seen without its queue wait for the client's task-sent
/// (which alone names the queue) before they are counted under `queue="unknown"`.
pub const ATTRIBUTION_GRACE: f64 = 2.0;

const UNKNOWN: u16 = 0;
const OTHER: u16 = 1;

/// Runtime default buckets: prometheus_client's (and so Flower's).
pub const DEFAULT_RUNTIME_BUCKETS: &str =
    "0.005,0.01,0.025,0.05,0.075,0.1,0.25,0.5,0.75,1,2.5,5,7.5,10";
/// Queue waits run from milliseconds to hours.
pub const DEFAULT_QUEUE_WAIT_BUCKETS: &str =
    "0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10,30,60,120,300,600,1800,3600";

/// What the state keeps and how, from the flags.
#[derive(Debug, Clone)]
pub struct Options {
    /// Tasks remembered in the uuid map (`--max-tasks`), at least 1.
    pub max_tasks: usize,
    /// Seconds after the last heartbeat receipt a worker is considered down (default 2 x freq).
    pub worker_timeout: Option<f64>,
    /// Seconds after which a down worker's series are dropped (`None`: never).
    pub purge_offline_after: Option<f64>,
    /// Upper bounds of `celery_task_runtime_seconds` (`--buckets`).
    pub runtime_buckets: Vec<f64>,
    /// Upper bounds of `celery_task_queue_wait_seconds` (`--queue-wait-buckets`).
    pub queue_wait_buckets: Vec<f64>,
    /// Keep our own `celery_*` task and worker families (`--metrics` names `ours`).
    pub ours: bool,
    /// Also keep Flower's `flower_*` families.
    pub flower: bool,
    /// Also keep danihodovic/celery-exporter's families (`--metrics=celery-exporter`).
    pub celery_exporter: bool,
}

/// Counters and histograms of one (task name, queue) pair.
struct Series {
    counts: [u64; 8],
    runtime: Histogram,
    wait: Histogram,
}

fn series_entry(
    series: &mut HashMap<(u16, u16), Series>,
    name: u16,
    queue: u16,
    runtime_buckets: usize,
    wait_buckets: usize,
) -> &mut Series {
    let key = if series.len() >= MAX_SERIES && !series.contains_key(&(name, queue)) {
        (OTHER, OTHER)
    } else {
        (name, queue)
    };
    series.entry(key).or_insert_with(|| Series {
        counts: [0; 8],
        runtime: Histogram::new(runtime_buckets),
        wait: Histogram::new(wait_buckets),
    })
}

/// The task name an event gives. An empty one is no name: Flower's families label an unknown
/// name with the empty string, so a task named "" would repeat those series.
fn event_task_name<'e>(e: &'e Event<'_>) -> Option<&'e str> {
    e.name.as_deref().filter(|n| !n.is_empty())
}

/// The queue a task event names: task-sent's `queue`, else its `routing_key`.
fn event_queue<'e>(e: &'e Event<'_>) -> Option<&'e str> {
    e.queue
        .as_deref()
        .or(e.routing_key.as_deref())
        .filter(|q| !q.is_empty())
}

/// The queues task events have named, under their full names (a label would cut them), in the
/// order first seen. Append-only, so the queue-depth collector takes only what was added since it
/// last looked.
#[derive(Default)]
struct NamedQueues {
    in_order: Vec<Box<str>>,
    known: HashSet<Box<str>>,
}

impl NamedQueues {
    fn note(&mut self, queue: &str) {
        if self.known.contains(queue) || self.in_order.len() >= MAX_QUEUES {
            return;
        }
        // Reported as a label it would be cut, and two such queues could collide into one
        // series: measure it only when `--queues` names it.
        if queue.len() > MAX_LABEL_LEN {
            return;
        }
        self.known.insert(queue.into());
        self.in_order.push(queue.into());
    }
}

/// Everything the event stream has told us: counters and histograms per (task name, queue),
/// the task map, workers, Flower's series, and the consumer's own counters.
pub struct State {
    opts: Options,
    tasks: TaskMap,
    names: Interner,
    queues: Interner,
    named_queues: NamedQueues,
    series: HashMap<(u16, u16), Series>,
    workers: BTreeMap<Box<str>, Worker>,
    flower_types: Interner,
    flower_workers: BTreeMap<Box<str>, FlowerWorker>,
    /// danihodovic/celery-exporter's task series, when asked for.
    community: Option<community::CommunityTasks>,
    /// Tasks with pending (unattributed) counts: slot, key, deadline.
    deferred: VecDeque<(u32, TaskKey, f64)>,
    /// The runtime of a pending SUCCESS, by slot.
    deferred_runtime: HashMap<u32, f64>,
    /// Events applied.
    pub events: u64,
    /// Messages (or batch elements) dropped, by [`Undecodable::index`].
    pub undecodable: [u64; 6],
    /// Times the consumer lost the broker and subscribed again.
    pub reconnects: u64,
    /// The event consumer holds a subscribed connection.
    pub connected: bool,
}

impl State {
    /// An empty state.
    pub fn new(opts: Options) -> State {
        State {
            tasks: TaskMap::new(opts.max_tasks),
            names: Interner::new(MAX_TASK_NAMES),
            queues: Interner::new(MAX_QUEUES),
            named_queues: NamedQueues::default(),
            series: HashMap::new(),
            workers: BTreeMap::new(),
            flower_types: Interner::new(MAX_EVENT_TYPES),
            flower_workers: BTreeMap::new(),
            community: opts
                .celery_exporter
                .then(|| community::CommunityTasks::new(opts.runtime_buckets.clone())),
            deferred: VecDeque::new(),
            deferred_runtime: HashMap::new(),
            events: 0,
            undecodable: [0; 6],
            reconnects: 0,
            connected: false,
            opts,
        }
    }

    /// The options it was made with.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Tasks in the uuid map.
    pub fn tracked_tasks(&self) -> usize {
        self.tasks.len()
    }

    /// The queues task events have named, from the `seen`-th on: the queue-depth collector
    /// measures them from the next scrape, without waiting for its next discovery walk.
    pub fn queues_named_since(&self, seen: usize) -> &[Box<str>] {
        self.named_queues.in_order.get(seen..).unwrap_or_default()
    }

    /// A queue the workers say they consume: measured from the next scrape, as one a task event
    /// names.
    pub fn note_queue(&mut self, queue: &str) {
        self.named_queues.note(queue);
    }

    /// Counts a dropped message (or batch element).
    pub fn count_undecodable(&mut self, why: Undecodable) {
        self.undecodable[why.index()] += 1;
    }

    /// Applies one event received at monotonic time `now` (seconds).
    pub fn apply(&mut self, e: &Event<'_>, now: f64) {
        self.events += 1;
        if let Some(subject) = e.kind.strip_prefix("task-") {
            self.task_event(subject, e, now);
        } else if let Some(subject) = e.kind.strip_prefix("worker-") {
            self.worker_event(subject, e, now);
        }
    }

    fn task_event(&mut self, subject: &str, e: &Event<'_>, now: f64) {
        self.settle_deferred(now);
        let Some(uuid) = e.uuid.as_deref() else {
            self.count_undecodable(Undecodable::Event);
            return;
        };
        if let Some(q) = event_queue(e) {
            self.named_queues.note(q);
        }
        let hostname = e.hostname.as_deref().unwrap_or("");
        // task-sent comes from the client; every other task event from a worker, and counts as
        // a sign of life (Celery does the same).
        if subject != "sent" && !hostname.is_empty() && !is_producer_hostname(hostname) {
            self.worker_seen(hostname, now, true);
        }
        let state = TaskState::from_subject(subject);
        let key = task_key(uuid);
        let slot = match self.tasks.lookup(&key) {
            Some(slot) => Some(slot),
            None => match state {
                // A custom task event about a task we do not know: nothing to attach it to.
                None => None,
                Some(s) => {
                    let name = event_task_name(e).map_or(UNKNOWN, |n| self.names.intern(n));
                    let queue = event_queue(e).map_or(UNKNOWN, |q| self.queues.intern(q));
                    let (slot, evicted) = self.tasks.insert(key, name, queue, s);
                    if let Some(old) = evicted {
                        self.settle(slot, &old);
                    }
                    Some(slot)
                }
            },
        };
        let (name, queue) = match slot {
            Some(slot) => self.learn_labels(slot, subject, e),
            None => (
                event_task_name(e).map_or(UNKNOWN, |n| self.names.intern(n)),
                UNKNOWN,
            ),
        };

        let mut wait = None;
        let mut flower_prefetch = None;
        if let (Some(slot), Some(state)) = (slot, state) {
            let ts = e.timestamp.unwrap_or(f64::NAN);
            let t = self.tasks.get_mut(slot);
            match state {
                TaskState::Pending => {
                    let started = t.take_started_before_sent();
                    t.set_sent(ts);
                    t.set_eta(e.eta);
                    t.mark_sent();
                    if let Some(started) = started.filter(|_| !e.eta && ts.is_finite()) {
                        // This attempt already started: its wait is known now, and its
                        // task-sent is used up.
                        wait = Some(started - ts);
                        t.clear_sent();
                    }
                }
                TaskState::Received => {
                    t.set_received(ts);
                    if e.eta {
                        t.set_eta(true);
                    }
                }
                TaskState::Started => {
                    if !t.eta() {
                        // Once per attempt: a retry's task-sent sets `sent` again.
                        if ts.is_finite() {
                            wait = t.sent().map(|sent| ts - sent);
                            flower_prefetch = t.received().map(|received| ts - received);
                            if wait.is_none() {
                                t.set_started_before_sent(ts);
                            }
                        }
                    }
                    t.clear_sent();
                    t.mark_started();
                }
                _ => {}
            }
            self.tasks.apply_state(slot, state);
        }

        if let Some(state) = state {
            let runtime = if state == TaskState::Success {
                e.runtime
            } else {
                None
            };
            match slot {
                Some(slot) if queue == UNKNOWN && !self.tasks.get(slot).sent_seen() => {
                    self.defer(slot, state, runtime, now)
                }
                _ => self.count(name, queue, 1 << state.index(), runtime, wait),
            }
        }

        if self.opts.flower {
            self.flower_task_event(subject, e, name, slot, flower_prefetch);
        }
        if let (Some(c), Some(event)) = (
            self.community.as_mut(),
            community::TaskEvent::from_type(&e.kind),
        ) {
            // Its labels are what is known of the task when the event comes, as upstream.
            let name = (name != UNKNOWN).then(|| self.names.name(name));
            let queue = (queue != UNKNOWN).then(|| self.queues.name(queue));
            c.task_event(
                event,
                name,
                queue,
                hostname,
                e.runtime,
                e.exception.as_deref(),
            );
        }
    }

    /// Workers as danihodovic/celery-exporter's worker families see them.
    fn community_workers(&self, now: f64) -> Vec<MetricFamily> {
        let timeout = self.opts.worker_timeout;
        let views: Vec<community::WorkerView<'_>> = self
            .workers
            .iter()
            .map(|(node, w)| community::WorkerView {
                node,
                alive: w.alive(now, timeout),
                active: w.active,
            })
            .collect();
        community::worker_families(&views)
    }

    /// Fills in the name and queue a task's first event did not give (a task first seen
    /// mid-flight, or a task-received that beat its task-sent); counts held back for the queue
    /// are settled once it is known.
    fn learn_labels(&mut self, slot: usize, subject: &str, e: &Event<'_>) -> (u16, u16) {
        let t = *self.tasks.get(slot);
        let mut name = t.name;
        let mut queue = t.queue;
        if name == UNKNOWN {
            if let Some(n) = event_task_name(e) {
                name = self.names.intern(n);
            }
        }
        if queue == UNKNOWN && !t.sent_seen() {
            if let Some(q) = event_queue(e) {
                queue = self.queues.intern(q);
            }
        }
        let t = self.tasks.get_mut(slot);
        t.name = name;
        t.queue = queue;
        if t.pending != 0 && (queue != UNKNOWN || subject == "sent") {
            let task = *t;
            self.settle(slot, &task);
            self.tasks.get_mut(slot).pending = 0;
        }
        (name, queue)
    }

    /// Holds a count back until the task's queue is known (or the grace period ends).
    fn defer(&mut self, slot: usize, state: TaskState, runtime: Option<f64>, now: f64) {
        let bit = 1u8 << state.index();
        let t = *self.tasks.get(slot);
        if t.pending & bit != 0 {
            // The same state twice before the queue showed up: settle the first one.
            self.settle(slot, &t);
            self.tasks.get_mut(slot).pending = 0;
        }
        let t = self.tasks.get_mut(slot);
        let first = t.pending == 0;
        t.pending |= bit;
        let key = *t.key();
        if let Some(rt) = runtime {
            self.deferred_runtime.insert(slot as u32, rt);
        }
        if first {
            self.deferred
                .push_back((slot as u32, key, now + ATTRIBUTION_GRACE));
            // Bounded like the task map: under a flood, settle early rather than grow.
            if self.deferred.len() > self.opts.max_tasks {
                self.settle_front();
            }
        }
    }

    /// Counts what `task` (now or formerly in `slot`) held back, under its current labels.
    fn settle(&mut self, slot: usize, task: &Task) {
        let runtime = self.deferred_runtime.remove(&(slot as u32));
        if task.pending != 0 {
            self.count(task.name, task.queue, task.pending, runtime, None);
        }
    }

    fn settle_front(&mut self) {
        if let Some((slot, key, _)) = self.deferred.pop_front() {
            let slot = slot as usize;
            if slot < self.tasks.len() && self.tasks.get(slot).key() == &key {
                let t = *self.tasks.get(slot);
                self.settle(slot, &t);
                self.tasks.get_mut(slot).pending = 0;
            }
        }
    }

    /// Settles the held-back counts whose grace period is over.
    fn settle_deferred(&mut self, now: f64) {
        while self
            .deferred
            .front()
            .is_some_and(|(_, _, deadline)| *deadline <= now)
        {
            self.settle_front();
        }
        // A burst of unattributed tasks is over: give its memory back.
        if self.deferred.is_empty() && self.deferred.capacity() > 4096 {
            self.deferred = VecDeque::new();
            self.deferred_runtime = HashMap::new();
        }
    }

    /// Counts the states in `states` (a bit set) for (name, queue).
    fn count(
        &mut self,
        name: u16,
        queue: u16,
        states: u8,
        runtime: Option<f64>,
        wait: Option<f64>,
    ) {
        let s = series_entry(
            &mut self.series,
            name,
            queue,
            self.opts.runtime_buckets.len(),
            self.opts.queue_wait_buckets.len(),
        );
        for st in TaskState::ALL {
            if states & (1 << st.index()) != 0 {
                s.counts[st.index()] += 1;
            }
        }
        if let Some(w) = wait {
            s.wait.observe(&self.opts.queue_wait_buckets, w);
        }
        if states & (1 << TaskState::Success.index()) != 0 {
            if let Some(rt) = runtime {
                s.runtime.observe(&self.opts.runtime_buckets, rt);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::test_support::*;

    #[test]
    fn queues_named_by_task_events_are_listed_once_in_order() {
        let mut s = State::new(options());
        let sent = |queue: Option<&'static str>, routing_key: Option<&'static str>| Event {
            queue: queue.map(Into::into),
            routing_key: routing_key.map(Into::into),
            ..task("task-sent", "gen1@h", "u", 0.0)
        };
        s.apply(&sent(Some("q1"), Some("rk")), 0.0);
        s.apply(&sent(None, Some("q2")), 0.0);
        s.apply(&sent(Some("q1"), None), 0.0);
        // Unusable names: empty, too long to be a label, or on an event without uuid.
        s.apply(&sent(Some(""), None), 0.0);
        let long = "q".repeat(MAX_LABEL_LEN + 1);
        s.apply(
            &Event {
                queue: Some(long.as_str().into()),
                ..task("task-sent", "gen1@h", "v", 0.0)
            },
            0.0,
        );
        s.apply(
            &Event {
                queue: Some("no-uuid".into()),
                ..ev("task-sent", "gen1@h")
            },
            0.0,
        );
        let names =
            |since| -> Vec<&str> { s.queues_named_since(since).iter().map(|q| &**q).collect() };
        assert_eq!(names(0), ["q1", "q2"]);
        assert_eq!(names(1), ["q2"]);
        assert!(names(2).is_empty() && names(99).is_empty());

        let mut s = State::new(options());
        for i in 0..MAX_QUEUES + 5 {
            let q = format!("q{i}");
            let uuid = format!("u{i}");
            s.apply(
                &Event {
                    queue: Some(q.as_str().into()),
                    ..task("task-sent", "gen1@h", &uuid, 0.0)
                },
                0.0,
            );
        }
        assert_eq!(s.queues_named_since(0).len(), MAX_QUEUES);
    }

    #[test]
    fn late_events_do_not_undo_and_retry_overwrites() {
        let mut s = State::new(options());
        let sent = Event {
            name: Some("t.x".into()),
            queue: Some("q".into()),
            ..task("task-sent", "gen1@h", "u", 10.0)
        };
        s.apply(&sent, 0.0);
        s.apply(&task("task-succeeded", "w@h", "u", 11.0), 0.0);
        s.apply(&task("task-started", "w@h", "u", 10.5), 0.0); // late
        let t = text(&mut s, 0.0);
        assert_samples(
            &t,
            &[
                (
                    "celery_exporter_tracked_tasks",
                    &[("state", "SUCCESS")],
                    Some(1.0),
                ),
                // Every event is still counted, under the name and queue task-sent gave.
                (
                    "celery_tasks_total",
                    &[("name", "t.x"), ("state", "STARTED"), ("queue", "q")],
                    Some(1.0),
                ),
                (
                    "celery_task_queue_wait_seconds_sum",
                    &[("name", "t.x")],
                    Some(0.5),
                ),
            ],
        );
        s.apply(&task("task-retried", "w@h", "u", 12.0), 0.0);
        let t = text(&mut s, 0.0);
        assert_samples(
            &t,
            &[
                (
                    "celery_exporter_tracked_tasks",
                    &[("state", "RETRY")],
                    Some(1.0),
                ),
                (
                    "celery_exporter_tracked_tasks",
                    &[("state", "SUCCESS")],
                    Some(0.0),
                ),
            ],
        );
    }

    #[test]
    fn received_before_sent_is_counted_under_the_senders_queue() {
        let mut s = State::new(options());
        let received = Event {
            name: Some("t.race".into()),
            ..task("task-received", "w@h", "u", 1.0)
        };
        s.apply(&received, 0.0);
        let succeeded = Event {
            runtime: Some(0.5),
            ..task("task-succeeded", "w@h", "u", 1.6)
        };
        s.apply(&succeeded, 0.1);
        // Held back while the task-sent may still come.
        assert!(!text(&mut s, 0.2).contains("celery_tasks_total{name=\"t.race\""));
        let sent = Event {
            name: Some("t.race".into()),
            queue: Some("q1".into()),
            ..task("task-sent", "gen7@h", "u", 0.9)
        };
        s.apply(&sent, 0.3);
        let t = text(&mut s, 0.3);
        for state in ["PENDING", "RECEIVED", "SUCCESS"] {
            assert_eq!(
                value(
                    &t,
                    "celery_tasks_total",
                    &[("name", "t.race"), ("state", state), ("queue", "q1")]
                ),
                1.0,
                "{state}"
            );
        }
        assert_eq!(
            value(
                &t,
                "celery_task_runtime_seconds_sum",
                &[("name", "t.race"), ("queue", "q1")]
            ),
            0.5
        );
        assert!(
            !t.contains("celery_tasks_total{name=\"t.race\",state=\"RECEIVED\",queue=\"unknown\""),
            "{t}"
        );

        // No task-sent at all (the client default): counted under "unknown" after the grace.
        let lone = Event {
            name: Some("t.lone".into()),
            ..task("task-received", "w@h", "v", 1.0)
        };
        s.apply(&lone, 10.0);
        s.apply(&task("task-started", "w@h", "v", 1.1), 10.1);
        assert!(!text(&mut s, 10.0 + ATTRIBUTION_GRACE - 0.01)
            .contains("celery_tasks_total{name=\"t.lone\""));
        let t = text(&mut s, 10.0 + ATTRIBUTION_GRACE);
        for state in ["RECEIVED", "STARTED"] {
            assert_eq!(
                value(
                    &t,
                    "celery_tasks_total",
                    &[("name", "t.lone"), ("state", state), ("queue", "unknown")]
                ),
                1.0
            );
        }
        // Later events of a settled task are counted at once.
        let lone_success = [
            ("name", "t.lone"),
            ("state", "SUCCESS"),
            ("queue", "unknown"),
        ];
        s.apply(&task("task-succeeded", "w@h", "v", 1.2), 12.5);
        let t = text(&mut s, 12.5);
        assert_eq!(
            value(&t, "celery_tasks_total", &lone_success),
            0.0,
            "still within its own grace"
        );
        let t = text(&mut s, 20.0);
        assert_eq!(value(&t, "celery_tasks_total", &lone_success), 1.0);
    }

    #[test]
    fn a_task_sent_that_arrives_after_task_started_still_gives_the_queue_wait() {
        let mut s = State::new(options());
        let named = |kind, ts| Event {
            name: Some("t.fast".into()),
            queue: Some("q".into()),
            ..task(kind, "w@h", "u", ts)
        };
        s.apply(&named("task-received", 1.5), 0.0);
        s.apply(&named("task-started", 2.0), 0.0);
        s.apply(&named("task-sent", 0.5), 0.0);
        s.apply(&named("task-succeeded", 3.0), 0.0);
        let t = text(&mut s, 0.0);
        let labels = [("name", "t.fast"), ("queue", "q")];
        assert_samples(
            &t,
            &[
                ("celery_task_queue_wait_seconds_count", &labels, Some(1.0)),
                ("celery_task_queue_wait_seconds_sum", &labels, Some(1.5)),
            ],
        );
    }

    #[test]
    fn eta_tasks_have_no_queue_wait() {
        let mut s = State::new(options());
        let sent = Event {
            name: Some("t.later".into()),
            eta: true,
            ..task("task-sent", "gen1@h", "u", 0.0)
        };
        s.apply(&sent, 0.0);
        s.apply(&task("task-started", "w@h", "u", 3600.0), 0.0);
        let t = text(&mut s, 0.0);
        assert_eq!(
            value(
                &t,
                "celery_task_queue_wait_seconds_count",
                &[("name", "t.later")]
            ),
            0.0
        );
    }

    #[test]
    fn evicted_and_unknown_tasks_still_count() {
        let mut s = State::new(Options {
            max_tasks: 2,
            ..options()
        });
        for (i, u) in ["a", "b", "c"].iter().enumerate() {
            let e = Event {
                name: Some("t.n".into()),
                queue: Some("q".into()),
                ..task("task-received", "w@h", u, i as f64)
            };
            s.apply(&e, 0.0);
        }
        assert_eq!(s.tracked_tasks(), 2);
        s.apply(&task("task-succeeded", "w@h", "a", 5.0), 0.0); // "a" was evicted
        s.apply(&task("task-succeeded", "w@h", "zzz", 5.0), 0.0); // never seen
        let t = text(&mut s, 10.0);
        assert_samples(
            &t,
            &[
                (
                    "celery_tasks_total",
                    &[
                        ("name", "unknown"),
                        ("state", "SUCCESS"),
                        ("queue", "unknown"),
                    ],
                    Some(2.0),
                ),
                ("celery_exporter_tasks_evicted_total", &[], Some(3.0)),
            ],
        );
        // A task event without uuid is counted as undecodable.
        s.apply(&ev("task-started", "w@h"), 0.0);
        let t = text(&mut s, 10.0);
        assert_eq!(
            value(
                &t,
                "celery_exporter_messages_undecodable_total",
                &[("reason", "event")]
            ),
            1.0
        );
    }
}
