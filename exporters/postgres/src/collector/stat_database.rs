//! `pg_stat_database_*` and `pg_stat_database_conflicts_*`: upstream's two built-in maps, read in
//! one query (a join), with upstream's names (counters without `_total`), types and labels.
//! Columns upstream has no description for are `untyped` "Unknown metric from ...", as upstream
//! 0.11; current releases' `pg_stat_database_active_time_seconds_total` comes beside them.

use exporter_core::{MetricFamily, MetricType};

use super::declarative::{counter, gauge, label, untyped, Col, Column, Families, Null};
use super::{on_main, PgCollector, PgFuture};
use crate::connection::Session;
use crate::instance::Instance;
use crate::value::Cell;

const UNKNOWN: &str = "Unknown metric from pg_stat_database";
const UNKNOWN_CONFLICTS: &str = "Unknown metric from pg_stat_database_conflicts";

/// (minimum server_version_num, column).
const STAT_COLUMNS: &[(u32, Column)] = &[
    (0, gauge("numbackends", "Number of backends currently connected to this database. This is the only column in this view that returns a value reflecting current state; all other columns return the accumulated values since the last reset.")),
    (0, counter("xact_commit", "Number of transactions in this database that have been committed")),
    (0, counter("xact_rollback", "Number of transactions in this database that have been rolled back")),
    (0, counter("blks_read", "Number of disk blocks read in this database")),
    (0, counter("blks_hit", "Number of times disk blocks were found already in the buffer cache, so that a read was not necessary (this only includes hits in the PostgreSQL buffer cache, not the operating system's file system cache)")),
    (0, counter("tup_returned", "Number of rows returned by queries in this database")),
    (0, counter("tup_fetched", "Number of rows fetched by queries in this database")),
    (0, counter("tup_inserted", "Number of rows inserted by queries in this database")),
    (0, counter("tup_updated", "Number of rows updated by queries in this database")),
    (0, counter("tup_deleted", "Number of rows deleted by queries in this database")),
    (0, counter("conflicts", "Number of queries canceled due to conflicts with recovery in this database. (Conflicts occur only on standby servers; see pg_stat_database_conflicts for details.)")),
    (0, counter("temp_files", "Number of temporary files created by queries in this database. All temporary files are counted, regardless of why the temporary file was created (e.g., sorting or hashing), and regardless of the log_temp_files setting.")),
    (0, counter("temp_bytes", "Total amount of data written to temporary files by queries in this database. All temporary files are counted, regardless of why the temporary file was created, and regardless of the log_temp_files setting.")),
    (0, counter("deadlocks", "Number of deadlocks detected in this database")),
    (0, counter("blk_read_time", "Time spent reading data file blocks by backends in this database, in milliseconds")),
    (0, counter("blk_write_time", "Time spent writing data file blocks by backends in this database, in milliseconds")),
    (0, counter("stats_reset", "Time at which these statistics were last reset")),
    (120000, untyped("checksum_failures", UNKNOWN)),
    (120000, untyped("checksum_last_failure", UNKNOWN)),
    (140000, untyped("session_time", UNKNOWN)),
    (140000, untyped("active_time", UNKNOWN)),
    (140000, untyped("idle_in_transaction_time", UNKNOWN)),
    (140000, untyped("sessions", UNKNOWN)),
    (140000, untyped("sessions_abandoned", UNKNOWN)),
    (140000, untyped("sessions_fatal", UNKNOWN)),
    (140000, untyped("sessions_killed", UNKNOWN)),
];

const CONFLICT_COLUMNS: &[(u32, Column)] = &[
    (
        0,
        counter(
            "confl_tablespace",
            "Number of queries in this database that have been canceled due to dropped tablespaces",
        ),
    ),
    (
        0,
        counter(
            "confl_lock",
            "Number of queries in this database that have been canceled due to lock timeouts",
        ),
    ),
    (
        0,
        counter(
            "confl_snapshot",
            "Number of queries in this database that have been canceled due to old snapshots",
        ),
    ),
    (
        0,
        counter(
            "confl_bufferpin",
            "Number of queries in this database that have been canceled due to pinned buffers",
        ),
    ),
    (
        0,
        counter(
            "confl_deadlock",
            "Number of queries in this database that have been canceled due to deadlocks",
        ),
    ),
    (
        160000,
        untyped("confl_active_logicalslot", UNKNOWN_CONFLICTS),
    ),
];

/// The value columns `version` has.
fn columns(version: u32, all: &[(u32, Column)]) -> Vec<Col> {
    all.iter()
        .filter(|(min, _)| version >= *min)
        .filter_map(|(_, c)| match c {
            Column::Value(col) => Some(*col),
            _ => None,
        })
        .collect()
}

/// The columns `version` has, of both views.
pub(crate) fn sql(version: u32) -> String {
    let mut s = String::from("SELECT d.datid, d.datname");
    for c in columns(version, STAT_COLUMNS) {
        s.push_str(", d.");
        s.push_str(c.name);
    }
    for c in columns(version, CONFLICT_COLUMNS) {
        s.push_str(", c.");
        s.push_str(c.name);
    }
    s.push_str(
        " FROM pg_stat_database d LEFT JOIN pg_stat_database_conflicts c ON c.datid = d.datid",
    );
    s
}

