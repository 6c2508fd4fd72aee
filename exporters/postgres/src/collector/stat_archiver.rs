//! `pg_stat_archiver_*` (upstream's built-in map): WAL archiving counters and the age of the
//! last archived segment (NaN when nothing was ever archived, as upstream).

use super::declarative::{counter, gauge, DeclarativeCollector, Families, Null, RunsOn, Sql};

/// One row.
pub(crate) const COLLECTOR: DeclarativeCollector = DeclarativeCollector {
    sql: Sql::Fixed(
        "SELECT archived_count, failed_count, \
         extract(epoch FROM now() - last_archived_time)::float8 FROM pg_stat_archiver",
    ),
    runs_on: RunsOn::Server,
    families: &[Families {
        prefix: "pg_stat_archiver",
        null: Null::NaN,
        columns: &[
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
        ],
    }],
};

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::value::Cell;

    #[test]
    fn never_archived_is_nan() {
        let fams = COLLECTOR.map(&[vec![Cell::Int(0), Cell::Int(2), Cell::Null]], &base());
        assert_eq!(value(&fams, "pg_stat_archiver_failed_count"), 2.0);
        assert!(first(&fams, "pg_stat_archiver_last_archive_age").1.is_nan());
        assert_eq!(
            family(&fams, "pg_stat_archiver_archived_count").kind,
            exporter_core::MetricType::Counter
        );
    }
}
