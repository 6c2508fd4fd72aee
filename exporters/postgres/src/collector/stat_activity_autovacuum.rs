//! `pg_stat_activity_autovacuum_timestamp_seconds{relname}` (opt-in, current releases): when
//! each running autovacuum worker started its transaction.

use super::declarative::{gauge, label, DeclarativeCollector, Families, Null, RunsOn, Sql};

/// One row per worker. The table is the second dot-separated part of the worker's query text,
/// as upstream reads it.
pub(crate) const COLLECTOR: DeclarativeCollector = DeclarativeCollector {
    sql: Sql::Fixed(
        "SELECT split_part(query, '.', 2), extract(epoch FROM xact_start)::float8 \
         FROM pg_stat_activity WHERE query LIKE 'autovacuum:%'",
    ),
    runs_on: RunsOn::Server,
    families: &[Families {
        prefix: "pg_stat_activity_autovacuum",
        null: Null::Skip,
        columns: &[
            label("relname"),
            gauge(
                "timestamp_seconds",
                "Start timestamp of the vacuum process in seconds",
            ),
        ],
    }],
};

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn one_series_per_worker() {
        let fams = COLLECTOR.map(&[vec![text("orders"), num(1.7e9)]], &base());
        assert_eq!(
            first(&fams, "pg_stat_activity_autovacuum_timestamp_seconds"),
            (on_server(&["relname=orders"]), 1.7e9)
        );
    }
}
