//! One catalog pass per database and scrape for the two per-table collectors,
//! `stat_user_tables` and `statio_user_tables`.
//!
//! The views `pg_stat_user_tables` and `pg_statio_user_tables` each scan pg_class, join
//! pg_namespace and pg_index, and fetch every table's statistics entry: two queries did all of
//! that twice per database. On PostgreSQL 15 and later one hand-written query over pg_class reads
//! the columns of both views at once (the same `pg_stat_get_*` calls the views make, without
//! their GROUP BY), and the two collectors share its rows within a scrape: the first to ask runs
//! it, the other waits for the same rows. Older servers keep one view query per collector: the
//! views' row sets (which relkinds they list) are only checked here against 15's definitions.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;
use tokio_postgres::Row;

use super::{database_key, Build, DatabaseKey};
use crate::connection::{Connection, QueryError, Session};

/// The first server version (`server_version_num`) that gets the hand-written pass.
const HAND_WRITTEN_FROM: u32 = 150000;

/// Leading columns of every row: datname, schemaname, relname, relid.
const KEY_COLUMNS: usize = 4;

/// The `pg_stat_user_tables` columns, as the view computes them from the table's oid `c.oid`
/// and the sums `i.*` over its indexes.
const STAT_COLUMNS: &[&str] = &[
    "pg_stat_get_numscans(c.oid)",
    "pg_stat_get_tuples_returned(c.oid)",
    "i.idx_scan",
    "i.idx_tup_fetch + pg_stat_get_tuples_fetched(c.oid)",
    "pg_stat_get_tuples_inserted(c.oid)",
    "pg_stat_get_tuples_updated(c.oid)",
    "pg_stat_get_tuples_deleted(c.oid)",
    "pg_stat_get_tuples_hot_updated(c.oid)",
    "pg_stat_get_live_tuples(c.oid)",
    "pg_stat_get_dead_tuples(c.oid)",
    "pg_stat_get_mod_since_analyze(c.oid)",
    "pg_stat_get_last_vacuum_time(c.oid)",
    "pg_stat_get_last_autovacuum_time(c.oid)",
    "pg_stat_get_last_analyze_time(c.oid)",
    "pg_stat_get_last_autoanalyze_time(c.oid)",
    "pg_stat_get_vacuum_count(c.oid)",
    "pg_stat_get_autovacuum_count(c.oid)",
    "pg_stat_get_analyze_count(c.oid)",
    "pg_stat_get_autoanalyze_count(c.oid)",
];

/// The same columns by their names in the view, for servers before 15.
const STAT_VIEW_COLUMNS: &str = "seq_scan, seq_tup_read, idx_scan, idx_tup_fetch, n_tup_ins, \
    n_tup_upd, n_tup_del, n_tup_hot_upd, n_live_tup, n_dead_tup, n_mod_since_analyze, \
    last_vacuum, last_autovacuum, last_analyze, last_autoanalyze, vacuum_count, \
    autovacuum_count, analyze_count, autoanalyze_count";

/// The `pg_statio_user_tables` columns, from the table's oid, its TOAST table's oid (NULL when
/// it has none, as the view's outer join gives) and the sums over their indexes `i.*`.
const STATIO_COLUMNS: &[&str] = &[
    "pg_stat_get_blocks_fetched(c.oid) - pg_stat_get_blocks_hit(c.oid)",
    "pg_stat_get_blocks_hit(c.oid)",
    "i.idx_blks_read",
    "i.idx_blks_hit",
    "pg_stat_get_blocks_fetched(NULLIF(c.reltoastrelid, 0)) \
     - pg_stat_get_blocks_hit(NULLIF(c.reltoastrelid, 0))",
    "pg_stat_get_blocks_hit(NULLIF(c.reltoastrelid, 0))",
    "i.tidx_blks_read",
    "i.tidx_blks_hit",
];

const STATIO_VIEW_COLUMNS: &str = "heap_blks_read, heap_blks_hit, idx_blks_read, idx_blks_hit, \
    toast_blks_read, toast_blks_hit, tidx_blks_read, tidx_blks_hit";

/// Which of the two collectors are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Stat,
    Statio,
}

/// The pass both per-table collectors read from, with the rows of the scrape in progress.
#[derive(Default)]
pub(crate) struct UserTables {
    stat: AtomicBool,
    statio: AtomicBool,
    /// Per server and database: the scrape (its deadline) and that scrape's rows, run once.
    current: Mutex<HashMap<DatabaseKey, (tokio::time::Instant, Arc<Pass>)>>,
}

