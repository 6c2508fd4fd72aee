//! The per-table collectors against a real PostgreSQL 15: every pg_stat_user_tables_* and
//! pg_statio_user_tables_* sample equals what the views themselves say (the hand-written catalog
//! pass must list the same tables with the same values), with either collector alone or both;
//! and the table sizes, which are re-read only once per --collector.stat_user_tables.size-interval.

mod common;

use common::*;

/// Tables of every kind the views list or leave out: indexes, a TOAST table, none, a
/// partitioned table and its partition, a materialized view, another schema; then a little
/// activity, its statistics flushed before psql returns.
fn server_with_tables() -> Postgres {
    // No autovacuum: it would change the counters between our scrape and the views' answer.
    let pg = Postgres::start(&["autovacuum=off"]);
    pg.psql(
        "CREATE TABLE wide (id int PRIMARY KEY, v text); CREATE INDEX wide_v ON wide (md5(v)); \
         INSERT INTO wide SELECT g, (SELECT string_agg(md5(g::text || i::text), '') \
           FROM generate_series(1, 100) i) FROM generate_series(1, 50) g; \
         CREATE TABLE bare (a int); INSERT INTO bare SELECT generate_series(1, 100); \
         CREATE TABLE parted (id int) PARTITION BY RANGE (id); \
         CREATE TABLE parted_low PARTITION OF parted FOR VALUES FROM (0) TO (100); \
         INSERT INTO parted VALUES (1), (2); \
         CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS n FROM bare; \
         CREATE SCHEMA other; CREATE TABLE other.\"Odd name\" (x int); \
         DELETE FROM bare WHERE a < 10;",
    );
    pg.psql("VACUUM ANALYZE wide");
    activity(&pg);
    pg
}

/// Sequential and index scans, their statistics flushed before psql returns.
fn activity(pg: &Postgres) {
    pg.psql(
        "SET enable_seqscan = off; SELECT count(*) FROM wide WHERE id = 7; RESET enable_seqscan; \
         SELECT count(*) FROM bare; SELECT length(v) FROM wide WHERE id = 3; \
         SELECT pg_stat_force_next_flush();",
    );
}

/// Every row of `view` as (schemaname, relname, column name, value), timestamps as whole Unix
/// seconds and NULLs as 0, as the exporter reports them.
fn view_values(pg: &Postgres, view: &str, columns: &[&str]) -> Vec<(String, String, String, f64)> {
    let select: Vec<String> = columns
        .iter()
        .map(|c| {
            if c.starts_with("last_") {
                format!("COALESCE(floor(extract(epoch FROM {c})), 0)")
            } else {
                format!("COALESCE({c}, 0)")
            }
        })
        .collect();
    let out = pg.psql(&format!(
        "SELECT schemaname, relname, {} FROM {view}",
        select.join(", ")
    ));
    let mut values = Vec::new();
    for line in out.lines() {
        let fields: Vec<&str> = line.split('|').collect();
        for (column, v) in columns.iter().zip(&fields[2..]) {
            values.push((
                fields[0].to_string(),
                fields[1].to_string(),
                column.to_string(),
                v.parse().unwrap(),
            ));
        }
    }
    values
}

const STAT_COLUMNS: &[&str] = &[
    "seq_scan",
    "seq_tup_read",
    "idx_scan",
    "idx_tup_fetch",
    "n_tup_ins",
    "n_tup_upd",
    "n_tup_del",
    "n_tup_hot_upd",
    "n_live_tup",
    "n_dead_tup",
    "n_mod_since_analyze",
    "last_vacuum",
    "last_autovacuum",
    "last_analyze",
    "last_autoanalyze",
    "vacuum_count",
    "autovacuum_count",
    "analyze_count",
    "autoanalyze_count",
];

const STATIO_COLUMNS: &[&str] = &[
    "heap_blks_read",
    "heap_blks_hit",
    "idx_blks_read",
    "idx_blks_hit",
    "toast_blks_read",
    "toast_blks_hit",
    "tidx_blks_read",
    "tidx_blks_hit",
];

