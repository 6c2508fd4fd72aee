//! `pg_long_running_transactions` and `pg_long_running_transactions_oldest_timestamp_seconds`
//! (opt-in): open transactions outside autovacuum and the age of the oldest.

use exporter_core::MetricFamily;

use super::{gauge, map_rows, on_main, Col, CollectorConfig, Null, PgCollector, PgFuture};
use crate::instance::Instance;
use crate::value::Cell;

const COLUMNS: &[Col] = &[
    gauge("", "Current number of long running transactions"),
    gauge(
        "oldest_timestamp_seconds",
        "The current maximum transaction age in seconds",
    ),
];

pub const SQL: &str = "SELECT count(*), \
     COALESCE(max(extract(epoch FROM clock_timestamp() - xact_start)), 0)::float8 \
     FROM pg_stat_activity WHERE state IS DISTINCT FROM 'idle' \
     AND query NOT LIKE 'autovacuum:%' AND xact_start IS NOT NULL";

pub fn map(rows: &[Vec<Cell>], base: &[exporter_core::Label]) -> Vec<MetricFamily> {
    let mut fams = map_rows(
        "pg_long_running_transactions",
        &[],
        COLUMNS,
        rows,
        base,
        Null::Zero,
    );
    for f in &mut fams {
        // The count is the bare namespace.
        if let Some(stripped) = f.name.strip_suffix('_') {
            f.name = stripped.to_string().into();
        }
    }
    fams
}

pub struct LongRunningTransactions;

impl LongRunningTransactions {
    pub fn new(_: &CollectorConfig) -> Self {
        LongRunningTransactions
    }
}

impl PgCollector for LongRunningTransactions {
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
    fn count_and_oldest() {
        let fams = map(&[vec![Cell::Int(2), num(31.5)]], &base());
        assert_eq!(
            series(family(&fams, "pg_long_running_transactions"))[0].1,
            2.0
        );
        assert_eq!(
            series(family(
                &fams,
                "pg_long_running_transactions_oldest_timestamp_seconds"
            ))[0]
                .1,
            31.5
        );
    }
}
