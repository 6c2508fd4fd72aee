//! `{prefix}_http_request_total`: the duration histogram's counts, exposed as a counter.
//!
//! prometheus_flask_exporter increments the request counter and observes the duration histogram
//! at the same moment, with the same labels, so the counter always equals the histogram's
//! `_count`. Deriving it at scrape time spares every request an atomic increment on another
//! cache line, and keeps the two exactly equal in every scrape.

use prometheus::core::{Collector, Desc};
use prometheus::proto::{Counter, Metric, MetricFamily, MetricType};
use prometheus::HistogramVec;

pub(crate) struct RequestTotal {
    desc: Desc,
    duration: HistogramVec,
}

impl RequestTotal {
    /// `desc` names the counter; its labels must be those of `duration`.
    pub(crate) fn new(desc: Desc, duration: HistogramVec) -> Self {
        RequestTotal { desc, duration }
    }
}

impl Collector for RequestTotal {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let mut families = self.duration.collect();
        for family in &mut families {
            family.set_name(self.desc.fq_name.clone());
            family.set_help(self.desc.help.clone());
            family.set_field_type(MetricType::COUNTER);
            for metric in family.mut_metric() {
                let mut counter = Counter::default();
                counter.set_value(metric.get_histogram().get_sample_count() as f64);
                *metric = Metric::from_label(metric.take_label());
                metric.set_counter(counter);
            }
        }
        families
    }
}
