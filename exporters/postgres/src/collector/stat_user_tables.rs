//! `pg_stat_user_tables_*{datname,schemaname,relname}`: per-table access and maintenance
//! statistics and sizes. Runs on every database connection (auto-discovery), from the catalog
//! pass it shares with statio_user_tables ([`super::user_tables`]); the sizes come from
//! [`super::table_sizes`], re-read at most once per `--collector.stat_user_tables.size-interval`.

use std::sync::Arc;

use exporter_core::MetricFamily;
use tokio_postgres::Row;

use super::declarative::{counter, gauge, label, Families, Null};
use super::table_sizes::{DatabaseSizes, TableSizes};
use super::user_tables::{Part, UserTables};
use super::{each_database, Build, PgCollector, PgFuture};
use crate::connection::{Connection, QueryError};
use crate::instance::Instance;
use crate::value::{cells_in, Cell};

/// Rows: datname, schemaname, relname, the view's columns, index size, table size. NULLs (never
/// vacuumed, no index scan yet) are 0, as upstream reports them.
const FAMILIES: Families<'static> = Families {
    prefix: "pg_stat_user_tables",
    null: Null::Zero,
    columns: &[
        label("datname"),
        label("schemaname"),
        label("relname"),
        counter(
            "seq_scan",
            "Number of sequential scans initiated on this table",
        ),
        counter(
            "seq_tup_read",
            "Number of live rows fetched by sequential scans",
        ),
        counter("idx_scan", "Number of index scans initiated on this table"),
        counter(
            "idx_tup_fetch",
            "Number of live rows fetched by index scans",
        ),
        counter("n_tup_ins", "Number of rows inserted"),
        counter("n_tup_upd", "Number of rows updated"),
        counter("n_tup_del", "Number of rows deleted"),
        counter(
            "n_tup_hot_upd",
            "Number of rows HOT updated (i.e., with no separate index update required)",
        ),
        gauge("n_live_tup", "Estimated number of live rows"),
        gauge("n_dead_tup", "Estimated number of dead rows"),
        gauge(
            "n_mod_since_analyze",
            "Estimated number of rows changed since last analyze",
        ),
        gauge(
            "last_vacuum",
            "Last time at which this table was manually vacuumed (not counting VACUUM FULL)",
        ),
        gauge(
            "last_autovacuum",
            "Last time at which this table was vacuumed by the autovacuum daemon",
        ),
        gauge(
            "last_analyze",
            "Last time at which this table was manually analyzed",
        ),
        gauge(
            "last_autoanalyze",
            "Last time at which this table was analyzed by the autovacuum daemon",
        ),
        counter(
            "vacuum_count",
            "Number of times this table has been manually vacuumed (not counting VACUUM FULL)",
        ),
        counter(
            "autovacuum_count",
            "Number of times this table has been vacuumed by the autovacuum daemon",
        ),
        counter(
            "analyze_count",
            "Number of times this table has been manually analyzed",
        ),
        counter(
            "autoanalyze_count",
            "Number of times this table has been analyzed by the autovacuum daemon",
        ),
        gauge(
            "index_size_bytes",
            "Total disk space used by this index, in bytes",
        ),
        gauge(
            "table_size_bytes",
            "Total disk space used by this table, in bytes",
        ),
    ],
};

/// The collector: the shared catalog pass and the sizes held per database.
pub(crate) struct StatUserTables {
    tables: Arc<UserTables>,
    sizes: TableSizes,
}

impl StatUserTables {
    /// Turns its part of the shared pass on.
    pub(crate) fn new(build: &Build) -> Self {
        StatUserTables {
            tables: UserTables::joined(build, Part::Stat),
            sizes: TableSizes::new(build.config.table_size_interval),
        }
    }

    async fn database(
        &self,
        inst: &Instance,
        connection: &Connection,
    ) -> Result<Vec<MetricFamily>, QueryError> {
        let part = self
            .tables
            .rows_for(Part::Stat, inst.server(), connection)
            .await?;
        let tables: Vec<u32> = part.rows.iter().filter_map(relid).collect();
        let sizes = self
            .sizes
            .of(inst.server(), connection, &part.session, &tables)
            .await?;
        let sizes = sizes.lock().await;
        let rows: Vec<Vec<Cell>> = part
            .rows
            .iter()
            .map(|row| with_sizes(cells_in(row, 0..3, part.columns.clone()), row, &sizes))
            .collect();
        Ok(FAMILIES.map(&rows, &inst.labels))
    }
}

fn relid(row: &Row) -> Option<u32> {
    row.try_get::<_, u32>(3).ok()
}

/// `cells` with the table's index and table size appended. Every listed table was sized on this
/// scrape or before; NULLs (reported as 0, as upstream reports a NULL size) only for a table
/// dropped between the statistics and the size query.
fn with_sizes(mut cells: Vec<Cell>, row: &Row, sizes: &DatabaseSizes) -> Vec<Cell> {
    match relid(row).and_then(|t| sizes.get(t)) {
        Some(s) => cells.extend([Cell::Float(s.index_bytes), Cell::Float(s.table_bytes)]),
        None => cells.extend([Cell::Null, Cell::Null]),
    }
    cells
}

impl PgCollector for StatUserTables {
    fn collect<'a>(&'a self, inst: &'a Instance) -> PgFuture<'a> {
        Box::pin(async move {
            let connections = inst.database_connections().await?;
            let names: Vec<String> = connections
                .iter()
                .map(|c| c.dsn().effective_dbname().to_string())
                .collect();
            self.sizes.keep_only(inst.server(), &names);
            each_database(connections, |connection| async move {
                self.database(inst, &connection).await
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn per_table_series_with_nulls_as_zero() {
        let row = table_row("orders", numbers(21, |i| i == 11));
        let fams = FAMILIES.map(&[row], &base());
        assert_eq!(fams.len(), 21);
        assert_eq!(
            first(&fams, "pg_stat_user_tables_n_live_tup"),
            (
                on_server(&["datname=app", "schemaname=public", "relname=orders"]),
                8.0
            )
        );
        assert_eq!(value(&fams, "pg_stat_user_tables_last_vacuum"), 0.0);
        assert_eq!(
            family(&fams, "pg_stat_user_tables_seq_scan").kind,
            exporter_core::MetricType::Counter
        );
    }
}
