//! `node-exporter`: wires flags to the collectors and the shared runtime.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgMatches, Args, Command};
use exporter_core::duration::parse_positive_duration;
use exporter_core::flags::{add_collector_flags, collector_choice, LogFlags, WebFlags};
use exporter_core::run::{Program, Startup};
use node_exporter::collector::COLLECTORS;
use node_exporter::config::{self, DeviceFilter, NodeConfig};
use regex::Regex;

#[derive(Debug, Args)]
struct Flags {
    #[command(flatten)]
    web: WebFlags,
    #[command(flatten)]
    log: LogFlags,

    /// procfs mountpoint.
    #[arg(long = "path.procfs", id = "path.procfs", default_value = "/proc")]
    procfs: PathBuf,
    /// sysfs mountpoint.
    #[arg(long = "path.sysfs", id = "path.sysfs", default_value = "/sys")]
    sysfs: PathBuf,
    /// rootfs mountpoint.
    #[arg(long = "path.rootfs", id = "path.rootfs", default_value = "/")]
    rootfs: PathBuf,
    /// udev data path.
    #[arg(
        long = "path.udev.data",
        id = "path.udev.data",
        default_value = "/run/udev/data"
    )]
    udev_data: PathBuf,

    /// Set all collectors to disabled by default.
    #[arg(long = "collector.disable-defaults", id = "collector.disable-defaults")]
    disable_defaults: bool,

    /// Enables metric node_cpu_info.
    #[arg(long = "collector.cpu.info", id = "collector.cpu.info")]
    cpu_info: bool,
    /// Disables metric node_cpu_guest_seconds_total.
    #[arg(long = "no-collector.cpu.guest", id = "no-collector.cpu.guest")]
    no_cpu_guest: bool,

    /// Regexp of mount points to exclude for filesystem collector.
    #[arg(long = "collector.filesystem.mount-points-exclude", id = "collector.filesystem.mount-points-exclude", default_value = config::DEFAULT_MOUNT_POINTS_EXCLUDE)]
    mount_points_exclude: String,
    /// Regexp of filesystem types to exclude for filesystem collector.
    #[arg(long = "collector.filesystem.fs-types-exclude", id = "collector.filesystem.fs-types-exclude", default_value = config::DEFAULT_FS_TYPES_EXCLUDE)]
    fs_types_exclude: String,
    /// How long to wait for a mount to respond before marking it as stale (seconds).
    #[arg(long = "collector.filesystem.mount-timeout", id = "collector.filesystem.mount-timeout", default_value = "5s", value_parser = parse_positive_duration)]
    mount_timeout: Duration,

    /// Regexp of net devices to include (mutually exclusive to device-exclude).
    #[arg(
        long = "collector.netdev.device-include",
        id = "collector.netdev.device-include",
        conflicts_with = "collector.netdev.device-exclude"
    )]
    netdev_include: Option<String>,
    /// Regexp of net devices to exclude (mutually exclusive to device-include).
    #[arg(
        long = "collector.netdev.device-exclude",
        id = "collector.netdev.device-exclude",
        default_value = config::DEFAULT_NETDEV_DEVICE_EXCLUDE
    )]
    netdev_exclude: String,
    /// Regexp of net devices to ignore for netclass collector.
    #[arg(
        long = "collector.netclass.ignored-devices",
        id = "collector.netclass.ignored-devices",
        default_value = "^$"
    )]
    netclass_ignored: String,
    /// Regexp of diskstats devices to exclude.
    #[arg(long = "collector.diskstats.device-exclude", id = "collector.diskstats.device-exclude", default_value = config::DEFAULT_DISKSTATS_DEVICE_EXCLUDE)]
    diskstats_exclude: String,
    /// Regexp of fields to return for netstat collector.
    #[arg(long = "collector.netstat.fields", id = "collector.netstat.fields", default_value = config::DEFAULT_NETSTAT_FIELDS)]
    netstat_fields: String,
    /// Regexp of fields to return for vmstat collector.
    #[arg(long = "collector.vmstat.fields", id = "collector.vmstat.fields", default_value = config::DEFAULT_VMSTAT_FIELDS)]
    vmstat_fields: String,
    /// Directory to read text files with metrics from.
    #[arg(
        long = "collector.textfile.directory",
        id = "collector.textfile.directory"
    )]
    textfile_directory: Option<PathBuf>,
}

const PROGRAM: Program = Program {
    binary: "node-exporter",
    upstream_name: "node_exporter",
    about: "Prometheus exporter for machine metrics, drop-in for node_exporter.",
    title: "Node Exporter",
    default_listen: ":9100",
    single_dash_long_flags: false,
};

