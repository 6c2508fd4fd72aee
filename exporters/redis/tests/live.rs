//! Against real redis-server instances: authentication (password, ACL user), TLS, a Redis that
//! goes away and comes back, multi-target scraping with a password file, unix sockets.

mod common;

use std::time::{Duration, Instant};

use common::{get, write, Exporter, Redis, TlsRedis};
use exporter_core::testkit::assert_samples;
use exporter_core::testkit::pki::TestPki;
use exporter_core::testkit::{family_shapes, sample_value, wait_for};

fn up(text: &str) -> Option<f64> {
    sample_value(text, "redis_up", &[])
}

#[test]
fn requirepass_right_and_wrong_password() {
    let redis = Redis::start(&["--requirepass", "s3cret-pw"]);
    redis.cli(Some("s3cret-pw"), &["SET", "k", "1"]);

    let good = Exporter::scraping(&redis.addr(), &["--redis.password", "s3cret-pw"]);
    let body = good.metrics();
    assert_eq!(up(&body), Some(1.0), "{body}");
    assert_eq!(
        sample_value(&body, "redis_db_keys", &[("db", "db0")]),
        Some(1.0)
    );

    // Password in the URL, as upstream accepts it.
    let in_url = format!("redis://:s3cret-pw@127.0.0.1:{}", redis.port);
    let url_exp = Exporter::scraping(&in_url, &[]);
    assert_eq!(up(&url_exp.metrics()), Some(1.0));

    let bad = Exporter::scraping(&redis.addr(), &["--redis.password", "wrong-pw-123"]);
    let body = bad.metrics();
    assert_eq!(up(&body), Some(0.0), "{body}");
    assert_eq!(
        sample_value(&body, "redis_exporter_last_scrape_error", &[]),
        Some(1.0)
    );
    let logs = bad.logs();
    assert!(logs.contains("authentication failed"), "{logs}");
    assert!(logs.contains("WRONGPASS"), "{logs}");

    let none = Exporter::scraping(&redis.addr(), &[]);
    assert_eq!(up(&none.metrics()), Some(0.0));
    assert!(none.logs().contains("NOAUTH"), "{}", none.logs());

    // Passwords appear nowhere: metrics, logs, landing page.
    for (exp, pw) in [
        (&good, "s3cret-pw"),
        (&url_exp, "s3cret-pw"),
        (&bad, "wrong-pw-123"),
    ] {
        let landing = get(&exp.url("/")).1;
        for (what, text) in [
            ("metrics", exp.metrics()),
            ("logs", exp.logs()),
            ("landing page", landing),
        ] {
            assert!(!text.contains(pw), "password in {what}:\n{text}");
        }
    }
}

#[test]
fn acl_user_with_only_what_the_exporter_needs() {
    let redis = Redis::start(&[]);
    // No CONFIG: the exporter must do without (as on managed Redis).
    let rules =
        "on >acl-pw -@all +info +ping +slowlog|len +slowlog|get +latency|latest +client|setname";
    let mut args = vec!["ACL", "SETUSER", "exporter"];
    args.extend(rules.split(' '));
    assert_eq!(redis.cli(None, &args).trim(), "OK");
    redis.cli(None, &["SET", "a", "1"]);

    let exp = Exporter::scraping(
        &redis.addr(),
        &["--redis.user", "exporter", "--redis.password", "acl-pw"],
    );
    let body = exp.metrics();
    assert_eq!(up(&body), Some(1.0), "{body}\n{}", exp.logs());
    assert_eq!(
        sample_value(&body, "redis_db_keys", &[("db", "db0")]),
        Some(1.0)
    );
    assert_eq!(
        sample_value(&body, "redis_db_keys", &[("db", "db15")]),
        Some(0.0)
    );
    assert!(body.contains("redis_slowlog_length 0"), "{body}");
    assert!(!body.contains("redis_config_maxclients"), "{body}");
    assert_eq!(
        sample_value(&body, "redis_exporter_last_scrape_error", &[]),
        Some(0.0)
    );

    // The same user with a wrong password.
    let bad = Exporter::scraping(
        &redis.addr(),
        &["--redis.user", "exporter", "--redis.password", "nope"],
    );
    assert_eq!(up(&bad.metrics()), Some(0.0));
    assert!(
        bad.logs().contains("authentication failed"),
        "{}",
        bad.logs()
    );
}

