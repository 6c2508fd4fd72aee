//! The whole suite as `scripts/stack` runs it, started by the test on free loopback ports in a temp
//! dir, from the shipped files: Redis, PostgreSQL, a Celery worker and producer, the four exporters,
//! the example service under the load generator, Prometheus, and Alertmanager. Scale-out on top:
//! Prometheus also remote-writes to VictoriaMetrics, where vmalert evaluates the same rules; two
//! Alertmanagers form a cluster that Prometheus sends to; a third serves vmalert.
//!
//! Every process is a drop guard; the temp dir (configs, data, logs) is kept when the test fails.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use exporter_core::testkit::postgres::Postgres;
use exporter_core::testkit::{
    celery_venv, free_port, wait_for, wait_http, workspace_binary, ChildGuard,
};

use crate::configs;
use crate::observe::Observer;
use crate::webhook::Webhook;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The test's temp dir; kept (and named on stderr) when the test panics, for its logs.
pub struct StateDir(Option<tempfile::TempDir>);

impl StateDir {
    fn new() -> Self {
        StateDir(Some(
            tempfile::Builder::new()
                .prefix("e2e-stack")
                .tempdir()
                .unwrap(),
        ))
    }

    pub fn path(&self) -> &Path {
        self.0.as_ref().expect("present until drop").path()
    }

    /// A log file for the process `name`, as its stdout and stderr.
    fn log(&self, name: &str) -> (Stdio, Stdio) {
        let file = File::create(self.path().join(format!("{name}.log"))).unwrap();
        (file.try_clone().unwrap().into(), file.into())
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Some(dir) = self.0.take() {
                eprintln!("stack state and logs kept in {}", dir.keep().display());
            }
        }
    }
}

/// Runs `cmd` with its output in `<state>/<name>.log`, killed when the guard drops.
fn spawn(state: &StateDir, name: &str, cmd: &mut Command) -> ChildGuard {
    let (out, err) = state.log(name);
    ChildGuard::spawn(name, cmd.stdin(Stdio::null()).stdout(out).stderr(err))
}

fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// A redis-server that can be stopped and started again on the same port.
pub struct Redis {
    pub port: u16,
    server: Option<ChildGuard>,
    dir: PathBuf,
}

impl Redis {
    pub fn start(&mut self, state: &StateDir) {
        assert!(self.server.is_none(), "redis already running");
        // maxmemory as in production (RedisMemoryNearLimit and the dashboard's limit need it);
        // noeviction because evicting a broker's keys would silently lose tasks.
        self.server = Some(spawn(
            state,
            "redis",
            Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(["--maxmemory", "256mb", "--maxmemory-policy", "noeviction"])
                .arg("--port")
                .arg(self.port.to_string())
                .arg("--dir")
                .arg(&self.dir),
        ));
        let port = self.port.to_string();
        wait_for("redis-server", Duration::from_secs(20), || {
            Command::new("redis-cli")
                .args(["-p", &port, "ping"])
                .output()
                .ok()
                .filter(|o| o.stdout.starts_with(b"PONG"))
        });
    }

    pub fn stop(&mut self) {
        self.server = None;
    }
}

/// The example service, its faults switched through its admin API while it serves (so every
/// series lives on, as in a process whose dependency fails and heals).
pub struct Web {
    pub port: u16,
    admin_port: u16,
    _server: ChildGuard,
}

impl Web {
    fn start(state: &StateDir) -> Web {
        let (port, admin_port) = (free_port(), free_port());
        let server = spawn(
            state,
            "web",
            Command::new(workspace_binary("examples/forecaster_api"))
                .arg(format!("--listen=127.0.0.1:{port}"))
                .arg(format!("--admin-listen=127.0.0.1:{admin_port}")),
        );
        wait_http(&format!("{}/healthz", url(port)), Duration::from_secs(20));
        Web {
            port,
            admin_port,
            _server: server,
        }
    }

    /// Sets the fault switch: a share of API requests failing, and of simulations delayed.
    pub fn set_faults(&self, error_rate: f64, slow_ms: u64, slow_share: f64) {
        let settings = serde_json::json!({
            "error_rate": error_rate, "slow_ms": slow_ms, "slow_share": slow_share,
        });
        ureq::put(&format!("{}/faults", url(self.admin_port)))
            .set("Content-Type", "application/json")
            .send_string(&settings.to_string())
            .unwrap_or_else(|e| panic!("PUT /faults: {e}"));
    }
}

