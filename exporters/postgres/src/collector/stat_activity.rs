//! `pg_stat_activity_count{datname,state}` and `pg_stat_activity_max_tx_duration{datname,state}`,
//! zero-filled for every database and the six states upstream lists.

use super::declarative::{
    filled_label, gauge, label, DeclarativeCollector, Families, Null, RunsOn, Sql,
};

/// The session states upstream reports.
pub(crate) const STATES: &[&str] = &[
    "active",
    "disabled",
    "fastpath function call",
    "idle",
    "idle in transaction",
    "idle in transaction (aborted)",
];

/// One row per database and state; the state is NULL for a database without sessions.
pub(crate) const COLLECTOR: DeclarativeCollector = DeclarativeCollector {
    sql: Sql::Fixed(
        "SELECT d.datname, a.state, count(a.state), \
         COALESCE(max(extract(epoch FROM now() - a.xact_start))::float8, 0) \
         FROM pg_database d LEFT JOIN pg_stat_activity a ON a.datname = d.datname GROUP BY 1, 2",
    ),
    runs_on: RunsOn::Server,
    families: &[Families {
        prefix: "pg_stat_activity",
        null: Null::Zero,
        columns: &[
            label("datname"),
            filled_label("state", STATES),
            gauge("count", "number of connections in this state"),
            gauge(
                "max_tx_duration",
                "max duration in seconds any active transaction has been running",
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
    fn zero_filled_per_database_and_state() {
        let rows = vec![
            vec![text("postgres"), text("active"), Cell::Int(2), num(1.5)],
            vec![text("postgres"), text("idle"), Cell::Int(1), num(0.0)],
            vec![text("template0"), Cell::Null, Cell::Int(0), num(0.0)],
            vec![text("postgres"), text("starting"), Cell::Int(9), num(0.0)],
        ];
        let fams = COLLECTOR.map(&rows, &base());
        let count = series(&fams[0]);
        assert_eq!(count.len(), 12);
        assert_eq!(
            count[0],
            (on_server(&["datname=postgres", "state=active"]), 2.0)
        );
        assert_eq!(count[3].1, 1.0);
        assert_eq!(count.iter().map(|(_, v)| v).sum::<f64>(), 3.0);
        assert_eq!(series(&fams[1])[0].1, 1.5);
    }
}
