//! The example service over real HTTP on loopback: what the middleware counts must match what
//! was sent, per (method, path, status), whatever the traffic. Every test starts its own app with
//! its own registry.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use exporter_core::testkit::{family_shapes, promtool_check_metrics, sample_value, samples};
use http::header::{ACCEPT_ENCODING, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Method, StatusCode};
use monitoring_suite::forecaster::rng::Rng;
use monitoring_suite::forecaster::{
    admin_app, serve_until, Config, FaultSettings, Faults, Metrics, ROUTES,
};
use monitoring_suite::loadgen::client::{Connection, Reply};
use monitoring_suite::loadgen::{self, LoadConfig};
use serde_json::json;
use tokio::net::TcpListener;

use support::{by_key, key, sent_by_key, Key};

const SIMULATE: &str = ROUTES[0];
const SIMULATION: &str = ROUTES[1];
const HEALTHZ: &str = ROUTES[2];
const UNMATCHED: &str = instrument::UNMATCHED_PATH;

struct Service {
    addr: SocketAddr,
    metrics: Metrics,
    faults: Arc<Faults>,
}

async fn start(error_rate: f64, slow: Duration) -> Service {
    let metrics = Metrics::register(&prometheus::Registry::new()).unwrap();
    let faults = Faults::new(FaultSettings {
        error_rate,
        slow_ms: slow.as_millis() as u64,
        slow_share: 1.0,
    })
    .unwrap();
    let faults = Arc::new(faults);
    let config = Config {
        faults: Arc::clone(&faults),
        ..Config::new(metrics.clone())
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve_until(listener, config, std::future::pending()));
    Service {
        addr,
        metrics,
        faults,
    }
}

impl Service {
    fn connect(&self) -> Connection {
        Connection::new(self.addr.to_string()).with_timeout(Duration::from_secs(30))
    }

    async fn scrape(&self) -> String {
        let reply = self.connect().get("/metrics").await.unwrap();
        assert_eq!(reply.status, StatusCode::OK);
        String::from_utf8(reply.body.to_vec()).unwrap()
    }

