//! `pg_stat_bgwriter_*_total`: the counters upstream 0.11 renamed with `_total`. On PostgreSQL 17+
//! the checkpoint counters moved to pg_stat_checkpointer and are read from there under the same
//! names; `buffers_backend*` no longer exist there and are left out.

use super::declarative::{counter, DeclarativeCollector, Families, Null, RunsOn, Sql};

/// One row, one counter per column.
pub(crate) const COLLECTOR: DeclarativeCollector = DeclarativeCollector {
    sql: Sql::ByVersion(sql),
    runs_on: RunsOn::Server,
    families: &[Families {
        prefix: "pg_stat_bgwriter",
        null: Null::Skip,
        columns: &[
            counter("checkpoints_timed_total", "Number of scheduled checkpoints that have been performed"),
            counter("checkpoints_req_total", "Number of requested checkpoints that have been performed"),
            counter("checkpoint_write_time_total", "Total amount of time that has been spent in the portion of checkpoint processing where files are written to disk, in milliseconds"),
            counter("checkpoint_sync_time_total", "Total amount of time that has been spent in the portion of checkpoint processing where files are synchronized to disk, in milliseconds"),
            counter("buffers_checkpoint_total", "Number of buffers written during checkpoints"),
            counter("buffers_clean_total", "Number of buffers written by the background writer"),
            counter("maxwritten_clean_total", "Number of times the background writer stopped a cleaning scan because it had written too many buffers"),
            counter("buffers_backend_total", "Number of buffers written directly by a backend"),
            counter("buffers_backend_fsync_total", "Number of times a backend had to execute its own fsync call (normally the background writer handles those even when the backend does its own write)"),
            counter("buffers_alloc_total", "Number of buffers allocated"),
            counter("stats_reset_total", "Time at which these statistics were last reset"),
        ],
    }],
};

/// The checkpoint columns come from pg_stat_checkpointer on 17+.
pub(crate) fn sql(version: u32) -> String {
    if version >= 170000 {
        "SELECT c.num_timed, c.num_requested, c.write_time, c.sync_time, c.buffers_written, \
         b.buffers_clean, b.maxwritten_clean, NULL::int8, NULL::int8, b.buffers_alloc, b.stats_reset \
         FROM pg_stat_bgwriter b, pg_stat_checkpointer c"
    } else {
        "SELECT checkpoints_timed, checkpoints_req, checkpoint_write_time, checkpoint_sync_time, \
         buffers_checkpoint, buffers_clean, maxwritten_clean, buffers_backend, buffers_backend_fsync, \
         buffers_alloc, stats_reset FROM pg_stat_bgwriter"
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::value::Cell;

    #[test]
    fn counters_with_total_suffix() {
        let mut row: Vec<Cell> = numbers(10, |_| false).collect();
        row.push(Cell::Time(1_700_000_000.5));
        let fams = COLLECTOR.map(&[row], &base());
        assert_eq!(fams.len(), 11);
        assert!(fams
            .iter()
            .all(|f| f.name.starts_with("pg_stat_bgwriter_") && f.name.ends_with("_total")));
        assert_eq!(value(&fams, "pg_stat_bgwriter_buffers_alloc_total"), 9.0);
        assert_eq!(
            first(&fams, "pg_stat_bgwriter_stats_reset_total"),
            (on_server(&[]), 1_700_000_000.0)
        );
        // PostgreSQL 17: no buffers_backend.
        let mut row: Vec<Cell> = numbers(10, |i| i == 7 || i == 8).collect();
        row.push(Cell::Time(1.0));
        assert_eq!(COLLECTOR.map(&[row], &base()).len(), 9);
        assert!(sql(170000).contains("pg_stat_checkpointer"));
    }
}
