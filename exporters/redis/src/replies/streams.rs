//! Pure mappings from the replies of the non-INFO commands to metrics: CONFIG GET, SLOWLOG,
//! LATENCY LATEST, CLIENT LIST, XINFO, and the Lua script's result.

use crate::metrics::Out;
use crate::resp::Reply;

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
        let get = |name: &str| details.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
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

/// `CONFIG GET` replies (flat name/value arrays): `config_maxclients`, `config_maxmemory`,
/// `config_io_threads`, `config_client_output_buffer_limit_*`, and the number of databases when
/// present.
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
                "client-output-buffer-limit" => output_buffer_limit_metrics(&value, out),
                _ => {}
            }
        }
    }
    databases
}

/// Settings whose values are secrets: never exported, whatever `--redact-config-metrics` says.
pub fn is_secret_setting(key: &str) -> bool {
    key.contains("pass") || key.ends_with("auth")
}

/// `CONFIG GET *` (`--include-config-metrics`): `config_key_value{key,value}` 1 per setting and
/// `config_value{key}` for numeric ones, leaving out the secrets (`is_secret_setting`).
pub fn config_setting_metrics(reply: &Reply, out: &mut Out) {
    for pair in reply.as_array().unwrap_or_default().chunks_exact(2) {
        let (Some(key), Some(value)) = (pair[0].as_text(), pair[1].as_text()) else {
            continue;
        };
        if is_secret_setting(&key) {
            continue;
        }
        out.gauge(
            "config_key_value",
            "Config key and value",
            &[("key", key.as_ref()), ("value", value.as_ref())],
            1.0,
        );
        if let Ok(v) = value.trim().parse::<f64>() {
            out.gauge(
                "config_value",
                "Config key and value as metric",
                &[("key", key.as_ref())],
                v,
            );
        }
    }
}

