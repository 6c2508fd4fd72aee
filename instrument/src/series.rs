//! The per-request hot path's lookup structure: route template -> method -> status -> series.
//!
//! `prometheus`'s `with_label_values` hashes every label and takes a lock on each call. Here the
//! labelled children are resolved once per (method, route, status): routes are found through a
//! small table indexed by the template's address (see [`RouteTable::entry`]), backed by a
//! copy-on-write map behind `ArcSwap`; statuses live in a small table of atomically claimed
//! slots. A request takes no lock and allocates nothing; only the first request of a new
//! combination builds its series.
//!
//! Route entries are never freed. There are at most routes + 1 of them per [`crate::HttpMetrics`]
//! (the application's templates and the unmatched value), and their series stay in the registry
//! for as long as it lives anyway. Holding them as `&'static` spares every request the two atomic
//! reference-count updates an `Arc` would cost.
#![allow(
    unsafe_code,
    reason = "route entries are found by address through raw pointers to leaked entries: the hot path takes no lock and no reference count"
)]

use std::sync::atomic::{AtomicPtr, AtomicU16, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use arc_swap::ArcSwap;
use http::Method;
use prometheus::{Histogram, IntGauge};
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

/// A route answers with few distinct status codes: this many slots per method, with a shared
/// fallback beyond (still correct, just slower).
const STATUS_SLOTS: usize = 16;

#[derive(Default)]
struct StatusSlot {
    /// 0 while free; claimed once with a compare-exchange, never released.
    status: AtomicU16,
    /// The duration histogram of (method, path, status); the request counter is derived from it.
    duration: OnceLock<Histogram>,
}

#[derive(Default)]
struct MethodSeries {
    in_progress: OnceLock<IntGauge>,
    statuses: [StatusSlot; STATUS_SLOTS],
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
    pub(crate) fn in_progress(&self, method: usize) -> &IntGauge {
        self.methods[method].in_progress.get_or_init(|| {
            self.families
                .in_progress
                .with_label_values(&[METHOD_LABELS[method], &self.path])
        })
    }

    /// Counts one request of `duration_seconds` under `status`. The series comes from the
    /// status's slot, claimed and built on the status's first request; a route and method with
    /// more distinct statuses than slots look the rest up by label values (correct, just slower).
    #[inline]
    pub(crate) fn record(&self, method: usize, status: u16, duration_seconds: f64) {
        match self.slot(method, status) {
            Some(slot) => slot
                .get_or_init(|| self.new_series(method, status))
                .observe(duration_seconds),
            None => self.new_series(method, status).observe(duration_seconds),
        }
    }

    /// The slot of `status`: found by linear probing from `status % STATUS_SLOTS`, claimed with
    /// a compare-exchange if free. `None` once every slot belongs to another status.
    #[inline]
    fn slot(&self, method: usize, status: u16) -> Option<&OnceLock<Histogram>> {
        let slots = &self.methods[method].statuses;
        let start = usize::from(status) % STATUS_SLOTS;
        (0..STATUS_SLOTS)
            .map(|probe| &slots[(start + probe) % STATUS_SLOTS])
            .find(|slot| match slot.status.load(Ordering::Acquire) {
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
            })
            .map(|slot| &slot.duration)
    }

    fn new_series(&self, method: usize, status: u16) -> Histogram {
        self.families.duration.with_label_values(&[
            METHOD_LABELS[method],
            &self.path,
            &status.to_string(),
        ])
    }
}

/// Route templates are few and chosen by the application, not by clients, so a fast
/// non-DoS-resistant hash is the right trade.
type RouteMap = FxHashMap<Box<str>, &'static RouteEntry>;

/// The address-indexed table in front of the route map has 2^MEMO_BITS slots (8 KB of pointers):
/// with as many live routes as slots, most routes still have a slot to themselves.
const MEMO_BITS: u32 = 10;
const MEMO_SLOTS: usize = 1 << MEMO_BITS;
/// A miss on a slot held by another route takes the slot over once in this many misses (per
/// thread): often enough that a slot left to a template string that no longer exists is soon
/// reused, rarely enough that two routes sharing a slot do not rewrite it on every request, a
/// store to a cache line every thread reads.
const MEMO_TAKEOVER_EVERY: u32 = 16;

thread_local! {
    /// Misses on occupied memo slots by this thread (see [`MEMO_TAKEOVER_EVERY`]).
    static MEMO_MISSES: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

pub(crate) struct RouteTable {
    /// Entries by the address of the template string they were last found with: see
    /// [`RouteTable::entry`]. Null while empty; otherwise a leaked, never-freed entry.
    memo: [AtomicPtr<RouteEntry>; MEMO_SLOTS],
    routes: ArcSwap<RouteMap>,
    /// Serialises the creation of entries, so that a route raced by two requests is built once.
    creating: Mutex<()>,
}

impl RouteTable {
    pub(crate) fn new() -> Self {
        RouteTable {
            memo: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())),
            routes: ArcSwap::from_pointee(FxHashMap::default()),
            creating: Mutex::new(()),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.routes.load().len()
    }

    /// The entry for a route template, created on first use.
    ///
    /// Routers hand out the same template string for every request of a route (`StaticRoutes`
    /// its own `String`, axum the `Arc<str>` inside `MatchedPath`), so the string's address
    /// finds the entry without hashing the text: one load and one comparison of the text. The
    /// text is compared because the address proves nothing by itself: a classifier may return a
    /// string that lives only as long as its request, and a later request's string can reuse the
    /// address. Such a classifier, or two templates whose addresses share a slot, still get the
    /// right entry, from the map.
    #[inline]
    pub(crate) fn entry(&self, inner: &Inner, route: &str) -> &'static RouteEntry {
        // Fibonacci hashing: the multiplication carries every bit of the address into the top
        // bits, which pick the slot (the low bits alone are mostly alignment zeros).
        let address = route.as_ptr() as u64;
        let slot =
            &self.memo[(address.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - MEMO_BITS)) as usize];
        // SAFETY: a memo slot is null or points at an entry leaked by `get`, never freed.
        match unsafe { slot.load(Ordering::Acquire).as_ref() } {
            Some(entry) if *entry.path == *route => entry,
            _ => self.remember(inner, route, slot),
        }
    }

    #[cold]
    #[inline(never)]
    fn remember(
        &self,
        inner: &Inner,
        route: &str,
        slot: &AtomicPtr<RouteEntry>,
    ) -> &'static RouteEntry {
        let entry = self.get(inner, route);
        let new = std::ptr::from_ref(entry).cast_mut();
        if slot.load(Ordering::Relaxed).is_null() {
            // Two threads filling one empty slot: either entry is right for its own text.
            slot.store(new, Ordering::Release);
        } else {
            let misses = MEMO_MISSES.with(|m| {
                let n = m.get().wrapping_add(1);
                m.set(n);
                n
            });
            if misses.is_multiple_of(MEMO_TAKEOVER_EVERY) {
                slot.store(new, Ordering::Release);
            }
        }
        entry
    }

    /// The entry for a route template, from the map; created on first use.
    fn get(&self, inner: &Inner, path: &str) -> &'static RouteEntry {
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

    fn metrics() -> crate::HttpMetrics {
        crate::HttpMetrics::builder()
            .registry(prometheus::Registry::new())
            .build()
            .unwrap()
    }

    #[test]
    fn statuses_claim_slots_then_overflow_and_always_resolve() {
        let m = metrics();
        let entry = m.inner.routes.entry(m.inner, "/x");
        let statuses: Vec<u16> = (200..200 + STATUS_SLOTS as u16 + 4).collect();
        let claimed = statuses
            .iter()
            .filter(|s| entry.slot(0, **s).is_some())
            .count();
        assert_eq!(claimed, STATUS_SLOTS);
        for status in &statuses {
            // A status finds its own slot again.
            let (a, b) = (entry.slot(0, *status), entry.slot(0, *status));
            assert_eq!(a.map(std::ptr::from_ref), b.map(std::ptr::from_ref));
            entry.record(0, *status, 0.001);
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
    fn a_template_is_found_by_its_text_whatever_its_address() {
        let m = metrics();
        let routes = &m.inner.routes;
        let first = routes.entry(m.inner, &String::from("/a/{id}"));
        // Same text at other addresses (a classifier returning per-request strings).
        for _ in 0..100 {
            assert!(std::ptr::eq(
                routes.entry(m.inner, &String::from("/a/{id}")),
                first
            ));
        }
        // Other text at the address the memo saw last.
        let mut reused = String::from("/a/{id}");
        assert!(std::ptr::eq(routes.entry(m.inner, &reused), first));
        reused.replace_range(.., "/b/{id}");
        let other = routes.entry(m.inner, &reused);
        assert_eq!(&*other.path, "/b/{id}");
        assert_eq!(routes.len(), 2);
        // Many templates: some share memo slots, and each still finds its own entry.
        let templates: Vec<String> = (0..500).map(|i| format!("/t/{i}")).collect();
        for _ in 0..2 {
            for t in &templates {
                assert_eq!(&*routes.entry(m.inner, t).path, t.as_str());
            }
        }
        assert_eq!(routes.len(), 502);
    }

    #[test]
    fn an_occupied_memo_slot_is_taken_over_only_now_and_then() {
        let m = metrics();
        let routes = &m.inner.routes;
        let slot_of =
            |s: &str| (s.as_ptr() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - MEMO_BITS);
        // Two live templates whose addresses share a slot.
        let first = String::from("/first");
        let other = loop {
            let candidate = String::from("/other");
            if slot_of(&candidate) == slot_of(&first) {
                break candidate;
            }
            std::mem::forget(candidate);
        };
        let slot = &routes.memo[slot_of(&first) as usize];
        let a = routes.entry(m.inner, &first);
        assert!(
            std::ptr::eq(slot.load(Ordering::Relaxed), a),
            "an empty slot is filled"
        );
        let mut takeovers = 0;
        let mut held = a as *const RouteEntry;
        for _ in 0..4 * MEMO_TAKEOVER_EVERY {
            assert_eq!(&*routes.entry(m.inner, &other).path, "/other");
            let now = slot.load(Ordering::Relaxed).cast_const();
            if now != held {
                takeovers += 1;
                held = now;
            }
            assert_eq!(&*routes.entry(m.inner, &first).path, "/first");
            let now = slot.load(Ordering::Relaxed).cast_const();
            if now != held {
                takeovers += 1;
                held = now;
            }
        }
        assert!(
            (1..=8).contains(&takeovers),
            "{takeovers} takeovers in {} misses",
            8 * MEMO_TAKEOVER_EVERY
        );
    }

    #[test]
    fn unknown_methods_fold_into_other() {
        assert_eq!(METHOD_LABELS[method_slot(&Method::GET)], "GET");
        assert_eq!(METHOD_LABELS[method_slot(&Method::PATCH)], "PATCH");
        let weird = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(METHOD_LABELS[method_slot(&weird)], "OTHER");
    }
}
