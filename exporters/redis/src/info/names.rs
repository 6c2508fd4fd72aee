//! Which INFO fields become metrics, under which name and type: upstream's renames and its
//! gauge/counter split, and its rules for values (`ok` is 1, `fail` is 0).

use exporter_core::MetricType;

use crate::metrics::Out;

/// Renamed and typed INFO fields: `(type, metric name)`.
pub fn map_field(key: &str, include_system_metrics: bool) -> Option<(MetricType, &'static str)> {
    use MetricType::{Counter as C, Gauge as G};
    Some(match key {
        // Server
        "uptime_in_seconds" => (G, "uptime_in_seconds"),
        "process_id" => (G, "process_id"),
        "io_threads_active" => (G, "io_threads_active"),
        // Clients
        "connected_clients" => (G, "connected_clients"),
        "blocked_clients" => (G, "blocked_clients"),
        "tracking_clients" => (G, "tracking_clients"),
        "clients_in_timeout_table" => (G, "clients_in_timeout_table"),
        // Redis 7.0+ (names as upstream 1.6x has them)
        "maxclients" => (G, "max_clients"),
        "pubsub_clients" => (G, "pubsub_clients"),
        "watching_clients" => (G, "watching_clients"),
        "total_watched_keys" => (G, "total_watched_keys"),
        "total_blocking_keys" => (G, "total_blocking_keys"),
        "total_blocking_keys_on_nokey" => (G, "total_blocking_keys_on_nokey"),
        "client_longest_output_list" => (G, "client_longest_output_list"),
        "client_biggest_input_buf" => (G, "client_biggest_input_buf"),
        "client_recent_max_output_buffer" => (G, "client_recent_max_output_buffer_bytes"),
        "client_recent_max_input_buffer" => (G, "client_recent_max_input_buffer_bytes"),
        // Memory
        "allocator_active" => (G, "allocator_active_bytes"),
        "allocator_allocated" => (G, "allocator_allocated_bytes"),
        "allocator_resident" => (G, "allocator_resident_bytes"),
        "allocator_frag_ratio" => (G, "allocator_frag_ratio"),
        "allocator_frag_bytes" => (G, "allocator_frag_bytes"),
        "allocator_rss_ratio" => (G, "allocator_rss_ratio"),
        "allocator_rss_bytes" => (G, "allocator_rss_bytes"),
        "used_memory" => (G, "memory_used_bytes"),
        "used_memory_rss" => (G, "memory_used_rss_bytes"),
        "used_memory_peak" => (G, "memory_used_peak_bytes"),
        "used_memory_lua" => (G, "memory_used_lua_bytes"),
        "used_memory_overhead" => (G, "memory_used_overhead_bytes"),
        "used_memory_startup" => (G, "memory_used_startup_bytes"),
        "used_memory_dataset" => (G, "memory_used_dataset_bytes"),
        "used_memory_scripts" => (G, "memory_used_scripts_bytes"),
        "number_of_cached_scripts" => (G, "number_of_cached_scripts"),
        "used_memory_vm_eval" => (G, "memory_used_vm_eval_bytes"),
        "used_memory_scripts_eval" => (G, "memory_used_scripts_eval_bytes"),
        "used_memory_vm_functions" => (G, "memory_used_vm_functions_bytes"),
        "used_memory_functions" => (G, "memory_used_functions_bytes"),
        "used_memory_vm_total" => (G, "memory_used_vm_total"),
        "number_of_functions" => (G, "number_of_functions"),
        "number_of_libraries" => (G, "number_of_libraries"),
        "mem_total_replication_buffers" => (G, "mem_total_replication_buffers_bytes"),
        "mem_overhead_db_hashtable_rehashing" => (G, "mem_overhead_db_hashtable_rehashing_bytes"),
        "maxmemory" => (G, "memory_max_bytes"),
        "maxmemory_reservation" => (G, "memory_max_reservation_bytes"),
        "maxmemory_desired_reservation" => (G, "memory_max_reservation_desired_bytes"),
        "maxfragmentationmemory_reservation" => (G, "memory_max_fragmentation_reservation_bytes"),
        "maxfragmentationmemory_desired_reservation" => {
            (G, "memory_max_fragmentation_reservation_desired_bytes")
        }
        "mem_fragmentation_ratio" => (G, "mem_fragmentation_ratio"),
        "mem_fragmentation_bytes" => (G, "mem_fragmentation_bytes"),
        "mem_clients_slaves" => (G, "mem_clients_slaves"),
        "mem_clients_normal" => (G, "mem_clients_normal"),
        "expired_stale_perc" => (G, "expired_stale_percentage"),
        "mem_not_counted_for_evict" => (G, "mem_not_counted_for_eviction_bytes"),
        "lazyfree_pending_objects" => (G, "lazyfree_pending_objects"),
        "active_defrag_running" => (G, "active_defrag_running"),
        "migrate_cached_sockets" => (G, "migrate_cached_sockets_total"),
        "active_defrag_hits" => (G, "defrag_hits"),
        "active_defrag_misses" => (G, "defrag_misses"),
        "active_defrag_key_hits" => (G, "defrag_key_hits"),
        "active_defrag_key_misses" => (G, "defrag_key_misses"),
        "expired_time_cap_reached_count" => (G, "expired_time_cap_reached_total"),
        "total_system_memory" if include_system_metrics => (G, "total_system_memory_bytes"),
        // Persistence
        "loading" => (G, "loading_dump_file"),
        "async_loading" => (G, "async_loading"),
        // A gauge despite the suffix, as upstream types it.
        "rdb_saves" => (G, "rdb_saves_total"),
        "rdb_last_load_keys_expired" => (G, "rdb_last_load_expired_keys"),
        "rdb_last_load_keys_loaded" => (G, "rdb_last_load_loaded_keys"),
        "rdb_changes_since_last_save" => (G, "rdb_changes_since_last_save"),
        "rdb_bgsave_in_progress" => (G, "rdb_bgsave_in_progress"),
        "rdb_last_save_time" => (G, "rdb_last_save_timestamp_seconds"),
        "rdb_last_bgsave_status" => (G, "rdb_last_bgsave_status"),
        "rdb_last_bgsave_time_sec" => (G, "rdb_last_bgsave_duration_sec"),
        "rdb_current_bgsave_time_sec" => (G, "rdb_current_bgsave_duration_sec"),
        "rdb_last_cow_size" => (G, "rdb_last_cow_size_bytes"),
        "aof_enabled" => (G, "aof_enabled"),
        "aof_rewrite_in_progress" => (G, "aof_rewrite_in_progress"),
        "aof_rewrite_scheduled" => (G, "aof_rewrite_scheduled"),
        "aof_last_rewrite_time_sec" => (G, "aof_last_rewrite_duration_sec"),
        "aof_current_rewrite_time_sec" => (G, "aof_current_rewrite_duration_sec"),
        "aof_last_cow_size" => (G, "aof_last_cow_size_bytes"),
        "aof_current_size" => (G, "aof_current_size_bytes"),
        "aof_base_size" => (G, "aof_base_size_bytes"),
        "aof_pending_rewrite" => (G, "aof_pending_rewrite"),
        "aof_buffer_length" => (G, "aof_buffer_length"),
        "aof_rewrite_buffer_length" => (G, "aof_rewrite_buffer_length"),
        "aof_pending_bio_fsync" => (G, "aof_pending_bio_fsync"),
        "aof_delayed_fsync" => (G, "aof_delayed_fsync"),
        "aof_last_bgrewrite_status" => (G, "aof_last_bgrewrite_status"),
        "aof_last_write_status" => (G, "aof_last_write_status"),
        "module_fork_in_progress" => (G, "module_fork_in_progress"),
        "module_fork_last_cow_size" => (G, "module_fork_last_cow_size"),
        // Stats
        "pubsub_channels" => (G, "pubsub_channels"),
        "pubsub_patterns" => (G, "pubsub_patterns"),
        "pubsubshard_channels" => (G, "pubsubshard_channels"),
        "current_eviction_exceeded_time" => (G, "current_eviction_exceeded_time_ms"),
        "latest_fork_usec" => (G, "latest_fork_usec"),
        "tracking_total_keys" => (G, "tracking_total_keys"),
        "tracking_total_items" => (G, "tracking_total_items"),
        "tracking_total_prefixes" => (G, "tracking_total_prefixes"),
        "total_connections_received" => (C, "connections_received_total"),
        "total_commands_processed" => (C, "commands_processed_total"),
        "rejected_connections" => (C, "rejected_connections_total"),
        "total_net_input_bytes" => (C, "net_input_bytes_total"),
        "total_net_output_bytes" => (C, "net_output_bytes_total"),
        "expired_keys" => (C, "expired_keys_total"),
        "evicted_keys" => (C, "evicted_keys_total"),
        "keyspace_hits" => (C, "keyspace_hits_total"),
        "keyspace_misses" => (C, "keyspace_misses_total"),
        "unexpected_error_replies" => (C, "unexpected_error_replies"),
        "total_error_replies" => (C, "total_error_replies"),
        "dump_payload_sanitizations" => (C, "dump_payload_sanitizations"),
        "total_reads_processed" => (C, "total_reads_processed"),
        "total_writes_processed" => (C, "total_writes_processed"),
        "io_threaded_reads_processed" => (C, "io_threaded_reads_processed"),
        "io_threaded_writes_processed" => (C, "io_threaded_writes_processed"),
        "total_net_repl_input_bytes" => (C, "net_repl_input_bytes_total"),
        "total_net_repl_output_bytes" => (C, "net_repl_output_bytes_total"),
        "expired_subkeys" => (C, "expired_subkeys_total"),
        "expire_cycle_cpu_milliseconds" => (C, "expire_cycle_cpu_time_ms_total"),
        "evicted_clients" => (C, "evicted_clients_total"),
        "evicted_scripts" => (C, "evicted_scripts_total"),
        "total_eviction_exceeded_time" => (C, "eviction_exceeded_time_ms_total"),
        "client_query_buffer_limit_disconnections" => {
            (C, "client_query_buffer_limit_disconnections_total")
        }
        "client_output_buffer_limit_disconnections" => {
            (C, "client_output_buffer_limit_disconnections_total")
        }
        "reply_buffer_shrinks" => (C, "reply_buffer_shrinks_total"),
        "reply_buffer_expands" => (C, "reply_buffer_expands_total"),
        "acl_access_denied_auth" => (C, "acl_access_denied_auth_total"),
        "acl_access_denied_cmd" => (C, "acl_access_denied_cmd_total"),
        "acl_access_denied_key" => (C, "acl_access_denied_key_total"),
        "acl_access_denied_channel" => (C, "acl_access_denied_channel_total"),
        // Replication
        "connected_slaves" => (G, "connected_slaves"),
        "repl_backlog_size" => (G, "replication_backlog_bytes"),
        "repl_backlog_active" => (G, "repl_backlog_is_active"),
        "repl_backlog_first_byte_offset" => (G, "repl_backlog_first_byte_offset"),
        "repl_backlog_histlen" => (G, "repl_backlog_history_bytes"),
        "master_repl_offset" => (G, "master_repl_offset"),
        "second_repl_offset" => (G, "second_repl_offset"),
        "slave_expires_tracked_keys" => (G, "slave_expires_tracked_keys"),
        "slave_priority" => (G, "slave_priority"),
        "sync_full" => (G, "replica_resyncs_full"),
        "sync_partial_ok" => (G, "replica_partial_resync_accepted"),
        "sync_partial_err" => (G, "replica_partial_resync_denied"),
        // CPU
        "used_cpu_sys" => (C, "cpu_sys_seconds_total"),
        "used_cpu_user" => (C, "cpu_user_seconds_total"),
        "used_cpu_sys_children" => (C, "cpu_sys_children_seconds_total"),
        "used_cpu_user_children" => (C, "cpu_user_children_seconds_total"),
        "used_cpu_sys_main_thread" => (C, "cpu_sys_main_thread_seconds_total"),
        "used_cpu_user_main_thread" => (C, "cpu_user_main_thread_seconds_total"),
        // Cluster (CLUSTER INFO)
        "cluster_stats_messages_sent" => (G, "cluster_messages_sent_total"),
        "cluster_stats_messages_received" => (G, "cluster_messages_received_total"),
        // KeyDB
        "server_threads" => (G, "server_threads_total"),
        "long_lock_waits" => (G, "long_lock_waits_total"),
        "current_client_thread" => (G, "current_client_thread"),
        "cached_keys" => (C, "cached_keys_total"),
        "storage_provider_read_hits" => (C, "storage_provider_read_hits"),
        "storage_provider_read_misses" => (C, "storage_provider_read_misses"),
        _ => return None,
    })
}

