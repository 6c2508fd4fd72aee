//! Every query a user of the suite runs, against the live Prometheus: the dashboards' panels and
//! variables, the alert rules, and the guide's "Key Metrics" examples.

use serde_json::Value;

use crate::observe::Observer;
use crate::stack::root;

/// The guide's "Key Metrics" blocks, verbatim.
const GUIDE: &[&str] = &[
    "rate(flask_http_request_total[5m])",
    r#"rate(flask_http_request_total{status=~"5.."}[5m]) / rate(flask_http_request_total[5m])"#,
    "histogram_quantile(0.95, rate(flask_http_request_duration_seconds_bucket[5m]))",
    r#"rate(celery_tasks_total{state="SUCCESS"}[5m])"#,
    r#"rate(celery_tasks_total{state="FAILURE"}[10m]) / rate(celery_tasks_total[10m])"#,
    r#"celery_tasks_total{state="PENDING"}"#,
    r#"100 - (avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])) * 100)"#,
    "100 * (1 - (node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes))",
    r#"100 - ((node_filesystem_avail_bytes{mountpoint="/"} / node_filesystem_size_bytes{mountpoint="/"}) * 100)"#,
];

/// (where, expr) of every dashboard panel target, with the dashboard variables set to "All",
/// and of every variable's `label_values(<selector>, label)` selector.
fn dashboard_queries() -> Vec<(String, String)> {
    let all = |expr: &str| expr.replace("$job", ".+").replace("$instance", ".+");
    let mut out = Vec::new();
    for name in ["application-overview", "celery-workers", "infrastructure"] {
        let path = root().join(format!("monitoring/grafana/dashboards/{name}.json"));
        let d: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        for p in d["panels"].as_array().unwrap() {
            for t in p["targets"].as_array().into_iter().flatten() {
                let expr = t["expr"].as_str().unwrap();
                out.push((format!("{name}: panel {:?}", p["title"]), all(expr)));
            }
        }
        for v in d["templating"]["list"].as_array().unwrap() {
            let Some(q) = v["query"]["query"].as_str() else {
                continue;
            };
            let selector = q
                .strip_prefix("label_values(")
                .and_then(|r| r.rsplit_once(','))
                .map(|(sel, _)| sel)
                .unwrap_or_else(|| panic!("{name}: variable query {q:?}"));
            out.push((format!("{name}: variable {}", v["name"]), all(selector)));
        }
    }
    out
}

fn rule_expressions() -> Vec<(String, String)> {
    let path = root().join("monitoring/alert.rules.yml");
    let rules: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for group in rules["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            out.push((
                format!("alert {}", rule["alert"].as_str().unwrap()),
                rule["expr"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

/// Queries that fail or that return nothing, `where: expr: why`.
pub fn failing(observer: &Observer) -> Vec<String> {
    let mut failures = Vec::new();
    let must_have_data = dashboard_queries()
        .into_iter()
        .chain(GUIDE.iter().map(|q| ("guide".to_string(), q.to_string())));
    for (place, expr) in must_have_data {
        match observer.query(&expr) {
            Ok(series) if series.is_empty() => failures.push(format!("{place}: {expr}: no data")),
            Ok(_) => {}
            Err(e) => failures.push(format!("{place}: {expr}: {e}")),
        }
    }
    // Alert expressions return data only while their condition holds: they must parse and run.
    for (place, expr) in rule_expressions() {
        if let Err(e) = observer.query(&expr) {
            failures.push(format!("{place}: {e}"));
        }
    }
    failures
}

#[test]
fn every_dashboard_variable_and_panel_is_collected() {
    let queries = dashboard_queries();
    assert!(queries.len() > 40, "{}", queries.len());
    assert!(queries.iter().all(|(_, q)| !q.contains('$')), "{queries:?}");
    assert_eq!(rule_expressions().len(), 15);
}
