//! Tile38 (`--is-tile38`): the server statistics of `SERVER EXT` as `tile38_*` families, named as
//! oliver006/redis_exporter names them. Tile38 speaks RESP; in RESP mode `SERVER` answers a flat
//! array of names and values, in JSON mode one JSON document with a `stats` object. Both are read.

use crate::info::field_value;
use crate::metrics::Out;
use resp::Reply;

/// Why a `SERVER` reply gave no statistics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Tile38Error {
    /// The server answered with an error (not Tile38, or SERVER refused).
    #[error("SERVER: {0}")]
    Server(String),
    /// The reply has neither shape Tile38 uses.
    #[error("SERVER: the reply is neither name/value pairs nor a JSON stats object")]
    Shape,
}

/// One statistic: its name with the `tile38_` prefix, and its value as text.
pub type Tile38Stat = (String, String);

/// Reads a `SERVER` / `SERVER EXT` reply into `(tile38_name, value)` pairs, in reply order.
pub fn parse_tile38_stats(reply: &Reply) -> Result<Vec<Tile38Stat>, Tile38Error> {
    if let Some(e) = reply.error() {
        return Err(Tile38Error::Server(e.to_string()));
    }
    match reply {
        Reply::Array(Some(items)) => stats_from_pairs(items),
        Reply::Bulk(Some(_)) | Reply::Simple(_) => {
            let text = reply.as_text().ok_or(Tile38Error::Shape)?;
            stats_from_json(&text)
        }
        _ => Err(Tile38Error::Shape),
    }
}

fn stats_from_pairs(items: &[Reply]) -> Result<Vec<Tile38Stat>, Tile38Error> {
    if !items.len().is_multiple_of(2) {
        return Err(Tile38Error::Shape);
    }
    let mut stats = Vec::with_capacity(items.len() / 2);
    for pair in items.chunks_exact(2) {
        let name = pair[0].as_text().ok_or(Tile38Error::Shape)?;
        let value = match &pair[1] {
            Reply::Integer(i) => i.to_string(),
            other => match other.as_text() {
                Some(t) => t.into_owned(),
                // Nested values (arrays) are not statistics.
                None => continue,
            },
        };
        stats.push((prefixed(&name), value));
    }
    Ok(stats)
}

fn stats_from_json(text: &str) -> Result<Vec<Tile38Stat>, Tile38Error> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|_| Tile38Error::Shape)?;
    if doc.get("ok").and_then(serde_json::Value::as_bool) == Some(false) {
        let message = doc
            .get("err")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("error");
        return Err(Tile38Error::Server(message.to_string()));
    }
    let stats = doc
        .get("stats")
        .and_then(serde_json::Value::as_object)
        .ok_or(Tile38Error::Shape)?;
    Ok(stats
        .iter()
        .filter_map(|(name, v)| {
            let value = match v {
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::String(s) => s.clone(),
                _ => return None,
            };
            Some((prefixed(name), value))
        })
        .collect())
}

fn prefixed(name: &str) -> String {
    if name.starts_with("tile38_") {
        name.to_string()
    } else {
        format!("tile38_{name}")
    }
}

/// Upstream's names for the statistics it exports (all gauges); others are left out, as there.
pub fn tile38_metric_name(stat: &str) -> Option<&'static str> {
    Some(match stat {
        "tile38_aof_size" => "tile38_aof_size_bytes",
        "tile38_avg_point_size" => "tile38_avg_item_size_bytes",
        "tile38_sys_cpus" => "tile38_cpus_total",
        "tile38_heap_released_bytes" => "tile38_heap_released_bytes",
        "tile38_heap_alloc_bytes" => "tile38_heap_size_bytes",
        "tile38_http_transport" => "tile38_http_transport",
        "tile38_in_memory_size" => "tile38_in_memory_size_bytes",
        "tile38_max_heap_size" => "tile38_max_heap_size_bytes",
        "tile38_alloc_bytes" => "tile38_mem_alloc_bytes",
        "tile38_num_collections" => "tile38_num_collections_total",
        "tile38_num_hooks" => "tile38_num_hooks_total",
        "tile38_num_objects" => "tile38_num_objects_total",
        "tile38_num_points" => "tile38_num_points_total",
        "tile38_pointer_size" => "tile38_pointer_size_bytes",
        "tile38_read_only" => "tile38_read_only",
        "tile38_go_threads" => "tile38_threads_total",
        "tile38_go_goroutines" => "tile38_go_goroutines_total",
        "tile38_last_gc_time_seconds" => "tile38_last_gc_time_seconds",
        "tile38_next_gc_bytes" => "tile38_next_gc_bytes",
        _ => return None,
    })
}

