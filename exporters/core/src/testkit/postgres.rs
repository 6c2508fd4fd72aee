//! A real PostgreSQL 15 for tests: initdb into a temp dir (scram-sha-256), started on a free
//! loopback port, stopped when the guard drops (also when the test fails). As root (CI), the
//! server runs as `nobody` through setpriv, because PostgreSQL refuses to run as root.
#![allow(
    unsafe_code,
    reason = "test servers are stopped with kill(2) on their own process ids"
)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, wait_for};

pub(crate) const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
/// The `postgres` superuser's password on every test server; distinctive, so that a test can
/// check it never shows in an exporter's output or log.
pub const SUPERUSER_PASSWORD: &str = "Sup3r-s3cret-pw";
/// The password of the `monitor` role [`Postgres::create_monitor_role`] makes; also one that
/// must never show.
pub const MONITOR_PASSWORD: &str = "m0nitor-pw-xyz";

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn id_of(flag: &str) -> u32 {
    let out = Command::new("id")
        .args([flag, "nobody"])
        .output()
        .expect("id");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("uid of nobody")
}

/// A command that runs as the unprivileged owner of the data directory when we are root.
fn as_owner(program: &str) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            &format!("--reuid={}", id_of("-u")),
            &format!("--regid={}", id_of("-g")),
            "--clear-groups",
            program,
        ]);
        c
    } else {
        Command::new(program)
    }
}

fn give_to_owner(path: &Path) {
    if is_root() {
        let status = Command::new("chown")
            .args(["-R", &format!("{}:{}", id_of("-u"), id_of("-g"))])
            .arg(path)
            .status()
            .expect("chown");
        assert!(status.success(), "chown {}", path.display());
    }
}

/// Runs `cmd` (named `what` in a failure) to its end and returns its stdout; a failure to start
/// or a non-zero exit fails the test with its stderr.
fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One test server: a temp dir holding its data directory, the port it listens on, and the
/// running process, stopped (fast shutdown) when dropped.
pub struct Postgres {
    pub(crate) dir: tempfile::TempDir,
    /// The port it listens on, on 127.0.0.1; kept when the server is stopped and run again.
    pub port: u16,
    extra: Vec<String>,
    server: Option<Child>,
}

impl Postgres {
    fn owned_temp_dir() -> tempfile::TempDir {
        assert!(
            Path::new(PG_BIN).join("postgres").exists(),
            "PostgreSQL 15 is not installed (apt-get install postgresql)"
        );
        let dir = tempfile::Builder::new()
            .prefix("pgtest")
            .tempdir_in("/tmp")
            .expect("temp dir");
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        give_to_owner(dir.path());
        dir
    }

    /// Starts a server on the data directory under `dir` with the `-c` settings `extra`.
    fn run_in(dir: tempfile::TempDir, extra: Vec<String>) -> Postgres {
        let mut pg = Postgres {
            dir,
            port: free_port(),
            extra,
            server: None,
        };
        pg.run();
        pg
    }

    /// initdb and start. `extra` are `-c name=value` settings.
    pub fn start(extra: &[&str]) -> Postgres {
        let dir = Self::owned_temp_dir();
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, SUPERUSER_PASSWORD).unwrap();
        give_to_owner(&pwfile);
        let mut initdb = as_owner(&format!("{PG_BIN}/initdb"));
        initdb
            .arg("-D")
            .arg(dir.path().join("data"))
            .args(["-U", "postgres", "--auth=scram-sha-256", "--no-sync"])
            .args(["-E", "UTF8"])
            .arg(format!("--pwfile={}", pwfile.display()));
        run_ok(&mut initdb, "initdb");
        Self::run_in(dir, extra.iter().map(|s| s.to_string()).collect())
    }

    /// A streaming standby of `primary` (pg_basebackup -R) using the physical slot `slot`.
    pub fn standby_of(primary: &Postgres, slot: &str) -> Postgres {
        let dir = Self::owned_temp_dir();
        let port = primary.port.to_string();
        let mut basebackup = as_owner(&format!("{PG_BIN}/pg_basebackup"));
        basebackup
            .arg("-D")
            .arg(dir.path().join("data"))
            .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres"])
            .args(["-R", "-X", "stream", "-S", slot, "--no-sync"])
            .env("PGPASSWORD", SUPERUSER_PASSWORD);
        run_ok(&mut basebackup, "pg_basebackup");
        Self::run_in(dir, vec!["hot_standby=on".into()])
    }

    /// The cluster's data directory, e.g. to write `postgresql.auto.conf` before a
    /// [`run`](Self::run).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Writes a file the server can read (certificates, keys), owned by the server's user.
    pub fn write_owned(&self, name: &str, contents: &[u8], mode: u32) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, contents).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
        give_to_owner(&p);
        p
    }

    /// Starts the server (again) on the same port and waits until it accepts connections.
    pub fn run(&mut self) {
        assert!(self.server.is_none(), "already running");
        let log = File::create(self.dir.path().join(format!("server-{}.log", self.port))).unwrap();
        let mut cmd = as_owner(&format!("{PG_BIN}/postgres"));
        cmd.arg("-D")
            .arg(self.data_dir())
            .arg("-k")
            .arg(self.dir.path())
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-p",
                &self.port.to_string(),
            ])
            .args(["-c", "fsync=off", "-c", "shared_buffers=16MB"]);
        for e in &self.extra {
            cmd.args(["-c", e]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start postgres");
        self.server = Some(child);
        let port = self.port.to_string();
        wait_for(
            "PostgreSQL to accept connections",
            Duration::from_secs(60),
            || {
                if let Some(Ok(Some(status))) = self.server.as_mut().map(|c| c.try_wait()) {
                    panic!(
                        "postgres exited with {status}: {}",
                        std::fs::read_to_string(
                            self.dir.path().join(format!("server-{}.log", self.port))
                        )
                        .unwrap_or_default()
                    );
                }
                let ok = Command::new(format!("{PG_BIN}/pg_isready"))
                    .args(["-q", "-h", "127.0.0.1", "-p", &port, "-t", "1"])
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false);
                ok.then_some(())
            },
        );
    }

    /// Fast shutdown (SIGINT), waiting for the server to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.server.take() {
            // SAFETY: signals our own child, which has not been reaped yet.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGINT);
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Runs SQL as the superuser (psql over TCP), returning the unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        self.psql_db("postgres", sql)
    }

    /// [`psql`](Self::psql) in database `db`. An SQL error fails the test.
    pub fn psql_db(&self, db: &str, sql: &str) -> String {
        run_ok(
            Command::new(format!("{PG_BIN}/psql"))
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                    "-d",
                    db,
                ])
                .args(["-v", "ON_ERROR_STOP=1", "-AtX", "-c", sql])
                .env("PGPASSWORD", SUPERUSER_PASSWORD),
            &format!("psql {sql:?}"),
        )
        .trim()
        .to_string()
    }

    /// A URL for `user` with `password` on this server's `postgres` database, without TLS.
    pub fn dsn(&self, user: &str, password: &str) -> String {
        format!(
            "postgresql://{user}:{password}@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }

    /// [`dsn`](Self::dsn) of the `postgres` superuser.
    pub fn superuser_dsn(&self) -> String {
        self.dsn("postgres", SUPERUSER_PASSWORD)
    }

    /// A login role that has pg_monitor and nothing else.
    pub fn create_monitor_role(&self) -> String {
        self.psql(&format!(
            "CREATE ROLE monitor LOGIN PASSWORD '{MONITOR_PASSWORD}' IN ROLE pg_monitor"
        ));
        self.dsn("monitor", MONITOR_PASSWORD)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}
