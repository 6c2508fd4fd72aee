//! The `celery_*` families at scrape time, and the exporter's own.

use exporter_core::MetricFamily;

use super::State;
use crate::event::Undecodable;
use crate::tasks::TaskState;

impl State {
    /// The task and worker families, and the exporter's own.
    pub fn families(&mut self, now: f64) -> Vec<MetricFamily> {
        self.purge(now);
        self.settle_deferred(now);
        let mut out = Vec::with_capacity(20);

        out.push(
            MetricFamily::gauge(
                "celery_up",
                "Whether the exporter's event consumer is connected and subscribed to the broker.",
            )
            .with(&[], if self.connected { 1.0 } else { 0.0 }),
        );

        if self.opts.ours {
            self.our_families(now, &mut out);
        }
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
        if let Some(c) = &self.community {
            out.extend(c.families());
            out.extend(self.community_workers(now));
        }
        out
    }

    /// `celery_tasks_total`, the histograms and the worker families.
    fn our_families(&self, now: f64, out: &mut Vec<MetricFamily>) {
        let timeout = self.opts.worker_timeout;
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::test_support::*;

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
        assert_samples(
            &t,
            &[
                ("celery_workers", &[], Some(0.0)),
                ("celery_worker_up", &[("hostname", "w1@vm")], Some(0.0)),
                (
                    "celery_worker_tasks_processed",
                    &[("hostname", "w1@vm")],
                    Some(8.0),
                ),
            ],
        );
        // Producers never become label values.
        assert!(!t.contains("gen24975"), "{t}");
        assert_samples(
            &t,
            &[
                (
                    "flower_events_total",
                    &[
                        ("worker", "producer"),
                        ("type", "task-sent"),
                        ("task", "tests.add"),
                    ],
                    Some(3.0),
                ),
                (
                    "flower_events_total",
                    &[
                        ("worker", "w1@vm"),
                        ("type", "task-failed"),
                        ("task", "tests.fail"),
                    ],
                    Some(2.0),
                ),
                (
                    "flower_task_runtime_seconds_count",
                    &[("worker", "w1@vm"), ("task", "tests.add")],
                    Some(3.0),
                ),
                (
                    "flower_worker_prefetched_tasks",
                    &[("worker", "w1@vm"), ("task", "tests.add")],
                    Some(0.0),
                ),
                (
                    "flower_task_prefetch_time_seconds",
                    &[("worker", "w1@vm"), ("task", "tests.add")],
                    Some(0.0),
                ),
                ("flower_worker_online", &[("worker", "w1@vm")], Some(0.0)),
                ("celery_exporter_events_received_total", &[], Some(37.0)),
                (
                    "celery_exporter_tracked_tasks",
                    &[("state", "SUCCESS")],
                    Some(5.0),
                ),
                (
                    "celery_exporter_tracked_tasks",
                    &[("state", "FAILURE")],
                    Some(2.0),
                ),
            ],
        );
    }
}
