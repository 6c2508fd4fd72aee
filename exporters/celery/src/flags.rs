//! The binary's own flags (clap) and the [`Config`] they build: durations, bucket lists, the
//! password file, the broker URL and transport options checked at start-up. Errors name the flag.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args};
use exporter_core::duration::parse_duration;
use exporter_core::flags::RuntimeFlags;

use crate::amqp::management::ManagementUrl;
use crate::broker_url::{err, ConfigError};
use crate::state::{Options, DEFAULT_QUEUE_WAIT_BUCKETS, DEFAULT_RUNTIME_BUCKETS};
use crate::transport::TransportOptions;
use crate::{Broker, Config};

/// The exporter's flags: the shared `--web.*` and `--log.*` ones and Celery's own.
#[derive(Debug, Args)]
pub struct Flags {
    /// The runtime's `--web.*` and `--log.*` flags.
    #[command(flatten)]
    pub runtime: RuntimeFlags,

    /// Celery broker URL: redis://[[user]:password@]host[:port][/db] or rediss://...
    /// (?ssl_cert_reqs=required|none&ssl_ca_certs=FILE&ssl_certfile=FILE&ssl_keyfile=FILE), or
    /// RabbitMQ: amqp://user:password@host[:port]/vhost or amqps://... (?cacertfile=FILE).
    #[arg(
        long = "broker-url",
        env = "CELERY_BROKER_URL",
        default_value = "redis://localhost:6379/0",
        hide_env_values = true,
        value_name = "URL"
    )]
    broker_url: String,

    /// File holding the broker password (replaces the URL's; trailing newline ignored).
    #[arg(
        long = "broker-password-file",
        env = "CELERY_BROKER_PASSWORD_FILE",
        value_name = "FILE"
    )]
    broker_password_file: Option<PathBuf>,

    /// kombu transport option KEY=VALUE (repeatable): global_keyprefix, fanout_prefix,
    /// fanout_patterns, sep, priority_steps, unacked_key.
    #[arg(long = "broker-transport-option", value_name = "KEY=VALUE", action = ArgAction::Append)]
    transport_options: Vec<String>,

    /// Queues whose length to report (comma-separated), besides those discovered from the
    /// _kombu.binding.* sets.
    #[arg(long = "queues", value_delimiter = ',', value_name = "NAMES")]
    queues: Vec<String>,

    /// How often to rediscover queues from the _kombu.binding.* sets (SCAN); 0 turns
    /// discovery off.
    #[arg(
        long = "queue-discovery-interval",
        default_value = "30s",
        value_name = "DURATION"
    )]
    queue_discovery_interval: String,

    /// Periodically broadcast `enable_events` so workers started without -E send task events
    /// (what Flower does).
    #[arg(long = "enable-events")]
    enable_events: bool,

    /// How often --enable-events broadcasts.
    #[arg(
        long = "enable-events-interval",
        default_value = "5s",
        value_name = "DURATION"
    )]
    enable_events_interval: String,

    /// A worker is down this long after its last heartbeat (default: 2 x its heartbeat
    /// frequency, Celery's rule).
    #[arg(long = "worker-timeout", value_name = "DURATION")]
    worker_timeout: Option<String>,

    /// Drop the series of a worker down for this long; 0 keeps them forever.
    #[arg(
        long = "purge-offline-worker-metrics",
        default_value = "10m",
        value_name = "DURATION"
    )]
    purge_offline_worker_metrics: String,

    /// Tasks remembered (uuid -> name, queue, timestamps) so later events can be labelled.
    #[arg(long = "max-tasks", default_value_t = 100_000, value_name = "N")]
    max_tasks: usize,

    /// Buckets of celery_task_runtime_seconds (comma-separated upper bounds, seconds).
    #[arg(long = "buckets", default_value = DEFAULT_RUNTIME_BUCKETS, value_name = "BOUNDS")]
    buckets: String,

    /// Buckets of celery_task_queue_wait_seconds.
    #[arg(long = "queue-wait-buckets", default_value = DEFAULT_QUEUE_WAIT_BUCKETS, value_name = "BOUNDS")]
    queue_wait_buckets: String,

    /// Also expose Flower's flower_* metric families, for dashboards built on Flower (the same
    /// as adding `flower` to --metrics).
    #[arg(long = "flower-metrics")]
    flower_metrics: bool,

    /// Metric names to expose (comma-separated): ours (celery_tasks_total, ...), flower
    /// (Flower's flower_*), celery-exporter (danihodovic/celery-exporter's celery_task_*_total,
    /// for the celery-mixin dashboards). ours and celery-exporter share names with other labels:
    /// one or the other.
    #[arg(
        long = "metrics",
        env = "CELERY_EXPORTER_METRICS",
        default_value = "ours",
        value_delimiter = ',',
        value_name = "SETS"
    )]
    metrics: Vec<String>,

    /// RabbitMQ management API, http://[user:password@]host:15672 (the broker's credentials
    /// by default): queue depth of every queue from /api/queues instead of passive declares.
    #[arg(
        long = "rabbitmq-management-url",
        env = "RABBITMQ_MANAGEMENT_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    rabbitmq_management_url: Option<String>,

    /// RabbitMQ: message TTL of the exporter's event queue (Celery's event_queue_ttl); events
    /// older than this are dropped by the broker instead of piling up. 0: no TTL.
    #[arg(
        long = "event-queue-ttl",
        default_value = "5s",
        value_name = "DURATION"
    )]
    event_queue_ttl: String,
}

