//! The runtime's HTTP surface over real loopback sockets: routes, content negotiation, the
//! request limit, scrape deadlines, basic auth and TLS (with and without client certificates).

use std::sync::Arc;
use std::time::{Duration, Instant};

use exporter_core::base64;
use exporter_core::collector::{blocking, BlockingCollector, CollectResult};
use exporter_core::testkit::background::{serve, Background};
use exporter_core::testkit::pki::TestPki;
use exporter_core::web_config::WebConfig;
use exporter_core::web_config_reload::ReloadingWebConfig;
use exporter_core::{Exporter, MetricFamily, ServerConfig};

struct Slow(Duration);
impl BlockingCollector for Slow {
    fn name(&self) -> &'static str {
        "slow"
    }
    fn collect(&self) -> CollectResult {
        std::thread::sleep(self.0);
        Ok(vec![
            MetricFamily::gauge("test_value", "A value.").with(&[], 42.0)
        ])
    }
}

/// A server on a free loopback port, stopped when dropped.
struct Running {
    base: String,
    _server: Background,
}

fn start(web: impl Into<ReloadingWebConfig>, max_requests: usize, delay: Duration) -> Running {
    let web = web.into();
    let scheme = if web.tls_enabled() { "https" } else { "http" };
    let config = ServerConfig {
        listen: vec!["127.0.0.1:0".into()],
        systemd_socket: false,
        telemetry_path: "/metrics".into(),
        web,
        max_requests,
        title: "Test Exporter".into(),
    };
    let exporter = Arc::new(Exporter::new("test", vec![blocking(Slow(delay))]));
    let (addr, server) = serve(config, exporter);
    Running {
        base: format!("{scheme}://localhost:{}", addr.port()),
        _server: server,
    }
}

fn status_of(r: Result<ureq::Response, ureq::Error>) -> u16 {
    match r {
        Ok(resp) => resp.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("transport error: {e}"),
    }
}

#[test]
fn serves_metrics_landing_page_and_health() {
    let s = start(WebConfig::default(), 40, Duration::ZERO);
    let resp = ureq::get(&format!("{}/metrics", s.base)).call().unwrap();
    assert_eq!(
        resp.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let body = resp.into_string().unwrap();
    assert!(body.contains("test_value 42\n"));
    assert!(body.contains("test_scrape_collector_success{collector=\"slow\"} 1\n"));

    let landing = ureq::get(&s.base).call().unwrap().into_string().unwrap();
    assert!(landing.contains("Test Exporter") && landing.contains("href=\"/metrics\""));
    for path in ["/-/healthy", "/-/ready"] {
        assert_eq!(
            status_of(ureq::get(&format!("{}{path}", s.base)).call()),
            200
        );
    }
    assert_eq!(
        status_of(ureq::get(&format!("{}/nope", s.base)).call()),
        404
    );
    assert_eq!(
        status_of(ureq::post(&format!("{}/metrics", s.base)).call()),
        405
    );
}

#[test]
fn gzip_when_asked() {
    let s = start(WebConfig::default(), 40, Duration::ZERO);
    // ureq decompresses transparently; ask via a raw request to see the header.
    use std::io::{Read, Write};
    let port = s.base.rsplit(':').next().unwrap();
    let mut conn = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    write!(
        conn,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).unwrap();
    let head =
        String::from_utf8_lossy(&raw[..raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap()])
            .to_lowercase();
    assert!(head.contains("content-encoding: gzip"), "{head}");
    let body_start = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut text = String::new();
    flate2::read::GzDecoder::new(&raw[body_start..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.contains("test_value 42"));
}

#[test]
fn requests_beyond_the_limit_get_503() {
    let s = start(WebConfig::default(), 1, Duration::from_millis(800));
    let url = format!("{}/metrics", s.base);
    let slow = std::thread::spawn({
        let url = url.clone();
        move || status_of(ureq::get(&url).call())
    });
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(status_of(ureq::get(&url).call()), 503);
    assert_eq!(slow.join().unwrap(), 200);
}

#[test]
fn scrape_timeout_header_bounds_a_slow_collector() {
    let s = start(WebConfig::default(), 40, Duration::from_secs(3));
    let started = Instant::now();
    let body = ureq::get(&format!("{}/metrics", s.base))
        .set("X-Prometheus-Scrape-Timeout-Seconds", "1")
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(started.elapsed() < Duration::from_millis(2500));
    assert!(body.contains("test_scrape_collector_success{collector=\"slow\"} 0\n"));
    assert!(!body.contains("test_value"));
}

#[test]
fn basic_auth_rejects_missing_and_wrong_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web.yml");
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    std::fs::write(&file, format!("basic_auth_users:\n  alice: {hash}\n")).unwrap();
    let s = start(WebConfig::load(&file).unwrap(), 40, Duration::ZERO);
    let url = format!("{}/metrics", s.base);

    match ureq::get(&url).call() {
        Err(ureq::Error::Status(401, resp)) => {
            assert!(resp
                .header("www-authenticate")
                .unwrap()
                .starts_with("Basic"))
        }
        other => panic!("expected 401, got {other:?}"),
    }
    for (user, password, status) in [
        ("alice", "wrong", 401),
        ("bob", "s3cret", 401),
        ("alice", "s3cret", 200),
    ] {
        let auth = basic(user, password);
        let reply = ureq::get(&url).set("Authorization", &auth).call();
        assert_eq!(status_of(reply), status, "{user}:{password}");
    }
}

/// Replaces a file the way editors and rotation tools do (write aside, rename over), so the
/// server sees a new file even within one timestamp tick.
fn replace_file(path: &std::path::Path, text: &str) {
    let aside = path.with_extension("new");
    std::fs::write(&aside, text).unwrap();
    std::fs::rename(&aside, path).unwrap();
}

#[test]
fn a_changed_web_config_applies_without_restart_and_a_broken_one_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web.yml");
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    std::fs::write(&file, format!("basic_auth_users:\n  alice: {hash}\n")).unwrap();
    let s = start(ReloadingWebConfig::load(&file).unwrap(), 40, Duration::ZERO);
    let url = format!("{}/metrics", s.base);
    let as_user = |user: &str| {
        status_of(
            ureq::get(&url)
                .set("Authorization", &basic(user, "s3cret"))
                .call(),
        )
    };
    assert_eq!((as_user("alice"), as_user("bob")), (200, 401));

    replace_file(
        &file,
        &format!("basic_auth_users:\n  alice: {hash}\n  bob: {hash}\n"),
    );
    assert_eq!((as_user("alice"), as_user("bob")), (200, 200));

    replace_file(&file, "basic_auth_users:\n  alice: [not, a, hash]\n");
    assert_eq!(
        (as_user("alice"), as_user("bob")),
        (200, 200),
        "the broken file is ignored"
    );

    replace_file(&file, &format!("basic_auth_users:\n  bob: {hash}\n"));
    assert_eq!(
        (as_user("alice"), as_user("bob")),
        (401, 200),
        "a removed user is refused"
    );
}

