//! `redis-exporter`: wires flags to the scraper and the shared runtime.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Args, Command};
use exporter_core::duration::parse_positive_duration;
use exporter_core::flags::{LogFlags, WebFlags};
use exporter_core::log::{LogFormat, LogLevel};
use exporter_core::run::{Program, Startup};
use exporter_core::web_config_reload::ReloadingWebConfig;
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
    #[arg(long = "connection-timeout", env = "REDIS_EXPORTER_CONNECTION_TIMEOUT", default_value = "15s", value_parser = parse_positive_duration)]
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
    /// Add the client's port to connected_clients_details (one series per connection).
    #[arg(long = "export-client-port", env = "REDIS_EXPORTER_EXPORT_CLIENT_PORT")]
    export_client_port: bool,
    /// The name of the CONFIG command where it is renamed on the server; "-" skips it.
    #[arg(
        long = "config-command",
        env = "REDIS_EXPORTER_CONFIG_COMMAND",
        default_value = "CONFIG"
    )]
    config_command: String,
    /// Do not export per-consumer stream metrics (fewer series).
    #[arg(
        long = "streams-exclude-consumer-metrics",
        env = "REDIS_EXPORTER_STREAMS_EXCLUDE_CONSUMER_METRICS"
    )]
    streams_exclude_consumer_metrics: bool,
    /// Export only the size of checked keys, not their values.
    #[arg(
        long = "disable-exporting-key-values",
        env = "REDIS_EXPORTER_DISABLE_EXPORTING_KEY_VALUES"
    )]
    disable_exporting_key_values: bool,
    /// Skip the key checks when the instance is a master (run them on replicas).
    #[arg(
        long = "skip-checkkeys-for-role-master",
        env = "REDIS_EXPORTER_SKIP_CHECKKEYS_FOR_ROLE_MASTER"
    )]
    skip_checkkeys_for_role_master: bool,
    /// Every CONFIG setting as config_key_value{key,value} and, when numeric, config_value{key}.
    #[arg(
        long = "include-config-metrics",
        env = "REDIS_EXPORTER_INCL_CONFIG_METRICS"
    )]
    include_config_metrics: bool,
    /// Do not fetch LATENCY HISTOGRAM (commands_latencies_usec; Redis 7 and newer).
    #[arg(
        long = "exclude-latency-histogram-metrics",
        env = "REDIS_EXPORTER_EXCLUDE_LATENCY_HISTOGRAM_METRICS"
    )]
    exclude_latency_histogram_metrics: bool,
    /// Export db_keys and db_keys_expiring (0) for databases without keys too.
    #[arg(long = "include-metrics-for-empty-databases", env = "REDIS_EXPORTER_INCL_METRICS_FOR_EMPTY_DATABASES", default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    include_metrics_for_empty_databases: bool,
    /// The target is Tile38: also export its SERVER statistics as tile38_*.
    #[arg(long = "is-tile38", env = "REDIS_EXPORTER_IS_TILE38")]
    is_tile38: bool,
    /// Name to verify the Redis server's TLS certificate against (default: the host dialled).
    #[arg(long = "tls-server-name", env = "REDIS_EXPORTER_TLS_SERVER_NAME")]
    tls_server_name: Option<String>,
    /// Upstream's log format flag: txt (logfmt) or json. --log.format given on the command line wins.
    #[arg(long = "log-format", env = "REDIS_EXPORTER_LOG_FORMAT", value_name = "FORMAT", value_parser = parse_upstream_log_format)]
    upstream_log_format: Option<LogFormat>,
    /// Upstream's log level flag: debug, info, warn or error. --log.level given on the command line wins.
    #[arg(long = "log-level", env = "REDIS_EXPORTER_LOG_LEVEL", value_name = "LEVEL", value_parser = parse_upstream_log_level)]
    upstream_log_level: Option<LogLevel>,
    /// Same as --log.level=debug.
    #[arg(long, env = "REDIS_EXPORTER_DEBUG")]
    debug: bool,
    #[command(flatten)]
    upstream_web: UpstreamWebFlags,
    #[command(flatten)]
    not_implemented: NotImplementedFlags,
}

