//! Turning the flags into what a scrape needs: [`ScrapeOptions`] (shared by every target of one
//! exporter), the `--redis.addr` target with its password, and the password file. Every error
//! names the flag it is about and never holds a password.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use resp::{TlsClient, TlsFile, TlsOptions, TlsSetupError};

use crate::flags::Flags;
use crate::keys::{parse_key_arg, DbKey};
use crate::target::{redact_url, PasswordMap, Secret, Target};

/// Everything a scrape needs besides the target; shared by every target of one exporter.
pub struct ScrapeOptions {
    /// `--namespace`: the prefix of every metric name.
    pub namespace: String,
    /// `--redis.user`, for targets whose address names no user.
    pub user: Option<String>,
    /// `--check-keys`: key patterns (SCAN) whose size and value to export.
    pub check_keys: Vec<DbKey>,
    /// `--check-single-keys`: keys whose size and value to export.
    pub check_single_keys: Vec<DbKey>,
    /// `--check-streams`: stream patterns (SCAN) whose XINFO to export.
    pub check_streams: Vec<DbKey>,
    /// `--check-single-streams`: streams whose XINFO to export.
    pub check_single_streams: Vec<DbKey>,
    /// `--count-keys`: patterns whose matching keys to count.
    pub count_keys: Vec<DbKey>,
    /// SCAN's COUNT hint.
    pub scan_batch: u32,
    /// Lua scripts (`--script`), sent with EVAL on every scrape.
    pub scripts: Vec<Vec<u8>>,
    /// `--include-system-metrics`: `total_system_memory_bytes`.
    pub include_system_metrics: bool,
    /// `--ping-on-connect`: time a PING on every scrape.
    pub ping_on_connect: bool,
    /// `--is-cluster`: CLUSTER INFO on every scrape, key checks follow MOVED.
    pub is_cluster: bool,
    /// `--export-client-list`: one `connected_clients_details` series per client.
    pub export_client_list: bool,
    /// `--export-client-port`: a `port` label on `connected_clients_details`.
    pub export_client_port: bool,
    /// `--set-client-name`: CLIENT SETNAME redis_exporter on connect.
    pub set_client_name: bool,
    /// `--is-tile38`: `SERVER EXT` in the main batch, its statistics as `tile38_*`.
    pub is_tile38: bool,
    /// `--config-command`: the name CONFIG is renamed to on the server; `None` (`-`) skips it.
    pub config_command: Option<String>,
    /// `--streams-exclude-consumer-metrics`: no `stream_group_consumer_*` series.
    pub streams_exclude_consumer_metrics: bool,
    /// `--disable-exporting-key-values`: `key_size` only, no `key_value(_as_string)`.
    pub disable_exporting_key_values: bool,
    /// `--skip-checkkeys-for-role-master`: no key checks on masters (they run on replicas).
    pub skip_checkkeys_for_role_master: bool,
    /// `--include-metrics-for-empty-databases`: zero `db_keys` for databases without keys.
    pub include_metrics_for_empty_databases: bool,
    /// `--exclude-latency-histogram-metrics`: no LATENCY HISTOGRAM (Redis 7's per-command
    /// latency histograms, some thousand samples on a busy server).
    pub exclude_latency_histogram_metrics: bool,
    /// `--include-config-metrics`: every CONFIG setting as `config_key_value` / `config_value`
    /// (secrets never: see `replies::config_setting_metrics`).
    pub include_config_metrics: bool,
    /// `--connection-timeout`: bounds connecting and every scrape.
    pub connection_timeout: Duration,
    /// TLS for `rediss://` targets (`--tls-*` flags).
    pub tls: TlsClient,
    /// `<ns>_target_scrape_request_errors_total`: bad `/scrape` requests.
    pub request_errors: Arc<AtomicU64>,
}

