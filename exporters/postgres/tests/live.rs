//! Against a real PostgreSQL 15: users and roles, password and TLS connections, failure and
//! recovery, user queries, auto-discovery and /probe.

mod common;

use std::time::{Duration, Instant};

use common::*;
use exporter_core::testkit::wait_for;

/// Collectors on by default (`exporter` is the always-on self collector).
const DEFAULT_COLLECTORS: &[&str] = &[
    "exporter",
    "bgwriter",
    "database",
    "locks",
    "postmaster",
    "replication",
    "replication_slots",
    "roles",
    "settings",
    "stat_activity",
    "stat_archiver",
    "stat_database",
    "stat_replication",
    "stat_user_tables",
    "statio_user_tables",
    "wal",
];

fn assert_full_scrape(pg: &Postgres, body: &str, who: &str) {
    assert_eq!(value(body, "pg_up", &[]), Some(1.0), "{who}: pg_up\n{body}");
    for c in DEFAULT_COLLECTORS {
        assert_eq!(success(body, c), Some(1.0), "{who}: collector {c} failed");
    }
    let max_conn: f64 = pg.psql("SHOW max_connections").parse().unwrap();
    assert_eq!(
        value(body, "pg_settings_max_connections", &[]),
        Some(max_conn)
    );
    assert!(value(body, "pg_database_size_bytes", &[("datname", "postgres")]).unwrap() > 1e6);
    assert!(value(body, "pg_static", &[("short_version", "15")]).is_none());
    assert!(
        body.contains("pg_static{short_version=\"15."),
        "{who}: pg_static"
    );
    assert_eq!(
        value(
            body,
            "pg_locks_count",
            &[("datname", "template0"), ("mode", "sireadlock")]
        ),
        Some(0.0),
        "{who}: zero-filled locks"
    );
    assert!(
        value(
            body,
            "pg_stat_activity_count",
            &[("datname", "postgres"), ("state", "active")]
        )
        .unwrap()
            >= 1.0
    );
    assert!(value(body, "pg_postmaster_start_time_seconds", &[]).unwrap() > 1.6e9);
    for secret in [SUPERUSER_PASSWORD, MONITOR_PASSWORD] {
        assert!(
            !body.contains(secret),
            "{who}: a password is in the metrics"
        );
    }
}

#[test]
fn superuser_and_pg_monitor_only_users_get_every_default_collector() {
    let pg = Postgres::start(&[]);
    let monitor_dsn = pg.create_monitor_role();
    for (who, dsn) in [
        ("superuser", pg.superuser_dsn()),
        ("pg_monitor", monitor_dsn),
    ] {
        let exporter = Exporter::start(&dsn, &[]);
        let (status, body) = get(&exporter.url("/metrics"));
        assert_eq!(status, 200);
        assert_full_scrape(&pg, &body, who);
        // A second scrape reuses the connection and its prepared statements.
        let body = exporter.scrape();
        assert_full_scrape(&pg, &body, who);
        assert_eq!(value(&body, "pg_exporter_scrapes_total", &[]), Some(2.0));
        let log = exporter.log_text();
        assert!(
            !log.contains(SUPERUSER_PASSWORD) && !log.contains(MONITOR_PASSWORD),
            "{log}"
        );
        assert_eq!(log.matches("connected to PostgreSQL").count(), 1, "{log}");
        let (_, landing) = get(&exporter.url("/"));
        assert!(landing.contains("/probe") && !landing.contains(SUPERUSER_PASSWORD));
        // One pooled connection, however many collectors and scrapes.
        assert_eq!(
            pg.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'postgres_exporter'"),
            "1"
        );
    }
}

