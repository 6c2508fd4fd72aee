//! The loopback webhook that stands in for email, Slack and PagerDuty: every receiver of the test
//! `alertmanager.yml` posts here, and each notification is recorded with the receiver's name and
//! the Alertmanager that sent it.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Notification {
    pub receiver: String,
    /// "firing" or "resolved".
    pub status: String,
    /// The sending Alertmanager's `--web.external-url`.
    pub sender: String,
    pub group_key: String,
    pub alerts: Vec<AlertRef>,
    pub received: std::time::SystemTime,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AlertRef {
    pub name: String,
    pub status: String,
    pub fingerprint: String,
    pub starts_at: String,
}

impl Notification {
    fn parse(body: &Value) -> Option<Notification> {
        let text = |v: &Value| v.as_str().map(str::to_string);
        let alerts = body["alerts"]
            .as_array()?
            .iter()
            .map(|a| {
                Some(AlertRef {
                    name: text(&a["labels"]["alertname"])?,
                    status: text(&a["status"])?,
                    fingerprint: text(&a["fingerprint"])?,
                    starts_at: text(&a["startsAt"])?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Notification {
            receiver: text(&body["receiver"])?,
            status: text(&body["status"])?,
            sender: text(&body["externalURL"])?
                .trim_end_matches('/')
                .to_string(),
            group_key: text(&body["groupKey"])?,
            alerts,
            received: std::time::SystemTime::now(),
        })
    }

    pub fn has(&self, alertname: &str, status: &str) -> bool {
        self.alerts
            .iter()
            .any(|a| a.name == alertname && a.status == status)
    }
}

#[derive(Default)]
struct Received {
    notifications: Vec<Notification>,
    malformed: Vec<String>,
}

type Log = Arc<Mutex<Received>>;

pub struct Webhook {
    pub url: String,
    log: Log,
}

impl Webhook {
    /// Serves on a free loopback port from a background thread, for the rest of the test process.
    pub fn start() -> Webhook {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/notify", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let log = Log::default();
        let app = Router::new()
            .route("/notify", post(record))
            .with_state(Arc::clone(&log));
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        Webhook { url, log }
    }

    /// Everything received so far; panics if Alertmanager ever sent something unparsable.
    pub fn notifications(&self) -> Vec<Notification> {
        let received = self.log.lock().unwrap();
        assert!(
            received.malformed.is_empty(),
            "malformed notifications: {:?}",
            received.malformed
        );
        received.notifications.clone()
    }
}

async fn record(State(log): State<Log>, Json(body): Json<Value>) -> &'static str {
    let mut received = log.lock().unwrap();
    match Notification::parse(&body) {
        Some(n) => received.notifications.push(n),
        None => received.malformed.push(body.to_string()),
    }
    "ok"
}
