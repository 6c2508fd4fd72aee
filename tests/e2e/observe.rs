//! What the test looks at: the Prometheus, Alertmanager and vmalert HTTP APIs, and the webhook's
//! record of delivered notifications.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::webhook::{Notification, Webhook};

/// The receivers of the shipped routing tree that each severity reaches.
pub const CRITICAL: &[&str] = &["oncall-email", "team-email", "slack-critical", "pagerduty"];
pub const WARNING: &[&str] = &["team-email", "slack-warning"];

/// Which rule evaluator an alert came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evaluator {
    /// Prometheus, sending to the two clustered Alertmanagers.
    Prometheus,
    /// vmalert on VictoriaMetrics, sending to the third Alertmanager.
    Vmalert,
}

/// A point in the webhook's record: waits from a mark see only what arrived after it.
#[derive(Debug, Clone, Copy)]
pub struct Mark(usize);

impl Mark {
    /// The whole record.
    pub const START: Mark = Mark(0);
}

pub struct Observer {
    pub prometheus_port: u16,
    /// [clustered peer, clustered peer, vmalert's].
    pub alertmanager_ports: [u16; 3],
    pub victoria_metrics_port: u16,
    pub vmalert_port: u16,
    pub webhook: Webhook,
}

fn get_json(url: &str, query: &[(&str, &str)]) -> Result<Value, String> {
    let mut request = ureq::get(url).timeout(Duration::from_secs(30));
    for (k, v) in query {
        request = request.query(k, v);
    }
    let body = match request.call() {
        Ok(r) => r.into_string(),
        // Prometheus answers a bad query with 400 and a JSON error.
        Err(ureq::Error::Status(_, r)) => r.into_string(),
        Err(e) => return Err(e.to_string()),
    }
    .map_err(|e| e.to_string())?;
    serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))
}

impl Observer {
    pub fn new(
        prometheus_port: u16,
        alertmanager_ports: [u16; 3],
        victoria_metrics_port: u16,
        vmalert_port: u16,
        webhook: Webhook,
    ) -> Self {
        Observer {
            prometheus_port,
            alertmanager_ports,
            victoria_metrics_port,
            vmalert_port,
            webhook,
        }
    }

    fn prometheus_api(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, String> {
        let v = get_json(
            &format!("http://127.0.0.1:{}/api/v1/{path}", self.prometheus_port),
            query,
        )?;
        if v["status"] == "success" {
            Ok(v["data"].clone())
        } else {
            Err(format!("{}: {}", v["errorType"], v["error"]))
        }
    }

    /// An instant query: the result vector, or Prometheus's error (a parse error, say).
    pub fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let data = self.prometheus_api("query", &[("query", expr)])?;
        Ok(data["result"].as_array().cloned().unwrap_or_default())
    }

    /// (job, health, last error) of every active target.
    pub fn targets(&self) -> Vec<(String, String, String)> {
        let data = self.prometheus_api("targets", &[]).unwrap();
        data["activeTargets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["labels"]["job"].as_str().unwrap_or("").to_string(),
                    t["health"].as_str().unwrap_or("").to_string(),
                    t["lastError"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    /// Names of the alerts in `state` ("pending", "firing") in the evaluator.
    pub fn alerts(&self, evaluator: Evaluator, state: &str) -> BTreeSet<String> {
        let data = match evaluator {
            Evaluator::Prometheus => self.prometheus_api("alerts", &[]),
            Evaluator::Vmalert => get_json(
                &format!("http://127.0.0.1:{}/api/v1/alerts", self.vmalert_port),
                &[],
            )
            .map(|v| v["data"].clone()),
        };
        data.ok()
            .and_then(|d| d["alerts"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter(|a| a["state"] == state)
            .filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_string))
            .collect()
    }

    /// The clustered peers' gossip counters, to explain a duplicate.
    pub fn cluster_gossip(&self) -> String {
        let mut out = String::new();
        for port in &self.alertmanager_ports[..2] {
            let text =
                exporter_core::testkit::http_get(&format!("http://127.0.0.1:{port}/metrics"))
                    .unwrap_or_default();
            out += &format!("\n  :{port}\n");
            for line in text.lines().filter(|l| {
                (l.starts_with("alertmanager_cluster_") || l.starts_with("alertmanager_nflog_"))
                    && !l.starts_with('#')
            }) {
                out += &format!("    {line}\n");
            }
        }
        out
    }

    /// The alerts named `alertname` that Alertmanager `index` holds, as its API shows them.
    pub fn alertmanager_alerts(&self, index: usize, alertname: &str) -> Vec<Value> {
        get_json(
            &format!(
                "http://127.0.0.1:{}/api/v2/alerts",
                self.alertmanager_ports[index]
            ),
            &[("filter", &format!("alertname=\"{alertname}\""))],
        )
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
    }

    fn senders(&self, evaluator: Evaluator) -> Vec<String> {
        let ports = match evaluator {
            Evaluator::Prometheus => &self.alertmanager_ports[..2],
            Evaluator::Vmalert => &self.alertmanager_ports[2..],
        };
        ports
            .iter()
            .map(|p| format!("http://127.0.0.1:{p}"))
            .collect()
    }

    pub fn mark(&self) -> Mark {
        Mark(self.webhook.notifications().len())
    }

    /// Notifications that went out through `evaluator`'s Alertmanager(s) since `since`.
    pub fn notifications(&self, since: Mark, evaluator: Evaluator) -> Vec<Notification> {
        let senders = self.senders(evaluator);
        let mut all = self.webhook.notifications();
        all.drain(..since.0.min(all.len()));
        all.retain(|n| senders.contains(&n.sender));
        all
    }

    /// Receivers that got `alertname` in `status` through `evaluator` since `since`.
    pub fn receivers_of(
        &self,
        since: Mark,
        evaluator: Evaluator,
        alertname: &str,
        status: &str,
    ) -> BTreeSet<String> {
        self.notifications(since, evaluator)
            .into_iter()
            .filter(|n| n.has(alertname, status))
            .map(|n| n.receiver)
            .collect()
    }

    /// Waits until `alertname` in `status` has reached exactly `receivers` through `evaluator`
    /// since `since`; a receiver outside them fails at once.
    pub fn wait_delivered(
        &self,
        since: Mark,
        evaluator: Evaluator,
        alertname: &str,
        status: &str,
        receivers: &[&str],
        timeout: Duration,
    ) {
        let want: BTreeSet<String> = receivers.iter().map(|r| r.to_string()).collect();
        let what = format!("{alertname} {status} at {receivers:?} through {evaluator:?}");
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.receivers_of(since, evaluator, alertname, status);
            assert!(
                got.is_subset(&want),
                "{alertname} {status} reached {got:?}; its severity routes only to {want:?}"
            );
            if got == want {
                eprintln!("e2e: delivered {what}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}; delivered to {got:?}; {evaluator:?} has firing {:?}, pending {:?}",
                self.alerts(evaluator, "firing"),
                self.alerts(evaluator, "pending"),
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until the evaluator holds `alertname` in `state` ("pending", "firing"), or, with
    /// `state` "inactive", in neither.
    pub fn wait_alert(
        &self,
        evaluator: Evaluator,
        alertname: &str,
        state: &str,
        timeout: Duration,
    ) {
        let holds = || match state {
            "inactive" => ["pending", "firing"]
                .iter()
                .all(|s| !self.alerts(evaluator, s).contains(alertname)),
            _ => self.alerts(evaluator, state).contains(alertname),
        };
        let deadline = Instant::now() + timeout;
        while !holds() {
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {alertname} {state} in {evaluator:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
