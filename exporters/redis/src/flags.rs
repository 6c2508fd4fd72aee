//! The command line: every flag of oliver006/redis_exporter (names, environment variables,
//! defaults), Go's flag forms (single dash, bare or `=value` booleans, last one wins), and
//! upstream's log flags mapped onto the runtime's. The runtime's shared `--web.*` and `--log.*`
//! flags are flattened in; turning the flags into scrape options is [`crate::options`]'s job.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Args, Command};
use exporter_core::duration::parse_positive_duration;
use exporter_core::flags::RuntimeFlags;
use exporter_core::log::{LogFormat, LogLevel};

/// Every flag of redis-exporter: the runtime's `--web.*` and `--log.*`, then upstream's.
#[derive(Debug, Args)]
pub struct Flags {
    /// The runtime's `--web.*` and `--log.*` flags.
    #[command(flatten)]
    pub runtime: RuntimeFlags,

    /// Address of the Redis instance to scrape (redis://, rediss:// or unix://). Empty: serve
    /// only /scrape?target=.
    #[arg(
        long = "redis.addr",
        id = "redis.addr",
        env = "REDIS_ADDR",
        default_value = "redis://localhost:6379"
    )]
    pub redis_addr: String,
    /// User name for Redis ACL (Redis 6 and newer).
    #[arg(
        long = "redis.user",
        id = "redis.user",
        env = "REDIS_USER",
        default_value = ""
    )]
    pub redis_user: String,
    /// Password of the Redis instance.
    #[arg(
        long = "redis.password",
        id = "redis.password",
        env = "REDIS_PASSWORD",
        default_value = "",
        hide_default_value = true,
        hide_env_values = true
    )]
    pub redis_password: String,
    /// JSON file mapping Redis addresses to passwords, for --redis.addr and /scrape targets.
    #[arg(
        long = "redis.password-file",
        id = "redis.password-file",
        env = "REDIS_PASSWORD_FILE"
    )]
    pub password_file: Option<PathBuf>,
    /// Namespace (prefix) of the metrics.
    #[arg(long, env = "REDIS_EXPORTER_NAMESPACE", default_value = "redis")]
    pub namespace: String,
    /// Comma-separated [db=]key patterns to export value and length/size of, searched for with SCAN.
    #[arg(
        long = "check-keys",
        env = "REDIS_EXPORTER_CHECK_KEYS",
        default_value = ""
    )]
    pub check_keys: String,
    /// Comma-separated [db=]keys to export value and length/size of.
    #[arg(
        long = "check-single-keys",
        env = "REDIS_EXPORTER_CHECK_SINGLE_KEYS",
        default_value = ""
    )]
    pub check_single_keys: String,
    /// Comma-separated [db=]stream patterns to export stream, group and consumer info of, searched for with SCAN.
    #[arg(
        long = "check-streams",
        env = "REDIS_EXPORTER_CHECK_STREAMS",
        default_value = ""
    )]
    pub check_streams: String,
    /// Comma-separated [db=]streams to export stream, group and consumer info of.
    #[arg(
        long = "check-single-streams",
        env = "REDIS_EXPORTER_CHECK_SINGLE_STREAMS",
        default_value = ""
    )]
    pub check_single_streams: String,
    /// Comma-separated [db=]patterns whose matching keys to count (e.g. db0=production_*,db3=sessions:*), with SCAN.
    #[arg(
        long = "count-keys",
        env = "REDIS_EXPORTER_COUNT_KEYS",
        default_value = ""
    )]
    pub count_keys: String,
    /// SCAN COUNT hint for the key checks.
    #[arg(
        long = "check-keys-batch-size",
        env = "REDIS_EXPORTER_CHECK_KEYS_BATCH_SIZE",
        default_value_t = 1000
    )]
    pub check_keys_batch_size: u32,
    /// Comma-separated paths of Lua scripts whose results (name, value, name, value, ...) to export.
    #[arg(long, env = "REDIS_EXPORTER_SCRIPT", default_value = "")]
    pub script: String,
    /// Include system metrics such as redis_total_system_memory_bytes.
    #[arg(
        long = "include-system-metrics",
        env = "REDIS_EXPORTER_INCL_SYSTEM_METRICS"
    )]
    pub include_system_metrics: bool,
    /// Export only Redis metrics: no process_* or build info.
    #[arg(long = "redis-only-metrics", env = "REDIS_EXPORTER_REDIS_ONLY_METRICS")]
    pub redis_only_metrics: bool,
    /// PING the instance on every scrape and export the round-trip time.
    #[arg(long = "ping-on-connect", env = "REDIS_EXPORTER_PING_ON_CONNECT")]
    pub ping_on_connect: bool,
    /// Bounds connecting to Redis and every scrape (Go-style duration: 500ms, 5s, 1m).
    #[arg(long = "connection-timeout", env = "REDIS_EXPORTER_CONNECTION_TIMEOUT", default_value = "15s", value_parser = parse_positive_duration)]
    pub connection_timeout: Duration,
    /// Accept any TLS certificate from Redis.
    #[arg(
        long = "skip-tls-verification",
        env = "REDIS_EXPORTER_SKIP_TLS_VERIFICATION"
    )]
    pub skip_tls_verification: bool,
    /// CA certificate(s) to verify Redis' TLS certificate with (default: the system's).
    #[arg(long = "tls-ca-cert-file", env = "REDIS_EXPORTER_TLS_CA_CERT_FILE")]
    pub tls_ca_cert_file: Option<PathBuf>,
    /// Client certificate for Redis servers that require TLS client authentication.
    #[arg(
        long = "tls-client-cert-file",
        env = "REDIS_EXPORTER_TLS_CLIENT_CERT_FILE"
    )]
    pub tls_client_cert_file: Option<PathBuf>,
    /// Client key for Redis servers that require TLS client authentication.
    #[arg(
        long = "tls-client-key-file",
        env = "REDIS_EXPORTER_TLS_CLIENT_KEY_FILE"
    )]
    pub tls_client_key_file: Option<PathBuf>,
    /// The target is a Redis Cluster node: fetch CLUSTER INFO on every scrape.
    #[arg(long = "is-cluster", env = "REDIS_EXPORTER_IS_CLUSTER")]
    pub is_cluster: bool,
    /// Export one series per connected client (CLIENT LIST).
    #[arg(long = "export-client-list", env = "REDIS_EXPORTER_EXPORT_CLIENT_LIST")]
    pub export_client_list: bool,
    /// Name the exporter's connection redis_exporter (CLIENT SETNAME).
    #[arg(long = "set-client-name", env = "REDIS_EXPORTER_SET_CLIENT_NAME", default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub set_client_name: bool,
    /// Add the client's port to connected_clients_details (one series per connection).
    #[arg(long = "export-client-port", env = "REDIS_EXPORTER_EXPORT_CLIENT_PORT")]
    pub export_client_port: bool,
    /// The name of the CONFIG command where it is renamed on the server; "-" skips it.
    #[arg(
        long = "config-command",
        env = "REDIS_EXPORTER_CONFIG_COMMAND",
        default_value = "CONFIG"
    )]
    pub config_command: String,
    /// Do not export per-consumer stream metrics (fewer series).
    #[arg(
        long = "streams-exclude-consumer-metrics",
        env = "REDIS_EXPORTER_STREAMS_EXCLUDE_CONSUMER_METRICS"
    )]
    pub streams_exclude_consumer_metrics: bool,
    /// Export only the size of checked keys, not their values.
    #[arg(
        long = "disable-exporting-key-values",
        env = "REDIS_EXPORTER_DISABLE_EXPORTING_KEY_VALUES"
    )]
    pub disable_exporting_key_values: bool,
    /// Skip the key checks when the instance is a master (run them on replicas).
    #[arg(
        long = "skip-checkkeys-for-role-master",
        env = "REDIS_EXPORTER_SKIP_CHECKKEYS_FOR_ROLE_MASTER"
    )]
    pub skip_checkkeys_for_role_master: bool,
    /// Every CONFIG setting as config_key_value{key,value} and, when numeric, config_value{key}.
    #[arg(
        long = "include-config-metrics",
        env = "REDIS_EXPORTER_INCL_CONFIG_METRICS"
    )]
    pub include_config_metrics: bool,
    /// Do not fetch LATENCY HISTOGRAM (commands_latencies_usec; Redis 7 and newer).
    #[arg(
        long = "exclude-latency-histogram-metrics",
        env = "REDIS_EXPORTER_EXCLUDE_LATENCY_HISTOGRAM_METRICS"
    )]
    pub exclude_latency_histogram_metrics: bool,
    /// Export db_keys and db_keys_expiring (0) for databases without keys too.
    #[arg(long = "include-metrics-for-empty-databases", env = "REDIS_EXPORTER_INCL_METRICS_FOR_EMPTY_DATABASES", default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub include_metrics_for_empty_databases: bool,
    /// The target is Tile38: also export its SERVER statistics as tile38_*.
    #[arg(long = "is-tile38", env = "REDIS_EXPORTER_IS_TILE38")]
    pub is_tile38: bool,
    /// Name to verify the Redis server's TLS certificate against (default: the host dialled).
    #[arg(long = "tls-server-name", env = "REDIS_EXPORTER_TLS_SERVER_NAME")]
    pub tls_server_name: Option<String>,
    /// Upstream's log format flag: txt (logfmt) or json. --log.format given on the command line wins.
    #[arg(long = "log-format", env = "REDIS_EXPORTER_LOG_FORMAT", value_name = "FORMAT", value_parser = parse_upstream_log_format)]
    pub upstream_log_format: Option<LogFormat>,
    /// Upstream's log level flag: debug, info, warn or error. --log.level given on the command line wins.
    #[arg(long = "log-level", env = "REDIS_EXPORTER_LOG_LEVEL", value_name = "LEVEL", value_parser = parse_upstream_log_level)]
    pub upstream_log_level: Option<LogLevel>,
    /// Same as --log.level=debug.
    #[arg(long, env = "REDIS_EXPORTER_DEBUG")]
    pub debug: bool,
    /// Upstream's `--tls-server-*` and `--basic-auth-*` flags.
    #[command(flatten)]
    pub upstream_web: UpstreamWebFlags,
    /// Upstream flags accepted without effect.
    #[command(flatten)]
    pub not_implemented: NotImplementedFlags,
}

