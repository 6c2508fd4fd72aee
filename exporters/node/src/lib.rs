//! Host metrics from /proc and /sys under the names of prometheus/node_exporter.

pub(crate) mod absent;
pub mod collector;
#[cfg(target_os = "linux")]
pub(crate) mod ethtool_ioctl;
pub(crate) mod kept;
#[cfg(target_os = "linux")]
pub(crate) mod netlink;
pub mod paths;
#[cfg(test)]
pub(crate) mod testing;
pub(crate) mod util;

use clap::{ArgMatches, Command};
use exporter_core::Exporter;

use collector::{CollectorSpec, COLLECTORS};
pub use paths::HostPaths;

/// Builds an exporter with the named collectors (names from [`collector::COLLECTORS`]), each
/// with its default options. A scrape may narrow them with `collect[]` or `exclude[]`, as
/// node_exporter's can.
pub fn build_exporter(paths: &HostPaths, enabled: &[&str]) -> Exporter {
    exporter_with_flags(paths, enabled, &[]).expect("the collectors' default flags are valid")
}

/// [`build_exporter`] with the collectors that are on by default, as `node-exporter` runs with
/// no flags.
pub fn default_exporter(paths: &HostPaths) -> Exporter {
    let names: Vec<&str> = collector::COLLECTORS
        .rows()
        .iter()
        .filter(|c| c.default_enabled)
        .map(|c| c.name)
        .collect();
    build_exporter(paths, &names)
}

/// Like [`build_exporter`], with collector flags as on the command line
/// (`["--collector.textfile.directory", "/x"]`); an invalid one is an error naming it.
pub fn exporter_with_flags(
    paths: &HostPaths,
    enabled: &[&str],
    flags: &[&str],
) -> Result<Exporter, String> {
    let matches = collector::add_flags(Command::new("node-exporter").no_binary_name(true))
        .try_get_matches_from(flags)
        .map_err(|e| e.to_string())?;
    let rows: Vec<_> = enabled.iter().filter_map(|n| COLLECTORS.find(n)).collect();
    build_from_matches(paths, &rows, &matches)
}

/// Builds an exporter with the collectors of `rows`, reading their own flags from `matches`
/// (a command line that [`collector::add_flags`] extended).
pub fn build_from_matches(
    paths: &HostPaths,
    rows: &[&CollectorSpec],
    matches: &ArgMatches,
) -> Result<Exporter, String> {
    let collectors = rows
        .iter()
        .map(|row| (row.build.new)(paths, matches))
        .collect::<Result<_, _>>()?;
    Ok(Exporter::new("node", collectors).with_collector_selection())
}
