//! `pg_postmaster_start_time_seconds`: when the server started (upstream's postmaster collector).

use super::declarative::{gauge, DeclarativeCollector, Families, Null, RunsOn, Sql};

/// One row, one column.
pub(crate) const COLLECTOR: DeclarativeCollector = DeclarativeCollector {
    sql: Sql::Fixed("SELECT extract(epoch FROM pg_postmaster_start_time())::float8"),
    runs_on: RunsOn::Server,
    families: &[Families {
        prefix: "pg_postmaster",
        null: Null::Skip,
        columns: &[gauge(
            "start_time_seconds",
            "Time at which postmaster started",
        )],
    }],
};

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn start_time() {
        let fams = COLLECTOR.map(&[vec![num(1_764_000_000.25)]], &base());
        assert_eq!(
            series(family(&fams, "pg_postmaster_start_time_seconds")),
            vec![(on_server(&[]), 1_764_000_000.25)]
        );
    }
}
