//! `pg_stat_activity_count{datname,state}` and `pg_stat_activity_max_tx_duration{datname,state}`,
//! zero-filled for every database and the six states upstream lists.

use std::collections::BTreeMap;

use exporter_core::MetricFamily;

use super::{on_main, CollectorConfig, PgCollector, PgFuture};
use crate::instance::Instance;
use crate::value::Cell;

pub const STATES: &[&str] = &[
    "active",
    "disabled",
    "fastpath function call",
    "idle",
    "idle in transaction",
    "idle in transaction (aborted)",
];

pub const SQL: &str = "SELECT d.datname, a.state, count(a.state), \
     COALESCE(max(extract(epoch FROM now() - a.xact_start))::float8, 0) \
     FROM pg_database d LEFT JOIN pg_stat_activity a ON a.datname = d.datname GROUP BY 1, 2";

/// Rows: datname, state (NULL for a database without sessions), count, max transaction age.
pub fn map(rows: &[Vec<Cell>], base: &[exporter_core::Label]) -> Vec<MetricFamily> {
    let mut by_db: BTreeMap<String, [(f64, f64); 6]> = BTreeMap::new();
    for row in rows {
        let [db, state, count, max_tx] = row.as_slice() else {
            continue;
        };
        let slot = by_db.entry(db.as_label()).or_insert([(0.0, 0.0); 6]);
        if let Some(i) = STATES.iter().position(|s| *s == state.as_label()) {
            slot[i] = (
                count.as_f64().unwrap_or(0.0),
                max_tx.as_f64().unwrap_or(0.0),
            );
        }
    }
    let mut count = MetricFamily::gauge(
        "pg_stat_activity_count",
        "number of connections in this state",
    );
    let mut max_tx = MetricFamily::gauge(
        "pg_stat_activity_max_tx_duration",
        "max duration in seconds any active transaction has been running",
    );
    for (db, values) in &by_db {
        for (state, (n, age)) in STATES.iter().zip(values) {
            let mut labels = vec![
                ("datname".into(), db.clone()),
                ("state".into(), state.to_string()),
            ];
            labels.extend(base.iter().cloned());
            count.push_labels(labels.clone(), *n);
            max_tx.push_labels(labels, *age);
        }
    }
    vec![count, max_tx]
}

pub struct StatActivity;

impl StatActivity {
    pub fn new(_: &CollectorConfig) -> Self {
        StatActivity
    }
}

impl PgCollector for StatActivity {
    fn collect<'a>(&'a self, inst: &'a Instance) -> PgFuture<'a> {
        on_main(
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
    fn zero_filled_per_database_and_state() {
        let rows = vec![
            vec![text("postgres"), text("active"), Cell::Int(2), num(1.5)],
            vec![text("postgres"), text("idle"), Cell::Int(1), num(0.0)],
            vec![text("template0"), Cell::Null, Cell::Int(0), num(0.0)],
            vec![text("postgres"), text("starting"), Cell::Int(9), num(0.0)],
        ];
        let fams = map(&rows, &base());
        let count = series(&fams[0]);
        assert_eq!(count.len(), 12);
        assert_eq!(
            count[0],
            (
                vec![
                    "datname=postgres".into(),
                    "state=active".into(),
                    "server=h:5432".into()
                ],
                2.0
            )
        );
        assert_eq!(count[3].1, 1.0);
        assert_eq!(count.iter().map(|(_, v)| v).sum::<f64>(), 3.0);
        assert_eq!(series(&fams[1])[0].1, 1.5);
    }
}
