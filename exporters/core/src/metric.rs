//! The in-memory form of what a collector returns: metric families with their samples.
//!
//! Deliberately tiny: collectors build fresh families on every scrape (no registry, no caching),
//! and the encoder writes them straight to the text exposition format.

use std::borrow::Cow;

/// The Prometheus metric type written on the `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// A value that only goes up (until its source restarts): `rate()` and `increase()` apply.
    Counter,
    /// A value that goes up and down: a current state or the latest reading.
    Gauge,
    /// No declared type: what upstream exporters emit for values they do not classify, kept so
    /// that our families match theirs.
    Untyped,
    /// `_bucket{le}` series with `_sum` and `_count`, added by [`MetricFamily::push_histogram`].
    Histogram,
    /// `{quantile}` series with `_sum` and `_count`, for upstream families that are summaries;
    /// the collector pushes each part with its suffix.
    Summary,
}

impl MetricType {
    /// The word on the `# TYPE` line (`counter`, `gauge`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Untyped => "untyped",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
        }
    }
}

/// A label value: kept inline up to 23 bytes, so building a sample allocates for its label list
/// but (nearly always) not for each value, and rendering reads the values where the list is.
pub type LabelValue = smol_str::SmolStr;

/// A label pair. Names are usually static; values come from the target.
pub type Label = (Cow<'static, str>, LabelValue);

/// One line of the exposition: `name{suffix}{labels} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// `""` for plain metrics, `"_bucket"`, `"_sum"`, `"_count"` for histogram parts.
    pub suffix: &'static str,
    /// Label pairs, written in this order (the encoder does not sort them).
    pub labels: Vec<Label>,
    /// Written so that Prometheus parses back the same `f64` (see [`format_value`]); NaN and
    /// infinities are allowed.
    pub value: f64,
}

/// A named metric with its help text, type and samples.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily {
    /// Static for nearly every family, so that building one allocates nothing for its name.
    pub name: Cow<'static, str>,
    /// The `# HELP` text, as upstream words it.
    pub help: Cow<'static, str>,
    /// The `# TYPE`. Of two families with one name and different kinds, the exposition keeps
    /// one and logs the other as dropped.
    pub kind: MetricType,
    /// The family's series; a family left without any is not written at all.
    pub samples: Vec<Sample>,
}

impl MetricFamily {
    /// A family with no samples yet, of a kind known only at run time (textfile input, user
    /// queries); the shorthands below name the kind.
    pub fn new(
        name: impl Into<Cow<'static, str>>,
        help: impl Into<Cow<'static, str>>,
        kind: MetricType,
    ) -> Self {
        MetricFamily {
            name: name.into(),
            help: help.into(),
            kind,
            samples: Vec::new(),
        }
    }

    /// [`new`](Self::new) for a [`Counter`](MetricType::Counter): values that only go up.
    pub fn counter(name: impl Into<Cow<'static, str>>, help: impl Into<Cow<'static, str>>) -> Self {
        Self::new(name, help, MetricType::Counter)
    }

    /// [`new`](Self::new) for a [`Gauge`](MetricType::Gauge): current values.
    pub fn gauge(name: impl Into<Cow<'static, str>>, help: impl Into<Cow<'static, str>>) -> Self {
        Self::new(name, help, MetricType::Gauge)
    }

    /// [`new`](Self::new) for an [`Untyped`](MetricType::Untyped) family, where upstream declares
    /// no type.
    pub fn untyped(name: impl Into<Cow<'static, str>>, help: impl Into<Cow<'static, str>>) -> Self {
        Self::new(name, help, MetricType::Untyped)
    }

    /// [`new`](Self::new) for a [`Histogram`](MetricType::Histogram), to fill with
    /// [`push_histogram`](Self::push_histogram).
    pub fn histogram(
        name: impl Into<Cow<'static, str>>,
        help: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(name, help, MetricType::Histogram)
    }