/// Upstream's own flags for the web server; they become a web config for the runtime
/// ([`crate::upstream_web::upstream_web_config`]), so deployments that use them need no change.
#[derive(Debug, Args)]
pub struct UpstreamWebFlags {
    /// Certificate for serving metrics over HTTPS (with --tls-server-key-file).
    #[arg(
        long = "tls-server-cert-file",
        env = "REDIS_EXPORTER_TLS_SERVER_CERT_FILE"
    )]
    pub tls_server_cert_file: Option<PathBuf>,
    /// Key for serving metrics over HTTPS (with --tls-server-cert-file).
    #[arg(
        long = "tls-server-key-file",
        env = "REDIS_EXPORTER_TLS_SERVER_KEY_FILE"
    )]
    pub tls_server_key_file: Option<PathBuf>,
    /// CA that scrapers' client certificates must be signed by (HTTPS with client authentication).
    #[arg(
        long = "tls-server-ca-cert-file",
        env = "REDIS_EXPORTER_TLS_SERVER_CA_CERT_FILE"
    )]
    pub tls_server_ca_cert_file: Option<PathBuf>,
    /// Lowest TLS version served: TLS1.2 or TLS1.3.
    #[arg(
        long = "tls-server-min-version",
        env = "REDIS_EXPORTER_TLS_SERVER_MIN_VERSION",
        default_value = "TLS1.2"
    )]
    pub tls_server_min_version: String,
    /// User name scrapers must send (HTTP basic authentication, with --basic-auth-password).
    #[arg(
        long = "basic-auth-username",
        env = "REDIS_EXPORTER_BASIC_AUTH_USERNAME",
        default_value = ""
    )]
    pub basic_auth_username: String,
    /// Password scrapers must send (HTTP basic authentication).
    #[arg(
        long = "basic-auth-password",
        env = "REDIS_EXPORTER_BASIC_AUTH_PASSWORD",
        default_value = "",
        hide_default_value = true,
        hide_env_values = true
    )]
    pub basic_auth_password: String,
}

