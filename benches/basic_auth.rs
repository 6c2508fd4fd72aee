//! What basic auth adds to a scrape: 100 scrapes of the node exporter (its default collectors on
//! this host) over one keep-alive connection, without `basic_auth_users` and with them (a bcrypt
//! hash of the default cost, 10, as `htpasswd -B` makes).
//!
//! `cargo bench --bench basic_auth`
//!
//! A bcrypt check of cost 10 takes ~50 ms here, about 25 node scrapes; the runtime remembers a
//! passed check, so only the first scrape of a run pays it.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use exporter_core::web_config::WebConfig;
use exporter_core::{Server, ServerConfig};

const SCRAPES: usize = 100;
const PASSWORD: &str = "scrape-password";

/// An exporter serving on a loopback port from its own thread, stopped when dropped.
struct Running {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start(web: WebConfig) -> Running {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        // The runtime the exporters run on.
        let runtime = exporter_core::run::build_runtime().expect("runtime");
        runtime.block_on(async move {
            let config = ServerConfig {
                listen: vec!["127.0.0.1:0".into()],
                systemd_socket: false,
                telemetry_path: "/metrics".into(),
                web: web.into(),
                max_requests: 40,
                title: "bench".into(),
            };
            let server = Server::bind(
                config,
                Arc::new(node_exporter::default_exporter(&Default::default())),
            )
            .await
            .expect("bind");
            addr_tx.send(server.local_addrs()[0]).expect("address");
            server
                .serve_until(async {
                    let _ = stop_rx.await;
                })
                .await;
        });
    });
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server up");
    Running {
        url: format!("http://{addr}/metrics"),
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

fn with_basic_auth() -> (tempfile::TempDir, WebConfig) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("web.yml");
    let hash = bcrypt::hash(PASSWORD, bcrypt::DEFAULT_COST).expect("hash");
    std::fs::write(&file, format!("basic_auth_users:\n  prometheus: {hash}\n")).expect("write");
    let config = WebConfig::load(&file).expect("web config");
    (dir, config)
}

/// `Basic base64("prometheus:scrape-password")`.
const AUTHORIZATION: &str = "Basic cHJvbWV0aGV1czpzY3JhcGUtcGFzc3dvcmQ=";

fn scrapes(agent: &ureq::Agent, url: &str, authorization: Option<&str>) {
    for _ in 0..SCRAPES {
        let mut req = agent.get(url);
        if let Some(value) = authorization {
            req = req.set("Authorization", value);
        }
        let body = req.call().expect("scrape").into_string().expect("body");
        assert!(body.contains("node_scrape_collector_success"));
    }
}

fn bench(c: &mut Criterion) {
    let plain = start(WebConfig::default());
    let (_dir, config) = with_basic_auth();
    let authenticated = start(config);
    let agent = ureq::AgentBuilder::new().build();

    let mut group = c.benchmark_group("100_node_scrapes");
    group.sample_size(10);
    group.bench_function("plain", |b| b.iter(|| scrapes(&agent, &plain.url, None)));
    group.bench_function("basic_auth", |b| {
        b.iter(|| scrapes(&agent, &authenticated.url, Some(AUTHORIZATION)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