/// A test CA whose directory also holds the server's certificate and web config.
struct Pki(TestPki);

impl Pki {
    fn new() -> Pki {
        Pki(TestPki::new("Test CA"))
    }

    /// Issues a certificate for `name` signed by the CA; returns (cert PEM, key PEM).
    fn issue(&self, name: &str) -> (String, String) {
        let (cert, key) = self.0.issue(name, &[name]);
        let read = |path: String| std::fs::read_to_string(path).unwrap();
        (read(cert), read(key))
    }

    fn web_config(&self, extra: &str) -> ReloadingWebConfig {
        self.install_server_certificate(self.0.dir());
        let d = self.0.dir();
        let file = d.join("web.yml");
        // Relative paths resolve against the config file's directory.
        std::fs::write(
            &file,
            format!("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n{extra}"),
        )
        .unwrap();
        ReloadingWebConfig::load(&file).unwrap()
    }

    /// Writes a fresh `server.crt`/`server.key` pair for localhost into `dir`.
    fn install_server_certificate(&self, dir: &std::path::Path) {
        let (cert, key) = self.issue("localhost");
        replace_file(&dir.join("server.key"), &key);
        replace_file(&dir.join("server.crt"), &cert);
    }

    fn agent(&self, client: Option<(String, String)>) -> ureq::Agent {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(self.0.ca()).unwrap())
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = match client {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => builder
                .with_client_auth_cert(
                    vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                    PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
                )
                .unwrap(),
        };
        ureq::AgentBuilder::new()
            .tls_config(Arc::new(config))
            .build()
    }
}

#[test]
fn tls_handshake_with_a_generated_certificate() {
    let pki = Pki::new();
    let s = start(pki.web_config(""), 40, Duration::ZERO);
    let body = pki
        .agent(None)
        .get(&format!("{}/metrics", s.base))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(body.contains("test_value 42"));
    // Plain HTTP to the TLS port does not get metrics.
    let plain = s.base.replace("https://", "http://");
    assert!(ureq::get(&format!("{plain}/metrics")).call().is_err());
}

#[test]
fn client_certificates_are_required_and_verified() {
    let pki = Pki::new();
    let s = start(
        pki.web_config(
            "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n",
        ),
        40,
        Duration::ZERO,
    );
    let url = format!("{}/metrics", s.base);
    assert!(pki.agent(None).get(&url).call().is_err());
    let other_ca = Pki::new();
    assert!(pki
        .agent(Some(other_ca.issue("intruder")))
        .get(&url)
        .call()
        .is_err());
    let ok = pki
        .agent(Some(pki.issue("client")))
        .get(&url)
        .call()
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[test]
fn a_rotated_certificate_serves_the_next_handshake() {
    let first_ca = Pki::new();
    let s = start(first_ca.web_config(""), 40, Duration::ZERO);
    let url = format!("{}/metrics", s.base);
    assert_eq!(first_ca.agent(None).get(&url).call().unwrap().status(), 200);

    // Rotate to a certificate from another CA: a client trusting only the new CA now connects,
    // one trusting only the old one no longer does.
    let second_ca = Pki::new();
    second_ca.install_server_certificate(first_ca.0.dir());
    assert_eq!(
        second_ca.agent(None).get(&url).call().unwrap().status(),
        200
    );
    assert!(first_ca.agent(None).get(&url).call().is_err());
}

/// An `Authorization` header value for basic auth.
fn basic(user: &str, password: &str) -> String {
    let credentials = format!("{user}:{password}");
    format!("Basic {}", base64::encode(credentials.as_bytes()))
}
