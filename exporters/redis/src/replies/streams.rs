//! XINFO STREAM, XINFO GROUPS and XINFO CONSUMERS (`--check-streams`).

use std::borrow::Cow;

use resp::Reply;

use super::{field, pairs};
use crate::metrics::Out;

/// The millisecond part of a stream ID (`1526919030474-55` -> 1526919030474).
pub fn stream_id_ms(id: &str) -> Option<f64> {
    id.split('-').next()?.parse().ok()
}

/// `XINFO STREAM` and `XINFO GROUPS` of one stream.
pub fn stream_metrics(db: &str, stream: &str, info: &Reply, groups: &Reply, out: &mut Out) {
    let labels = [("db", db), ("stream", stream)];
    for (k, v) in pairs(info) {
        let value = match k.as_ref() {
            "last-generated-id" | "max-deleted-entry-id" => {
                v.as_text().and_then(|t| stream_id_ms(&t))
            }
            // An entry is `[id, [field, value, ...]]`; nil when the stream is empty.
            "first-entry" | "last-entry" => v
                .as_array()
                .and_then(|entry| entry.first())
                .and_then(Reply::as_text)
                .and_then(|t| stream_id_ms(&t)),
            _ => v.as_int().map(|i| i as f64),
        };
        let Some(value) = value else { continue };
        let (name, help) = match k.as_ref() {
            "length" => ("stream_length", "The number of elements of the stream"),
            "radix-tree-keys" => ("stream_radix_tree_keys", "Radix tree keys count\""),
            "radix-tree-nodes" => ("stream_radix_tree_nodes", "Radix tree nodes count"),
            "last-generated-id" => (
                "stream_last_generated_id",
                "The epoch timestamp (ms) of the latest message on the stream",
            ),
            "groups" => ("stream_groups", "Groups count of stream"),
            "max-deleted-entry-id" => (
                "stream_max_deleted_entry_id",
                "The epoch timestamp (ms) of last message was deleted from the stream",
            ),
            "first-entry" => (
                "stream_first_entry_id",
                "The epoch timestamp (ms) of the first message in the stream",
            ),
            "last-entry" => (
                "stream_last_entry_id",
                "The epoch timestamp (ms) of the last message in the stream",
            ),
            _ => continue,
        };
        out.gauge(name, help, &labels, value);
    }
    for g in groups.as_array().unwrap_or_default() {
        let fields = pairs(g);
        let Some(group) = field(&fields, "name").and_then(Reply::as_text) else {
            continue;
        };
        let labels = [("db", db), ("stream", stream), ("group", group.as_ref())];
        int_gauges(&fields, &GROUP_GAUGES, &labels, out);
        if let Some(ms) = field(&fields, "last-delivered-id")
            .and_then(Reply::as_text)
            .and_then(|t| stream_id_ms(&t))
        {
            out.gauge(
                "stream_group_last_delivered_id",
                "The epoch timestamp (ms) of the last delivered message",
                &labels,
                ms,
            );
        }
    }
}