#[test]
fn tls_with_client_certificates() {
    let tls = TlsRedis::start(&["localhost", "127.0.0.1"], true);
    let (client_crt, client_key) = tls.pki.issue("client", &["exporter"]);
    let (tls_port, ca) = (tls.tls_port, tls.ca.as_str());
    tls.redis.cli(None, &["SET", "tls-key", "1"]);
    let addr = format!("rediss://localhost:{tls_port}");
    let client = [
        "--tls-client-cert-file",
        &client_crt,
        "--tls-client-key-file",
        &client_key,
    ];

    let mut args = vec!["--redis.addr", &addr, "--tls-ca-cert-file", ca];
    args.extend(client);
    let exp = Exporter::start(&args);
    let body = exp.metrics();
    assert_eq!(up(&body), Some(1.0), "{}", exp.logs());
    assert_eq!(
        sample_value(&body, "redis_db_keys", &[("db", "db0")]),
        Some(1.0)
    );

    // By IP address too (the certificate names 127.0.0.1).
    let by_ip = format!("rediss://127.0.0.1:{tls_port}");
    let mut args = vec!["--redis.addr", &by_ip, "--tls-ca-cert-file", ca];
    args.extend(client);
    assert_eq!(up(&Exporter::start(&args).metrics()), Some(1.0));

    // Without trusting the CA the handshake fails, unless verification is skipped.
    let other = TestPki::new("redis-exporter test CA");
    let other_ca = other.ca();
    let mut args = vec!["--redis.addr", &addr, "--tls-ca-cert-file", &other_ca];
    args.extend(client);
    let untrusted = Exporter::start(&args);
    assert_eq!(up(&untrusted.metrics()), Some(0.0));
    assert!(untrusted.logs().contains("TLS"), "{}", untrusted.logs());
    let mut args = vec!["--redis.addr", &addr, "--skip-tls-verification"];
    args.extend(client);
    assert_eq!(up(&Exporter::start(&args).metrics()), Some(1.0));

    // Without a client certificate the server refuses us.
    let no_client = Exporter::scraping(&addr, &["--tls-ca-cert-file", ca]);
    assert_eq!(up(&no_client.metrics()), Some(0.0));
}

/// `--tls-server-name`: a server reached by IP whose certificate names only a DNS name.
#[test]
fn tls_server_name_verifies_the_certificate_against_the_given_name() {
    let tls = TlsRedis::start(&["redis.internal"], false);
    let (tls_port, ca) = (tls.tls_port, tls.ca.as_str());
    let by_ip = format!("rediss://127.0.0.1:{tls_port}");
    let base = ["--redis.addr", by_ip.as_str(), "--tls-ca-cert-file", ca];

    let mismatch = Exporter::start(&base);
    assert_eq!(
        up(&mismatch.metrics()),
        Some(0.0),
        "the certificate does not name 127.0.0.1"
    );

    let mut args = base.to_vec();
    args.extend(["--tls-server-name", "redis.internal"]);
    let named = Exporter::start(&args);
    assert_eq!(up(&named.metrics()), Some(1.0), "{}", named.logs());

    // Upstream's environment variable and single-dash form do the same.
    let by_env = Exporter::start_with_env(
        &base,
        &[("REDIS_EXPORTER_TLS_SERVER_NAME", "redis.internal")],
    );
    assert_eq!(up(&by_env.metrics()), Some(1.0), "{}", by_env.logs());
    let mut args = base.to_vec();
    args.push("-tls-server-name=redis.internal");
    assert_eq!(up(&Exporter::start(&args).metrics()), Some(1.0));

    // A name the certificate does not carry fails as a mismatch would.
    let mut args = base.to_vec();
    args.extend(["--tls-server-name", "other.internal"]);
    assert_eq!(up(&Exporter::start(&args).metrics()), Some(0.0));
}

