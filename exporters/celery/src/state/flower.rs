//! Flower's `flower_*` families (`--flower-metrics`): per-worker event counts, runtimes,
//! prefetch gauges, online status.

use std::collections::HashMap;

use exporter_core::MetricFamily;

use super::{bounded_label, Histogram, State, MAX_WORKERS, UNKNOWN};
use crate::event::{is_producer_hostname, Event};

/// Flower's per-worker series (`--flower-metrics`).
#[derive(Default)]
pub(super) struct FlowerWorker {
    /// (event type id, task name id) -> count.
    events: HashMap<(u16, u16), u64>,
    runtime: HashMap<u16, Histogram>,
    prefetch_time: HashMap<u16, f64>,
    prefetched: HashMap<u16, f64>,
}

/// The label Flower uses for the sender of an event; producers fold into one value.
const PRODUCER: &str = "producer";

impl State {
    /// Flower's `EventsState.event` for task events, label for label.
    pub(super) fn flower_task_event(
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

    pub(super) fn flower_families(&self, now: f64) -> Vec<MetricFamily> {
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
        // Flower 1.x's names of the prefetch time, which Flower's own example dashboard and
        // alerts (examples/ in its repository) still query.
        let mut queuing = MetricFamily::gauge(
            "flower_task_queuing_time_seconds",
            "The time the task spent waiting at the celery worker to be executed (Flower 1.x's name of flower_task_prefetch_time_seconds).",
        );
        queuing.samples = prefetch_time.samples.clone();
        let mut queuing_at_worker = MetricFamily::gauge(
            "flower_task_queuing_time_at_worker_seconds",
            "The time the task spent waiting at the celery worker to be executed (an earlier name of flower_task_prefetch_time_seconds).",
        );
        queuing_at_worker.samples = prefetch_time.samples.clone();
        vec![
            events,
            runtime,
            prefetch_time,
            prefetched,
            online,
            executing,
            queuing,
            queuing_at_worker,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::test_support::*;
    use crate::state::*;

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
}
