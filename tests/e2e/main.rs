//! End to end: the shipped configs against the live stack. See `stack` for what runs and
//! `configs` for what the test copies change. One test drives the whole stack through its
//! phases; `load` also holds a soak of the example service that runs beside it.

mod configs;
mod faults;
mod load;
mod observe;
mod queries;
mod stack;
#[path = "../support/mod.rs"]
mod support;
mod webhook;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use exporter_core::testkit::wait_for;

use observe::{Evaluator, Mark, Observer};
use stack::Stack;

/// Held by the tests that load the machine, so that they run one after the other.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn every_target_up(observer: &Observer) {
    let jobs = [
        "prometheus",
        "node",
        "redis",
        "postgres",
        "web",
        "celery_flower",
    ];
    wait_for(
        "every Prometheus target up",
        Duration::from_secs(90),
        || {
            let targets = observer.targets();
            let up = |job: &str| {
                targets
                    .iter()
                    .any(|(j, health, _)| j == job && health == "up")
            };
            (targets.len() == jobs.len() && jobs.iter().all(|j| up(j))).then_some(())
        },
    );
}

fn alertmanagers_clustered(observer: &Observer) {
    for port in &observer.alertmanager_ports[..2] {
        let url = format!("http://127.0.0.1:{port}/api/v2/status");
        wait_for(
            "both Alertmanager peers in the cluster",
            Duration::from_secs(60),
            || {
                let status: serde_json::Value =
                    serde_json::from_str(&exporter_core::testkit::http_get(&url)?).ok()?;
                let cluster = &status["cluster"];
                (cluster["status"] == "ready" && cluster["peers"].as_array()?.len() == 2)
                    .then_some(())
            },
        );
    }
}

/// Each notification went out once, though both peers hold every alert: the same receiver
/// never got the same group in the same state twice.
fn delivered_once(observer: &Observer) {
    let mut seen: BTreeMap<_, Vec<String>> = BTreeMap::new();
    for n in observer.notifications(Mark::START, Evaluator::Prometheus) {
        let mut alerts = n.alerts.clone();
        alerts.sort();
        seen.entry((n.receiver, n.group_key, n.status, alerts))
            .or_default()
            .push(format!("{} at {:?}", n.sender, n.received));
    }
    let duplicates: Vec<_> = seen
        .iter()
        .filter(|(_, senders)| senders.len() > 1)
        .collect();
    assert!(
        duplicates.is_empty(),
        "notifications delivered more than once: {duplicates:#?}\ngossip: {}",
        observer.cluster_gossip()
    );
    eprintln!("e2e: {} notifications, each delivered once", seen.len());
}

fn every_query_returns_data(observer: &Observer) {
    // Right after the Redis restart a scrape or two may still be missing: retry a little.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let failing = queries::failing(observer);
        if failing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "queries that fail or return no data:\n{}",
            failing.join("\n")
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

#[test]
fn shipped_configs_against_the_live_stack() {
    let _alone = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let mut stack = Stack::start();
    let Stack {
        observer,
        web,
        postgres,
        celery,
        redis,
        state,
        exporters,
        ..
    } = &mut stack;
    let observer = &*observer;
    let state = &*state;
    every_target_up(observer);
    alertmanagers_clustered(observer);

    std::thread::scope(|s| {
        s.spawn(|| faults::web(observer, web));
        s.spawn(|| faults::postgres(observer, postgres));
        s.spawn(|| faults::celery(observer, celery, state));
    });
    faults::redis(observer, redis, celery, state);

    every_query_returns_data(observer);

    delivered_once(observer);

    // Last, because it may slow the stack's own scrapes: 1,000 concurrent scrapes per exporter.
    for exporter in exporters.iter() {
        load::burst(
            exporter.name,
            exporter.process.pid(),
            &format!("http://127.0.0.1:{}/metrics", exporter.port),
            1000,
        );
    }
}
