//! `pg_stat_replication_*` (upstream's built-in map) for each connected standby: WAL position and
//! lag in bytes, labelled application_name, client_addr, state and slot_name. `reply_time`, which
//! upstream's map does not describe, is `untyped` as upstream reports it.

use exporter_core::MetricFamily;

use super::{gauge, map_rows, on_main, untyped, Col, CollectorConfig, Null, PgCollector, PgFuture};
use crate::instance::Instance;
use crate::value::Cell;

const LABELS: &[&str] = &["application_name", "client_addr", "state", "slot_name"];

const COLUMNS: &[Col] = &[
    gauge("pg_current_wal_lsn_bytes", "WAL position in bytes"),
    gauge("pg_wal_lsn_diff", "Lag in bytes between master and slave"),
    untyped("reply_time", "Unknown metric from pg_stat_replication"),
];

pub fn sql(version: u32) -> &'static str {
    if version >= 120000 {
        "SELECT r.application_name, r.client_addr, r.state, s.slot_name, \
         CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8 END, \
         CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::float8 END, \
         r.reply_time \
         FROM pg_stat_replication r LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid"
    } else if version >= 100000 {
        "SELECT r.application_name, r.client_addr, r.state, s.slot_name, \
         CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8 END, \
         CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::float8 END, \
         NULL::timestamptz \
         FROM pg_stat_replication r LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid"
    } else {
        "SELECT r.application_name, r.client_addr, r.state, NULL::text, \
         CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_xlog_location_diff(pg_current_xlog_location(), '0/0')::float8 END, \
         CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_xlog_location_diff(pg_current_xlog_location(), r.replay_location)::float8 END, \
         NULL::timestamptz FROM pg_stat_replication r"
    }
}

pub fn map(rows: &[Vec<Cell>], base: &[exporter_core::Label]) -> Vec<MetricFamily> {
    let mut fams = map_rows(
        "pg_stat_replication",
        LABELS,
        &COLUMNS[..2],
        rows,
        base,
        Null::NaN,
    );
    // reply_time only where the server has it.
    fams.extend(map_rows(
        "pg_stat_replication",
        LABELS,
        &COLUMNS[2..],
        &rows
            .iter()
            .map(|r| {
                r.iter()
                    .take(4)
                    .chain(r.get(6))
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>(),
        base,
        Null::Skip,
    ));
    fams
}

pub struct StatReplication;

impl StatReplication {
    pub fn new(_: &CollectorConfig) -> Self {
        StatReplication
    }
}

impl PgCollector for StatReplication {
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
    fn one_series_per_standby() {
        let rows = vec![vec![
            text("walreceiver"),
            text("127.0.0.1"),
            text("streaming"),
            Cell::Null,
            num(5e7),
            num(0.0),
            Cell::Time(1.7e9),
        ]];
        let fams = map(&rows, &base());
        assert_eq!(fams.len(), 3);
        assert_eq!(
            series(family(&fams, "pg_stat_replication_pg_wal_lsn_diff"))[0],
            (
                vec![
                    "application_name=walreceiver".into(),
                    "client_addr=127.0.0.1".into(),
                    "state=streaming".into(),
                    "slot_name=".into(),
                    "server=h:5432".into()
                ],
                0.0
            )
        );
        assert_eq!(
            family(&fams, "pg_stat_replication_reply_time").kind,
            exporter_core::MetricType::Untyped
        );
        assert!(map(&[], &base()).is_empty());
    }
}
