//! The per-request hot path's lookup structure: route template -> method -> status -> series.
//!
//! `prometheus`'s `with_label_values` hashes every label and takes a lock on each call. Here the
//! labelled children are resolved once per (method, route, status): routes live in a
//! copy-on-write map behind `ArcSwap` (each service reads it through its own `arc_swap::Cache`,
//! a pointer comparison per request), statuses in a small table of atomically claimed slots. A
//! request takes no lock and allocates nothing; only the first request of a new combination
//! builds its series.
//!
//! Route entries are never freed. There are at most routes + 1 of them per [`crate::HttpMetrics`]
//! (the application's templates and the unmatched value), and their series stay in the registry
//! for as long as it lives anyway. Holding them as `&'static` spares every request the two atomic
//! reference-count updates an `Arc` would cost.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use arc_swap::ArcSwap;
use http::Method;
use prometheus::{Histogram, IntCounter, IntGauge};
use rustc_hash::FxHashMap;

use crate::metrics::{Families, Inner};

/// Methods get a fixed slot; anything non-standard folds into `OTHER`, so a client cannot create
/// series by inventing methods.
pub(crate) const METHOD_LABELS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "OTHER",
];

pub(crate) fn method_slot(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::POST => 2,
        Method::PUT => 3,
        Method::DELETE => 4,
        Method::CONNECT => 5,
        Method::OPTIONS => 6,
        Method::TRACE => 7,
        Method::PATCH => 8,
        _ => 9,
    }
}

/// The request counter and duration histogram of one (method, path, status).
pub(crate) struct Series {
    pub requests: IntCounter,
    pub duration: Histogram,
}

/// A route answers with few distinct status codes: this many slots per method, with a shared
/// fallback beyond (still correct, just slower).
const STATUS_SLOTS: usize = 16;

#[derive(Default)]
struct StatusSlot {
    /// 0 while free; claimed once with a compare-exchange, never released.
    status: AtomicU16,
    series: OnceLock<Series>,
}

#[derive(Default)]
struct MethodSeries {
    in_progress: OnceLock<IntGauge>,
    statuses: [StatusSlot; STATUS_SLOTS],
}

/// Which series a request with a known status records into. Small, because it travels with the
/// response body.
#[derive(Clone, Copy)]
pub(crate) enum SeriesRef {
    Slot(u8),
    /// The status table of this route and method is full: the series is looked up by label
    /// values (correct, just slower).
    Overflow(u16),
}

pub(crate) struct RouteEntry {
    path: Box<str>,
    pub excluded: bool,
    /// The labelled families (cheap handles), so a request needs no other shared state.
    pub families: Families,
    methods: [MethodSeries; METHOD_LABELS.len()],
}

impl RouteEntry {
    #[inline]
    pub fn in_progress(&self, method: usize) -> &IntGauge {
        self.methods[method].in_progress.get_or_init(|| {
            self.families
                .in_progress
                .with_label_values(&[METHOD_LABELS[method], &self.path])
        })
    }

    /// Finds (or claims) the slot of `status`, building its series on first use.
    #[inline]
    pub fn series(&self, method: usize, status: u16) -> SeriesRef {
        let slots = &self.methods[method].statuses;
        let start = usize::from(status) % STATUS_SLOTS;
        for probe in 0..STATUS_SLOTS {
            let index = (start + probe) % STATUS_SLOTS;
            let slot = &slots[index];
            let claimed = match slot.status.load(Ordering::Acquire) {
                s if s == status => true,
                0 => match slot.status.compare_exchange(
                    0,
                    status,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => true,
                    Err(other) => other == status,
                },
                _ => false,
            };
            if claimed {
                slot.series.get_or_init(|| self.new_series(method, status));
                return SeriesRef::Slot(index as u8);
            }
        }
        SeriesRef::Overflow(status)
    }

    /// Counts one request of `duration_seconds` into the series `series` points at.
    #[inline]
    pub fn record(&self, method: usize, series: SeriesRef, duration_seconds: f64) {
        let observe = |s: &Series| {
            s.requests.inc();
            s.duration.observe(duration_seconds);
        };
        match series {
            SeriesRef::Slot(index) => {
                if let Some(s) = self.methods[method].statuses[usize::from(index)]
                    .series
                    .get()
                {
                    observe(s)
                }
            }
            SeriesRef::Overflow(status) => observe(&self.new_series(method, status)),
        }
    }

