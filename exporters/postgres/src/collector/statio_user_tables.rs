//! `pg_statio_user_tables_*{datname,schemaname,relname}`: block reads and buffer hits per
//! table, its indexes and its TOAST table. Runs on every database connection (auto-discovery),
//! from the catalog pass it shares with stat_user_tables ([`super::user_tables`]).

use std::sync::Arc;

use exporter_core::MetricFamily;

use super::declarative::{counter, label, Families, Null};
use super::user_tables::{is_partitioned_only, Part, UserTables};
use super::{each_database, Build, PgCollector, PgFuture};
use crate::connection::{Connection, QueryError};
use crate::instance::Instance;
use crate::value::cells_in;

/// Rows: datname, schemaname, relname, the view's columns. NULLs (no TOAST table, no index) are
/// 0, as upstream reports them.
const FAMILIES: Families<'static> = Families {
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
};

/// The collector: its part of the catalog pass it shares with stat_user_tables.
pub(crate) struct StatioUserTables {
    tables: Arc<UserTables>,
}

impl StatioUserTables {
    /// Turns its part of the shared pass on.
    pub(crate) fn new(build: &Build) -> Self {
        StatioUserTables {
            tables: UserTables::joined(build, Part::Statio),
        }
    }

    async fn database(
        &self,
        inst: &Instance,
        connection: &Connection,
    ) -> Result<Vec<MetricFamily>, QueryError> {
        let part = self
            .tables
            .rows_for(Part::Statio, inst.server(), connection)
            .await?;
        let rows: Vec<_> = part
            .rows
            .iter()
            .filter(|row| !is_partitioned_only(row, &part.columns))
            .map(|row| cells_in(row, 0..3, part.columns.clone()))
            .collect();
        Ok(FAMILIES.map(&rows, &inst.labels))
    }
}

impl PgCollector for StatioUserTables {
    fn collect<'a>(&'a self, inst: &'a Instance) -> PgFuture<'a> {
        Box::pin(async move {
            each_database(
                inst.database_connections().await?,
                |connection| async move { self.database(inst, &connection).await },
            )
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::value::Cell;

    #[test]
    fn block_counters() {
        // Block counts arrive as bigint: the integer cells' path.
        let counts = (0..8).map(|i| if i >= 4 { Cell::Null } else { Cell::Int(i) });
        let fams = FAMILIES.map(&[table_row("t", counts)], &base());
        assert_eq!(fams.len(), 8);
        assert_eq!(value(&fams, "pg_statio_user_tables_idx_blocks_hit"), 3.0);
        assert_eq!(value(&fams, "pg_statio_user_tables_toast_blocks_hit"), 0.0);
    }
}
