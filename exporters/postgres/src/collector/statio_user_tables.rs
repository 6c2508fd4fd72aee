//! `pg_statio_user_tables_*{datname,schemaname,relname}`: block reads and buffer hits per
//! table, its indexes and its TOAST table. Runs on every database connection (auto-discovery).

use super::declarative::{counter, label, DeclarativeCollector, Families, Null, RunsOn, Sql};

/// One row per table; NULLs (no TOAST table, no index) are 0, as upstream reports them.
pub(crate) const COLLECTOR: DeclarativeCollector = DeclarativeCollector {
    sql: Sql::Fixed(
        "SELECT current_database(), schemaname, relname, heap_blks_read, heap_blks_hit, \
     idx_blks_read, idx_blks_hit, toast_blks_read, toast_blks_hit, tidx_blks_read, tidx_blks_hit \
     FROM pg_statio_user_tables",
    ),
    runs_on: RunsOn::EachDatabase,
    families: &[Families {
        prefix: "pg_statio_user_tables",
        null: Null::Zero,
        columns: &[
            label("datname"),
            label("schemaname"),
            label("relname"),
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
        ],
    }],
};

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::value::Cell;

    #[test]
    fn block_counters() {
        let mut row = vec![text("app"), text("public"), text("t")];
        row.extend((0..8).map(|i| if i >= 4 { Cell::Null } else { Cell::Int(i) }));
        let fams = COLLECTOR.map(&[row], &base());
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
