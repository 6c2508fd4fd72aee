//! `pg_wal_segments` and `pg_wal_size_bytes` (opt-in): the WAL directory, via pg_ls_waldir()
//! (superuser or pg_monitor).

use exporter_core::MetricFamily;

use super::{gauge, map_rows, on_main, Col, CollectorConfig, Null, PgCollector, PgFuture};
use crate::instance::Instance;
use crate::value::Cell;

const COLUMNS: &[Col] = &[
    gauge("segments", "Number of WAL segments"),
    gauge("size_bytes", "Total size of WAL segments"),
];

pub const SQL: &str = "SELECT count(*), COALESCE(sum(size), 0) FROM pg_ls_waldir() \
     WHERE name ~ '^[0-9A-F]{24}$'";

pub fn map(rows: &[Vec<Cell>], base: &[exporter_core::Label]) -> Vec<MetricFamily> {
    map_rows("pg_wal", &[], COLUMNS, rows, base, Null::Zero)
}

pub struct Wal;

impl Wal {
    pub fn new(_: &CollectorConfig) -> Self {
        Wal
    }
}

impl PgCollector for Wal {
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
    fn segments_and_size() {
        let fams = map(&[vec![Cell::Int(3), num(50_331_648.0)]], &base());
        assert_eq!(series(family(&fams, "pg_wal_segments"))[0].1, 3.0);
        assert_eq!(
            series(family(&fams, "pg_wal_size_bytes"))[0].1,
            50_331_648.0
        );
    }
}