/// Upstream flags that are accepted (so unit files and containers start unchanged) but do nothing
/// here; setting one logs a warning. The README says why each is missing.
#[derive(Debug, Args)]
pub struct NotImplementedFlags {
    /// Not implemented (accepted for compatibility): Lua patterns grouping keys for key_group_* metrics.
    #[arg(
        long = "check-key-groups",
        env = "REDIS_EXPORTER_CHECK_KEY_GROUPS",
        default_value = ""
    )]
    pub check_key_groups: String,
    /// Not implemented (accepted for compatibility): the most key groups per database.
    #[arg(
        long = "max-distinct-key-groups",
        env = "REDIS_EXPORTER_MAX_DISTINCT_KEY_GROUPS",
        default_value_t = 100
    )]
    pub max_distinct_key_groups: i64,
    /// Accepted for compatibility, always on: secrets (requirepass, masterauth, ...) never
    /// appear in config_key_value.
    #[arg(long = "redact-config-metrics", env = "REDIS_EXPORTER_REDACT_CONFIG_METRICS", default_value_t = true, action = ArgAction::Set, value_name = "BOOL")]
    pub redact_config_metrics: bool,
    /// Not implemented (accepted for compatibility): metrics of Redis modules (RediSearch).
    #[arg(
        long = "include-modules-metrics",
        env = "REDIS_EXPORTER_INCL_MODULES_METRICS"
    )]
    pub include_modules_metrics: bool,
}

