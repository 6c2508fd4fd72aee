//! The shipped Grafana dashboards: generated from monitoring/grafana/generate.py and up to date,
//! provisionable from files (no `__inputs`, every panel on the `datasource` variable), every
//! panel with a query that PromQL parses, and every metric they query emitted by our exporters or
//! the instrument crate.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use std::process::Stdio;

use exporter_core::encode::encode_text;
use exporter_core::testkit::{
    family_shapes, free_port, http_get, wait_for, workspace_binary, ChildGuard,
};
use monitoring_suite::forecaster;
use serde_json::Value;

fn grafana() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("monitoring/grafana")
}

fn dashboards() -> Vec<(String, Value)> {
    ["application-overview", "celery-workers", "infrastructure"]
        .iter()
        .map(|name| {
            let path = grafana().join(format!("dashboards/{name}.json"));
            let text = std::fs::read_to_string(&path).unwrap();
            (name.to_string(), serde_json::from_str(&text).unwrap())
        })
        .collect()
}

/// Every (dashboard, panel title, expr).
fn queries() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (name, d) in dashboards() {
        for p in d["panels"].as_array().unwrap() {
            for t in p["targets"].as_array().into_iter().flatten() {
                out.push((
                    name.clone(),
                    p["title"].as_str().unwrap().to_string(),
                    t["expr"].as_str().unwrap_or("").to_string(),
                ));
            }
        }
    }
    out
}

#[test]
fn json_files_are_generated_and_up_to_date() {
    let out = Command::new("python3")
        .arg(grafana().join("generate.py"))
        .arg("--check")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn dashboards_are_provisionable_and_every_panel_has_a_query() {
    let mut uids = BTreeSet::new();
    for (name, d) in dashboards() {
        assert!(
            d.get("__inputs").is_none(),
            "{name}: __inputs breaks file provisioning"
        );
        assert!(
            uids.insert(d["uid"].as_str().unwrap().to_string()),
            "{name}: duplicate uid"
        );
        let vars = d["templating"]["list"].as_array().unwrap();
        assert!(
            vars.iter()
                .any(|v| v["type"] == "datasource" && v["name"] == "datasource"),
            "{name}: no datasource variable"
        );
        for p in d["panels"].as_array().unwrap() {
            if p["type"] == "row" {
                continue;
            }
            let title = p["title"].as_str().unwrap();
            assert!(
                ["timeseries", "stat", "gauge", "bargauge", "table"]
                    .contains(&p["type"].as_str().unwrap()),
                "{name}/{title}: outdated panel type {}",
                p["type"]
            );
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{name}/{title}");
            assert!(
                p["description"].as_str().is_some_and(|s| !s.is_empty()),
                "{name}/{title}: no description"
            );
            let targets = p["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{name}/{title}: no query");
            for t in targets {
                assert!(
                    t["expr"].as_str().is_some_and(|e| !e.is_empty()),
                    "{name}/{title}: empty expr"
                );
                assert_eq!(t["datasource"]["uid"], "${datasource}", "{name}/{title}");
            }
        }
    }
}

/// promtool parses each expression as a recording rule (template variables replaced by `.*`).
#[test]
fn every_query_parses() {
    let dir = tempfile::tempdir().unwrap();
    let mut rules = String::from("groups:\n  - name: dashboards\n    rules:\n");
    for (i, (_, _, expr)) in queries().iter().enumerate() {
        let expr = expr.replace("$job", ".*").replace("$instance", ".*");
        rules.push_str(&format!(
            "      - record: dashboard:query_{i}\n        expr: {}\n",
            serde_json::to_string(&expr).unwrap()
        ));
    }
    let file = dir.path().join("rules.yml");
    std::fs::write(&file, rules).unwrap();
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .expect("promtool not installed: run ./scripts/test");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Metric names a PromQL expression refers to: identifiers outside label matchers, range
/// selectors and strings that are not functions, keywords or grouping labels.
fn metric_names(expr: &str) -> BTreeSet<String> {
    // Drop "strings", {label matchers} and [ranges]: what is left is names, calls and operators.
    let mut cleaned = String::new();
    let (mut depth, mut in_string) = (0usize, false);
    for c in expr.chars() {
        match c {
            _ if in_string => in_string = c != '"',
            '"' => in_string = true,
            '{' | '[' => depth += 1,
            '}' | ']' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            c => cleaned.push(c),
        }
    }
    const KEYWORDS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    // Aggregations may put their grouping before the parenthesis: `sum by (le) (...)`.
    const AGGREGATIONS: &[&str] = &[
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
        "group",
    ];
    const OPERATORS: &[&str] = &["and", "or", "unless", "bool", "offset"];
    let mut names = BTreeSet::new();
    let mut skip_group = false;
    let mut rest = cleaned.as_str();
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '(') {
        rest = &rest[start..];
        if rest.starts_with('(') {
            if skip_group {
                // Grouping labels: `by (method, path)`.
                rest = rest.find(')').map_or("", |end| &rest[end + 1..]);
                skip_group = false;
            } else {
                rest = &rest[1..];
            }
            continue;
        }
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        let is_call = rest.trim_start().starts_with('(');
        if KEYWORDS.contains(&word) {
            skip_group = true;
        } else if !is_call && !OPERATORS.contains(&word) && !AGGREGATIONS.contains(&word) {
            names.insert(word.to_string());
        }
    }
    names
}

/// Families our components emit: the node exporter on this machine and the example service's
/// instrumented registry (HTTP and custom metrics), plus Prometheus' own `up`.
fn emitted_families() -> BTreeSet<String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let paths = node_exporter::HostPaths::default();
    let node =
        runtime.block_on(node_exporter::default_exporter(&paths).gather(Duration::from_secs(10)));
    let mut text = String::new();
    encode_text(&node, &mut text);

    // One request through the example service creates its HTTP series (families without series
    // are not exposed).
    let registry = prometheus::Registry::new();
    let metrics = forecaster::Metrics::register(&registry).unwrap();
    let app = forecaster::app(forecaster::Config::new(metrics));
    let request = http::Request::get("/healthz")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = runtime
        .block_on(tower::ServiceExt::oneshot(app, request))
        .unwrap();
    drop(response);
    let mut out: BTreeSet<String> = exporter_core::testkit::family_shapes(&text)
        .into_keys()
        .collect();
    for family in registry.gather() {
        out.insert(family.name().to_string());
    }
    out.insert("up".into());
    out.extend(redis_exporter_families());
    out.extend(postgres_exporter_families());
    out.extend(celery_exporter_families());
    out
}

