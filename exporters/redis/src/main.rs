//! `redis-exporter`: wires flags to the scraper and the shared runtime.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use clap::{ArgAction, Args, Command, FromArgMatches};
use exporter_core::flags::{LogFlags, WebFlags};
use exporter_core::log::LogLevel;
use exporter_core::run::{run, Program};
use exporter_core::{asynchronous, Exporter};
use redis_exporter::conn::TlsSettings;
use redis_exporter::keys::{parse_key_arg, DbKey};
use redis_exporter::multi::ScrapeHandler;
use redis_exporter::target::{redact_url, PasswordMap, Secret, Target};
use redis_exporter::{RedisCollector, ScrapeOptions, Scraper};

#[derive(Debug, Args)]
struct Flags {
    #[command(flatten)]
    web: WebFlags,
    #[command(flatten)]
    log: LogFlags,

    /// Address of the Redis instance to scrape (redis://, rediss:// or unix://). Empty: serve
    /// only /scrape?target=.
    #[arg(
        long = "redis.addr",
        id = "redis.addr",
        env = "REDIS_ADDR",
        default_value = "redis://localhost:6379"
    )]
    redis_addr: String,
    /// User name for Redis ACL (Redis 6 and newer).
    #[arg(
        long = "redis.user",
        id = "redis.user",
        env = "REDIS_USER",
        default_value = ""
    )]
    redis_user: String,
    /// Password of the Redis instance.
    #[arg(
        long = "redis.password",
        id = "redis.password",
        env = "REDIS_PASSWORD",
        default_value = "",
        hide_default_value = true,
        hide_env_values = true
    )]
    redis_password: String,
    /// JSON file mapping Redis addresses to passwords, for --redis.addr and /scrape targets.
    #[arg(
        long = "redis.password-file",
        id = "redis.password-file",
        env = "REDIS_PASSWORD_FILE"
    )]
    password_file: Option<PathBuf>,
    /// Namespace (prefix) of the metrics.
    #[arg(long, env = "REDIS_EXPORTER_NAMESPACE", default_value = "redis")]
    namespace: String,
    /// Comma-separated [db=]key patterns to export value and length/size of, searched for with SCAN.
    #[arg(
        long = "check-keys",
        env = "REDIS_EXPORTER_CHECK_KEYS",
        default_value = ""
    )]
    check_keys: String,
    /// Comma-separated [db=]keys to export value and length/size of.
    #[arg(
        long = "check-single-keys",
        env = "REDIS_EXPORTER_CHECK_SINGLE_KEYS",
        default_value = ""
    )]
    check_single_keys: String,
    /// Comma-separated [db=]stream patterns to export stream, group and consumer info of, searched for with SCAN.
    #[arg(
        long = "check-streams",
        env = "REDIS_EXPORTER_CHECK_STREAMS",
        default_value = ""
    )]
    check_streams: String,
    /// Comma-separated [db=]streams to export stream, group and consumer info of.
    #[arg(
        long = "check-single-streams",
        env = "REDIS_EXPORTER_CHECK_SINGLE_STREAMS",
        default_value = ""
    )]
    check_single_streams: String,
    /// Comma-separated [db=]patterns whose matching keys to count (e.g. db0=production_*,db3=sessions:*), with SCAN.
    #[arg(
        long = "count-keys",
        env = "REDIS_EXPORTER_COUNT_KEYS",
        default_value = ""
    )]
    count_keys: String,
    /// SCAN COUNT hint for the key checks.
    #[arg(
        long = "check-keys-batch-size",
        env = "REDIS_EXPORTER_CHECK_KEYS_BATCH_SIZE",
        default_value_t = 1000
    )]
    check_keys_batch_size: u32,
    /// Comma-separated paths of Lua scripts whose results (name, value, name, value, ...) to export.
    #[arg(long, env = "REDIS_EXPORTER_SCRIPT", default_value = "")]
    script: String,
    /// Include system metrics such as redis_total_system_memory_bytes.
    #[arg(
        long = "include-system-metrics",
        env = "REDIS_EXPORTER_INCL_SYSTEM_METRICS"
    )]
    include_system_metrics: bool,
    /// Export only Redis metrics: no process_* or build info.
    #[arg(long = "redis-only-metrics", env = "REDIS_EXPORTER_REDIS_ONLY_METRICS")]
    redis_only_metrics: bool,
    /// PING the instance on every scrape and export the round-trip time.
    #[arg(long = "ping-on-connect", env = "REDIS_EXPORTER_PING_ON_CONNECT")]
    ping_on_connect: bool,
    /// Bounds connecting to Redis and every scrape (Go-style duration: 500ms, 5s, 1m).
    #[arg(long = "connection-timeout", env = "REDIS_EXPORTER_CONNECTION_TIMEOUT", default_value = "15s", value_parser = parse_duration)]
    connection_timeout: Duration,
    /// Accept any TLS certificate from Redis.
    #[arg(
        long = "skip-tls-verification",
        env = "REDIS_EXPORTER_SKIP_TLS_VERIFICATION"
    )]
    skip_tls_verification: bool,
    /// CA certificate(s) to verify Redis' TLS certificate with (default: the system's).
    #[arg(long = "tls-ca-cert-file", env = "REDIS_EXPORTER_TLS_CA_CERT_FILE")]
    tls_ca_cert_file: Option<PathBuf>,
    /// Client certificate for Redis servers that require TLS client authentication.
    #[arg(
        long = "tls-client-cert-file",
        env = "REDIS_EXPORTER_TLS_CLIENT_CERT_FILE"
    )]
    tls_client_cert_file: Option<PathBuf>,
    /// Client key for Redis servers that require TLS client authentication.
    #[arg(
        long = "tls-client-key-file",
        env = "REDIS_EXPORTER_TLS_CLIENT_KEY_FILE"
    )]
    tls_client_key_file: Option<PathBuf>,
    /// The target is a Redis Cluster node: fetch CLUSTER INFO on every scrape.
    #[arg(long = "is-cluster", env = "REDIS_EXPORTER_IS_CLUSTER")]
    is_cluster: bool,
    /// Export one series per connected client (CLIENT LIST).
    #[arg(long = "export-client-list", env = "REDIS_EXPORTER_EXPORT_CLIENT_LIST")]
    export_client_list: bool,
    /// Name the exporter's connection redis_exporter (CLIENT SETNAME).
    #[arg(long = "set-client-name", env = "REDIS_EXPORTER_SET_CLIENT_NAME", default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    set_client_name: bool,
    /// Same as --log.level=debug (upstream's flag).
    #[arg(long, hide = true)]
    debug: bool,
    /// Show application version.
    #[arg(long = "version", action = ArgAction::SetTrue)]
    version: bool,
}

