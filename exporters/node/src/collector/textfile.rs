//! Metrics from `*.prom` files in `--collector.textfile.directory`, written by cron jobs and
//! other local tools in the Prometheus text exposition format.
//!
//! A file that fails to parse (or uses client-side timestamps, which upstream refuses) is dropped
//! whole and reported through `node_textfile_scrape_error` and an error log naming the file and
//! line; every other file is still served.
//!
//! Over 800 lines because of its unit tests (about two fifths of the file), kept beside the
//! parser they check.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use clap::Args;
use exporter_core::encode::{is_valid_label_name, is_valid_metric_name};
use exporter_core::{
    BlockingCollector, CollectError, CollectResult, Label, MetricFamily, MetricType, Sample,
};

use crate::collector::CollectorFlags;
use crate::paths::HostPaths;
use crate::util::sorted_dir_names;

const BLANK: [char; 2] = [' ', '\t'];

fn err(line: usize, msg: impl std::fmt::Display) -> CollectError {
    CollectError::Parse(format!("line {line}: {msg}"))
}

/// Splits off the token up to the next blank; the rest keeps its leading blanks.
fn split_token(s: &str) -> (&str, &str) {
    match s.find(BLANK) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Formats a float like Go's `strconv.FormatFloat(v, 'g', -1, 64)`. Upstream re-renders `le`
/// and `quantile` label values this way, and a different spelling would be a different series.
pub fn go_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // `{:e}` gives the shortest round-trip digits, like Go's shortest formatting.
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        // Display never uses an exponent and also prints the shortest round-trip digits.
        format!("{v}")
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    }
}

/// Reads a double-quoted label value (after the opening quote): returns it unescaped and the
/// text after the closing quote.
fn read_label_value(s: &str, line: usize) -> Result<(String, &str), CollectError> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((_, 'n')) => out.push('\n'),
                Some((_, other)) => {
                    return Err(err(line, format!("invalid escape sequence '\\{other}'")))
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(err(line, format!("unexpected end of label value {out:?}")))
}

/// Parses `name="value",...}` (after the opening brace); returns the labels and the text after
/// the closing brace.
fn parse_labels(mut rest: &str, line: usize) -> Result<(Vec<Label>, &str), CollectError> {
    let mut labels: Vec<Label> = Vec::new();
    loop {
        rest = rest.trim_start_matches(BLANK);
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..end];
        if !is_valid_label_name(name) {
            let bad: String = rest
                .chars()
                .take_while(|c| !matches!(c, '=' | ',' | '}' | ' ' | '\t'))
                .collect();
            return Err(err(line, format!("invalid label name {bad:?}")));
        }
        rest = rest[end..].trim_start_matches(BLANK);
        rest = rest
            .strip_prefix('=')
            .ok_or_else(|| err(line, format!("expected '=' after label name {name:?}")))?
            .trim_start_matches(BLANK);
        rest = rest.strip_prefix('"').ok_or_else(|| {
            err(
                line,
                format!("expected '\"' to start the value of label {name:?}"),
            )
        })?;
        let (value, after) = read_label_value(rest, line)?;
        if labels.iter().any(|(k, _)| k == name) {
            return Err(err(line, format!("duplicate label name {name:?}")));
        }
        labels.push((Cow::Owned(name.to_string()), value.into()));
        rest = after.trim_start_matches(BLANK);
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return Err(err(line, "expected ',' or '}' after a label value"));
        }
    }
}

fn unescape_help(s: &str, line: usize) -> Result<String, CollectError> {
    if !s.contains('\\') {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some(other) => return Err(err(line, format!("invalid escape sequence '\\{other}'"))),
            None => return Err(err(line, "invalid escape sequence at end of line")),
        }
    }
    Ok(out)
}

fn parse_type(s: &str) -> Option<MetricType> {
    Some(match s.to_ascii_lowercase().as_str() {
        "counter" => MetricType::Counter,
        "gauge" => MetricType::Gauge,
        "histogram" => MetricType::Histogram,
        "summary" => MetricType::Summary,
        "untyped" => MetricType::Untyped,
        _ => return None,
    })
}

