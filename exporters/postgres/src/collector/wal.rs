//! `pg_wal_segments` and `pg_wal_size_bytes`: the WAL directory, via pg_ls_waldir() (superuser
//! or pg_monitor).

use super::declarative::{gauge, DeclarativeCollector, Families, Null, RunsOn, Sql};

/// One row: segment count and total size.
pub(crate) const COLLECTOR: DeclarativeCollector = DeclarativeCollector {
    sql: Sql::Fixed(
        "SELECT count(*), COALESCE(sum(size), 0) FROM pg_ls_waldir() \
         WHERE name ~ '^[0-9A-F]{24}$'",
    ),
    runs_on: RunsOn::Server,
    families: &[Families {
        prefix: "pg_wal",
        null: Null::Zero,
        columns: &[
            gauge("segments", "Number of WAL segments"),
            gauge("size_bytes", "Total size of WAL segments"),
        ],
    }],
};

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::value::Cell;

    #[test]
    fn segments_and_size() {
        let fams = COLLECTOR.map(&[vec![Cell::Int(3), num(50_331_648.0)]], &base());
        assert_eq!(value(&fams, "pg_wal_segments"), 3.0);
        assert_eq!(value(&fams, "pg_wal_size_bytes"), 50_331_648.0);
    }
}