/// A Celery worker (thread pool: one process, so SIGKILL takes all of it) and a producer sending
/// the demo mix, from `examples/celery` with the pinned Celery of `tests/celery/`.
pub struct Celery {
    pub broker: String,
    pub venv: PathBuf,
    pub worker: Option<ChildGuard>,
    pub producer: Option<ChildGuard>,
    starts: u32,
}

pub const WORKER: &str = "worker@e2e";

impl Celery {
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.venv.join("bin").join(program));
        cmd.current_dir(root().join("examples/celery"))
            .env("CELERY_BROKER_URL", &self.broker);
        cmd
    }

    /// `cmd` spawned, its log named after `what` and the count of Celery starts so far.
    fn start(&mut self, state: &StateDir, what: &str, cmd: &mut Command) -> ChildGuard {
        self.starts += 1;
        spawn(state, &format!("celery-{what}-{}", self.starts), cmd)
    }

    pub fn start_worker(&mut self, state: &StateDir) {
        let mut cmd = self.command("celery");
        cmd.args(["-A", "demo_tasks", "worker", "-E", "--pool", "threads"])
            .args([
                "--concurrency",
                "4",
                "--hostname",
                WORKER,
                "--loglevel",
                "INFO",
            ]);
        self.worker = Some(self.start(state, "worker", &mut cmd));
    }

    pub fn start_producer(&mut self, state: &StateDir) {
        let mut cmd = self.command("python");
        cmd.args(["demo_producer.py", "--rate", "4"]);
        self.producer = Some(self.start(state, "producer", &mut cmd));
    }

    /// Runs Python with the demo app importable (`from demo_tasks import ...`).
    pub fn python(&self, code: &str) {
        let out = self.command("python").args(["-c", code]).output().unwrap();
        assert!(
            out.status.success(),
            "python {code:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `celery control <args>` aimed at the test's worker.
    pub fn control(&self, args: &[&str]) {
        let out = self
            .command("celery")
            .args(["-A", "demo_tasks", "control"])
            .args(args)
            .args(["--destination", WORKER])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("->"),
            "celery control {args:?} got no reply: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// One of the suite's exporters, as the stack runs it.
pub struct Exporter {
    pub name: &'static str,
    pub port: u16,
    pub process: ChildGuard,
}

pub struct Stack {
    // Fields drop in order: the watchers first, the servers they watch next, the state dir last.
    /// Prometheus, vmalert, VictoriaMetrics, the Alertmanagers and the load generator: the test
    /// talks to them over HTTP only, and they stop when the stack drops.
    _monitoring: Vec<ChildGuard>,
    pub web: Web,
    pub exporters: Vec<Exporter>,
    pub celery: Celery,
    pub postgres: Postgres,
    pub redis: Redis,
    pub observer: Observer,
    pub state: StateDir,
}

impl Stack {
    pub fn start() -> Stack {
        let state = StateDir::new();
        let webhook = Webhook::start();
        let alertmanager_ports = [free_port(), free_port(), free_port()];
        let observer = Observer::new(
            free_port(),
            alertmanager_ports,
            free_port(),
            free_port(),
            webhook,
        );

        let mut redis = Redis {
            port: free_port(),
            server: None,
            dir: state.path().join("redis"),
        };
        std::fs::create_dir(&redis.dir).unwrap();
        redis.start(&state);
        let postgres = Postgres::start(&[]);

        let mut celery = Celery {
            broker: format!("redis://127.0.0.1:{}/0", redis.port),
            venv: celery_venv(root()),
            worker: None,
            producer: None,
            starts: 0,
        };
        celery.start_worker(&state);
        celery.start_producer(&state);

        let exporter = |name: &'static str, args: &[String], env: &[(&str, String)]| {
            let port = free_port();
            let mut cmd = Command::new(workspace_binary(name));
            // Room for the 1,000 concurrent scrapes of the load phase to all be answered in
            // full (the default, 40, answers the rest 503 at once, as upstream does).
            cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--web.max-requests=1000")
                .args(args)
                .envs(env.iter().map(|(k, v)| (k, v)));
            let process = spawn(&state, name, &mut cmd);
            Exporter {
                name,
                port,
                process,
            }
        };
        let exporters = vec![
            exporter("node-exporter", &[], &[]),
            exporter(
                "redis-exporter",
                &[format!("--redis.addr=redis://127.0.0.1:{}", redis.port)],
                &[],
            ),
            exporter(
                "postgres-exporter",
                &[],
                &[("DATA_SOURCE_NAME", postgres.superuser_dsn())],
            ),
            exporter(
                "celery-exporter",
                &[format!("--broker-url={}", celery.broker)],
                &[],
            ),
        ];
        let web = Web::start(&state);
        // Enough connections that a slow tail (the HighResponseTime fault) keeps the rate.
        let loadgen = spawn(
            &state,
            "loadgen",
            Command::new(workspace_binary("examples/loadgen"))
                .arg(format!("--target={}", url(web.port)))
                .args(["--rate", "40", "--concurrency", "32", "--duration", "1h"]),
        );

        let targets = configs::Targets {
            prometheus: observer.prometheus_port,
            alertmanagers: vec![alertmanager_ports[0], alertmanager_ports[1]],
            node: exporters[0].port,
            redis: exporters[1].port,
            postgres: exporters[2].port,
            web: web.port,
            celery: exporters[3].port,
        };
        let prometheus_dir = state.path().join("prometheus");
        configs::write_prometheus(&prometheus_dir, &targets, observer.victoria_metrics_port);
        let alertmanager_yml = state.path().join("alertmanager.yml");
        configs::write_alertmanager(&alertmanager_yml, &observer.webhook.url);

        // Two peers gossiping over loopback, and a standalone one for vmalert.
        let gossip = [free_port(), free_port()];
        let alertmanagers: Vec<ChildGuard> = (0..3)
            .map(|i| {
                let mut cmd = Command::new("prometheus-alertmanager");
                cmd.arg(format!("--config.file={}", alertmanager_yml.display()))
                    .arg(format!(
                        "--storage.path={}",
                        state.path().join(format!("alertmanager-{i}")).display()
                    ))
                    .arg(format!(
                        "--web.listen-address=127.0.0.1:{}",
                        alertmanager_ports[i]
                    ))
                    .arg(format!("--web.external-url={}", url(alertmanager_ports[i])));
                if i < 2 {
                    cmd.arg(format!("--cluster.listen-address=127.0.0.1:{}", gossip[i]))
                        .arg(format!("--cluster.peer=127.0.0.1:{}", gossip[1 - i]))
                        .arg(format!("--cluster.peer-timeout={}", configs::PEER_TIMEOUT));
                } else {
                    cmd.arg("--cluster.listen-address=");
                }
                spawn(&state, &format!("alertmanager-{i}"), &mut cmd)
            })
            .collect();

        let victoria_metrics = spawn(
            &state,
            "victoria-metrics",
            Command::new("victoria-metrics")
                .arg(format!(
                    "-httpListenAddr=127.0.0.1:{}",
                    observer.victoria_metrics_port
                ))
                .arg(format!(
                    "-storageDataPath={}",
                    state.path().join("victoria-metrics").display()
                ))
                .arg("-retentionPeriod=1d")
                // Queries see samples as soon as they land (the default hides the last 30 s).
                .arg("-search.latencyOffset=1s"),
        );
        let vmalert = spawn(
            &state,
            "vmalert",
            Command::new("vmalert")
                .arg(format!(
                    "-rule={}",
                    prometheus_dir.join("alert.rules.yml").display()
                ))
                .arg(format!(
                    "-datasource.url={}",
                    url(observer.victoria_metrics_port)
                ))
                .arg(format!("-notifier.url={}", url(alertmanager_ports[2])))
                .arg(format!(
                    "-httpListenAddr=127.0.0.1:{}",
                    observer.vmalert_port
                ))
                .arg(format!(
                    "-evaluationInterval={}",
                    configs::EVALUATION_INTERVAL
                ))
                .arg("-external.label=monitor=forecaster"),
        );
        let prometheus = spawn(
            &state,
            "prometheus",
            Command::new("prometheus")
                .arg(format!(
                    "--config.file={}",
                    prometheus_dir.join("prometheus.yml").display()
                ))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    prometheus_dir.join("data").display()
                ))
                .arg(format!(
                    "--web.listen-address=127.0.0.1:{}",
                    observer.prometheus_port
                )),
        );

        let ready = Duration::from_secs(60);
        wait_http(&format!("{}/-/ready", url(observer.prometheus_port)), ready);
        for port in alertmanager_ports {
            wait_http(&format!("{}/-/ready", url(port)), ready);
        }
        wait_http(
            &format!("{}/health", url(observer.victoria_metrics_port)),
            ready,
        );
        wait_http(&format!("{}/health", url(observer.vmalert_port)), ready);

        let mut monitoring = vec![prometheus, vmalert, victoria_metrics];
        monitoring.extend(alertmanagers);
        monitoring.push(loadgen);
        Stack {
            _monitoring: monitoring,
            web,
            exporters,
            celery,
            postgres,
            redis,
            observer,
            state,
        }
    }
}
