//! The community's dashboards and alerts, unchanged (tests/fixtures/community: danihodovic's
//! celery-mixin and Flower's own examples), against our exporter fed by real Celery workers on a
//! real rabbitmq-server, through a real Prometheus: every query of every panel, template
//! variable and alert rule returns data.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::rabbitmq::on_rabbitmq;
use common::{app_dir, free_port, http_get, venv, CeleryEnv, ChildGuard, Group};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/community")
}

/// (file, what, PromQL) of every query in the fixtures.
fn queries() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for file in [
        "celery-mixin-celery-overview.json",
        "flower-celery-monitoring-grafana-dashboard.json",
    ] {
        let d: Value =
            serde_json::from_str(&std::fs::read_to_string(fixtures().join(file)).unwrap()).unwrap();
        for p in d["panels"].as_array().unwrap() {
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = t["expr"].as_str() {
                    out.push((
                        file.into(),
                        p["title"].as_str().unwrap_or("").into(),
                        expr.into(),
                    ));
                }
            }
        }
        // Template variables: label_values(selector, label) must find values.
        for v in d["templating"]["list"].as_array().into_iter().flatten() {
            let Some(q) = v["query"].as_str() else {
                continue;
            };
            if let Some(inner) = q
                .strip_prefix("label_values(")
                .and_then(|q| q.strip_suffix(')'))
            {
                let (selector, label) = inner.rsplit_once(',').unwrap();
                // `cluster` and `namespace` are Kubernetes target labels; outside Kubernetes
                // they are absent and the variables are empty (Grafana then matches "").
                if matches!(label.trim(), "cluster" | "namespace") {
                    continue;
                }
                out.push((
                    file.into(),
                    format!("variable {}", v["name"].as_str().unwrap_or("")),
                    selector.to_string(),
                ));
            }
        }
    }
    for file in [
        "celery-mixin-prometheus_alerts.yaml",
        "flower-prometheus-alerts.yaml",
    ] {
        let y: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(fixtures().join(file)).unwrap())
                .unwrap();
        // celery-mixin: a rule file; Flower's: a bare list of rules.
        let rules: Vec<serde_yaml_ng::Value> = match y.get("groups") {
            Some(groups) => groups
                .as_sequence()
                .unwrap()
                .iter()
                .flat_map(|g| g["rules"].as_sequence().unwrap().clone())
                .collect(),
            None => y.as_sequence().unwrap().clone(),
        };
        for r in rules {
            out.push((
                file.into(),
                format!("alert {}", r["alert"].as_str().unwrap()),
                r["expr"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

/// Grafana's variables as a deployment outside Kubernetes sets them.
fn substitute(expr: &str) -> String {
    expr.replace("$__rate_interval", "15s")
        .replace("$__range", "5m")
        .replace("${datasource}", "")
        .replace("$cluster", "")
        .replace("$namespace", "")
        .replace("$job", "celery")
        .replace("$queue_name", "celery")
}

fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The number of series (or 1 for a scalar) the query returns now.
fn result_count(prometheus: u16, expr: &str) -> Result<usize, String> {
    let body = http_get(&format!(
        "http://127.0.0.1:{prometheus}/api/v1/query?query={}",
        url_encode(expr)
    ))
    .ok_or("no answer")?;
    let v: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
    if v["status"] != "success" {
        return Err(body);
    }
    Ok(match v["data"]["resultType"].as_str() {
        Some("scalar") => 1,
        _ => v["data"]["result"].as_array().map_or(0, Vec::len),
    })
}

/// A Python process running the test app's client code until killed.
fn background_client(env: &CeleryEnv, name: &str, code: &str) -> Group {
    let mut cmd = Command::new(venv().join("bin/python"));
    cmd.current_dir(env.dir.path())
        .env("CELERY_BROKER_URL", &env.broker_url)
        .env("PYTHONPATH", app_dir())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .args(["-c", &format!("import app, time, uuid\n{code}")]);
    Group::spawn(name, &mut cmd, env.dir.path().join(format!("{name}.log")))
}

#[test]
fn every_community_query_returns_data() {
    let Some((_rabbit, exporter, env)) = on_rabbitmq(&[
        "--metrics",
        "celery-exporter,flower",
        "--queues",
        "celery,slow,backlog",
    ]) else {
        return;
    };
    let _w1 = env.worker("w1", &["-E", "-c", "2", "--heartbeat-interval", "1"]);
    // One task at a time on `slow`: the next one waits at the worker (Flower's queuing time).
    let _slow = env.worker(
        "slow@box",
        &["-E", "-c", "1", "-Q", "slow", "--heartbeat-interval", "1"],
    );
    // Killed below: a worker that is down (CeleryWorkerDown, CeleryWorkerOffline).
    let mut doomed = env.worker(
        "doomed@gone",
        &["-E", "-c", "1", "-Q", "doomed", "--heartbeat-interval", "1"],
    );
    exporter.wait_worker_up("gone@test", 1.0, Duration::from_secs(30));

    let dir = tempfile::tempdir().unwrap();
    let prometheus_port = free_port();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global: {{scrape_interval: 2s, scrape_timeout: 2s, evaluation_interval: 2s}}\n\
             scrape_configs:\n\
             - job_name: celery\n  static_configs: [{{targets: ['127.0.0.1:{}']}}]\n",
            exporter.port
        ),
    )
    .unwrap();
    let _prometheus = ChildGuard::spawn(
        "prometheus",
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );

    // 150 tasks nobody consumes: CeleryHighQueueLength (> 100).
    env.client("for i in range(150): app.add.apply_async((i, i), queue='backlog')\n");
    doomed.kill_group();
    // A steady stream of every outcome for the rest of the test: tests.add also fails now and
    // then (Flower's failure ratio divides tasks with both outcomes), `slow` gets more than it
    // can run, so each task waits at the worker behind the one running (> 1 s).
    let _producer = background_client(
        &env,
        "producer",
        "n = 0\n\
         while True:\n\
         \x20   app.add.delay(n, n)\n\
         \x20   if n % 4 == 0:\n\
         \x20       app.fail.delay('bad')\n\
         \x20       app.add.delay(1, 'x')\n\
         \x20       app.flaky.delay(1)\n\
         \x20       app.reject.delay()\n\
         \x20   if n % 8 == 0:\n\
         \x20       tid = str(uuid.uuid4())\n\
         \x20       app.app.control.revoke(tid)\n\
         \x20       app.add.apply_async((0, 0), task_id=tid)\n\
         \x20   if n % 3 == 0:\n\
         \x20       app.sleep.apply_async((1.5,), queue='slow')\n\
         \x20   n += 1\n\
         \x20   time.sleep(0.25)\n",
    );

    // Let Prometheus collect a while (irate, increase and avg_over_time need samples).
    std::thread::sleep(Duration::from_secs(25));
    let queries = queries();
    assert!(queries.len() >= 40, "{} queries", queries.len());
    let mut failures = Vec::new();
    for (file, what, expr) in &queries {
        let expr = substitute(expr);
        // A loaded machine can make a scrape miss its 2 s timeout now and then (the queue
        // collector's passive declares): give every query a few scrapes' worth of retries.
        let deadline = Instant::now() + Duration::from_secs(40);
        let outcome = loop {
            match result_count(prometheus_port, &expr) {
                Ok(n) if n > 0 => break Ok(n),
                other if Instant::now() >= deadline => break other,
                _ => std::thread::sleep(Duration::from_millis(500)),
            }
        };
        match outcome {
            Ok(n) if n > 0 => {}
            other => failures.push(format!("{file} / {what}: {other:?}\n  {expr}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} queries returned no data:\n{}\n\nexposition:\n{}",
        failures.len(),
        queries.len(),
        failures.join("\n"),
        exporter.scrape()
    );
}
