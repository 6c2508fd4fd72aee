//! `pg_database_wraparound_age_datfrozenxid_seconds` and `_age_datminmxid_seconds{datname}`
//! (opt-in, current releases): how far each connectable database is from transaction ID
//! wraparound. Despite upstream's `_seconds` suffix the values are transaction counts.

use super::declarative::{gauge, label, DeclarativeCollector, Families, Null, RunsOn, Sql};

/// One row per database that allows connections.
pub(crate) const COLLECTOR: DeclarativeCollector = DeclarativeCollector {
    sql: Sql::Fixed(
        "SELECT datname, age(datfrozenxid), mxid_age(datminmxid) \
         FROM pg_database WHERE datallowconn",
    ),
    runs_on: RunsOn::Server,
    families: &[Families {
        prefix: "pg_database_wraparound",
        null: Null::Skip,
        columns: &[
            label("datname"),
            gauge(
                "age_datfrozenxid_seconds",
                "Age of the oldest transaction ID that has not been frozen.",
            ),
            gauge(
                "age_datminmxid_seconds",
                "Age of the oldest multi-transaction ID that has been replaced with a transaction ID.",
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
    fn ages_per_database() {
        let fams = COLLECTOR.map(
            &[vec![text("postgres"), Cell::Int(731), Cell::Int(1)]],
            &base(),
        );
        assert_eq!(
            first(&fams, "pg_database_wraparound_age_datfrozenxid_seconds"),
            (on_server(&["datname=postgres"]), 731.0)
        );
        assert_eq!(
            first(&fams, "pg_database_wraparound_age_datminmxid_seconds").1,
            1.0
        );
    }
}