#[test]
fn redis_down_then_back_recovers_without_restart() {
    let mut redis = Redis::start(&[]);
    let exp = Exporter::scraping(&redis.addr(), &["--connection-timeout", "2s"]);
    assert_eq!(up(&exp.metrics()), Some(1.0));
    assert_eq!(up(&exp.metrics()), Some(1.0));

    redis.stop();
    let t0 = Instant::now();
    let (status, body) = get(&exp.url("/metrics"));
    assert_eq!(status, 200);
    assert_eq!(up(&body), Some(0.0), "{body}");
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t0.elapsed()
    );
    // Only self-metrics, as upstream.
    assert!(!body.contains("redis_connected_clients"), "{body}");
    assert!(body.contains("redis_exporter_scrapes_total"), "{body}");

    redis.restart();
    redis.cli(None, &["SET", "back", "1"]);
    let body = exp.metrics();
    assert_eq!(up(&body), Some(1.0), "{body}\n{}", exp.logs());
    assert_eq!(
        sample_value(&body, "redis_db_keys", &[("db", "db0")]),
        Some(1.0)
    );
    assert!(exp.guard.pid() > 0);
    let logs = exp.logs();
    assert!(logs.contains("cannot scrape Redis"), "{logs}");
    assert!(logs.contains("scraping Redis again"), "{logs}");
    assert!(!logs.contains("panicked"), "{logs}");
}

#[test]
fn hung_redis_gives_up_zero_within_the_timeout() {
    // A listener that accepts and never answers: a hung server.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let exp = Exporter::scraping(
        &format!("redis://127.0.0.1:{port}"),
        &["--connection-timeout", "1s"],
    );
    let t0 = Instant::now();
    let body = exp.metrics();
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t0.elapsed()
    );
    assert_eq!(up(&body), Some(0.0), "{body}");
    assert!(exp.logs().contains("timed out"), "{}", exp.logs());
    drop(listener);
}

#[test]
fn multi_target_with_password_file() {
    let a = Redis::start(&["--requirepass", "pw-a"]);
    let b = Redis::start(&[]);
    a.cli(Some("pw-a"), &["MSET", "x", "1", "y", "2"]);
    b.cli(None, &["SET", "z", "1"]);
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "passwords.json",
        &format!(r#"{{"{}": "pw-a", "{}": ""}}"#, a.addr(), b.addr()),
    );
    // No --redis.addr target of its own: /scrape only.
    let exp = Exporter::scraping("", &["--redis.password-file", file.to_str().unwrap()]);

    let scrape = |target: &str| {
        get(&exp.url(&format!(
            "/scrape?target={}",
            target.replace(':', "%3A").replace('/', "%2F")
        )))
    };
    let (status, body) = scrape(&a.addr());
    assert_eq!(status, 200);
    assert_eq!(up(&body), Some(1.0), "{body}\n{}", exp.logs());
    assert_eq!(
        sample_value(&body, "redis_db_keys", &[("db", "db0")]),
        Some(2.0)
    );
    let (_, body) = scrape(&b.addr());
    assert_eq!(
        sample_value(&body, "redis_db_keys", &[("db", "db0")]),
        Some(1.0)
    );
    // Kept connection: a second scrape of a still works, and counts.
    let (_, body) = scrape(&a.addr());
    assert_eq!(
        sample_value(&body, "redis_exporter_scrapes_total", &[]),
        Some(2.0)
    );
    assert!(family_shapes(&body).contains_key("redis_exporter_build_info"));
    assert!(!body.contains("process_cpu_seconds_total"));

    let (status, body) = get(&exp.url("/scrape"));
    assert_eq!(status, 400);
    assert!(
        body.contains("'target' parameter must be specified"),
        "{body}"
    );
    let (status, _) = scrape("http://nope");
    assert_eq!(status, 400);
    // Credentials in the query are refused, and not echoed.
    let (status, body) = scrape(&format!("redis://:pw-a@127.0.0.1:{}", a.port));
    assert_eq!(status, 400);
    assert!(!body.contains("pw-a"));
    // An unknown target is just down.
    let (status, body) = scrape("redis://127.0.0.1:1");
    assert_eq!(status, 200);
    assert_eq!(up(&body), Some(0.0));

    // /metrics counts the bad requests.
    let body = exp.metrics();
    assert_eq!(
        sample_value(&body, "redis_target_scrape_request_errors_total", &[]),
        None,
        "no --redis.addr target, so no per-target self metrics on /metrics"
    );
    assert!(!exp.logs().contains("pw-a"));
}