/// A redis-server on a free port; stopped when the guard drops.
fn redis_server() -> (ChildGuard, u16, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let guard = ChildGuard::spawn(
        "redis-server",
        Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--port")
            .arg(port.to_string())
            .arg("--dir")
            .arg(data.path())
            .stdout(Stdio::null()),
    );
    (guard, port, data)
}

/// Runs a workspace exporter binary and returns the first exposition for which `done` holds;
/// `each_poll` runs before every scrape (to feed it traffic).
fn exporter_output(
    binary: &str,
    args: &[String],
    env: &[(&str, String)],
    mut each_poll: impl FnMut(),
    done: impl Fn(&str) -> bool,
) -> BTreeSet<String> {
    let port = free_port();
    let mut cmd = Command::new(workspace_binary(binary));
    cmd.args(args)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let _exporter = ChildGuard::spawn(binary, &mut cmd);
    let url = format!("http://127.0.0.1:{port}/metrics");
    let text = wait_for(binary, Duration::from_secs(30), || {
        each_poll();
        http_get(&url).filter(|t| done(t))
    });
    family_shapes(&text).into_keys().collect()
}

/// The families our Redis exporter emits against a real redis-server.
fn redis_exporter_families() -> BTreeSet<String> {
    let (_redis, port, _data) = redis_server();
    exporter_output(
        "redis-exporter",
        &[format!("--redis.addr=redis://127.0.0.1:{port}")],
        &[],
        || {},
        |t| t.contains("redis_up 1"),
    )
}

/// The families our PostgreSQL exporter emits against a real PostgreSQL 15.
fn postgres_exporter_families() -> BTreeSet<String> {
    let pg = exporter_core::testkit::postgres::Postgres::start(&[]);
    exporter_output(
        "postgres-exporter",
        &[],
        &[("DATA_SOURCE_NAME", pg.superuser_dsn())],
        || {},
        |t| t.contains("pg_up 1"),
    )
}

/// The families our Celery exporter emits once real events have arrived: what a Celery 5.4
/// worker and client sent (recorded by the celery-exporter's tests), replayed over pub/sub.
fn celery_exporter_families() -> BTreeSet<String> {
    let (_redis, port, _data) = redis_server();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("exporters/celery/tests/fixtures/celery-5.4.0-events.jsonl");
    let events = std::fs::read_to_string(fixture).unwrap();
    // The exporter subscribes asynchronously: replay until the events have been counted.
    let replay = || {
        for line in events.lines() {
            let message: Value = serde_json::from_str(line).unwrap();
            // Fails while redis-server is still starting: the next poll replays again.
            let _ = Command::new("redis-cli")
                .args(["-p", &port.to_string(), "PUBLISH"])
                .arg(message["channel"].as_str().unwrap())
                .arg(message["data"].as_str().unwrap())
                .stdout(Stdio::null())
                .status()
                .expect("redis-cli (apt-get install redis-tools)");
        }
    };
    exporter_output(
        "celery-exporter",
        &[
            format!("--broker-url=redis://127.0.0.1:{port}/0"),
            "--queues=celery".into(),
        ],
        &[],
        replay,
        |t| t.contains("celery_task_runtime_seconds_bucket") && t.contains("celery_worker_up{"),
    )
}

#[test]
fn every_queried_metric_is_emitted_by_our_components() {
    let families = emitted_families();
    let mut missing = Vec::new();
    for (dashboard, title, expr) in queries() {
        for name in metric_names(&expr) {
            // `x_bucket` belongs to histogram `x`; a gauge may itself end in `_count`.
            let histogram_part = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .is_some_and(|base| families.contains(base));
            if !families.contains(&name) && !histogram_part {
                missing.push(format!("{dashboard}/{title}: {name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "queried but never emitted:\n{}",
        missing.join("\n")
    );
}

#[test]
fn metric_name_extraction() {
    let names = metric_names(
        r#"sum by (method, path) (rate(flask_http_request_total{job=~"$job", status=~"5.."}[5m])) / histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m]))) > 0 and up == 1"#,
    );
    assert_eq!(
        names,
        BTreeSet::from([
            "flask_http_request_total".to_string(),
            "x_bucket".into(),
            "up".into()
        ])
    );
}
