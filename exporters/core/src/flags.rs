//! The flags every exporter shares, named as in the Go exporters (exporter-toolkit + promlog).

use std::path::PathBuf;

use clap::Args;

use crate::log::{LogFormat, LogLevel};

/// The `--web.*` flags every exporter takes (exporter-toolkit's), flattened into the exporter's own
/// flags and handed back in [`Startup`](crate::run::Startup): where and how to serve.
#[derive(Debug, Clone, Args)]
pub struct WebFlags {
    /// Addresses on which to expose metrics and web interface (repeatable). ":9100" means all
    /// interfaces.
    #[arg(
        long = "web.listen-address",
        id = "web.listen-address",
        value_name = "ADDR"
    )]
    pub listen_address: Vec<String>,

    /// Use systemd socket activation listeners instead of port listeners (Linux only).
    #[arg(long = "web.systemd-socket", id = "web.systemd-socket")]
    pub systemd_socket: bool,

    /// Path under which to expose metrics.
    #[arg(
        long = "web.telemetry-path",
        id = "web.telemetry-path",
        default_value = "/metrics",
        value_name = "PATH"
    )]
    pub telemetry_path: String,

    /// Path to a configuration file that can enable TLS or authentication (exporter-toolkit
    /// format).
    #[arg(long = "web.config.file", id = "web.config.file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,

    /// Exclude metrics about the exporter itself (process_*, build info).
    #[arg(
        long = "web.disable-exporter-metrics",
        id = "web.disable-exporter-metrics"
    )]
    pub disable_exporter_metrics: bool,

    /// Maximum number of parallel scrape requests. Use 0 to disable.
    #[arg(
        long = "web.max-requests",
        id = "web.max-requests",
        default_value_t = 40,
        value_name = "N"
    )]
    pub max_requests: usize,
}

/// The runtime's `--web.*` and `--log.*` flags together, for an exporter's flags to flatten as one
/// field.
#[derive(Debug, Clone, Args)]
pub struct RuntimeFlags {
    /// The runtime's `--web.*` flags.
    #[command(flatten)]
    pub web: WebFlags,
    /// The runtime's `--log.*` flags.
    #[command(flatten)]
    pub log: LogFlags,
}

/// The `--log.*` flags every exporter takes (promlog's), flattened into the exporter's own flags;
/// [`log::init`](crate::log::init) applies them.
#[derive(Debug, Clone, Args)]
pub struct LogFlags {
    /// Only log messages with the given severity or above.
    #[arg(
        long = "log.level",
        id = "log.level",
        value_enum,
        default_value = "info"
    )]
    pub level: LogLevel,

    /// Output format of log messages.
    #[arg(
        long = "log.format",
        id = "log.format",
        value_enum,
        default_value = "logfmt"
    )]
    pub format: LogFormat,
}

/// Go programs take long flags with one dash (`-redis.addr x`): rewrites those that name one of
/// `cmd`'s long flags to two dashes. Arguments after `--`, and short flags, stay as they are.
pub fn go_style_args(
    cmd: &clap::Command,
    args: impl Iterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    let longs: Vec<&str> = cmd.get_arguments().filter_map(|a| a.get_long()).collect();
    let mut out = Vec::new();
    let mut rest_are_values = false;
    for (i, arg) in args.enumerate() {
        let text = arg.to_str().unwrap_or("");
        if i > 0 && !rest_are_values {
            if text == "--" {
                rest_are_values = true;
            } else if let Some(flag) = text.strip_prefix('-').filter(|f| !f.starts_with('-')) {
                let name = flag.split('=').next().unwrap_or("");
                if name.len() > 1 && longs.contains(&name) {
                    out.push(format!("-{text}").into());
                    continue;
                }
            }
        }
        out.push(arg);
    }
    out
}

/// Resolves a Go-style listen address: `:9100` listens on every interface.
pub fn resolve_listen_address(addr: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let full = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_string()
    };
    full.to_socket_addrs()
        .map_err(|e| format!("--web.listen-address {addr:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("--web.listen-address {addr:?}: resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_dash_long_flags_become_double_dash() {
        let cmd = clap::Command::new("t")
            .arg(clap::Arg::new("a").long("redis.addr"))
            .arg(
                clap::Arg::new("c")
                    .long("is-cluster")
                    .action(clap::ArgAction::SetTrue),
            )
            .arg(
                clap::Arg::new("x")
                    .short('x')
                    .action(clap::ArgAction::SetTrue),
            );
        let args = [
            "t",
            "-redis.addr",
            "r",
            "-is-cluster",
            "-redis.addr=s",
            "-x",
            "-nope",
            "--",
            "-is-cluster",
        ];
        let out = go_style_args(&cmd, args.iter().map(std::ffi::OsString::from));
        assert_eq!(
            out,
            [
                "t",
                "--redis.addr",
                "r",
                "--is-cluster",
                "--redis.addr=s",
                "-x",
                "-nope",
                "--",
                "-is-cluster"
            ]
        );
    }

    #[test]
    fn go_style_addresses_resolve() {
        assert_eq!(
            resolve_listen_address(":9100").unwrap().to_string(),
            "0.0.0.0:9100"
        );
        assert_eq!(
            resolve_listen_address("127.0.0.1:1").unwrap().to_string(),
            "127.0.0.1:1"
        );
        assert!(resolve_listen_address("nonsense").is_err());
        assert!(resolve_listen_address("127.0.0.1:99999").is_err());
    }
}
