//! The per-request hot path's lookup structure: route template -> method -> status -> series.
//!
//! `prometheus`'s `with_label_values` hashes every label and takes a lock on each call. Here the
//! labelled children are resolved once per (method, route, status) and kept in copy-on-write maps
//! behind `ArcSwap`: a request reads them without locks or allocation; only the first request of a
//! new combination builds the series and swaps in a new map.

use std::sync::{Arc, OnceLock};

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

#[derive(Default)]
struct MethodSeries {
    in_progress: OnceLock<IntGauge>,
    by_status: ArcSwap<Vec<(u16, Arc<Series>)>>,
}

pub(crate) struct RouteEntry {
    path: Box<str>,
    pub excluded: bool,
    /// The labelled families (cheap handles), so a request needs no other shared state.
    pub families: Families,
    methods: [MethodSeries; METHOD_LABELS.len()],
}

impl RouteEntry {
    pub fn in_progress(&self, method: usize) -> &IntGauge {
        self.methods[method].in_progress.get_or_init(|| {
            self.families
                .in_progress
                .with_label_values(&[METHOD_LABELS[method], &self.path])
        })
    }

    pub fn series(&self, method: usize, status: u16) -> Arc<Series> {
        let families = &self.families;
        let slot = &self.methods[method].by_status;
        if let Some((_, s)) = slot.load().iter().find(|(code, _)| *code == status) {
            return Arc::clone(s);
        }
        let status_label = status.to_string();
        let method_label = METHOD_LABELS[method];
        let created = Arc::new(Series {
            requests: families.requests.with_label_values(&[
                method_label,
                &status_label,
                &self.path,
            ]),
            duration: families.duration.with_label_values(&[
                method_label,
                &self.path,
                &status_label,
            ]),
        });
        // Another request may have raced us: keep whichever entry got in first.
        let mut result = Arc::clone(&created);
        slot.rcu(|current| {
            let mut next = Vec::clone(current);
            match next.iter().find(|(code, _)| *code == status) {
                Some((_, existing)) => result = Arc::clone(existing),
                None => next.push((status, Arc::clone(&created))),
            }
            next
        });
        result
    }
}

/// Route templates are few and chosen by the application, not by clients, so a fast
/// non-DoS-resistant hash is the right trade.
pub(crate) struct RouteTable {
    routes: ArcSwap<FxHashMap<Box<str>, Arc<RouteEntry>>>,
}

impl RouteTable {
    pub fn new() -> Self {
        RouteTable {
            routes: ArcSwap::from_pointee(FxHashMap::default()),
        }
    }

    pub fn len(&self) -> usize {
        self.routes.load().len()
    }

    /// The entry for a route template, created on first use.
    pub fn get(&self, inner: &Inner, path: &str) -> Arc<RouteEntry> {
        if let Some(entry) = self.routes.load().get(path) {
            return Arc::clone(entry);
        }
        let created = Arc::new(RouteEntry {
            path: path.into(),
            excluded: inner.excluded(path),
            families: inner.families.clone(),
            methods: Default::default(),
        });
        let mut result = Arc::clone(&created);
        self.routes.rcu(|current| {
            let mut next = FxHashMap::clone(current);
            result = Arc::clone(
                next.entry(path.into())
                    .or_insert_with(|| Arc::clone(&created)),
            );
            next
        });
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_fold_into_other() {
        assert_eq!(METHOD_LABELS[method_slot(&Method::GET)], "GET");
        assert_eq!(METHOD_LABELS[method_slot(&Method::PATCH)], "PATCH");
        let weird = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(METHOD_LABELS[method_slot(&weird)], "OTHER");
    }
}
