//! The bounded uuid -> task map. Later task events carry only the uuid, so the map is what gives
//! them a name and a queue. Memory is bounded by `--max-tasks`: a task costs one 32-byte slot and
//! a 5-byte index entry; when full, the CLOCK hand evicts a finished task or one not touched since
//! the hand last passed (an LRU approximation with no per-access bookkeeping).

use hashbrown::HashTable;

/// A task id in 96 bits: Celery's UUIDs are parsed and put through a bijective 128-bit mix
/// before truncation (so structured ids, UUIDv1 or sequential, collide no more than random
/// ones), any other id string is hashed. Two of 100,000 live tasks colliding: odds below 1e-18.
pub type TaskKey = [u32; 3];

/// The [`TaskKey`] of a task id.
pub fn task_key(id: &str) -> TaskKey {
    let [hi, lo] = parse_uuid(id).unwrap_or_else(|| {
        use std::hash::{Hash, Hasher};
        let mut a = std::collections::hash_map::DefaultHasher::new();
        (0u8, id).hash(&mut a);
        let mut b = std::collections::hash_map::DefaultHasher::new();
        (1u8, id).hash(&mut b);
        [a.finish(), b.finish()]
    });
    let mixed = mix((hi as u128) << 64 | lo as u128) >> 32;
    [mixed as u32, (mixed >> 32) as u32, (mixed >> 64) as u32]
}

/// A permutation of u128 (xorshifts and odd multipliers are invertible).
fn mix(mut x: u128) -> u128 {
    const C1: u128 = 0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835;
    const C2: u128 = 0xD6E8_FEB8_6659_FD93_2545_F491_4F6C_DD1D;
    x ^= x >> 67;
    x = x.wrapping_mul(C1);
    x ^= x >> 59;
    x = x.wrapping_mul(C2);
    x ^ (x >> 64)
}

fn parse_uuid(s: &str) -> Option<[u64; 2]> {
    let b = s.as_bytes();
    let mut hex = [0u8; 32];
    let mut n = 0;
    match b.len() {
        36 => {
            for (i, &c) in b.iter().enumerate() {
                if matches!(i, 8 | 13 | 18 | 23) {
                    if c != b'-' {
                        return None;
                    }
                } else {
                    hex[n] = c;
                    n += 1;
                }
            }
        }
        32 => hex.copy_from_slice(b),
        _ => return None,
    }
    let mut words = [0u64; 2];
    for (i, &c) in hex.iter().enumerate() {
        let v = (c as char).to_digit(16)? as u64;
        words[i / 16] = words[i / 16] << 4 | v;
    }
    Some(words)
}

/// Folded multiplies (as in wyhash): every input bit reaches the low bits hashbrown indexes by,
/// so time-ordered or sequential ids (UUIDv1/v7, custom ids) spread as well as random UUIDv4.
fn hash_key(k: &TaskKey) -> u64 {
    fn fold(a: u64, b: u64) -> u64 {
        let m = (a as u128).wrapping_mul(b as u128);
        (m as u64) ^ ((m >> 64) as u64)
    }
    let a = (k[0] as u64 | (k[1] as u64) << 32) ^ 0x243F_6A88_85A3_08D3;
    fold(
        fold(a, k[2] as u64 ^ 0x1319_8A2E_0370_7344),
        0x9E37_79B9_7F4A_7C15,
    )
}

/// Celery's task states, in the order of the `state` label values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum TaskState {
    /// task-sent (Celery's PENDING).
    Pending = 0,
    /// task-received: a worker has the message.
    Received,
    /// task-started: a worker runs it.
    Started,
    /// task-succeeded.
    Success,
    /// task-failed.
    Failure,
    /// task-retried: it will run again.
    Retry,
    /// task-revoked.
    Revoked,
    /// task-rejected: a worker refused the message.
    Rejected,
}

impl TaskState {
    /// Every state, in label order.
    pub const ALL: [TaskState; 8] = [
        TaskState::Pending,
        TaskState::Received,
        TaskState::Started,
        TaskState::Success,
        TaskState::Failure,
        TaskState::Retry,
        TaskState::Revoked,
        TaskState::Rejected,
    ];