/// Adds `--collector.<name>` / `--no-collector.<name>` for every collector of the table.
fn collector_switches(cmd: Command) -> Command {
    add_collector_flags(
        cmd,
        COLLECTORS
            .iter()
            .map(|c| (c.name, c.default_enabled, c.help)),
    )
}

fn enabled_collectors(m: &ArgMatches, disable_defaults: bool) -> Vec<&'static str> {
    COLLECTORS
        .iter()
        .filter(|c| collector_choice(m, c.name).unwrap_or(c.default_enabled && !disable_defaults))
        .map(|c| c.name)
        .collect()
}

fn regex(flag: &str, value: &str) -> Result<Regex, String> {
    Regex::new(value).map_err(|e| format!("--{flag}: invalid regular expression: {e}"))
}

fn node_config(f: &Flags) -> Result<NodeConfig, String> {
    Ok(NodeConfig {
        procfs: f.procfs.clone(),
        sysfs: f.sysfs.clone(),
        rootfs: f.rootfs.clone(),
        udev_data: f.udev_data.clone(),
        filesystem: config::FilesystemConfig {
            mount_points_exclude: regex(
                "collector.filesystem.mount-points-exclude",
                &f.mount_points_exclude,
            )?,
            fs_types_exclude: regex("collector.filesystem.fs-types-exclude", &f.fs_types_exclude)?,
            mount_timeout: f.mount_timeout,
        },
        netdev: DeviceFilter {
            include: f
                .netdev_include
                .as_deref()
                .map(|r| regex("collector.netdev.device-include", r))
                .transpose()?,
            // The default exclude only applies when no include list is given.
            exclude: match f.netdev_include {
                Some(_) => None,
                None => Some(regex("collector.netdev.device-exclude", &f.netdev_exclude)?),
            },
        },
        netclass_ignored_devices: Some(regex(
            "collector.netclass.ignored-devices",
            &f.netclass_ignored,
        )?),
        diskstats_device_exclude: Some(regex(
            "collector.diskstats.device-exclude",
            &f.diskstats_exclude,
        )?),
        netstat_fields: regex("collector.netstat.fields", &f.netstat_fields)?,
        vmstat_fields: regex("collector.vmstat.fields", &f.vmstat_fields)?,
        cpu_info: f.cpu_info,
        cpu_guest: !f.no_cpu_guest,
        textfile_directory: f.textfile_directory.clone(),
    })
}

fn main() -> ExitCode {
    exporter_core::run::main(PROGRAM, collector_switches, |flags: Flags, matches| {
        let cfg = node_config(&flags)?;
        let enabled = enabled_collectors(matches, flags.disable_defaults);
        let exporter = node_exporter::build_exporter(&cfg, &enabled);
        Ok(Startup::new(flags.web, flags.log, exporter))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::FromArgMatches;

    fn command() -> Command {
        exporter_core::run::command::<Flags>(&PROGRAM, collector_switches)
    }

    #[test]
    fn collector_flags_follow_the_table_and_last_flag_wins() {
        let m = command()
            .try_get_matches_from(["x", "--no-collector.cpu", "--collector.processes"])
            .unwrap();
        let on = enabled_collectors(&m, false);
        assert!(!on.contains(&"cpu"));
        assert!(on.contains(&"processes"));
        assert!(on.contains(&"meminfo"));
        let m = command()
            .try_get_matches_from(["x", "--collector.disable-defaults", "--collector.meminfo"])
            .unwrap();
        assert_eq!(enabled_collectors(&m, true), vec!["meminfo"]);
        let m = command()
            .try_get_matches_from(["x", "--no-collector.cpu", "--collector.cpu"])
            .unwrap();
        assert!(enabled_collectors(&m, false).contains(&"cpu"));
    }

    #[test]
    fn bad_flags_are_rejected() {
        assert!(command()
            .try_get_matches_from(["x", "--collector.nope"])
            .is_err());
        let m = command()
            .try_get_matches_from(["x", "--collector.vmstat.fields", "("])
            .unwrap();
        let f = Flags::from_arg_matches(&m).unwrap();
        let err = node_config(&f).unwrap_err();
        assert!(err.contains("--collector.vmstat.fields"), "{err}");
    }

    #[test]
    fn mount_timeout_takes_go_durations_above_zero() {
        let timeout = |v: &str| {
            let m =
                command().try_get_matches_from(["x", "--collector.filesystem.mount-timeout", v]);
            m.map(|m| Flags::from_arg_matches(&m).unwrap().mount_timeout)
        };
        assert_eq!(timeout("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(timeout("250ms").unwrap(), Duration::from_millis(250));
        assert!(timeout("0s").is_err());
        assert!(timeout("5d").is_err());
    }
}