/// Which name sets `--metrics` (and `--flower-metrics`) ask for: (ours, flower, celery-exporter).
fn metric_sets(f: &Flags) -> Result<(bool, bool, bool), String> {
    let (mut ours, mut flower, mut community) = (false, f.flower_metrics, false);
    for set in f.metrics.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        match set {
            "ours" => ours = true,
            "flower" => flower = true,
            "celery-exporter" | "celery_exporter" => community = true,
            other => {
                return Err(format!(
                    "--metrics: unknown set {other:?} (ours, flower, celery-exporter)"
                ))
            }
        }
    }
    if ours && community {
        return Err(
            "--metrics: ours and celery-exporter both define celery_worker_up, \
                    celery_worker_tasks_active and celery_queue_length with other labels; \
                    choose one"
                .into(),
        );
    }
    if !ours && !flower && !community {
        return Err("--metrics: no set chosen (ours, flower, celery-exporter)".into());
    }
    Ok((ours, flower, community))
}

fn duration(flag: &str, value: &str) -> Result<Duration, String> {
    parse_duration(value).map_err(|e| format!("--{flag}: {e}"))
}

/// Zero means "off" for these flags.
fn optional_duration(flag: &str, value: &str) -> Result<Option<Duration>, String> {
    duration(flag, value).map(|d| (!d.is_zero()).then_some(d))
}

fn positive_duration(flag: &str, value: &str) -> Result<Duration, String> {
    match duration(flag, value)? {
        d if d.is_zero() => Err(format!("--{flag}: must be above zero")),
        d => Ok(d),
    }
}

impl Flags {
    /// The exporter's configuration; an error names the flag (or URL parameter, or transport
    /// option key) at fault and never holds a password.
    pub fn config(&self) -> Result<Config, String> {
        config(self)
    }
}

