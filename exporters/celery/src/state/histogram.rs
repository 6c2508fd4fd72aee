//! A classic Prometheus histogram kept as per-bucket counts, made cumulative at scrape time.

use exporter_core::MetricFamily;

#[derive(Debug, Clone)]
pub(super) struct Histogram {
    counts: Box<[u64]>,
    sum: f64,
    count: u64,
}

impl Histogram {
    pub(super) fn new(buckets: usize) -> Histogram {
        Histogram {
            counts: vec![0; buckets].into_boxed_slice(),
            sum: 0.0,
            count: 0,
        }
    }

    pub(super) fn observe(&mut self, bounds: &[f64], v: f64) {
        if !v.is_finite() {
            return;
        }
        let v = v.max(0.0);
        let i = bounds.partition_point(|&b| b < v);
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.sum += v;
        self.count += 1;
    }

    pub(super) fn push_to(
        &self,
        fam: &mut MetricFamily,
        labels: &[(&'static str, &str)],
        bounds: &[f64],
    ) {
        let mut cumulative = 0;
        let buckets: Vec<(f64, u64)> = bounds
            .iter()
            .zip(self.counts.iter())
            .map(|(&b, &c)| {
                cumulative += c;
                (b, cumulative)
            })
            .collect();
        fam.push_histogram(labels, &buckets, self.sum, self.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_with_inf() {
        let mut h = Histogram::new(2);
        let bounds = [1.0, 2.0];
        for v in [0.5, 1.0, 1.5, 3.0, f64::NAN, -1.0] {
            h.observe(&bounds, v);
        }
        let mut f = MetricFamily::histogram("h", "h");
        h.push_to(&mut f, &[], &bounds);
        let values: Vec<f64> = f.samples.iter().map(|s| s.value).collect();
        // -1 clamps to 0; NaN is dropped.
        assert_eq!(values, [3.0, 4.0, 5.0, 6.0, 5.0]);
    }
}
