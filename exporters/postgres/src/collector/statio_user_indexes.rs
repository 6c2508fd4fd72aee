//! `pg_statio_user_indexes_idx_blks_{read,hit}_total{datname,schemaname,relname,indexrelname}`
//! (opt-in, current releases): block I/O per index. Runs on every database connection
//! (auto-discovery).

use super::declarative::{counter, label, DeclarativeCollector, Families, Null, RunsOn, Sql};

/// One row per index; NULL counts are 0.
pub(crate) const COLLECTOR: DeclarativeCollector = DeclarativeCollector {
    sql: Sql::Fixed(
        "SELECT current_database(), COALESCE(schemaname, 'unknown'), \
         COALESCE(relname, 'unknown'), COALESCE(indexrelname, 'unknown'), idx_blks_read, idx_blks_hit \
         FROM pg_statio_user_indexes",
    ),
    runs_on: RunsOn::EachDatabase,
    families: &[Families {
        prefix: "pg_statio_user_indexes",
        null: Null::Zero,
        columns: &[
            label("datname"),
            label("schemaname"),
            label("relname"),
            label("indexrelname"),
            counter(
                "idx_blks_read_total",
                "Number of disk blocks read from this index",
            ),
            counter("idx_blks_hit_total", "Number of buffer hits in this index"),
        ],
    }],
};

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::value::Cell;

    #[test]
    fn per_index_counters() {
        let row = vec![
            text("app"),
            text("public"),
            text("orders"),
            text("orders_pkey"),
            Cell::Int(4),
            Cell::Null,
        ];
        let fams = COLLECTOR.map(&[row], &base());
        let read = family(&fams, "pg_statio_user_indexes_idx_blks_read_total");
        assert_eq!(read.kind, exporter_core::MetricType::Counter);
        assert_eq!(
            series(read)[0],
            (
                on_server(&[
                    "datname=app",
                    "schemaname=public",
                    "relname=orders",
                    "indexrelname=orders_pkey"
                ]),
                4.0
            )
        );
        assert_eq!(
            value(&fams, "pg_statio_user_indexes_idx_blks_hit_total"),
            0.0
        );
    }
}