/// Whether a plain field becomes a metric: mapped fields, and (unmapped, as gauges under their
/// own name) every `cluster_*` field.
pub(crate) fn include_field(key: &str, include_system_metrics: bool) -> bool {
    key.starts_with("cluster_") || map_field(key, include_system_metrics).is_some()
}

/// Upstream's value rules: `ok`/`true` are 1, `err`/`fail`/`false` are 0, anything else is parsed
/// as a float (0 when it is not one).
pub fn field_value(value: &str) -> f64 {
    match value {
        "ok" | "true" => 1.0,
        "err" | "fail" | "false" => 0.0,
        v => v.trim().parse().unwrap_or(0.0),
    }
}

/// Emits one plain field under its mapped (or sanitized own) name.
pub fn emit_field(out: &mut Out, key: &str, value: &str, include_system_metrics: bool) {
    let (kind, name) = match map_field(key, include_system_metrics) {
        Some((kind, name)) => (kind, std::borrow::Cow::Borrowed(name)),
        None => (MetricType::Gauge, sanitize(key)),
    };
    let mut v = field_value(value);
    let name = if name == "latest_fork_usec" {
        v /= 1e6;
        std::borrow::Cow::Borrowed("latest_fork_seconds")
    } else {
        name
    };
    let help = format!("{name} metric");
    out.add(kind, &name, help, &[], v);
}

