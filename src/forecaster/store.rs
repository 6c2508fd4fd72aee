//! The last results, kept in memory so `GET /api/simulations/{id}` can return them. Bounded: the
//! oldest result is forgotten when a new one would exceed the capacity.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::routes::SimulationResult;

pub struct Store {
    capacity: usize,
    next_id: AtomicU64,
    results: Mutex<Results>,
}

#[derive(Default)]
struct Results {
    by_id: HashMap<u64, SimulationResult>,
    order: VecDeque<u64>,
}

impl Store {
    pub fn new(capacity: usize) -> Self {
        Store {
            capacity,
            next_id: AtomicU64::new(1),
            results: Mutex::new(Results::default()),
        }
    }

    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn insert(&self, result: SimulationResult) {
        if self.capacity == 0 {
            return;
        }
        // The lock only guards map updates that cannot panic half-way; a poisoned lock still
        // holds consistent data.
        let mut r = self.results.lock().unwrap_or_else(PoisonError::into_inner);
        while r.order.len() >= self.capacity {
            if let Some(old) = r.order.pop_front() {
                r.by_id.remove(&old);
            }
        }
        r.order.push_back(result.id);
        r.by_id.insert(result.id, result);
    }

    pub fn get(&self, id: u64) -> Option<SimulationResult> {
        let r = self.results.lock().unwrap_or_else(PoisonError::into_inner);
        r.by_id.get(&id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::super::simulate::{Percentiles, SimulationType};
    use super::*;

    fn result(id: u64) -> SimulationResult {
        SimulationResult {
            id,
            simulation_type: SimulationType::MonteCarlo,
            backlog: 1,
            trials: 1,
            weeks: Percentiles {
                p50: 1,
                p85: 1,
                p95: 1,
            },
            incomplete_trials: 0,
        }
    }

    #[test]
    fn keeps_only_the_newest_results() {
        let store = Store::new(2);
        for _ in 0..3 {
            let id = store.next_id();
            store.insert(result(id));
        }
        assert!(store.get(1).is_none());
        assert_eq!(store.get(2).map(|r| r.id), Some(2));
        assert_eq!(store.get(3).map(|r| r.id), Some(3));
    }
}
