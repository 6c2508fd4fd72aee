//! Test copies of the shipped configs. What changes, and only that:
//! - `prometheus.yml`: 1 s scrape and evaluation intervals, the targets (file_sd, as
//!   `scripts/stack` writes them), and `remote_write` to VictoriaMetrics (the scale-out under test);
//! - `alert.rules.yml`: every `for:` shortened to [`FOR`]; expressions, labels and annotations
//!   are the shipped ones;
//! - `alertmanager.yml`: each receiver's email/Slack/PagerDuty endpoints become a webhook to the
//!   test, and the route timers (`group_wait`, `group_interval`) are shortened, as `for:` is, so
//!   that a resolved notification does not wait the shipped 5 minutes. The routing tree, the
//!   receivers' names and the inhibition rules are the shipped ones.
//!
//! `group_interval` must stay above the clustered peers' `--cluster.peer-timeout`
//! ([`PEER_TIMEOUT`]): a peer that waits its turn checks the notification log only after that
//! timeout, and if the alert has meanwhile resolved and the resolution gone out, it sends the
//! stale "firing" once more. The shipped 5 m against the default 15 s is safe; so is 5 s against 2 s.

use std::path::Path;

use serde_yaml_ng::{Mapping, Value};

use crate::stack::root;

pub const EVALUATION_INTERVAL: &str = "1s";
/// Every alert's `for:` in the test copy.
pub const FOR: &str = "5s";
/// The clustered Alertmanagers' `--cluster.peer-timeout` (default 15 s), scaled down with the
/// route timers; gossip over loopback takes milliseconds.
pub const PEER_TIMEOUT: &str = "2s";
const GROUP_WAIT: &str = "1s";
const GROUP_INTERVAL: &str = "5s";

pub struct Targets {
    pub prometheus: u16,
    pub alertmanagers: Vec<u16>,
    pub node: u16,
    pub redis: u16,
    pub postgres: u16,
    pub web: u16,
    pub celery: u16,
}

fn shipped(name: &str) -> Value {
    let path = root().join("monitoring").join(name);
    serde_yaml_ng::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn write(path: &Path, value: &Value) {
    std::fs::write(path, serde_yaml_ng::to_string(value).unwrap()).unwrap();
}

fn targets_file(ports: &[u16]) -> Value {
    let list: Vec<Value> = ports
        .iter()
        .map(|p| Value::from(format!("127.0.0.1:{p}")))
        .collect();
    let mut group = Mapping::new();
    group.insert("targets".into(), Value::Sequence(list));
    Value::Sequence(vec![Value::Mapping(group)])
}

/// `prometheus.yml`, `alert.rules.yml` and `targets/*.yml` into `dir`.
pub fn write_prometheus(dir: &Path, t: &Targets, victoria_metrics_port: u16) {
    std::fs::create_dir_all(dir.join("targets")).unwrap();
    let mut config = shipped("prometheus.yml");
    let global = &mut config["global"];
    for key in ["scrape_interval", "scrape_timeout", "evaluation_interval"] {
        global[key] = EVALUATION_INTERVAL.into();
    }
    let mut queue = Mapping::new();
    queue.insert("batch_send_deadline".into(), "1s".into());
    let mut remote = Mapping::new();
    remote.insert(
        "url".into(),
        format!("http://127.0.0.1:{victoria_metrics_port}/api/v1/write").into(),
    );
    remote.insert("queue_config".into(), Value::Mapping(queue));
    config["remote_write"] = Value::Sequence(vec![Value::Mapping(remote)]);
    write(&dir.join("prometheus.yml"), &config);

    let mut rules = shipped("alert.rules.yml");
    for group in rules["groups"].as_sequence_mut().unwrap() {
        for rule in group["rules"].as_sequence_mut().unwrap() {
            if rule.get("for").is_some() {
                rule["for"] = FOR.into();
            }
        }
    }
    write(&dir.join("alert.rules.yml"), &rules);

    for (name, ports) in [
        ("prometheus", vec![t.prometheus]),
        ("alertmanager", t.alertmanagers.clone()),
        ("node", vec![t.node]),
        ("redis", vec![t.redis]),
        ("postgres", vec![t.postgres]),
        ("web", vec![t.web]),
        ("celery", vec![t.celery]),
    ] {
        write(
            &dir.join("targets").join(format!("{name}.yml")),
            &targets_file(&ports),
        );
    }
}

/// `alertmanager.yml` with every receiver delivering to `webhook_url`.
pub fn write_alertmanager(path: &Path, webhook_url: &str) {
    let mut config = shipped("alertmanager.yml");
    config["route"]["group_wait"] = GROUP_WAIT.into();
    config["route"]["group_interval"] = GROUP_INTERVAL.into();
    for receiver in config["receivers"].as_sequence_mut().unwrap() {
        let name = receiver["name"].clone();
        let mut hook = Mapping::new();
        hook.insert("url".into(), webhook_url.into());
        hook.insert("send_resolved".into(), true.into());
        let mut replaced = Mapping::new();
        replaced.insert("name".into(), name);
        replaced.insert(
            "webhook_configs".into(),
            Value::Sequence(vec![Value::Mapping(hook)]),
        );
        *receiver = Value::Mapping(replaced);
    }
    write(path, &config);
}
