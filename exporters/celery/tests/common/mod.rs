//! Real servers for the tests: redis-server, a Celery worker and client from a venv, and the
//! exporter binary, each on loopback, in temp dirs, stopped by drop guards.

#![allow(dead_code)]
#![allow(
    unsafe_code,
    reason = "libc::kill signals the process groups these tests start (SIGTERM, SIGKILL)"
)]

pub(crate) mod rabbitmq;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) use exporter_core::testkit::{free_port, http_get, sample_value, wait_for, ChildGuard};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_celery-exporter");

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn app_dir() -> PathBuf {
    workspace_root().join("tests/celery")
}

/// The venv with the pinned Celery (see `testkit::celery_venv`).
pub(crate) fn venv() -> PathBuf {
    exporter_core::testkit::celery_venv(&workspace_root())
}

/// A process group, SIGKILLed as a whole when dropped (a prefork worker's children included).
pub(crate) struct Group {
    pub(crate) child: Child,
    pub(crate) name: String,
    pub(crate) log: PathBuf,
}

impl Group {
    pub(crate) fn spawn(name: &str, cmd: &mut Command, log: PathBuf) -> Group {
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Group {
            child,
            name: name.into(),
            log,
        }
    }

    pub(crate) fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub(crate) fn signal_leader(&self, sig: i32) {
        // SAFETY: plain syscall on a pid this test started.
        unsafe { libc::kill(self.pid(), sig) };
    }

    pub(crate) fn kill_group(&mut self) {
        // SAFETY: the group was created by `spawn` (process_group(0): pgid == pid).
        unsafe { libc::kill(-self.pid(), libc::SIGKILL) };
        let _ = self.child.wait();
    }

    /// Waits for the leader to exit.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill_group();
    }
}

/// Sends one command on a fresh connection and returns the raw reply (tests only).
pub(crate) fn redis_cmd(port: u16, args: &[&[u8]]) -> Vec<u8> {
    redis_cmds(port, &[args]).pop().unwrap()
}

/// Sends commands on one connection (AUTH first, say) and returns each raw reply.
pub(crate) fn redis_cmds(port: u16, commands: &[&[&[u8]]]) -> Vec<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = Vec::new();
    for args in commands {
        celery_exporter::resp::encode_command(args, &mut out);
    }
    s.write_all(&out).unwrap();
    let mut buf = Vec::new();
    let mut replies = Vec::new();
    let mut chunk = vec![0; 4096];
    while replies.len() < commands.len() {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "redis closed the connection");
        buf.extend_from_slice(&chunk[..n]);
        while let Ok(Some((_, used))) = celery_exporter::resp::parse(&buf) {
            replies.push(buf.drain(..used).collect());
        }
    }
    replies
}

pub(crate) struct Redis {
    pub(crate) port: u16,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) server: Option<ChildGuard>,
    extra: Vec<String>,
}

impl Redis {
    pub(crate) fn start() -> Redis {
        Self::start_with(&[])
    }