/// Emits the statistics upstream knows, under its names, as gauges.
pub fn tile38_metrics(stats: &[Tile38Stat], out: &mut Out) {
    for (stat, value) in stats {
        if let Some(name) = tile38_metric_name(stat) {
            out.gauge(name, format!("{name} metric"), &[], field_value(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replies::test_support::{arr, bulk, flat, int, names};

    fn emitted(stats: &[Tile38Stat]) -> Vec<(String, f64)> {
        let mut out = Out::new("redis");
        tile38_metrics(stats, &mut out);
        names(&out)
            .into_iter()
            .map(|(name, v)| (name.to_string(), v))
            .collect()
    }

    #[test]
    fn resp_pairs_map_to_upstream_names() {
        let reply = flat(vec![
            ("aof_size", int(1024)),
            ("avg_item_size", bulk("0")),
            ("avg_point_size", bulk("16")),
            ("read_only", bulk("false")),
            ("sys_cpus", int(8)),
            ("go_goroutines", int(31)),
            ("tile38_go_threads", int(12)),
            ("id", bulk("a5b4c3")),
        ]);
        let stats = parse_tile38_stats(&reply).unwrap();
        assert_eq!(stats[0], ("tile38_aof_size".into(), "1024".into()));
        assert_eq!(stats[6].0, "tile38_go_threads", "no second prefix");
        assert_eq!(
            emitted(&stats),
            [
                ("redis_tile38_aof_size_bytes".to_string(), 1024.0),
                ("redis_tile38_avg_item_size_bytes".to_string(), 16.0),
                ("redis_tile38_read_only".to_string(), 0.0),
                ("redis_tile38_cpus_total".to_string(), 8.0),
                ("redis_tile38_go_goroutines_total".to_string(), 31.0),
                ("redis_tile38_threads_total".to_string(), 12.0),
            ]
        );
    }

    #[test]
    fn json_stats_are_read_too() {
        let reply = bulk(
            r#"{"ok":true,"stats":{"num_objects":3,"in_memory_size":2048,"read_only":true,"id":"x","nested":{}},"elapsed":"1µs"}"#,
        );
        let mut names = emitted(&parse_tile38_stats(&reply).unwrap());
        names.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            names,
            [
                ("redis_tile38_in_memory_size_bytes".to_string(), 2048.0),
                ("redis_tile38_num_objects_total".to_string(), 3.0),
                ("redis_tile38_read_only".to_string(), 1.0),
            ]
        );
    }

    #[test]
    fn errors_and_odd_shapes_are_errors_not_panics() {
        assert_eq!(
            parse_tile38_stats(&Reply::Error("ERR unknown command 'SERVER'".into())),
            Err(Tile38Error::Server("ERR unknown command 'SERVER'".into()))
        );
        assert_eq!(
            parse_tile38_stats(&bulk(r#"{"ok":false,"err":"unknown command"}"#)),
            Err(Tile38Error::Server("unknown command".into()))
        );
        for bad in [
            arr(vec![bulk("odd")]),
            Reply::Array(None),
            int(3),
            bulk("not json"),
            bulk(r#"{"ok":true}"#),
            arr(vec![Reply::Array(None), bulk("1")]),
        ] {
            assert_eq!(parse_tile38_stats(&bad), Err(Tile38Error::Shape), "{bad:?}");
        }
        // Nested values are skipped, not errors.
        let nested = flat(vec![("num_points", arr(vec![])), ("num_hooks", bulk("2"))]);
        assert_eq!(
            parse_tile38_stats(&nested).unwrap(),
            [("tile38_num_hooks".to_string(), "2".to_string())]
        );
    }
}
