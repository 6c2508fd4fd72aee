//! The binary's start-up contract: bad flags, data sources and files fail at once with a message
//! naming the culprit, and never print a password.

use std::process::Command;

use exporter_core::testkit::check_unknown_flag_and_version;

const BIN: &str = env!("CARGO_BIN_EXE_postgres-exporter");

fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(BIN);
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
    let (code, out) = run_to_exit(&[], &[]);
    assert_eq!(code, 1);
    assert!(out.contains("DATA_SOURCE_NAME"), "{out}");
}

#[test]
fn bad_dsn_names_the_parameter_not_the_password() {
    let (code, out) = run_to_exit(
        &[],
        &[(
            "DATA_SOURCE_NAME",
            "postgresql://u:Hunter2-pw@h/db?sslmode=sometimes",
        )],
    );
    assert_eq!(code, 1);
    assert!(
        out.contains("sslmode") && !out.contains("Hunter2-pw"),
        "{out}"
    );
}

#[test]
fn unreadable_password_file_names_the_variable() {
    let (code, out) = run_to_exit(
        &[],
        &[
            ("DATA_SOURCE_URI", "h:5432/db"),
            ("DATA_SOURCE_PASS_FILE", "/nonexistent/pw"),
        ],
    );
    assert_eq!(code, 1);
    assert!(out.contains("DATA_SOURCE_PASS_FILE"), "{out}");
}

#[test]
fn bad_queries_file_names_the_query_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("queries.yaml");
    std::fs::write(
        &file,
        "pg_fine:\n  query: SELECT 1 AS one\n  metrics:\n    - one:\n        usage: GAUGE\n        description: One\npg_typo:\n  query: SELECT 1 AS x\n  metrics:\n    - x:\n        usage: GUAGE\n        description: X\n",
    )
    .unwrap();
    let (code, out) = run_to_exit(
        &["--extend.query-path", file.to_str().unwrap()],
        &[("DATA_SOURCE_NAME", "postgresql://u@127.0.0.1:1/db")],
    );
    assert_eq!(code, 1);
    assert!(
        out.contains("pg_typo") && out.contains("GUAGE") && out.contains("queries.yaml"),
        "{out}"
    );
    let (code, out) = run_to_exit(
        &["--extend.query-path", "/nonexistent/q.yaml"],
        &[("DATA_SOURCE_NAME", "postgresql://u@127.0.0.1:1/db")],
    );
    assert_eq!(code, 1);
    assert!(out.contains("--extend.query-path"), "{out}");
}

#[test]
fn bad_config_file_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("postgres_exporter.yml");
    std::fs::write(&file, "auth_modules:\n  m:\n    type: kerberos\n").unwrap();
    let (code, out) = run_to_exit(&["--config.file", file.to_str().unwrap()], &[]);
    assert_eq!(code, 1);
    assert!(out.contains("auth_modules.m.type"), "{out}");
}

#[test]
fn bad_constant_labels_and_tls_files_are_start_up_errors() {
    let dsn = [("DATA_SOURCE_NAME", "postgresql://u@127.0.0.1:1/db")];
    let (code, out) = run_to_exit(&["--constantLabels", "no-equals-sign"], &dsn);
    assert_eq!(code, 1);
    assert!(out.contains("--constantLabels"), "{out}");
    let (code, out) = run_to_exit(
        &[],
        &[(
            "DATA_SOURCE_NAME",
            "postgresql://u:Hunter2-pw@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt",
        )],
    );
    assert_eq!(code, 1);
    assert!(
        out.contains("sslrootcert") && !out.contains("Hunter2-pw"),
        "{out}"
    );
}
