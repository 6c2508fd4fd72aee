//! User-defined metrics (`--extend.query-path`) in upstream's queries.yaml format:
//!
//! ```yaml
//! pg_replication:
//!   query: "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0 ELSE ... END AS lag"
//!   master: true            # only on the DSN's own database, not on discovered ones
//!   cache_seconds: 30       # reuse the result for this long
//!   runonserver: ">=10.0.0" # only on these server versions
//!   metrics:
//!     - lag:
//!         usage: "GAUGE"
//!         description: "Replication lag behind master in seconds"
//! ```
//!
//! Usages: DISCARD, LABEL, COUNTER, GAUGE, MAPPEDMETRIC (`metric_mapping`), DURATION (a text
//! duration, reported as `<name>_milliseconds`) and HISTOGRAM (`<col>` bucket bounds,
//! `<col>_bucket`, `<col>_sum`, `<col>_count`). A file that does not parse or validate is a
//! start-up error naming the query and the column. Each query is its own collector: a failing
//! query, or one that returns the same label values twice, only sets its own success to 0.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use exporter_core::encode::{is_valid_label_name, is_valid_metric_name};
use exporter_core::{CollectError, Label, LabelValue, MetricFamily, MetricType};
use serde::Deserialize;

use crate::collector::{PgCollector, PgFuture};
use crate::connection::QueryError;
use crate::instance::Instance;
use crate::value::{cells, Cell};

/// A column's `usage` in queries.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Usage {
    Discard,
    Label,
    Counter,
    Gauge,
    MappedMetric,
    Duration,
    Histogram,
}

