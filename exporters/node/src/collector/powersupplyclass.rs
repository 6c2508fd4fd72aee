//! `node_power_supply_*` from /sys/class/power_supply/<supply>/: one gauge per numeric attribute
//! present (scaled to base units), plus `node_power_supply_info` carrying the string attributes.
//!
//! Each supply directory is listed once and only the attributes we know are read. An attribute
//! that cannot be read (ENODATA from an absent battery, EINVAL, EOPNOTSUPP) or parsed is skipped;
//! the supply is still reported.

use std::io::Read;
use std::path::{Path, PathBuf};

use exporter_core::{interned, BlockingCollector, CollectResult, MetricFamily};

use crate::collector::hwmon::to_valid_utf8;
use crate::collector::tapestats::parse_go_uint_base0;
use crate::paths::HostPaths;
use crate::util::sorted_dir_names;

/// The `powersupplyclass` collector: what it reads and emits is in the module documentation.
pub struct PowersupplyclassCollector {
    dir: PathBuf,
}

impl PowersupplyclassCollector {
    /// The collector reading under `cfg`.
    pub fn new(cfg: &HostPaths) -> Self {
        PowersupplyclassCollector {
            dir: cfg.sys_path("class/power_supply"),
        }
    }
}

/// How a numeric attribute's raw integer becomes the exported value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scale {
    /// Plain numbers (percent, counts, booleans, seconds).
    One,
    /// µV, µA, µW, µWh, µAh to V, A, W, Wh, Ah.
    Micro,
    /// Tenths of a degree Celsius.
    Deci,
}

/// Numeric attributes: (sysfs file, metric stem, scale), in upstream's grouping.
const NUMERIC: &[(&str, &str, Scale)] = &[
    ("authentic", "authentic", Scale::One),
    ("calibrate", "calibrate", Scale::One),
    ("capacity", "capacity", Scale::One),
    ("capacity_alert_max", "capacity_alert_max", Scale::One),
    ("capacity_alert_min", "capacity_alert_min", Scale::One),
    ("cycle_count", "cyclecount", Scale::One),
    ("online", "online", Scale::One),
    ("present", "present", Scale::One),
    ("time_to_empty_now", "time_to_empty_seconds", Scale::One),
    ("time_to_full_now", "time_to_full_seconds", Scale::One),
    ("current_boot", "current_boot", Scale::Micro),
    ("current_max", "current_max", Scale::Micro),
    ("current_now", "current_ampere", Scale::Micro),
    ("energy_empty", "energy_empty", Scale::Micro),
    ("energy_empty_design", "energy_empty_design", Scale::Micro),
    ("energy_full", "energy_full", Scale::Micro),
    ("energy_full_design", "energy_full_design", Scale::Micro),
    ("energy_now", "energy_watthour", Scale::Micro),
    ("voltage_boot", "voltage_boot", Scale::Micro),
    ("voltage_max", "voltage_max", Scale::Micro),
    ("voltage_max_design", "voltage_max_design", Scale::Micro),
    ("voltage_min", "voltage_min", Scale::Micro),
    ("voltage_min_design", "voltage_min_design", Scale::Micro),
    ("voltage_now", "voltage_volt", Scale::Micro),
    ("voltage_ocv", "voltage_ocv", Scale::Micro),
    ("charge_control_limit", "charge_control_limit", Scale::Micro),
    (
        "charge_control_limit_max",
        "charge_control_limit_max",
        Scale::Micro,
    ),
    ("charge_counter", "charge_counter", Scale::Micro),
    ("charge_empty", "charge_empty", Scale::Micro),
    ("charge_empty_design", "charge_empty_design", Scale::Micro),
    ("charge_full", "charge_full", Scale::Micro),
    ("charge_full_design", "charge_full_design", Scale::Micro),
    ("charge_now", "charge_ampere", Scale::Micro),
    ("charge_term_current", "charge_term_current", Scale::Micro),
    (
        "constant_charge_current",
        "constant_charge_current",
        Scale::Micro,
    ),
    (
        "constant_charge_current_max",
        "constant_charge_current_max",
        Scale::Micro,
    ),
    (
        "constant_charge_voltage",
        "constant_charge_voltage",
        Scale::Micro,
    ),
    (
        "constant_charge_voltage_max",
        "constant_charge_voltage_max",
        Scale::Micro,
    ),
    ("precharge_current", "precharge_current", Scale::Micro),
    ("input_current_limit", "input_current_limit", Scale::Micro),
    ("power_now", "power_watt", Scale::Micro),
    ("temp", "temp_celsius", Scale::Deci),
    ("temp_alert_max", "temp_alert_max_celsius", Scale::Deci),
    ("temp_alert_min", "temp_alert_min_celsius", Scale::Deci),
    ("temp_ambient", "temp_ambient_celsius", Scale::Deci),
    ("temp_ambient_max", "temp_ambient_max_celsius", Scale::Deci),
    ("temp_ambient_min", "temp_ambient_min_celsius", Scale::Deci),
    ("temp_max", "temp_max_celsius", Scale::Deci),
    ("temp_min", "temp_min_celsius", Scale::Deci),
];

