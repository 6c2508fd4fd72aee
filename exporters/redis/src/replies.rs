//! Pure mappings from the replies of the non-INFO commands to metrics: CONFIG GET, SLOWLOG,
//! LATENCY LATEST, CLIENT LIST, XINFO, and the Lua script's result.

use crate::metrics::Out;
use crate::resp::Reply;

/// `CONFIG GET` replies (flat name/value arrays): `config_maxclients`, `config_maxmemory`,
/// `config_io_threads`, and the number of databases when present.
pub fn config_metrics(replies: &[&Reply], out: &mut Out) -> Option<usize> {
    let mut databases = None;
    for reply in replies {
        let Some(items) = reply.as_array() else {
            continue;
        };
        for pair in items.chunks_exact(2) {
            let (Some(key), Some(value)) = (pair[0].as_text(), pair[1].as_text()) else {
                continue;
            };
            match key.as_ref() {
                "databases" => databases = value.trim().parse::<usize>().ok(),
                "maxmemory" | "maxclients" | "io-threads" => {
                    if let Ok(v) = value.trim().parse::<f64>() {
                        let name = format!("config_{}", key.replace('-', "_"));
                        let help = format!("{name} metric");
                        out.gauge(&name, help, &[], v);
                    }
                }
                _ => {}
            }
        }
    }
    databases
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

/// One `CLIENT LIST` line as upstream labels it.
#[derive(Debug, PartialEq)]
pub struct ClientInfo<'a> {
    pub name: &'a str,
    pub created_at: i64,
    pub idle_since: i64,
    pub flags: &'a str,
    pub db: &'a str,
    pub omem: &'a str,
    pub cmd: &'a str,
    pub host: &'a str,
}

/// Parses one `CLIENT LIST` line (`id=3 addr=127.0.0.1:5000 ... age=10 idle=2 ...`).
pub fn parse_client_line(line: &str, now_unix: i64) -> Option<ClientInfo<'_>> {
    let mut c = ClientInfo {
        name: "",
        created_at: 0,
        idle_since: 0,
        flags: "",
        db: "",
        omem: "",
        cmd: "",
        host: "",
    };
    let mut seen_addr = false;
    for part in line.split(' ') {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        match k {
            "addr" => {
                c.host = v.rsplit_once(':').map(|(h, _)| h).unwrap_or(v);
                seen_addr = true;
            }
            "name" => c.name = v,
            "age" => c.created_at = now_unix - v.parse::<i64>().ok()?,
            "idle" => c.idle_since = now_unix - v.parse::<i64>().ok()?,
            "flags" => c.flags = v,
            "db" => c.db = v,
            "omem" => c.omem = v,
            "cmd" => c.cmd = v,
            _ => {}
        }
    }
    seen_addr.then_some(c)
}

pub fn client_list_metrics(text: &str, now_unix: i64, out: &mut Out) {
    for line in text.lines() {
        let Some(c) = parse_client_line(line.trim(), now_unix) else {
            continue;
        };
        let (created, idle) = (c.created_at.to_string(), c.idle_since.to_string());
        out.gauge(
            "connected_clients_details",
            "Details about connected clients",
            &[
                ("name", c.name),
                ("created_at", &created),
                ("idle_since", &idle),
                ("flags", c.flags),
                ("db", c.db),
                ("omem", c.omem),
                ("cmd", c.cmd),
                ("host", c.host),
            ],
            1.0,
        );
    }
}

/// The script's reply: an array of alternating names and values; values that are not numbers
/// are skipped, as upstream does.
pub fn script_metrics(reply: &Reply, out: &mut Out) -> Result<(), String> {
    if let Some(e) = reply.error() {
        return Err(e.to_string());
    }
    let items = match reply {
        Reply::Array(Some(items)) => items.as_slice(),
        Reply::Array(None) | Reply::Bulk(None) => return Ok(()),
        _ => return Err("the script must return an array of names and values".into()),
    };
    if items.len() % 2 != 0 {
        return Err("the script returned an odd number of items".into());
    }
    for pair in items.chunks_exact(2) {
        let (Some(key), Some(value)) = (pair[0].as_text(), pair[1].as_text()) else {
            continue;
        };
        if let Ok(v) = value.trim().parse::<f64>() {
            out.gauge(
                "script_values",
                "Values returned by the collect script",
                &[("key", &key)],
                v,
            );
        }
    }
    Ok(())
}

