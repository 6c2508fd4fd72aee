//! `postgres-exporter`: wires flags and the DATA_SOURCE_* environment to the collectors and the
//! shared runtime.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{ArgMatches, Args, Command};
use exporter_core::flags::{add_collector_flags, collector_choice, LogFlags, WebFlags};
use exporter_core::run::{Program, Startup};
use postgres_exporter::collector::{CollectorConfig, COLLECTORS};
use postgres_exporter::config::Config;
use postgres_exporter::dsn::data_sources;
use postgres_exporter::instance::{parse_constant_labels, DiscoveryFilter};
use postgres_exporter::meta::QueriesFile;
use postgres_exporter::probe::Probe;
use postgres_exporter::{build_exporter, queries, sha256_hex, Options};

#[derive(Debug, Args)]
struct Flags {
    #[command(flatten)]
    web: WebFlags,
    #[command(flatten)]
    log: LogFlags,

    /// Do not include default metrics (upstream's built-in maps: pg_stat_database, pg_locks,
    /// pg_stat_activity, pg_stat_replication, pg_replication_slots, pg_stat_archiver).
    #[arg(
        long = "disable-default-metrics",
        env = "PG_EXPORTER_DISABLE_DEFAULT_METRICS"
    )]
    disable_default_metrics: bool,
    /// Do not include pg_settings metrics.
    #[arg(
        long = "disable-settings-metrics",
        env = "PG_EXPORTER_DISABLE_SETTINGS_METRICS"
    )]
    disable_settings_metrics: bool,
    /// Whether to discover the databases on a server dynamically.
    #[arg(
        long = "auto-discover-databases",
        env = "PG_EXPORTER_AUTO_DISCOVER_DATABASES"
    )]
    auto_discover: bool,
    /// A list of databases to only include when autoDiscoverDatabases is enabled (comma-separated).
    #[arg(
        long = "include-databases",
        env = "PG_EXPORTER_INCLUDE_DATABASES",
        default_value = ""
    )]
    include_databases: String,
    /// A list of databases to remove when autoDiscoverDatabases is enabled (comma-separated).
    #[arg(
        long = "exclude-databases",
        env = "PG_EXPORTER_EXCLUDE_DATABASES",
        default_value = ""
    )]
    exclude_databases: String,
    /// Path to custom queries to run (upstream's queries.yaml format).
    #[arg(
        long = "extend.query-path",
        env = "PG_EXPORTER_EXTEND_QUERY_PATH",
        value_name = "FILE"
    )]
    query_path: Option<PathBuf>,
    /// A list of label=value separated by comma(,).
    #[arg(
        long = "constantLabels",
        env = "PG_EXPORTER_CONSTANT_LABELS",
        default_value = ""
    )]
    constant_labels: String,
    /// Configuration file with auth_modules for /probe (upstream's postgres_exporter.yml).
    #[arg(
        long = "config.file",
        env = "PG_EXPORTER_CONFIG_FILE",
        value_name = "FILE"
    )]
    config_file: Option<PathBuf>,
    /// How many of the most expensive statements the stat_statements collector reports.
    #[arg(long = "collector.stat_statements.limit", default_value_t = 100)]
    stat_statements_limit: u32,
    /// Seconds to wait for a connection (and for pg_up's check) unless the DSN sets connect_timeout.
    #[arg(long = "connect-timeout", default_value_t = 3, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=600))]
    connect_timeout: u64,
}

const PROGRAM: Program = Program {
    binary: "postgres-exporter",
    upstream_name: "postgres_exporter",
    about: "Prometheus exporter for PostgreSQL server metrics, drop-in for postgres_exporter.",
    title: "Postgres Exporter",
    default_listen: ":9187",
    single_dash_long_flags: false,
};

/// Where data sources come from (they are not flags), and `--collector.<name>` switches.
fn customize(cmd: Command) -> Command {
    let cmd = cmd.after_help(
        "Data sources come from the environment: DATA_SOURCE_NAME (URI or key=value, several \
         comma-separated) or DATA_SOURCE_NAME_FILE, else DATA_SOURCE_URI(_FILE) with \
         DATA_SOURCE_USER(_FILE) and DATA_SOURCE_PASS(_FILE).",
    );
    add_collector_flags(
        cmd,
        COLLECTORS
            .iter()
            .map(|c| (c.name, c.default_enabled, c.help)),
    )
    // Releases 0.16 to 0.19 named the replication_slots collector replication_slot.
    .mut_arg("collector.replication_slots", |a| {
        a.alias("collector.replication_slot")
    })
    .mut_arg("no-collector.replication_slots", |a| {
        a.alias("no-collector.replication_slot")
    })
}

