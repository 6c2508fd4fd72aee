//! What the root package's test crates share: `mod support;` in a test file of `tests/`,
//! `#[path = "../support/mod.rs"] mod support;` in `tests/e2e`.

use std::collections::BTreeMap;

use exporter_core::testkit::samples;
use monitoring_suite::loadgen::Summary;

/// (method, path, status): how the example service's request metrics, and the load generator's
/// summary, key a request.
pub type Key = (String, String, u16);

/// The [`Key`] of a request.
pub fn key(method: &str, path: &str, status: u16) -> Key {
    (method.to_string(), path.to_string(), status)
}

/// `name`'s samples keyed by (method, path, status).
pub fn by_key(text: &str, name: &str) -> BTreeMap<Key, f64> {
    samples(text)
        .into_iter()
        .filter(|(n, _, _)| n == name)
        .map(|(_, labels, v)| {
            let get = |k: &str| {
                labels
                    .iter()
                    .find(|(lk, _)| lk == k)
                    .map(|(_, lv)| lv.clone())
                    .unwrap_or_default()
            };
            (
                (get("method"), get("path"), get("status").parse().unwrap()),
                v,
            )
        })
        .collect()
}

/// What the load generator sent, keyed as the service counts it.
pub fn sent_by_key(summary: &Summary) -> BTreeMap<Key, u64> {
    summary
        .sent
        .iter()
        .map(|(k, n)| (key(&k.method, k.route, k.status), *n))
        .collect()
}
