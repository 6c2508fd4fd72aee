//! `pg_stat_activity_autovacuum_timestamp_seconds{relname}` (opt-in, current releases): when
//! each running autovacuum worker started its transaction.

use exporter_core::MetricFamily;

use super::{gauge, map_rows, on_main, Col, CollectorConfig, Null, PgCollector, PgFuture};
use crate::instance::Instance;
use crate::value::Cell;

const COLUMNS: &[Col] = &[gauge(
    "timestamp_seconds",
    "Start timestamp of the vacuum process in seconds",
)];

/// The table is the second dot-separated part of the worker's query text, as upstream reads it.
pub const SQL: &str = "SELECT split_part(query, '.', 2), extract(epoch FROM xact_start)::float8 \
     FROM pg_stat_activity WHERE query LIKE 'autovacuum:%'";

pub fn map(rows: &[Vec<Cell>], base: &[exporter_core::Label]) -> Vec<MetricFamily> {
    map_rows(
        "pg_stat_activity_autovacuum",
        &["relname"],
        COLUMNS,
        rows,
        base,
        Null::Skip,
    )
}

pub struct StatActivityAutovacuum;

impl StatActivityAutovacuum {
    pub fn new(_: &CollectorConfig) -> Self {
        StatActivityAutovacuum
    }
}

impl PgCollector for StatActivityAutovacuum {
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
    fn one_series_per_worker() {
        let fams = map(&[vec![text("orders"), num(1.7e9)]], &base());
        assert_eq!(
            series(family(
                &fams,
                "pg_stat_activity_autovacuum_timestamp_seconds"
            ))[0],
            (vec!["relname=orders".into(), "server=h:5432".into()], 1.7e9)
        );
    }
}