fn config(f: &Flags) -> Result<Config, String> {
    let broker = Broker::parse(&f.broker_url).map_err(|e| e.to_string())?;
    let (ours, flower, celery_exporter) = metric_sets(f)?;
    let rabbitmq_management = match f.rabbitmq_management_url.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(url) => Some(ManagementUrl::parse(url).map_err(|e| e.to_string())?),
    };
    if let Broker::Amqp(_) = broker {
        if !f.transport_options.is_empty() {
            return Err(
                "--broker-transport-option: kombu's Redis transport options; an amqp:// broker \
                 takes none"
                    .into(),
            );
        }
    } else if rabbitmq_management.is_some() {
        return Err("--rabbitmq-management-url: only for an amqp:// or amqps:// broker".into());
    }
    let password = match &f.broker_password_file {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--broker-password-file {}: {e}", path.display()))?;
            Some(text.trim_end_matches(['\r', '\n']).to_string())
        }
    };
    if f.max_tasks == 0 {
        return Err("--max-tasks: must be at least 1".into());
    }
    let queues: Vec<String> = f
        .queues
        .iter()
        .map(|q| q.trim().to_string())
        .filter(|q| !q.is_empty())
        .collect();
    Ok(Config {
        broker,
        rabbitmq_management,
        event_queue_ttl: optional_duration("event-queue-ttl", &f.event_queue_ttl)?,
        password,
        transport: TransportOptions::parse(&f.transport_options).map_err(|e| e.to_string())?,
        queues,
        queue_discovery_interval: optional_duration(
            "queue-discovery-interval",
            &f.queue_discovery_interval,
        )?,
        enable_events: if f.enable_events {
            Some(positive_duration(
                "enable-events-interval",
                &f.enable_events_interval,
            )?)
        } else {
            None
        },
        state: Options {
            max_tasks: f.max_tasks,
            worker_timeout: f
                .worker_timeout
                .as_deref()
                .map(|v| positive_duration("worker-timeout", v))
                .transpose()?
                .map(|d| d.as_secs_f64()),
            purge_offline_after: optional_duration(
                "purge-offline-worker-metrics",
                &f.purge_offline_worker_metrics,
            )?
            .map(|d| d.as_secs_f64()),
            runtime_buckets: parse_buckets("buckets", &f.buckets).map_err(|e| e.to_string())?,
            queue_wait_buckets: parse_buckets("queue-wait-buckets", &f.queue_wait_buckets)
                .map_err(|e| e.to_string())?,
            ours,
            flower,
            celery_exporter,
        },
    })
}