#[test]
fn unix_socket_and_env_configuration() {
    let redis = Redis::start(&[]);
    let sock = redis.dir.path().join("redis.sock");
    // A second server listening on a unix socket only.
    let unix = Redis::start(&["--unixsocket", sock.to_str().unwrap()]);
    unix.cli(None, &["SET", "u", "1"]);
    let addr = format!("unix://{}", sock.display());
    let exp = Exporter::start_with_env(
        &[],
        &[("REDIS_ADDR", &addr), ("REDIS_EXPORTER_NAMESPACE", "kv")],
    );
    let body = exp.metrics();
    assert_eq!(
        sample_value(&body, "kv_up", &[]),
        Some(1.0),
        "{body}\n{}",
        exp.logs()
    );
    assert_eq!(
        sample_value(&body, "kv_db_keys", &[("db", "db0")]),
        Some(1.0)
    );
    assert!(body.contains("kv_exporter_build_info"));
    drop(redis);
}

#[test]
fn key_checks_streams_counts_and_scripts() {
    let redis = Redis::start(&[]);
    redis.run_lines(
        "SET num 42
         SET str hello
         RPUSH lst a b c
         HSET h f v
         PFADD hll a b c
         XADD s 1526919030474-0 f v
         XGROUP CREATE s g1 0
         XREADGROUP GROUP g1 c1 COUNT 1 STREAMS s >
         -n 2 SET user:1 7
         -n 2 SET user:2 8",
    );
    let dir = tempfile::tempdir().unwrap();
    let script = write(dir.path(), "s.lua", "return {'answer', '42', 'text', 'x'}");
    let exp = Exporter::scraping(
        &redis.addr(),
        &[
            "--check-keys",
            "num,str,lst,h,hll,missing,db2=user:*",
            "--check-single-keys",
            "db0=num",
            "--check-streams",
            "s",
            "--count-keys",
            "db2=user:*,db0=*",
            "--script",
            script.to_str().unwrap(),
            "--export-client-list",
            "--ping-on-connect",
        ],
    );
    let body = exp.metrics();
    let v = |name: &str, labels: &[(&str, &str)]| sample_value(&body, name, labels);
    assert_eq!(v("redis_up", &[]), Some(1.0), "{}", exp.logs());
    let num = [("db", "db0"), ("key", "num")];
    let as_string = [("key", "str"), ("val", "hello")];
    let user2 = [("db", "db2"), ("key", "user:2")];
    let users = [("db", "db2"), ("key", "user:*")];
    let all = [("db", "db0"), ("key", "*")];
    let stream = [("stream", "s")];
    assert_samples(
        &body,
        &[
            ("redis_key_size", &num, Some(2.0)),
            ("redis_key_value", &num, Some(42.0)),
            ("redis_key_value_as_string", &as_string, Some(1.0)),
            ("redis_key_size", &[("key", "lst")], Some(3.0)),
            ("redis_key_size", &[("key", "h")], Some(1.0)),
            ("redis_key_size", &[("key", "hll")], Some(3.0)),
            ("redis_key_size", &[("key", "missing")], Some(0.0)),
            ("redis_key_value", &user2, Some(8.0)),
            ("redis_keys_count", &users, Some(2.0)),
            ("redis_keys_count", &all, Some(6.0)),
            ("redis_stream_length", &stream, Some(1.0)),
            (
                "redis_stream_last_generated_id",
                &stream,
                Some(1526919030474.0),
            ),
            (
                "redis_stream_group_consumer_messages_pending",
                &[("consumer", "c1")],
                Some(1.0),
            ),
            ("redis_script_values", &[("key", "answer")], Some(42.0)),
            ("redis_script_values", &[("key", "text")], None),
            (
                "redis_connected_clients_details",
                &[("name", "redis_exporter")],
                Some(1.0),
            ),
        ],
    );
    assert!(v("redis_exporter_last_scrape_ping_time_seconds", &[]).is_some());
    assert_eq!(v("redis_exporter_last_scrape_error", &[]), Some(0.0));
    // No error replies were provoked on the server (no PFCOUNT on plain strings).
    assert_eq!(v("redis_errors_total", &[("err", "WRONGTYPE")]), None);

    // A failing script is logged and flagged but keeps the rest of the scrape.
    let bad = write(dir.path(), "bad.lua", "return redis.call('NOSUCHCOMMAND')");
    let exp = Exporter::scraping(&redis.addr(), &["--script", bad.to_str().unwrap()]);
    let body = exp.metrics();
    assert_eq!(sample_value(&body, "redis_up", &[]), Some(1.0));
    assert_eq!(
        sample_value(&body, "redis_exporter_last_scrape_error", &[]),
        Some(1.0)
    );
    assert!(exp.logs().contains("script"), "{}", exp.logs());
}

