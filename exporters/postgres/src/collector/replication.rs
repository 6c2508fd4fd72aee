//! `pg_replication_lag_seconds`, `pg_replication_is_replica`, `pg_replication_last_replay_seconds`
//! (upstream's replication collector): how far a standby is behind, 0 on a primary.

use exporter_core::MetricFamily;

use super::{gauge, map_rows, on_main, Col, CollectorConfig, Null, PgCollector, PgFuture};
use crate::instance::Instance;
use crate::value::Cell;

const COLUMNS: &[Col] = &[
    gauge("lag_seconds", "Replication lag behind master in seconds"),
    gauge("is_replica", "Indicates if the server is a replica"),
    gauge("last_replay_seconds", "Age of last replay in seconds"),
];

pub fn sql(version: u32) -> &'static str {
    if version >= 100000 {
        "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0 \
         WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 \
         ELSE GREATEST(0, extract(epoch FROM now() - pg_last_xact_replay_timestamp()))::float8 END, \
         pg_is_in_recovery()::int, \
         GREATEST(0, extract(epoch FROM now() - pg_last_xact_replay_timestamp()))::float8"
    } else {
        "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0 \
         WHEN pg_last_xlog_receive_location() = pg_last_xlog_replay_location() THEN 0 \
         ELSE GREATEST(0, extract(epoch FROM now() - pg_last_xact_replay_timestamp()))::float8 END, \
         pg_is_in_recovery()::int, \
         GREATEST(0, extract(epoch FROM now() - pg_last_xact_replay_timestamp()))::float8"
    }
}

pub fn map(rows: &[Vec<Cell>], base: &[exporter_core::Label]) -> Vec<MetricFamily> {
    map_rows("pg_replication", &[], COLUMNS, rows, base, Null::Skip)
}

pub struct Replication;

impl Replication {
    pub fn new(_: &CollectorConfig) -> Self {
        Replication
    }
}

impl PgCollector for Replication {
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
    fn primary_and_standby() {
        let fams = map(&[vec![Cell::Int(0), Cell::Int(0), Cell::Null]], &base());
        assert_eq!(fams.len(), 2);
        assert_eq!(series(family(&fams, "pg_replication_is_replica"))[0].1, 0.0);
        let fams = map(&[vec![num(2.5), Cell::Int(1), num(2.5)]], &base());
        assert_eq!(
            series(family(&fams, "pg_replication_lag_seconds"))[0].1,
            2.5
        );
        assert_eq!(
            series(family(&fams, "pg_replication_last_replay_seconds"))[0].1,
            2.5
        );
    }
}