/// Samples of the families starting with `prefix`, as (schemaname, relname, family, value).
fn our_values(body: &str, prefix: &str) -> Vec<(String, String, String, f64)> {
    let label = |labels: &[(String, String)], k: &str| {
        labels
            .iter()
            .find(|(lk, _)| lk == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    exporter_core::testkit::samples(body)
        .into_iter()
        .filter(|(name, _, _)| name.starts_with(prefix))
        .map(|(name, labels, v)| {
            assert_eq!(label(&labels, "datname"), "postgres", "{name}");
            (
                label(&labels, "schemaname"),
                label(&labels, "relname"),
                name,
                v,
            )
        })
        .collect()
}

/// Checks that our samples are exactly the view's rows and columns, `rename` mapping a view
/// column to our family's suffix.
fn assert_same_as_view(
    body: &str,
    pg: &Postgres,
    view: &str,
    columns: &[&str],
    rename: impl Fn(&str) -> String,
) {
    let mut want: Vec<(String, String, String, f64)> = view_values(pg, view, columns)
        .into_iter()
        .map(|(s, r, c, v)| (s, r, format!("{view}_{}", rename(&c)), v))
        .collect();
    let mut ours = our_values(body, &format!("{view}_"));
    ours.retain(|(_, _, name, _)| !name.ends_with("_size_bytes"));
    let key = |a: &(String, String, String, f64)| (a.0.clone(), a.1.clone(), a.2.clone());
    want.sort_by_key(key);
    ours.sort_by_key(key);
    assert_eq!(ours, want, "{view}");
    assert!(want.len() >= columns.len() * 5, "too few tables: {want:?}");
}

fn scrape_both(exporter: &Exporter) -> String {
    let body = exporter.scrape();
    for c in ["stat_user_tables", "statio_user_tables"] {
        assert_eq!(success(&body, c), Some(1.0), "{c} failed:\n{body}");
    }
    body
}

#[test]
fn every_sample_equals_the_views_with_one_or_both_collectors() {
    let pg = server_with_tables();
    let dsn = pg.superuser_dsn();
    let both = Exporter::start(&dsn, &[]);
    let stat_only = Exporter::start(&dsn, &["--no-collector.statio_user_tables"]);
    let statio_only = Exporter::start(&dsn, &["--no-collector.stat_user_tables"]);
    // Twice: the second scrape reads the counters our first one left unchanged.
    for _ in 0..2 {
        let body = scrape_both(&both);
        assert_stat_as_view(&body, &pg);
        assert_statio_as_view(&body, &pg);
        let body = stat_only.scrape();
        assert_stat_as_view(&body, &pg);
        assert!(!body.contains("pg_statio_user_tables_heap"));
        let body = statio_only.scrape();
        assert_statio_as_view(&body, &pg);
        assert!(!body.contains("pg_stat_user_tables_seq_scan"));
        activity(&pg);
    }
}

fn assert_stat_as_view(body: &str, pg: &Postgres) {
    let same_name = str::to_string;
    assert_same_as_view(body, pg, "pg_stat_user_tables", STAT_COLUMNS, same_name);
}

fn assert_statio_as_view(body: &str, pg: &Postgres) {
    let blocks = |c: &str| c.replace("_blks_", "_blocks_");
    assert_same_as_view(body, pg, "pg_statio_user_tables", STATIO_COLUMNS, blocks);
}

/// (table size, index size) of `table` as the exporter reports them.
fn reported_sizes(body: &str, table: &str) -> (Option<f64>, Option<f64>) {
    let labels = [("schemaname", "public"), ("relname", table)];
    (
        value(body, "pg_stat_user_tables_table_size_bytes", &labels),
        value(body, "pg_stat_user_tables_index_size_bytes", &labels),
    )
}

/// (pg_table_size, pg_indexes_size) of `table` now.
fn actual_sizes(pg: &Postgres, table: &str) -> (Option<f64>, Option<f64>) {
    let out = pg.psql(&format!(
        "SELECT pg_table_size('{table}'), pg_indexes_size('{table}')"
    ));
    let (t, i) = out.split_once('|').unwrap();
    (Some(t.parse().unwrap()), Some(i.parse().unwrap()))
}

fn grow(pg: &Postgres, table: &str) {
    pg.psql(&format!(
        "INSERT INTO {table} SELECT g, md5(g::text) FROM generate_series(1, 5000) g"
    ));
}

#[test]
fn sizes_are_read_on_the_first_scrape_then_held_for_the_interval() {
    let pg = Postgres::start(&["autovacuum=off"]);
    pg.psql("CREATE TABLE kept (id int PRIMARY KEY, v text); CREATE TABLE dropped (x int)");
    let dsn = pg.superuser_dsn();
    let held = Exporter::start(&dsn, &["--collector.stat_user_tables.size-interval=1h"]);
    let every_scrape = Exporter::start(&dsn, &["--collector.stat_user_tables.size-interval=0"]);

    let first = actual_sizes(&pg, "kept");
    for exporter in [&held, &every_scrape] {
        let body = scrape_both(exporter);
        assert_eq!(reported_sizes(&body, "kept"), first);
        assert!(reported_sizes(&body, "dropped").0.is_some());
    }

    // The table grows, another appears, one is dropped.
    grow(&pg, "kept");
    pg.psql("CREATE TABLE added (id int PRIMARY KEY, v text); DROP TABLE dropped");
    let grown = actual_sizes(&pg, "kept");
    assert!(
        grown.0 > first.0 && grown.1 > first.1,
        "{first:?} {grown:?}"
    );

    let body = scrape_both(&held);
    assert_eq!(
        reported_sizes(&body, "kept"),
        first,
        "held until the interval passes"
    );
    assert_eq!(reported_sizes(&body, "added"), actual_sizes(&pg, "added"));
    assert_eq!(reported_sizes(&body, "dropped"), (None, None));
    assert!(!body.contains("relname=\"dropped\""));

    let body = scrape_both(&every_scrape);
    assert_eq!(reported_sizes(&body, "kept"), grown);
    assert_eq!(reported_sizes(&body, "added"), actual_sizes(&pg, "added"));
}

#[test]
fn sizes_are_read_again_once_the_interval_has_passed() {
    let pg = Postgres::start(&["autovacuum=off"]);
    pg.psql("CREATE TABLE t (id int PRIMARY KEY, v text)");
    let exporter = Exporter::start(
        &pg.superuser_dsn(),
        &["--collector.stat_user_tables.size-interval=1s"],
    );
    let first = actual_sizes(&pg, "t");
    assert_eq!(reported_sizes(&scrape_both(&exporter), "t"), first);
    grow(&pg, "t");
    // Past the interval (sleeping guarantees it; nothing is timed).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let grown = actual_sizes(&pg, "t");
    assert_ne!(grown, first);
    assert_eq!(reported_sizes(&scrape_both(&exporter), "t"), grown);
}