struct FamilyState {
    fam: MetricFamily,
    help_seen: bool,
    type_seen: bool,
    /// A sample line resolved to this family (TYPE may not follow it).
    sampled: bool,
}

#[derive(Default)]
struct Parser {
    families: Vec<FamilyState>,
    index: HashMap<String, usize>,
}

impl Parser {
    fn family(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.families.push(FamilyState {
            fam: MetricFamily::untyped(name.to_string(), ""),
            help_seen: false,
            type_seen: false,
            sampled: false,
        });
        self.index.insert(name.to_string(), self.families.len() - 1);
        self.families.len() - 1
    }

    /// Finds a sample's family: `x_bucket`, `x_sum` and `x_count` belong to an earlier-declared
    /// histogram `x` (`_sum`/`_count` also to a summary), like the reference parser's rule.
    fn resolve(&mut self, name: &str) -> (usize, &'static str) {
        if let Some(&i) = self.index.get(name) {
            return (i, "");
        }
        for (suffix, summary_too) in [("_bucket", false), ("_sum", true), ("_count", true)] {
            let Some(base) = name.strip_suffix(suffix) else {
                continue;
            };
            if let Some(&i) = self.index.get(base) {
                match self.families[i].fam.kind {
                    MetricType::Histogram => return (i, suffix),
                    MetricType::Summary if summary_too => return (i, suffix),
                    _ => {}
                }
            }
        }
        (self.family(name), "")
    }

    fn comment(&mut self, text: &str, line: usize) -> Result<(), CollectError> {
        let (keyword, rest) = split_token(text.trim_start_matches(BLANK));
        if keyword != "HELP" && keyword != "TYPE" {
            return Ok(());
        }
        let rest = rest.trim_start_matches(BLANK);
        if rest.is_empty() {
            return Ok(());
        }
        let (name, rest) = split_token(rest);
        if !is_valid_metric_name(name) {
            return Err(err(
                line,
                format!("invalid metric name {name:?} in comment"),
            ));
        }
        let rest = rest.trim_start_matches(BLANK);
        let i = self.family(name);
        if rest.is_empty() {
            return Ok(());
        }
        let st = &mut self.families[i];
        if keyword == "HELP" {
            if st.help_seen {
                return Err(err(
                    line,
                    format!("second HELP line for metric name {name:?}"),
                ));
            }
            st.help_seen = true;
            st.fam.help = unescape_help(rest, line)?.into();
        } else {
            if st.type_seen || st.sampled {
                return Err(err(
                    line,
                    format!(
                        "second TYPE line for metric name {name:?}, or TYPE reported after samples"
                    ),
                ));
            }
            st.type_seen = true;
            st.fam.kind = parse_type(rest)
                .ok_or_else(|| err(line, format!("unknown metric type {rest:?}")))?;
        }
        Ok(())
    }

