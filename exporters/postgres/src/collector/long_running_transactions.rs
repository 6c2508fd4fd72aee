//! `pg_long_running_transactions` and `pg_long_running_transactions_oldest_timestamp_seconds`
//! (opt-in): open transactions outside autovacuum and the age of the oldest.

use super::declarative::{gauge, DeclarativeCollector, Families, Null, RunsOn, Sql};

/// One row: the count (the bare namespace) and the oldest transaction's age.
pub(crate) const COLLECTOR: DeclarativeCollector = DeclarativeCollector {
    sql: Sql::Fixed(
        "SELECT count(*), \
         COALESCE(max(extract(epoch FROM clock_timestamp() - xact_start)), 0)::float8 \
         FROM pg_stat_activity WHERE state IS DISTINCT FROM 'idle' \
         AND query NOT LIKE 'autovacuum:%' AND xact_start IS NOT NULL",
    ),
    runs_on: RunsOn::Server,
    families: &[Families {
        prefix: "pg_long_running_transactions",
        null: Null::Zero,
        columns: &[
            gauge("", "Current number of long running transactions"),
            gauge(
                "oldest_timestamp_seconds",
                "The current maximum transaction age in seconds",
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
    fn count_and_oldest() {
        let fams = COLLECTOR.map(&[vec![Cell::Int(2), num(31.5)]], &base());
        assert_eq!(value(&fams, "pg_long_running_transactions"), 2.0);
        assert_eq!(
            first(
                &fams,
                "pg_long_running_transactions_oldest_timestamp_seconds"
            )
            .1,
            31.5
        );
    }
}
