//! `pg_process_idle_seconds{state,application_name}` (opt-in, current releases): a histogram of
//! how long server processes have been idle, per idle state and application. Upstream reads
//! only the first group of its query; here every group gets its histogram.

use std::borrow::Cow;

use exporter_core::metric::format_value;
use exporter_core::{Label, MetricFamily, Sample};

use super::{decode, PgCollector, PgFuture};
use crate::instance::Instance;
use crate::value::Cell;

/// Upstream's bucket bounds, in seconds.
pub(crate) const BUCKETS: [f64; 9] = [1.0, 2.0, 5.0, 15.0, 30.0, 60.0, 90.0, 120.0, 300.0];

/// Rows: state, application_name, sum of idle seconds, count, then one cumulative count per
/// bucket of [`BUCKETS`].
pub(crate) fn sql() -> String {
    let buckets: Vec<String> = BUCKETS
        .iter()
        .map(|le| format!("count(*) FILTER (WHERE idle <= {le})"))
        .collect();
    format!(
        "SELECT state, COALESCE(application_name, 'unknown'), sum(idle)::float8, count(*), {} \
         FROM (SELECT state, application_name, \
         extract(epoch FROM clock_timestamp() - state_change)::float8 AS idle \
         FROM pg_stat_activity WHERE state ~ '^idle') p GROUP BY 1, 2 ORDER BY 1, 2",
        buckets.join(", ")
    )
}

pub(crate) fn map(rows: &[Vec<Cell>], base: &[Label]) -> Vec<MetricFamily> {
    let mut family =
        MetricFamily::histogram("pg_process_idle_seconds", "Idle time of server processes");
    for row in rows.iter().filter(|r| r.len() == 4 + BUCKETS.len()) {
        let mut labels: Vec<Label> = vec![
            (Cow::Borrowed("state"), row[0].as_label()),
            (Cow::Borrowed("application_name"), row[1].as_label()),
        ];
        labels.extend(base.iter().cloned());
        let sum = row[2].as_f64().unwrap_or(0.0);
        let count = row[3].as_f64().unwrap_or(0.0);
        let cumulative = BUCKETS
            .iter()
            .zip(&row[4..])
            .map(|(le, n)| (*le, n.as_f64().unwrap_or(0.0)))
            .chain(std::iter::once((f64::INFINITY, count)));
        for (le, n) in cumulative {
            let mut bucket_labels = labels.clone();
            bucket_labels.push((Cow::Borrowed("le"), format_value(le).into()));
            family.samples.push(sample("_bucket", bucket_labels, n));
        }
        family.samples.push(sample("_sum", labels.clone(), sum));
        family.samples.push(sample("_count", labels, count));
    }
    if family.is_empty() {
        Vec::new()
    } else {
        vec![family]
    }
}

fn sample(suffix: &'static str, labels: Vec<Label>, value: f64) -> Sample {
    Sample {
        suffix,
        labels,
        value,
    }
}

/// The collector (no state, no options).
#[derive(Default)]
pub(crate) struct ProcessIdle;

impl PgCollector for ProcessIdle {
    fn collect<'a>(&'a self, inst: &'a Instance) -> PgFuture<'a> {
        Box::pin(async move {
            let (_, rows) = inst.main.session_query(|_| sql()).await?;
            Ok(map(&decode(&rows), &inst.labels))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn one_histogram_per_state_and_application() {
        let mut row = vec![text("idle"), text("app"), num(12.5), Cell::Int(3)];
        row.extend([1, 1, 2, 3, 3, 3, 3, 3, 3].map(Cell::Int));
        let fams = map(&[row], &base());
        let f = family(&fams, "pg_process_idle_seconds");
        assert_eq!(f.kind, exporter_core::MetricType::Histogram);
        // Nine bounds, +Inf, sum, count.
        assert_eq!(f.samples.len(), 12);
        let five = &f.samples[2];
        assert_eq!(five.suffix, "_bucket");
        assert_eq!(
            series(f)[2],
            (
                vec![
                    "state=idle".into(),
                    "application_name=app".into(),
                    "server=h:5432".into(),
                    "le=5".into()
                ],
                2.0
            )
        );
        assert_eq!(f.samples[9].value, 3.0, "+Inf is the count");
        assert_eq!(f.samples[10].suffix, "_sum");
        assert_eq!(f.samples[10].value, 12.5);
        assert!(map(&[], &base()).is_empty());
    }
}
