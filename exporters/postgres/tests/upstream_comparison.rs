//! Side by side with Debian's prometheus-postgres-exporter 0.11 against the same PostgreSQL:
//! every family upstream emits (Go runtime metrics aside) is emitted by ours with the same type
//! and label names, and stable values agree.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use exporter_core::testkit::{
    assert_no_problems, family_shapes, free_port, samples, shape_differences, wait_http, ChildGuard,
};

const UPSTREAM: &str = "/usr/bin/prometheus-postgres-exporter";

/// Families whose difference is by design.
fn exempt(name: &str) -> bool {
    name.starts_with("go_")
        || name.starts_with("promhttp_")
        || name.starts_with("process_")
        // Go build labels; ours is pg_exporter_build_info{version,revision,rustversion}.
        || name == "postgres_exporter_build_info"
}

fn scrape_pair(pg: &Postgres) -> (String, String) {
    scrape_pair_with(pg, &[])
}

fn scrape_pair_with(pg: &Postgres, our_args: &[&str]) -> (String, String) {
    assert!(
        std::path::Path::new(UPSTREAM).exists(),
        "{UPSTREAM} is missing (apt-get install prometheus-postgres-exporter)"
    );
    let up_port = free_port();
    let _upstream = ChildGuard::spawn(
        "upstream",
        Command::new(UPSTREAM)
            .arg(format!("--web.listen-address=127.0.0.1:{up_port}"))
            .env("DATA_SOURCE_NAME", pg.superuser_dsn())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let ours = Exporter::start(&pg.superuser_dsn(), our_args);
    let url = format!("http://127.0.0.1:{up_port}/metrics");
    wait_http(&url, Duration::from_secs(20));
    ours.scrape();
    let theirs = wait_http(&url, Duration::from_secs(20));
    let mine = ours.scrape();
    (theirs, mine)
}

fn compare_shapes(theirs: &str, ours: &str) {
    assert!(
        family_shapes(theirs).len() > 200,
        "upstream exposition looks empty"
    );
    assert_no_problems(&shape_differences(theirs, ours, exempt, |_, o, t| o == t));
}

#[test]
fn ours_emits_every_upstream_family_with_the_same_type_and_labels_and_values_agree() {
    let pg = Postgres::start(&[]);
    // Some data so sizes and counters are not all zero.
    pg.psql("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g");
    let (theirs, ours) = scrape_pair(&pg);
    assert_eq!(
        value(&theirs, "pg_up", &[]),
        Some(1.0),
        "upstream could not connect"
    );
    compare_shapes(&theirs, &ours);

    // Stable values.
    let settings_equal = [
        "pg_settings_max_connections",
        "pg_settings_shared_buffers_bytes",
        "pg_settings_checkpoint_timeout_seconds",
        "pg_settings_fsync",
    ];
    for name in settings_equal {
        assert_eq!(value(&theirs, name, &[]), value(&ours, name, &[]), "{name}");
        assert!(value(&ours, name, &[]).is_some(), "{name}");
    }
    let sizes: Vec<_> = samples(&theirs)
        .into_iter()
        .filter(|(n, _, _)| n == "pg_database_size_bytes")
        .collect();
    assert!(sizes.len() >= 3);
    for (_, labels, their_value) in sizes {
        let db = &labels.iter().find(|(k, _)| k == "datname").unwrap().1;
        let our_value = value(&ours, "pg_database_size_bytes", &[("datname", db)]).unwrap();
        assert!(
            (our_value - their_value).abs() <= their_value * 0.01,
            "{db}: ours {our_value} vs upstream {their_value}"
        );
    }
    // Same series (label values) for the zero-filled families.
    for family in [
        "pg_locks_count",
        "pg_stat_activity_count",
        "pg_stat_database_xact_commit",
    ] {
        let keys = |text: &str| {
            let mut k: Vec<Vec<(String, String)>> = samples(text)
                .into_iter()
                .filter(|(n, _, _)| n == family)
                .map(|(_, mut l, _)| {
                    l.sort();
                    l
                })
                .collect();
            k.sort();
            k
        };
        assert_eq!(keys(&theirs), keys(&ours), "{family} series differ");
    }
}

#[test]
fn with_a_streaming_standby_the_replication_families_match_too() {
    let primary = Postgres::start(&[]);
    primary.psql("SELECT pg_create_physical_replication_slot('standby1')");
    let standby = Postgres::standby_of(&primary, "standby1");
    exporter_core::testkit::wait_for("the standby to stream", Duration::from_secs(30), || {
        (primary.psql("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == "1")
            .then_some(())
    });
    primary.psql("CREATE TABLE r AS SELECT g FROM generate_series(1, 1000) g");
    let (theirs, ours) = scrape_pair(&primary);
    for family in [
        "pg_stat_replication_pg_wal_lsn_diff",
        "pg_replication_slots_active",
    ] {
        assert!(
            theirs.contains(family),
            "upstream has no {family}:\n{theirs}"
        );
    }
    compare_shapes(&theirs, &ours);
    assert_eq!(
        value(
            &ours,
            "pg_replication_slots_active",
            &[("slot_name", "standby1")]
        ),
        Some(1.0)
    );
    assert!(value(
        &ours,
        "pg_stat_replication_pg_wal_lsn_diff",
        &[("slot_name", "standby1"), ("state", "streaming")]
    )
    .is_some());
    assert_eq!(value(&ours, "pg_replication_is_replica", &[]), Some(0.0));

    // On the standby everything works and says so.
    let on_standby = Exporter::start(&standby.superuser_dsn(), &[]);
    let body = on_standby.scrape();
    assert_eq!(value(&body, "pg_up", &[]), Some(1.0));
    assert_eq!(value(&body, "pg_replication_is_replica", &[]), Some(1.0));
    assert!(value(&body, "pg_replication_lag_seconds", &[]).unwrap() >= 0.0);
    for line in body
        .lines()
        .filter(|l| l.starts_with("pg_scrape_collector_success"))
    {
        assert!(line.ends_with(" 1"), "on the standby: {line}");
    }
}