#[test]
fn connection_is_kept_between_scrapes() {
    let redis = Redis::start(&[]);
    let exp = Exporter::scraping(&redis.addr(), &[]);
    let received =
        |body: &str| sample_value(body, "redis_connections_received_total", &[]).unwrap();
    let first = received(&exp.metrics());
    for _ in 0..5 {
        exp.metrics();
    }
    let later = received(&exp.metrics());
    assert_eq!(first, later, "the exporter opened new connections");
    wait_for("redis to see one client", Duration::from_secs(5), || {
        redis
            .cli(None, &["CLIENT", "LIST"])
            .contains("name=redis_exporter")
            .then_some(())
    });
}

#[test]
fn cluster_key_checks_follow_moved_with_is_cluster() {
    let nodes: Vec<Redis> = (0..3)
        .map(|_| {
            Redis::start(&[
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
            ])
        })
        .collect();
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let mut args = vec!["--cluster", "create"];
    args.extend(addrs.iter().map(String::as_str));
    args.extend(["--cluster-replicas", "0", "--cluster-yes"]);
    nodes[0].cli(None, &args);
    wait_for("the cluster to be ok", Duration::from_secs(30), || {
        nodes
            .iter()
            .all(|n| {
                n.cli(None, &["CLUSTER", "INFO"])
                    .contains("cluster_state:ok")
            })
            .then_some(())
    });
    // Keys spread over the three nodes' slots.
    let keys: Vec<String> = (0..12).map(|i| format!("key{i}")).collect();
    for (i, k) in keys.iter().enumerate() {
        nodes[0].cli(None, &["-c", "SET", k, &i.to_string()]);
    }
    let list = keys.join(",");

    let exp = Exporter::start(&[
        "--redis.addr",
        &nodes[0].addr(),
        "--is-cluster",
        "--check-single-keys",
        &list,
    ]);
    let body = exp.metrics();
    assert_eq!(up(&body), Some(1.0), "{}", exp.logs());
    assert_eq!(
        sample_value(&body, "redis_cluster_state", &[]),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        sample_value(&body, "redis_cluster_known_nodes", &[]),
        Some(3.0)
    );
    // One database in cluster mode.
    assert_eq!(body.matches("redis_db_keys{").count(), 1, "{body}");
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(
            sample_value(&body, "redis_key_value", &[("db", "db0"), ("key", k)]),
            Some(i as f64),
            "{k}\n{body}\n{}",
            exp.logs()
        );
    }
    // A second scrape reuses the node connections and still finds every key.
    let body = exp.metrics();
    assert_eq!(body.matches("redis_key_value{").count(), keys.len());

    // Without --is-cluster only the scraped node's own keys are checked.
    let local = Exporter::start(&[
        "--redis.addr",
        &nodes[0].addr(),
        "--check-single-keys",
        &list,
    ]);
    let body = local.metrics();
    let found = body.matches("redis_key_value{").count();
    assert!(found > 0 && found < keys.len(), "{found}\n{body}");
}