// Upstream's own flags for the web server; they become a web config for the runtime
// (`upstream_web_config`), so deployments that use them need no change. (Plain comments: a doc
// comment here would become the program's --help text.)
#[derive(Debug, Args)]
struct UpstreamWebFlags {
    /// Certificate for serving metrics over HTTPS (with --tls-server-key-file).
    #[arg(
        long = "tls-server-cert-file",
        env = "REDIS_EXPORTER_TLS_SERVER_CERT_FILE"
    )]
    tls_server_cert_file: Option<PathBuf>,
    /// Key for serving metrics over HTTPS (with --tls-server-cert-file).
    #[arg(
        long = "tls-server-key-file",
        env = "REDIS_EXPORTER_TLS_SERVER_KEY_FILE"
    )]
    tls_server_key_file: Option<PathBuf>,
    /// CA that scrapers' client certificates must be signed by (HTTPS with client authentication).
    #[arg(
        long = "tls-server-ca-cert-file",
        env = "REDIS_EXPORTER_TLS_SERVER_CA_CERT_FILE"
    )]
    tls_server_ca_cert_file: Option<PathBuf>,
    /// Lowest TLS version served: TLS1.2 or TLS1.3.
    #[arg(
        long = "tls-server-min-version",
        env = "REDIS_EXPORTER_TLS_SERVER_MIN_VERSION",
        default_value = "TLS1.2"
    )]
    tls_server_min_version: String,
    /// User name scrapers must send (HTTP basic authentication, with --basic-auth-password).
    #[arg(
        long = "basic-auth-username",
        env = "REDIS_EXPORTER_BASIC_AUTH_USERNAME",
        default_value = ""
    )]
    basic_auth_username: String,
    /// Password scrapers must send (HTTP basic authentication).
    #[arg(
        long = "basic-auth-password",
        env = "REDIS_EXPORTER_BASIC_AUTH_PASSWORD",
        default_value = "",
        hide_default_value = true,
        hide_env_values = true
    )]
    basic_auth_password: String,
}

// Upstream flags that are accepted (so unit files and containers start unchanged) but do
// nothing here; setting one logs a warning. The README says why each is missing.
#[derive(Debug, Args)]
struct NotImplementedFlags {
    /// Not implemented (accepted for compatibility): Lua patterns grouping keys for key_group_* metrics.
    #[arg(
        long = "check-key-groups",
        env = "REDIS_EXPORTER_CHECK_KEY_GROUPS",
        default_value = ""
    )]
    check_key_groups: String,
    /// Not implemented (accepted for compatibility): the most key groups per database.
    #[arg(
        long = "max-distinct-key-groups",
        env = "REDIS_EXPORTER_MAX_DISTINCT_KEY_GROUPS",
        default_value_t = 100
    )]
    max_distinct_key_groups: i64,
    /// Accepted for compatibility, always on: secrets (requirepass, masterauth, ...) never
    /// appear in config_key_value.
    #[arg(long = "redact-config-metrics", env = "REDIS_EXPORTER_REDACT_CONFIG_METRICS", default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    redact_config_metrics: bool,
    /// Not implemented (accepted for compatibility): metrics of Redis modules (RediSearch).
    #[arg(
        long = "include-modules-metrics",
        env = "REDIS_EXPORTER_INCL_MODULES_METRICS"
    )]
    include_modules_metrics: bool,
}

impl NotImplementedFlags {
    /// The flags given that have no effect, for a start-up warning.
    fn given(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        if !self.check_key_groups.trim().is_empty() {
            given.push("--check-key-groups");
        }
        if !self.redact_config_metrics {
            given.push("--redact-config-metrics=false");
        }
        if self.include_modules_metrics {
            given.push("--include-modules-metrics");
        }
        given
    }
}

fn warn_about_flags_without_effect(flags: &NotImplementedFlags) {
    let given = flags.given();
    if !given.is_empty() {
        tracing::warn!(
            flags = %given.join(","),
            "accepted for compatibility with oliver006/redis_exporter, without effect here (see the README)"
        );
    }
}

