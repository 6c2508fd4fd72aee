//! Helpers for the tests: the PostgreSQL server lives in exporter-core's testkit; our exporter
//! as a child process lives here.

#![allow(dead_code)]

#[allow(
    unused_imports,
    reason = "the test binaries without a server (cli) use none of it"
)]
pub(crate) use exporter_core::testkit::postgres::*;

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use exporter_core::testkit::{free_port, ChildGuard};

/// The binary under test.
pub(crate) const EXPORTER: &str = env!("CARGO_BIN_EXE_postgres-exporter");

/// A file written for one test (a queries file, a config file) in a temp dir of its own, removed
/// on drop.
pub(crate) struct TempFile {
    pub(crate) path: PathBuf,
    _dir: tempfile::TempDir,
}

impl TempFile {
    /// `name` holding `contents`.
    pub(crate) fn new(name: &str, contents: impl AsRef<[u8]>) -> TempFile {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        TempFile { path, _dir: dir }
    }

    /// The path, as a flag's value.
    pub(crate) fn arg(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

/// Our exporter as a child process, killed on drop; its log goes to a file we can read.
pub(crate) struct Exporter {
    pub(crate) guard: ChildGuard,
    pub(crate) port: u16,
    pub(crate) log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Exporter {
    pub(crate) fn start(dsn: &str, args: &[&str]) -> Exporter {
        Self::start_env(&[("DATA_SOURCE_NAME", dsn)], args)
    }

    pub(crate) fn start_env(env: &[(&str, &str)], args: &[&str]) -> Exporter {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("exporter.log");
        let port = free_port();
        let mut cmd = Command::new(EXPORTER);
        cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(args)
            .env_remove("DATA_SOURCE_NAME")
            .env_remove("DATA_SOURCE_URI")
            .stdout(Stdio::null())
            .stderr(Stdio::from(File::create(&log).unwrap()));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let guard = ChildGuard::spawn("postgres-exporter", &mut cmd);
        let e = Exporter {
            guard,
            port,
            log,
            _dir: dir,
        };
        exporter_core::testkit::wait_http(&e.url("/-/healthy"), Duration::from_secs(20));
        e
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub(crate) fn scrape(&self) -> String {
        get(&self.url("/metrics")).1
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// GET returning (status, body), whatever the status.
pub(crate) use exporter_core::testkit::http_get_status as get;

/// A sample's value in an exposition, by name and some of its labels.
pub(crate) fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    exporter_core::testkit::sample_value(text, name, labels)
}

/// `pg_scrape_collector_success{collector}`.
pub(crate) fn success(text: &str, collector: &str) -> Option<f64> {
    value(
        text,
        "pg_scrape_collector_success",
        &[("collector", collector)],
    )
}