    pub(crate) fn start_with(extra: &[&str]) -> Redis {
        let mut r = Redis {
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            server: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        r.launch();
        r
    }

    fn launch(&mut self) {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--port", &self.port.to_string()])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.server = Some(ChildGuard::spawn("redis-server", &mut cmd));
        let port = self.port;
        // Any reply will do (-NOAUTH with requirepass): the server is up.
        wait_for("redis-server", Duration::from_secs(10), || {
            TcpStream::connect(("127.0.0.1", port))
                .ok()
                .filter(|_| !redis_cmd(port, &[b"PING"]).is_empty())
        });
    }

    pub(crate) fn stop(&mut self) {
        self.server = None;
    }

    pub(crate) fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

/// The exporter binary on a free port, logging to a file of its temp dir.
pub(crate) struct Exporter {
    pub(crate) port: u16,
    pub(crate) proc: Group,
    _dir: tempfile::TempDir,
}

impl Exporter {
    pub(crate) fn start(broker_url: &str, extra: &[&str]) -> Exporter {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let proc = Group::spawn(
            "celery-exporter",
            Command::new(BIN)
                .args(["--broker-url", broker_url])
                .args(["--web.listen-address", &format!("127.0.0.1:{port}")])
                .args(["--log.level", "debug"])
                .args(extra),
            dir.path().join("exporter.log"),
        );
        let e = Exporter {
            port,
            proc,
            _dir: dir,
        };
        wait_for("celery-exporter", Duration::from_secs(20), || {
            e.try_scrape()
        });
        e
    }

    pub(crate) fn log_text(&self) -> String {
        self.proc.log_text()
    }

    pub(crate) fn try_scrape(&self) -> Option<String> {
        http_get(&format!("http://127.0.0.1:{}/metrics", self.port))
    }

    pub(crate) fn scrape(&self) -> String {
        self.try_scrape().expect("scrape failed")
    }

    pub(crate) fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        sample_value(&self.scrape(), name, labels)
    }

    /// Polls until `celery_tasks_total` of task `name` in `state` on queue `celery` is `want`.
    pub(crate) fn wait_tasks(&self, name: &str, state: &str, want: f64, timeout: Duration) {
        let labels = task_labels(name, state);
        self.wait_value("celery_tasks_total", &labels, want, timeout);
    }

    /// Polls until `celery_worker_up` of worker `hostname` is `want` (1 up, 0 down).
    pub(crate) fn wait_worker_up(&self, hostname: &str, want: f64, timeout: Duration) {
        self.wait_value("celery_worker_up", &[("hostname", hostname)], want, timeout);
    }

    /// After a broker restart: polls until `celery_up` is 1 again and checks the reconnect was
    /// counted.
    pub(crate) fn wait_reconnected(&self, timeout: Duration) {
        self.wait_value("celery_up", &[], 1.0, timeout);
        let reconnects = self.value("celery_exporter_broker_reconnects_total", &[]);
        assert!(
            reconnects.is_some_and(|n| n >= 1.0),
            "reconnects: {reconnects:?}"
        );
    }

    /// Polls until the sample equals `want`; panics with the last exposition otherwise.
    pub(crate) fn wait_value(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        want: f64,
        timeout: Duration,
    ) {
        let start = Instant::now();
        loop {
            let text = self.scrape();
            if sample_value(&text, name, labels) == Some(want) {
                return;
            }
            if start.elapsed() > timeout {
                let lines: Vec<&str> = text
                    .lines()
                    .filter(|l| l.starts_with("celery_") && !l.contains("_bucket"))
                    .collect();
                let log = self.log_text();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                panic!(
                    "{name}{labels:?} never became {want} (now {:?}) within {timeout:?}:\n{}\nexporter log (last lines first):\n{}",
                    sample_value(&text, name, labels),
                    lines.join("\n"),
                    tail.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Environment of every Celery process of a test.
pub(crate) struct CeleryEnv {
    pub(crate) broker_url: String,
    pub(crate) keyprefix: Option<String>,
    pub(crate) dir: tempfile::TempDir,
}

impl CeleryEnv {
    pub(crate) fn new(broker_url: &str) -> CeleryEnv {
        CeleryEnv {
            broker_url: broker_url.into(),
            keyprefix: None,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(venv().join("bin").join(program));
        cmd.current_dir(self.dir.path())
            .env("CELERY_BROKER_URL", &self.broker_url)
            .env("PYTHONPATH", app_dir())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env_remove("CELERY_GLOBAL_KEYPREFIX");
        if let Some(p) = &self.keyprefix {
            cmd.env("CELERY_GLOBAL_KEYPREFIX", p);
        }
        cmd
    }

    /// A prefork worker named `name@test`; `args` adds -E, -c, --heartbeat-interval, ...
    pub(crate) fn worker(&self, name: &str, args: &[&str]) -> Group {
        let mut cmd = self.command("celery");
        cmd.args(["-A", "app", "worker", "-P", "prefork", "--loglevel=INFO"])
            .args(["-n", &format!("{name}@test")])
            .args(["--without-gossip", "--without-mingle"])
            .args(args);
        Group::spawn(
            &format!("celery worker {name}"),
            &mut cmd,
            self.dir.path().join(format!("worker-{name}.log")),
        )
    }

    /// Runs Python with the app imported as `app` (task_send_sent_event=True) and waits.
    pub(crate) fn client(&self, code: &str) {
        let out = self
            .command("python")
            .args(["-c", &format!("import app\n{code}")])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "client failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The labels of `celery_tasks_total` for task `name` in `state` on the default queue `celery`.
pub(crate) fn task_labels<'a>(name: &'a str, state: &'a str) -> [(&'a str, &'a str); 3] {
    [("name", name), ("state", state), ("queue", "celery")]
}

/// A fresh Redis broker, the exporter on it (started with `args`) and a Celery environment on
/// it, bound in that order so that they drop in reverse: the Celery processes first, the broker
/// last.
pub(crate) fn on_redis(args: &[&str]) -> (Redis, Exporter, CeleryEnv) {
    let redis = Redis::start();
    let exporter = Exporter::start(&redis.url(), args);
    let celery = CeleryEnv::new(&redis.url());
    (redis, exporter, celery)
}

/// `celery_scrape_collector_success{collector}` in the exposition `text`: whether that collector
/// (`queues` or `events`) succeeded.
pub(crate) fn collector_success(text: &str, collector: &str) -> Option<f64> {
    sample_value(
        text,
        "celery_scrape_collector_success",
        &[("collector", collector)],
    )
}

/// `promtool check metrics` findings about our names (empty when clean, or when promtool is
/// not installed: the CI image has it).
pub(crate) fn promtool_findings(text: &str) -> Option<String> {
    exporter_core::testkit::promtool_check_metrics(text).map(|(_, findings)| findings)
}

/// Fails on any `promtool check metrics` finding (passes when promtool is not installed).
pub(crate) fn assert_promtool_clean(text: &str) {
    if let Some(findings) = promtool_findings(text) {
        assert!(
            findings.trim().is_empty(),
            "promtool check metrics:\n{findings}"
        );
    }
}
