//! `pg_stat_archiver_*` (upstream's built-in map): WAL archiving counters and the age of the
//! last archived segment (NaN when nothing was ever archived, as upstream).

use exporter_core::MetricFamily;

use super::{counter, gauge, map_rows, on_main, Col, CollectorConfig, Null, PgCollector, PgFuture};
use crate::instance::Instance;
use crate::value::Cell;

const COLUMNS: &[Col] = &[
    counter(
        "archived_count",
        "Number of WAL files that have been successfully archived",
    ),
    counter(
        "failed_count",
        "Number of failed attempts for archiving WAL files",
    ),
    gauge(
        "last_archive_age",
        "Time in seconds since last WAL segment was successfully archived",
    ),
];

pub const SQL: &str = "SELECT archived_count, failed_count, \
     extract(epoch FROM now() - last_archived_time)::float8 FROM pg_stat_archiver";

pub fn map(rows: &[Vec<Cell>], base: &[exporter_core::Label]) -> Vec<MetricFamily> {
    map_rows("pg_stat_archiver", &[], COLUMNS, rows, base, Null::NaN)
}

pub struct StatArchiver;

impl StatArchiver {
    pub fn new(_: &CollectorConfig) -> Self {
        StatArchiver
    }
}

impl PgCollector for StatArchiver {
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
    fn never_archived_is_nan() {
        let fams = map(&[vec![Cell::Int(0), Cell::Int(2), Cell::Null]], &base());
        assert_eq!(
            series(family(&fams, "pg_stat_archiver_failed_count"))[0].1,
            2.0
        );
        assert!(
            series(family(&fams, "pg_stat_archiver_last_archive_age"))[0]
                .1
                .is_nan()
        );
        assert_eq!(
            family(&fams, "pg_stat_archiver_archived_count").kind,
            exporter_core::MetricType::Counter
        );
    }
}
