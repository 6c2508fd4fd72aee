//! `pg_statio_user_tables_*{datname,schemaname,relname}` (opt-in): block reads and buffer hits
//! per table, its indexes and its TOAST table.

use exporter_core::MetricFamily;

use super::{
    counter, map_rows, on_each_database, Col, CollectorConfig, Null, PgCollector, PgFuture,
};
use crate::instance::Instance;
use crate::value::Cell;

const COLUMNS: &[Col] = &[
    counter(
        "heap_blocks_read",
        "Number of disk blocks read from this table",
    ),
    counter("heap_blocks_hit", "Number of buffer hits in this table"),
    counter(
        "idx_blocks_read",
        "Number of disk blocks read from all indexes on this table",
    ),
    counter(
        "idx_blocks_hit",
        "Number of buffer hits in all indexes on this table",
    ),
    counter(
        "toast_blocks_read",
        "Number of disk blocks read from this table's TOAST table (if any)",
    ),
    counter(
        "toast_blocks_hit",
        "Number of buffer hits in this table's TOAST table (if any)",
    ),
    counter(
        "tidx_blocks_read",
        "Number of disk blocks read from this table's TOAST table indexes (if any)",
    ),
    counter(
        "tidx_blocks_hit",
        "Number of buffer hits in this table's TOAST table indexes (if any)",
    ),
];

pub const SQL: &str =
    "SELECT current_database(), schemaname, relname, heap_blks_read, heap_blks_hit, \
     idx_blks_read, idx_blks_hit, toast_blks_read, toast_blks_hit, tidx_blks_read, tidx_blks_hit \
     FROM pg_statio_user_tables";

pub fn map(rows: &[Vec<Cell>], base: &[exporter_core::Label]) -> Vec<MetricFamily> {
    map_rows(
        "pg_statio_user_tables",
        super::stat_user_tables::LABELS,
        COLUMNS,
        rows,
        base,
        Null::Zero,
    )
}

pub struct StatioUserTables;

impl StatioUserTables {
    pub fn new(_: &CollectorConfig) -> Self {
        StatioUserTables
    }
}

impl PgCollector for StatioUserTables {
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
    fn block_counters() {
        let mut row = vec![text("app"), text("public"), text("t")];
        row.extend((0..8).map(|i| if i >= 4 { Cell::Null } else { Cell::Int(i) }));
        let fams = map(&[row], &base());
        assert_eq!(fams.len(), 8);
        assert_eq!(
            series(family(&fams, "pg_statio_user_tables_idx_blocks_hit"))[0].1,
            3.0
        );
        assert_eq!(
            series(family(&fams, "pg_statio_user_tables_toast_blocks_hit"))[0].1,
            0.0
        );
    }
}
