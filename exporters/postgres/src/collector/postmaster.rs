//! `pg_postmaster_start_time_seconds`: when the server started (upstream's postmaster collector).

use exporter_core::MetricFamily;

use super::{gauge, map_rows, on_main, Col, CollectorConfig, Null, PgCollector, PgFuture};
use crate::instance::Instance;
use crate::value::Cell;

const COLUMNS: &[Col] = &[gauge(
    "start_time_seconds",
    "Time at which postmaster started",
)];

pub const SQL: &str = "SELECT extract(epoch FROM pg_postmaster_start_time())::float8";

pub fn map(rows: &[Vec<Cell>], base: &[exporter_core::Label]) -> Vec<MetricFamily> {
    map_rows("pg_postmaster", &[], COLUMNS, rows, base, Null::Skip)
}

pub struct Postmaster;

impl Postmaster {
    pub fn new(_: &CollectorConfig) -> Self {
        Postmaster
    }
}

impl PgCollector for Postmaster {
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
    fn start_time() {
        let fams = map(&[vec![num(1_764_000_000.25)]], &base());
        assert_eq!(
            series(family(&fams, "pg_postmaster_start_time_seconds")),
            vec![(vec!["server=h:5432".to_string()], 1_764_000_000.25)]
        );
    }
}