/// Reads a flat `[name, value, name, value, ...]` reply (XINFO in RESP2) as pairs.
pub fn pairs(reply: &Reply) -> Vec<(std::borrow::Cow<'_, str>, &Reply)> {
    reply
        .as_array()
        .map(|items| {
            items
                .chunks_exact(2)
                .filter_map(|p| Some((p[0].as_text()?, &p[1])))
                .collect()
        })
        .unwrap_or_default()
}

/// The millisecond part of a stream ID (`1526919030474-55` -> 1526919030474).
pub fn stream_id_ms(id: &str) -> Option<f64> {
    id.split('-').next()?.parse().ok()
}

/// `XINFO STREAM` and `XINFO GROUPS` of one stream.
pub fn stream_metrics(db: &str, stream: &str, info: &Reply, groups: &Reply, out: &mut Out) {
    let labels = [("db", db), ("stream", stream)];
    for (k, v) in pairs(info) {
        let value = match k.as_ref() {
            "last-generated-id" => v.as_text().and_then(|t| stream_id_ms(&t)),
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
            _ => continue,
        };
        out.gauge(name, help, &labels, value);
    }
    for g in groups.as_array().unwrap_or_default() {
        let fields = pairs(g);
        let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
        let Some(group) = get("name").and_then(Reply::as_text) else {
            continue;
        };
        let labels = [("db", db), ("stream", stream), ("group", group.as_ref())];
        if let Some(n) = get("consumers").and_then(Reply::as_int) {
            out.gauge(
                "stream_group_consumers",
                "Consumers count of stream group",
                &labels,
                n as f64,
            );
        }
        if let Some(n) = get("pending").and_then(Reply::as_int) {
            out.gauge(
                "stream_group_messages_pending",
                "Pending number of messages in that stream group",
                &labels,
                n as f64,
            );
        }
        if let Some(ms) = get("last-delivered-id")
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

/// The group names of an `XINFO GROUPS` reply.
pub fn group_names(groups: &Reply) -> Vec<String> {
    groups
        .as_array()
        .unwrap_or_default()
        .iter()
        .filter_map(|g| {
            pairs(g)
                .into_iter()
                .find(|(k, _)| k == "name")
                .and_then(|(_, v)| v.as_text().map(|t| t.into_owned()))
        })
        .collect()
}

/// `XINFO CONSUMERS` of one group.
pub fn consumer_metrics(db: &str, stream: &str, group: &str, reply: &Reply, out: &mut Out) {
    for c in reply.as_array().unwrap_or_default() {
        let fields = pairs(c);
        let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
        let Some(consumer) = get("name").and_then(Reply::as_text) else {
            continue;
        };
        let labels = [
            ("db", db),
            ("stream", stream),
            ("group", group),
            ("consumer", consumer.as_ref()),
        ];
        if let Some(n) = get("pending").and_then(Reply::as_int) {
            out.gauge(
                "stream_group_consumer_messages_pending",
                "Pending number of messages for this specific consumer",
                &labels,
                n as f64,
            );
        }
        if let Some(ms) = get("idle").and_then(Reply::as_int) {
            out.gauge(
                "stream_group_consumer_idle_seconds",
                "Consumer idle time in seconds",
                &labels,
                ms as f64 / 1e3,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(Some(s.as_bytes().to_vec()))
    }

    fn arr(items: Vec<Reply>) -> Reply {
        Reply::Array(Some(items))
    }

    fn names(out: &Out) -> Vec<(String, f64)> {
        out.families
            .iter()
            .map(|f| (f.name.to_string(), f.samples[0].value))
            .collect()
    }

    #[test]
    fn config_replies() {
        let mut out = Out::new("redis");
        let a = arr(vec![bulk("maxmemory"), bulk("100")]);
        let b = arr(vec![
            bulk("io-threads"),
            bulk("4"),
            bulk("databases"),
            bulk("32"),
        ]);
        let denied = Reply::Error("ERR unknown command 'CONFIG'".into());
        assert_eq!(config_metrics(&[&a, &b, &denied], &mut out), Some(32));
        assert_eq!(
            names(&out),
            [
                ("redis_config_maxmemory".to_string(), 100.0),
                ("redis_config_io_threads".to_string(), 4.0)
            ]
        );
    }

    #[test]
    fn slowlog_and_latency() {
        let mut out = Out::new("redis");
        let entry = arr(vec![
            Reply::Integer(7),
            Reply::Integer(1700000000),
            Reply::Integer(12500),
        ]);
        slowlog_metrics(&Reply::Integer(3), &arr(vec![entry]), &mut out);
        latency_metrics(
            &arr(vec![arr(vec![
                bulk("command"),
                Reply::Integer(1700000001),
                Reply::Integer(250),
                Reply::Integer(300),
            ])]),
            &mut out,
        );
        assert_eq!(
            names(&out),
            [
                ("redis_slowlog_length".to_string(), 3.0),
                ("redis_slowlog_last_id".to_string(), 7.0),
                (
                    "redis_last_slow_execution_duration_seconds".to_string(),
                    0.0125
                ),
                ("redis_latency_spike_last".to_string(), 1700000001.0),
                ("redis_latency_spike_duration_seconds".to_string(), 0.25),
            ]
        );
        let mut empty = Out::new("redis");
        slowlog_metrics(&Reply::Integer(0), &arr(vec![]), &mut empty);
        assert_eq!(names(&empty)[1], ("redis_slowlog_last_id".to_string(), 0.0));
        // Garbage replies add nothing and do not panic.
        let mut out = Out::new("redis");
        slowlog_metrics(&Reply::Error("NOPERM".into()), &bulk("x"), &mut out);
        latency_metrics(&arr(vec![bulk("x"), arr(vec![])]), &mut out);
        assert!(out.families.is_empty());
    }

    #[test]
    fn client_list_lines() {
        let line = "id=3 addr=127.0.0.1:53516 laddr=127.0.0.1:6379 fd=8 name=app age=10 idle=2 flags=N db=1 sub=0 psub=0 omem=0 cmd=client|list user=default";
        let c = parse_client_line(line, 1000).unwrap();
        assert_eq!(
            c,
            ClientInfo {
                name: "app",
                created_at: 990,
                idle_since: 998,
                flags: "N",
                db: "1",
                omem: "0",
                cmd: "client|list",
                host: "127.0.0.1"
            }
        );
        assert_eq!(
            parse_client_line("id=1 addr=[::1]:5 age=1 idle=1", 5)
                .unwrap()
                .host,
            "[::1]"
        );
        assert!(parse_client_line("garbage", 0).is_none());
        assert!(parse_client_line("addr=a:1 age=x", 0).is_none());
    }

    #[test]
    fn script_results() {
        let mut out = Out::new("redis");
        let ok = arr(vec![
            bulk("a"),
            bulk("1.5"),
            bulk("b"),
            bulk("nan-ish"),
            bulk("c"),
            Reply::Integer(2),
        ]);
        script_metrics(&ok, &mut out).unwrap();
        assert_eq!(
            names(&out),
            [
                ("redis_script_values".to_string(), 1.5),
                ("redis_script_values".to_string(), 2.0)
            ]
        );
        assert!(script_metrics(&Reply::Error("ERR boom".into()), &mut out).is_err());
        assert!(script_metrics(&arr(vec![bulk("a")]), &mut out).is_err());
        assert!(script_metrics(&Reply::Integer(1), &mut out).is_err());
    }

    #[test]
    fn streams() {
        let info = arr(vec![
            bulk("length"),
            Reply::Integer(2),
            bulk("radix-tree-keys"),
            Reply::Integer(1),
            bulk("radix-tree-nodes"),
            Reply::Integer(2),
            bulk("last-generated-id"),
            bulk("1526919030474-55"),
            bulk("groups"),
            Reply::Integer(1),
            bulk("first-entry"),
            arr(vec![]),
        ]);
        let groups = arr(vec![arr(vec![
            bulk("name"),
            bulk("g1"),
            bulk("consumers"),
            Reply::Integer(1),
            bulk("pending"),
            Reply::Integer(3),
            bulk("last-delivered-id"),
            bulk("1526919030474-0"),
        ])]);
        let mut out = Out::new("redis");
        stream_metrics("db0", "s", &info, &groups, &mut out);
        assert_eq!(group_names(&groups), ["g1"]);
        consumer_metrics(
            "db0",
            "s",
            "g1",
            &arr(vec![arr(vec![
                bulk("name"),
                bulk("c1"),
                bulk("pending"),
                Reply::Integer(3),
                bulk("idle"),
                Reply::Integer(1500),
            ])]),
            &mut out,
        );
        let n = names(&out);
        assert!(n.contains(&(
            "redis_stream_last_generated_id".to_string(),
            1526919030474.0
        )));
        assert!(n.contains(&("redis_stream_group_messages_pending".to_string(), 3.0)));
        assert!(n.contains(&("redis_stream_group_consumer_idle_seconds".to_string(), 1.5)));
        assert_eq!(n.len(), 10);
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
