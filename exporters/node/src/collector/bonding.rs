//! `node_bonding_slaves` and `node_bonding_active` per bonding master, from
//! /sys/class/net/bonding_masters, `<master>/bonding/slaves` and each slave's
//! `bonding_slave/mii_status` (Documentation/networking/bonding.rst).
//!
//! As upstream: without the bonding driver there is no `bonding_masters` file, and the collector
//! reports `node_scrape_collector_success 0`; a master whose slaves or a slave whose MII status
//! cannot be read fails the collector, since a count it cannot vouch for would hide a failed link.

use std::path::{Path, PathBuf};

use exporter_core::{CollectError, CollectResult, MetricFamily};

use crate::absent::{gated_collector, GatedFile};
use crate::paths::HostPaths;
use crate::util::read_file;

/// The `bonding` collector: what it reads and emits is in the module documentation.
pub struct BondingCollector {
    net_dir: PathBuf,
    masters: GatedFile,
}

impl BondingCollector {
    /// The collector reading under `paths`.
    pub fn new(paths: &HostPaths) -> Self {
        let net_dir = paths.sys_path("class/net");
        let masters = net_dir.join("bonding_masters");
        BondingCollector {
            masters: GatedFile::new(masters),
            net_dir,
        }
    }
}

/// One master's slave count and how many of them have MII status `up`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BondStatus {
    /// The bonding interface.
    pub master: String,
    /// Slaves configured (`bonding/slaves`).
    pub slaves: u64,
    /// Slaves whose MII status is `up`.
    pub active: u64,
}

/// The names in a space-separated sysfs list (`bonding_masters`, `bonding/slaves`).
pub fn parse_name_list(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}

/// Whether a slave's `mii_status` says its link is up (`up`, else `down`, `going down`, ...).
pub fn mii_is_up(text: &str) -> bool {
    text.trim() == "up"
}

/// The slave's `bonding_slave` directory: `lower_<slave>` on current kernels, `slave_<slave>` on
/// older ones.
fn read_mii_status(master_dir: &Path, slave: &str) -> Result<String, CollectError> {
    let status = |prefix: &str| {
        master_dir
            .join(format!("{prefix}{slave}"))
            .join("bonding_slave/mii_status")
    };
    match read_file(&status("lower_")) {
        Err(CollectError::NotAvailable(_)) => read_file(&status("slave_")),
        other => other,
    }
}

/// A file the bonding driver should have written is missing: an error, not a host without bonds.
fn required(r: Result<String, CollectError>) -> Result<String, CollectError> {
    r.map_err(|e| match e {
        CollectError::NotAvailable(what) => CollectError::Other(format!("missing {what}")),
        other => other,
    })
}

fn read_bond(net_dir: &Path, master: &str) -> Result<BondStatus, CollectError> {
    let master_dir = net_dir.join(master);
    let slaves = required(read_file(&master_dir.join("bonding/slaves")))?;
    let mut status = BondStatus {
        master: master.to_string(),
        slaves: 0,
        active: 0,
    };
    for slave in parse_name_list(&slaves) {
        let mii = required(read_mii_status(&master_dir, slave))?;
        status.slaves += 1;
        if mii_is_up(&mii) {
            status.active += 1;
        }
    }
    Ok(status)
}

gated_collector!(BondingCollector, "bonding", masters);

impl BondingCollector {
    fn collect_present(&self) -> CollectResult {
        let masters = self.masters.read()?;
        let mut bonds = Vec::new();
        for master in parse_name_list(&masters) {
            // A name listed twice would be one series served twice.
            if bonds.iter().any(|b: &BondStatus| b.master == master) {
                continue;
            }
            bonds.push(read_bond(&self.net_dir, master)?);
        }
        let mut slaves = MetricFamily::gauge(
            "node_bonding_slaves",
            "Number of configured slaves per bonding interface.",
        );
        let mut active = MetricFamily::gauge(
            "node_bonding_active",
            "Number of active slaves per bonding interface.",
        );
        for bond in &bonds {
            slaves.push(&[("master", &bond.master)], bond.slaves as f64);
            active.push(&[("master", &bond.master)], bond.active as f64);
        }
        Ok(vec![slaves, active])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_not_available, sysfs_at, write};
    use exporter_core::BlockingCollector;

    #[test]
    fn parses_name_lists_and_mii_status() {
        assert_eq!(parse_name_list("bond0 bond1\n"), ["bond0", "bond1"]);
        assert!(parse_name_list("\n").is_empty());
        assert!(parse_name_list("").is_empty());
        assert!(mii_is_up("up\n"));
        assert!(!mii_is_up("down\n"));
        assert!(!mii_is_up("going down"));
        assert!(!mii_is_up(""));
    }

    fn collector(sys: &Path) -> BondingCollector {
        BondingCollector::new(&sysfs_at(sys))
    }

    fn values(fams: &[MetricFamily]) -> Vec<(String, String, f64)> {
        fams.iter()
            .flat_map(|f| {
                f.samples
                    .iter()
                    .map(|s| (f.name.to_string(), s.labels[0].1.to_string(), s.value))
            })
            .collect()
    }

    #[test]
    fn no_bonding_driver_is_not_available() {
        let dir = tempfile::tempdir().unwrap();
        assert_not_available(collector(dir.path()).collect());
    }

    #[test]
    fn counts_slaves_and_those_up_under_either_directory_name() {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("class/net");
        write(&net.join("bonding_masters"), "bond0 bond1 bond0\n");
        write(&net.join("bond0/bonding/slaves"), "eth0 eth1\n");
        write(
            &net.join("bond0/lower_eth0/bonding_slave/mii_status"),
            "up\n",
        );
        write(
            &net.join("bond0/slave_eth1/bonding_slave/mii_status"),
            "down\n",
        );
        write(&net.join("bond1/bonding/slaves"), "\n");
        let fams = collector(dir.path()).collect().unwrap();
        assert_eq!(
            values(&fams),
            [
                ("node_bonding_slaves".into(), "bond0".into(), 2.0),
                ("node_bonding_slaves".into(), "bond1".into(), 0.0),
                ("node_bonding_active".into(), "bond0".into(), 1.0),
                ("node_bonding_active".into(), "bond1".into(), 0.0),
            ]
        );
    }

    #[test]
    fn a_slave_without_status_fails_the_collector() {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("class/net");
        write(&net.join("bonding_masters"), "bond0\n");
        let err = collector(dir.path()).collect().unwrap_err();
        assert!(matches!(err, CollectError::Other(_)), "{err:?}");
        write(&net.join("bond0/bonding/slaves"), "eth0\n");
        let err = collector(dir.path()).collect().unwrap_err();
        assert!(matches!(err, CollectError::Other(_)), "{err:?}");
    }
}