#[test]
fn wrong_password_is_pg_up_0_with_http_200_and_no_password_anywhere() {
    let pg = Postgres::start(&[]);
    let exporter = Exporter::start(&pg.dsn("postgres", "Wr0ng-Passw0rd"), &[]);
    let started = Instant::now();
    let (status, body) = get(&exporter.url("/metrics"));
    assert_eq!(status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(value(&body, "pg_up", &[]), Some(0.0), "{body}");
    assert!(!body.contains("pg_static"));
    assert_eq!(success(&body, "settings"), Some(0.0));
    let log = exporter.log_text();
    assert!(log.contains("password authentication failed"), "{log}");
    assert!(
        !log.contains("Wr0ng-Passw0rd") && !body.contains("Wr0ng-Passw0rd"),
        "{log}"
    );
    // Still failing: logged once, not once per collector and scrape.
    exporter.scrape();
    let log = exporter.log_text();
    assert_eq!(log.matches("level=error").count(), 1, "{log}");
}

#[test]
fn stopping_and_starting_postgresql_turns_pg_up_to_0_and_back_to_1() {
    let mut pg = Postgres::start(&[]);
    let exporter = Exporter::start(&pg.superuser_dsn(), &[]);
    assert_eq!(value(&exporter.scrape(), "pg_up", &[]), Some(1.0));
    pg.stop();
    let started = Instant::now();
    let (status, body) = get(&exporter.url("/metrics"));
    assert_eq!(status, 200);
    assert_eq!(value(&body, "pg_up", &[]), Some(0.0), "{body}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(value(&exporter.scrape(), "pg_up", &[]), Some(0.0));
    pg.run();
    // The very next scrape reconnects.
    let body = exporter.scrape();
    assert_eq!(value(&body, "pg_up", &[]), Some(1.0), "{body}");
    assert_eq!(success(&body, "stat_database"), Some(1.0));
    assert_eq!(
        value(&body, "pg_exporter_last_scrape_error", &[]),
        Some(1.0)
    );
    assert_eq!(
        value(&exporter.scrape(), "pg_exporter_last_scrape_error", &[]),
        Some(0.0)
    );
}

const QUERIES: &str = r#"
pg_custom:
  query: "SELECT datname, numbackends AS backends, 'on' AS flag FROM pg_stat_database WHERE datname IS NOT NULL"
  metrics:
    - datname:
        usage: "LABEL"
        description: "Database"
    - backends:
        usage: "GAUGE"
        description: "Backends per database"
    - flag:
        usage: "MAPPEDMETRIC"
        description: "A mapped flag"
        metric_mapping:
          "on": 1
pg_dupes:
  query: "SELECT 1 AS v UNION ALL SELECT 2"
  metrics:
    - v:
        usage: "GAUGE"
        description: "Two rows, no label to tell them apart"
pg_broken:
  query: "SELECT * FROM no_such_table"
  metrics:
    - x:
        usage: "GAUGE"
        description: "never"
"#;

#[test]
fn custom_queries_good_duplicate_and_failing() {
    let pg = Postgres::start(&[]);
    let file = TempFile::new("queries.yaml", QUERIES);
    let exporter = Exporter::start(&pg.superuser_dsn(), &["--extend.query-path", file.arg()]);
    let (status, body) = get(&exporter.url("/metrics"));
    assert_eq!(status, 200);
    assert!(
        value(
            &body,
            "pg_custom_backends",
            &[
                ("datname", "postgres"),
                ("server", &format!("127.0.0.1:{}", pg.port))
            ]
        )
        .unwrap()
            >= 1.0,
        "{body}"
    );
    assert_eq!(
        value(&body, "pg_custom_flag", &[("datname", "template1")]),
        Some(1.0)
    );
    assert_eq!(success(&body, "pg_custom"), Some(1.0));
    assert_eq!(success(&body, "pg_dupes"), Some(0.0));
    assert!(!body.contains("pg_dupes_v"));
    assert_eq!(success(&body, "pg_broken"), Some(0.0));
    // Everything else is unaffected.
    assert_eq!(success(&body, "stat_database"), Some(1.0));
    assert_eq!(value(&body, "pg_up", &[]), Some(1.0));
    assert_eq!(
        value(&body, "pg_exporter_user_queries_load_error", &[]),
        Some(0.0)
    );
    let log = exporter.log_text();
    assert!(
        log.contains("pg_dupes") && log.contains("more than once"),
        "{log}"
    );
    assert!(log.contains("no_such_table"), "{log}");
}

#[test]
fn auto_discovery_picks_up_a_database_created_during_the_run() {
    let pg = Postgres::start(&[]);
    let exporter = Exporter::start(
        &pg.superuser_dsn(),
        &[
            "--auto-discover-databases",
            "--exclude-databases",
            "skipped",
            "--collector.stat_user_tables",
        ],
    );
    let body = exporter.scrape();
    assert_eq!(success(&body, "stat_user_tables"), Some(1.0));
    assert!(!body.contains("datname=\"appdb\""));
    pg.psql("CREATE DATABASE appdb");
    pg.psql("CREATE DATABASE skipped");
    pg.psql_db(
        "appdb",
        "CREATE TABLE orders (id int); INSERT INTO orders VALUES (1), (2)",
    );
    pg.psql_db("skipped", "CREATE TABLE hidden (id int)");
    let body = wait_for(
        "appdb tables in the scrape",
        Duration::from_secs(20),
        || {
            let b = exporter.scrape();
            b.contains("relname=\"orders\"").then_some(b)
        },
    );
    assert!(value(
        &body,
        "pg_stat_user_tables_n_tup_ins",
        &[
            ("datname", "appdb"),
            ("schemaname", "public"),
            ("relname", "orders")
        ]
    )
    .is_some());
    assert!(!body.contains("hidden"), "excluded database was scraped");
    assert!(value(&body, "pg_database_size_bytes", &[("datname", "appdb")]).is_some());
    // A dropped database is forgotten without errors.
    pg.psql("DROP DATABASE appdb WITH (FORCE)");
    let body = exporter.scrape();
    assert_eq!(success(&body, "stat_user_tables"), Some(1.0));
    assert!(!body.contains("relname=\"orders\""));
}

fn tls_server() -> (Postgres, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    // The server needs its files before it starts: start, write, restart with ssl on.
    let mut pg = Postgres::start(&[]);
    pg.stop();
    let crt = pg.write_owned("server.crt", cert.pem().as_bytes(), 0o644);
    let keyfile = pg.write_owned("server.key", key.serialize_pem().as_bytes(), 0o600);
    let ca_file = pg.write_owned("ca.crt", ca.pem().as_bytes(), 0o644);
    std::fs::write(
        pg.data_dir().join("postgresql.auto.conf"),
        format!(
            "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
            crt.display(),
            keyfile.display()
        ),
    )
    .unwrap();
    pg.run();
    (pg, ca_file)
}

#[test]
fn tls_modes_with_a_generated_certificate() {
    let (pg, ca) = tls_server();
    let queries = TempFile::new(
        "q.yaml",
        "pg_conn:\n  query: \"SELECT ssl::int AS ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()\"\n  master: true\n  metrics:\n    - ssl:\n        usage: GAUGE\n        description: TLS in use\n",
    );
    let q = queries.arg();
    let port = pg.port;
    let ca = ca.display();
    let cases = [
        (format!("postgresql://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{port}/postgres?sslmode=require"), 1.0, Some(1.0)),
        (format!("postgresql://postgres:{SUPERUSER_PASSWORD}@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={ca}"), 1.0, Some(1.0)),
        (format!("host=127.0.0.1 port={port} user=postgres password={SUPERUSER_PASSWORD} dbname=postgres sslmode=verify-ca sslrootcert={ca}"), 1.0, Some(1.0)),
        // The certificate names localhost, not 127.0.0.1.
        (format!("postgresql://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{port}/postgres?sslmode=verify-full&sslrootcert={ca}"), 0.0, None),
        (format!("postgresql://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{port}/postgres?sslmode=disable"), 1.0, Some(0.0)),
        (format!("postgresql://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{port}/postgres"), 1.0, Some(1.0)),
    ];
    for (dsn, up, ssl) in cases {
        let exporter = Exporter::start(&dsn, &["--extend.query-path", q]);
        let body = exporter.scrape();
        assert_eq!(
            value(&body, "pg_up", &[]),
            Some(up),
            "{dsn}\n{}",
            exporter.log_text()
        );
        assert_eq!(value(&body, "pg_conn_ssl", &[]), ssl, "{dsn}");
        assert!(!exporter.log_text().contains(SUPERUSER_PASSWORD));
    }
}

/// `hostaddr` is where we connect, `host` the name TLS verifies; `channel_binding=require`
/// insists on SCRAM-SHA-256-PLUS, which only a TLS connection can give.
#[test]
fn hostaddr_and_channel_binding_behave_as_libpq() {
    let (pg, ca) = tls_server();
    let port = pg.port;
    let ca = ca.display();
    let auth = format!("port={port} user=postgres password={SUPERUSER_PASSWORD} dbname=postgres");
    let cases = [
        // The name does not resolve: only hostaddr can get us there.
        (format!("host=nonexistent.invalid hostaddr=127.0.0.1 {auth} sslmode=disable"), 1.0),
        (format!("postgresql://postgres:{SUPERUSER_PASSWORD}@nonexistent.invalid:{port}/postgres?hostaddr=127.0.0.1&sslmode=disable"), 1.0),
        // TLS checks the certificate against host (localhost), not against the address.
        (format!("host=localhost hostaddr=127.0.0.1 {auth} sslmode=verify-full sslrootcert={ca}"), 1.0),
        (format!("host=nonexistent.invalid hostaddr=127.0.0.1 {auth} sslmode=verify-full sslrootcert={ca}"), 0.0),
        // SCRAM-SHA-256-PLUS over TLS, whatever the certificate checks.
        (format!("host=127.0.0.1 {auth} sslmode=require channel_binding=require"), 1.0),
        (format!("host=localhost {auth} sslmode=verify-full sslrootcert={ca} channel_binding=require"), 1.0),
        (format!("host=127.0.0.1 {auth} sslmode=require channel_binding=disable"), 1.0),
    ];
    for (dsn, up) in cases {
        let exporter = Exporter::start(&dsn, &[]);
        let body = exporter.scrape();
        let log = exporter.log_text();
        assert_eq!(value(&body, "pg_up", &[]), Some(up), "{dsn}\n{log}");
        assert!(!log.contains(SUPERUSER_PASSWORD) && !body.contains(SUPERUSER_PASSWORD));
    }

    // Plain TCP has no channel to bind to: the connection fails, and the log says why.
    let dsn = format!("host=127.0.0.1 {auth} sslmode=disable channel_binding=require");
    let exporter = Exporter::start(&dsn, &[]);
    let body = exporter.scrape();
    assert_eq!(value(&body, "pg_up", &[]), Some(0.0), "{body}");
    let log = exporter.log_text();
    assert!(
        log.contains("server did not use channel binding")
            && log.contains(
                "channel_binding=require: the server must authenticate with SCRAM-SHA-256 over TLS"
            ),
        "{log}"
    );
    assert!(!log.contains(SUPERUSER_PASSWORD) && !body.contains(SUPERUSER_PASSWORD));
}

#[test]
fn probe_takes_credentials_from_auth_modules_only() {
    let pg = Postgres::start(&[]);
    pg.create_monitor_role();
    let config = TempFile::new(
        "postgres_exporter.yml",
        format!("auth_modules:\n  mon:\n    type: userpass\n    userpass:\n      username: monitor\n      password: {MONITOR_PASSWORD}\n    options:\n      sslmode: disable\n"),
    );
    // No DATA_SOURCE_NAME at all: a pure multi-target exporter.
    let exporter = Exporter::start_env(&[], &["--config.file", config.arg()]);
    let target = format!("127.0.0.1:{}/postgres", pg.port);
    let (status, body) = get(&exporter.url(&format!("/probe?target={target}&auth_module=mon")));
    assert_eq!(status, 200, "{body}");
    assert_eq!(value(&body, "pg_up", &[]), Some(1.0), "{body}");
    assert!(value(
        &body,
        "pg_database_size_bytes",
        &[
            ("datname", "postgres"),
            ("server", &format!("127.0.0.1:{}", pg.port))
        ]
    )
    .is_some());
    assert!(!body.contains("process_cpu_seconds_total"));
    let (status, _) = get(&exporter.url("/probe"));
    assert_eq!(status, 400);
    let (status, msg) = get(&exporter.url(&format!(
        "/probe?target=monitor:{MONITOR_PASSWORD}@{target}"
    )));
    assert_eq!(status, 400);
    assert!(!msg.contains(MONITOR_PASSWORD), "{msg}");
    let (status, msg) = get(&exporter.url(&format!("/probe?target={target}&auth_module=nope")));
    assert_eq!((status, msg.contains("nope")), (400, true));
    // A server that is not there: 200 with pg_up 0.
    let (status, body) = get(&exporter.url("/probe?target=127.0.0.1:1/postgres&auth_module=mon"));
    assert_eq!((status, value(&body, "pg_up", &[])), (200, Some(0.0)));
    let (_, metrics) = get(&exporter.url("/metrics"));
    assert!(!metrics.contains("pg_up 1"));
    assert!(!exporter.log_text().contains(MONITOR_PASSWORD));
}

#[test]
fn opt_in_collectors_and_a_missing_extension() {
    let pg = Postgres::start(&["shared_preload_libraries=pg_stat_statements"]);
    pg.psql("CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 100)");
    let args = [
        "--collector.stat_statements",
        "--collector.wal",
        "--collector.long_running_transactions",
        "--collector.stat_user_tables",
        "--collector.statio_user_tables",
    ];
    // Without the extension: that collector is skipped quietly, the others work.
    let exporter = Exporter::start(&pg.superuser_dsn(), &args);
    let body = exporter.scrape();
    assert_eq!(success(&body, "stat_statements"), Some(0.0));
    for c in [
        "wal",
        "long_running_transactions",
        "stat_user_tables",
        "statio_user_tables",
    ] {
        assert_eq!(success(&body, c), Some(1.0), "{c}");
    }
    assert!(
        !exporter.log_text().contains("level=error"),
        "{}",
        exporter.log_text()
    );
    assert!(value(&body, "pg_wal_segments", &[]).unwrap() >= 1.0);
    assert!(value(&body, "pg_long_running_transactions", &[]).is_some());
    assert_eq!(
        value(
            &body,
            "pg_stat_user_tables_n_tup_ins",
            &[("relname", "t"), ("datname", "postgres")]
        ),
        Some(100.0)
    );
    assert!(value(
        &body,
        "pg_statio_user_tables_heap_blocks_hit",
        &[("relname", "t")]
    )
    .is_some());
    drop(exporter);
    // With it.
    pg.psql("CREATE EXTENSION pg_stat_statements");
    pg.psql("SELECT count(*) FROM t");
    let exporter = Exporter::start(&pg.superuser_dsn(), &args);
    let body = exporter.scrape();
    assert_eq!(
        success(&body, "stat_statements"),
        Some(1.0),
        "{}",
        exporter.log_text()
    );
    assert!(body.contains(
        "pg_stat_statements_calls_total{user=\"postgres\",datname=\"postgres\",queryid="
    ));
}

#[test]
fn several_data_sources_are_told_apart_by_server() {
    let pg = Postgres::start(&[]);
    let a = pg.superuser_dsn();
    let b = format!(
        "host=localhost port={} user=postgres password={SUPERUSER_PASSWORD} dbname=postgres sslmode=disable",
        pg.port
    );
    let exporter = Exporter::start(&format!("{a},{b}"), &["--constantLabels", "env=test"]);
    let body = exporter.scrape();
    for server in [
        format!("127.0.0.1:{}", pg.port),
        format!("localhost:{}", pg.port),
    ] {
        assert_eq!(
            value(&body, "pg_up", &[("server", &server), ("env", "test")]),
            Some(1.0),
            "{body}"
        );
        assert!(value(
            &body,
            "pg_database_size_bytes",
            &[("server", &server), ("datname", "postgres")]
        )
        .is_some());
    }
    assert_eq!(
        value(&body, "pg_exporter_scrapes_total", &[("env", "test")]),
        Some(1.0)
    );
}
