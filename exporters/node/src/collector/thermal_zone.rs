//! `node_thermal_zone_temp` and `node_cooling_device_{cur,max}_state` from
//! /sys/class/thermal/thermal_zone<N>/ and /sys/class/thermal/cooling_device<N>/.
//!
//! A zone or device whose attributes cannot be read or parsed (ENODATA while a sensor
//! initialises, EAGAIN/EINVAL from flaky ACPI drivers) is skipped on its own, as newer procfs
//! releases do; the others are still reported. A host without /sys/class/thermal reports nothing
//! and succeeds, like upstream's empty glob.

use std::path::Path;

use exporter_core::{CollectResult, MetricFamily};

use crate::absent::{gated_collector, GatedDir};
use crate::paths::HostPaths;
use crate::util::read_attr;

/// The `thermal_zone` collector: what it reads and emits is in the module documentation.
pub struct ThermalZoneCollector {
    dir: GatedDir,
}

impl ThermalZoneCollector {
    /// The collector reading under `cfg`.
    pub fn new(cfg: &HostPaths) -> Self {
        ThermalZoneCollector {
            dir: GatedDir::new(cfg.sys_path("class/thermal")),
        }
    }
}

/// One thermal zone: its type and temperature in millidegrees Celsius.
#[derive(Debug, PartialEq)]
pub struct Zone {
    /// The zone `type`.
    pub kind: String,
    /// `temp`, in millidegrees Celsius.
    pub millicelsius: i64,
}

/// One cooling device's type and throttle states (`cur_state` is -1 for intel_powerclamp when idle).
#[derive(Debug, PartialEq)]
pub struct CoolingDevice {
    /// The device `type`.
    pub kind: String,
    /// `cur_state`.
    pub cur_state: i64,
    /// `max_state`.
    pub max_state: i64,
}

/// The `<N>` of `thermal_zone<N>` / `cooling_device<N>`, matching the `prefix[0-9]*` glob.
pub fn numbered<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = name.strip_prefix(prefix)?;
    rest.starts_with(|c: char| c.is_ascii_digit())
        .then_some(rest)
}

/// Builds a zone from its attribute contents; `policy` is required (as in procfs) even though only
/// its presence matters, so half-registered zones are skipped.
pub fn parse_zone(kind: &str, policy: Option<&str>, temp: &str) -> Option<Zone> {
    policy?;
    Some(Zone {
        kind: kind.trim().to_string(),
        millicelsius: temp.trim().parse().ok()?,
    })
}

/// A cooling device from its `type`, `cur_state` and `max_state` files; `None` if a number does not parse.
pub fn parse_cooling_device(kind: &str, cur: &str, max: &str) -> Option<CoolingDevice> {
    Some(CoolingDevice {
        kind: kind.trim().to_string(),
        cur_state: cur.trim().parse().ok()?,
        max_state: max.trim().parse().ok()?,
    })
}

fn read_zone(dir: &Path) -> Option<Zone> {
    let kind = read_attr(&dir.join("type"))?;
    let policy = read_attr(&dir.join("policy"));
    let temp = read_attr(&dir.join("temp"))?;
    parse_zone(&kind, policy.as_deref(), &temp)
}

fn read_cooling_device(dir: &Path) -> Option<CoolingDevice> {
    let kind = read_attr(&dir.join("type"))?;
    let max = read_attr(&dir.join("max_state"))?;
    let cur = read_attr(&dir.join("cur_state"))?;
    parse_cooling_device(&kind, &cur, &max)
}

// No thermal class, or an empty one (most VMs): success with no series.
gated_collector!(ThermalZoneCollector, "thermal_zone", dir, or_empty);

