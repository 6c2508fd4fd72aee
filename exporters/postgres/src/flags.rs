//! The command line: upstream's flags and `PG_EXPORTER_*` variables ([`Flags`]), the
//! `--collector.<name>` switches from the collector table ([`customize`]), and the [`Options`]
//! they give ([`Flags::options`]).

use std::path::PathBuf;
use std::sync::Arc;

use clap::{ArgMatches, Args, Command};
use exporter_core::flags::RuntimeFlags;

use crate::auth_modules::AuthModules;
use crate::collector::{CollectorConfig, COLLECTORS};
use crate::instance::{parse_constant_labels, DiscoveryFilter};
use crate::self_metrics::QueriesFile;
use crate::{queries, sha256_hex, Options};

/// Every flag of the binary but `--collector.<name>` (added by [`customize`]).
#[derive(Debug, Args)]
pub struct Flags {
    /// The runtime's `--web.*` and `--log.*` flags.
    #[command(flatten)]
    pub runtime: RuntimeFlags,

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
    /// How often the stat_user_tables collector re-reads table and index sizes (Go duration;
    /// 0: on every scrape, as upstream). Tables created since are sized on the scrape that
    /// first lists them.
    #[arg(long = "collector.stat_user_tables.size-interval", default_value = "5m",
          value_name = "DURATION", value_parser = exporter_core::duration::parse_duration)]
    table_size_interval: std::time::Duration,
    /// Seconds to wait for a connection (and for pg_up's check) unless the DSN sets connect_timeout.
    #[arg(long = "connect-timeout", default_value_t = 3, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=600))]
    connect_timeout: u64,
}

/// Adds what [`Flags`] cannot derive: where data sources come from (they are not flags) and the
/// `--collector.<name>` / `--no-collector.<name>` switches of every collector.
pub fn customize(cmd: Command) -> Command {
    let cmd = cmd.after_help(
        "Data sources come from the environment: DATA_SOURCE_NAME (URI or key=value, several \
         comma-separated) or DATA_SOURCE_NAME_FILE, else DATA_SOURCE_URI(_FILE) with \
         DATA_SOURCE_USER(_FILE) and DATA_SOURCE_PASS(_FILE).",
    );
    COLLECTORS
        .add_switches(cmd)
        // Releases 0.16 to 0.19 named the replication_slots collector replication_slot.
        .mut_arg("collector.replication_slots", |a| {
            a.alias("collector.replication_slot")
        })
        .mut_arg("no-collector.replication_slots", |a| {
            a.alias("no-collector.replication_slot")
        })
}

impl Flags {
    /// What to collect and how; fails on a bad `--constantLabels` or `--extend.query-path`.
    pub fn options(&self, matches: &ArgMatches) -> Result<Options, String> {
        let (user_queries, queries_file) = match &self.query_path {
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
            collectors: self.enabled_collectors(matches),
            collector_config: CollectorConfig {
                stat_statements_limit: self.stat_statements_limit,
                table_size_interval: self.table_size_interval,
            },
            constant_labels: parse_constant_labels(&self.constant_labels)?,
            discovery: self.auto_discover.then(|| DiscoveryFilter {
                include: list(&self.include_databases),
                exclude: list(&self.exclude_databases),
            }),
            connect_timeout: std::time::Duration::from_secs(self.connect_timeout),
            user_queries,
            queries_file,
        })
    }

    /// `--config.file`'s auth modules for `/probe`, if the flag is given.
    pub fn auth_modules(&self) -> Result<Option<AuthModules>, String> {
        self.config_file
            .as_deref()
            .map(AuthModules::load)
            .transpose()
    }

    fn enabled_collectors(&self, m: &ArgMatches) -> Vec<&'static str> {
        COLLECTORS
            .enabled(m, |c| {
                let disabled_by_flag = (c.build.builtin_map && self.disable_default_metrics)
                    || (c.name == "settings" && self.disable_settings_metrics);
                c.default_enabled && !disabled_by_flag
            })
            .iter()
            .map(|c| c.name)
            .collect()
    }
}

fn list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::FromArgMatches;
    use exporter_core::run::Program;

    fn command() -> Command {
        let program = Program {
            binary: "postgres-exporter",
            upstream_name: "postgres_exporter",
            about: "",
            title: "",
            default_listen: ":9187",
            single_dash_long_flags: false,
        };
        exporter_core::run::command::<Flags>(&program, customize)
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
        let on = f.enabled_collectors(&m);
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
        let on = f.enabled_collectors(&m);
        assert!(
            !on.contains(&"stat_database") && !on.contains(&"locks") && !on.contains(&"settings")
        );
        assert!(on.contains(&"database") && on.contains(&"bgwriter") && on.contains(&"wal"));
        let (m, f) = parse(&[
            "--disable-default-metrics",
            "--collector.locks",
            "--no-collector.database",
        ]);
        let on = f.enabled_collectors(&m);
        assert!(on.contains(&"locks") && !on.contains(&"database"));
        assert!(command()
            .try_get_matches_from(["x", "--collector.nope"])
            .is_err());
        let (m, f) = parse(&["--no-collector.replication_slot"]);
        assert!(!f.enabled_collectors(&m).contains(&"replication_slots"));
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
        let o = f.options(&m).unwrap();
        assert_eq!(
            o.constant_labels,
            vec![("env".to_string(), "prod".to_string())]
        );
        assert_eq!(o.discovery.unwrap().exclude, vec!["a", "b"]);
        let (m, f) = parse(&["--constantLabels", "oops"]);
        assert!(f.options(&m).unwrap_err().contains("--constantLabels"));
    }

    #[test]
    fn size_interval_takes_go_durations_and_rejects_others() {
        let interval = |args: &[&str]| {
            let (m, f) = parse(args);
            f.options(&m).unwrap().collector_config.table_size_interval
        };
        assert_eq!(interval(&[]), crate::collector::DEFAULT_TABLE_SIZE_INTERVAL);
        let flag = "--collector.stat_user_tables.size-interval";
        assert_eq!(
            interval(&[flag, "1m30s"]),
            std::time::Duration::from_secs(90)
        );
        assert_eq!(interval(&[flag, "0"]), std::time::Duration::ZERO);
        for bad in ["soon", "-1m", "5 minutes"] {
            let err = command()
                .try_get_matches_from(["x", &format!("{flag}={bad}")])
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(flag) && err.contains("invalid duration"),
                "{err}"
            );
        }
    }

    #[test]
    fn auth_modules_only_with_the_flag() {
        let (_, f) = parse(&[]);
        assert!(f.auth_modules().unwrap().is_none());
        let (_, f) = parse(&["--config.file", "/nonexistent/postgres_exporter.yml"]);
        assert!(f.auth_modules().unwrap_err().contains("--config.file"));
    }
}