impl ScrapeOptions {
    /// The options the flags ask for: key lists parsed, scripts read, the TLS client built.
    pub fn from_flags(flags: &Flags) -> Result<ScrapeOptions, String> {
        if !exporter_core::encode::is_valid_metric_name(&flags.namespace) {
            return Err(format!(
                "--namespace {:?}: not a valid metric name prefix",
                flags.namespace
            ));
        }
        let tls = TlsClient::new(&TlsOptions {
            ca_file: flags.tls_ca_cert_file.clone(),
            client_cert: flags.tls_client_cert_file.clone(),
            client_key: flags.tls_client_key_file.clone(),
            skip_verify: flags.skip_tls_verification,
            server_name: flags.tls_server_name.clone(),
        })
        .map_err(tls_flag_error)?;
        Ok(ScrapeOptions {
            namespace: flags.namespace.clone(),
            user: (!flags.redis_user.is_empty()).then(|| flags.redis_user.clone()),
            check_keys: key_arg("check-keys", &flags.check_keys)?,
            check_single_keys: key_arg("check-single-keys", &flags.check_single_keys)?,
            check_streams: key_arg("check-streams", &flags.check_streams)?,
            check_single_streams: key_arg("check-single-streams", &flags.check_single_streams)?,
            count_keys: key_arg("count-keys", &flags.count_keys)?,
            scan_batch: flags.check_keys_batch_size.max(1),
            scripts: read_scripts(&flags.script)?,
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
        })
    }
}

/// The credentials of the flags: `--redis.password-file` (empty without the flag) and
/// `--redis.password` (the default for addresses the file does not list).
pub fn passwords(flags: &Flags) -> Result<(PasswordMap, Option<Secret>), String> {
    let map = match &flags.password_file {
        Some(path) => PasswordMap::load(path).map_err(|e| e.to_string())?,
        None => PasswordMap::default(),
    };
    let default =
        (!flags.redis_password.is_empty()).then(|| Secret::new(flags.redis_password.clone()));
    Ok((map, default))
}

/// The `--redis.addr` target with its password (the address's own, else the password file's,
/// else `default`); `None` when the flag is empty (only `/scrape?target=` is served).
pub fn redis_addr_target(
    addr: &str,
    passwords: &PasswordMap,
    default: Option<&Secret>,
) -> Result<Option<Target>, String> {
    if addr.trim().is_empty() {
        return Ok(None);
    }
    let mut target =
        Target::parse(addr).map_err(|e| format!("--redis.addr {}: {e}", redact_url(addr)))?;
    if target.password.is_none() {
        target.password = passwords.lookup(addr).or(default).cloned();
    }
    Ok(Some(target))
}

/// A TLS set-up error, worded with the flag that gave the file.
fn tls_flag_error(e: TlsSetupError) -> String {
    match e {
        TlsSetupError::ServerName { name } => {
            format!("--tls-server-name {name:?}: not a valid DNS name or IP address")
        }
        other => other.worded_with(|file| match file {
            TlsFile::Ca => "--tls-ca-cert-file",
            TlsFile::ClientCert => "--tls-client-cert-file",
            TlsFile::ClientKey => "--tls-client-key-file",
        }),
    }
}

/// `--script`: the comma-separated Lua files, read now.
fn read_scripts(list: &str) -> Result<Vec<Vec<u8>>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|path| std::fs::read(path).map_err(|e| format!("--script {path}: {e}")))
        .collect()
}

/// `--config-command`: `-` (or nothing) skips CONFIG, as upstream.
fn config_command(name: &str) -> Option<String> {
    let name = name.trim();
    (!name.is_empty() && name != "-").then(|| name.to_string())
}