/// Upstream's `--log-format` values (`txt` is its name for the text format; ours is logfmt).
fn parse_upstream_log_format(s: &str) -> Result<LogFormat, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "txt" | "text" | "logfmt" => Ok(LogFormat::Logfmt),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("unknown log format {other:?} (txt, json)")),
    }
}

/// Upstream's `--log-level` values (logrus level names, any case); trace folds into debug and
/// fatal/panic into error.
fn parse_upstream_log_level(s: &str) -> Result<LogLevel, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "trace" | "debug" => Ok(LogLevel::Debug),
        "info" => Ok(LogLevel::Info),
        "warn" | "warning" => Ok(LogLevel::Warn),
        "error" | "fatal" | "panic" => Ok(LogLevel::Error),
        other => Err(format!(
            "unknown log level {other:?} (debug, info, warn, error)"
        )),
    }
}

/// The effective log settings: `--debug` wins; then `--log.level`/`--log.format` given on the
/// command line; then upstream's `--log-level`/`--log-format` (flag or environment).
fn resolve_logging(flags: &mut Flags, matches: &ArgMatches) {
    let on_command_line = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    if !on_command_line("log.format") {
        if let Some(format) = flags.upstream_log_format {
            flags.log.format = format;
        }
    }
    if !on_command_line("log.level") {
        if let Some(level) = flags.upstream_log_level {
            flags.log.level = level;
        }
    }
    if flags.debug {
        flags.log.level = LogLevel::Debug;
    }
}

/// Upstream's `--tls-server-*` and `--basic-auth-*` flags as an exporter-toolkit web config
/// (JSON, which is YAML too); `None` when none of them is set.
fn upstream_web_config(web: &UpstreamWebFlags) -> Result<Option<serde_json::Value>, String> {
    let mut config = serde_json::Map::new();
    match (&web.tls_server_cert_file, &web.tls_server_key_file) {
        (Some(cert), Some(key)) => {
            let min_version = web.tls_server_min_version.trim().replace('.', "");
            let mut tls = serde_json::json!({
                "cert_file": absolute(cert)?,
                "key_file": absolute(key)?,
                "min_version": min_version,
            });
            if let Some(ca) = &web.tls_server_ca_cert_file {
                tls["client_ca_file"] = absolute(ca)?.into();
                tls["client_auth_type"] = "RequireAndVerifyClientCert".into();
            }
            config.insert("tls_server_config".into(), tls);
        }
        (None, None) if web.tls_server_ca_cert_file.is_none() => {}
        _ => {
            return Err(
                "--tls-server-cert-file and --tls-server-key-file go together (and \
                 --tls-server-ca-cert-file needs both)"
                    .into(),
            )
        }
    }
    match (
        web.basic_auth_username.is_empty(),
        web.basic_auth_password.is_empty(),
    ) {
        (true, true) => {}
        (false, false) => {
            let hash = bcrypt::hash(&web.basic_auth_password, BASIC_AUTH_BCRYPT_COST)
                .map_err(|e| format!("--basic-auth-password: {e}"))?;
            config.insert(
                "basic_auth_users".into(),
                serde_json::json!({ web.basic_auth_username.as_str(): hash }),
            );
        }
        _ => return Err("--basic-auth-username and --basic-auth-password go together".into()),
    }
    Ok((!config.is_empty()).then_some(serde_json::Value::Object(config)))
}

/// bcrypt's cost for the password of `--basic-auth-password`: each check costs about 50 ms at 10
/// (the runtime checks each scrape), and the hash never leaves the process's private file.
const BASIC_AUTH_BCRYPT_COST: u32 = 10;

