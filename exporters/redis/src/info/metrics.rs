//! The mapping of a parsed INFO reply to metric families (plus CLUSTER INFO's), as
//! oliver006/redis_exporter names them (renames, gauge/counter split, quirks included): the
//! families of Debian's 1.45 plus those current releases (1.6x) added for newer Redis fields.

use super::names::{emit_field, include_field};
use super::parse::Info;
use super::structured::{
    parse_command_stats, parse_connected_slave, parse_error_stats, parse_keyspace,
    parse_latency_stats,
};
use crate::metrics::Out;

/// What the mapping needs besides the text.
#[derive(Debug, Clone)]
pub struct InfoContext {
    /// `--include-system-metrics`: adds `total_system_memory_bytes`.
    pub include_system_metrics: bool,
    /// Databases to zero-fill `db_keys`/`db_keys_expiring` for (CONFIG `databases`, 1 in cluster mode).
    pub db_count: usize,
    /// `--include-metrics-for-empty-databases`: the zero-filling above; off, only databases
    /// INFO lists get series.
    pub include_empty_databases: bool,
    /// Now, in Unix seconds (for `start_time_seconds`).
    pub now_unix: f64,
}

/// Maps every INFO field to metrics.
pub fn info_metrics(info: &Info, ctx: &InfoContext, out: &mut Out) {
    let sys = ctx.include_system_metrics;
    let mut master_host = "";
    let mut master_port = "";
    let zero_filled = if ctx.include_empty_databases {
        ctx.db_count.min(4096)
    } else {
        0
    };
    let mut handled_dbs = vec![false; zero_filled];
    // Commandstats give each command's count and sum; Latencystats its percentiles. The summary
    // needs both, so percentiles wait until the end.
    let mut cmd_stats: Vec<(&str, f64, f64)> = Vec::new();
    let mut latencies: Vec<(&str, Vec<(f64, f64)>)> = Vec::new();

    for f in &info.fields {
        let (key, value) = (f.key, f.value);
        if is_master_field(key, "_host") {
            master_host = value;
        }
        if is_master_field(key, "_port") {
            master_port = value;
        }
        match f.section {
            "Replication" if replication_field(out, master_host, master_port, key, value) => {
                continue;
            }
            "Server" if key == "uptime_in_seconds" => {
                if let Ok(uptime) = value.trim().parse::<f64>() {
                    out.gauge(
                        "start_time_seconds",
                        "Start time of the Redis instance since unix epoch in seconds.",
                        &[],
                        ctx.now_unix.floor() - uptime,
                    );
                }
            }
            "Commandstats" => {
                if let Some((cmd, stats)) = parse_command_stats(key, value) {
                    out.counter(
                        "commands_total",
                        "Total number of calls per command",
                        &[("cmd", cmd)],
                        stats.calls,
                    );
                    out.counter(
                        "commands_duration_seconds_total",
                        "Total amount of time in seconds spent per command",
                        &[("cmd", cmd)],
                        stats.usec / 1e6,
                    );
                    if let Some((rejected, failed)) = stats.rejected_failed {
                        // Upstream's help texts, swapped as they are there.
                        out.counter(
                            "commands_rejected_calls_total",
                            "Total number of errors within command execution per command",
                            &[("cmd", cmd)],
                            rejected,
                        );
                        out.counter(
                            "commands_failed_calls_total",
                            "Total number of errors prior command execution per command",
                            &[("cmd", cmd)],
                            failed,
                        );
                    }
                    cmd_stats.push((cmd, stats.calls, stats.usec));
                }
                continue;
            }
            "Latencystats" => {
                if let Some(parsed) = parse_latency_stats(key, value) {
                    latencies.push(parsed);
                }
                continue;
            }
            "Errorstats" => {
                if let Some((err, count)) = parse_error_stats(key, value) {
                    out.counter(
                        "errors_total",
                        "Total number of errors per error type",
                        &[("err", err)],
                        count,
                    );
                }
                continue;
            }
            "Keyspace" => {
                if let Some(ks) = parse_keyspace(key, value) {
                    out.gauge(
                        "db_keys",
                        "Total number of keys by DB",
                        &[("db", key)],
                        ks.keys,
                    );
                    out.gauge(
                        "db_keys_expiring",
                        "Total number of expiring keys by DB",
                        &[("db", key)],
                        ks.expires,
                    );
                    if let Some(cached) = ks.cached {
                        out.gauge(
                            "db_keys_cached",
                            "Total number of cached keys by DB",
                            &[("db", key)],
                            cached,
                        );
                    }
                    if let Some(ttl) = ks.avg_ttl_ms {
                        out.gauge(
                            "db_avg_ttl_seconds",
                            "Avg TTL in seconds",
                            &[("db", key)],
                            ttl / 1000.0,
                        );
                    }
                    if let Some(slot) = key[2..]
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| handled_dbs.get_mut(i))
                    {
                        *slot = true;
                    }
                }
                continue;
            }
            "Modules" if key == "module" => {
                module_info(out, value);
                continue;
            }
            _ => {}
        }
        if include_field(key, sys) {
            emit_field(out, key, value, sys);
        }
    }

    for (cmd, percentiles) in latencies {
        if let Some(&(_, calls, usec)) = cmd_stats.iter().find(|(c, _, _)| *c == cmd) {
            out.summary(
                "latency_percentiles_usec",
                "A summary of latency percentile distribution per command",
                &[("cmd", cmd)],
                &percentiles,
                usec,
                calls,
            );
        }
    }

    for (i, handled) in handled_dbs.iter().enumerate() {
        if !handled {
            let db = format!("db{i}");
            out.gauge("db_keys", "Total number of keys by DB", &[("db", &db)], 0.0);
            out.gauge(
                "db_keys_expiring",
                "Total number of expiring keys by DB",
                &[("db", &db)],
                0.0,
            );
        }
    }

    let get = |k: &str| info.get(k).unwrap_or("");
    let role = get("role");
    out.gauge(
        "instance_info",
        "Information about the Redis instance",
        &[
            ("role", role),
            ("redis_version", get("redis_version")),
            ("redis_build_id", get("redis_build_id")),
            ("redis_mode", get("redis_mode")),
            ("os", get("os")),
            ("maxmemory_policy", get("maxmemory_policy")),
            ("tcp_port", get("tcp_port")),
            ("run_id", get("run_id")),
            ("process_id", get("process_id")),
            ("master_replid", get("master_replid")),
        ],
        1.0,
    );
    if role == "slave" {
        out.gauge(
            "slave_info",
            "Information about the Redis slave",
            &[
                ("master_host", get("master_host")),
                ("master_port", get("master_port")),
                ("read_only", get("slave_read_only")),
            ],
            1.0,
        );
    }
}

