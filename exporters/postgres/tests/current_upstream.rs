//! The families of current upstream releases (0.15 to 0.20) against a real PostgreSQL 15: exact
//! names, types and label sets (plus our `server`), plausible values, on a primary and on a
//! streaming standby.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use exporter_core::testkit::{family_shapes, wait_for};

/// The collectors current releases have but that are off by default there (and here).
const OPT_IN: &[&str] = &[
    "--collector.database_wraparound",
    "--collector.stat_activity_autovacuum",
    "--collector.statio_user_indexes",
    "--collector.xlog_location",
    "--collector.stat_wal_receiver",
    "--collector.process_idle",
];

/// The labels of the per-table families.
const PER_TABLE: &[&str] = &["datname", "schemaname", "relname"];

/// (family, type, label names besides `server`).
const CURRENT_FAMILIES: &[(&str, &str, &[&str])] = &[
    ("pg_postmaster_start_time_seconds", "gauge", &[]),
    ("pg_replication_lag_seconds", "gauge", &[]),
    ("pg_replication_is_replica", "gauge", &[]),
    ("pg_replication_last_replay_seconds", "gauge", &[]),
    ("pg_database_size_bytes", "gauge", &["datname"]),
    ("pg_database_connection_limit", "gauge", &["datname"]),
    ("pg_roles_connection_limit", "gauge", &["rolname"]),
    ("pg_locks_count", "gauge", &["datname", "mode"]),
    (
        "pg_stat_database_xact_commit",
        "counter",
        &["datid", "datname"],
    ),
    (
        "pg_stat_database_active_time_seconds_total",
        "counter",
        &["datid", "datname"],
    ),
    ("pg_stat_bgwriter_checkpoints_timed_total", "counter", &[]),
    ("pg_stat_bgwriter_buffers_alloc_total", "counter", &[]),
    ("pg_stat_user_tables_n_live_tup", "gauge", PER_TABLE),
    ("pg_stat_user_tables_seq_scan", "counter", PER_TABLE),
    ("pg_stat_user_tables_table_size_bytes", "gauge", PER_TABLE),
    (
        "pg_statio_user_tables_heap_blocks_hit",
        "counter",
        PER_TABLE,
    ),
    ("pg_wal_segments", "gauge", &[]),
    ("pg_wal_size_bytes", "gauge", &[]),
    (
        "pg_replication_slots_active",
        "gauge",
        &["slot_name", "database"],
    ),
    (
        "pg_replication_slots_pg_wal_lsn_diff",
        "gauge",
        &["slot_name", "database"],
    ),
    (
        "pg_replication_slots_slot_current_wal_lsn",
        "gauge",
        &["slot_name", "slot_type"],
    ),
    (
        "pg_replication_slots_slot_is_active",
        "gauge",
        &["slot_name", "slot_type"],
    ),
    (
        "pg_replication_slots_wal_status",
        "gauge",
        &["slot_name", "slot_type", "wal_status"],
    ),
    (
        "pg_replication_slot_slot_current_wal_lsn",
        "gauge",
        &["slot_name", "slot_type"],
    ),
    (
        "pg_replication_slot_slot_is_active",
        "gauge",
        &["slot_name", "slot_type"],
    ),
    (
        "pg_replication_slot_wal_status",
        "gauge",
        &["slot_name", "slot_type", "wal_status"],
    ),
    (
        "pg_database_wraparound_age_datfrozenxid_seconds",
        "gauge",
        &["datname"],
    ),
    (
        "pg_database_wraparound_age_datminmxid_seconds",
        "gauge",
        &["datname"],
    ),
    (
        "pg_statio_user_indexes_idx_blks_read_total",
        "counter",
        &["datname", "schemaname", "relname", "indexrelname"],
    ),
    (
        "pg_statio_user_indexes_idx_blks_hit_total",
        "counter",
        &["datname", "schemaname", "relname", "indexrelname"],
    ),
    ("pg_xlog_location_bytes", "gauge", &[]),
    (
        "pg_process_idle_seconds",
        "histogram",
        &["state", "application_name"],
    ),
];

/// The families a standby's WAL receiver adds.
const WAL_RECEIVER_FAMILIES: &[(&str, &str)] = &[
    ("pg_stat_wal_receiver_status", "gauge"),
    ("pg_stat_wal_receiver_receive_start_lsn", "counter"),
    ("pg_stat_wal_receiver_receive_start_tli", "gauge"),
    ("pg_stat_wal_receiver_flushed_lsn", "counter"),
    ("pg_stat_wal_receiver_received_tli", "gauge"),
    ("pg_stat_wal_receiver_last_msg_send_time", "counter"),
    ("pg_stat_wal_receiver_last_msg_receipt_time", "counter"),
    ("pg_stat_wal_receiver_latest_end_lsn", "counter"),
    ("pg_stat_wal_receiver_latest_end_time", "counter"),
    ("pg_stat_wal_receiver_upstream_node", "gauge"),
];

fn assert_shape(body: &str, name: &str, kind: &str, labels: &[&str]) {
    let shapes = family_shapes(body);
    let shape = shapes
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in\n{body}"));
    assert_eq!(shape.kind, kind, "{name}");
    let expected: BTreeSet<String> = labels
        .iter()
        .chain(&["server"])
        .map(|l| l.to_string())
        .collect();
    assert_eq!(shape.label_names, expected, "{name}");
}

fn all_collectors_succeeded(body: &str) {
    for line in body
        .lines()
        .filter(|l| l.starts_with("pg_scrape_collector_success"))
    {
        assert!(line.ends_with(" 1"), "{line}");
    }
}

