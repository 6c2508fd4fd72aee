//! `pg_database_wraparound_age_datfrozenxid_seconds` and `_age_datminmxid_seconds{datname}`
//! (opt-in, current releases): how far each connectable database is from transaction ID
//! wraparound. Despite upstream's `_seconds` suffix the values are transaction counts.

use exporter_core::MetricFamily;

use super::{gauge, map_rows, on_main, Col, CollectorConfig, Null, PgCollector, PgFuture};
use crate::instance::Instance;
use crate::value::Cell;

const COLUMNS: &[Col] = &[
    gauge(
        "age_datfrozenxid_seconds",
        "Age of the oldest transaction ID that has not been frozen.",
    ),
    gauge(
        "age_datminmxid_seconds",
        "Age of the oldest multi-transaction ID that has been replaced with a transaction ID.",
    ),
];

pub const SQL: &str = "SELECT datname, age(datfrozenxid), mxid_age(datminmxid) \
     FROM pg_database WHERE datallowconn";

pub fn map(rows: &[Vec<Cell>], base: &[exporter_core::Label]) -> Vec<MetricFamily> {
    map_rows(
        "pg_database_wraparound",
        &["datname"],
        COLUMNS,
        rows,
        base,
        Null::Skip,
    )
}

pub struct DatabaseWraparound;

impl DatabaseWraparound {
    pub fn new(_: &CollectorConfig) -> Self {
        DatabaseWraparound
    }
}

impl PgCollector for DatabaseWraparound {
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
    fn ages_per_database() {
        let fams = map(
            &[vec![text("postgres"), Cell::Int(731), Cell::Int(1)]],
            &base(),
        );
        assert_eq!(
            series(family(
                &fams,
                "pg_database_wraparound_age_datfrozenxid_seconds"
            ))[0],
            (
                vec!["datname=postgres".into(), "server=h:5432".into()],
                731.0
            )
        );
        assert_eq!(
            series(family(
                &fams,
                "pg_database_wraparound_age_datminmxid_seconds"
            ))[0]
                .1,
            1.0
        );
    }
}
