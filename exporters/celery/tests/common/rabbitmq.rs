//! A real rabbitmq-server (Debian's package) for the tests: its own node name, Mnesia and log
//! directories in a temp dir, AMQP, management, distribution and epmd ports all free loopback
//! ports; stopped (node and its epmd) by a drop guard, never by process name.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, CeleryEnv, Exporter};

/// Where Debian installs the server's own scripts (the /usr/sbin wrapper switches user).
const RABBITMQ_BIN: &str = "/usr/lib/rabbitmq/bin";

pub(crate) struct RabbitMq {
    pub(crate) amqp_port: u16,
    pub(crate) management_port: u16,
    dist_port: u16,
    epmd_port: u16,
    node: String,
    pub(crate) dir: tempfile::TempDir,
    server: Option<Child>,
}

impl RabbitMq {
    /// Whether the package is installed (the tests that need it say so and pass otherwise
    /// only when `CELERY_TESTS_REQUIRE_RABBITMQ` is unset; CI sets it).
    pub(crate) fn available() -> bool {
        let there = std::path::Path::new(RABBITMQ_BIN)
            .join("rabbitmq-server")
            .exists();
        if !there && std::env::var_os("CELERY_TESTS_REQUIRE_RABBITMQ").is_some() {
            panic!("rabbitmq-server is not installed (apt-get install rabbitmq-server)");
        }
        there
    }

    pub(crate) fn start() -> RabbitMq {
        RabbitMq::start_with("")
    }

    /// With `extra` lines added to rabbitmq.conf (a TLS listener, ...).
    pub(crate) fn start_with(extra: &str) -> RabbitMq {
        let amqp_port = free_port();
        let mut r = RabbitMq {
            amqp_port,
            management_port: free_port(),
            dist_port: free_port(),
            epmd_port: free_port(),
            node: format!("exporter-test-{amqp_port}@localhost"),
            dir: tempfile::tempdir().unwrap(),
            server: None,
        };
        std::fs::write(
            r.dir.path().join("enabled_plugins"),
            "[rabbitmq_management].\n",
        )
        .unwrap();
        std::fs::write(
            r.dir.path().join("rabbitmq.conf"),
            format!(
                "listeners.tcp.default = 127.0.0.1:{}\n\
                 management.tcp.ip = 127.0.0.1\n\
                 management.tcp.port = {}\n\
                 # Statistics every second, so the management API follows the tests closely.\n\
                 collect_statistics_interval = 1000\n\
                 log.file.level = info\n\
                 {extra}\n",
                r.amqp_port, r.management_port
            ),
        )
        .unwrap();
        r.launch();
        r
    }

    fn env(&self, cmd: &mut Command) {
        let d = self.dir.path();
        cmd.env("HOME", d)
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.amqp_port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("ERL_EPMD_PORT", self.epmd_port.to_string())
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq"))
            .env("RABBITMQ_CONF_ENV_FILE", d.join("rabbitmq-env.conf"))
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", d.join("advanced.config"))
            .env("RABBITMQ_PID_FILE", d.join("rabbitmq.pid"))
            .env(
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                "-kernel inet_dist_use_interface {127,0,0,1}",
            );
    }

    fn launch(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("server.out")).unwrap();
        let mut cmd = Command::new(PathBuf::from(RABBITMQ_BIN).join("rabbitmq-server"));
        self.env(&mut cmd);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("cannot start rabbitmq-server");
        self.server = Some(child);
        // The AMQP listener opens last: once it answers the protocol header, the broker is up.
        let start = Instant::now();
        while !self.amqp_answers() {
            if start.elapsed() > Duration::from_secs(60) {
                panic!(
                    "rabbitmq-server did not start within 60 s:\n{}",
                    self.log_tail()
                );
            }
            if let Some(c) = self.server.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!("rabbitmq-server exited ({status}):\n{}", self.log_tail());
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        // And the management listener, when a test asks for it.
        let start = Instant::now();
        while self.management_get("/api/overview").is_none() {
            if start.elapsed() > Duration::from_secs(30) {
                panic!("management API did not start:\n{}", self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn amqp_answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.amqp_port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"AMQP\x00\x00\x09\x01").is_err() {
            return false;
        }
        let mut b = [0u8; 1];
        // connection.start is a method frame (type 1).
        matches!(s.read(&mut b), Ok(1) if b[0] == 1)
    }

    pub(crate) fn log_tail(&self) -> String {
        let mut text =
            std::fs::read_to_string(self.dir.path().join("server.out")).unwrap_or_default();
        if let Ok(entries) = std::fs::read_dir(self.dir.path().join("log")) {
            for e in entries.flatten() {
                text.push_str(&format!("\n--- {}\n", e.path().display()));
                text.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// Stops the node (SIGTERM, then SIGKILL after 20 s) and reaps it; the data stays, so
    /// [`start_again`](Self::start_again) brings the same broker back.
    pub(crate) fn stop(&mut self) {
        let Some(mut child) = self.server.take() else {
            return;
        };
        let pgid = child.id() as i32;
        // SAFETY: signals to the process group this guard started (process_group(0)).
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        let start = Instant::now();
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if start.elapsed() > Duration::from_secs(20) {
                // SAFETY: as above.
                unsafe { libc::kill(-pgid, libc::SIGKILL) };
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // The Erlang VM is a child of the wrapper script, in the same group: gone with it, or
        // killed now if it outlived the script.
        // SAFETY: as above; ESRCH when nothing is left.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let wait = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.amqp_port)).is_ok()
            && wait.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn start_again(&mut self) {
        assert!(self.server.is_none(), "already running");
        self.launch();
    }

    /// epmd daemonizes out of our process group: ask it to exit (it refuses while a node is
    /// registered; the node is stopped first).
    fn stop_epmd(&self) {
        let _ = Command::new("epmd")
            .args(["-port", &self.epmd_port.to_string(), "-kill"])
            .env("ERL_EPMD_PORT", self.epmd_port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    pub(crate) fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}//", self.amqp_port)
    }

    pub(crate) fn management_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.management_port)
    }

    /// GET on the management API as guest; the body of a 200 answer.
    pub(crate) fn management_get(&self, path: &str) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.management_port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic Z3Vlc3Q6Z3Vlc3Q=\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).ok()?;
        let (status, body) = celery_exporter::amqp::management::parse_response(&raw).ok()?;
        (status == 200).then(|| String::from_utf8_lossy(&body).into_owned())
    }

    /// rabbitmqctl against this node (same cookie, ports and name).
    pub(crate) fn ctl(&self, args: &[&str]) -> String {
        let mut cmd = Command::new(PathBuf::from(RABBITMQ_BIN).join("rabbitmqctl"));
        self.env(&mut cmd);
        cmd.args(["-n", &self.node]).args(args);
        let out = cmd.output().expect("rabbitmqctl");
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }
}

/// A fresh RabbitMQ broker, the exporter on it (started with `args`) and a Celery environment
/// on it, as [`super::on_redis`]; `None` where rabbitmq-server is not installed (see
/// [`RabbitMq::available`]: the test then passes without running).
pub(crate) fn on_rabbitmq(args: &[&str]) -> Option<(RabbitMq, Exporter, CeleryEnv)> {
    if !RabbitMq::available() {
        return None;
    }
    let rabbit = RabbitMq::start();
    let exporter = Exporter::start(&rabbit.url(), args);
    let env = CeleryEnv::new(&rabbit.url());
    Some((rabbit, exporter, env))
}

impl Drop for RabbitMq {
    fn drop(&mut self) {
        self.stop();
        self.stop_epmd();
    }
}