    /// The `state` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "PENDING",
            TaskState::Received => "RECEIVED",
            TaskState::Started => "STARTED",
            TaskState::Success => "SUCCESS",
            TaskState::Failure => "FAILURE",
            TaskState::Retry => "RETRY",
            TaskState::Revoked => "REVOKED",
            TaskState::Rejected => "REJECTED",
        }
    }

    /// The state a `task-<subject>` event moves a task to (`task-sent` means PENDING).
    pub fn from_subject(subject: &str) -> Option<TaskState> {
        Some(match subject {
            "sent" => TaskState::Pending,
            "received" => TaskState::Received,
            "started" => TaskState::Started,
            "succeeded" => TaskState::Success,
            "failed" => TaskState::Failure,
            "retried" => TaskState::Retry,
            "revoked" => TaskState::Revoked,
            "rejected" => TaskState::Rejected,
            _ => return None,
        })
    }

    /// Position in [`TaskState::ALL`], for counter arrays and bit sets.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Celery's `states.PRECEDENCE` index: lower wins.
    fn precedence(self) -> u8 {
        match self {
            TaskState::Success => 0,
            TaskState::Failure => 1,
            TaskState::Revoked => 2,
            TaskState::Started => 3,
            TaskState::Received => 4,
            TaskState::Rejected => 5,
            TaskState::Retry => 6,
            TaskState::Pending => 7,
        }
    }

    /// The state after `new` arrives in `self` (celery.events.state.Task.event): a late event of
    /// lower precedence does not undo a higher one, except that RETRY always overwrites and is
    /// always overwritten.
    pub fn merge(self, new: TaskState) -> TaskState {
        if new != TaskState::Retry
            && self != TaskState::Retry
            && new.precedence() > self.precedence()
        {
            self
        } else {
            new
        }
    }

    /// SUCCESS, FAILURE or REVOKED: a finished task, the first to evict.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskState::Success | TaskState::Failure | TaskState::Revoked
        )
    }
}

const REFERENCED: u8 = 1;
const ETA: u8 = 2;
const STARTED_SEEN: u8 = 4;
const SENT_SEEN: u8 = 8;
/// `base` holds the current attempt's task-sent timestamp.
const SENT_TS: u8 = 16;
/// A task-received timestamp is known: `base` (no SENT_TS) or `base + received_delta`.
const RECEIVED_TS: u8 = 32;
/// A task-started came before this attempt's task-sent (the client's event can reach the broker
/// after the worker's): its timestamp is `base + received_delta` until task-sent takes it.
const STARTED_TS: u8 = 64;

/// What the exporter remembers of one task: 32 bytes.
#[derive(Debug, Clone, Copy)]
pub struct Task {
    /// Sender timestamp of task-sent (SENT_TS), else of task-received (RECEIVED_TS).
    base: f64,
    key: TaskKey,
    /// task-received minus task-sent, when both are known; task-started minus `base` while
    /// STARTED_TS is set (then there is no SENT_TS).
    received_delta: f32,
    /// Interned task name.
    pub name: u16,
    /// Interned queue name.
    pub queue: u16,
    state: TaskState,
    flags: u8,
    /// States counted while the queue was not known yet (bit = [`TaskState::index`]): a worker's
    /// task-received can beat the client's task-sent, which alone carries the queue.
    pub pending: u8,
}

impl Task {
    /// The current state, by Celery's precedence.
    pub fn state(&self) -> TaskState {
        self.state
    }

    /// The task waits for an ETA or countdown.
    pub fn eta(&self) -> bool {
        self.flags & ETA != 0
    }

    /// Notes whether the task waits for an ETA or countdown.
    pub fn set_eta(&mut self, eta: bool) {
        if eta {
            self.flags |= ETA
        } else {
            self.flags &= !ETA
        }
    }

    /// A task-started was seen.
    pub fn started_seen(&self) -> bool {
        self.flags & STARTED_SEEN != 0
    }

    /// Notes a task-started.
    pub fn mark_started(&mut self) {
        self.flags |= STARTED_SEEN
    }

