//! `pg_roles_connection_limit{rolname}` (current releases' roles collector): each role's
//! connection limit, -1 for none.

use super::declarative::{gauge, label, DeclarativeCollector, Families, Null, RunsOn, Sql};

/// One row per role.
pub(crate) const COLLECTOR: DeclarativeCollector = DeclarativeCollector {
    sql: Sql::Fixed("SELECT rolname, rolconnlimit FROM pg_roles"),
    runs_on: RunsOn::Server,
    families: &[Families {
        prefix: "pg_roles",
        null: Null::Skip,
        columns: &[
            label("rolname"),
            gauge("connection_limit", "Connection limit set for the role"),
        ],
    }],
};

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::value::Cell;

    #[test]
    fn one_series_per_role() {
        let fams = COLLECTOR.map(
            &[
                vec![text("monitor"), Cell::Int(3)],
                vec![text("postgres"), Cell::Int(-1)],
            ],
            &base(),
        );
        assert_eq!(
            series(family(&fams, "pg_roles_connection_limit")),
            vec![
                (on_server(&["rolname=monitor"]), 3.0),
                (on_server(&["rolname=postgres"]), -1.0)
            ]
        );
    }
}
