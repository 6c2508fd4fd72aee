//! `pg_replication_lag_seconds`, `pg_replication_is_replica`, `pg_replication_last_replay_seconds`
//! (upstream's replication collector): how far a standby is behind, 0 on a primary.

use super::declarative::{gauge, DeclarativeCollector, Families, Null, RunsOn, Sql};

/// One row; the last replay age is NULL on a primary.
pub(crate) const COLLECTOR: DeclarativeCollector = DeclarativeCollector {
    sql: Sql::ByVersion(sql),
    runs_on: RunsOn::Server,
    families: &[Families {
        prefix: "pg_replication",
        null: Null::Skip,
        columns: &[
            gauge("lag_seconds", "Replication lag behind master in seconds"),
            gauge("is_replica", "Indicates if the server is a replica"),
            gauge("last_replay_seconds", "Age of last replay in seconds"),
        ],
    }],
};

/// The WAL functions were renamed in 10.
pub(crate) fn sql(version: u32) -> String {
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
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::value::Cell;

    #[test]
    fn primary_and_standby() {
        let fams = COLLECTOR.map(&[vec![Cell::Int(0), Cell::Int(0), Cell::Null]], &base());
        assert_eq!(fams.len(), 2);
        assert_eq!(value(&fams, "pg_replication_is_replica"), 0.0);
        let fams = COLLECTOR.map(&[vec![num(2.5), Cell::Int(1), num(2.5)]], &base());
        assert_eq!(value(&fams, "pg_replication_lag_seconds"), 2.5);
        assert_eq!(value(&fams, "pg_replication_last_replay_seconds"), 2.5);
        assert!(sql(90600).contains("xlog") && sql(150000).contains("pg_last_wal_replay_lsn"));
    }
}
