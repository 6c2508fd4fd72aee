//! `pg_statio_user_indexes_idx_blks_{read,hit}_total{datname,schemaname,relname,indexrelname}`
//! (opt-in, current releases): block I/O per index. Runs on every database connection
//! (auto-discovery).

use exporter_core::MetricFamily;

use super::{
    counter, map_rows, on_each_database, Col, CollectorConfig, Null, PgCollector, PgFuture,
};
use crate::instance::Instance;
use crate::value::Cell;

const COLUMNS: &[Col] = &[
    counter(
        "idx_blks_read_total",
        "Number of disk blocks read from this index",
    ),
    counter("idx_blks_hit_total", "Number of buffer hits in this index"),
];

pub const SQL: &str = "SELECT current_database(), COALESCE(schemaname, 'unknown'), \
     COALESCE(relname, 'unknown'), COALESCE(indexrelname, 'unknown'), idx_blks_read, idx_blks_hit \
     FROM pg_statio_user_indexes";

pub fn map(rows: &[Vec<Cell>], base: &[exporter_core::Label]) -> Vec<MetricFamily> {
    map_rows(
        "pg_statio_user_indexes",
        &["datname", "schemaname", "relname", "indexrelname"],
        COLUMNS,
        rows,
        base,
        Null::Zero,
    )
}

pub struct StatioUserIndexes;

impl StatioUserIndexes {
    pub fn new(_: &CollectorConfig) -> Self {
        StatioUserIndexes
    }
}

impl PgCollector for StatioUserIndexes {
    fn collect<'a>(&'a self, inst: &'a Instance) -> PgFuture<'a> {
        on_each_database(
            inst,
            |_| SQL.to_string(),
            |rows, inst, _| map(rows, &inst.labels),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

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
        let fams = map(&[row], &base());
        let read = family(&fams, "pg_statio_user_indexes_idx_blks_read_total");
        assert_eq!(read.kind, exporter_core::MetricType::Counter);
        assert_eq!(
            series(read)[0],
            (
                vec![
                    "datname=app".into(),
                    "schemaname=public".into(),
                    "relname=orders".into(),
                    "indexrelname=orders_pkey".into(),
                    "server=h:5432".into()
                ],
                4.0
            )
        );
        assert_eq!(
            series(family(&fams, "pg_statio_user_indexes_idx_blks_hit_total"))[0].1,
            0.0
        );
    }
}