/// Accepts Go-style durations: `5s`, `500ms`, `1m`, `1m30s`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let mut total = 0.0;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_end]
            .parse()
            .map_err(|_| format!("invalid duration {s:?}"))?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "ms" => 1e-3,
            "s" | "" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            other => {
                return Err(format!(
                    "invalid duration unit {other:?} in {s:?} (ms, s, m, h)"
                ))
            }
        };
        total += n * factor;
        rest = &rest[unit_end..];
    }
    match Duration::try_from_secs_f64(total) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(format!("invalid duration {s:?} (must be above zero)")),
    }
}

fn command() -> Command {
    Flags::augment_args(
        Command::new("redis-exporter")
            .about("Prometheus exporter for Redis metrics, drop-in for oliver006/redis_exporter.")
            .disable_version_flag(true),
    )
}

/// Upstream is a Go program: its users write `-redis.addr x`. Long flags given with one dash are
/// taken as if they had two.
fn go_style_args(cmd: &Command, args: impl Iterator<Item = String>) -> Vec<String> {
    let longs: Vec<&str> = cmd.get_arguments().filter_map(|a| a.get_long()).collect();
    let mut out = Vec::new();
    let mut rest_are_values = false;
    for (i, a) in args.enumerate() {
        if i > 0 && !rest_are_values {
            if a == "--" {
                rest_are_values = true;
            } else if let Some(flag) = a.strip_prefix('-').filter(|f| !f.starts_with('-')) {
                let name = flag.split('=').next().unwrap_or("");
                if name.len() > 1 && longs.contains(&name) {
                    out.push(format!("-{a}"));
                    continue;
                }
            }
        }
        out.push(a);
    }
    out
}

fn key_arg(flag: &str, value: &str) -> Result<Vec<DbKey>, String> {
    parse_key_arg(value).map_err(|e| format!("--{flag}: {e}"))
}

fn main() -> ExitCode {
    let cmd = command();
    let matches = cmd
        .clone()
        .get_matches_from(go_style_args(&cmd, std::env::args()));
    let flags = match Flags::from_arg_matches(&matches) {
        Ok(f) => f,
        Err(e) => e.exit(),
    };
    if flags.version {
        println!(
            "{}",
            exporter_core::exporter::version_text("redis_exporter")
        );
        return ExitCode::SUCCESS;
    }
    match start(flags) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("redis-exporter: {e}");
            ExitCode::FAILURE
        }
    }
}