    fn new_series(&self, method: usize, status: u16) -> Series {
        let status_label = status.to_string();
        let method_label = METHOD_LABELS[method];
        Series {
            requests: self.families.requests.with_label_values(&[
                method_label,
                &status_label,
                &self.path,
            ]),
            duration: self.families.duration.with_label_values(&[
                method_label,
                &self.path,
                &status_label,
            ]),
        }
    }
}

/// Route templates are few and chosen by the application, not by clients, so a fast
/// non-DoS-resistant hash is the right trade.
pub(crate) type RouteMap = FxHashMap<Box<str>, &'static RouteEntry>;

/// A service's lock-free, debt-free view of the route map: re-reads it only when it changed.
pub(crate) type RouteCache = arc_swap::Cache<Arc<ArcSwap<RouteMap>>, Arc<RouteMap>>;

pub(crate) struct RouteTable {
    routes: Arc<ArcSwap<RouteMap>>,
    /// Serialises the creation of entries, so that a route raced by two requests is built once.
    creating: Mutex<()>,
}

impl RouteTable {
    pub fn new() -> Self {
        RouteTable {
            routes: Arc::new(ArcSwap::from_pointee(FxHashMap::default())),
            creating: Mutex::new(()),
        }
    }

    pub fn cache(&self) -> RouteCache {
        arc_swap::Cache::new(Arc::clone(&self.routes))
    }

    pub fn len(&self) -> usize {
        self.routes.load().len()
    }

    /// The entry for a route template, created on first use.
    pub fn get(&self, inner: &Inner, path: &str) -> &'static RouteEntry {
        if let Some(entry) = self.routes.load().get(path) {
            return entry;
        }
        // A panic cannot leave the map half-updated, so a poisoned lock is still good to use.
        let _creating = self.creating.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.routes.load_full();
        if let Some(entry) = current.get(path) {
            return entry;
        }
        let entry: &'static RouteEntry = Box::leak(Box::new(RouteEntry {
            path: path.into(),
            excluded: inner.excluded(path),
            families: inner.families.clone(),
            methods: Default::default(),
        }));
        let mut next = RouteMap::clone(&current);
        next.insert(path.into(), entry);
        self.routes.store(Arc::new(next));
        entry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_claim_slots_then_overflow_and_always_resolve() {
        let m = crate::HttpMetrics::builder()
            .registry(prometheus::Registry::new())
            .build()
            .unwrap();
        let entry = m.inner.routes.get(&m.inner, "/x");
        let statuses: Vec<u16> = (200..200 + STATUS_SLOTS as u16 + 4).collect();
        let refs: Vec<SeriesRef> = statuses.iter().map(|s| entry.series(0, *s)).collect();
        let slots = refs
            .iter()
            .filter(|r| matches!(r, SeriesRef::Slot(_)))
            .count();
        assert_eq!(slots, STATUS_SLOTS);
        for (status, r) in statuses.iter().zip(&refs) {
            entry.record(0, *r, 0.001);
            // The same status finds the same series again.
            if let (SeriesRef::Slot(a), SeriesRef::Slot(b)) = (r, &entry.series(0, *status)) {
                assert_eq!(a, b);
            }
        }
        let families = m.registry().gather();
        let total = families
            .iter()
            .find(|f| f.name() == "flask_http_request_total")
            .unwrap();
        assert_eq!(total.get_metric().len(), statuses.len());
        // Slots and overflow alike counted their one request.
        assert!(total
            .get_metric()
            .iter()
            .all(|m| m.get_counter().get_value() == 1.0));
    }

    #[test]
    fn unknown_methods_fold_into_other() {
        assert_eq!(METHOD_LABELS[method_slot(&Method::GET)], "GET");
        assert_eq!(METHOD_LABELS[method_slot(&Method::PATCH)], "PATCH");
        let weird = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(METHOD_LABELS[method_slot(&weird)], "OTHER");
    }
}