    fn sample(&mut self, text: &str, line: usize) -> Result<(), CollectError> {
        let name_end = text.find(|c: char| !is_name_char(c)).unwrap_or(text.len());
        let name = &text[..name_end];
        let mut rest = &text[name_end..];
        if !is_valid_metric_name(name)
            || !(rest.is_empty() || rest.starts_with(BLANK) || rest.starts_with('{'))
        {
            let bad = text.split(BLANK).next().unwrap_or(text);
            return Err(err(line, format!("invalid metric name {bad:?}")));
        }
        let (i, suffix) = self.resolve(name);
        let st = &mut self.families[i];
        st.sampled = true;
        let kind = st.fam.kind;

        let mut labels = Vec::new();
        rest = rest.trim_start_matches(BLANK);
        if let Some(after) = rest.strip_prefix('{') {
            (labels, rest) = parse_labels(after, line)?;
        }
        let mut tokens = rest.split(BLANK).filter(|t| !t.is_empty());
        let raw = tokens
            .next()
            .ok_or_else(|| err(line, format!("missing value for metric {name:?}")))?;
        let value: f64 = raw
            .parse()
            .map_err(|_| err(line, format!("invalid value {raw:?}")))?;
        let ts = tokens.next();
        if let Some(extra) = tokens.next() {
            return Err(err(line, format!("unexpected {extra:?} after timestamp")));
        }
        if let Some(ts) = ts {
            return Err(match ts.parse::<i64>() {
                Ok(_) => err(line, "client-side timestamps are not supported"),
                Err(_) => err(line, format!("invalid timestamp {ts:?}")),
            });
        }

        // Upstream's client library writes labels sorted by name, with `le`/`quantile` last.
        let special = match (kind, suffix) {
            (MetricType::Histogram, "_bucket") => Some("le"),
            (MetricType::Summary, "") => Some("quantile"),
            // The bare name of a histogram carries no series; the reference parser drops it.
            (MetricType::Histogram, "") => return Ok(()),
            _ => None,
        };
        let special = match special {
            Some(key) => {
                // Without its bound the sample cannot be placed; dropped, as upstream does.
                let Some(pos) = labels.iter().position(|(k, _)| k == key) else {
                    return Ok(());
                };
                let (k, v) = labels.remove(pos);
                let bound: f64 = v.trim().parse().map_err(|_| {
                    err(
                        line,
                        format!("expected a float as value for label {key:?}, got {v:?}"),
                    )
                })?;
                Some((k, go_float(bound).into()))
            }
            None => None,
        };
        labels.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        labels.extend(special);
        st.fam.samples.push(Sample {
            suffix,
            labels,
            value,
        });
        Ok(())
    }
}

/// Parses the Prometheus text exposition format (0.0.4) into metric families, in order of first
/// appearance. Families without a TYPE are untyped; families without HELP have an empty help.
/// Errors name the 1-based line. Client-side timestamps are an error, as upstream's textfile
/// collector refuses them.
pub fn parse_exposition(text: &str) -> Result<Vec<MetricFamily>, CollectError> {
    let mut p = Parser::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_matches(|c| c == ' ' || c == '\t' || c == '\r');
        if line.is_empty() {
            continue;
        }
        match line.strip_prefix('#') {
            Some(comment) => p.comment(comment, i + 1)?,
            None => p.sample(line, i + 1)?,
        }
    }
    Ok(p.families
        .into_iter()
        .map(|st| st.fam)
        .filter(|f| !f.samples.is_empty())
        .collect())
}

/// Drops repeated series (same name, suffix and labels), keeping the first: upstream's registry
/// refuses duplicates too, and Prometheus would reject them.
fn dedupe_samples(fam: &mut MetricFamily) {
    let keep: Vec<bool> = {
        let mut seen: HashSet<(&str, &[Label])> = HashSet::with_capacity(fam.samples.len());
        fam.samples
            .iter()
            .map(|s| seen.insert((s.suffix, s.labels.as_slice())))
            .collect()
    };
    if keep.iter().all(|&k| k) {
        return;
    }
    tracing::error!(metric = %fam.name, "textfile: duplicate series dropped");
    let mut keep = keep.into_iter();
    fam.samples.retain(|_| keep.next().unwrap_or(true));
}

/// Reads and parses one file; returns its families and mtime in seconds.
fn read_prom(path: &Path) -> Result<(Vec<MetricFamily>, f64), CollectError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CollectError::io(
            format!("failed to read textfile data file {}", path.display()),
            e,
        )
    })?;
    let families = parse_exposition(&text)?;
    // Stat after parsing, so a file replaced while we read it does not look fresh.
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|e| CollectError::io(format!("failed to stat {}", path.display()), e))?;
    // Whole seconds, as upstream 1.5 reports (Go's `Time.Unix()`, which floors).
    let secs = match modified.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as f64,
        Err(e) => -e.duration().as_secs_f64().ceil(),
    };
    Ok((families, secs))
}

/// The textfile collector's own flags.
#[derive(Debug, Clone, Args)]
pub struct TextfileFlags {
    /// Directory to read text files with metrics from.
    #[arg(
        long = "collector.textfile.directory",
        id = "collector.textfile.directory"
    )]
    directory: Option<PathBuf>,
}

impl CollectorFlags for TextfileFlags {
    /// The directory of `*.prom` files; none reads nothing.
    type Options = Option<PathBuf>;