/// Microseconds spent per command, from the Commandstats section (`cmdstat_get:...usec=175`).
pub fn command_usecs<'a>(info: &Info<'a>) -> Vec<(&'a str, f64)> {
    info.fields
        .iter()
        .filter(|f| f.section == "Commandstats")
        .filter_map(|f| parse_command_stats(f.key, f.value).map(|(cmd, s)| (cmd, s.usec)))
        .collect()
}

/// `master_host`, `master_1_host`, ... (KeyDB multi-master numbers its masters).
fn is_master_field(key: &str, suffix: &str) -> bool {
    let Some(rest) = key.strip_prefix("master") else {
        return false;
    };
    if rest.starts_with(suffix) {
        return true;
    }
    rest.strip_prefix('_')
        .map(|r| {
            let digits = r.bytes().take_while(u8::is_ascii_digit).count();
            digits > 0 && r[digits..].starts_with(suffix)
        })
        .unwrap_or(false)
}

/// Replica- and master-side replication fields with labels. True when the field was consumed.
fn replication_field(out: &mut Out, host: &str, port: &str, key: &str, value: &str) -> bool {
    let labels = [("master_host", host), ("master_port", port)];
    if is_master_field(key, "_link_status") {
        out.gauge(
            "master_link_up",
            "Master link status on Redis slave",
            &labels,
            if value == "up" { 1.0 } else { 0.0 },
        );
        return true;
    }
    let atoi = |v: &str| v.trim().parse::<i64>().map(|i| i as f64).unwrap_or(0.0);
    if is_master_field(key, "_last_io_seconds_ago") {
        out.gauge(
            "master_last_io_seconds_ago",
            "Master last io seconds ago",
            &labels,
            atoi(value),
        );
        return true;
    }
    if is_master_field(key, "_sync_in_progress") {
        out.gauge(
            "master_sync_in_progress",
            "Master sync in progress",
            &labels,
            atoi(value),
        );
        return true;
    }
    if key.starts_with("slave_repl_offset") {
        out.gauge(
            "slave_repl_offset",
            "Slave replication offset",
            &labels,
            atoi(value),
        );
        return true;
    }
    if let Some(slave) = parse_connected_slave(key, value) {
        let labels = [
            ("slave_ip", slave.ip),
            ("slave_port", slave.port),
            ("slave_state", slave.state),
        ];
        out.gauge(
            "connected_slave_offset_bytes",
            "Offset of connected slave",
            &labels,
            slave.offset,
        );
        if let Some(lag) = slave.lag {
            out.gauge(
                "connected_slave_lag_seconds",
                "Lag of connected slave",
                &labels,
                lag,
            );
        }
        return true;
    }
    false
}

