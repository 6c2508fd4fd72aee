//! `pg_roles_connection_limit{rolname}` (current releases' roles collector): each role's
//! connection limit, -1 for none.

use exporter_core::MetricFamily;

use super::{gauge, map_rows, on_main, Col, CollectorConfig, Null, PgCollector, PgFuture};
use crate::instance::Instance;
use crate::value::Cell;

const COLUMNS: &[Col] = &[gauge(
    "connection_limit",
    "Connection limit set for the role",
)];

pub const SQL: &str = "SELECT rolname, rolconnlimit FROM pg_roles";

pub fn map(rows: &[Vec<Cell>], base: &[exporter_core::Label]) -> Vec<MetricFamily> {
    map_rows("pg_roles", &["rolname"], COLUMNS, rows, base, Null::Skip)
}

pub struct Roles;

impl Roles {
    pub fn new(_: &CollectorConfig) -> Self {
        Roles
    }
}

impl PgCollector for Roles {
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
    fn one_series_per_role() {
        let fams = map(
            &[
                vec![text("monitor"), Cell::Int(3)],
                vec![text("postgres"), Cell::Int(-1)],
            ],
            &base(),
        );
        assert_eq!(
            series(family(&fams, "pg_roles_connection_limit")),
            vec![
                (vec!["rolname=monitor".into(), "server=h:5432".into()], 3.0),
                (
                    vec!["rolname=postgres".into(), "server=h:5432".into()],
                    -1.0
                )
            ]
        );
    }
}