fn enabled_collectors(m: &ArgMatches, f: &Flags) -> Vec<&'static str> {
    COLLECTORS
        .iter()
        .filter(|c| {
            collector_choice(m, c.name).unwrap_or_else(|| {
                let disabled_by_flag = (c.builtin_map && f.disable_default_metrics)
                    || (c.name == "settings" && f.disable_settings_metrics);
                c.default_enabled && !disabled_by_flag
            })
        })
        .map(|c| c.name)
        .collect()
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect()
}

fn options(m: &ArgMatches, f: &Flags) -> Result<Options, String> {
    let (user_queries, queries_file) = match &f.query_path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--extend.query-path {}: {e}", path.display()))?;
            let parsed = queries::parse(&text, &path.display().to_string())
                .map_err(|e| format!("--extend.query-path {e}"))?;
            (
                parsed.into_iter().map(Arc::new).collect(),
                Some(QueriesFile {
                    filename: path.display().to_string(),
                    hashsum: sha256_hex(text.as_bytes()),
                }),
            )
        }
        None => (Vec::new(), None),
    };
    Ok(Options {
        collectors: enabled_collectors(m, f),
        collector_config: CollectorConfig {
            stat_statements_limit: f.stat_statements_limit,
        },
        constant_labels: parse_constant_labels(&f.constant_labels)?,
        discovery: f.auto_discover.then(|| DiscoveryFilter {
            include: list(&f.include_databases),
            exclude: list(&f.exclude_databases),
        }),
        connect_timeout: std::time::Duration::from_secs(f.connect_timeout),
        user_queries,
        queries_file,
    })
}

fn main() -> ExitCode {
    exporter_core::run::main(PROGRAM, customize, |flags: Flags, matches| {
        let opts = Arc::new(options(matches, &flags)?);
        let config = match &flags.config_file {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        let dsns = data_sources(&|k| std::env::var(k).ok(), &|p| std::fs::read_to_string(p))?;
        if dsns.is_empty() && flags.config_file.is_none() {
            return Err(
                "no data source: set DATA_SOURCE_NAME (or DATA_SOURCE_NAME_FILE, or \
                        DATA_SOURCE_URI with DATA_SOURCE_USER and DATA_SOURCE_PASS), or give \
                        --config.file for /probe"
                    .to_string(),
            );
        }
        let redacted: Vec<String> = dsns.iter().map(|d| d.redacted()).collect();
        let exporter = build_exporter(dsns, &opts)?;
        let probe = Arc::new(Probe::new(config, Arc::clone(&opts)));
        Ok(
            Startup::new(flags.web, flags.log, exporter).on_bound(move |server| {
                for r in &redacted {
                    tracing::info!(target = %r, "monitoring PostgreSQL");
                }
                server.route(
                    "/probe",
                    "metrics of another PostgreSQL server: ?target=host:port/dbname&auth_module=NAME",
                    probe,
                )
            }),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::FromArgMatches;

    fn command() -> Command {
        exporter_core::run::command::<Flags>(&PROGRAM, customize)
    }

    fn parse(args: &[&str]) -> (ArgMatches, Flags) {
        let mut all = vec!["x"];
        all.extend(args);
        let m = command().try_get_matches_from(all).unwrap();
        let f = Flags::from_arg_matches(&m).unwrap();
        (m, f)
    }

    #[test]
    fn collector_flags_and_upstream_switches() {
        let (m, f) = parse(&[]);
        let on = enabled_collectors(&m, &f);
        assert!(
            on.contains(&"settings")
                && on.contains(&"stat_database")
                && !on.contains(&"stat_statements")
        );
        let (m, f) = parse(&[
            "--disable-default-metrics",
            "--disable-settings-metrics",
            "--collector.wal",
        ]);
        let on = enabled_collectors(&m, &f);
        assert!(
            !on.contains(&"stat_database") && !on.contains(&"locks") && !on.contains(&"settings")
        );
        assert!(on.contains(&"database") && on.contains(&"bgwriter") && on.contains(&"wal"));
        let (m, f) = parse(&[
            "--disable-default-metrics",
            "--collector.locks",
            "--no-collector.database",
        ]);
        let on = enabled_collectors(&m, &f);
        assert!(on.contains(&"locks") && !on.contains(&"database"));
        assert!(command()
            .try_get_matches_from(["x", "--collector.nope"])
            .is_err());
        let (m, f) = parse(&["--no-collector.replication_slot"]);
        assert!(!enabled_collectors(&m, &f).contains(&"replication_slots"));
    }

    #[test]
    fn options_validate_labels_and_lists() {
        let (m, f) = parse(&[
            "--constantLabels",
            "env=prod",
            "--auto-discover-databases",
            "--exclude-databases",
            "a, b",
        ]);
        let o = options(&m, &f).unwrap();
        assert_eq!(
            o.constant_labels,
            vec![("env".to_string(), "prod".to_string())]
        );
        assert_eq!(o.discovery.unwrap().exclude, vec!["a", "b"]);
        let (m, f) = parse(&["--constantLabels", "oops"]);
        assert!(options(&m, &f).unwrap_err().contains("--constantLabels"));
    }
}