    /// The exposition once `flask_http_request_total` adds up to `expected` (a request counts
    /// when its response body ends, which can be a moment after the client has read it).
    async fn scrape_settled(&self, expected: u64) -> String {
        let start = Instant::now();
        loop {
            let text = self.scrape().await;
            let total: f64 = by_key(&text, "flask_http_request_total").values().sum();
            if total as u64 == expected || start.elapsed() > Duration::from_secs(10) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Polls a sample until it has the wanted value; returns how long that took.
    async fn wait_for_value(&self, name: &str, labels: &[(&str, &str)], want: f64) -> Duration {
        let start = Instant::now();
        loop {
            let text = self.scrape().await;
            if sample_value(&text, name, labels).unwrap_or(0.0) == want {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{name}{labels:?} never became {want}:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn as_counts(expected: &BTreeMap<Key, u64>) -> BTreeMap<Key, f64> {
    expected
        .iter()
        .map(|(k, v)| (k.clone(), *v as f64))
        .collect()
}

/// Both the request counter and the latency histogram's count per key are `expected`.
#[track_caller]
fn assert_request_counts(text: &str, expected: &BTreeMap<Key, u64>) {
    let want = as_counts(expected);
    assert_eq!(by_key(text, "flask_http_request_total"), want);
    assert_eq!(
        by_key(text, "flask_http_request_duration_seconds_count"),
        want
    );
}

fn valid_forecast(trials: u32) -> String {
    json!({"throughput": [3, 0, 7, 5, 4, 9, 1, 6], "backlog": 60, "trials": trials}).to_string()
}

fn assert_json_error(reply: &Reply) {
    let body = reply
        .json()
        .unwrap_or_else(|| panic!("{} without a JSON body: {:?}", reply.status, reply.body));
    assert!(body["error"].is_string(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_and_histogram_counts_match_requests_sent() {
    let svc = start(0.0, Duration::ZERO).await;
    let mut conn = svc.connect();
    let mut expected: BTreeMap<Key, u64> = BTreeMap::new();
    let mut ids = Vec::new();
    for i in 0..12 {
        let reply = conn
            .post_json("/api/simulate", valid_forecast(500 + i))
            .await
            .unwrap();
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        let body = reply.json().unwrap();
        assert_eq!(body["trials"], 500 + i);
        let weeks = &body["weeks"];
        assert!(weeks["p50"].as_u64() <= weeks["p85"].as_u64());
        assert!(weeks["p85"].as_u64() <= weeks["p95"].as_u64());
        ids.push(body["id"].as_u64().unwrap());
        *expected.entry(key("POST", SIMULATE, 200)).or_default() += 1;
    }
    let gets: Vec<(String, &str, u16)> = ids
        .iter()
        .map(|id| (format!("/api/simulations/{id}"), SIMULATION, 200))
        .chain([
            ("/api/simulations/999999".to_string(), SIMULATION, 404),
            ("/api/simulations/abc".to_string(), SIMULATION, 400),
            ("/healthz".to_string(), HEALTHZ, 200),
            ("/healthz".to_string(), HEALTHZ, 200),
            ("/nope".to_string(), UNMATCHED, 404),
            ("/api/simulations".to_string(), UNMATCHED, 404),
            ("/api/simulate".to_string(), SIMULATE, 405),
        ])
        .collect();
    for (path, route, status) in gets {
        let reply = conn.get(&path).await.unwrap();
        assert_eq!(reply.status.as_u16(), status, "GET {path}");
        *expected.entry(key("GET", route, status)).or_default() += 1;
    }
    let reply = conn
        .request(Method::DELETE, "/healthz", &[], Bytes::new())
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    *expected.entry(key("DELETE", HEALTHZ, 405)).or_default() += 1;

    let total = expected.values().sum();
    let text = svc.scrape_settled(total).await;
    assert_request_counts(&text, &expected);
    let monte_carlo = [("simulation_type", "monte_carlo")];
    assert_eq!(
        sample_value(&text, "simulation_total", &monte_carlo),
        Some(12.0)
    );
    assert_eq!(
        sample_value(&text, "simulation_duration_seconds_count", &monte_carlo),
        Some(12.0)
    );
    assert_eq!(sample_value(&text, "simulation_active", &[]), Some(0.0));
    // Every request has ended.
    let in_progress: f64 = samples(&text)
        .into_iter()
        .filter(|(n, _, _)| n == "flask_http_requests_in_progress")
        .map(|(_, _, v)| v)
        .sum();
    assert_eq!(in_progress, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_progress_returns_to_zero_after_aborted_requests() {
    let slow = Duration::from_secs(20);
    let svc = start(0.0, slow).await;
    let post = [("method", "POST"), ("path", SIMULATE)];
    let gauge = "flask_http_requests_in_progress";

    // Complete requests whose clients hang up while the handler is still busy.
    let body = valid_forecast(100);
    let request = format!(
        "POST /api/simulate HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(svc.addr).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        clients.push(stream);
    }
    // And one that hangs up half-way through its body.
    let mut partial = TcpStream::connect(svc.addr).unwrap();
    partial
        .write_all(
            b"POST /api/simulate HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
              content-length: 1000\r\n\r\n{\"throughput\": [1, 2,",
        )
        .unwrap();
    clients.push(partial);
    svc.wait_for_value(gauge, &post, 4.0).await;

    let dropped = Instant::now();
    drop(clients);
    svc.wait_for_value(gauge, &post, 0.0).await;
    // The hang-ups ended them, not the handlers finishing their slow path.
    assert!(dropped.elapsed() < slow / 2, "{:?}", dropped.elapsed());

    // Requests that never produced a response are not counted (documented in `instrument`);
    // the half-sent one may count as a 400 if its failed body read won the race.
    let text = svc.scrape().await;
    let counted: Vec<_> = by_key(&text, "flask_http_request_total")
        .into_iter()
        .filter(|((_, _, status), _)| *status != 400)
        .collect();
    assert!(counted.is_empty(), "{counted:?}");
    assert_eq!(sample_value(&text, "simulation_active", &[]), Some(0.0));
}

/// A URL of random segments, some under the real route prefixes.
fn random_path(rng: &mut Rng) -> String {
    const PREFIXES: [&str; 6] = [
        "",
        "/api",
        "/api/simulations",
        "/healthz",
        "/metrics",
        "/static",
    ];
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%";
    let mut path = PREFIXES[rng.below(PREFIXES.len())].to_string();
    for _ in 0..1 + rng.below(4) {
        path.push('/');
        for _ in 0..1 + rng.below(12) {
            match ALPHABET[rng.below(ALPHABET.len())] {
                b'%' => path.push_str(&format!("%{:02X}", rng.below(256))),
                c => path.push(c as char),
            }
        }
    }
    path
}

/// Sends requests over one connection with HTTP/1.1 pipelining (hyper answers in order), a batch
/// in flight at a time: fast enough for 100,000 requests in a debug build. Returns the statuses.
fn pipelined(addr: SocketAddr, requests: &[(&str, String)]) -> Vec<u16> {
    const BATCH: usize = 64;
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut statuses = Vec::with_capacity(requests.len());
    for batch in requests.chunks(BATCH) {
        let mut out = String::new();
        for (method, path) in batch {
            out.push_str(&format!(
                "{method} {path} HTTP/1.1\r\nhost: t\r\ncontent-length: 0\r\n\r\n"
            ));
        }
        writer.write_all(out.as_bytes()).unwrap();
        for _ in batch {
            statuses.push(read_response(&mut reader));
        }
    }
    statuses
}

/// Reads one response with a Content-Length body (all of this service's are) and returns its
/// status.
fn read_response(reader: &mut impl BufRead) -> u16 {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line.split(' ').nth(1).and_then(|s| s.parse().ok());
    let status = status.unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut length = None;
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            }
        }
    }
    let length = length.unwrap_or_else(|| panic!("{status} response without content-length"));
    reader.read_exact(&mut vec![0; length]).unwrap();
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_urls_leave_at_most_routes_plus_one_path_values() {
    const REQUESTS: usize = 100_000;
    const CONNECTIONS: usize = 8;
    let svc = start(0.0, Duration::ZERO).await;
    // Invented methods too: they fold into one `method` value, and must not add paths either.
    let methods = ["GET", "GET", "POST", "DELETE", "BREW"];
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|c| {
            let mut rng = Rng::new(c as u64);
            let requests: Vec<(&str, String)> = (0..REQUESTS / CONNECTIONS)
                .map(|_| (methods[rng.below(methods.len())], random_path(&mut rng)))
                .collect();
            let addr = svc.addr;
            tokio::task::spawn_blocking(move || {
                let statuses = pipelined(addr, &requests);
                for ((method, path), status) in requests.iter().zip(statuses) {
                    assert!((400..500).contains(&status), "{method} {path}: {status}");
                }
            })
        })
        .collect();
    for c in clients {
        c.await.unwrap();
    }

    let text = svc.scrape_settled(REQUESTS as u64).await;
    let counts = by_key(&text, "flask_http_request_total");
    assert_eq!(counts.values().sum::<f64>(), REQUESTS as f64);
    let paths: BTreeSet<String> = samples(&text)
        .into_iter()
        .flat_map(|(_, labels, _)| labels)
        .filter(|(k, _)| k == "path")
        .map(|(_, v)| v)
        .collect();
    assert!(paths.len() <= ROUTES.len() + 1, "{paths:?}");
    assert!(paths.contains(UNMATCHED), "{paths:?}");
    assert!(svc.metrics.http.tracked_paths() <= ROUTES.len() + 1);
    let methods: BTreeSet<&str> = counts.keys().map(|(m, _, _)| m.as_str()).collect();
    assert_eq!(methods, BTreeSet::from(["DELETE", "GET", "OTHER", "POST"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_counted_as_4xx_with_a_json_error() {
    let svc = start(0.0, Duration::ZERO).await;
    let json = [(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
    let text_plain = [(CONTENT_TYPE, HeaderValue::from_static("text/plain"))];
    type Headers<'a> = &'a [(HeaderName, HeaderValue)];
    // JSON bodies the API refuses: malformed (400) or not a valid forecast request (422).
    let bad_json = [
        (r#"{"throughput": [1, 2"#, 400),
        ("", 400),
        (r#"{"throughput": [], "backlog": 5, "trials": 10}"#, 422),
        (r#"{"throughput": [0, 0], "backlog": 5, "trials": 10}"#, 422),
        (
            r#"{"throughput": [1, -1], "backlog": 5, "trials": 10}"#,
            422,
        ),
        (r#"{"throughput": [1], "backlog": 0, "trials": 10}"#, 422),
        (r#"{"throughput": [1], "backlog": 5, "trials": 0}"#, 422),
        (
            r#"{"throughput": [1], "backlog": 5, "trials": 100001}"#,
            422,
        ),
        (r#"{"throughput": [1], "backlog": 5, "trials": 1e12}"#, 422),
        (r#"{"throughput": [1], "backlog": 5}"#, 422),
        (
            r#"{"throughput": [1], "backlog": 5, "trials": 9, "simulation_type": "x"}"#,
            422,
        ),
        (r#"[1, 2, 3]"#, 422),
    ];
    let mut cases: Vec<(Headers, String, u16)> = bad_json
        .iter()
        .map(|(body, status)| (&json[..], body.to_string(), *status))
        .collect();
    cases.push((&text_plain, valid_forecast(10), 415));
    cases.push((&[], valid_forecast(10), 415));
    let mut conn = svc.connect();
    let mut expected: BTreeMap<Key, u64> = BTreeMap::new();
    for (headers, body, status) in cases {
        let reply = conn
            .request(Method::POST, SIMULATE, headers, body.clone().into())
            .await
            .unwrap();
        assert_eq!(reply.status.as_u16(), status, "{body}");
        assert_json_error(&reply);
        *expected.entry(key("POST", SIMULATE, status)).or_default() += 1;
    }
    let reply = conn.get("/api/simulations/-1").await.unwrap();
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_json_error(&reply);
    *expected.entry(key("GET", SIMULATION, 400)).or_default() += 1;

    let text = svc.scrape_settled(expected.values().sum()).await;
    assert_eq!(
        by_key(&text, "flask_http_request_total"),
        as_counts(&expected)
    );
    assert_eq!(
        sample_value(
            &text,
            "simulation_total",
            &[("simulation_type", "monte_carlo")]
        ),
        Some(0.0),
        "rejected input must not count as a simulation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_are_counted_as_500() {
    let svc = start(1.0, Duration::ZERO).await;
    let mut conn = svc.connect();
    for _ in 0..7 {
        let reply = conn.post_json(SIMULATE, valid_forecast(10)).await.unwrap();
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_json_error(&reply);
    }
    for _ in 0..4 {
        let reply = conn.get("/api/simulations/1").await.unwrap();
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
    // Faults are for the API only: health checks and unknown URLs answer as usual.
    assert_eq!(conn.get("/healthz").await.unwrap().status, StatusCode::OK);
    assert_eq!(
        conn.get("/api/x").await.unwrap().status,
        StatusCode::NOT_FOUND
    );

    let text = svc.scrape_settled(13).await;
    let expected = BTreeMap::from([
        (key("POST", SIMULATE, 500), 7),
        (key("GET", SIMULATION, 500), 4),
        (key("GET", HEALTHZ, 200), 1),
        (key("GET", UNMATCHED, 404), 1),
    ]);
    assert_request_counts(&text, &expected);
    assert_eq!(
        sample_value(
            &text,
            "simulation_total",
            &[("simulation_type", "monte_carlo")]
        ),
        Some(0.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_switch_through_the_admin_api_while_serving() {
    let svc = start(0.0, Duration::ZERO).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin_addr = listener.local_addr().unwrap();
    let app = admin_app(Arc::clone(&svc.faults));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut admin = Connection::new(admin_addr.to_string());
    let put = async |admin: &mut Connection, body: &'static str| {
        let json = [(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
        admin
            .request(
                Method::PUT,
                "/faults",
                &json,
                Bytes::from_static(body.as_bytes()),
            )
            .await
            .unwrap()
    };
    let mut conn = svc.connect();
    let status = async |conn: &mut Connection| {
        conn.post_json(SIMULATE, valid_forecast(10))
            .await
            .unwrap()
            .status
    };
    assert_eq!(status(&mut conn).await, StatusCode::OK);

    let all_fail = r#"{"error_rate": 1, "slow_ms": 0, "slow_share": 1}"#;
    assert_eq!(put(&mut admin, all_fail).await.status, StatusCode::OK);
    assert_eq!(status(&mut conn).await, StatusCode::INTERNAL_SERVER_ERROR);

    // Out of range, unknown or missing fields: refused with a JSON error, nothing changes.
    for bad in [
        r#"{"error_rate": 2, "slow_ms": 0, "slow_share": 1}"#,
        r#"{"error_rate": 0, "slow_ms": 0, "slow_share": 1, "x": 1}"#,
        r#"{"error_rate": 0}"#,
        "not json",
    ] {
        let reply = put(&mut admin, bad).await;
        assert!(reply.status.is_client_error(), "{bad}: {}", reply.status);
        assert_json_error(&reply);
    }
    let shown = admin.get("/faults").await.unwrap().json().unwrap();
    assert_eq!(shown["error_rate"], 1.0);

    assert_eq!(
        put(
            &mut admin,
            r#"{"error_rate": 0, "slow_ms": 0, "slow_share": 1}"#
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(status(&mut conn).await, StatusCode::OK);
    // The admin API is not part of the instrumented service.
    let text = svc.scrape_settled(3).await;
    assert!(!text.contains("/faults"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_traffic_is_counted_exactly() {
    let svc = start(0.1, Duration::ZERO).await;
    let config = LoadConfig {
        concurrency: 4,
        seed: 7,
        ..LoadConfig::new(
            &format!("http://{}", svc.addr),
            60.0,
            Duration::from_secs(3),
        )
        .unwrap()
    };
    let summary = loadgen::run(&config).await;
    assert_eq!(summary.total_errors(), 0, "{summary}");
    assert!(summary.total_sent() >= 120, "{summary}");
    let expected = sent_by_key(&summary);
    // The mix reached every route and both kinds of failure.
    for (method, route, status) in [
        ("POST", SIMULATE, 200),
        ("POST", SIMULATE, 500),
        ("GET", SIMULATION, 200),
        ("GET", HEALTHZ, 200),
        ("GET", UNMATCHED, 404),
    ] {
        assert!(
            expected.contains_key(&key(method, route, status)),
            "no {method} {route} {status}:\n{summary}"
        );
    }

    let text = svc.scrape_settled(summary.total_sent()).await;
    assert_request_counts(&text, &expected);
    let simulations = expected[&key("POST", SIMULATE, 200)] as f64;
    assert_eq!(
        sample_value(
            &text,
            "simulation_total",
            &[("simulation_type", "monte_carlo")]
        ),
        Some(simulations)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exposition_passes_promtool_with_the_text_content_type() {
    let svc = start(0.3, Duration::ZERO).await;
    let config = LoadConfig {
        concurrency: 2,
        ..LoadConfig::new(&svc.addr.to_string(), 100.0, Duration::from_millis(500)).unwrap()
    };
    let summary = loadgen::run(&config).await;
    svc.scrape_settled(summary.total_sent()).await;

    let identity = [(ACCEPT_ENCODING, HeaderValue::from_static("identity"))];
    let reply = svc
        .connect()
        .request(Method::GET, "/metrics", &identity, Bytes::new())
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.headers[CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = String::from_utf8(reply.body.to_vec()).unwrap();

    let shapes = family_shapes(&text);
    let labels = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    for (family, kind, label_names) in [
        (
            "flask_http_request_total",
            "counter",
            labels(&["method", "path", "status"]),
        ),
        (
            "flask_http_request_duration_seconds",
            "histogram",
            labels(&["method", "path", "status"]),
        ),
        (
            "flask_http_requests_in_progress",
            "gauge",
            labels(&["method", "path"]),
        ),
        ("flask_exporter_info", "gauge", labels(&["version"])),
        ("simulation_total", "counter", labels(&["simulation_type"])),
        (
            "simulation_duration_seconds",
            "histogram",
            labels(&["simulation_type"]),
        ),
        ("simulation_active", "gauge", labels(&[])),
    ] {
        let shape = shapes
            .get(family)
            .unwrap_or_else(|| panic!("{family} missing"));
        assert_eq!(shape.kind, kind, "{family}");
        assert_eq!(shape.label_names, label_names, "{family}");
    }
    let buckets: BTreeSet<String> = samples(&text)
        .into_iter()
        .filter(|(n, _, _)| n == "simulation_duration_seconds_bucket")
        .flat_map(|(_, l, _)| l.into_iter().filter(|(k, _)| k == "le").map(|(_, v)| v))
        .collect();
    assert_eq!(
        buckets,
        labels(&["1", "5", "10", "30", "60", "120", "300", "+Inf"])
    );

    let (code, findings) =
        promtool_check_metrics(&text).expect("promtool not installed (apt-get install prometheus)");
    // Every name here is ours: any finding fails.
    assert!(
        code == Some(0) && findings.trim().is_empty(),
        "promtool check metrics (exit {code:?}):\n{findings}"
    );
}