impl NotImplementedFlags {
    /// The flags given that have no effect, for a start-up warning.
    pub fn given(&self) -> Vec<&'static str> {
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

/// Logs one warning naming the upstream flags given that do nothing here.
pub fn warn_about_flags_without_effect(flags: &NotImplementedFlags) {
    let given = flags.given();
    if !given.is_empty() {
        tracing::warn!(
            flags = %given.join(","),
            "accepted for compatibility with oliver006/redis_exporter, without effect here (see the README)"
        );
    }
}

/// Upstream's `--log-format` values (`txt` is its name for the text format; ours is logfmt).
pub fn parse_upstream_log_format(s: &str) -> Result<LogFormat, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "txt" | "text" | "logfmt" => Ok(LogFormat::Logfmt),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("unknown log format {other:?} (txt, json)")),
    }
}

/// Upstream's `--log-level` values (logrus level names, any case); trace folds into debug and
/// fatal/panic into error.
pub fn parse_upstream_log_level(s: &str) -> Result<LogLevel, String> {
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
pub fn resolve_logging(flags: &mut Flags, matches: &ArgMatches) {
    let on_command_line = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    if !on_command_line("log.format") {
        if let Some(format) = flags.upstream_log_format {
            flags.runtime.log.format = format;
        }
    }
    if !on_command_line("log.level") {
        if let Some(level) = flags.upstream_log_level {
            flags.runtime.log.level = level;
        }
    }
    if flags.debug {
        flags.runtime.log.level = LogLevel::Debug;
    }
}

/// Upstream's environment variables for the runtime's shared web flags.
const WEB_FLAG_ENV: [(&str, &str); 2] = [
    ("web.listen-address", "REDIS_EXPORTER_WEB_LISTEN_ADDRESS"),
    ("web.telemetry-path", "REDIS_EXPORTER_WEB_TELEMETRY_PATH"),
];

/// What redis-exporter adds to the runtime's command line: upstream's environment variables
/// for the shared web flags, Go's boolean forms, and Go's "last one wins" for repeated flags.
pub fn customize(cmd: Command) -> Command {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use exporter_core::run::Program;

    /// The binary's program settings that matter to parsing (its `PROGRAM` lives in main.rs).
    const TEST_PROGRAM: Program = Program {
        binary: "redis-exporter",
        upstream_name: "redis_exporter",
        about: "test",
        title: "Redis Exporter",
        default_listen: ":9121",
        single_dash_long_flags: true,
    };

    /// Parses `args` (the program name first) as the binary does.
    pub(crate) fn parse(args: &[&str]) -> Result<(Flags, ArgMatches), clap::Error> {
        exporter_core::run::parse_args::<Flags>(&TEST_PROGRAM, customize, args)
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
            (f.runtime.log.level, f.runtime.log.format)
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
    fn flags_without_effect_are_named() {
        let (f, _) = parse(&["x"]).unwrap();
        assert!(f.not_implemented.given().is_empty());
        let (f, _) = parse(&[
            "x",
            "--check-key-groups=^(.*)$",
            "--redact-config-metrics=false",
            "--include-modules-metrics",
        ])
        .unwrap();
        assert_eq!(
            f.not_implemented.given(),
            [
                "--check-key-groups",
                "--redact-config-metrics=false",
                "--include-modules-metrics"
            ]
        );
    }

    #[test]
    fn the_struct_docs_do_not_replace_the_program_about() {
        let cmd = exporter_core::run::command::<Flags>(&TEST_PROGRAM, customize);
        assert_eq!(
            cmd.get_about().map(|a| a.to_string()).as_deref(),
            Some("test")
        );
        assert!(cmd.get_long_about().is_none());
    }
}
