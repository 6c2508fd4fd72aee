//! The binary's contract: bad flags fail at start-up naming the culprit (never echoing a
//! password); an unreachable broker still gets HTTP 200 with `celery_up 0`; rediss:// with AUTH,
//! a password file and a database number works end to end.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use exporter_core::testkit::pki::TestPki;
use exporter_core::testkit::{check_port_in_use, check_unknown_flag_and_version};

fn run_to_exit(args: &[&str]) -> (i32, String) {
    exporter_core::testkit::run_to_exit(
        Command::new(BIN).args(args).env_remove("CELERY_BROKER_URL"),
    )
}

#[test]
fn unknown_flag_is_rejected_and_version_names_the_program() {
    check_unknown_flag_and_version(run_to_exit, "--no-such-flag", "celery_exporter");
}

#[test]
fn port_in_use_is_a_clear_error() {
    check_port_in_use(run_to_exit);
}

#[test]
fn help_lists_the_flags() {
    let (code, out) = run_to_exit(&["--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--broker-url",
        "--broker-password-file",
        "--broker-transport-option",
        "--queues",
        "--enable-events",
        "--worker-timeout",
        "--purge-offline-worker-metrics",
        "--max-tasks",
        "--buckets",
        "--queue-wait-buckets",
        "--flower-metrics",
        "--metrics",
        "--rabbitmq-management-url",
        "--event-queue-ttl",
        "--web.listen-address",
    ] {
        assert!(out.contains(flag), "{flag} missing from --help");
    }
}

#[test]
fn bad_settings_name_the_flag_and_hide_the_password() {
    for (args, want) in [
        (
            &["--broker-url", "amqp://guest:hunter2@h:0//"][..],
            "--broker-url",
        ),
        (&["--broker-url", "redis://:hunter2@h:0/0"], "invalid port"),
        (
            &["--broker-transport-option", "fanout_patterns=sometimes"],
            "fanout_patterns",
        ),
        (
            &["--broker-transport-option", "colour=blue"],
            "unknown key \"colour\"",
        ),
        (&["--buckets", "1,0.5"], "--buckets"),
        (&["--max-tasks", "0"], "--max-tasks"),
        (&["--worker-timeout", "0"], "--worker-timeout"),
        (
            &["--broker-url", "amqp://guest:hunter2@h//?bogus=1"],
            "bogus",
        ),
        (&["--metrics", "ours,celery-exporter"], "--metrics"),
        (
            &["--rabbitmq-management-url", "http://u:hunter2@h:15672"],
            "--rabbitmq-management-url",
        ),
    ] {
        let (code, out) = run_to_exit(args);
        assert_eq!(code, 1, "{args:?}: {out}");
        assert!(out.contains(want), "{args:?}: {out}");
        assert!(!out.contains("hunter2"), "{args:?}: {out}");
    }
    let (code, out) = run_to_exit(&[
        "--broker-url",
        "redis://h/0",
        "--web.config.file",
        "/nonexistent.yml",
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("nonexistent.yml"), "{out}");
}

#[test]
fn unreachable_broker_answers_200_with_up_0_and_never_logs_the_password() {
    let closed = free_port();
    let exporter = Exporter::start(
        &format!("redis://:hunter2@127.0.0.1:{closed}/0"),
        &["--enable-events", "--enable-events-interval", "100ms"],
    );
    std::thread::sleep(Duration::from_millis(1500));
    let text = exporter.scrape();
    assert_eq!(sample_value(&text, "celery_up", &[]), Some(0.0));
    assert_eq!(sample_value(&text, "celery_workers", &[]), Some(0.0));
    assert_eq!(collector_success(&text, "queues"), Some(0.0));
    assert_eq!(collector_success(&text, "events"), Some(1.0));
    let log = exporter.log_text();
    assert!(log.contains("cannot subscribe"), "{log}");
    assert!(
        !log.contains("hunter2") && !text.contains("hunter2"),
        "{log}"
    );
    assert_promtool_clean(&text);
}

#[test]
fn rediss_with_auth_password_file_and_database() {
    let pki = TestPki::new("celery-exporter test CA");
    let tls_port = free_port();
    let mut args = pki.redis_server_tls_args(tls_port, &["localhost", "127.0.0.1"], false);
    args.extend(["--requirepass".to_string(), "s3cret-pw".to_string()]);
    let redis = Redis::start_with(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let pw_dir = tempfile::tempdir().unwrap();
    let pw_file = pw_dir.path().join("password");
    std::fs::write(&pw_file, "s3cret-pw\n").unwrap();
    // The URL's password is wrong on purpose: the file's wins.
    let exporter = Exporter::start(
        &format!(
            "rediss://:wrong@127.0.0.1:{tls_port}/3?ssl_cert_reqs=required&ssl_ca_certs={}",
            pki.ca()
        ),
        &[
            "--broker-password-file",
            pw_file.to_str().unwrap(),
            "--queues",
            "tasks",
        ],
    );
    exporter.wait_value("celery_up", &[], 1.0, Duration::from_secs(20));

    // A real captured heartbeat, published on database 3's event channel.
    let fixture = include_str!("fixtures/celery-5.4.0-events.jsonl");
    let heartbeat = fixture
        .lines()
        .find(|l| l.contains("worker.heartbeat"))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(heartbeat).unwrap();
    let payload = v["data"].as_str().unwrap();
    let replies = redis_cmds(
        redis.port,
        &[
            &[b"AUTH", b"s3cret-pw"],
            &[
                b"PUBLISH",
                b"/3.celeryev/worker.heartbeat",
                payload.as_bytes(),
            ],
            &[b"SELECT", b"3"],
            &[b"RPUSH", b"tasks", b"m1", b"m2"],
            &[b"RPUSH", b"tasks\x06\x166", b"m3"],
        ],
    );
    assert_eq!(replies[1], b":1\r\n", "one subscriber: the exporter");
    exporter.wait_value("celery_workers", &[], 1.0, Duration::from_secs(10));
    exporter.wait_worker_up("w1@vm", 1.0, Duration::from_secs(1));
    exporter.wait_value(
        "celery_queue_length",
        &[("queue", "tasks")],
        3.0,
        Duration::from_secs(10),
    );
    let log = exporter.log_text();
    assert!(!log.contains("s3cret") && !log.contains("wrong"), "{log}");
}
