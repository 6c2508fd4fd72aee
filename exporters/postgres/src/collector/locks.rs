//! `pg_locks_count{datname,mode}`: held and awaited locks per database and mode, zero-filled
//! for every database and every mode upstream lists. The zero-filling happens here rather than
//! in a cross join on the server.

use super::declarative::{
    filled_label, gauge, label, DeclarativeCollector, Families, Null, RunsOn, Sql,
};

/// The lock modes upstream reports, lower-cased.
pub(crate) const MODES: &[&str] = &[
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

/// One row per database and mode held; the mode is NULL for a database without locks.
pub(crate) const COLLECTOR: DeclarativeCollector = DeclarativeCollector {
    sql: Sql::Fixed(
        "SELECT d.datname, lower(l.mode), count(l.mode) \
         FROM pg_database d LEFT JOIN pg_locks l ON l.database = d.oid GROUP BY 1, 2",
    ),
    runs_on: RunsOn::Server,
    families: &[Families {
        prefix: "pg_locks",
        null: Null::Zero,
        columns: &[
            label("datname"),
            filled_label("mode", MODES),
            gauge("count", "Number of locks"),
        ],
    }],
};

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::value::Cell;

    #[test]
    fn zero_filled_for_every_database_and_mode() {
        let rows = vec![
            vec![text("postgres"), text("accesssharelock"), Cell::Int(3)],
            vec![text("postgres"), text("exclusivelock"), Cell::Int(1)],
            vec![text("template1"), Cell::Null, Cell::Int(0)],
        ];
        let fams = COLLECTOR.map(&rows, &base());
        let s = series(&fams[0]);
        assert_eq!(s.len(), 18);
        assert_eq!(
            s[1],
            (
                on_server(&["datname=postgres", "mode=accesssharelock"]),
                3.0
            )
        );
        assert_eq!(s[2].1, 1.0);
        assert!(s[9..].iter().all(|(_, v)| *v == 0.0));
        assert_eq!(fams[0].kind, exporter_core::MetricType::Gauge);
    }
}