fn absolute(path: &std::path::Path) -> Result<String, String> {
    std::path::absolute(path)
        .map(|p| p.display().to_string())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Upstream's environment variables for the runtime's shared web flags.
const WEB_FLAG_ENV: [(&str, &str); 2] = [
    ("web.listen-address", "REDIS_EXPORTER_WEB_LISTEN_ADDRESS"),
    ("web.telemetry-path", "REDIS_EXPORTER_WEB_TELEMETRY_PATH"),
];

const PROGRAM: Program = Program {
    binary: "redis-exporter",
    upstream_name: "redis_exporter",
    about: "Prometheus exporter for Redis metrics, drop-in for oliver006/redis_exporter.",
    title: "Redis Exporter",
    default_listen: ":9121",
    single_dash_long_flags: true,
};

/// What redis-exporter adds to the runtime's command line: upstream's environment variables
/// for the shared web flags, Go's boolean forms, and Go's "last one wins" for repeated flags.
fn customize(cmd: Command) -> Command {
    let cmd = WEB_FLAG_ENV
        .iter()
        .fold(cmd.args_override_self(true), |cmd, &(id, env)| {
            cmd.mut_arg(id, |a| a.env(env))
        });
    go_style_bools(cmd)
}

/// Go's flag package takes a boolean bare (`-is-cluster`) or with a value (`-is-cluster=true`,
/// `-set-client-name=false`), and upstream reads `REDIS_EXPORTER_*=1` or `=true` alike: every
/// boolean flag here does the same.
fn go_style_bools(cmd: Command) -> Command {
    let bools: Vec<(String, bool)> = cmd
        .get_arguments()
        .filter_map(|a| {
            let default_true = a.get_default_values().iter().any(|v| v == "true");
            let is_bool = matches!(a.get_action(), ArgAction::SetTrue)
                || a.get_value_names()
                    .is_some_and(|names| names.iter().any(|n| n == "BOOL"));
            is_bool.then(|| (a.get_id().to_string(), default_true))
        })
        .collect();
    bools.into_iter().fold(cmd, |cmd, (id, default_true)| {
        cmd.mut_arg(id, |a| {
            a.action(ArgAction::Set)
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("true")
                .default_value(if default_true { "true" } else { "false" })
                .value_name("BOOL")
                .value_parser(BoolishValueParser::new())
        })
    })
}

/// `--config-command`: `-` (or nothing) skips CONFIG, as upstream.
fn config_command(name: &str) -> Option<String> {
    let name = name.trim();
    (!name.is_empty() && name != "-").then(|| name.to_string())
}

fn key_arg(flag: &str, value: &str) -> Result<Vec<DbKey>, String> {
    parse_key_arg(value).map_err(|e| format!("--{flag}: {e}"))
}

fn main() -> ExitCode {
    exporter_core::run::main(PROGRAM, customize, start)
}

fn start(mut flags: Flags, matches: &ArgMatches) -> Result<Startup, String> {
    resolve_logging(&mut flags, matches);
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
    // Logging first, so the warning below reaches the configured format (the runtime's own
    // initialisation then keeps this subscriber).
    exporter_core::log::init(flags.log.level, flags.log.format);
    warn_about_flags_without_effect(&flags.not_implemented);
    let upstream_web_config = upstream_web_config(&flags.upstream_web)?
        .map(|config| {
            ReloadingWebConfig::from_text("--tls-server-*/--basic-auth-* flags", config.to_string())
        })
        .transpose()
        .map_err(|e| e.to_string())?;
    let tls = TlsSettings::new(
        flags.tls_ca_cert_file.as_deref(),
        flags.tls_client_cert_file.as_deref(),
        flags.tls_client_key_file.as_deref(),
        flags.skip_tls_verification,
    )
    .and_then(|t| t.with_server_name(flags.tls_server_name.as_deref()))
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
        export_client_port: flags.export_client_port,
        set_client_name: flags.set_client_name,
        is_tile38: flags.is_tile38,
        config_command: config_command(&flags.config_command),
        streams_exclude_consumer_metrics: flags.streams_exclude_consumer_metrics,
        disable_exporting_key_values: flags.disable_exporting_key_values,
        skip_checkkeys_for_role_master: flags.skip_checkkeys_for_role_master,
        include_metrics_for_empty_databases: flags.include_metrics_for_empty_databases,
        exclude_latency_histogram_metrics: flags.exclude_latency_histogram_metrics,
        include_config_metrics: flags.include_config_metrics,
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
    let handler = Arc::new(ScrapeHandler::new(
        Arc::clone(&opts),
        default_password,
        passwords,
        !flags.web.disable_exporter_metrics,
    ));
    let exporter = Exporter::new(namespace, collectors);
    let mut startup = Startup::new(flags.web, flags.log, exporter).on_bound(move |server| {
        server.route(
            "/scrape",
            "metrics of any Redis instance: /scrape?target=redis://host:port",
            handler,
        )
    });
    if let Some(config) = upstream_web_config {
        startup = startup.web_config(config);
    }
    Ok(startup)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<(Flags, ArgMatches), clap::Error> {
        exporter_core::run::parse_args::<Flags>(&PROGRAM, customize, args)
    }

    #[test]
    fn single_dash_long_flags_and_go_booleans_are_accepted() {
        let (f, _) = parse(&[
            "x",
            "-namespace",
            "foo",
            "-set-client-name=false",
            "-is-tile38",
            "-tls-server-name=redis.internal",
            "-log-format",
            "json",
            "-is-cluster=true",
            "-is-cluster=false",
        ])
        .unwrap();
        assert_eq!(f.namespace, "foo");
        assert!(!f.set_client_name);
        assert!(f.is_tile38);
        assert!(!f.is_cluster, "the last of a repeated flag wins, as in Go");
        assert_eq!(f.tls_server_name.as_deref(), Some("redis.internal"));
        assert_eq!(f.upstream_log_format, Some(LogFormat::Json));
        assert!(parse(&["x", "--is-cluster=maybe"]).is_err());
    }

    #[test]
    fn upstream_log_flags_map_onto_the_runtime_ones() {
        let resolved = |args: &[&str]| {
            let (mut f, m) = parse(args).unwrap();
            resolve_logging(&mut f, &m);
            (f.log.level, f.log.format)
        };
        assert_eq!(resolved(&["x"]), (LogLevel::Info, LogFormat::Logfmt));
        assert_eq!(
            resolved(&["x", "--log-format=json", "--log-level=WARNING"]),
            (LogLevel::Warn, LogFormat::Json)
        );
        assert_eq!(
            resolved(&["x", "--log-format=txt", "--log.format=json"]),
            (LogLevel::Info, LogFormat::Json),
            "the runtime's flag on the command line wins"
        );
        assert_eq!(
            resolved(&["x", "--log-level=error", "--debug"]),
            (LogLevel::Debug, LogFormat::Logfmt)
        );
        assert!(parse_upstream_log_level("loud").is_err());
        assert!(parse_upstream_log_format("xml").is_err());
    }

    #[test]
    fn upstream_web_flags_become_a_web_config() {
        let (f, _) = parse(&["x"]).unwrap();
        assert_eq!(upstream_web_config(&f.upstream_web), Ok(None));
        let (f, _) = parse(&[
            "x",
            "--tls-server-cert-file=/c.pem",
            "--tls-server-key-file=/k.pem",
            "--tls-server-ca-cert-file=/ca.pem",
            "--tls-server-min-version=TLS1.3",
        ])
        .unwrap();
        let config = upstream_web_config(&f.upstream_web).unwrap().unwrap();
        assert_eq!(
            config,
            serde_json::json!({"tls_server_config": {
                "cert_file": "/c.pem",
                "key_file": "/k.pem",
                "client_ca_file": "/ca.pem",
                "client_auth_type": "RequireAndVerifyClientCert",
                "min_version": "TLS13",
            }})
        );
        let (f, _) = parse(&[
            "x",
            "--basic-auth-username=prom",
            "--basic-auth-password=pw",
        ])
        .unwrap();
        let config = upstream_web_config(&f.upstream_web).unwrap().unwrap();
        let hash = config["basic_auth_users"]["prom"].as_str().unwrap();
        assert!(bcrypt::verify("pw", hash).unwrap());
        for half in [
            &["x", "--tls-server-cert-file=/c.pem"][..],
            &["x", "--tls-server-ca-cert-file=/ca.pem"],
            &["x", "--basic-auth-password=pw"],
        ] {
            let (f, _) = parse(half).unwrap();
            assert!(upstream_web_config(&f.upstream_web).is_err(), "{half:?}");
        }
    }

    #[test]
    fn config_command_dash_skips_config() {
        assert_eq!(config_command("CONFIG").as_deref(), Some("CONFIG"));
        assert_eq!(config_command(" -"), None);
        assert_eq!(config_command(""), None);
    }
}