/// `client-output-buffer-limit` (`normal 0 0 0 replica 268435456 67108864 60 pubsub ...`): per
/// class, the hard and soft limits in bytes and how long the soft one may be exceeded.
pub fn output_buffer_limit_metrics(value: &str, out: &mut Out) {
    let words: Vec<&str> = value.split_whitespace().collect();
    for class in words.chunks_exact(4) {
        let number = |s: &str| s.parse::<f64>().ok();
        let name = class[0];
        if let Some(hard) = number(class[1]) {
            out.gauge(
                "config_client_output_buffer_limit_bytes",
                "The configured buffer limits per class",
                &[("class", name), ("limit", "hard")],
                hard,
            );
        }
        if let Some(soft) = number(class[2]) {
            out.gauge(
                "config_client_output_buffer_limit_bytes",
                "The configured buffer limits per class",
                &[("class", name), ("limit", "soft")],
                soft,
            );
        }
        if let Some(seconds) = number(class[3]) {
            out.gauge(
                "config_client_output_buffer_limit_overcome_seconds",
                "How long for buffer limits per class to be exceeded before replicas are dropped",
                &[("class", name), ("limit", "soft")],
                seconds,
            );
        }
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
    pub port: &'a str,
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
        port: "",
    };
    let mut seen_addr = false;
    for part in line.split(' ') {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        match k {
            "addr" => {
                (c.host, c.port) = v.rsplit_once(':').unwrap_or((v, ""));
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

/// One `connected_clients_details` series per client; `with_port` adds the client's port as a
/// label (`--export-client-port`: one series per connection instead of per host).
pub fn client_list_metrics(text: &str, now_unix: i64, with_port: bool, out: &mut Out) {
    for line in text.lines() {
        let Some(c) = parse_client_line(line.trim(), now_unix) else {
            continue;
        };
        let (created, idle) = (c.created_at.to_string(), c.idle_since.to_string());
        let mut labels = vec![
            ("name", c.name),
            ("created_at", created.as_str()),
            ("idle_since", idle.as_str()),
            ("flags", c.flags),
            ("db", c.db),
            ("omem", c.omem),
            ("cmd", c.cmd),
            ("host", c.host),
        ];
        if with_port {
            labels.push(("port", c.port));
        }
        out.gauge(
            "connected_clients_details",
            "Details about connected clients",
            &labels,
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
        // Redis 7: how far the group has read, and how many entries still wait for it (nil
        // when Redis cannot tell).
        if let Some(n) = get("entries-read").and_then(Reply::as_int) {
            out.gauge(
                "stream_group_entries_read",
                "Total number of entries read from the stream group",
                &labels,
                n as f64,
            );
        }
        if let Some(n) = get("lag").and_then(Reply::as_int) {
            out.gauge(
                "stream_group_lag",
                "The number of messages waiting to be delivered to the stream group's consumers",
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
        let limits = arr(vec![
            bulk("client-output-buffer-limit"),
            bulk("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 x"),
        ]);
        assert_eq!(
            config_metrics(&[&a, &b, &denied, &limits], &mut out),
            Some(32)
        );
        assert_eq!(
            names(&out),
            [
                ("redis_config_maxmemory".to_string(), 100.0),
                ("redis_config_io_threads".to_string(), 4.0),
                (
                    "redis_config_client_output_buffer_limit_bytes".to_string(),
                    0.0
                ),
                (
                    "redis_config_client_output_buffer_limit_bytes".to_string(),
                    0.0
                ),
                (
                    "redis_config_client_output_buffer_limit_overcome_seconds".to_string(),
                    0.0
                ),
                (
                    "redis_config_client_output_buffer_limit_bytes".to_string(),
                    268435456.0
                ),
                (
                    "redis_config_client_output_buffer_limit_bytes".to_string(),
                    67108864.0
                ),
                (
                    "redis_config_client_output_buffer_limit_overcome_seconds".to_string(),
                    60.0
                ),
                (
                    "redis_config_client_output_buffer_limit_bytes".to_string(),
                    33554432.0
                ),
                (
                    "redis_config_client_output_buffer_limit_bytes".to_string(),
                    8388608.0
                ),
            ]
        );
        let slave_soft = &out.families[6].samples[0].labels;
        assert_eq!(slave_soft[0].1, "slave");
        assert_eq!(slave_soft[1].1, "soft");
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
    fn config_settings_leave_secrets_out() {
        let reply = arr(vec![
            bulk("maxclients"),
            bulk("10000"),
            bulk("requirepass"),
            bulk("hunter2"),
            bulk("masterauth"),
            bulk("hunter3"),
            bulk("tls-key-file-pass"),
            bulk("hunter4"),
            bulk("appendfsync"),
            bulk("everysec"),
            bulk("dangling"),
        ]);
        let mut out = Out::new("redis");
        config_setting_metrics(&reply, &mut out);
        let mut text = String::new();
        exporter_core::encode::encode_text(&out.families, &mut text);
        assert!(text.contains("redis_config_key_value{key=\"maxclients\",value=\"10000\"} 1"));
        assert!(text.contains("redis_config_value{key=\"maxclients\"} 10000"));
        assert!(text.contains("redis_config_key_value{key=\"appendfsync\",value=\"everysec\"} 1"));
        assert!(!text.contains("config_value{key=\"appendfsync\""));
        assert!(!text.contains("hunter"), "{text}");
        assert!(
            !text.contains("requirepass") && !text.contains("dangling"),
            "{text}"
        );
    }

    #[test]
    fn latency_histograms() {
        let reply = arr(vec![
            bulk("set"),
            arr(vec![
                bulk("calls"),
                Reply::Integer(3),
                bulk("histogram_usec"),
                arr(vec![
                    Reply::Integer(1),
                    Reply::Integer(1),
                    Reply::Integer(4),
                    Reply::Integer(3),
                ]),
            ]),
            bulk("broken"),
            arr(vec![bulk("calls"), bulk("x")]),
            bulk("odd"),
        ]);
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
                host: "127.0.0.1",
                port: "53516",
            }
        );
        let labels_of = |with_port: bool| {
            let mut out = Out::new("redis");
            client_list_metrics(line, 1000, with_port, &mut out);
            let sample = &out.families[0].samples[0];
            sample
                .labels
                .iter()
                .map(|(k, _)| k.to_string())
                .collect::<Vec<_>>()
        };
        assert!(!labels_of(false).contains(&"port".to_string()));
        assert_eq!(labels_of(true).last().map(String::as_str), Some("port"));
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
            bulk("max-deleted-entry-id"),
            bulk("0-0"),
            bulk("last-entry"),
            arr(vec![
                bulk("1526919030474-55"),
                arr(vec![bulk("f"), bulk("v")]),
            ]),
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
            bulk("entries-read"),
            Reply::Integer(4),
            bulk("lag"),
            Reply::Bulk(None),
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
        assert!(n.contains(&("redis_stream_last_entry_id".to_string(), 1526919030474.0)));
        assert!(n.contains(&("redis_stream_max_deleted_entry_id".to_string(), 0.0)));
        assert!(n.contains(&("redis_stream_group_entries_read".to_string(), 4.0)));
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
