//! `pg_stat_user_tables_*{datname,schemaname,relname}`: per-table access and maintenance
//! statistics and sizes. Runs on every database connection (auto-discovery).

use super::declarative::{
    counter, gauge, label, DeclarativeCollector, Families, Null, RunsOn, Sql,
};

/// One row per table; NULLs (never vacuumed, no index scan yet) are 0, as upstream reports them.
pub(crate) const COLLECTOR: DeclarativeCollector = DeclarativeCollector {
    sql: Sql::Fixed(
        "SELECT current_database(), schemaname, relname, seq_scan, seq_tup_read, \
     idx_scan, idx_tup_fetch, n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd, n_live_tup, n_dead_tup, \
     n_mod_since_analyze, last_vacuum, last_autovacuum, last_analyze, last_autoanalyze, vacuum_count, \
     autovacuum_count, analyze_count, autoanalyze_count, pg_indexes_size(relid), pg_table_size(relid) \
     FROM pg_stat_user_tables",
    ),
    runs_on: RunsOn::EachDatabase,
    families: &[Families {
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
    }],
};

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::value::Cell;

    #[test]
    fn per_table_series_with_nulls_as_zero() {
        let mut row = vec![text("app"), text("public"), text("orders")];
        row.extend((0..21).map(|i| if i == 11 { Cell::Null } else { num(i as f64) }));
        let fams = COLLECTOR.map(&[row], &base());
        assert_eq!(fams.len(), 21);
        assert_eq!(
            series(family(&fams, "pg_stat_user_tables_n_live_tup"))[0],
            (
                vec![
                    "datname=app".into(),
                    "schemaname=public".into(),
                    "relname=orders".into(),
                    "server=h:5432".into()
                ],
                8.0
            )
        );
        assert_eq!(
            series(family(&fams, "pg_stat_user_tables_last_vacuum"))[0].1,
            0.0
        );
        assert_eq!(
            family(&fams, "pg_stat_user_tables_seq_scan").kind,
            exporter_core::MetricType::Counter
        );
    }
}