/// `module:name=search,ver=20606,api=1,filters=0,usedby=[],using=[],options=[]`
fn module_info(out: &mut Out, value: &str) {
    let mut labels: [(&'static str, &str); 6] = [
        ("name", ""),
        ("ver", ""),
        ("api", ""),
        ("filters", ""),
        ("usedby", ""),
        ("using", ""),
    ];
    for part in value.split(',') {
        if let Some((k, v)) = part.split_once('=') {
            if let Some(slot) = labels.iter_mut().find(|(name, _)| *name == k) {
                slot.1 = v;
            }
        }
    }
    out.gauge(
        "module_info",
        "Information about loaded Redis module",
        &labels,
        1.0,
    );
}

/// `CLUSTER INFO` text: every `cluster_*` field as a gauge (`cluster_state:ok` is 1), the message
/// counters under upstream's `_total` names.
pub fn cluster_info_metrics(text: &str, out: &mut Out) {
    for line in text.split('\n') {
        let line = line.trim();
        let mut parts = line.split(':');
        let (Some(key), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if include_field(key, false) {
            emit_field(out, key, value, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::info::parse_info;
    use exporter_core::testkit::assert_samples;
    use exporter_core::testkit::{assert_maps, family_shapes, sample_value};

    const INFO: &str = "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nos:Linux 6.1 x86_64\r\nprocess_id:7\r\nrun_id:abc\r\ntcp_port:6379\r\nuptime_in_seconds:100\r\n\r\n# Clients\r\nconnected_clients:3\r\ncluster_connections:0\r\n\r\n# Memory\r\nused_memory:1024\r\nmaxmemory_policy:noeviction\r\ntotal_system_memory:99\r\n\r\n# Persistence\r\nrdb_last_bgsave_status:ok\r\naof_last_write_status:err\r\n\r\n# Stats\r\ntotal_commands_processed:12\r\nlatest_fork_usec:2500\r\nexpired_stale_perc:0.50\r\n\r\n# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=10.0.0.2,port=6380,state=online,offset=42,lag=1\r\nmaster_replid:xyz\r\n\r\n# CPU\r\nused_cpu_sys:1.5\r\n\r\n# Modules\r\nmodule:name=search,ver=20606,api=1,filters=0,usedby=[],using=[],options=[]\r\n\r\n# Commandstats\r\ncmdstat_get:calls=21,usec=175,usec_per_call=8.33,rejected_calls=1,failed_calls=2\r\ncmdstat_client|setname:calls=1,usec=4,usec_per_call=4.00\r\n\r\n# Errorstats\r\nerrorstat_ERR:count=4\r\n\r\n# Latencystats\r\nlatency_percentiles_usec_get:p50=1.003,p99=2.007,p99.9=4.015\r\n\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n# Keyspace\r\ndb0:keys=5,expires=1,avg_ttl=2500\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n";

    fn render(info: &str, sys: bool) -> String {
        let parsed = parse_info(info).unwrap();
        let mut out = Out::new("redis");
        info_metrics(
            &parsed,
            &InfoContext {
                include_system_metrics: sys,
                db_count: 16,
                include_empty_databases: true,
                now_unix: 1000.5,
            },
            &mut out,
        );
        out.render()
    }

    #[test]
    fn maps_fields_like_upstream() {
        let text = render(INFO, false);
        let v = |name: &str, labels: &[(&str, &str)]| sample_value(&text, name, labels);
        let unlabelled = [
            ("redis_connected_clients", Some(3.0)),
            ("redis_memory_used_bytes", Some(1024.0)),
            ("redis_commands_processed_total", Some(12.0)),
            ("redis_latest_fork_seconds", Some(0.0025)),
            ("redis_rdb_last_bgsave_status", Some(1.0)),
            ("redis_aof_last_write_status", Some(0.0)),
            ("redis_expired_stale_percentage", Some(0.5)),
            ("redis_cpu_sys_seconds_total", Some(1.5)),
            ("redis_start_time_seconds", Some(900.0)),
            ("redis_cluster_enabled", Some(0.0)),
            ("redis_cluster_connections", Some(0.0)),
            ("redis_total_system_memory_bytes", None),
            ("redis_process_id", Some(7.0)),
        ];
        assert_maps(|name| v(name, &[]), &unlabelled);
        let cmd_get = [("cmd", "get")];
        let slave = [
            ("slave_ip", "10.0.0.2"),
            ("slave_port", "6380"),
            ("slave_state", "online"),
        ];
        let instance = [("role", "master"), ("redis_version", "7.0.15")];
        let quantile = [("cmd", "get"), ("quantile", "99.9")];
        assert_samples(
            &text,
            &[
                ("redis_commands_total", &cmd_get, Some(21.0)),
                (
                    "redis_commands_duration_seconds_total",
                    &cmd_get,
                    Some(0.000175),
                ),
                ("redis_commands_rejected_calls_total", &cmd_get, Some(1.0)),
                ("redis_commands_failed_calls_total", &cmd_get, Some(2.0)),
                (
                    "redis_commands_failed_calls_total",
                    &[("cmd", "client|setname")],
                    None,
                ),
                ("redis_errors_total", &[("err", "ERR")], Some(4.0)),
                ("redis_latency_percentiles_usec", &quantile, Some(4.015)),
                ("redis_latency_percentiles_usec_sum", &cmd_get, Some(175.0)),
                ("redis_latency_percentiles_usec_count", &cmd_get, Some(21.0)),
                ("redis_db_keys", &[("db", "db0")], Some(5.0)),
                ("redis_db_keys", &[("db", "db15")], Some(0.0)),
                ("redis_db_keys_expiring", &[("db", "db0")], Some(1.0)),
                ("redis_db_avg_ttl_seconds", &[("db", "db0")], Some(2.5)),
                ("redis_db_avg_ttl_seconds", &[("db", "db1")], None),
                ("redis_connected_slave_lag_seconds", &slave, Some(1.0)),
                ("redis_connected_slave_offset_bytes", &[], Some(42.0)),
                ("redis_instance_info", &instance, Some(1.0)),
                ("redis_module_info", &[("name", "search")], Some(1.0)),
            ],
        );
        let shapes = family_shapes(&text);
        assert_eq!(shapes["redis_commands_total"].kind, "counter");
        assert_eq!(shapes["redis_latency_percentiles_usec"].kind, "summary");
        assert_eq!(shapes["redis_expired_stale_percentage"].kind, "gauge");
        assert_eq!(shapes["redis_db_keys"].label_names.len(), 1);
        assert_eq!(
            text.matches("redis_db_keys{").count(),
            16,
            "every database is zero-filled"
        );
        let with_sys = render(INFO, true);
        assert!(with_sys.contains("redis_total_system_memory_bytes 99\n"));
    }

    /// Fields of Redis 7.x that current upstream releases export (and 1.45 did not).
    const INFO_7X: &str = "# Server\r\nredis_version:7.4.1\r\n\r\n# Clients\r\nmaxclients:10000\r\npubsub_clients:2\r\nwatching_clients:1\r\ntotal_watched_keys:3\r\ntotal_blocking_keys:4\r\ntotal_blocking_keys_on_nokey:0\r\n\r\n# Memory\r\nused_memory_vm_eval:31744\r\nused_memory_vm_functions:32768\r\nused_memory_vm_total:64512\r\nused_memory_functions:184\r\nused_memory_scripts_eval:0\r\nnumber_of_functions:0\r\nnumber_of_libraries:0\r\nmem_total_replication_buffers:0\r\nmem_overhead_db_hashtable_rehashing:0\r\n\r\n# Persistence\r\nasync_loading:0\r\nrdb_saves:5\r\nrdb_last_load_keys_expired:1\r\nrdb_last_load_keys_loaded:9\r\n\r\n# Stats\r\ntotal_net_repl_input_bytes:10\r\ntotal_net_repl_output_bytes:20\r\nexpired_subkeys:0\r\nexpire_cycle_cpu_milliseconds:7\r\nevicted_clients:0\r\nevicted_scripts:0\r\ntotal_eviction_exceeded_time:0\r\ncurrent_eviction_exceeded_time:0\r\npubsubshard_channels:0\r\nclient_query_buffer_limit_disconnections:0\r\nclient_output_buffer_limit_disconnections:1\r\nreply_buffer_shrinks:6\r\nreply_buffer_expands:2\r\nacl_access_denied_auth:3\r\nacl_access_denied_cmd:0\r\nacl_access_denied_key:0\r\nacl_access_denied_channel:0\r\n\r\n# Replication\r\nrole:master\r\nmaster_replid:0123abc\r\n\r\n# Keyspace\r\ndb2:keys=1,expires=0,avg_ttl=0\r\n";

    #[test]
    fn maps_fields_of_current_upstream_releases() {
        let text = render(INFO_7X, false);
        let shapes = family_shapes(&text);
        let v = |name: &str| sample_value(&text, name, &[]);
        for (name, kind, value) in [
            ("redis_max_clients", "gauge", 10000.0),
            ("redis_pubsub_clients", "gauge", 2.0),
            ("redis_watching_clients", "gauge", 1.0),
            ("redis_total_watched_keys", "gauge", 3.0),
            ("redis_total_blocking_keys", "gauge", 4.0),
            ("redis_total_blocking_keys_on_nokey", "gauge", 0.0),
            ("redis_memory_used_vm_eval_bytes", "gauge", 31744.0),
            ("redis_memory_used_vm_functions_bytes", "gauge", 32768.0),
            ("redis_memory_used_vm_total", "gauge", 64512.0),
            ("redis_memory_used_functions_bytes", "gauge", 184.0),
            ("redis_memory_used_scripts_eval_bytes", "gauge", 0.0),
            ("redis_number_of_functions", "gauge", 0.0),
            ("redis_number_of_libraries", "gauge", 0.0),
            ("redis_mem_total_replication_buffers_bytes", "gauge", 0.0),
            (
                "redis_mem_overhead_db_hashtable_rehashing_bytes",
                "gauge",
                0.0,
            ),
            ("redis_async_loading", "gauge", 0.0),
            ("redis_rdb_saves_total", "gauge", 5.0),
            ("redis_rdb_last_load_expired_keys", "gauge", 1.0),
            ("redis_rdb_last_load_loaded_keys", "gauge", 9.0),
            ("redis_net_repl_input_bytes_total", "counter", 10.0),
            ("redis_net_repl_output_bytes_total", "counter", 20.0),
            ("redis_expired_subkeys_total", "counter", 0.0),
            ("redis_expire_cycle_cpu_time_ms_total", "counter", 7.0),
            ("redis_evicted_clients_total", "counter", 0.0),
            ("redis_evicted_scripts_total", "counter", 0.0),
            ("redis_eviction_exceeded_time_ms_total", "counter", 0.0),
            ("redis_current_eviction_exceeded_time_ms", "gauge", 0.0),
            ("redis_pubsubshard_channels", "gauge", 0.0),
            (
                "redis_client_query_buffer_limit_disconnections_total",
                "counter",
                0.0,
            ),
            (
                "redis_client_output_buffer_limit_disconnections_total",
                "counter",
                1.0,
            ),
            ("redis_reply_buffer_shrinks_total", "counter", 6.0),
            ("redis_reply_buffer_expands_total", "counter", 2.0),
            ("redis_acl_access_denied_auth_total", "counter", 3.0),
            ("redis_acl_access_denied_cmd_total", "counter", 0.0),
            ("redis_acl_access_denied_key_total", "counter", 0.0),
            ("redis_acl_access_denied_channel_total", "counter", 0.0),
        ] {
            assert_eq!(shapes[name].kind, kind, "{name}");
            assert_eq!(v(name), Some(value), "{name}");
        }
        assert_eq!(
            sample_value(
                &text,
                "redis_instance_info",
                &[("master_replid", "0123abc")]
            ),
            Some(1.0)
        );
    }

    #[test]
    fn empty_databases_can_be_left_out() {
        let parsed = parse_info(INFO_7X).unwrap();
        let mut out = Out::new("redis");
        let ctx = InfoContext {
            include_system_metrics: false,
            db_count: 16,
            include_empty_databases: false,
            now_unix: 0.0,
        };
        info_metrics(&parsed, &ctx, &mut out);
        let dbs: Vec<_> = out
            .families
            .iter()
            .filter(|f| f.name == "redis_db_keys")
            .map(|f| f.samples[0].labels[0].1.clone())
            .collect();
        assert_eq!(dbs, ["db2"]);
    }

    #[test]
    fn replica_fields_carry_master_labels() {
        let info = "# Replication\r\nrole:slave\r\nmaster_host:10.0.0.1\r\nmaster_port:6379\r\nmaster_link_status:down\r\nmaster_last_io_seconds_ago:-1\r\nmaster_sync_in_progress:0\r\nslave_repl_offset:17\r\nslave_priority:100\r\nslave_read_only:1\r\n";
        let text = render(info, false);
        let m = [("master_host", "10.0.0.1"), ("master_port", "6379")];
        assert_samples(
            &text,
            &[
                ("redis_master_link_up", &m, Some(0.0)),
                ("redis_master_last_io_seconds_ago", &m, Some(-1.0)),
                ("redis_master_sync_in_progress", &m, Some(0.0)),
                ("redis_slave_repl_offset", &m, Some(17.0)),
                ("redis_slave_priority", &[], Some(100.0)),
                ("redis_slave_info", &[("read_only", "1")], Some(1.0)),
            ],
        );
        assert!(is_master_field("master_2_host", "_host"));
        assert!(!is_master_field("master_x_host", "_host"));
        assert!(!is_master_field("master_replid", "_host"));
    }

    #[test]
    fn cluster_info_fields() {
        let mut out = Out::new("redis");
        cluster_info_metrics(
            "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_stats_messages_sent:10\r\ntotal_cluster_links_buffer_limit_exceeded:0\r\n",
            &mut out,
        );
        let names: Vec<_> = out
            .families
            .iter()
            .map(|f| (f.name.as_ref(), f.samples[0].value))
            .collect();
        assert_eq!(
            names,
            [
                ("redis_cluster_state", 1.0),
                ("redis_cluster_slots_assigned", 16384.0),
                ("redis_cluster_messages_sent_total", 10.0)
            ]
        );
    }

    #[test]
    fn odd_info_maps_to_zero_and_never_panics() {
        // Odd but harmless values parse, and map to 0 rather than failing the scrape.
        let text = render(
            "# Stats\nexpired_keys:lots\n# Keyspace\ndb0:keys=x\ndbz:keys=1,expires=0\n",
            false,
        );
        assert!(text.contains("redis_expired_keys_total 0\n"));
        assert!(text.contains("redis_db_keys{db=\"db0\"} 0\n"));
        // Truncated at every byte: never a panic.
        for cut in 0..INFO.len() {
            if INFO.is_char_boundary(cut) {
                if let Ok(i) = parse_info(&INFO[..cut]) {
                    let mut out = Out::new("redis");
                    info_metrics(
                        &i,
                        &InfoContext {
                            include_system_metrics: true,
                            db_count: 16,
                            include_empty_databases: true,
                            now_unix: 0.0,
                        },
                        &mut out,
                    );
                }
            }
        }
    }
}