fn key_arg(flag: &str, value: &str) -> Result<Vec<DbKey>, String> {
    parse_key_arg(value).map_err(|e| format!("--{flag}: {e}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::flags::tests::parse;

    /// The options of a command line without flags.
    pub(crate) fn options() -> ScrapeOptions {
        ScrapeOptions::from_flags(&parse(&["x"]).unwrap().0).unwrap()
    }

    fn from(args: &[&str]) -> Result<ScrapeOptions, String> {
        let mut all = vec!["x"];
        all.extend_from_slice(args);
        ScrapeOptions::from_flags(&parse(&all).unwrap().0)
    }

    #[test]
    fn defaults() {
        let o = options();
        assert_eq!(o.namespace, "redis");
        assert_eq!(o.user, None);
        assert!(o.check_keys.is_empty() && o.scripts.is_empty());
        assert_eq!(o.scan_batch, 1000);
        assert_eq!(o.config_command.as_deref(), Some("CONFIG"));
        assert!(o.set_client_name && o.include_metrics_for_empty_databases);
        assert_eq!(o.connection_timeout, Duration::from_secs(15));
    }

    #[test]
    fn flags_become_options() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("s.lua");
        std::fs::write(&script, "return {}").unwrap();
        let o = from(&[
            "--namespace=kv",
            "--redis.user=mon",
            "--check-keys=db2=user:*",
            "--count-keys=a,b",
            "--check-keys-batch-size=0",
            &format!("--script={}", script.display()),
            "--config-command=-",
            "--connection-timeout=1m",
            "--tls-server-name=redis.internal",
        ])
        .unwrap();
        assert_eq!(o.namespace, "kv");
        assert_eq!(o.user.as_deref(), Some("mon"));
        assert_eq!(
            o.check_keys,
            [DbKey {
                db: 2,
                key: "user:*".into()
            }]
        );
        assert_eq!(o.count_keys.len(), 2);
        assert_eq!(o.scan_batch, 1, "a batch of 0 would never finish");
        assert_eq!(o.scripts, [b"return {}".to_vec()]);
        assert_eq!(o.config_command, None);
        assert_eq!(o.connection_timeout, Duration::from_secs(60));
    }

    #[test]
    fn bad_values_name_their_flag() {
        for (args, want) in [
            (&["--namespace=bad-ns"][..], "--namespace"),
            (&["--check-streams=a=b=c"], "--check-streams"),
            (
                &["--script=/nonexistent/s.lua"],
                "--script /nonexistent/s.lua",
            ),
            (
                &["--tls-ca-cert-file=/nonexistent/ca.pem"],
                "--tls-ca-cert-file /nonexistent/ca.pem",
            ),
            (
                &["--tls-client-key-file=/k.pem"],
                "--tls-client-cert-file and --tls-client-key-file",
            ),
            (&["--tls-server-name=not a name"], "--tls-server-name"),
        ] {
            let err = from(args)
                .err()
                .unwrap_or_else(|| panic!("{args:?} accepted"));
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }

    #[test]
    fn config_command_dash_skips_config() {
        assert_eq!(config_command("CONFIG").as_deref(), Some("CONFIG"));
        assert_eq!(config_command(" -"), None);
        assert_eq!(config_command(""), None);
    }

    #[test]
    fn the_redis_addr_target_and_its_password() {
        let map = PasswordMap::parse(r#"{"redis://a:6379": "from-file"}"#).unwrap();
        let default = Secret::new("default");
        let pw = |addr: &str| {
            redis_addr_target(addr, &map, Some(&default))
                .unwrap()
                .and_then(|t| t.password)
                .map(|p| p.expose().to_string())
        };
        assert_eq!(pw("redis://a"), Some("from-file".into()));
        assert_eq!(pw("redis://b"), Some("default".into()));
        assert_eq!(pw("redis://:own@b"), Some("own".into()));
        assert!(redis_addr_target(" ", &map, None).unwrap().is_none());
        let err = redis_addr_target("http://u:hunter2@h", &map, None).unwrap_err();
        assert!(
            err.starts_with("--redis.addr") && !err.contains("hunter2"),
            "{err}"
        );
    }
}