/// String attributes that become `node_power_supply_info` labels when non-empty (label name is the
/// file name), in label-name order.
const INFO: &[&str] = &[
    "capacity_level",
    "charge_type",
    "health",
    "manufacturer",
    "model_name",
    "scope",
    "serial_number",
    "status",
    "technology",
    "type",
    "usb_type",
];

/// Parses a numeric attribute like procfs does (`strconv.ParseInt(s, 0, 64)`): decimal, or
/// `0x`/`0o`/`0b`-prefixed, optionally signed.
pub fn parse_int(raw: &str) -> Option<i64> {
    let s = raw.trim();
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    let magnitude = i128::from(parse_go_uint_base0(body)?);
    i64::try_from(if neg { -magnitude } else { magnitude }).ok()
}

fn scaled(raw: i64, scale: Scale) -> f64 {
    match scale {
        Scale::One => raw as f64,
        Scale::Micro => raw as f64 / 1e6,
        Scale::Deci => raw as f64 / 10.0,
    }
}

/// Attribute values of one supply, keyed by file name, as read from sysfs (trimmed).
#[derive(Debug, Default)]
pub struct Supply {
    /// (file name, value) pairs, sorted by file name.
    pub attrs: Vec<(String, String)>,
}

impl Supply {
    fn get(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One family per numeric attribute plus the info family, in a fixed order, so every supply adds
/// its samples to the same families.
pub struct Families {
    numeric: Vec<MetricFamily>,
    info: MetricFamily,
}

impl Families {
    /// The collector reading under `cfg`.
    pub fn new() -> Self {
        Families {
            numeric: NUMERIC
                .iter()
                .map(|&(_, stem, _)| {
                    MetricFamily::gauge(
                        interned!("node_power_supply_{stem}"),
                        interned!("{stem} value of /sys/class/power_supply/<power_supply>."),
                    )
                })
                .collect(),
            info: MetricFamily::gauge(
                "node_power_supply_info",
                "info of /sys/class/power_supply/<power_supply>.",
            ),
        }
    }

    /// Adds one supply's samples.
    pub fn add(&mut self, name: &str, supply: &Supply) {
        for (fam, &(file, _, scale)) in self.numeric.iter_mut().zip(NUMERIC) {
            if let Some(v) = supply.get(file).and_then(parse_int) {
                fam.push(&[("power_supply", name)], scaled(v, scale));
            }
        }
        let mut labels: Vec<(&'static str, &str)> = Vec::with_capacity(INFO.len() + 1);
        for &attr in INFO {
            if attr == "scope" {
                // Keep label names sorted: power_supply sorts between model_name and scope.
                labels.push(("power_supply", name));
            }
            if let Some(v) = supply.get(attr).filter(|v| !v.is_empty()) {
                labels.push((attr, v));
            }
        }
        self.info.push(&labels, 1.0);
    }

    /// The numeric families, then `node_power_supply_info`.
    pub fn into_vec(self) -> Vec<MetricFamily> {
        let mut v = self.numeric;
        v.push(self.info);
        v
    }
}

impl Default for Families {
    fn default() -> Self {
        Self::new()
    }
}

fn is_known(file: &str) -> bool {
    NUMERIC.iter().any(|&(f, _, _)| f == file) || INFO.contains(&file)
}

/// Reads the known attributes of one supply directory; unreadable ones are skipped.
fn read_supply(dir: &Path) -> std::io::Result<Supply> {
    let mut supply = Supply::default();
    let mut buf = Vec::with_capacity(64);
    let mut entries: Vec<(String, PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        // Attributes are regular files; `device`, `subsystem` (links) and `power` (dir) are not.
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            is_known(&name).then(|| (name, e.path()))
        })
        .collect();
    entries.sort();
    for (name, path) in entries {
        buf.clear();
        if std::fs::File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut buf))
            .is_err()
        {
            continue;
        }
        let value = to_valid_utf8(&buf).trim().to_string();
        supply.attrs.push((name, value));
    }
    Ok(supply)
}

