//! Helpers shared by the integration tests: real redis-server instances on free loopback ports in
//! temp dirs, the exporter binary, and scraping.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use exporter_core::testkit::pki::TestPki;
use exporter_core::testkit::{free_port, wait_for, ChildGuard};

pub(crate) const OURS: &str = env!("CARGO_BIN_EXE_redis-exporter");

/// A redis-server that is killed when dropped.
pub(crate) struct Redis {
    pub(crate) port: u16,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) guard: Option<ChildGuard>,
    args: Vec<String>,
}

impl Redis {
    /// Starts `redis-server` on a free port with persistence off, plus `extra` arguments.
    pub(crate) fn start(extra: &[&str]) -> Redis {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Redis {
            port: free_port(),
            dir,
            guard: None,
            args: extra.iter().map(|s| s.to_string()).collect(),
        };
        r.restart();
        r
    }

    /// (Re)starts the server on the same port and directory.
    pub(crate) fn restart(&mut self) {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.guard = Some(ChildGuard::spawn("redis-server", &mut cmd));
        let port = self.port;
        wait_for("redis-server to answer", Duration::from_secs(20), || {
            let reply = raw(port, "PING\r\n")?;
            (reply.starts_with("+PONG") || reply.starts_with("-NOAUTH")).then_some(())
        });
    }

    pub(crate) fn stop(&mut self) {
        self.guard = None;
    }

    pub(crate) fn addr(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs redis-cli against this server (with `auth` as `-a` when given).
    pub(crate) fn cli(&self, auth: Option<&str>, args: &[&str]) -> String {
        let mut cmd = Command::new("redis-cli");
        cmd.args(["-h", "127.0.0.1", "-p", &self.port.to_string()]);
        if let Some(a) = auth {
            cmd.args(["--no-auth-warning", "-a", a]);
        }
        let out = cmd.args(args).output().expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs redis-cli once per line of `script`, the line's words as its arguments
    /// (`-n 2 SET k v`): how the tests fill a server with data.
    pub(crate) fn run_lines(&self, script: &str) {
        for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
            self.cli(None, &line.split_whitespace().collect::<Vec<_>>());
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.guard.as_ref().map(|g| g.pid()).unwrap_or(0)
    }
}

/// A redis-server that also speaks TLS, on `tls_port`, with a certificate for `names` from a
/// fresh test CA (`ca`, the CA's certificate file).
pub(crate) struct TlsRedis {
    pub(crate) redis: Redis,
    pub(crate) tls_port: u16,
    pub(crate) pki: TestPki,
    pub(crate) ca: String,
}

impl TlsRedis {
    /// Starts the server; with `client_auth`, TLS clients must show a certificate of the CA.
    pub(crate) fn start(names: &[&str], client_auth: bool) -> TlsRedis {
        let pki = TestPki::new("redis-exporter test CA");
        let tls_port = free_port();
        let ca = pki.ca();
        let args = pki.redis_server_tls_args(tls_port, names, client_auth);
        let redis = Redis::start(&args.iter().map(String::as_str).collect::<Vec<_>>());
        TlsRedis {
            redis,
            tls_port,
            pki,
            ca,
        }
    }
}

/// Sends raw text to a port and returns what came back first.
pub(crate) fn raw(port: u16, text: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(text.as_bytes()).ok()?;
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Our exporter, with its stderr in a file.
pub(crate) struct Exporter {
    pub(crate) port: u16,
    pub(crate) guard: ChildGuard,
    pub(crate) log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Exporter {
    pub(crate) fn start(args: &[&str]) -> Exporter {
        Self::start_with_env(args, &[])
    }

    /// Ours scraping `redis_addr` (`--redis.addr`), with `extra` arguments.
    pub(crate) fn scraping(redis_addr: &str, extra: &[&str]) -> Exporter {
        Self::start(&[&["--redis.addr", redis_addr], extra].concat())
    }

    pub(crate) fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Exporter {
        let mut cmd = Command::new(OURS);
        cmd.args(args)
            .env_remove("REDIS_ADDR")
            .env_remove("REDIS_PASSWORD")
            .envs(env.iter().copied());
        Self::spawn(cmd, |cmd, listen| {
            cmd.arg(format!("--web.listen-address={listen}"));
        })
    }

    /// Starts `cmd` listening on a free port (`listen` gives `cmd` the address), its stderr
    /// in a file, and waits until it accepts connections.
    pub(crate) fn spawn(mut cmd: Command, listen: impl FnOnce(&mut Command, &str)) -> Exporter {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("stderr.log");
        let port = free_port();
        listen(&mut cmd, &format!("127.0.0.1:{port}"));
        cmd.stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let guard = ChildGuard::spawn("redis-exporter", &mut cmd);
        wait_for("the exporter to listen", Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).ok()
        });
        Exporter {
            port,
            guard,
            log,
            _dir: dir,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub(crate) fn metrics(&self) -> String {
        get(&self.url("/metrics")).1
    }

    pub(crate) fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// GET returning (status, body), whatever the status.
pub(crate) use exporter_core::testkit::http_get_status as get;

pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}