/// A field of XINFO GROUPS or XINFO CONSUMERS exported as a gauge: the field, the family, its
/// help, and what the integer is divided by.
type IntGauge = (&'static str, &'static str, &'static str, f64);

/// The integer fields of XINFO GROUPS, in upstream's order. `entries-read` and `lag` are
/// Redis 7's: how far the group has read, and how many entries still wait for it (nil when
/// Redis cannot tell).
const GROUP_GAUGES: [IntGauge; 4] = [
    (
        "consumers",
        "stream_group_consumers",
        "Consumers count of stream group",
        1.0,
    ),
    (
        "pending",
        "stream_group_messages_pending",
        "Pending number of messages in that stream group",
        1.0,
    ),
    (
        "entries-read",
        "stream_group_entries_read",
        "Total number of entries read from the stream group",
        1.0,
    ),
    (
        "lag",
        "stream_group_lag",
        "The number of messages waiting to be delivered to the stream group's consumers",
        1.0,
    ),
];

/// The integer fields of XINFO CONSUMERS; `idle` is in milliseconds.
const CONSUMER_GAUGES: [IntGauge; 2] = [
    (
        "pending",
        "stream_group_consumer_messages_pending",
        "Pending number of messages for this specific consumer",
        1.0,
    ),
    (
        "idle",
        "stream_group_consumer_idle_seconds",
        "Consumer idle time in seconds",
        1e3,
    ),
];

/// One gauge per field of `gauges` that `fields` holds as an integer.
fn int_gauges(
    fields: &[(Cow<'_, str>, &Reply)],
    gauges: &[IntGauge],
    labels: &[(&'static str, &str)],
    out: &mut Out,
) {
    for &(name, family, help, divisor) in gauges {
        if let Some(n) = field(fields, name).and_then(Reply::as_int) {
            out.gauge(family, help, labels, n as f64 / divisor);
        }
    }
}

/// The group names of an `XINFO GROUPS` reply.
pub fn group_names(groups: &Reply) -> Vec<String> {
    groups
        .as_array()
        .unwrap_or_default()
        .iter()
        .filter_map(|g| field(&pairs(g), "name").and_then(|v| v.as_text().map(|t| t.into_owned())))
        .collect()
}

/// `XINFO CONSUMERS` of one group.
pub fn consumer_metrics(db: &str, stream: &str, group: &str, reply: &Reply, out: &mut Out) {
    for c in reply.as_array().unwrap_or_default() {
        let fields = pairs(c);
        let Some(consumer) = field(&fields, "name").and_then(Reply::as_text) else {
            continue;
        };
        let labels = [
            ("db", db),
            ("stream", stream),
            ("group", group),
            ("consumer", consumer.as_ref()),
        ];
        int_gauges(&fields, &CONSUMER_GAUGES, &labels, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replies::test_support::{arr, bulk, flat, int, names};

    #[test]
    fn streams() {
        let last_entry = arr(vec![bulk("1526919030474-55"), flat(vec![("f", bulk("v"))])]);
        let info = flat(vec![
            ("length", int(2)),
            ("radix-tree-keys", int(1)),
            ("radix-tree-nodes", int(2)),
            ("last-generated-id", bulk("1526919030474-55")),
            ("groups", int(1)),
            ("first-entry", arr(vec![])),
            ("max-deleted-entry-id", bulk("0-0")),
            ("last-entry", last_entry),
        ]);
        let groups = arr(vec![flat(vec![
            ("name", bulk("g1")),
            ("consumers", int(1)),
            ("pending", int(3)),
            ("last-delivered-id", bulk("1526919030474-0")),
            ("entries-read", int(4)),
            ("lag", Reply::Bulk(None)),
        ])]);
        let mut out = Out::new("redis");
        stream_metrics("db0", "s", &info, &groups, &mut out);
        assert_eq!(group_names(&groups), ["g1"]);
        consumer_metrics(
            "db0",
            "s",
            "g1",
            &arr(vec![flat(vec![
                ("name", bulk("c1")),
                ("pending", int(3)),
                ("idle", int(1500)),
            ])]),
            &mut out,
        );
        let n = names(&out);
        for series in [
            ("redis_stream_last_generated_id", 1526919030474.0),
            ("redis_stream_group_messages_pending", 3.0),
            ("redis_stream_group_consumer_idle_seconds", 1.5),
            ("redis_stream_last_entry_id", 1526919030474.0),
            ("redis_stream_max_deleted_entry_id", 0.0),
            ("redis_stream_group_entries_read", 4.0),
        ] {
            assert!(n.contains(&series), "{series:?} in {n:?}");
        }
        // Empty first-entry and nil lag give no series.
        assert_eq!(n.len(), 13);
        let mut out = Out::new("redis");
        stream_metrics(
            "db0",
            "s",
            &Reply::Error("WRONGTYPE".into()),
            &bulk("x"),
            &mut out,
        );
        assert!(out.families.is_empty());
    }
}
