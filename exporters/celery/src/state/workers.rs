//! Workers: heartbeats, liveness by Celery's rule, worker-offline, purging long-gone ones.

use super::{bounded_label, State, DEFAULT_FREQ, EXPIRE_WINDOW, MAX_WORKERS};
use crate::event::{is_producer_hostname, Event, Undecodable};

#[derive(Debug, Clone)]
pub(super) struct Worker {
    pub(super) freq: f64,
    /// Monotonic receipt time of the last heartbeat (or task event); `None` after worker-offline.
    pub(super) last_heartbeat: Option<f64>,
    /// Monotonic receipt time of the last event of any kind.
    pub(super) last_seen: f64,
    pub(super) active: Option<f64>,
    pub(super) processed: Option<f64>,
}

impl Worker {
    pub(super) fn alive(&self, now: f64, timeout: Option<f64>) -> bool {
        let window = timeout.unwrap_or(self.freq * EXPIRE_WINDOW);
        self.last_heartbeat.is_some_and(|t| now < t + window)
    }
}

impl State {
    /// Notes an event from worker `hostname`; `heartbeat`: it proves the worker alive (every
    /// event but worker-offline). An unknown worker is only created by such an event.
    pub(super) fn worker_seen(
        &mut self,
        hostname: &str,
        now: f64,
        heartbeat: bool,
    ) -> Option<&mut Worker> {
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

    pub(super) fn worker_event(&mut self, subject: &str, e: &Event<'_>, now: f64) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::test_support::*;
    use crate::state::*;

    #[test]
    fn workers_live_for_two_heartbeat_periods() {
        let mut s = State::new(options());
        s.apply(&heartbeat("w@h", 2.0, Some(1.0)), 100.0);
        assert_eq!(s.workers_alive(103.9), 1);
        assert_eq!(s.workers_alive(104.0), 0, "SIGKILLed: no more heartbeats");
        // A forced heartbeat without counters keeps the previous ones.
        s.apply(&heartbeat("w@h", 2.0, None), 105.0);
        let t = text(&mut s, 105.0);
        assert_samples(
            &t,
            &[
                (
                    "celery_worker_tasks_active",
                    &[("hostname", "w@h")],
                    Some(1.0),
                ),
                (
                    "celery_worker_tasks_processed",
                    &[("hostname", "w@h")],
                    Some(10.0),
                ),
                ("celery_workers", &[], Some(1.0)),
            ],
        );
        // Task events count as signs of life.
        s.apply(&task("task-started", "w@h", "u1", 0.0), 108.0);
        assert_eq!(s.workers_alive(111.0), 1);
        // worker-offline: down at once.
        s.apply(&ev("worker-offline", "w@h"), 111.5);
        assert_eq!(s.workers_alive(111.5), 0);
        let t = text(&mut s, 111.5);
        assert_samples(
            &t,
            &[
                ("celery_worker_up", &[("hostname", "w@h")], Some(0.0)),
                (
                    "celery_worker_tasks_active",
                    &[("hostname", "w@h")],
                    Some(0.0),
                ),
            ],
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
}
