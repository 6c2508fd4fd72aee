//! What basic auth adds to a scrape: 100 scrapes of the node exporter (its default collectors on
//! this host) over one keep-alive connection, without `basic_auth_users` and with them (a bcrypt
//! hash of the default cost, 10, as `htpasswd -B` makes).
//!
//! `cargo bench --bench basic_auth`
//!
//! A bcrypt check of cost 10 takes ~50 ms here, about 25 node scrapes; the runtime remembers a
//! passed check, so only the first scrape of a run pays it.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use exporter_core::testkit::background::{serve, Background};
use exporter_core::web_config::WebConfig;
use exporter_core::ServerConfig;

const SCRAPES: usize = 100;
const PASSWORD: &str = "scrape-password";

/// The node exporter with its default collectors on a free loopback port, served until dropped;
/// its metrics URL.
fn start(web: WebConfig) -> (String, Background) {
    let config = ServerConfig {
        listen: vec!["127.0.0.1:0".into()],
        systemd_socket: false,
        telemetry_path: "/metrics".into(),
        web: web.into(),
        max_requests: 40,
        title: "bench".into(),
    };
    let exporter = Arc::new(node_exporter::default_exporter(&Default::default()));
    let (addr, server) = serve(config, exporter);
    (format!("http://{addr}/metrics"), server)
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
    let (plain, _plain_server) = start(WebConfig::default());
    let (_dir, config) = with_basic_auth();
    let (authenticated, _authenticated_server) = start(config);
    let agent = ureq::AgentBuilder::new().build();

    let mut group = c.benchmark_group("100_node_scrapes");
    group.sample_size(10);
    group.bench_function("plain", |b| b.iter(|| scrapes(&agent, &plain, None)));
    group.bench_function("basic_auth", |b| {
        b.iter(|| scrapes(&agent, &authenticated, Some(AUTHORIZATION)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