    /// A task-sent was seen: the queue it gave (or did not give) is final.
    pub fn sent_seen(&self) -> bool {
        self.flags & SENT_SEEN != 0
    }

    /// Notes a task-sent.
    pub fn mark_sent(&mut self) {
        self.flags |= SENT_SEEN
    }

    /// The task's id key.
    pub fn key(&self) -> &TaskKey {
        &self.key
    }

    /// The sender timestamp of this attempt's task-sent, until task-started consumes it.
    pub fn sent(&self) -> Option<f64> {
        (self.flags & SENT_TS != 0).then_some(self.base)
    }

    /// The sender timestamp of the last task-received.
    pub fn received(&self) -> Option<f64> {
        (self.flags & RECEIVED_TS != 0).then(|| {
            if self.flags & SENT_TS != 0 {
                self.base + f64::from(self.received_delta)
            } else {
                self.base
            }
        })
    }

    /// Keeps the sender timestamp of a task-sent.
    pub fn set_sent(&mut self, ts: f64) {
        if !ts.is_finite() {
            return;
        }
        let received = self.received();
        self.base = ts;
        self.flags |= SENT_TS;
        if let Some(r) = received {
            self.received_delta = (r - ts) as f32;
        }
    }

    /// Keeps a task-started that came before this attempt's task-sent, so that the queue wait
    /// can still be measured when the task-sent arrives.
    pub fn set_started_before_sent(&mut self, ts: f64) {
        if !ts.is_finite() || self.flags & SENT_TS != 0 {
            return;
        }
        if self.flags & RECEIVED_TS != 0 {
            self.received_delta = (ts - self.base) as f32;
        } else {
            self.base = ts;
            self.received_delta = 0.0;
        }
        self.flags |= STARTED_TS;
    }

    /// The task-started kept by [`set_started_before_sent`](Self::set_started_before_sent),
    /// once: the late task-sent takes it.
    pub fn take_started_before_sent(&mut self) -> Option<f64> {
        if self.flags & STARTED_TS == 0 {
            return None;
        }
        self.flags &= !STARTED_TS;
        Some(self.base + f64::from(self.received_delta))
    }

    /// Keeps the sender timestamp of a task-received.
    pub fn set_received(&mut self, ts: f64) {
        if !ts.is_finite() {
            return;
        }
        if self.flags & SENT_TS != 0 {
            self.received_delta = (ts - self.base) as f32;
        } else {
            self.base = ts;
        }
        self.flags |= RECEIVED_TS;
    }

    /// task-started used the sent timestamp: the next attempt (a retry) brings its own.
    pub fn clear_sent(&mut self) {
        if let Some(r) = self.received() {
            self.base = r;
        }
        self.flags &= !SENT_TS;
    }
}

/// The bounded uuid -> [`Task`] map: slots in a vector, u32 indices in a raw table, a CLOCK
/// hand for eviction.
pub struct TaskMap {
    slots: Vec<Task>,
    index: HashTable<u32>,
    max: usize,
    hand: usize,
    per_state: [u64; 8],
    evicted: u64,
}

impl TaskMap {
    /// `max` is at least 1.
    pub fn new(max: usize) -> TaskMap {
        TaskMap {
            slots: Vec::new(),
            index: HashTable::new(),
            max: max.clamp(1, u32::MAX as usize),
            hand: 0,
            per_state: [0; 8],
            evicted: 0,
        }
    }

    /// Tasks tracked.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// No task tracked.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Tasks tracked per state (indexed by [`TaskState::index`]).
    pub fn per_state(&self) -> [u64; 8] {
        self.per_state
    }

    /// Tasks evicted to stay within the bound, since start.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// The slot of `key`, marking it recently used.
    pub fn lookup(&mut self, key: &TaskKey) -> Option<usize> {
        let slots = &self.slots;
        let i = *self
            .index
            .find(hash_key(key), |&i| slots[i as usize].key == *key)? as usize;
        self.slots[i].flags |= REFERENCED;
        Some(i)
    }

