//! `pg_locks_count{datname,mode}`: held and awaited locks per database and mode, zero-filled
//! for every database and every mode upstream lists. The zero-filling happens here rather than
//! in a cross join on the server.

use std::collections::BTreeMap;

use exporter_core::MetricFamily;

use super::{on_main, CollectorConfig, PgCollector, PgFuture};
use crate::instance::Instance;
use crate::value::Cell;

pub const MODES: &[&str] = &[
    "accessexclusivelock",
    "accesssharelock",
    "exclusivelock",
    "rowexclusivelock",
    "rowsharelock",
    "sharelock",
    "sharerowexclusivelock",
    "shareupdateexclusivelock",
    "sireadlock",
];

pub const SQL: &str = "SELECT d.datname, lower(l.mode), count(l.mode) \
     FROM pg_database d LEFT JOIN pg_locks l ON l.database = d.oid GROUP BY 1, 2";

/// Rows: datname, mode (NULL for a database without locks), count.
pub fn map(rows: &[Vec<Cell>], base: &[exporter_core::Label]) -> Vec<MetricFamily> {
    let mut counts: BTreeMap<String, [f64; 9]> = BTreeMap::new();
    for row in rows {
        let [db, mode, count] = row.as_slice() else {
            continue;
        };
        let slot = counts.entry(db.as_label()).or_insert([0.0; 9]);
        if let Some(i) = MODES.iter().position(|m| *m == mode.as_label()) {
            slot[i] += count.as_f64().unwrap_or(0.0);
        }
    }
    let mut fam = MetricFamily::gauge("pg_locks_count", "Number of locks");
    for (db, values) in &counts {
        for (mode, value) in MODES.iter().zip(values) {
            let mut labels = vec![
                ("datname".into(), db.clone()),
                ("mode".into(), mode.to_string()),
            ];
            labels.extend(base.iter().cloned());
            fam.push_labels(labels, *value);
        }
    }
    vec![fam]
}

pub struct Locks;

impl Locks {
    pub fn new(_: &CollectorConfig) -> Self {
        Locks
    }
}

impl PgCollector for Locks {
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
    fn zero_filled_for_every_database_and_mode() {
        let rows = vec![
            vec![text("postgres"), text("accesssharelock"), Cell::Int(3)],
            vec![text("postgres"), text("exclusivelock"), Cell::Int(1)],
            vec![text("template1"), Cell::Null, Cell::Int(0)],
        ];
        let fams = map(&rows, &base());
        let s = series(&fams[0]);
        assert_eq!(s.len(), 18);
        assert_eq!(
            s[1],
            (
                vec![
                    "datname=postgres".into(),
                    "mode=accesssharelock".into(),
                    "server=h:5432".into()
                ],
                3.0
            )
        );
        assert_eq!(s[2].1, 1.0);
        assert!(s[9..].iter().all(|(_, v)| *v == 0.0));
        assert_eq!(fams[0].kind, exporter_core::MetricType::Gauge);
    }
}