    /// Adds a sample whose label names are static strings.
    pub fn push(&mut self, labels: &[(&'static str, &str)], value: f64) {
        self.samples.push(Sample {
            suffix: "",
            labels: labels
                .iter()
                .map(|(k, v)| (Cow::Borrowed(*k), LabelValue::new(v)))
                .collect(),
            value,
        });
    }

    /// Adds a sample with labels built by the caller (dynamic label names, e.g. textfile input).
    pub fn push_labels(&mut self, labels: Vec<Label>, value: f64) {
        self.samples.push(Sample {
            suffix: "",
            labels,
            value,
        });
    }

    /// Builder form of [`push`](Self::push) for single-sample families.
    pub fn with(mut self, labels: &[(&'static str, &str)], value: f64) -> Self {
        self.push(labels, value);
        self
    }

    /// Adds one histogram series. `buckets` are `(upper_bound, cumulative_count)` pairs in
    /// ascending order; the `+Inf` bucket is added from `count`.
    pub fn push_histogram(
        &mut self,
        labels: &[(&'static str, &str)],
        buckets: &[(f64, u64)],
        sum: f64,
        count: u64,
    ) {
        let base: Vec<Label> = labels
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), LabelValue::new(v)))
            .collect();
        let bounds = buckets
            .iter()
            .map(|&(le, n)| (le, n as f64))
            .chain(std::iter::once((f64::INFINITY, count as f64)));
        for (le, n) in bounds {
            let mut l = base.clone();
            l.push((Cow::Borrowed("le"), format_value(le).into()));
            self.samples.push(Sample {
                suffix: "_bucket",
                labels: l,
                value: n,
            });
        }
        self.samples.push(Sample {
            suffix: "_sum",
            labels: base.clone(),
            value: sum,
        });
        self.samples.push(Sample {
            suffix: "_count",
            labels: base,
            value: count as f64,
        });
    }

    /// Whether no sample was added. An empty family is left out of the exposition anyway; this
    /// lets a collector or a test tell that it found nothing.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

/// Formats a sample value the way Prometheus parses it back losslessly.
pub fn format_value(v: f64) -> String {
    let mut s = String::new();
    write_value(&mut s, v);
    s
}

pub(crate) fn write_value(out: &mut String, v: f64) {
    use std::fmt::Write;
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 && !(v == 0.0 && v.is_sign_negative()) {
        // Most samples are counts. Integer digits are the same text that Display gives an
        // integral f64, without its shortest-representation search.
        push_integer(out, v as i64);
    } else if v != 0.0 && (v.abs() >= 1e15 || v.abs() < 1e-5) {
        // Display never switches to exponent notation: keep very large/small values short.
        let _ = write!(out, "{v:e}");
    } else {
        let _ = write!(out, "{v}");
    }
}

/// `n` in decimal, as Display writes it, without the formatting machinery (most samples are
/// integers, and a scrape writes thousands).
fn push_integer(out: &mut String, n: i64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(&digits[start..]).expect("ASCII digits"));
}

/// Merges families that share a name (a textfile may add to a collector's family) and sorts them
/// by name, so the exposition is stable between scrapes. A family whose type disagrees with an
/// earlier one of the same name is dropped and reported by name.
pub fn merge_and_sort(mut families: Vec<MetricFamily>) -> (Vec<MetricFamily>, Vec<String>) {
    families.sort_by(|a, b| a.name.cmp(&b.name));
    let mut merged: Vec<MetricFamily> = Vec::with_capacity(families.len());
    let mut conflicts = Vec::new();
    for fam in families {
        match merged.last_mut() {
            Some(last) if last.name == fam.name => {
                if last.kind == fam.kind {
                    last.samples.extend(fam.samples);
                } else {
                    conflicts.push(fam.name.into_owned());
                }
            }
            _ => merged.push(fam),
        }
    }
    merged.retain(|f| !f.samples.is_empty());
    (merged, conflicts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_text() {
        for v in [
            0.0,
            1.0,
            -2.5,
            1e-9,
            123456789.0,
            2.4683656e10,
            1.8e19,
            0.005,
        ] {
            assert_eq!(format_value(v).parse::<f64>().unwrap(), v, "{v}");
        }
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(3.0), "3");
    }

    #[test]
    fn integral_values_print_as_display_does() {
        for v in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            10.0,
            -4096.0,
            123456789.0,
            2.4683656e10,
            999_999_999_999_999.0,
            -999_999_999_999_999.0,
        ] {
            assert_eq!(format_value(v), format!("{v}"), "{v:?}");
        }
    }

    #[test]
    fn histogram_adds_inf_bucket_sum_and_count() {
        let mut h = MetricFamily::histogram("x_seconds", "x");
        h.push_histogram(&[("q", "a")], &[(0.1, 1), (1.0, 3)], 2.5, 4);
        let suffixes: Vec<_> = h.samples.iter().map(|s| s.suffix).collect();
        assert_eq!(
            suffixes,
            ["_bucket", "_bucket", "_bucket", "_sum", "_count"]
        );
        assert_eq!(h.samples[2].labels[1].1, "+Inf");
        assert_eq!(h.samples[2].value, 4.0);
    }

    #[test]
    fn merge_joins_same_name_and_drops_type_conflicts() {
        let a = MetricFamily::gauge("b", "").with(&[("x", "1")], 1.0);
        let b = MetricFamily::gauge("b", "").with(&[("x", "2")], 2.0);
        let c = MetricFamily::counter("b", "").with(&[], 3.0);
        let d = MetricFamily::gauge("a", "").with(&[], 0.0);
        let (m, conflicts) = merge_and_sort(vec![a, b, c, d]);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].name, "a");
        assert_eq!(m[1].samples.len(), 2);
        assert_eq!(conflicts, vec!["b".to_string()]);
    }
}