    /// Inserts a task that is not in the map (check with [`lookup`](Self::lookup) first),
    /// evicting one when full. Returns its slot and the task evicted from it, if any.
    pub fn insert(
        &mut self,
        key: TaskKey,
        name: u16,
        queue: u16,
        state: TaskState,
    ) -> (usize, Option<Task>) {
        let task = Task {
            base: 0.0,
            key,
            received_delta: 0.0,
            name,
            queue,
            state,
            flags: REFERENCED,
            pending: 0,
        };
        let mut evicted = None;
        let i = if self.slots.len() < self.max {
            if self.slots.len() == self.slots.capacity() {
                // Grow towards the bound, never past it.
                let more = self
                    .slots
                    .capacity()
                    .max(1024)
                    .min(self.max - self.slots.len());
                self.slots.reserve_exact(more);
            }
            self.slots.push(task);
            self.slots.len() - 1
        } else {
            let i = self.victim();
            let old = self.slots[i];
            if let Ok(entry) = self
                .index
                .find_entry(hash_key(&old.key), |&j| j as usize == i)
            {
                entry.remove();
            }
            self.per_state[old.state.index()] -= 1;
            self.evicted += 1;
            self.slots[i] = task;
            evicted = Some(old);
            i
        };
        self.per_state[state.index()] += 1;
        let slots = &self.slots;
        self.index.insert_unique(hash_key(&key), i as u32, |&j| {
            hash_key(&slots[j as usize].key)
        });
        (i, evicted)
    }

    /// CLOCK: the first finished or not recently used task from the hand on.
    fn victim(&mut self) -> usize {
        loop {
            let i = self.hand;
            self.hand = (self.hand + 1) % self.slots.len();
            let t = &mut self.slots[i];
            if t.flags & REFERENCED == 0 || t.state.is_final() {
                return i;
            }
            t.flags &= !REFERENCED;
        }
    }

    /// The task in `slot`.
    pub fn get(&self, slot: usize) -> &Task {
        &self.slots[slot]
    }

    /// The task in `slot`, to change.
    pub fn get_mut(&mut self, slot: usize) -> &mut Task {
        &mut self.slots[slot]
    }

    /// Applies a state event with Celery's precedence; returns the task's state after it.
    pub fn apply_state(&mut self, slot: usize, new: TaskState) -> TaskState {
        let t = &mut self.slots[slot];
        let merged = t.state.merge(new);
        if merged != t.state {
            self.per_state[t.state.index()] -= 1;
            self.per_state[merged.index()] += 1;
            t.state = merged;
        }
        merged
    }

