//! `pg_xlog_location_bytes` (opt-in, current releases): the WAL position being written on a
//! primary or replayed on a standby, modulo 2^52 so that it stays exact as a float. Upstream
//! reads it only from servers before 10; here the WAL functions of 10+ give it there too.

use super::declarative::{gauge, DeclarativeCollector, Families, Null, RunsOn, Sql};

/// One row, one column.
pub(crate) const COLLECTOR: DeclarativeCollector = DeclarativeCollector {
    sql: Sql::ByVersion(sql),
    runs_on: RunsOn::Server,
    families: &[Families {
        prefix: "pg_xlog_location",
        null: Null::Skip,
        columns: &[gauge(
            "bytes",
            "Postgres LSN (log sequence number) being generated on primary or replayed on replica (truncated to low 52 bits)",
        )],
    }],
};

/// The WAL functions were renamed in 10.
pub(crate) fn sql(version: u32) -> String {
    if version >= 100000 {
        "SELECT ((CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() \
         ELSE pg_current_wal_lsn() END - '0/0') % (2^52)::bigint)::float8"
    } else {
        "SELECT ((CASE WHEN pg_is_in_recovery() THEN pg_last_xlog_replay_location() \
         ELSE pg_current_xlog_location() END - '0/0') % (2^52)::bigint)::float8"
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn one_unlabelled_gauge() {
        let fams = COLLECTOR.map(&[vec![num(23_456_789.0)]], &base());
        assert_eq!(
            first(&fams, "pg_xlog_location_bytes"),
            (on_server(&[]), 23_456_789.0)
        );
        assert!(sql(90600).contains("xlog") && sql(150000).contains("pg_current_wal_lsn"));
    }
}