impl ThermalZoneCollector {
    fn collect_present(&self) -> CollectResult {
        let entries = self.dir.entries()?;

        let mut temp = MetricFamily::gauge("node_thermal_zone_temp", "Zone temperature in Celsius");
        let mut cur = MetricFamily::gauge(
            "node_cooling_device_cur_state",
            "Current throttle state of the cooling device",
        );
        let mut max = MetricFamily::gauge(
            "node_cooling_device_max_state",
            "Maximum throttle state of the cooling device",
        );

        for entry in &entries {
            if let Some(zone) = numbered(entry, "thermal_zone") {
                if let Some(z) = read_zone(&self.dir.join(entry)) {
                    temp.push(
                        &[("type", z.kind.as_str()), ("zone", zone)],
                        z.millicelsius as f64 / 1000.0,
                    );
                }
            } else if let Some(name) = numbered(entry, "cooling_device") {
                if let Some(d) = read_cooling_device(&self.dir.join(entry)) {
                    let labels = [("name", name), ("type", d.kind.as_str())];
                    cur.push(&labels, d.cur_state as f64);
                    max.push(&labels, d.max_state as f64);
                }
            }
        }

        Ok(vec![temp, cur, max])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_maps, sysfs_at, write_all};
    use exporter_core::BlockingCollector;

    #[test]
    fn numbered_entries() {
        assert_maps(
            |(name, prefix)| numbered(name, prefix),
            &[
                (("thermal_zone0", "thermal_zone"), Some("0")),
                (("thermal_zone12", "thermal_zone"), Some("12")),
                (("thermal_zone", "thermal_zone"), None),
                (("thermal_zonex", "thermal_zone"), None),
                (("cooling_device3", "cooling_device"), Some("3")),
                (("cooling_device3", "thermal_zone"), None),
            ],
        );
    }

    #[test]
    fn parses_zones() {
        assert_eq!(
            parse_zone("acpitz\n", Some("step_wise"), "27800\n"),
            Some(Zone {
                kind: "acpitz".into(),
                millicelsius: 27800
            })
        );
        assert_eq!(
            parse_zone("x86_pkg_temp", Some("step_wise"), "-5500")
                .unwrap()
                .millicelsius,
            -5500
        );
        assert_eq!(parse_zone("acpitz", None, "27800"), None);
        assert_eq!(parse_zone("acpitz", Some("user_space"), ""), None);
        assert_eq!(parse_zone("acpitz", Some("user_space"), "27.8"), None);
    }

    #[test]
    fn parses_cooling_devices() {
        assert_eq!(
            parse_cooling_device("intel_powerclamp\n", "-1\n", "50\n"),
            Some(CoolingDevice {
                kind: "intel_powerclamp".into(),
                cur_state: -1,
                max_state: 50
            })
        );
        assert_eq!(parse_cooling_device("Processor", "0", "x"), None);
        assert_eq!(parse_cooling_device("Processor", "", "3"), None);
    }

    #[test]
    fn collects_zones_and_devices_skipping_broken_ones() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("class/thermal");
        write_all(
            &t,
            &[
                ("thermal_zone0/type", "acpitz\n"),
                ("thermal_zone0/policy", "step_wise\n"),
                ("thermal_zone0/temp", "27800\n"),
                ("thermal_zone1/type", "broken\n"),
                ("cooling_device0/type", "Processor\n"),
                ("cooling_device0/cur_state", "1\n"),
                ("cooling_device0/max_state", "3\n"),
            ],
        );
        let cfg = sysfs_at(dir.path());
        let fams = ThermalZoneCollector::new(&cfg).collect().unwrap();
        assert_eq!(fams[0].samples.len(), 1);
        assert_eq!(fams[0].samples[0].value, 27.8);
        assert_eq!(fams[0].samples[0].labels[0].1, "acpitz");
        assert_eq!(fams[0].samples[0].labels[1].1, "0");
        assert_eq!(fams[1].samples[0].value, 1.0);
        assert_eq!(fams[2].samples[0].value, 3.0);
    }

    #[test]
    fn missing_class_thermal_is_empty_success() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = sysfs_at(dir.path());
        let fams = ThermalZoneCollector::new(&cfg).collect().unwrap();
        assert!(fams.iter().all(|f| f.samples.is_empty()));
    }
}
