//! `pg_stat_statements_*{user,datname,queryid}` (opt-in): the most expensive statements by total
//! execution time. Where the extension is not installed the view does not exist and the
//! collector reports success 0 with a debug log, nothing more. Rows that PostgreSQL 14+ splits by
//! `toplevel` are summed, so no series is duplicated.

use super::declarative::{counter, label, Families, Null};
use super::{on_main, CollectorConfig, PgCollector, PgFuture};
use crate::instance::Instance;

/// One row per statement (summed over `toplevel`); NULL times are 0.
const FAMILIES: Families<'static> = Families {
    prefix: "pg_stat_statements",
    null: Null::Zero,
    columns: &[
        label("user"),
        label("datname"),
        label("queryid"),
        counter("calls_total", "Number of times executed"),
        counter(
            "seconds_total",
            "Total time spent in the statement, in seconds",
        ),
        counter(
            "rows_total",
            "Total number of rows retrieved or affected by the statement",
        ),
        counter(
            "block_read_seconds_total",
            "Total time the statement spent reading blocks, in seconds",
        ),
        counter(
            "block_write_seconds_total",
            "Total time the statement spent writing blocks, in seconds",
        ),
    ],
};

/// Column names changed in 13 and 17; `limit` statements by total time.
pub(crate) fn sql(version: u32, limit: u32) -> String {
    let (total, read, write) = if version >= 170000 {
        (
            "total_exec_time",
            "shared_blk_read_time",
            "shared_blk_write_time",
        )
    } else if version >= 130000 {
        ("total_exec_time", "blk_read_time", "blk_write_time")
    } else {
        ("total_time", "blk_read_time", "blk_write_time")
    };
    format!(
        "SELECT pg_get_userbyid(s.userid), d.datname, s.queryid::text, sum(s.calls)::float8, \
         sum(s.{total})::float8 / 1000, sum(s.rows)::float8, sum(s.{read})::float8 / 1000, \
         sum(s.{write})::float8 / 1000 \
         FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid \
         WHERE s.queryid IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 5 DESC LIMIT {limit}"
    )
}

/// The collector, with `--collector.stat_statements.limit`.
pub(crate) struct StatStatements {
    limit: u32,
}

impl StatStatements {
    /// The collector with the configured limit.
    pub(crate) fn new(cfg: &CollectorConfig) -> Self {
        StatStatements {
            limit: cfg.stat_statements_limit,
        }
    }
}

impl PgCollector for StatStatements {
    fn collect<'a>(&'a self, inst: &'a Instance) -> PgFuture<'a> {
        let limit = self.limit;
        on_main(
            inst,
            move |s| sql(s.version_num, limit),
            |rows, inst, _| FAMILIES.map(rows, &inst.labels),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::value::Cell;

    #[test]
    fn statement_counters() {
        let rows = vec![vec![
            text("app"),
            text("shop"),
            text("-4242"),
            num(10.0),
            num(1.5),
            num(20.0),
            num(0.0),
            Cell::Null,
        ]];
        let fams = FAMILIES.map(&rows, &base());
        assert_eq!(
            first(&fams, "pg_stat_statements_seconds_total"),
            (
                on_server(&["user=app", "datname=shop", "queryid=-4242"]),
                1.5
            )
        );
        assert_eq!(
            first(&fams, "pg_stat_statements_block_write_seconds_total").1,
            0.0
        );
        assert!(
            sql(120000, 5).contains("total_time") && sql(150000, 5).contains("total_exec_time")
        );
        assert!(
            sql(170000, 5).contains("shared_blk_read_time") && sql(170000, 5).ends_with("LIMIT 5")
        );
    }
}