fn start(mut flags: Flags) -> Result<(), String> {
    if !exporter_core::encode::is_valid_metric_name(&flags.namespace) {
        return Err(format!(
            "--namespace {:?}: not a valid metric name prefix",
            flags.namespace
        ));
    }
    let passwords = match &flags.password_file {
        Some(path) => PasswordMap::load(path).map_err(|e| e.to_string())?,
        None => PasswordMap::default(),
    };
    let tls = TlsSettings::new(
        flags.tls_ca_cert_file.as_deref(),
        flags.tls_client_cert_file.as_deref(),
        flags.tls_client_key_file.as_deref(),
        flags.skip_tls_verification,
    )
    .map_err(|e| e.to_string())?;
    let mut scripts = Vec::new();
    for path in flags
        .script
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let body = std::fs::read(path).map_err(|e| format!("--script {path}: {e}"))?;
        scripts.push(body);
    }
    let default_password =
        (!flags.redis_password.is_empty()).then(|| Secret::new(flags.redis_password.clone()));
    let namespace: &'static str = Box::leak(flags.namespace.clone().into_boxed_str());
    let opts = Arc::new(ScrapeOptions {
        namespace: namespace.to_string(),
        user: (!flags.redis_user.is_empty()).then(|| flags.redis_user.clone()),
        check_keys: key_arg("check-keys", &flags.check_keys)?,
        check_single_keys: key_arg("check-single-keys", &flags.check_single_keys)?,
        check_streams: key_arg("check-streams", &flags.check_streams)?,
        check_single_streams: key_arg("check-single-streams", &flags.check_single_streams)?,
        count_keys: key_arg("count-keys", &flags.count_keys)?,
        scan_batch: flags.check_keys_batch_size.max(1),
        scripts,
        include_system_metrics: flags.include_system_metrics,
        ping_on_connect: flags.ping_on_connect,
        is_cluster: flags.is_cluster,
        export_client_list: flags.export_client_list,
        set_client_name: flags.set_client_name,
        connection_timeout: flags.connection_timeout,
        tls,
        request_errors: Arc::new(AtomicU64::new(0)),
    });

    let mut collectors = Vec::new();
    if !flags.redis_addr.trim().is_empty() {
        let mut target = Target::parse(&flags.redis_addr)
            .map_err(|e| format!("--redis.addr {}: {e}", redact_url(&flags.redis_addr)))?;
        if target.password.is_none() {
            target.password = passwords
                .lookup(&flags.redis_addr)
                .or(default_password.as_ref())
                .cloned();
        }
        collectors.push(asynchronous(RedisCollector {
            scraper: Arc::new(Scraper::new(target, Arc::clone(&opts))),
            budget: flags.connection_timeout,
        }));
    }
    if flags.redis_only_metrics {
        flags.web.disable_exporter_metrics = true;
    }
    if flags.debug {
        flags.log.level = LogLevel::Debug;
    }
    let handler = Arc::new(ScrapeHandler::new(
        Arc::clone(&opts),
        default_password,
        passwords,
        !flags.web.disable_exporter_metrics,
    ));
    let exporter = Exporter::new(namespace, collectors);
    run(
        Program {
            title: "Redis Exporter",
            default_listen: ":9121",
        },
        flags.web,
        flags.log,
        exporter,
        |server| {
            server.route(
                "/scrape",
                "metrics of any Redis instance: /scrape?target=redis://host:port",
                handler,
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("15s").unwrap(), Duration::from_secs(15));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn single_dash_long_flags_are_accepted() {
        let cmd = command();
        let args = [
            "x",
            "-redis.addr",
            "redis://h:1",
            "-is-cluster",
            "-web.listen-address=:1",
            "-x",
            "--",
            "-namespace",
        ]
        .map(String::from);
        assert_eq!(
            go_style_args(&cmd, args.into_iter()),
            [
                "x",
                "--redis.addr",
                "redis://h:1",
                "--is-cluster",
                "--web.listen-address=:1",
                "-x",
                "--",
                "-namespace"
            ]
        );
        let m = cmd
            .try_get_matches_from(go_style_args(
                &command(),
                ["x", "-namespace", "foo", "-set-client-name=false"]
                    .map(String::from)
                    .into_iter(),
            ))
            .unwrap();
        let f = Flags::from_arg_matches(&m).unwrap();
        assert_eq!(f.namespace, "foo");
        assert!(!f.set_client_name);
    }
}
