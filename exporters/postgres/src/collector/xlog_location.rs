//! `pg_xlog_location_bytes` (opt-in, current releases): the WAL position being written on a
//! primary or replayed on a standby, modulo 2^52 so that it stays exact as a float. Upstream
//! reads it only from servers before 10; here the WAL functions of 10+ give it there too.

use exporter_core::MetricFamily;

use super::{gauge, map_rows, on_main, Col, CollectorConfig, Null, PgCollector, PgFuture};
use crate::instance::Instance;
use crate::value::Cell;

const COLUMNS: &[Col] = &[gauge(
    "bytes",
    "Postgres LSN (log sequence number) being generated on primary or replayed on replica (truncated to low 52 bits)",
)];

pub fn sql(version: u32) -> &'static str {
    if version >= 100000 {
        "SELECT ((CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() \
         ELSE pg_current_wal_lsn() END - '0/0') % (2^52)::bigint)::float8"
    } else {
        "SELECT ((CASE WHEN pg_is_in_recovery() THEN pg_last_xlog_replay_location() \
         ELSE pg_current_xlog_location() END - '0/0') % (2^52)::bigint)::float8"
    }
}

pub fn map(rows: &[Vec<Cell>], base: &[exporter_core::Label]) -> Vec<MetricFamily> {
    map_rows("pg_xlog_location", &[], COLUMNS, rows, base, Null::Skip)
}

pub struct XlogLocation;

impl XlogLocation {
    pub fn new(_: &CollectorConfig) -> Self {
        XlogLocation
    }
}

impl PgCollector for XlogLocation {
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
    fn one_unlabelled_gauge() {
        let fams = map(&[vec![num(23_456_789.0)]], &base());
        assert_eq!(
            series(family(&fams, "pg_xlog_location_bytes"))[0],
            (vec!["server=h:5432".into()], 23_456_789.0)
        );
        assert!(sql(90600).contains("xlog") && sql(150000).contains("pg_current_wal_lsn"));
    }
}
