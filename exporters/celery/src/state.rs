//! What the event stream tells us, as a pure state machine: `apply` one event at a time (with the
//! monotonic time it was received), `families` at scrape time. No I/O, no clock: time is passed
//! in, so every rule is unit-tested with made-up times.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use exporter_core::MetricFamily;

use crate::event::{is_producer_hostname, Event, Undecodable};
use crate::tasks::{task_key, Task, TaskKey, TaskMap, TaskState};

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

#[derive(Debug, Clone)]
pub struct Options {
    pub max_tasks: usize,
    /// Seconds after the last heartbeat receipt a worker is considered down (default 2 x freq).
    pub worker_timeout: Option<f64>,
    /// Seconds after which a down worker's series are dropped (`None`: never).
    pub purge_offline_after: Option<f64>,
    pub runtime_buckets: Vec<f64>,
    pub queue_wait_buckets: Vec<f64>,
    /// Also keep Flower's `flower_*` families.
    pub flower: bool,
}

/// Cuts `s` to [`MAX_LABEL_LEN`] bytes at a character boundary.
pub fn bounded_label(s: &str) -> &str {
    if s.len() <= MAX_LABEL_LEN {
        return s;
    }
    let mut end = MAX_LABEL_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Strings to small ids, at most `cap` of them; id 0 is `unknown`, id 1 is `other` (overflow).
struct Interner {
    ids: HashMap<Box<str>, u16>,
    names: Vec<Box<str>>,
    cap: usize,
}

impl Interner {
    fn new(cap: usize) -> Interner {
        let mut i = Interner {
            ids: HashMap::new(),
            names: Vec::new(),
            cap: cap + 2,
        };
        i.intern("unknown");
        i.intern("other");
        i
    }

    fn intern(&mut self, s: &str) -> u16 {
        let s = bounded_label(s);
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        if self.names.len() >= self.cap {
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

/// A classic histogram: per-bucket counts (not cumulative), sum and count.
#[derive(Debug, Clone)]
struct Histogram {
    counts: Box<[u64]>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(buckets: usize) -> Histogram {
        Histogram {
            counts: vec![0; buckets].into_boxed_slice(),
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, bounds: &[f64], v: f64) {
        if !v.is_finite() {
            return;
        }
        let v = v.max(0.0);
        let i = bounds.partition_point(|&b| b < v);
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.sum += v;
        self.count += 1;
    }

    fn push_to(&self, fam: &mut MetricFamily, labels: &[(&'static str, &str)], bounds: &[f64]) {
        let mut cumulative = 0;
        let buckets: Vec<(f64, u64)> = bounds
            .iter()
            .zip(self.counts.iter())
            .map(|(&b, &c)| {
                cumulative += c;
                (b, cumulative)
            })
            .collect();
        fam.push_histogram(labels, &buckets, self.sum, self.count);
    }
}

/// Counters and histograms of one (task name, queue) pair.
struct Series {
    counts: [u64; 8],
    runtime: Histogram,
    wait: Histogram,
}

#[derive(Debug, Clone)]
struct Worker {
    freq: f64,
    /// Monotonic receipt time of the last heartbeat (or task event); `None` after worker-offline.
    last_heartbeat: Option<f64>,
    /// Monotonic receipt time of the last event of any kind.
    last_seen: f64,
    active: Option<f64>,
    processed: Option<f64>,
}

impl Worker {
    fn alive(&self, now: f64, timeout: Option<f64>) -> bool {
        let window = timeout.unwrap_or(self.freq * EXPIRE_WINDOW);
        self.last_heartbeat.is_some_and(|t| now < t + window)
    }
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

/// Flower's per-worker series (`--flower-metrics`).
#[derive(Default)]
struct FlowerWorker {
    /// (event type id, task name id) -> count.
    events: HashMap<(u16, u16), u64>,
    runtime: HashMap<u16, Histogram>,
    prefetch_time: HashMap<u16, f64>,
    prefetched: HashMap<u16, f64>,
}

/// The label Flower uses for the sender of an event; producers fold into one value.
const PRODUCER: &str = "producer";

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
    /// Tasks with pending (unattributed) counts: slot, key, deadline.
    deferred: VecDeque<(u32, TaskKey, f64)>,
    /// The runtime of a pending SUCCESS, by slot.
    deferred_runtime: HashMap<u32, f64>,
    /// Events applied.
    pub events: u64,
    /// Messages (or batch elements) dropped, by [`Undecodable::index`].
    pub undecodable: [u64; 6],
    pub reconnects: u64,
    /// The event consumer holds a subscribed connection.
    pub connected: bool,
}

impl State {
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
            deferred: VecDeque::new(),
            deferred_runtime: HashMap::new(),
            events: 0,
            undecodable: [0; 6],
            reconnects: 0,
            connected: false,
            opts,
        }
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    pub fn tracked_tasks(&self) -> usize {
        self.tasks.len()
    }

    /// The queues task events have named, from the `seen`-th on: the queue-depth collector
    /// measures them from the next scrape, without waiting for its next discovery walk.
    pub fn queues_named_since(&self, seen: usize) -> &[Box<str>] {
        self.named_queues.in_order.get(seen..).unwrap_or_default()
    }

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
                    t.set_sent(ts);
                    t.set_eta(e.eta);
                    t.mark_sent();
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

    /// Flower's `EventsState.event` for task events, label for label.
    fn flower_task_event(
        &mut self,
        subject: &str,
        e: &Event<'_>,
        name: u16,
        slot: Option<usize>,
        prefetch: Option<f64>,
    ) {
        let hostname = e.hostname.as_deref().unwrap_or("");
        let Some(label) = self.flower_worker(hostname) else {
            return;
        };
        let kind = self.flower_types.intern(&e.kind);
        let task = slot.map(|s| *self.tasks.get(s));
        let bounds = &self.opts.runtime_buckets;
        let Some(fw) = self.flower_workers.get_mut(label) else {
            return;
        };
        *fw.events.entry((kind, name)).or_insert(0) += 1;
        if let Some(rt) = e.runtime.filter(|&r| r != 0.0) {
            fw.runtime
                .entry(name)
                .or_insert_with(|| Histogram::new(bounds.len()))
                .observe(bounds, rt);
        }
        if let Some(t) = task.filter(|t| !t.eta()) {
            match subject {
                "received" if t.received().is_some() => {
                    *fw.prefetched.entry(name).or_insert(0.0) += 1.0;
                }
                "started" => {
                    if let Some(p) = prefetch {
                        fw.prefetch_time.insert(name, p);
                        *fw.prefetched.entry(name).or_insert(0.0) -= 1.0;
                    }
                }
                "succeeded" | "failed" if t.started_seen() && t.received().is_some() => {
                    fw.prefetch_time.insert(name, 0.0);
                }
                _ => {}
            }
        }
    }

    /// Makes sure Flower series for `hostname` (producers folded) exist, within the worker bound;
    /// returns their label.
    fn flower_worker<'h>(&mut self, hostname: &'h str) -> Option<&'h str> {
        let label = if is_producer_hostname(hostname) {
            PRODUCER
        } else {
            bounded_label(hostname)
        };
        if !self.flower_workers.contains_key(label) {
            if self.flower_workers.len() > MAX_WORKERS {
                return None;
            }
            self.flower_workers
                .insert(label.into(), FlowerWorker::default());
        }
        Some(label)
    }

    /// Notes an event from worker `hostname`; `heartbeat`: it proves the worker alive (every
    /// event but worker-offline). An unknown worker is only created by such an event.
    fn worker_seen(&mut self, hostname: &str, now: f64, heartbeat: bool) -> Option<&mut Worker> {
        let hostname = bounded_label(hostname);
        if !self.workers.contains_key(hostname) {
            if !heartbeat {
                return None;
            }
            if self.workers.len() >= MAX_WORKERS {
                self.purge(now);
                if self.workers.len() >= MAX_WORKERS {
                    return None;
                }
            }
            self.workers.insert(
                hostname.into(),
                Worker {
                    freq: DEFAULT_FREQ,
                    last_heartbeat: None,
                    last_seen: now,
                    active: None,
                    processed: None,
                },
            );
        }
        let w = self.workers.get_mut(hostname)?;
        w.last_seen = now;
        if heartbeat {
            w.last_heartbeat = Some(now);
        }
        Some(w)
    }

    fn worker_event(&mut self, subject: &str, e: &Event<'_>, now: f64) {
        let Some(hostname) = e.hostname.as_deref().filter(|h| !h.is_empty()) else {
            self.count_undecodable(Undecodable::Event);
            return;
        };
        if is_producer_hostname(hostname) {
            return;
        }
        let offline = subject == "offline";
        let Some(w) = self.worker_seen(hostname, now, !offline) else {
            return;
        };
        if let Some(f) = e.freq.filter(|f| f.is_finite() && *f > 0.0) {
            w.freq = f;
        }
        // A heartbeat forced by the `heartbeat` remote command may lack these: keep the last.
        if let Some(a) = e.active.filter(|a| a.is_finite()) {
            w.active = Some(a);
        }
        if let Some(p) = e.processed.filter(|p| p.is_finite()) {
            w.processed = Some(p);
        }
        if offline {
            // Down at once, like Celery, which drops the worker's heartbeats.
            w.last_heartbeat = None;
            w.active = Some(0.0);
        }
    }

    /// Drops workers that have been down for longer than `--purge-offline-worker-metrics`.
    pub fn purge(&mut self, now: f64) {
        let Some(after) = self.opts.purge_offline_after else {
            return;
        };
        let timeout = self.opts.worker_timeout;
        let gone: Vec<Box<str>> = self
            .workers
            .iter()
            .filter(|(_, w)| !w.alive(now, timeout) && now - w.last_seen >= after)
            .map(|(h, _)| h.clone())
            .collect();
        for h in gone {
            self.workers.remove(&h);
            self.flower_workers.remove(&h);
        }
    }

    /// Workers alive at `now`.
    pub fn workers_alive(&self, now: f64) -> usize {
        let timeout = self.opts.worker_timeout;
        self.workers
            .values()
            .filter(|w| w.alive(now, timeout))
            .count()
    }

    /// The task and worker families, and the exporter's own.
    pub fn families(&mut self, now: f64) -> Vec<MetricFamily> {
        self.purge(now);
        self.settle_deferred(now);
        let timeout = self.opts.worker_timeout;
        let mut out = Vec::with_capacity(20);

        out.push(
            MetricFamily::gauge(
                "celery_up",
                "Whether the exporter's event consumer is connected and subscribed to the broker.",
            )
            .with(&[], if self.connected { 1.0 } else { 0.0 }),
        );

        let mut keys: Vec<(u16, u16)> = self.series.keys().copied().collect();
        keys.sort_by(|a, b| {
            (self.names.name(a.0), self.queues.name(a.1))
                .cmp(&(self.names.name(b.0), self.queues.name(b.1)))
        });
        let mut total = MetricFamily::counter(
            "celery_tasks_total",
            "Task events received, by task name, state (PENDING is task-sent) and queue.",
        );
        let mut runtime = MetricFamily::histogram(
            "celery_task_runtime_seconds",
            "Run time of succeeded tasks as the worker measured it.",
        );
        let mut wait = MetricFamily::histogram(
            "celery_task_queue_wait_seconds",
            "Time from task-sent to task-started (sender clocks), tasks without ETA only.",
        );
        for k in &keys {
            let s = &self.series[k];
            let (name, queue) = (self.names.name(k.0), self.queues.name(k.1));
            for st in TaskState::ALL {
                total.push(
                    &[("name", name), ("state", st.as_str()), ("queue", queue)],
                    s.counts[st.index()] as f64,
                );
            }
            let labels = [("name", name), ("queue", queue)];
            s.runtime
                .push_to(&mut runtime, &labels, &self.opts.runtime_buckets);
            s.wait
                .push_to(&mut wait, &labels, &self.opts.queue_wait_buckets);
        }
        out.extend([total, runtime, wait]);

        let mut up = MetricFamily::gauge(
            "celery_worker_up",
            "Whether a worker is alive: heartbeat received within 2 x its frequency (or --worker-timeout), and no worker-offline since.",
        );
        let mut active = MetricFamily::gauge(
            "celery_worker_tasks_active",
            "Tasks a worker is executing, from its last heartbeat.",
        );
        let mut processed = MetricFamily::gauge(
            "celery_worker_tasks_processed",
            "Tasks a worker has processed since it started, from its last heartbeat.",
        );
        let mut alive_count = 0;
        for (h, w) in &self.workers {
            let alive = w.alive(now, timeout);
            alive_count += alive as usize;
            up.push(&[("hostname", h)], if alive { 1.0 } else { 0.0 });
            if let Some(a) = w.active {
                active.push(&[("hostname", h)], if alive { a } else { 0.0 });
            }
            if let Some(p) = w.processed {
                processed.push(&[("hostname", h)], p);
            }
        }
        out.push(
            MetricFamily::gauge("celery_workers", "Number of workers alive.")
                .with(&[], alive_count as f64),
        );
        out.extend([up, active, processed]);

        out.push(
            MetricFamily::counter(
                "celery_exporter_events_received_total",
                "Celery events decoded and applied.",
            )
            .with(&[], self.events as f64),
        );
        let mut undecodable = MetricFamily::counter(
            "celery_exporter_messages_undecodable_total",
            "Messages on the event channel (or elements of a batch) that could not be decoded, by reason.",
        );
        for why in Undecodable::ALL {
            undecodable.push(
                &[("reason", why.as_str())],
                self.undecodable[why.index()] as f64,
            );
        }
        out.push(undecodable);
        out.push(
            MetricFamily::counter(
                "celery_exporter_broker_reconnects_total",
                "Times the event consumer lost its broker connection and connected again.",
            )
            .with(&[], self.reconnects as f64),
        );
        let mut tracked = MetricFamily::gauge(
            "celery_exporter_tracked_tasks",
            "Tasks in the bounded uuid map (--max-tasks), by their current state.",
        );
        let per_state = self.tasks.per_state();
        for st in TaskState::ALL {
            tracked.push(&[("state", st.as_str())], per_state[st.index()] as f64);
        }
        out.push(tracked);
        out.push(
            MetricFamily::counter(
                "celery_exporter_tasks_evicted_total",
                "Tasks dropped from the uuid map to stay within --max-tasks.",
            )
            .with(&[], self.tasks.evicted() as f64),
        );

        if self.opts.flower {
            out.extend(self.flower_families(now));
        }
        out
    }

    fn flower_families(&self, now: f64) -> Vec<MetricFamily> {
        let timeout = self.opts.worker_timeout;
        let mut events = MetricFamily::counter("flower_events_total", "Number of events");
        let mut runtime = MetricFamily::histogram("flower_task_runtime_seconds", "Task runtime");
        let mut prefetch_time = MetricFamily::gauge(
            "flower_task_prefetch_time_seconds",
            "The time the task spent waiting at the celery worker to be executed.",
        );
        let mut prefetched = MetricFamily::gauge(
            "flower_worker_prefetched_tasks",
            "Number of tasks of given type prefetched at a worker",
        );
        let mut online = MetricFamily::gauge("flower_worker_online", "Worker online status");
        let mut executing = MetricFamily::gauge(
            "flower_worker_number_of_currently_executing_tasks",
            "Number of tasks currently executing at a worker",
        );
        let task_name = |id: u16| {
            if id == UNKNOWN {
                ""
            } else {
                self.names.name(id)
            }
        };
        for (worker, fw) in &self.flower_workers {
            let mut ev: Vec<_> = fw.events.iter().filter(|(_, &n)| n > 0).collect();
            ev.sort_by_key(|((kind, name), _)| (self.flower_types.name(*kind), task_name(*name)));
            for ((kind, name), n) in ev {
                events.push(
                    // Flower's label order.
                    &[
                        ("worker", worker),
                        ("type", self.flower_types.name(*kind)),
                        ("task", task_name(*name)),
                    ],
                    *n as f64,
                );
            }
            let mut rt: Vec<_> = fw.runtime.iter().collect();
            rt.sort_by_key(|(name, _)| task_name(**name));
            for (name, h) in rt {
                h.push_to(
                    &mut runtime,
                    &[("worker", worker), ("task", task_name(*name))],
                    &self.opts.runtime_buckets,
                );
            }
            for (map, fam) in [
                (&fw.prefetch_time, &mut prefetch_time),
                (&fw.prefetched, &mut prefetched),
            ] {
                let mut v: Vec<_> = map.iter().collect();
                v.sort_by_key(|(name, _)| task_name(**name));
                for (name, value) in v {
                    fam.push(&[("worker", worker), ("task", task_name(*name))], *value);
                }
            }
        }
        for (h, w) in &self.workers {
            let alive = w.alive(now, timeout);
            online.push(&[("worker", h)], if alive { 1.0 } else { 0.0 });
            if let Some(a) = w.active {
                executing.push(&[("worker", h)], if alive { a } else { 0.0 });
            }
        }
        vec![
            events,
            runtime,
            prefetch_time,
            prefetched,
            online,
            executing,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_buckets;
    use crate::event::decode_message;
    use exporter_core::encode::encode_text;
    use exporter_core::testkit::sample_value;

    const FIXTURE: &str = include_str!("../tests/fixtures/celery-5.4.0-events.jsonl");

    fn options() -> Options {
        Options {
            max_tasks: 1000,
            worker_timeout: None,
            purge_offline_after: Some(600.0),
            runtime_buckets: parse_buckets("buckets", DEFAULT_RUNTIME_BUCKETS).unwrap(),
            queue_wait_buckets: parse_buckets("queue-wait-buckets", DEFAULT_QUEUE_WAIT_BUCKETS)
                .unwrap(),
            flower: true,
        }
    }

    fn text(state: &mut State, now: f64) -> String {
        let mut out = String::new();
        encode_text(&state.families(now), &mut out);
        out
    }

    fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
        sample_value(text, name, labels).unwrap_or_else(|| panic!("{name}{labels:?} missing"))
    }

    /// Feeds every captured message, one second of receipt time apart.
    fn replay(state: &mut State) -> f64 {
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
    struct EventCopy {
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
                eta: self.eta,
            }
        }
    }

    fn ev<'a>(kind: &'a str, host: &'a str) -> Event<'a> {
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
            eta: false,
        }
    }

    fn task<'a>(kind: &'a str, host: &'a str, uuid: &'a str, ts: f64) -> Event<'a> {
        Event {
            uuid: Some(uuid.into()),
            timestamp: Some(ts),
            ..ev(kind, host)
        }
    }

    /// Found by tests/fuzz.rs: a task named "" and a task without a name both became
    /// `task=""` in Flower's families, so the scrape repeated series.
    #[test]
    fn an_empty_task_name_is_no_name() {
        let mut s = State::new(options());
        let named_empty = Event {
            name: Some("".into()),
            runtime: Some(1.0),
            ..task("task-succeeded", "w@h", "u1", 0.0)
        };
        s.apply(&named_empty, 0.0);
        s.apply(&task("task-succeeded", "w@h", "u2", 0.0), 0.0);
        let t = text(&mut s, 10.0);
        let events: Vec<&str> = t
            .lines()
            .filter(|l| l.starts_with("flower_events_total{"))
            .collect();
        assert_eq!(
            events,
            ["flower_events_total{worker=\"w@h\",type=\"task-succeeded\",task=\"\"} 2"]
        );
        assert!(!t.contains("name=\"\""), "{t}");
    }

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
    fn captured_stream_gives_exact_counts() {
        let mut s = State::new(options());
        let now = replay(&mut s);
        let t = text(&mut s, now);
        let count = |name: &str, state: &str| {
            value(
                &t,
                "celery_tasks_total",
                &[("name", name), ("state", state), ("queue", "celery")],
            )
        };
        for (name, pending, received, started, success, failure, retry) in [
            ("tests.add", 3.0, 3.0, 3.0, 3.0, 0.0, 0.0),
            ("tests.fail", 2.0, 2.0, 2.0, 0.0, 2.0, 0.0),
            // One retry: sent, received and started twice; retried once; succeeded once.
            ("tests.flaky", 2.0, 2.0, 2.0, 1.0, 0.0, 1.0),
            ("tests.sleep", 1.0, 1.0, 1.0, 1.0, 0.0, 0.0),
        ] {
            assert_eq!(count(name, "PENDING"), pending, "{name}");
            assert_eq!(count(name, "RECEIVED"), received, "{name}");
            assert_eq!(count(name, "STARTED"), started, "{name}");
            assert_eq!(count(name, "SUCCESS"), success, "{name}");
            assert_eq!(count(name, "FAILURE"), failure, "{name}");
            assert_eq!(count(name, "RETRY"), retry, "{name}");
            assert_eq!(count(name, "REVOKED"), 0.0, "{name}");
        }
        let h = |fam: &str, name: &str| {
            value(
                &t,
                &format!("{fam}_count"),
                &[("name", name), ("queue", "celery")],
            )
        };
        assert_eq!(h("celery_task_runtime_seconds", "tests.add"), 3.0);
        assert_eq!(h("celery_task_runtime_seconds", "tests.fail"), 0.0);
        assert_eq!(h("celery_task_queue_wait_seconds", "tests.add"), 3.0);
        assert_eq!(h("celery_task_queue_wait_seconds", "tests.flaky"), 2.0);
        let slow = value(
            &t,
            "celery_task_runtime_seconds_bucket",
            &[("name", "tests.sleep"), ("le", "0.75")],
        );
        let fast = value(
            &t,
            "celery_task_runtime_seconds_bucket",
            &[("name", "tests.sleep"), ("le", "0.5")],
        );
        assert_eq!((fast, slow), (0.0, 1.0));
        // The capture ends with worker-offline: down at once, series kept until purged.
        assert_eq!(value(&t, "celery_workers", &[]), 0.0);
        assert_eq!(value(&t, "celery_worker_up", &[("hostname", "w1@vm")]), 0.0);
        assert_eq!(
            value(
                &t,
                "celery_worker_tasks_processed",
                &[("hostname", "w1@vm")]
            ),
            8.0
        );
        // Producers never become label values.
        assert!(!t.contains("gen24975"), "{t}");
        assert_eq!(
            value(
                &t,
                "flower_events_total",
                &[
                    ("worker", "producer"),
                    ("type", "task-sent"),
                    ("task", "tests.add")
                ]
            ),
            3.0
        );
        assert_eq!(
            value(
                &t,
                "flower_events_total",
                &[
                    ("worker", "w1@vm"),
                    ("type", "task-failed"),
                    ("task", "tests.fail")
                ]
            ),
            2.0
        );
        assert_eq!(
            value(
                &t,
                "flower_task_runtime_seconds_count",
                &[("worker", "w1@vm"), ("task", "tests.add")]
            ),
            3.0
        );
        assert_eq!(
            value(
                &t,
                "flower_worker_prefetched_tasks",
                &[("worker", "w1@vm"), ("task", "tests.add")]
            ),
            0.0
        );
        assert_eq!(
            value(
                &t,
                "flower_task_prefetch_time_seconds",
                &[("worker", "w1@vm"), ("task", "tests.add")]
            ),
            0.0
        );
        assert_eq!(
            value(&t, "flower_worker_online", &[("worker", "w1@vm")]),
            0.0
        );
        assert_eq!(
            value(&t, "celery_exporter_events_received_total", &[]),
            37.0
        );
        assert_eq!(
            value(&t, "celery_exporter_tracked_tasks", &[("state", "SUCCESS")]),
            5.0
        );
        assert_eq!(
            value(&t, "celery_exporter_tracked_tasks", &[("state", "FAILURE")]),
            2.0
        );
    }

    fn heartbeat<'a>(host: &'a str, freq: f64, active: Option<f64>) -> Event<'a> {
        Event {
            freq: Some(freq),
            active,
            processed: active.map(|a| a * 10.0),
            ..ev("worker-heartbeat", host)
        }
    }

    #[test]
    fn workers_live_for_two_heartbeat_periods() {
        let mut s = State::new(options());
        s.apply(&heartbeat("w@h", 2.0, Some(1.0)), 100.0);
        assert_eq!(s.workers_alive(103.9), 1);
        assert_eq!(s.workers_alive(104.0), 0, "SIGKILLed: no more heartbeats");
        // A forced heartbeat without counters keeps the previous ones.
        s.apply(&heartbeat("w@h", 2.0, None), 105.0);
        let t = text(&mut s, 105.0);
        assert_eq!(
            value(&t, "celery_worker_tasks_active", &[("hostname", "w@h")]),
            1.0
        );
        assert_eq!(
            value(&t, "celery_worker_tasks_processed", &[("hostname", "w@h")]),
            10.0
        );
        assert_eq!(value(&t, "celery_workers", &[]), 1.0);
        // Task events count as signs of life.
        s.apply(&task("task-started", "w@h", "u1", 0.0), 108.0);
        assert_eq!(s.workers_alive(111.0), 1);
        // worker-offline: down at once.
        s.apply(&ev("worker-offline", "w@h"), 111.5);
        assert_eq!(s.workers_alive(111.5), 0);
        let t = text(&mut s, 111.5);
        assert_eq!(value(&t, "celery_worker_up", &[("hostname", "w@h")]), 0.0);
        assert_eq!(
            value(&t, "celery_worker_tasks_active", &[("hostname", "w@h")]),
            0.0
        );

        let mut s = State::new(Options {
            worker_timeout: Some(30.0),
            ..options()
        });
        s.apply(&heartbeat("w@h", 2.0, Some(0.0)), 0.0);
        assert_eq!(s.workers_alive(29.9), 1);
        assert_eq!(s.workers_alive(30.0), 0);
    }

    #[test]
    fn long_gone_workers_are_purged() {
        let mut s = State::new(Options {
            purge_offline_after: Some(60.0),
            ..options()
        });
        s.apply(&heartbeat("old@h", 2.0, Some(0.0)), 0.0);
        s.apply(&heartbeat("new@h", 2.0, Some(0.0)), 50.0);
        s.apply(&ev("worker-offline", "new@h"), 51.0);
        let t = text(&mut s, 59.9);
        assert!(t.contains("old@h") && t.contains("new@h"));
        let t = text(&mut s, 60.0);
        assert!(!t.contains("old@h") && t.contains("new@h"), "{t}");
        let t = text(&mut s, 111.0);
        assert!(!t.contains("new@h"));
        // An offline event alone does not create a worker.
        s.apply(&ev("worker-offline", "ghost@h"), 112.0);
        assert!(!text(&mut s, 112.0).contains("ghost@h"));
        // Never purged without the option.
        let mut s = State::new(Options {
            purge_offline_after: None,
            ..options()
        });
        s.apply(&heartbeat("old@h", 2.0, Some(0.0)), 0.0);
        assert!(text(&mut s, 1e9).contains("old@h"));
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
        assert_eq!(
            value(&t, "celery_exporter_tracked_tasks", &[("state", "SUCCESS")]),
            1.0
        );
        // Every event is still counted, under the name and queue task-sent gave.
        assert_eq!(
            value(
                &t,
                "celery_tasks_total",
                &[("name", "t.x"), ("state", "STARTED"), ("queue", "q")]
            ),
            1.0
        );
        assert_eq!(
            value(&t, "celery_task_queue_wait_seconds_sum", &[("name", "t.x")]),
            0.5
        );
        s.apply(&task("task-retried", "w@h", "u", 12.0), 0.0);
        let t = text(&mut s, 0.0);
        assert_eq!(
            value(&t, "celery_exporter_tracked_tasks", &[("state", "RETRY")]),
            1.0
        );
        assert_eq!(
            value(&t, "celery_exporter_tracked_tasks", &[("state", "SUCCESS")]),
            0.0
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
        s.apply(&task("task-succeeded", "w@h", "v", 1.2), 12.5);
        let t = text(&mut s, 12.5);
        assert_eq!(
            value(
                &t,
                "celery_tasks_total",
                &[
                    ("name", "t.lone"),
                    ("state", "SUCCESS"),
                    ("queue", "unknown")
                ]
            ),
            0.0,
            "still within its own grace"
        );
        let t = text(&mut s, 20.0);
        assert_eq!(
            value(
                &t,
                "celery_tasks_total",
                &[
                    ("name", "t.lone"),
                    ("state", "SUCCESS"),
                    ("queue", "unknown")
                ]
            ),
            1.0
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
        assert_eq!(
            value(
                &t,
                "celery_tasks_total",
                &[
                    ("name", "unknown"),
                    ("state", "SUCCESS"),
                    ("queue", "unknown")
                ]
            ),
            2.0
        );
        assert_eq!(value(&t, "celery_exporter_tasks_evicted_total", &[]), 3.0);
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

    #[test]
    fn label_values_are_bounded() {
        let mut s = State::new(options());
        let long = "n".repeat(1000);
        let e = Event {
            name: Some(long.as_str().into()),
            ..task("task-received", "w@h", "u0", 0.0)
        };
        s.apply(&e, 0.0);
        for i in 0..MAX_TASK_NAMES + 10 {
            let name = format!("t.{i}");
            let uuid = format!("u{}", i + 1);
            let e = Event {
                name: Some(name.as_str().into()),
                ..task("task-received", "w@h", &uuid, 0.0)
            };
            s.apply(&e, 0.0);
        }
        let t = text(&mut s, 10.0);
        assert!(t.contains(&format!("name=\"{}\"", "n".repeat(MAX_LABEL_LEN))));
        assert!(!t.contains(&"n".repeat(MAX_LABEL_LEN + 1)));
        assert_eq!(
            value(
                &t,
                "celery_tasks_total",
                &[("name", "other"), ("state", "RECEIVED")]
            ),
            11.0
        );
        assert_eq!(bounded_label("é".repeat(150).as_str()).len(), 200);
    }

    #[test]
    fn histograms_are_cumulative_with_inf() {
        let mut h = Histogram::new(2);
        let bounds = [1.0, 2.0];
        for v in [0.5, 1.0, 1.5, 3.0, f64::NAN, -1.0] {
            h.observe(&bounds, v);
        }
        let mut f = MetricFamily::histogram("h", "h");
        h.push_to(&mut f, &[], &bounds);
        let values: Vec<f64> = f.samples.iter().map(|s| s.value).collect();
        // -1 clamps to 0; NaN is dropped.
        assert_eq!(values, [3.0, 4.0, 5.0, 6.0, 5.0]);
    }
}
