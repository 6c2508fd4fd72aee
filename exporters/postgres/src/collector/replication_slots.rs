//! `pg_replication_slots_active` and `pg_replication_slots_pg_wal_lsn_diff{slot_name,database}`
//! (upstream's built-in map): WAL retained by each slot, in bytes.

use exporter_core::MetricFamily;

use super::{gauge, map_rows, on_main, Col, CollectorConfig, Null, PgCollector, PgFuture};
use crate::instance::Instance;
use crate::value::Cell;

const COLUMNS: &[Col] = &[
    gauge("active", "Flag indicating if the slot is active"),
    gauge("pg_wal_lsn_diff", "Replication lag in bytes"),
];

pub fn sql(version: u32) -> &'static str {
    if version >= 100000 {
        "SELECT slot_name, database, active, CASE WHEN pg_is_in_recovery() THEN NULL \
         ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 END FROM pg_replication_slots"
    } else {
        "SELECT slot_name, database, active, CASE WHEN pg_is_in_recovery() THEN NULL \
         ELSE pg_xlog_location_diff(pg_current_xlog_location(), restart_lsn)::float8 END FROM pg_replication_slots"
    }
}

pub fn map(rows: &[Vec<Cell>], base: &[exporter_core::Label]) -> Vec<MetricFamily> {
    map_rows(
        "pg_replication_slots",
        &["slot_name", "database"],
        COLUMNS,
        rows,
        base,
        Null::NaN,
    )
}

pub struct ReplicationSlots;

impl ReplicationSlots {
    pub fn new(_: &CollectorConfig) -> Self {
        ReplicationSlots
    }
}

impl PgCollector for ReplicationSlots {
    fn collect<'a>(&'a self, inst: &'a Instance) -> PgFuture<'a> {
        on_main(
            inst,
            |s| sql(s.version_num).to_string(),
            |rows, inst, _| map(rows, &inst.labels),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn physical_slot_has_empty_database() {
        let rows = vec![vec![
            text("standby1"),
            Cell::Null,
            Cell::Bool(true),
            num(1024.0),
        ]];
        let fams = map(&rows, &base());
        assert_eq!(
            series(family(&fams, "pg_replication_slots_active"))[0],
            (
                vec![
                    "slot_name=standby1".into(),
                    "database=".into(),
                    "server=h:5432".into()
                ],
                1.0
            )
        );
        assert_eq!(
            series(family(&fams, "pg_replication_slots_pg_wal_lsn_diff"))[0].1,
            1024.0
        );
    }
}
