//! `pg_stat_replication_*` (upstream's built-in map) for each connected standby: WAL position and
//! lag in bytes, labelled application_name, client_addr, state and slot_name. `reply_time`, which
//! upstream's map does not describe, is `untyped` as upstream reports it.

use super::declarative::{
    gauge, label, untyped, Column, DeclarativeCollector, Families, Null, RunsOn, Sql,
};

/// One row per standby: four labels, two positions (NaN on a standby), then `reply_time`
/// (12+; no sample where the server has none).
pub(crate) const COLLECTOR: DeclarativeCollector = DeclarativeCollector {
    sql: Sql::ByVersion(sql),
    runs_on: RunsOn::Server,
    families: &[
        Families {
            prefix: "pg_stat_replication",
            null: Null::NaN,
            columns: &[
                label("application_name"),
                label("client_addr"),
                label("state"),
                label("slot_name"),
                gauge("pg_current_wal_lsn_bytes", "WAL position in bytes"),
                gauge("pg_wal_lsn_diff", "Lag in bytes between master and slave"),
            ],
        },
        Families {
            prefix: "pg_stat_replication",
            null: Null::Skip,
            columns: &[
                label("application_name"),
                label("client_addr"),
                label("state"),
                label("slot_name"),
                Column::Skip,
                Column::Skip,
                untyped("reply_time", "Unknown metric from pg_stat_replication"),
            ],
        },
    ],
};

/// `reply_time` is 12+, replication slots' `active_pid` 10+.
pub(crate) fn sql(version: u32) -> String {
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
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::value::Cell;

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
        let fams = COLLECTOR.map(&rows, &base());
        assert_eq!(fams.len(), 3);
        assert_eq!(
            first(&fams, "pg_stat_replication_pg_wal_lsn_diff"),
            (
                on_server(&[
                    "application_name=walreceiver",
                    "client_addr=127.0.0.1",
                    "state=streaming",
                    "slot_name="
                ]),
                0.0
            )
        );
        assert_eq!(
            family(&fams, "pg_stat_replication_reply_time").kind,
            exporter_core::MetricType::Untyped
        );
        assert!(COLLECTOR.map(&[], &base()).is_empty());
    }
}
