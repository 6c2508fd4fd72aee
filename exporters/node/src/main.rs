//! `node-exporter`: the shared runtime's `main` with the node collectors.

use std::process::ExitCode;

use clap::Args;
use exporter_core::flags::RuntimeFlags;
use exporter_core::run::{Program, Startup};
use node_exporter::collector::{self, COLLECTORS};
use node_exporter::HostPaths;

/// The flags that are not a collector's own (those come from the collector table).
#[derive(Debug, Args)]
struct Flags {
    #[command(flatten)]
    runtime: RuntimeFlags,
    #[command(flatten)]
    paths: HostPaths,
    /// Set all collectors to disabled by default.
    #[arg(long = "collector.disable-defaults", id = "collector.disable-defaults")]
    disable_defaults: bool,
}

const PROGRAM: Program = Program {
    binary: "node-exporter",
    upstream_name: "node_exporter",
    about: "Prometheus exporter for machine metrics, drop-in for node_exporter.",
    title: "Node Exporter",
    default_listen: ":9100",
    single_dash_long_flags: false,
};

fn main() -> ExitCode {
    exporter_core::run::main(PROGRAM, collector::add_flags, |flags: Flags, matches| {
        let rows = COLLECTORS.enabled(matches, |c| c.default_enabled && !flags.disable_defaults);
        let exporter = node_exporter::build_from_matches(&flags.paths, &rows, matches)?;
        Ok(Startup::new(flags.runtime, exporter))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use exporter_core::run::parse_args;

    fn enabled(args: &[&str]) -> Vec<&'static str> {
        let (flags, m) = parse_args::<Flags>(&PROGRAM, collector::add_flags, args).unwrap();
        COLLECTORS
            .enabled(&m, |c| c.default_enabled && !flags.disable_defaults)
            .iter()
            .map(|c| c.name)
            .collect()
    }

    #[test]
    fn collector_flags_follow_the_table_and_last_flag_wins() {
        let on = enabled(&["x", "--no-collector.cpu", "--collector.processes"]);
        assert!(!on.contains(&"cpu"));
        assert!(on.contains(&"processes"));
        assert!(on.contains(&"meminfo"));
        let on = enabled(&["x", "--collector.disable-defaults", "--collector.meminfo"]);
        assert_eq!(on, vec!["meminfo"]);
        assert!(enabled(&["x", "--no-collector.cpu", "--collector.cpu"]).contains(&"cpu"));
    }

    #[test]
    fn bad_flags_are_rejected_naming_the_flag() {
        assert!(
            parse_args::<Flags>(&PROGRAM, collector::add_flags, &["x", "--collector.nope"])
                .is_err()
        );
        let args = ["x", "--collector.vmstat.fields", "("];
        let (flags, m) = parse_args::<Flags>(&PROGRAM, collector::add_flags, &args).unwrap();
        let rows = COLLECTORS.enabled(&m, |c| c.default_enabled);
        let err = node_exporter::build_from_matches(&flags.paths, &rows, &m)
            .err()
            .unwrap_or_default();
        assert!(err.contains("--collector.vmstat.fields"), "{err}");
    }

    #[test]
    fn mount_timeout_takes_go_durations_above_zero() {
        let parses = |v: &str| {
            let args = ["x", "--collector.filesystem.mount-timeout", v];
            parse_args::<Flags>(&PROGRAM, collector::add_flags, &args).is_ok()
        };
        assert!(parses("1h") && parses("250ms"));
        assert!(!parses("0s") && !parses("5d"));
    }
}
