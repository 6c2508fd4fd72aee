//! The binary's start-up contract: bad flags and files fail at once with a message naming the
//! culprit (and never a password); a Redis that is not there is no start-up error.

mod common;

use std::process::Command;

use common::{get, write, Exporter, OURS};
use exporter_core::testkit::{
    assert_fails_naming, check_port_in_use, check_unknown_flag_and_version, sample_value,
};

fn run_to_exit(args: &[&str]) -> (i32, String) {
    exporter_core::testkit::run_to_exit(
        Command::new(OURS)
            .args(args)
            .env_remove("REDIS_ADDR")
            .env_remove("REDIS_PASSWORD"),
    )
}

#[test]
fn unknown_flag_is_rejected_and_version_names_the_program() {
    check_unknown_flag_and_version(run_to_exit, "--no-such-flag", "redis_exporter");
    // Go-style single dash, as upstream's users write it.
    let (code, out) = run_to_exit(&["-version"]);
    assert_eq!(code, 0, "{out}");
}

/// Ours with `args` exits 1, its message naming each of `shown` and none of `hidden`.
#[track_caller]
fn fails_naming(args: &[&str], shown: &[&str], hidden: &[&str]) {
    assert_fails_naming(run_to_exit(args), shown, hidden);
}

#[test]
fn bad_address_names_the_flag_without_the_password() {
    let bad_scheme = ["--redis.addr", "http://user:hunter2@host:6379"];
    fails_naming(&bad_scheme, &["--redis.addr", "scheme"], &["hunter2"]);
    fails_naming(&["--redis.addr", "redis://h:notaport"], &["port"], &[]);
}

#[test]
fn bad_files_name_flag_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let pw = write(dir.path(), "pw.json", r#"{"redis://a": "topsecret",}"#);
    let not_pem = write(dir.path(), "ca.pem", "not a certificate");
    let (pw, not_pem) = (pw.to_str().unwrap(), not_pem.to_str().unwrap());
    // Arguments, what the message names, what it must not show.
    for (args, shown, hidden) in [
        (
            ["--redis.password-file", pw],
            &["--redis.password-file", "pw.json"][..],
            &["topsecret"][..],
        ),
        (
            ["--redis.password-file", "/nonexistent/pw.json"],
            &["/nonexistent/pw.json"],
            &[],
        ),
        (
            ["--tls-ca-cert-file", "/nonexistent/ca.pem"],
            &["--tls-ca-cert-file"],
            &[],
        ),
        (
            ["--tls-ca-cert-file", not_pem],
            &["--tls-ca-cert-file", "ca.pem"],
            &[],
        ),
        (
            ["--tls-client-cert-file", not_pem],
            &["--tls-client-key-file"],
            &[],
        ),
        (
            ["--script", "/nonexistent/s.lua"],
            &["--script /nonexistent/s.lua"],
            &[],
        ),
    ] {
        fails_naming(&args, shown, hidden);
    }
}

#[test]
fn bad_values_name_the_flag() {
    for (args, flag) in [
        (&["--namespace", "bad-ns"][..], "--namespace"),
        (&["--check-keys", "a=b=c"], "--check-keys"),
        (&["--count-keys", "dbx=*"], "--count-keys"),
        (&["--connection-timeout", "soon"], "--connection-timeout"),
        (&["--connection-timeout", "0s"], "--connection-timeout"),
    ] {
        let (code, out) = run_to_exit(args);
        assert_ne!(code, 0, "{args:?}");
        assert!(out.contains(flag), "{args:?}: {out}");
    }
}

#[test]
fn port_in_use_is_a_clear_error() {
    check_port_in_use(run_to_exit);
}

#[test]
fn starts_without_redis_and_serves_up_zero() {
    let exp = Exporter::scraping("redis://127.0.0.1:1", &["-redis-only-metrics"]);
    let (status, body) = get(&exp.url("/metrics"));
    assert_eq!(status, 200);
    assert_eq!(sample_value(&body, "redis_up", &[]), Some(0.0));
    assert!(!body.contains("process_cpu_seconds_total"), "{body}");
    assert!(!body.contains("redis_exporter_build_info"), "{body}");
    let (status, landing) = get(&exp.url("/"));
    assert_eq!(status, 200);
    assert!(
        landing.contains("Redis Exporter") && landing.contains("/scrape"),
        "{landing}"
    );
    assert_eq!(get(&exp.url("/-/healthy")).0, 200);
}