#[test]
fn current_release_families_on_a_primary_and_a_standby() {
    let primary = Postgres::start(&[]);
    primary.psql("SELECT pg_create_physical_replication_slot('standby1')");
    primary.psql("CREATE ROLE limited LOGIN CONNECTION LIMIT 3");
    primary.psql(
        "CREATE TABLE orders AS SELECT g AS id FROM generate_series(1, 500) g; \
         ALTER TABLE orders ADD PRIMARY KEY (id); ANALYZE orders",
    );
    let standby = Postgres::standby_of(&primary, "standby1");
    wait_for("the standby to stream", Duration::from_secs(30), || {
        (primary.psql("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == "1")
            .then_some(())
    });
    primary.psql("SELECT count(*) FROM orders WHERE id = 7");

    // Another exporter's connection, idle once its scrape is done: something for process_idle.
    let idle_peer = Exporter::start(&primary.superuser_dsn(), &[]);
    idle_peer.scrape();

    // The monitoring role: everything here needs no more than pg_monitor.
    let monitor = primary.create_monitor_role();
    let exporter = Exporter::start(&monitor, OPT_IN);
    let body = exporter.scrape();
    assert_eq!(value(&body, "pg_up", &[]), Some(1.0));
    all_collectors_succeeded(&body);
    for (name, kind, labels) in CURRENT_FAMILIES {
        assert_shape(&body, name, kind, labels);
    }

    // Plausible values.
    assert_eq!(value(&body, "pg_replication_is_replica", &[]), Some(0.0));
    assert_eq!(value(&body, "pg_replication_lag_seconds", &[]), Some(0.0));
    let started = value(&body, "pg_postmaster_start_time_seconds", &[]).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(started > now - 600.0 && started <= now + 1.0, "{started}");
    let db = [("datname", "postgres")];
    assert_eq!(
        value(&body, "pg_database_connection_limit", &db),
        Some(-1.0)
    );
    assert_eq!(
        value(
            &body,
            "pg_roles_connection_limit",
            &[("rolname", "limited")]
        ),
        Some(3.0)
    );
    assert!(value(&body, "pg_stat_database_active_time_seconds_total", &db).unwrap() >= 0.0);
    let table = [
        ("datname", "postgres"),
        ("schemaname", "public"),
        ("relname", "orders"),
    ];
    assert_eq!(
        value(&body, "pg_stat_user_tables_n_live_tup", &table),
        Some(500.0)
    );
    assert!(value(&body, "pg_stat_user_tables_table_size_bytes", &table).unwrap() >= 8192.0);
    assert!(value(&body, "pg_wal_segments", &[]).unwrap() >= 1.0);
    assert!(value(&body, "pg_wal_size_bytes", &[]).unwrap() >= 16.0 * 1024.0 * 1024.0);
    let slot = [("slot_name", "standby1"), ("slot_type", "physical")];
    for prefix in ["pg_replication_slots", "pg_replication_slot"] {
        assert!(value(&body, &format!("{prefix}_slot_current_wal_lsn"), &slot).unwrap() > 0.0);
        assert_eq!(
            value(&body, &format!("{prefix}_slot_is_active"), &slot),
            Some(1.0)
        );
        assert_eq!(
            value(
                &body,
                &format!("{prefix}_wal_status"),
                &[("slot_name", "standby1"), ("wal_status", "reserved")]
            ),
            Some(1.0)
        );
    }
    assert!(
        value(
            &body,
            "pg_database_wraparound_age_datfrozenxid_seconds",
            &db
        )
        .unwrap()
            > 0.0
    );
    let index = [("relname", "orders"), ("indexrelname", "orders_pkey")];
    assert!(value(&body, "pg_statio_user_indexes_idx_blks_hit_total", &index).is_some());
    assert!(value(&body, "pg_xlog_location_bytes", &[]).unwrap() > 0.0);
    // The other exporter's connection.
    let idle = [("state", "idle"), ("application_name", "postgres_exporter")];
    assert!(value(&body, "pg_process_idle_seconds_count", &idle).unwrap() >= 1.0);
    assert!(body.contains("pg_process_idle_seconds_bucket{state=\"idle\""));
    // A primary has no WAL receiver.
    assert!(!body.contains("pg_stat_wal_receiver_status"));

    // On the standby: a replica, with its WAL receiver streaming from the primary's slot.
    let on_standby = Exporter::start(&standby.superuser_dsn(), OPT_IN);
    let body = on_standby.scrape();
    assert_eq!(value(&body, "pg_up", &[]), Some(1.0));
    all_collectors_succeeded(&body);
    assert_eq!(value(&body, "pg_replication_is_replica", &[]), Some(1.0));
    for (name, kind) in WAL_RECEIVER_FAMILIES {
        assert_shape(&body, name, kind, &["upstream_host", "slot_name"]);
    }
    let receiver = [("upstream_host", "127.0.0.1"), ("slot_name", "standby1")];
    assert_eq!(
        value(&body, "pg_stat_wal_receiver_status", &receiver),
        Some(2.0),
        "streaming"
    );
    assert!(value(&body, "pg_stat_wal_receiver_flushed_lsn", &receiver).unwrap() > 0.0);
    assert_eq!(
        value(&body, "pg_stat_wal_receiver_received_tli", &receiver),
        Some(1.0)
    );
    assert!(value(&body, "pg_xlog_location_bytes", &[]).unwrap() > 0.0);
}