impl BlockingCollector for PowersupplyclassCollector {
    fn name(&self) -> &'static str {
        "powersupplyclass"
    }

    fn collect(&self) -> CollectResult {
        let names = sorted_dir_names(&self.dir)?;
        // Most servers and VMs have no power supply class at all.
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut fams = Families::new();
        for name in &names {
            // A supply that vanished (USB charger unplugged) between listing and reading is skipped.
            if let Ok(supply) = read_supply(&self.dir.join(name)) {
                fams.add(name, &supply);
            }
        }
        Ok(fams.into_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        assert_first_values, assert_maps, assert_not_available, family, label_pairs, sysfs_at,
        write,
    };

    #[test]
    fn parses_ints_like_go_base_zero() {
        assert_maps(
            parse_int,
            &[
                ("1234567\n", Some(1234567)),
                ("-250000", Some(-250000)),
                ("+5", Some(5)),
                ("0", Some(0)),
                ("0x1f", Some(31)),
                ("010", Some(8)),
                ("", None),
                ("-", None),
                ("0x", None),
                ("--1", None),
                ("abc", None),
                ("12 34", None),
                ("99999999999999999999", None),
                ("-9223372036854775808", Some(i64::MIN)),
            ],
        );
    }

    fn supply(attrs: &[(&str, &str)]) -> Supply {
        Supply {
            attrs: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn scales_and_names_like_upstream() {
        let mut fams = Families::new();
        fams.add(
            "BAT0",
            &supply(&[
                ("capacity", "87"),
                ("voltage_now", "12436000"),
                ("energy_now", "45000000"),
                ("temp", "251"),
                ("cycle_count", "42"),
                ("power_now", "garbage"),
                ("status", "Discharging"),
                ("type", "Battery"),
                ("manufacturer", ""),
            ]),
        );
        fams.add("AC", &supply(&[("online", "1"), ("type", "Mains")]));
        let fams = fams.into_vec();
        assert_first_values(
            &fams,
            &[
                ("node_power_supply_capacity", 87.0),
                ("node_power_supply_voltage_volt", 12.436),
                ("node_power_supply_energy_watthour", 45.0),
                ("node_power_supply_temp_celsius", 25.1),
                ("node_power_supply_cyclecount", 42.0),
            ],
        );
        assert!(family(&fams, "node_power_supply_power_watt").is_empty());
        let online = family(&fams, "node_power_supply_online");
        assert_eq!(online.samples[0].labels[0].1, "AC");

        let info = family(&fams, "node_power_supply_info");
        let names = |i: usize| label_pairs(&info.samples[i]);
        assert_eq!(
            names(0),
            vec![
                ("power_supply", "BAT0"),
                ("status", "Discharging"),
                ("type", "Battery")
            ]
        );
        assert_eq!(names(1), vec![("power_supply", "AC"), ("type", "Mains")]);
    }

    #[test]
    fn missing_class_is_not_available_and_empty_class_is_success() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = sysfs_at(dir.path());
        assert_not_available(PowersupplyclassCollector::new(&cfg).collect());
        std::fs::create_dir_all(dir.path().join("class/power_supply")).unwrap();
        let fams = PowersupplyclassCollector::new(&cfg).collect().unwrap();
        assert!(fams.iter().all(|f| f.is_empty()));
    }

    #[test]
    fn reads_a_supply_directory() {
        let dir = tempfile::tempdir().unwrap();
        let bat = dir.path().join("class/power_supply/BAT0");
        std::fs::create_dir_all(bat.join("power")).unwrap();
        write(&bat.join("capacity"), "55\n");
        std::fs::write(bat.join("model_name"), b"LNV-5B10\xc0\xc0\n").unwrap();
        write(&bat.join("uevent"), "POWER_SUPPLY_NAME=BAT0\n");
        let cfg = sysfs_at(dir.path());
        let fams = PowersupplyclassCollector::new(&cfg).collect().unwrap();
        assert_eq!(
            family(&fams, "node_power_supply_capacity").samples[0].value,
            55.0
        );
        let info = &family(&fams, "node_power_supply_info").samples[0];
        assert_eq!(info.labels[0].1, "LNV-5B10\u{fffd}");
    }
}