/// Rows: datid, datname, the stat columns, the conflict columns (NULL for the shared-objects row
/// that pg_stat_database_conflicts does not have).
pub(crate) fn map(
    rows: &[Vec<Cell>],
    version: u32,
    base: &[exporter_core::Label],
) -> Vec<MetricFamily> {
    let stat = columns(version, STAT_COLUMNS);
    let conflicts = columns(version, CONFLICT_COLUMNS);
    let split = 2 + stat.len();
    let labels = [label("datid"), label("datname")];
    let stat_table: Vec<Column> = labels
        .into_iter()
        .chain(stat.iter().map(|c| Column::Value(*c)))
        .collect();
    let conflict_table: Vec<Column> = labels
        .into_iter()
        .chain(stat.iter().map(|_| Column::Skip))
        .chain(conflicts.iter().map(|c| Column::Value(*c)))
        .collect();
    let conflict_rows: Vec<Vec<Cell>> = rows
        .iter()
        .filter(|r| r.len() > split && !r[split].is_null())
        .cloned()
        .collect();
    let mut out = Families {
        prefix: "pg_stat_database",
        null: Null::NaN,
        columns: &stat_table,
    }
    .map(rows, base);
    out.extend(
        Families {
            prefix: "pg_stat_database_conflicts",
            null: Null::NaN,
            columns: &conflict_table,
        }
        .map(&conflict_rows, base),
    );
    out.extend(active_time_seconds(&out));
    out
}

/// Current releases' `active_time_seconds_total`: the `active_time` column (milliseconds, 14+)
/// in seconds, as a counter.
fn active_time_seconds(families: &[MetricFamily]) -> Option<MetricFamily> {
    let millis = families
        .iter()
        .find(|f| f.name == "pg_stat_database_active_time")?;
    let mut seconds = MetricFamily::new(
        "pg_stat_database_active_time_seconds_total",
        "Time spent executing SQL statements in this database, in seconds",
        MetricType::Counter,
    );
    for sample in &millis.samples {
        seconds.push_labels(sample.labels.clone(), sample.value / 1000.0);
    }
    Some(seconds)
}

/// The collector (no state: the column set follows each server's version; no options).
#[derive(Default)]
pub(crate) struct StatDatabase;

impl PgCollector for StatDatabase {
    fn collect<'a>(&'a self, inst: &'a Instance) -> PgFuture<'a> {
        on_main(
            inst,
            |s: &Session| sql(s.version_num),
            |rows, inst, s| map(rows, s.version_num, &inst.labels),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn sql_follows_the_server_version() {
        assert!(
            sql(150000).contains("d.sessions_killed") && sql(150000).contains("c.confl_deadlock")
        );
        assert!(!sql(130000).contains("sessions") && sql(130000).contains("checksum_failures"));
        assert!(sql(160000).contains("confl_active_logicalslot"));
    }

    #[test]
    fn rows_become_upstream_families() {
        let v = 150000;
        let n = columns(v, STAT_COLUMNS).len();
        let mut shared = vec![Cell::Int(0), Cell::Null];
        shared.extend((0..n).map(|i| if i == 16 { Cell::Null } else { num(i as f64) }));
        shared.extend(std::iter::repeat_n(Cell::Null, 5));
        let mut db = vec![Cell::Int(5), text("postgres")];
        db.extend((0..n).map(|i| num(10.0 + i as f64)));
        db.extend(numbers(5, |_| false));
        let fams = map(&[shared, db], v, &base());
        let xact = family(&fams, "pg_stat_database_xact_commit");
        assert_eq!(xact.kind, MetricType::Counter);
        assert_eq!(
            series(xact),
            vec![
                (on_server(&["datid=0", "datname="]), 1.0),
                (on_server(&["datid=5", "datname=postgres"]), 11.0),
            ]
        );
        assert_eq!(
            family(&fams, "pg_stat_database_numbackends").kind,
            MetricType::Gauge
        );
        assert_eq!(
            family(&fams, "pg_stat_database_sessions").kind,
            MetricType::Untyped
        );
        assert!(first(&fams, "pg_stat_database_stats_reset").1.is_nan());
        // The shared-objects row has no conflicts row.
        let confl = family(&fams, "pg_stat_database_conflicts_confl_lock");
        assert_eq!(confl.samples.len(), 1);
        assert_eq!(confl.samples[0].value, 1.0);
        let active_ms = series(family(&fams, "pg_stat_database_active_time"))[1].1;
        let active = family(&fams, "pg_stat_database_active_time_seconds_total");
        assert_eq!(active.kind, MetricType::Counter);
        assert_eq!(series(active)[1].1, active_ms / 1000.0);
        let totals: Vec<_> = fams.iter().filter(|f| f.name.ends_with("_total")).collect();
        assert_eq!(
            totals.len(),
            1,
            "only the current release's active time has _total"
        );
    }
}