type Pass = OnceCell<Result<Arc<Vec<Row>>, QueryError>>;

impl UserTables {
    /// The pass of `build` with `part` turned on: what `part`'s collector holds.
    pub(crate) fn joined(build: &Build, part: Part) -> Arc<UserTables> {
        build.user_tables.enable(part);
        Arc::clone(&build.user_tables)
    }

    /// Records that `part`'s collector is on; called when it is built, before any scrape.
    pub(crate) fn enable(&self, part: Part) {
        self.flag(part).store(true, Ordering::Relaxed);
    }

    fn flag(&self, part: Part) -> &AtomicBool {
        match part {
            Part::Stat => &self.stat,
            Part::Statio => &self.statio,
        }
    }

    fn enabled(&self, part: Part) -> bool {
        self.flag(part).load(Ordering::Relaxed)
    }

    /// Whether one query serves both collectors on a server of `version`.
    fn merged(&self, version: u32) -> bool {
        version >= HAND_WRITTEN_FROM
    }

    /// Where `part`'s value columns are in the rows [`rows`](Self::rows) gives it; the key
    /// columns (datname, schemaname, relname, relid) always come first.
    pub(crate) fn columns(&self, part: Part, version: u32) -> Range<usize> {
        let len = match part {
            Part::Stat => STAT_COLUMNS.len(),
            Part::Statio => STATIO_COLUMNS.len(),
        };
        let before = if part == Part::Statio && self.merged(version) && self.enabled(Part::Stat) {
            STAT_COLUMNS.len()
        } else {
            0
        };
        KEY_COLUMNS + before..KEY_COLUMNS + before + len
    }

    /// The query that gives `part` its rows on a server of `version`.
    pub(crate) fn sql(&self, part: Part, version: u32) -> String {
        if !self.merged(version) {
            let (columns, view) = match part {
                Part::Stat => (STAT_VIEW_COLUMNS, "pg_stat_user_tables"),
                Part::Statio => (STATIO_VIEW_COLUMNS, "pg_statio_user_tables"),
            };
            return format!(
                "SELECT current_database(), schemaname, relname, relid, {columns} FROM {view}"
            );
        }
        hand_written(self.enabled(Part::Stat), self.enabled(Part::Statio))
    }

    /// The rows `part` reads on the database `connection` is on, with the session they came
    /// from and where `part`'s columns are in them.
    pub(crate) async fn rows_for(
        &self,
        part: Part,
        server: &str,
        connection: &Connection,
    ) -> Result<PartRows, QueryError> {
        let session = connection.session().await?;
        let rows = self.rows(part, server, connection, &session).await?;
        Ok(PartRows {
            columns: self.columns(part, session.version_num),
            session,
            rows,
        })
    }

    /// Within one scrape, when the server gets the merged query, the second collector to ask
    /// gets the first one's rows.
    async fn rows(
        &self,
        part: Part,
        server: &str,
        connection: &Connection,
        session: &Arc<Session>,
    ) -> Result<Arc<Vec<Row>>, QueryError> {
        let run = || async {
            let text = self.sql(part, session.version_num);
            connection.query(session, &text).await.map(Arc::new)
        };
        let scrape = exporter_core::scrape_deadline();
        let (Some(scrape), true) = (scrape, self.merged(session.version_num)) else {
            return run().await;
        };
        let pass = {
            let Ok(mut current) = self.current.lock() else {
                return run().await;
            };
            // Entries of earlier scrapes are of no use any more.
            current.retain(|_, (at, _)| *at == scrape);
            Arc::clone(
                &current
                    .entry(database_key(server, connection))
                    .or_insert_with(|| (scrape, Arc::new(Pass::new())))
                    .1,
            )
        };
        pass.get_or_init(run).await.clone()
    }
}

/// What one collector reads on one database.
pub(crate) struct PartRows {
    pub(crate) session: Arc<Session>,
    pub(crate) rows: Arc<Vec<Row>>,
    /// Where the collector's value columns are; the key columns come first.
    pub(crate) columns: Range<usize>,
}

