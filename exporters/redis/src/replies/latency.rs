//! SLOWLOG, LATENCY LATEST and LATENCY HISTOGRAM (Redis 7).

use resp::Reply;

use super::{field, pairs};
use crate::metrics::Out;

/// `LATENCY HISTOGRAM` (Redis 7): per command `[name, ["calls", n, "histogram_usec", [usec,
/// count, ...]]]`, cumulative counts, as `commands_latencies_usec{cmd}` histograms. The sum is the
/// command's time from INFO's Commandstats (`usecs`), as upstream takes it. Malformed entries are
/// skipped.
pub fn latency_histogram_metrics(reply: &Reply, usecs: &[(&str, f64)], out: &mut Out) {
    let Some(items) = reply.as_array() else {
        return;
    };
    for entry in items.chunks_exact(2) {
        let Some(cmd) = entry[0].as_text() else {
            continue;
        };
        let details = pairs(&entry[1]);
        let get = |name: &str| field(&details, name);
        let Some(calls) = get("calls").and_then(Reply::as_int) else {
            continue;
        };
        let buckets: Vec<(f64, f64)> = get("histogram_usec")
            .and_then(Reply::as_array)
            .unwrap_or_default()
            .chunks_exact(2)
            .filter_map(|b| Some((b[0].as_int()? as f64, b[1].as_int()? as f64)))
            .collect();
        let sum = usecs
            .iter()
            .find(|(c, _)| *c == cmd)
            .map_or(0.0, |(_, usec)| *usec);
        out.histogram(
            "commands_latencies_usec",
            "A histogram of latencies per command",
            &[("cmd", cmd.as_ref())],
            &buckets,
            sum,
            calls as f64,
        );
    }
}

/// `SLOWLOG LEN` and `SLOWLOG GET 1`.
pub fn slowlog_metrics(len: &Reply, last: &Reply, out: &mut Out) {
    if let Some(n) = len.as_int() {
        out.gauge("slowlog_length", "Total slowlog", &[], n as f64);
    }
    let (mut id, mut duration) = (0.0, 0.0);
    if let Some(entry) = last
        .as_array()
        .and_then(|a| a.first())
        .and_then(Reply::as_array)
    {
        id = entry.first().and_then(Reply::as_int).unwrap_or(0) as f64;
        duration = entry.get(2).and_then(Reply::as_int).unwrap_or(0) as f64 / 1e6;
    }
    if last.as_array().is_some() {
        out.gauge("slowlog_last_id", "Last id of slowlog", &[], id);
        out.gauge(
            "last_slow_execution_duration_seconds",
            "The amount of time needed for last slow execution, in seconds",
            &[],
            duration,
        );
    }
}

/// `LATENCY LATEST`: `[event, unix time, latest ms, max ms]` per event.
pub fn latency_metrics(reply: &Reply, out: &mut Out) {
    let Some(events) = reply.as_array() else {
        return;
    };
    for ev in events.iter().filter_map(Reply::as_array) {
        let (Some(name), Some(when), Some(latest)) = (
            ev.first().and_then(Reply::as_text),
            ev.get(1).and_then(Reply::as_int),
            ev.get(2).and_then(Reply::as_int),
        ) else {
            continue;
        };
        out.gauge(
            "latency_spike_last",
            "When the latency spike last occurred",
            &[("event_name", &name)],
            when as f64,
        );
        out.gauge(
            "latency_spike_duration_seconds",
            "Length of the last latency spike in seconds",
            &[("event_name", &name)],
            latest as f64 / 1e3,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replies::test_support::{arr, bulk, flat, int, names};

    #[test]
    fn slowlog_and_latency() {
        let mut out = Out::new("redis");
        let entry = arr(vec![int(7), int(1700000000), int(12500)]);
        slowlog_metrics(&int(3), &arr(vec![entry]), &mut out);
        latency_metrics(
            &arr(vec![arr(vec![
                bulk("command"),
                int(1700000001),
                int(250),
                int(300),
            ])]),
            &mut out,
        );
        assert_eq!(
            names(&out),
            [
                ("redis_slowlog_length", 3.0),
                ("redis_slowlog_last_id", 7.0),
                ("redis_last_slow_execution_duration_seconds", 0.0125),
                ("redis_latency_spike_last", 1700000001.0),
                ("redis_latency_spike_duration_seconds", 0.25),
            ]
        );
        let mut empty = Out::new("redis");
        slowlog_metrics(&int(0), &arr(vec![]), &mut empty);
        assert_eq!(names(&empty)[1], ("redis_slowlog_last_id", 0.0));
        // Garbage replies add nothing and do not panic.
        let mut out = Out::new("redis");
        slowlog_metrics(&Reply::Error("NOPERM".into()), &bulk("x"), &mut out);
        latency_metrics(&arr(vec![bulk("x"), arr(vec![])]), &mut out);
        assert!(out.families.is_empty());
    }

    #[test]
    fn latency_histograms() {
        let histogram = arr(vec![int(1), int(1), int(4), int(3)]);
        let mut reply = flat(vec![
            (
                "set",
                flat(vec![("calls", int(3)), ("histogram_usec", histogram)]),
            ),
            ("broken", flat(vec![("calls", bulk("x"))])),
        ]);
        if let Reply::Array(Some(items)) = &mut reply {
            items.push(bulk("odd"));
        }
        let mut out = Out::new("redis");
        latency_histogram_metrics(&reply, &[("get", 9.0), ("set", 7.0)], &mut out);
        assert_eq!(out.families.len(), 1);
        let mut text = String::new();
        exporter_core::encode::encode_text(&out.families, &mut text);
        for line in [
            "# TYPE redis_commands_latencies_usec histogram",
            "redis_commands_latencies_usec_bucket{cmd=\"set\",le=\"1\"} 1",
            "redis_commands_latencies_usec_bucket{cmd=\"set\",le=\"4\"} 3",
            "redis_commands_latencies_usec_bucket{cmd=\"set\",le=\"+Inf\"} 3",
            "redis_commands_latencies_usec_sum{cmd=\"set\"} 7",
            "redis_commands_latencies_usec_count{cmd=\"set\"} 3",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        let mut out = Out::new("redis");
        latency_histogram_metrics(
            &Reply::Error("ERR unknown subcommand".into()),
            &[],
            &mut out,
        );
        assert!(out.families.is_empty());
    }
}
