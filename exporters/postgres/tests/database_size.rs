//! pg_database_size_bytes against a real PostgreSQL 15: the size is re-read only after a write
//! shows in pg_stat_database, so a write must show in the next scrape, and the exporter's own
//! read-only scrapes must not change what it reports.

mod common;

use common::*;

fn reported(exporter: &Exporter) -> f64 {
    let body = exporter.scrape();
    value(&body, "pg_database_size_bytes", &[("datname", "postgres")]).unwrap()
}

fn actual(pg: &Postgres) -> f64 {
    pg.psql("SELECT pg_database_size('postgres')")
        .parse()
        .unwrap()
}

#[test]
fn a_write_shows_in_the_next_scrape() {
    let pg = Postgres::start(&["autovacuum=off"]);
    let exporter = Exporter::start(&pg.superuser_dsn(), &[]);
    assert_eq!(reported(&exporter), actual(&pg));
    // Rows written, their statistics flushed before psql returns.
    pg.psql(
        "CREATE TABLE grown AS SELECT g, md5(g::text) FROM generate_series(1, 20000) g; \
         SELECT pg_stat_force_next_flush();",
    );
    let grown = actual(&pg);
    assert_eq!(reported(&exporter), grown);
    // Scrapes alone (read-only) leave it as it is.
    assert_eq!(reported(&exporter), grown);
}