/// The merged query for the parts that are on. Its rows are those of `pg_stat_user_tables`
/// (relkinds r, t, m, p outside pg_catalog, information_schema and pg_toast*); when only
/// `statio` is on, those of `pg_statio_user_tables` (which lists no partitioned table, `p`).
/// With both on, a partitioned table's statio columns come out NULL: statio leaves such rows
/// out (see [`is_partitioned_only`]).
fn hand_written(stat: bool, statio: bool) -> String {
    let mut columns = vec!["current_database()", "n.nspname", "c.relname", "c.oid"];
    // The index sums come from one pass over pg_index per table. With statio it also takes the
    // TOAST table's indexes (one index scan for both, where the views make one each: ~8% of
    // the query at 10,000 tables), each sum keeping its own relation's rows.
    let mut index_sums = Vec::new();
    if stat || !statio {
        columns.extend(STAT_COLUMNS);
        index_sums.push(own_indexes("pg_stat_get_numscans(indexrelid)", "idx_scan"));
        index_sums.push(own_indexes(
            "pg_stat_get_tuples_fetched(indexrelid)",
            "idx_tup_fetch",
        ));
    }
    let mut indexed = "indrelid = c.oid";
    if statio {
        columns.extend(STATIO_COLUMNS);
        columns.push("c.relkind = 'p'");
        index_sums.push(own_indexes(BLOCKS_READ, "idx_blks_read"));
        index_sums.push(own_indexes(BLOCKS_HIT, "idx_blks_hit"));
        index_sums.push(toast_indexes(BLOCKS_READ, "tidx_blks_read"));
        index_sums.push(toast_indexes(BLOCKS_HIT, "tidx_blks_hit"));
        indexed = "indrelid = ANY (ARRAY[c.oid, NULLIF(c.reltoastrelid, 0)])";
    }
    let kinds = if stat || !statio {
        "'r', 't', 'm', 'p'"
    } else {
        "'r', 't', 'm'"
    };
    format!(
        "SELECT {} FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN LATERAL (SELECT {} FROM pg_index WHERE {indexed}) i ON true \
         WHERE c.relkind IN ({kinds}) AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
         AND n.nspname !~ '^pg_toast'",
        columns.join(", "),
        index_sums.join(", "),
    )
}

/// Blocks read and hit of one index, as pg_statio_all_tables counts them.
const BLOCKS_READ: &str =
    "pg_stat_get_blocks_fetched(indexrelid) - pg_stat_get_blocks_hit(indexrelid)";
const BLOCKS_HIT: &str = "pg_stat_get_blocks_hit(indexrelid)";

/// `value` summed over the table's own indexes, as `name` (NULL when it has none, as the views').
fn own_indexes(value: &str, name: &str) -> String {
    format!("sum(CASE WHEN indrelid = c.oid THEN {value} END)::bigint AS {name}")
}

/// `value` summed over the indexes of the table's TOAST table, as `name`.
fn toast_indexes(value: &str, name: &str) -> String {
    format!("sum(CASE WHEN indrelid <> c.oid THEN {value} END)::bigint AS {name}")
}

/// Whether a row of the merged query is a partitioned table, which `pg_statio_user_tables`
/// does not list: the flag column after statio's columns, present when statio is on.
pub(crate) fn is_partitioned_only(row: &Row, statio: &Range<usize>) -> bool {
    row.len() > statio.end && row.try_get::<_, bool>(statio.end).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(parts: &[Part]) -> UserTables {
        let t = UserTables::default();
        for p in parts {
            t.enable(*p);
        }
        t
    }

    #[test]
    fn merged_rows_put_statio_after_stat() {
        let both = with(&[Part::Stat, Part::Statio]);
        assert_eq!(both.columns(Part::Stat, 150000), 4..23);
        assert_eq!(both.columns(Part::Statio, 150000), 23..31);
        let sql = both.sql(Part::Statio, 150000);
        assert_eq!(sql, both.sql(Part::Stat, 160000));
        assert!(sql.contains("'r', 't', 'm', 'p'") && sql.contains("c.relkind = 'p'"));
        // Before 15 each collector reads its own view, value columns right after the key.
        assert_eq!(both.columns(Part::Statio, 140000), 4..12);
        assert!(both
            .sql(Part::Statio, 140000)
            .ends_with("FROM pg_statio_user_tables"));
    }

    #[test]
    fn one_part_alone_reads_only_its_columns_and_rows() {
        let statio = with(&[Part::Statio]);
        assert_eq!(statio.columns(Part::Statio, 150000), 4..12);
        let sql = statio.sql(Part::Statio, 150000);
        assert!(!sql.contains("pg_stat_get_numscans") && sql.contains("'r', 't', 'm')"));
        let stat = with(&[Part::Stat]);
        let sql = stat.sql(Part::Stat, 150000);
        assert!(!sql.contains("pg_stat_get_blocks_hit") && sql.contains("'m', 'p'"));
    }
}