    fn options(self) -> Result<Option<PathBuf>, String> {
        Ok(self.directory)
    }
}

/// The `textfile` collector: what it reads and emits is in the module documentation.
pub struct TextfileCollector {
    dir: Option<PathBuf>,
}

impl TextfileCollector {
    /// The collector of the `*.prom` files in `directory` (none: it reads nothing). The paths
    /// are not used: the directory is taken as given, as upstream does.
    pub fn new(_paths: &HostPaths, directory: &Option<PathBuf>) -> Self {
        TextfileCollector {
            dir: directory.clone(),
        }
    }
}

impl BlockingCollector for TextfileCollector {
    fn name(&self) -> &'static str {
        "textfile"
    }

    fn collect(&self) -> CollectResult {
        let scrape_error = MetricFamily::gauge(
            "node_textfile_scrape_error",
            "1 if there was an error opening or reading a file, 0 otherwise",
        );
        let Some(dir) = &self.dir else {
            return Ok(vec![scrape_error.with(&[], 0.0)]);
        };

        let mut errored = false;
        let names = sorted_dir_names(dir).unwrap_or_else(|e| {
            tracing::error!(path = %dir.display(), err = %e, "failed to read textfile collector directory");
            errored = true;
            Vec::new()
        });

        let mut mtime = MetricFamily::gauge(
            "node_textfile_mtime_seconds",
            "Unixtime mtime of textfiles successfully read.",
        );
        let mut merged: Vec<MetricFamily> = Vec::new();
        // Family name -> (index in `merged`, files it was read from).
        let mut by_name: HashMap<String, (usize, Vec<String>)> = HashMap::new();
        for name in names.iter().filter(|n| n.ends_with(".prom")) {
            let path = dir.join(name);
            let shown = path.display().to_string();
            let (families, modified) = match read_prom(&path) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(file = %shown, err = %e, "failed to collect textfile data");
                    errored = true;
                    continue;
                }
            };
            for fam in families {
                match by_name.get_mut(fam.name.as_ref()) {
                    Some((i, files)) => {
                        files.push(shown.clone());
                        let Some(into) = merged.get_mut(*i) else {
                            continue;
                        };
                        if into.kind != fam.kind {
                            tracing::error!(
                                file = %shown,
                                metric = %fam.name,
                                "textfile metric has type {} but an earlier file declared {}; dropped",
                                fam.kind.as_str(),
                                into.kind.as_str()
                            );
                            continue;
                        }
                        if into.help.is_empty() {
                            into.help = fam.help;
                        }
                        into.samples.extend(fam.samples);
                    }
                    None => {
                        by_name.insert(fam.name.to_string(), (merged.len(), vec![shown.clone()]));
                        merged.push(fam);
                    }
                }
            }
            mtime.push(&[("file", &shown)], modified);
        }

        for fam in &mut merged {
            if fam.help.is_empty() {
                if let Some((_, files)) = by_name.get(fam.name.as_ref()) {
                    fam.help = format!("Metric read from {}", files.join(", ")).into();
                }
            }
            dedupe_samples(fam);
        }
        merged.push(mtime);
        merged.push(scrape_error.with(&[], if errored { 1.0 } else { 0.0 }));
        Ok(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{family_names, label_pairs};

    fn parse_err(text: &str) -> String {
        match parse_exposition(text) {
            Ok(f) => panic!("expected an error for {text:?}, got {f:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_help_type_and_labels() {
        let text = "# HELP node_raid_ok RAID array state, 1 \\\\ ok\\nsecond line.\n\
                    # TYPE node_raid_ok gauge\n\
                    node_raid_ok{array=\"md0\",zz=\"1\", aa = \"x\" ,} 1\n\
                    node_raid_ok{array=\"md1\"} 0\n\
                    \n\
                    # a plain comment\n\
                    #HELP-ish not a help line\n\
                    plain_metric 4.5e3\n";
        let fams = parse_exposition(text).unwrap();
        assert_eq!(fams.len(), 2);
        let raid = &fams[0];
        assert_eq!(raid.name, "node_raid_ok");
        assert_eq!(raid.help, "RAID array state, 1 \\ ok\nsecond line.");
        assert_eq!(raid.kind, MetricType::Gauge);
        assert_eq!(
            label_pairs(&raid.samples[0]),
            [("aa", "x"), ("array", "md0"), ("zz", "1")]
        );
        assert_eq!(raid.samples[1].value, 0.0);
        assert_eq!(fams[1].kind, MetricType::Untyped);
        assert_eq!(fams[1].help, "");
        assert_eq!(fams[1].samples[0].value, 4500.0);
    }

    #[test]
    fn label_values_unescape() {
        let fams = parse_exposition("m{a=\"q\\\"\\\\n\\n\",b=\"é,}{=\"} 1\n").unwrap();
        assert_eq!(
            label_pairs(&fams[0].samples[0]),
            [("a", "q\"\\n\n"), ("b", "é,}{=")]
        );
        assert!(parse_err("m{a=\"\\t\"} 1").contains("invalid escape sequence"));
    }

    #[test]
    fn special_values() {
        let fams = parse_exposition("a +Inf\nb -Inf\nc NaN\nd 1e-9\ne -0.5\n").unwrap();
        let v: Vec<f64> = fams.iter().map(|f| f.samples[0].value).collect();
        assert_eq!(v[0], f64::INFINITY);
        assert_eq!(v[1], f64::NEG_INFINITY);
        assert!(v[2].is_nan());
        assert_eq!(&v[3..], [1e-9, -0.5]);
    }

    #[test]
    fn histogram_and_summary_suffixes_belong_to_their_family() {
        let text = "# HELP rpc_seconds RPC latency.\n\
                    # TYPE rpc_seconds histogram\n\
                    rpc_seconds_bucket{le=\"0.1\",method=\"get\"} 1\n\
                    rpc_seconds_bucket{method=\"get\",le=\"1000000\"} 2\n\
                    rpc_seconds_bucket{method=\"get\",le=\"+Inf\"} 3\n\
                    rpc_seconds_sum{method=\"get\"} 4.5\n\
                    rpc_seconds_count{method=\"get\"} 3\n\
                    rpc_seconds{method=\"get\"} 9\n\
                    # TYPE q summary\n\
                    q{quantile=\"0.50\"} 1\n\
                    q{other=\"x\"} 5\n\
                    q_sum 3\n\
                    q_count 2\n\
                    q_bucket{le=\"1\"} 7\n\
                    # TYPE c counter\n\
                    c_count 1\n";
        let fams = parse_exposition(text).unwrap();
        let names = family_names(&fams);
        assert_eq!(names, ["rpc_seconds", "q", "q_bucket", "c_count"]);

        let h = &fams[0];
        assert_eq!(h.kind, MetricType::Histogram);
        let suffixes: Vec<_> = h.samples.iter().map(|s| s.suffix).collect();
        assert_eq!(
            suffixes,
            ["_bucket", "_bucket", "_bucket", "_sum", "_count"]
        );
        assert_eq!(
            label_pairs(&h.samples[0]),
            [("method", "get"), ("le", "0.1")]
        );
        assert_eq!(
            label_pairs(&h.samples[1]),
            [("method", "get"), ("le", "1e+06")]
        );
        assert_eq!(label_pairs(&h.samples[2])[1], ("le", "+Inf"));

        let q = &fams[1];
        assert_eq!(q.kind, MetricType::Summary);
        let got: Vec<_> = q.samples.iter().map(|s| (s.suffix, s.value)).collect();
        assert_eq!(got, [("", 1.0), ("_sum", 3.0), ("_count", 2.0)]);
        assert_eq!(label_pairs(&q.samples[0]), [("quantile", "0.5")]);
        assert_eq!(
            fams[3].kind,
            MetricType::Untyped,
            "counters have no _count part"
        );
    }

    #[test]
    fn bad_bucket_bound_is_an_error() {
        let e = parse_err("# TYPE h histogram\nh_bucket{le=\"abc\"} 1\n");
        assert!(e.contains("line 2") && e.contains("le"), "{e}");
    }

    #[test]
    fn go_float_matches_go_formatting() {
        for (v, s) in [
            (0.1, "0.1"),
            (1.0, "1"),
            (100000.0, "100000"),
            (1000000.0, "1e+06"),
            (1.6777216e7, "1.6777216e+07"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (2.5e-10, "2.5e-10"),
            (-1.5e300, "-1.5e+300"),
            (0.0, "0"),
            (f64::INFINITY, "+Inf"),
        ] {
            assert_eq!(go_float(v), s);
        }
    }

    #[test]
    fn timestamps_are_rejected() {
        let e = parse_err("ok 1\nts_metric 1 1700000000000\n");
        assert!(e.contains("line 2") && e.contains("timestamps"), "{e}");
        assert!(parse_err("m 1 soon").contains("invalid timestamp"));
        assert!(parse_err("m 1 2 3").contains("after timestamp"));
    }

    #[test]
    fn errors_name_the_line() {
        for (text, line, what) in [
            ("good 1\nbad{a=\"x\" 1\n", 2, "expected ',' or '}'"),
            (
                "good 1\n\nbad{a=\"x 1\n",
                3,
                "unexpected end of label value",
            ),
            ("m{a=\"1\",a=\"2\"} 1", 1, "duplicate label name"),
            ("m{__name__=\"x\"} 1", 1, "invalid label name"),
            ("m{1a=\"x\"} 1", 1, "invalid label name"),
            ("m{a} 1", 1, "expected '='"),
            ("m{a=x} 1", 1, "expected '\"'"),
            ("m{,} 1", 1, "invalid label name"),
            ("m", 1, "missing value"),
            ("m{a=\"b\"}", 1, "missing value"),
            ("m one", 1, "invalid value"),
            ("1m 1", 1, "invalid metric name"),
            ("foo-bar 1", 1, "invalid metric name \"foo-bar\""),
            ("# TYPE m gauge\n# TYPE m counter", 2, "second TYPE"),
            ("m 1\n# TYPE m gauge", 2, "TYPE reported after samples"),
            ("# HELP m a\n# HELP m b", 2, "second HELP"),
            ("# TYPE m gauges", 1, "unknown metric type"),
            ("# HELP m bad \\t escape", 1, "invalid escape"),
            ("# HELP 0m x", 1, "invalid metric name"),
        ] {
            let e = parse_err(text);
            assert!(e.contains(&format!("line {line}:")), "{text:?}: {e}");
            assert!(e.contains(what), "{text:?}: {e}");
        }
    }

    #[test]
    fn lenient_where_the_reference_parser_is() {
        let fams = parse_exposition(
            "# HELP\n# TYPE\n# HELP only_name\n# TYPE m GAUGE\n  m  {  }  2 \r\n#\n",
        )
        .unwrap();
        assert_eq!(fams.len(), 1);
        assert_eq!(fams[0].kind, MetricType::Gauge);
        assert_eq!(fams[0].samples[0].value, 2.0);
        // Families declared but never sampled are not returned.
        assert!(parse_exposition("# TYPE x counter\n# HELP y z\n")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn garbage_never_panics() {
        let inputs = [
            "{",
            "}",
            "{}",
            "\"",
            "\\",
            "m{",
            "m{a",
            "m{a=",
            "m{a=\"",
            "m{a=\"\\",
            "m{a=\"x\"",
            "m{a=\"x\",",
            "# TYPE",
            "# TYPE m",
            "#",
            "é 1",
            "m{é=\"x\"} 1",
            "m{a=\"é\"} é",
            "\u{0}",
            "m\u{0} 1",
            "m 1e999999",
            "# HELP m \\",
            "m{a=\"x\"}}} 1",
            "=\"\"",
            "\x7f\x7f\x7f",
            "m{a=\"x\" 1 2 3}",
        ];
        for input in inputs {
            let _ = parse_exposition(input);
        }
        // Every truncation of a realistic file, at every char boundary.
        let full = "# HELP m_seconds Help \\\\ x.\n# TYPE m_seconds histogram\n\
                    m_seconds_bucket{a=\"é\\\"\",le=\"0.5\"} 1\nm_seconds_sum 2\n";
        for (i, _) in full.char_indices() {
            let _ = parse_exposition(&full[..i]);
        }
    }

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    fn collect(dir: Option<&Path>) -> Vec<MetricFamily> {
        TextfileCollector::new(&HostPaths::default(), &dir.map(Path::to_path_buf))
            .collect()
            .unwrap()
    }

    fn find<'a>(fams: &'a [MetricFamily], name: &str) -> Option<&'a MetricFamily> {
        fams.iter().find(|f| f.name == name)
    }

    #[test]
    fn no_directory_only_reports_no_error() {
        let fams = collect(None);
        assert_eq!(fams.len(), 1);
        assert_eq!(fams[0].name, "node_textfile_scrape_error");
        assert_eq!(fams[0].samples[0].value, 0.0);
    }

    #[test]
    fn missing_directory_is_a_scrape_error() {
        let fams = collect(Some(Path::new("/nonexistent/textfiles")));
        let e = find(&fams, "node_textfile_scrape_error").unwrap();
        assert_eq!(e.samples[0].value, 1.0);
    }

    #[test]
    fn bad_files_are_reported_and_good_ones_merged() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(
            d,
            "a.prom",
            "# TYPE shared gauge\nshared{b=\"1\"} 1\nonly_a 1\n",
        );
        write(d, "b.prom", "shared{b=\"2\"} 2\nts 1 1700000000000\n");
        write(d, "c.prom", "good 1\nbad{a=\"x\" 1\n");
        write(
            d,
            "d.prom",
            "# HELP shared From d.\n# TYPE shared gauge\nshared{b=\"3\"} 3\nshared{b=\"1\"} 9\n",
        );
        write(d, "e.prom", "# TYPE only_a counter\nonly_a 5\n");
        write(d, "ignored.txt", "not even parsed {{{");
        std::fs::create_dir(d.join("dir.prom")).unwrap();

        let fams = collect(Some(d));
        assert_eq!(
            find(&fams, "node_textfile_scrape_error").unwrap().samples[0].value,
            1.0
        );
        assert!(find(&fams, "good").is_none(), "a bad file is dropped whole");
        assert!(find(&fams, "ts").is_none());

        let shared = find(&fams, "shared").unwrap();
        assert_eq!(shared.help, "From d.");
        let values: Vec<f64> = shared.samples.iter().map(|s| s.value).collect();
        assert_eq!(
            values,
            [1.0, 3.0],
            "b.prom rejected; duplicate b=1 from d dropped"
        );

        let only_a = find(&fams, "only_a").unwrap();
        assert_eq!(
            only_a.kind,
            MetricType::Untyped,
            "conflicting type from e.prom dropped"
        );
        assert_eq!(only_a.samples.len(), 1);
        assert_eq!(
            only_a.help,
            format!(
                "Metric read from {}, {}",
                d.join("a.prom").display(),
                d.join("e.prom").display()
            )
        );

        let mtime = find(&fams, "node_textfile_mtime_seconds").unwrap();
        let files: Vec<String> = mtime
            .samples
            .iter()
            .map(|s| s.labels[0].1.to_string())
            .collect();
        let expect: Vec<String> = ["a.prom", "d.prom", "e.prom"]
            .iter()
            .map(|n| d.join(n).display().to_string())
            .collect();
        assert_eq!(files, expect);
        let now = std::time::SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!((mtime.samples[0].value - now).abs() < 60.0);
        assert_eq!(mtime.samples[0].value.fract(), 0.0);
    }

    #[test]
    fn clean_directory_reports_no_error() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "x.prom",
            "# HELP x X.\n# TYPE x counter\nx_total 1\n",
        );
        let fams = collect(Some(dir.path()));
        assert_eq!(
            find(&fams, "node_textfile_scrape_error").unwrap().samples[0].value,
            0.0
        );
        assert_eq!(
            find(&fams, "x_total").unwrap().help,
            format!("Metric read from {}", dir.path().join("x.prom").display())
        );
    }
}
