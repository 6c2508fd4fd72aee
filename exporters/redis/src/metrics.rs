//! A small builder for the families of one scrape, every name prefixed with the namespace.

use std::borrow::Cow;

use exporter_core::{LabelValue, MetricFamily, MetricType, Sample};

/// The families of one scrape so far, each name prefixed with `<namespace>_`.
pub struct Out<'n> {
    ns: &'n str,
    /// One family per sample added; the runtime merges those that share a name.
    pub families: Vec<MetricFamily>,
}

impl<'n> Out<'n> {
    /// An empty builder for namespace `ns`.
    pub fn new(ns: &'n str) -> Self {
        Out {
            ns,
            families: Vec::with_capacity(256),
        }
    }

    /// The namespace (`redis`).
    pub fn namespace(&self) -> &str {
        self.ns
    }

    /// Adds one sample as its own family; families that share a name are merged by the runtime.
    pub fn add(
        &mut self,
        kind: MetricType,
        name: &str,
        help: impl Into<Cow<'static, str>>,
        labels: &[(&'static str, &str)],
        value: f64,
    ) {
        let mut f = MetricFamily::new(format!("{}_{name}", self.ns), help, kind);
        f.push(labels, value);
        self.families.push(f);
    }

    /// Adds one gauge sample.
    pub fn gauge(
        &mut self,
        name: &str,
        help: impl Into<Cow<'static, str>>,
        labels: &[(&'static str, &str)],
        value: f64,
    ) {
        self.add(MetricType::Gauge, name, help, labels, value);
    }

    /// Adds one counter sample.
    pub fn counter(
        &mut self,
        name: &str,
        help: impl Into<Cow<'static, str>>,
        labels: &[(&'static str, &str)],
        value: f64,
    ) {
        self.add(MetricType::Counter, name, help, labels, value);
    }

    /// A histogram series: cumulative `buckets` as `(upper bound, count)`, then `+Inf` (the
    /// count), `_sum` and `_count`.
    pub fn histogram(
        &mut self,
        name: &str,
        help: impl Into<Cow<'static, str>>,
        labels: &[(&'static str, &str)],
        buckets: &[(f64, f64)],
        sum: f64,
        count: f64,
    ) {
        let points = buckets
            .iter()
            .map(|&(le, n)| (exporter_core::metric::format_value(le), n))
            .chain(std::iter::once(("+Inf".to_string(), count)));
        let family = MetricFamily::new(format!("{}_{name}", self.ns), help, MetricType::Histogram);
        self.distribution(family, labels, ("le", "_bucket"), points, sum, count);
    }

    /// A summary series: `quantiles` as `(quantile, value)`, plus `_sum` and `_count`.
    pub fn summary(
        &mut self,
        name: &str,
        help: impl Into<Cow<'static, str>>,
        labels: &[(&'static str, &str)],
        quantiles: &[(f64, f64)],
        sum: f64,
        count: f64,
    ) {
        let points = quantiles
            .iter()
            .map(|&(q, v)| (exporter_core::metric::format_value(q), v));
        let family = MetricFamily::new(format!("{}_{name}", self.ns), help, MetricType::Summary);
        self.distribution(family, labels, ("quantile", ""), points, sum, count);
    }

    /// The samples of a histogram or summary: one per point, labelled `point.0` and named with
    /// the suffix `point.1`, then `_sum` and `_count`.
    fn distribution(
        &mut self,
        mut f: MetricFamily,
        labels: &[(&'static str, &str)],
        (point_label, point_suffix): (&'static str, &'static str),
        points: impl Iterator<Item = (String, f64)>,
        sum: f64,
        count: f64,
    ) {
        let base: Vec<exporter_core::Label> = labels
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), LabelValue::new(v)))
            .collect();
        for (at, value) in points {
            let mut l = base.clone();
            l.push((Cow::Borrowed(point_label), at.into()));
            f.samples.push(Sample {
                suffix: point_suffix,
                labels: l,
                value,
            });
        }
        f.samples.push(Sample {
            suffix: "_sum",
            labels: base.clone(),
            value: sum,
        });
        f.samples.push(Sample {
            suffix: "_count",
            labels: base,
            value: count,
        });
        self.families.push(f);
    }

    /// The families merged as the runtime merges them (a name twice fails the test) and
    /// rendered in the text format: what a scrape would show.
    #[cfg(test)]
    pub(crate) fn render(self) -> String {
        let (families, conflicts) = exporter_core::metric::merge_and_sort(self.families);
        assert!(conflicts.is_empty(), "{conflicts:?}");
        let mut text = String::new();
        exporter_core::encode::encode_text(&families, &mut text);
        text
    }
}