impl Usage {
    fn parse(s: &str) -> Option<Usage> {
        Some(match s {
            "DISCARD" => Usage::Discard,
            "LABEL" => Usage::Label,
            "COUNTER" => Usage::Counter,
            "GAUGE" => Usage::Gauge,
            "MAPPEDMETRIC" => Usage::MappedMetric,
            "DURATION" => Usage::Duration,
            "HISTOGRAM" => Usage::Histogram,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ColumnSpec {
    pub(crate) name: String,
    pub(crate) usage: Usage,
    pub(crate) description: String,
    pub(crate) mapping: BTreeMap<String, f64>,
}

/// `runonserver`: comparators such as `>=10.0.0 <14.0.0`, all of which must hold.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VersionRange(Vec<(String, (u32, u32, u32))>);

impl VersionRange {
    pub(crate) fn parse(s: &str) -> Result<VersionRange, String> {
        let mut out = Vec::new();
        for token in s.split_whitespace() {
            let op_len = token
                .find(|c: char| c.is_ascii_digit())
                .ok_or_else(|| format!("{token:?} has no version"))?;
            let (op, ver) = token.split_at(op_len);
            if !matches!(op, ">=" | ">" | "<=" | "<" | "=" | "==" | "" | "!=") {
                return Err(format!("unknown comparison {op:?}"));
            }
            let mut parts = ver.split('.').map(|p| p.parse::<u32>());
            let mut next = || parts.next().transpose().map(|p| p.unwrap_or(0));
            let v = (
                next().map_err(|_| format!("bad version {ver:?}"))?,
                next().map_err(|_| format!("bad version {ver:?}"))?,
                next().map_err(|_| format!("bad version {ver:?}"))?,
            );
            out.push((op.to_string(), v));
        }
        if out.is_empty() {
            return Err("empty version range".into());
        }
        Ok(VersionRange(out))
    }

    /// `server_version_num` as upstream's semver: 150004 is 15.4.0, 90624 is 9.6.24.
    pub(crate) fn matches(&self, version_num: u32) -> bool {
        let v = if version_num >= 100000 {
            (version_num / 10000, version_num % 10000, 0)
        } else {
            (
                version_num / 10000,
                version_num / 100 % 100,
                version_num % 100,
            )
        };
        self.0.iter().all(|(op, w)| match op.as_str() {
            ">=" => v >= *w,
            ">" => v > *w,
            "<=" => v <= *w,
            "<" => v < *w,
            "!=" => v != *w,
            _ => v == *w,
        })
    }
}

/// One query of the file, validated.
#[derive(Debug, Clone)]
pub(crate) struct UserQuery {
    pub(crate) name: String,
    /// The name as a collector name (fixed for the life of the process).
    pub(crate) collector_name: &'static str,
    pub(crate) sql: String,
    pub(crate) master: bool,
    pub(crate) cache: Option<Duration>,
    pub(crate) runonserver: Option<VersionRange>,
    pub(crate) columns: Vec<ColumnSpec>,
}

#[derive(Debug, Deserialize)]
struct RawQuery {
    query: Option<String>,
    #[serde(default)]
    metrics: Vec<BTreeMap<String, RawColumn>>,
    #[serde(default)]
    master: bool,
    #[serde(default)]
    cache_seconds: u64,
    #[serde(default)]
    runonserver: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawColumn {
    usage: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    metric_mapping: BTreeMap<String, f64>,
    /// Parsed by upstream and then ignored for user queries; accepted for compatibility.
    #[serde(default, rename = "pg_version")]
    _pg_version: Option<serde_yaml_ng::Value>,
}

/// The top-level key (query name) whose block contains `line` (1-based), for YAML syntax errors.
fn query_at_line(text: &str, line: usize) -> Option<String> {
    text.lines()
        .take(line)
        .filter(|l| !l.starts_with([' ', '\t', '#', '-']) && l.contains(':'))
        .last()
        .map(|l| {
            l.split(':')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches('"')
                .to_string()
        })
}

/// Parses and validates a queries file. Errors name the file, the query and the column.
pub(crate) fn parse(text: &str, file: &str) -> Result<Vec<UserQuery>, String> {
    let top: BTreeMap<String, serde_yaml_ng::Value> =
        match serde_yaml_ng::from_str::<Option<_>>(text) {
            Ok(v) => v.unwrap_or_default(),
            Err(e) => {
                let at = e
                    .location()
                    .and_then(|l| query_at_line(text, l.line()))
                    .map(|q| format!(" (in query {q})"))
                    .unwrap_or_default();
                return Err(format!("{file}: invalid YAML{at}: {e}"));
            }
        };
    let mut out = Vec::new();
    for (name, value) in top {
        let fail = |msg: String| format!("{file}: query {name}: {msg}");
        if !is_valid_metric_name(&name) {
            return Err(fail("the query name is not a valid metric name".into()));
        }
        let raw: RawQuery = serde_yaml_ng::from_value(value).map_err(|e| fail(e.to_string()))?;
        let sql = raw
            .query
            .filter(|q| !q.trim().is_empty())
            .ok_or_else(|| fail("missing \"query\"".into()))?;
        let runonserver = raw
            .runonserver
            .as_deref()
            .map(VersionRange::parse)
            .transpose()
            .map_err(|e| fail(format!("runonserver: {e}")))?;
        let mut columns: Vec<ColumnSpec> = Vec::new();
        for entry in raw.metrics {
            for (col, spec) in entry {
                let fail = |msg: String| fail(format!("column {col}: {msg}"));
                let usage_text = spec.usage.ok_or_else(|| fail("missing \"usage\"".into()))?;
                let usage = Usage::parse(&usage_text).ok_or_else(|| {
                    fail(format!(
                        "unknown usage {usage_text:?} (DISCARD, LABEL, COUNTER, GAUGE, MAPPEDMETRIC, DURATION, HISTOGRAM)"
                    ))
                })?;
                if columns.iter().any(|c| c.name == col) {
                    return Err(fail("listed twice".into()));
                }
                let valid = if usage == Usage::Label {
                    is_valid_label_name(&col) && col != "server"
                } else {
                    is_valid_metric_name(&format!("{name}_{col}"))
                };
                if !valid {
                    return Err(fail("not a valid metric or label name".into()));
                }
                if usage == Usage::MappedMetric && spec.metric_mapping.is_empty() {
                    return Err(fail("MAPPEDMETRIC needs a metric_mapping".into()));
                }
                columns.push(ColumnSpec {
                    name: col,
                    usage,
                    description: spec.description,
                    mapping: spec.metric_mapping,
                });
            }
        }
        out.push(UserQuery {
            collector_name: Box::leak(name.clone().into_boxed_str()),
            name,
            sql,
            master: raw.master,
            cache: (raw.cache_seconds > 0).then(|| Duration::from_secs(raw.cache_seconds)),
            runonserver,
            columns,
        });
    }
    Ok(out)
}

/// A DURATION column's text (Go syntax, as upstream parses it: `1h2m3.5s`, `300ms`) in
/// milliseconds, upstream's unit for these columns.
fn duration_ms(text: &str) -> Option<f64> {
    exporter_core::duration::parse_go_seconds(text).map(|seconds| seconds * 1000.0)
}

/// Maps the rows of one user query. `names` are the result's column names.
pub(crate) fn map_query(
    q: &UserQuery,
    names: &[String],
    rows: &[Vec<Cell>],
    base: &[Label],
) -> Result<Vec<MetricFamily>, String> {
    let spec_of = |col: &str| q.columns.iter().find(|c| c.name == col);
    let index_of = |col: &str| names.iter().position(|n| n == col);
    // Histogram parts are consumed by their histogram column.
    let mut consumed: HashSet<&str> = HashSet::new();
    for c in q.columns.iter().filter(|c| c.usage == Usage::Histogram) {
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(n) = names.iter().find(|n| **n == format!("{}{suffix}", c.name)) {
                consumed.insert(n.as_str());
            }
        }
    }
    let label_cols: Vec<&ColumnSpec> = q
        .columns
        .iter()
        .filter(|c| c.usage == Usage::Label)
        .collect();
    let mut families: Vec<MetricFamily> = Vec::new();
    let mut family_index: HashMap<String, usize> = HashMap::new();
    let mut seen: HashSet<(usize, Vec<LabelValue>)> = HashSet::new();
    for row in rows {
        let mut labels: Vec<Label> = label_cols
            .iter()
            .map(|c| {
                let value = index_of(&c.name)
                    .and_then(|i| row.get(i))
                    .map(Cell::as_label)
                    .unwrap_or_default();
                (Cow::Owned(c.name.clone()), value)
            })
            .collect();
        labels.extend(base.iter().cloned());
        let label_values: Vec<LabelValue> = labels.iter().map(|(_, v)| v.clone()).collect();
        for (i, name) in names.iter().enumerate() {
            if consumed.contains(name.as_str()) {
                continue;
            }
            let cell = row.get(i).unwrap_or(&Cell::Null);
            let spec = spec_of(name);
            let (metric, help, kind, value): (String, String, MetricType, Option<f64>) = match spec
            {
                None => match cell.as_f64() {
                    Some(v) => (
                        format!("{}_{name}", q.name),
                        format!("Unknown metric from {}", q.name),
                        MetricType::Untyped,
                        Some(v),
                    ),
                    None if cell.is_null() => continue,
                    None => continue,
                },
                Some(s) => match s.usage {
                    Usage::Discard | Usage::Label => continue,
                    Usage::Counter | Usage::Gauge => {
                        let v = match cell {
                            Cell::Null => Some(f64::NAN),
                            c => c.as_f64(),
                        };
                        let kind = if s.usage == Usage::Counter {
                            MetricType::Counter
                        } else {
                            MetricType::Gauge
                        };
                        (format!("{}_{name}", q.name), s.description.clone(), kind, v)
                    }
                    Usage::MappedMetric => (
                        format!("{}_{name}", q.name),
                        s.description.clone(),
                        MetricType::Gauge,
                        s.mapping.get(cell.as_label().as_str()).copied(),
                    ),
                    Usage::Duration => {
                        let v = match cell {
                            Cell::Float(secs) => Some(secs * 1000.0),
                            Cell::Text(t) if t.trim() == "-1" => None,
                            Cell::Text(t) => duration_ms(t),
                            _ => None,
                        };
                        (
                            format!("{}_{name}_milliseconds", q.name),
                            s.description.clone(),
                            MetricType::Gauge,
                            v,
                        )
                    }
                    Usage::Histogram => {
                        let fam_name = format!("{}_{name}", q.name);
                        let get = |suffix: &str| {
                            index_of(&format!("{name}{suffix}")).and_then(|j| row.get(j))
                        };
                        let (Cell::Array(bounds), Some(Cell::Array(counts))) =
                            (cell, get("_bucket"))
                        else {
                            return Err(format!(
                                "query {}: HISTOGRAM column {name} needs array columns {name} and {name}_bucket",
                                q.name
                            ));
                        };
                        let sum = get("_sum").and_then(Cell::as_f64).unwrap_or(0.0);
                        let count = get("_count").and_then(Cell::as_f64).unwrap_or(0.0);
                        let buckets: Vec<(f64, u64)> = bounds
                            .iter()
                            .zip(counts)
                            .filter_map(|(b, c)| Some(((*b)?, (*c)? as u64)))
                            .collect();
                        let idx = *family_index.entry(fam_name.clone()).or_insert_with(|| {
                            families.push(MetricFamily::histogram(
                                fam_name.clone(),
                                s.description.clone(),
                            ));
                            families.len() - 1
                        });
                        if !seen.insert((idx, label_values.clone())) {
                            return Err(duplicate(q, &fam_name, &labels));
                        }
                        let mut h = MetricFamily::histogram("", "");
                        h.push_histogram(&[], &buckets, sum, count as u64);
                        for mut sample in h.samples {
                            let mut l = labels.clone();
                            l.append(&mut sample.labels);
                            sample.labels = l;
                            families[idx].samples.push(sample);
                        }
                        continue;
                    }
                },
            };
            let Some(value) = value else {
                continue;
            };
            let idx = *family_index.entry(metric.clone()).or_insert_with(|| {
                families.push(MetricFamily::new(metric.clone(), help, kind));
                families.len() - 1
            });
            if !seen.insert((idx, label_values.clone())) {
                return Err(duplicate(q, &metric, &labels));
            }
            families[idx].push_labels(labels.clone(), value);
        }
    }
    Ok(families)
}

fn duplicate(q: &UserQuery, metric: &str, labels: &[Label]) -> String {
    let shown: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!(
        "query {}: returned {metric}{{{}}} more than once (add a LABEL column that tells the rows apart)",
        q.name,
        shown.join(",")
    )
}

/// One user query as a collector.
pub(crate) struct UserQueryCollector {
    query: Arc<UserQuery>,
    cache: Mutex<HashMap<String, (Instant, Vec<MetricFamily>)>>,
}

impl UserQueryCollector {
    /// The collector for `query`, with nothing cached.
    pub(crate) fn new(query: Arc<UserQuery>) -> Self {
        UserQueryCollector {
            query,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, key: &str) -> Option<Vec<MetricFamily>> {
        let ttl = self.query.cache?;
        let cache = self.cache.lock().ok()?;
        let (at, fams) = cache.get(key)?;
        (at.elapsed() < ttl).then(|| fams.clone())
    }
}

impl PgCollector for UserQueryCollector {
    fn collect<'a>(&'a self, inst: &'a Instance) -> PgFuture<'a> {
        Box::pin(async move {
            let q = &self.query;
            let targets = if q.master {
                vec![Arc::clone(&inst.main)]
            } else {
                inst.database_connections().await?
            };
            let mut out = Vec::new();
            for (i, target) in targets.iter().enumerate() {
                let key = format!("{}/{}", inst.server(), target.dsn().effective_dbname());
                if let Some(fams) = self.cached(&key) {
                    out.extend(fams);
                    continue;
                }
                let result = async {
                    let session = target.session().await?;
                    if q.runonserver
                        .as_ref()
                        .is_some_and(|r| !r.matches(session.version_num))
                    {
                        return Ok(Vec::new());
                    }
                    // A user's query that fails is the user's to fix: an error, not a debug line.
                    let rows = target.query(&session, &q.sql).await.map_err(|e| match e {
                        QueryError::Unavailable(msg) | QueryError::Failed(msg) => {
                            CollectError::Other(format!("query {}: {msg}", q.name))
                        }
                        connect => connect.into(),
                    })?;
                    let names: Vec<String> = rows
                        .first()
                        .map(|r| r.columns().iter().map(|c| c.name().to_string()).collect())
                        .unwrap_or_default();
                    let data: Vec<Vec<Cell>> = rows.iter().map(cells).collect();
                    map_query(q, &names, &data, &inst.labels).map_err(CollectError::Other)
                }
                .await;
                match result {
                    Ok(fams) => {
                        if q.cache.is_some() {
                            if let Ok(mut c) = self.cache.lock() {
                                c.insert(key, (Instant::now(), fams.clone()));
                            }
                        }
                        out.extend(fams);
                    }
                    Err(e) if i == 0 => return Err(e),
                    Err(e) => {
                        tracing::debug!(query = %q.name, database = target.dsn().effective_dbname(), err = %e, "user query skipped a database");
                    }
                }
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{base, family, num, on_server, series, text};

    const GOOD: &str = r#"
pg_replication:
  query: "SELECT 0 AS lag"
  master: true
  metrics:
    - lag:
        usage: "GAUGE"
        description: "Replication lag behind master in seconds"

pg_things:
  query: "SELECT name, state, n, extra, d FROM things"
  cache_seconds: 30
  runonserver: ">=10.0.0 <99.0.0"
  metrics:
    - name:
        usage: "LABEL"
        description: "Name"
    - state:
        usage: "MAPPEDMETRIC"
        description: "State"
        metric_mapping:
          on: 1
          off: 0
    - n:
        usage: "COUNTER"
        description: "Count"
    - d:
        usage: "DURATION"
        description: "Age"
"#;

    #[test]
    fn parses_upstream_format() {
        let qs = parse(GOOD, "q.yaml").unwrap();
        assert_eq!(qs.len(), 2);
        let t = qs.iter().find(|q| q.name == "pg_things").unwrap();
        assert_eq!(t.cache, Some(Duration::from_secs(30)));
        assert!(!t.master && qs[0].master);
        assert!(t.runonserver.as_ref().unwrap().matches(150004));
        assert!(!t.runonserver.as_ref().unwrap().matches(90624));
        assert_eq!(t.columns.len(), 4);
    }

    #[test]
    fn bad_files_name_the_query_and_column() {
        // (file, what the error must name)
        let cases: &[(&str, &[&str])] = &[
            (
                "pg_x:\n  query: SELECT 1\n  metrics:\n    - v:\n        usage: GAUGES\n",
                &["f.yaml", "pg_x", "column v", "GAUGES"],
            ),
            ("pg_y:\n  metrics: []\n", &["pg_y", "query"]),
            (
                "pg_ok:\n  query: SELECT 1\npg_broken:\n  query: \"SELECT 1\n  metrics: [\n",
                &["invalid YAML"],
            ),
            (
                "pg_z:\n  query: SELECT 1\n  runonserver: \"~>1\"\n",
                &["pg_z", "runonserver"],
            ),
            (
                "pg_m:\n  query: SELECT 1\n  metrics:\n    - s:\n        usage: MAPPEDMETRIC\n",
                &["metric_mapping"],
            ),
        ];
        for (yaml, names) in cases {
            let e = parse(yaml, "f.yaml").unwrap_err();
            for name in *names {
                assert!(e.contains(name), "{name}: {e}");
            }
        }
        assert!(parse("", "f").unwrap().is_empty());
    }

    #[test]
    fn maps_rows_like_upstream() {
        let qs = parse(GOOD, "q.yaml").unwrap();
        let t = qs.iter().find(|q| q.name == "pg_things").unwrap();
        let names: Vec<String> = ["name", "state", "n", "extra", "d"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let rows = vec![
            vec![text("a"), text("on"), Cell::Int(3), num(7.0), text("1m30s")],
            vec![
                text("b"),
                text("weird"),
                Cell::Null,
                text("not a number"),
                text("-1"),
            ],
        ];
        let fams = map_query(t, &names, &rows, &base()).unwrap();
        assert_eq!(
            series(family(&fams, "pg_things_state")),
            vec![(on_server(&["name=a"]), 1.0)]
        );
        let n = family(&fams, "pg_things_n");
        assert_eq!(n.kind, MetricType::Counter);
        assert!(n.samples[1].value.is_nan());
        let extra = family(&fams, "pg_things_extra");
        assert_eq!(
            (extra.kind, extra.help.as_ref()),
            (MetricType::Untyped, "Unknown metric from pg_things")
        );
        assert_eq!(extra.samples.len(), 1);
        assert_eq!(
            series(family(&fams, "pg_things_d_milliseconds")),
            vec![(on_server(&["name=a"]), 90_000.0)]
        );
    }

    #[test]
    fn duplicate_series_is_an_error_naming_the_query() {
        let qs = parse(GOOD, "q.yaml").unwrap();
        let r = qs.iter().find(|q| q.name == "pg_replication").unwrap();
        let e = map_query(
            r,
            &["lag".into()],
            &[vec![num(1.0)], vec![num(2.0)]],
            &base(),
        )
        .unwrap_err();
        assert!(
            e.contains("pg_replication") && e.contains("more than once"),
            "{e}"
        );
    }

    #[test]
    fn histograms() {
        let q = parse(
            "pg_h:\n  query: SELECT 1\n  metrics:\n    - lat:\n        usage: HISTOGRAM\n        description: Latency\n",
            "f",
        )
        .unwrap()
        .remove(0);
        let names: Vec<String> = ["lat", "lat_bucket", "lat_sum", "lat_count"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let rows = vec![vec![
            Cell::Array(vec![Some(0.1), Some(1.0)]),
            Cell::Array(vec![Some(2.0), Some(5.0)]),
            num(3.5),
            Cell::Int(6),
        ]];
        let fams = map_query(&q, &names, &rows, &base()).unwrap();
        assert_eq!(fams.len(), 1);
        assert_eq!(fams[0].kind, MetricType::Histogram);
        assert_eq!(fams[0].samples.len(), 5);
        assert_eq!(fams[0].samples[2].value, 6.0);
    }

    #[test]
    fn duration_columns_are_milliseconds() {
        assert_eq!(duration_ms("1h2m3.5s"), Some(3_723_500.0));
        assert_eq!(duration_ms("250ms"), Some(250.0));
        assert_eq!(duration_ms("-2s"), Some(-2000.0));
        assert_eq!(duration_ms("0"), Some(0.0));
        assert_eq!(duration_ms("5 days"), None);
        assert_eq!(duration_ms(""), None);
    }
}
