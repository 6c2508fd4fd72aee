//! The binary's start-up contract: bad flags, data sources and files fail at once with a message
//! naming the culprit, and never print a password.

mod common;

use std::process::Command;

use common::{TempFile, EXPORTER};
use exporter_core::testkit::{assert_fails_naming, check_unknown_flag_and_version};

fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(EXPORTER);
    cmd.args(args)
        .args(["--web.listen-address", "127.0.0.1:0"])
        .env_remove("DATA_SOURCE_NAME")
        .env_remove("DATA_SOURCE_URI")
        .env_remove("DATA_SOURCE_NAME_FILE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    exporter_core::testkit::run_to_exit(&mut cmd)
}

/// The password the data sources of these tests carry: no message may print it.
const PASSWORD: &str = "Hunter2-pw";

/// Start-up fails (exit code 1) with a message naming every one of `names`, and not the password.
#[track_caller]
fn fails_naming(args: &[&str], env: &[(&str, &str)], names: &[&str]) {
    assert_fails_naming(run_to_exit(args, env), names, &[PASSWORD]);
}

/// A data source on a closed port, for the errors found before connecting.
const CLOSED: [(&str, &str); 1] = [("DATA_SOURCE_NAME", "postgresql://u@127.0.0.1:1/db")];

#[test]
fn unknown_flag_is_rejected_and_version_names_the_program() {
    check_unknown_flag_and_version(
        |args| run_to_exit(args, &[]),
        "--collector.nonexistent",
        "postgres_exporter",
    );
}

#[test]
fn help_opens_with_the_program_description() {
    // Not the `Flags` struct's doc comment, which clap's derive would make the about.
    let (code, out) = run_to_exit(&["--help"], &[]);
    assert_eq!(code, 0, "{out}");
    let first = out.lines().next();
    let about = "Prometheus exporter for PostgreSQL server metrics, drop-in for postgres_exporter.";
    assert_eq!(first, Some(about));
}

#[test]
fn no_data_source_is_a_clear_error() {
    fails_naming(&[], &[], &["DATA_SOURCE_NAME"]);
}

#[test]
fn bad_dsn_names_the_parameter_not_the_password() {
    let dsn = format!("postgresql://u:{PASSWORD}@h/db?sslmode=sometimes");
    fails_naming(&[], &[("DATA_SOURCE_NAME", &dsn)], &["sslmode"]);
}

#[test]
fn unreadable_password_file_names_the_variable() {
    let env = [
        ("DATA_SOURCE_URI", "h:5432/db"),
        ("DATA_SOURCE_PASS_FILE", "/nonexistent/pw"),
    ];
    fails_naming(&[], &env, &["DATA_SOURCE_PASS_FILE"]);
}

#[test]
fn bad_queries_file_names_the_query_and_column() {
    let file = TempFile::new(
        "queries.yaml",
        "pg_fine:\n  query: SELECT 1 AS one\n  metrics:\n    - one:\n        usage: GAUGE\n        description: One\npg_typo:\n  query: SELECT 1 AS x\n  metrics:\n    - x:\n        usage: GUAGE\n        description: X\n",
    );
    fails_naming(
        &["--extend.query-path", file.arg()],
        &CLOSED,
        &["pg_typo", "GUAGE", "queries.yaml"],
    );
    fails_naming(
        &["--extend.query-path", "/nonexistent/q.yaml"],
        &CLOSED,
        &["--extend.query-path"],
    );
}

#[test]
fn bad_config_file_names_the_key() {
    let file = TempFile::new(
        "postgres_exporter.yml",
        "auth_modules:\n  m:\n    type: kerberos\n",
    );
    let args = ["--config.file", file.arg()];
    fails_naming(&args, &[], &["auth_modules.m.type"]);
}

#[test]
fn bad_constant_labels_and_tls_files_are_start_up_errors() {
    let args = ["--constantLabels", "no-equals-sign"];
    fails_naming(&args, &CLOSED, &["--constantLabels"]);
    let dsn = format!(
        "postgresql://u:{PASSWORD}@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt"
    );
    fails_naming(&[], &[("DATA_SOURCE_NAME", &dsn)], &["sslrootcert"]);
}