    /// Bytes held, for the memory test.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Task>()
            + self.index.capacity() * (std::mem::size_of::<u32>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exporter_core::testkit::assert_maps;
    use TaskState::*;

    #[test]
    fn uuids_parse_and_other_ids_hash() {
        let k = task_key("f8d5a6e0-f2f8-45b8-9643-f1a52656b840");
        assert_ne!(k, task_key("f8d5a6e0-f2f8-45b8-9643-f1a52656b841"));
        assert_eq!(task_key("f8d5a6e0f2f845b89643f1a52656b840"), k);
        // UUIDv1: only the time fields differ between two ids of one host.
        assert_ne!(
            task_key("a0b1c2d3-0000-1000-8000-001122334455"),
            task_key("a0b1c2d4-0000-1000-8000-001122334455")
        );
        assert_ne!(task_key("my-custom-id-1"), task_key("my-custom-id-2"));
        assert_eq!(task_key("my-custom-id-1"), task_key("my-custom-id-1"));
        assert_ne!(task_key("g8d5a6e0-f2f8-45b8-9643-f1a52656b840"), k);
        assert_ne!(task_key("f8d5a6e0+f2f8-45b8-9643-f1a52656b840"), k);
    }

    #[test]
    fn precedence_follows_celery() {
        // (current, then, merged)
        let merges = [
            // A late lower-precedence event does not undo a higher one.
            ((Success, Started), Success),
            ((Started, Received), Started),
            ((Received, Pending), Received),
            ((Failure, Revoked), Failure),
            ((Revoked, Started), Revoked),
            // Higher precedence wins.
            ((Pending, Received), Received),
            ((Started, Success), Success),
            ((Success, Failure), Success),
            ((Failure, Success), Success),
            // RETRY always overwrites, and is always overwritten.
            ((Success, Retry), Retry),
            ((Started, Retry), Retry),
            ((Retry, Pending), Pending),
            ((Retry, Received), Received),
            ((Rejected, Received), Received),
        ];
        assert_maps(
            |(current, then): (TaskState, TaskState)| current.merge(then),
            &merges,
        );
    }

    fn key(n: u64) -> TaskKey {
        [n as u32, (n >> 32) as u32, n.wrapping_mul(31) as u32]
    }

    #[test]
    fn bounded_and_evicts_finished_or_cold_tasks_first() {
        let mut m = TaskMap::new(4);
        for n in 0..4 {
            m.insert(key(n), 0, 0, Started);
        }
        // Task 2 finishes: it is the first candidate even though it was touched last.
        let s2 = m.lookup(&key(2)).unwrap();
        m.apply_state(s2, Success);
        m.insert(key(10), 0, 0, Pending);
        assert_eq!(m.len(), 4);
        assert!(m.lookup(&key(2)).is_none());
        for n in [0, 1, 3, 10] {
            assert!(m.lookup(&key(n)).is_some(), "{n}");
        }
        assert_eq!(m.evicted(), 1);
        // Everyone is referenced now: the hand clears bits and takes the first cold one.
        m.insert(key(11), 0, 0, Pending);
        assert_eq!(m.len(), 4);
        assert_eq!(m.per_state().iter().sum::<u64>(), 4);
        assert_eq!(m.evicted(), 2);
        // Touched tasks survive the next round.
        m.lookup(&key(11));
        m.insert(key(12), 0, 0, Pending);
        assert!(m.lookup(&key(11)).is_some());
    }

    #[test]
    fn timestamps_survive_any_order() {
        let mut m = TaskMap::new(4);
        let (i, _) = m.insert(key(1), 0, 0, Received);
        let t = m.get_mut(i);
        assert_eq!((t.sent(), t.received()), (None, None));
        t.set_received(1000.25);
        assert_eq!((t.sent(), t.received()), (None, Some(1000.25)));
        t.set_sent(1000.0); // the race: task-sent after task-received
        assert_eq!((t.sent(), t.received()), (Some(1000.0), Some(1000.25)));
        t.clear_sent();
        assert_eq!((t.sent(), t.received()), (None, Some(1000.25)));
        t.set_sent(2000.0); // a retry
        t.set_received(2000.5);
        assert_eq!((t.sent(), t.received()), (Some(2000.0), Some(2000.5)));
        t.set_sent(f64::NAN);
        assert_eq!(t.sent(), Some(2000.0));
    }

    #[test]
    fn per_state_counts_follow_transitions_and_evictions() {
        let mut m = TaskMap::new(2);
        let (a, _) = m.insert(key(1), 0, 0, Pending);
        m.apply_state(a, Received);
        m.apply_state(a, Pending); // late: ignored
        let (b, _) = m.insert(key(2), 0, 0, Started);
        assert_eq!(m.per_state()[Received.index()], 1);
        assert_eq!(m.per_state()[Started.index()], 1);
        m.apply_state(b, Failure);
        let (_, gone) = m.insert(key(3), 0, 0, Pending); // evicts the failed one
        assert_eq!(gone.map(|t| t.state()), Some(Failure));
        assert_eq!(m.per_state(), [1, 1, 0, 0, 0, 0, 0, 0]);
        assert!(m.lookup(&key(2)).is_none());
    }

    #[test]
    fn hundred_thousand_tasks_fit_in_a_few_megabytes() {
        let mut m = TaskMap::new(100_000);
        for n in 0..250_000u64 {
            let k = task_key(&format!("{:08x}-0000-4000-8000-{:012x}", n, n * 7919));
            if m.lookup(&k).is_none() {
                m.insert(k, 1, 1, Received);
            }
        }
        assert_eq!(m.len(), 100_000);
        assert_eq!(m.evicted(), 150_000);
        assert!(m.heap_bytes() < 6 * 1024 * 1024, "{}", m.heap_bytes());
        assert_eq!(std::mem::size_of::<Task>(), 32);
    }
}