/// A comma-separated list of histogram bucket upper bounds: finite, positive, ascending.
pub fn parse_buckets(flag: &str, s: &str) -> Result<Vec<f64>, ConfigError> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let v: f64 = part
            .parse()
            .map_err(|_| err(format!("--{flag}: {part:?} is not a number")))?;
        if !v.is_finite() || v <= 0.0 {
            return Err(err(format!(
                "--{flag}: bounds must be positive and finite, not {part}"
            )));
        }
        if out.last().is_some_and(|&last| v <= last) {
            return Err(err(format!(
                "--{flag}: bounds must be in ascending order ({part})"
            )));
        }
        out.push(v);
    }
    if out.is_empty() {
        return Err(err(format!(
            "--{flag}: at least one bucket bound is needed"
        )));
    }
    if out.len() > 64 {
        return Err(err(format!("--{flag}: at most 64 buckets")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use exporter_core::run::Program;
    use exporter_core::testkit::assert_maps;

    /// The binary's program, for parsing as it does.
    const PROGRAM: Program = Program {
        binary: "celery-exporter",
        upstream_name: "celery_exporter",
        about: "test",
        title: "Celery Exporter",
        default_listen: ":9808",
        single_dash_long_flags: false,
    };

    fn flags(args: &[&str]) -> Flags {
        let all: Vec<&str> = std::iter::once("celery-exporter")
            .chain(args.iter().copied())
            .collect();
        exporter_core::run::parse_args::<Flags>(&PROGRAM, |cmd| cmd, &all)
            .unwrap()
            .0
    }

    #[test]
    fn defaults() {
        let c = config(&flags(&[])).unwrap();
        assert_eq!(c.broker.redacted(), "redis://localhost:6379/0");
        assert_eq!(c.state.max_tasks, 100_000);
        assert_eq!(c.state.worker_timeout, None);
        assert_eq!(c.state.purge_offline_after, Some(600.0));
        assert_eq!(c.state.runtime_buckets.len(), 14);
        assert_eq!(c.queue_discovery_interval, Some(Duration::from_secs(30)));
        assert_eq!(c.enable_events, None);
        assert!(!c.state.flower);
        assert!(c.state.ours && !c.state.celery_exporter);
        assert_eq!(c.event_queue_ttl, Some(Duration::from_secs(5)));
    }

    #[test]
    fn rabbitmq_and_name_sets() {
        let c = config(&flags(&[
            "--broker-url",
            "amqps://mon:s3cret@rabbit/prod",
            "--rabbitmq-management-url",
            "http://rabbit:15672",
            "--metrics",
            "celery-exporter,flower",
            "--event-queue-ttl",
            "0",
        ]))
        .unwrap();
        assert_eq!(c.broker.redacted(), "amqps://mon:<secret>@rabbit:5671/prod");
        assert_eq!(c.rabbitmq_management.unwrap().port, 15672);
        assert!(!c.state.ours && c.state.flower && c.state.celery_exporter);
        assert_eq!(c.event_queue_ttl, None);
    }

    #[test]
    fn flags_reach_the_config() {
        let c = config(&flags(&[
            "--queues",
            "a, b,,c",
            "--enable-events",
            "--enable-events-interval",
            "1s",
            "--worker-timeout",
            "30s",
            "--purge-offline-worker-metrics",
            "0",
            "--queue-discovery-interval",
            "0",
            "--broker-transport-option",
            "global_keyprefix=x:",
            "--broker-transport-option",
            "priority_steps=0,9",
            "--buckets",
            "1,2",
            "--flower-metrics",
        ]))
        .unwrap();
        assert_eq!(c.queues, ["a", "b", "c"]);
        assert_eq!(c.enable_events, Some(Duration::from_secs(1)));
        assert_eq!(c.state.worker_timeout, Some(30.0));
        assert_eq!(c.state.purge_offline_after, None);
        assert_eq!(c.queue_discovery_interval, None);
        assert_eq!(c.transport.global_keyprefix, "x:");
        assert_eq!(c.transport.priority_steps, [0, 9]);
        assert_eq!(c.state.runtime_buckets, [1.0, 2.0]);
        assert!(c.state.flower);
    }

    #[test]
    fn bad_values_name_the_flag() {
        for (args, want) in [
            (&["--max-tasks", "0"][..], "--max-tasks"),
            (&["--worker-timeout", "0s"], "--worker-timeout"),
            (&["--worker-timeout", "soon"], "--worker-timeout"),
            (
                &["--enable-events", "--enable-events-interval", "0"],
                "--enable-events-interval",
            ),
            (&["--buckets", "2,1"], "--buckets"),
            (&["--queue-wait-buckets", "x"], "--queue-wait-buckets"),
            (&["--broker-transport-option", "bogus=1"], "bogus"),
            (&["--broker-url", "ftp://u:pw@h//"], "--broker-url"),
            (&["--metrics", "ours,celery-exporter"], "--metrics"),
            (&["--metrics", "prometheus"], "--metrics"),
            (
                &["--rabbitmq-management-url", "http://h:15672"],
                "--rabbitmq-management-url",
            ),
            (
                &[
                    "--broker-url",
                    "amqp://h//",
                    "--broker-transport-option",
                    "global_keyprefix=x",
                ],
                "--broker-transport-option",
            ),
            (
                &["--broker-password-file", "/nonexistent/pw"],
                "--broker-password-file",
            ),
        ] {
            let e = config(&flags(args)).unwrap_err();
            assert!(e.contains(want), "{args:?}: {e}");
        }
    }

    #[test]
    fn password_file_replaces_the_url_password() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "from-file\n").unwrap();
        let c = config(&flags(&[
            "--broker-url",
            "redis://:from-url@h/2",
            "--broker-password-file",
            file.to_str().unwrap(),
        ]))
        .unwrap();
        assert_eq!(c.password.as_deref(), Some("from-file"));
        assert!(matches!(c.broker, Broker::Redis(ref u) if u.db == 2));
    }

    #[test]
    fn durations_and_buckets() {
        let durations = [
            ("5s", Some(Duration::from_secs(5))),
            ("250ms", Some(Duration::from_millis(250))),
            ("10m", Some(Duration::from_secs(600))),
            ("1.5", Some(Duration::from_millis(1500))),
            ("0", Some(Duration::ZERO)),
            ("5d", None),
            ("", None),
        ];
        assert_maps(|s| parse_duration(s).ok(), &durations);
        assert_eq!(
            parse_buckets("buckets", "0.1, 1,10").unwrap(),
            [0.1, 1.0, 10.0]
        );
        for bad in ["", "1,1", "2,1", "-1", "x", "inf"] {
            let e = parse_buckets("buckets", bad).unwrap_err().0;
            assert!(e.starts_with("--buckets"), "{e}");
        }
    }
}