fn sanitize(key: &str) -> std::borrow::Cow<'_, str> {
    if key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        std::borrow::Cow::Borrowed(key)
    } else {
        std::borrow::Cow::Owned(
            key.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_types_and_values() {
        assert_eq!(
            map_field("total_commands_processed", false),
            Some((MetricType::Counter, "commands_processed_total"))
        );
        assert_eq!(map_field("total_system_memory", false), None);
        assert!(map_field("total_system_memory", true).is_some());
        assert!(include_field("cluster_anything_new", false));
        assert!(!include_field("redis_git_sha1", false));
        assert_eq!(field_value("ok"), 1.0);
        assert_eq!(field_value("fail"), 0.0);
        assert_eq!(field_value(" 2.5 "), 2.5);
        assert_eq!(field_value("lots"), 0.0);
        assert_eq!(sanitize("a-b.c"), "a_b_c");
        assert_eq!(sanitize("plain_1"), "plain_1");
    }

    #[test]
    fn fork_time_becomes_seconds() {
        let mut out = Out::new("redis");
        emit_field(&mut out, "latest_fork_usec", "2500", false);
        emit_field(&mut out, "cluster_odd-name", "ok", false);
        let got: Vec<(&str, f64)> = out
            .families
            .iter()
            .map(|f| (f.name.as_ref(), f.samples[0].value))
            .collect();
        assert_eq!(
            got,
            [
                ("redis_latest_fork_seconds", 0.0025),
                ("redis_cluster_odd_name", 1.0)
            ]
        );
    }
}
