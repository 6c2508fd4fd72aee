//! `node_hwmon_*` sensor readings from /sys/class/hwmon/hwmon<N>/ (and the files of its `device`
//! directory, where older drivers put them), similar to lm-sensors.
//!
//! Metric names follow upstream's scheme: `node_hwmon_<type>[_<property>]` plus a unit suffix
//! chosen by sensor type (`temp1_max` becomes `node_hwmon_temp_max_celsius`). Chips are named
//! after their stable device path (`platform_coretemp_0`) rather than the unstable `hwmon<N>`.
//! A host without /sys/class/hwmon reports NotAvailable.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use exporter_core::{CollectResult, MetricFamily, MetricType};

use crate::absent::{gated_collector, GatedDir};
use crate::paths::HostPaths;
use crate::util::sorted_dir_names;

/// Sensor types whose files are read; everything else in the directory is ignored.
const SENSOR_TYPES: [&str; 13] = [
    "vrm",
    "beep_enable",
    "update_interval",
    "in",
    "cpu",
    "fan",
    "pwm",
    "temp",
    "curr",
    "power",
    "energy",
    "humidity",
    "intrusion",
];

/// The `hwmon` collector: what it reads and emits is in the module documentation.
pub struct HwmonCollector {
    dir: GatedDir,
}

impl HwmonCollector {
    /// The collector reading under `cfg`.
    pub fn new(cfg: &HostPaths) -> Self {
        HwmonCollector {
            dir: GatedDir::new(cfg.sys_path("class/hwmon")),
        }
    }
}

/// Lower-cases and replaces everything outside `[a-z0-9:_]` with `_`, trimming `_` at both ends.
pub fn clean_metric_name(name: &str) -> String {
    let cleaned: String = name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    cleaned.trim_matches('_').to_string()
}

/// Decodes bytes as UTF-8, replacing each run of invalid bytes with one U+FFFD (Go's
/// `strings.ToValidUTF8(s, "\uFFFD")`), so label values match upstream's.
pub fn to_valid_utf8(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(bytes.len() + 2);
    let mut in_invalid_run = false;
    for chunk in bytes.utf8_chunks() {
        if !chunk.valid().is_empty() {
            out.push_str(chunk.valid());
            in_invalid_run = false;
        }
        if !chunk.invalid().is_empty() {
            if !in_invalid_run {
                out.push('\u{fffd}');
            }
            in_invalid_run = true;
        }
    }
    Cow::Owned(out)
}

/// Splits a sensor file name into `(type, number, property)`, with the semantics of upstream's
/// `^([^0-9]+)([0-9]*)?(_(.+))?$` (leftmost-first, greedy): `temp1_crit_alarm` is
/// `("temp", 1, "crit_alarm")`, `beep_enable` is `("beep_enable", 0, "")`.
pub fn explode_sensor_filename(name: &str) -> Option<(&str, i64, &str)> {
    let bytes = name.as_bytes();
    let type_max = bytes.iter().take_while(|b| !b.is_ascii_digit()).count();
    // Greedy type first; a shorter type only works if the next byte is the `_` separator.
    for type_len in (1..=type_max).rev() {
        let rest = bytes.get(type_len..)?;
        let id_max = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        for id_len in (0..=id_max).rev() {
            let tail = rest.get(id_len..)?;
            let prop = match tail {
                [] => Some(""),
                [b'_', more @ ..] if !more.is_empty() && !more.contains(&b'\n') => {
                    name.get(name.len() - more.len()..)
                }
                _ => None,
            };
            if let Some(prop) = prop {
                let kind = name.get(..type_len)?;
                let id = name.get(type_len..type_len + id_len)?;
                let num = if id.is_empty() { 0 } else { id.parse().ok()? };
                return Some((kind, num, prop));
            }
        }
    }
    None
}

/// One sensor (`temp1`, `fan2`, ...): its type and its properties (`""` for the bare file, then
/// `input`, `max`, `label`, ...), each the raw file content without surrounding newlines.
#[derive(Debug, Default, PartialEq)]
pub struct Sensor {
    /// The sensor type (`temp`, `fan`, `in`, ...).
    pub kind: &'static str,
    /// Property name to raw value.
    pub props: BTreeMap<String, String>,
}

/// Every sensor of one chip, by name (`temp1`, `fan2`, ...).
pub type Sensors = BTreeMap<String, Sensor>;

/// Reads a sensor file the way upstream does: one read of at most 128 bytes, because some broken
/// drivers return EAGAIN forever and a retrying read loop would spin.
fn read_value(path: &Path) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = [0u8; 128];
    let n = f.read(&mut buf).ok()?;
    let raw = buf.get(..n)?;
    Some(to_valid_utf8(raw).trim_matches('\n').to_string())
}

/// Adds the sensor files found in `dir` to `sensors` (later directories override earlier ones).
fn collect_sensor_files(dir: &Path, sensors: &mut Sensors) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let Ok(file) = entry.file_name().into_string() else {
            continue;
        };
        let Some((kind, num, prop)) = explode_sensor_filename(&file) else {
            continue;
        };
        let Some(&kind) = SENSOR_TYPES.iter().find(|t| **t == kind) else {
            continue;
        };
        let Some(value) = read_value(&entry.path()) else {
            continue;
        };
        let sensor = sensors.entry(format!("{kind}{num}")).or_default();
        sensor.kind = kind;
        sensor.props.insert(prop.to_string(), value);
    }
    Ok(())
}

/// Picks the chip label: `<bus>_<device>` from the resolved `device` link (stable across reboots),
/// else the driver's `name`, else the `hwmon<N>` directory name.
pub fn chip_name(
    device: Option<&Path>,
    name_file: Option<&str>,
    real_dir: Option<&Path>,
) -> Option<String> {
    let base = |p: &Path| {
        p.file_name()
            .map(|n| clean_metric_name(&n.to_string_lossy()))
    };
    if let Some(dev) = device {
        let dev_name = base(dev).unwrap_or_default();
        let dev_type = dev.parent().and_then(base).unwrap_or_default();
        if !dev_type.is_empty() && !dev_name.is_empty() {
            return Some(format!("{dev_type}_{dev_name}"));
        }
        if !dev_name.is_empty() {
            return Some(dev_name);
        }
    }
    if let Some(name) = name_file.map(clean_metric_name).filter(|n| !n.is_empty()) {
        return Some(name);
    }
    real_dir.and_then(base).filter(|n| !n.is_empty())
}

/// How one sensor property is exported: metric name, help, type and the factor applied to the
/// raw value. `None` for properties that are not values (`label`).
pub fn describe(
    kind: &str,
    element: &str,
    has_bare_value: bool,
) -> Option<(String, String, MetricType, f64)> {
    if element == "label" {
        return None;
    }
    let mut name = format!("node_hwmon_{kind}");
    if element == "input" {
        // `temp1` and `temp1_input` may both exist; only then is the input spelled out.
        if has_bare_value {
            name.push_str("_input");
        }
    } else if !element.is_empty() {
        name.push('_');
        name.push_str(&clean_metric_name(element));
    }
    let gauge =
        |name: String, help: String, factor: f64| Some((name, help, MetricType::Gauge, factor));
    match (kind, element) {
        (_, "fault" | "alarm") => gauge(
            name,
            format!("Hardware sensor {element} status ({kind})"),
            1.0,
        ),
        (_, "beep") => gauge(
            name + "_enabled",
            "Hardware monitor sensor has beeping enabled".into(),
            1.0,
        ),
        ("in" | "cpu", _) => gauge(
            name + "_volts",
            format!("Hardware monitor for voltage ({element})"),
            0.001,
        ),
        ("temp", e) if e != "type" => {
            let shown = if e.is_empty() { "input" } else { e };
            gauge(
                name + "_celsius",
                format!("Hardware monitor for temperature ({shown})"),
                0.001,
            )
        }
        ("curr", _) => gauge(
            name + "_amps",
            format!("Hardware monitor for current ({element})"),
            0.001,
        ),
        ("energy", _) => Some((
            name + "_joule_total",
            format!("Hardware monitor for joules used so far ({element})"),
            MetricType::Counter,
            1e-6,
        )),
        ("power", "accuracy") => gauge(
            name,
            "Hardware monitor power meter accuracy, as a ratio".into(),
            1e-6,
        ),
        ("power", "average_interval" | "average_interval_min" | "average_interval_max") => gauge(
            name + "_seconds",
            format!("Hardware monitor power usage update interval ({element})"),
            0.001,
        ),
        ("power", _) => gauge(
            name + "_watt",
            format!("Hardware monitor for power usage in watts ({element})"),
            1e-6,
        ),
        ("humidity", _) => gauge(
            name,
            format!(
                "Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the \
                 humidity as a percentage) ({element})"
            ),
            1e-6,
        ),
        ("fan", "input" | "min" | "max" | "target") => gauge(
            name + "_rpm",
            format!("Hardware monitor for fan revolutions per minute ({element})"),
            1.0,
        ),
        _ => gauge(
            name,
            format!("Hardware monitor {kind} element {element}"),
            1.0,
        ),
    }
}

/// Families keyed by metric name, so samples of all chips land in one family each.
#[derive(Default)]
pub struct Families(BTreeMap<String, MetricFamily>);

impl Families {
    fn push(
        &mut self,
        name: String,
        help: impl Into<Cow<'static, str>>,
        kind: MetricType,
        labels: &[(&'static str, &str)],
        value: f64,
    ) {
        self.0
            .entry(name)
            .or_insert_with_key(|name| MetricFamily::new(name.clone(), help, kind))
            .push(labels, value);
    }

    /// Adds one chip's metrics.
    pub fn add_chip(&mut self, chip: &str, chip_human_name: Option<&str>, sensors: &Sensors) {
        if let Some(human) = chip_human_name {
            self.push(
                "node_hwmon_chip_names".into(),
                "Annotation metric for human-readable chip names",
                MetricType::Gauge,
                &[("chip", chip), ("chip_name", human)],
                1.0,
            );
        }
        for (sensor_name, sensor) in sensors {
            let labels = [("chip", chip), ("sensor", sensor_name.as_str())];
            if let Some(label) = sensor.props.get("label") {
                self.push(
                    "node_hwmon_sensor_label".into(),
                    "Label for given chip and sensor",
                    MetricType::Gauge,
                    &[("chip", chip), ("label", label), ("sensor", sensor_name)],
                    1.0,
                );
            }
            let bare = sensor.props.get("");
            let bare_f64 = || bare.and_then(|v| v.parse::<f64>().ok());
            match sensor.kind {
                "beep_enable" => {
                    let on = bare.is_some_and(|v| v == "1");
                    self.push(
                        "node_hwmon_beep_enabled".into(),
                        "Hardware beep enabled",
                        MetricType::Gauge,
                        &labels,
                        if on { 1.0 } else { 0.0 },
                    );
                    continue;
                }
                "vrm" => {
                    if let Some(v) = bare_f64() {
                        self.push(
                            "node_hwmon_voltage_regulator_version".into(),
                            "Hardware voltage regulator",
                            MetricType::Gauge,
                            &labels,
                            v,
                        );
                    }
                    continue;
                }
                "update_interval" => {
                    if let Some(v) = bare_f64() {
                        self.push(
                            "node_hwmon_update_interval_seconds".into(),
                            "Hardware monitor update interval",
                            MetricType::Gauge,
                            &labels,
                            v * 0.001,
                        );
                    }
                    continue;
                }
                _ => {}
            }
            for (element, raw) in &sensor.props {
                let Some((name, help, kind, factor)) =
                    describe(sensor.kind, element, bare.is_some())
                else {
                    continue;
                };
                let Ok(v) = raw.parse::<f64>() else { continue };
                self.push(name, help, kind, &labels, v * factor);
            }
        }
    }

    /// The families, in name order.
    pub fn into_vec(self) -> Vec<MetricFamily> {
        self.0.into_values().collect()
    }
}

/// Reads one `hwmon<N>` directory; `None` when no chip name can be derived or it is unreadable.
fn read_chip(dir: &Path) -> Option<(String, Option<String>, Sensors)> {
    let device_link = dir.join("device");
    let device = std::fs::canonicalize(&device_link).ok();
    let name_file = std::fs::read(dir.join("name"))
        .ok()
        .map(|b| to_valid_utf8(&b).into_owned());
    let real_dir = std::fs::canonicalize(dir).ok();
    let chip = chip_name(device.as_deref(), name_file.as_deref(), real_dir.as_deref())?;

    let mut sensors = Sensors::new();
    collect_sensor_files(dir, &mut sensors).ok()?;
    if device.is_some() {
        collect_sensor_files(&device_link, &mut sensors).ok()?;
    }
    let human = name_file
        .as_deref()
        .map(clean_metric_name)
        .filter(|n| !n.is_empty());
    Some((chip, human, sensors))
}

gated_collector!(HwmonCollector, "hwmon", dir);

impl HwmonCollector {
    fn collect_present(&self) -> CollectResult {
        let entries = sorted_dir_names(&self.dir)?;
        let mut fams = Families::default();
        for entry in &entries {
            let path = self.dir.join(entry);
            // Entries are symlinks into /sys/devices; follow them and keep directories only.
            if !std::fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            match read_chip(&path) {
                Some((chip, human, sensors)) => fams.add_chip(&chip, human.as_deref(), &sensors),
                None => tracing::debug!(path = %path.display(), "skipping unreadable hwmon chip"),
            }
        }
        Ok(fams.into_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        assert_maps, assert_not_available, family, family_names, label_pairs, sysfs_at, write,
    };
    use exporter_core::BlockingCollector;

    #[test]
    fn explodes_sensor_file_names_like_the_upstream_regex() {
        type Exploded = Option<(&'static str, i64, &'static str)>;
        let cases: &[(&str, Exploded)] = &[
            ("temp1_input", Some(("temp", 1, "input"))),
            ("temp1_crit_alarm", Some(("temp", 1, "crit_alarm"))),
            ("in0_input", Some(("in", 0, "input"))),
            ("pwm1", Some(("pwm", 1, ""))),
            ("temp01_max", Some(("temp", 1, "max"))),
            ("beep_enable", Some(("beep_enable", 0, ""))),
            ("update_interval", Some(("update_interval", 0, ""))),
            ("vrm", Some(("vrm", 0, ""))),
            ("name", Some(("name", 0, ""))),
            ("in_input", Some(("in_input", 0, ""))),
            // Greedy match fails at `y`; backtracking to a shorter type succeeds.
            ("fan_x1y", Some(("fan", 0, "x1y"))),
            (
                "power1_average_interval",
                Some(("power", 1, "average_interval")),
            ),
            ("temp1a", None),
            ("temp1_", None),
            ("1temp", None),
            ("", None),
            ("temp99999999999999999999_input", None),
        ];
        for (name, want) in cases {
            assert_eq!(explode_sensor_filename(name), *want, "{name}");
        }
    }

    #[test]
    fn cleans_metric_names() {
        assert_maps(
            clean_metric_name,
            &[
                ("coretemp\n", "coretemp"),
                ("Package id 0", "package_id_0"),
                ("0000:00:18.3", "0000:00:18_3"),
                ("__x__", "x"),
                ("é", ""),
                ("", ""),
            ],
        );
    }

    #[test]
    fn invalid_utf8_runs_become_one_replacement_char() {
        assert_eq!(to_valid_utf8(b"Core 0"), "Core 0");
        assert_eq!(to_valid_utf8(b"LNV\xc0\xc0"), "LNV\u{fffd}");
        assert_eq!(to_valid_utf8(b"a\xffb\xfe"), "a\u{fffd}b\u{fffd}");
        assert_eq!(to_valid_utf8(b"\xe2\x82"), "\u{fffd}");
    }

    #[test]
    fn chip_names_prefer_the_device_path() {
        let dev = Path::new("/sys/devices/platform/coretemp.0");
        let real = Path::new("/sys/devices/platform/coretemp.0/hwmon/hwmon3");
        assert_eq!(
            chip_name(Some(dev), Some("coretemp\n"), Some(real)).as_deref(),
            Some("platform_coretemp_0")
        );
        let pci = Path::new("/sys/devices/pci0000:00/0000:00:18.3");
        assert_eq!(
            chip_name(Some(pci), None, None).as_deref(),
            Some("pci0000:00_0000:00:18_3")
        );
        assert_eq!(
            chip_name(None, Some("nvme\n"), Some(real)).as_deref(),
            Some("nvme")
        );
        assert_eq!(
            chip_name(None, Some("\n"), Some(real)).as_deref(),
            Some("hwmon3")
        );
        assert_eq!(chip_name(Some(Path::new("/")), None, None), None);
    }

    #[test]
    fn describes_units_and_help_like_upstream() {
        let d = describe;
        assert_eq!(
            d("temp", "input", false),
            Some((
                "node_hwmon_temp_celsius".into(),
                "Hardware monitor for temperature (input)".into(),
                MetricType::Gauge,
                0.001
            ))
        );
        assert_eq!(
            d("temp", "", true).unwrap().1,
            "Hardware monitor for temperature (input)"
        );
        assert_eq!(
            d("temp", "input", true).unwrap().0,
            "node_hwmon_temp_input_celsius"
        );
        assert_eq!(d("temp", "type", false).unwrap().0, "node_hwmon_temp_type");
        assert_eq!(
            d("temp", "crit_alarm", false).unwrap().0,
            "node_hwmon_temp_crit_alarm_celsius"
        );
        assert_eq!(d("in", "min", false).unwrap().0, "node_hwmon_in_min_volts");
        assert_eq!(d("in", "alarm", false).unwrap().0, "node_hwmon_in_alarm");
        assert_eq!(
            d("in", "beep", false).unwrap().0,
            "node_hwmon_in_beep_enabled"
        );
        assert_eq!(d("fan", "input", false).unwrap().0, "node_hwmon_fan_rpm");
        assert_eq!(
            d("fan", "div", false).unwrap().1,
            "Hardware monitor fan element div"
        );
        assert_eq!(
            d("pwm", "", false).unwrap().1,
            "Hardware monitor pwm element "
        );
        assert_eq!(
            d("power", "average", false).unwrap().0,
            "node_hwmon_power_average_watt"
        );
        assert_eq!(
            d("power", "average_interval", false).unwrap().0,
            "node_hwmon_power_average_interval_seconds"
        );
        assert_eq!(d("power", "accuracy", false).unwrap().3, 1e-6);
        let energy = d("energy", "input", false).unwrap();
        assert_eq!(energy.0, "node_hwmon_energy_joule_total");
        assert_eq!(energy.2, MetricType::Counter);
        assert_eq!(d("curr", "input", false).unwrap().0, "node_hwmon_curr_amps");
        assert_eq!(
            d("humidity", "input", false).unwrap().0,
            "node_hwmon_humidity"
        );
        assert_eq!(
            d("cpu", "vid", false).unwrap().0,
            "node_hwmon_cpu_vid_volts"
        );
        assert_eq!(d("temp", "label", false), None);
    }

    fn sensor(kind: &'static str, props: &[(&str, &str)]) -> Sensor {
        Sensor {
            kind,
            props: props
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn chip_metrics_from_sensor_data() {
        let mut sensors = Sensors::new();
        sensors.insert(
            "temp1".into(),
            sensor(
                "temp",
                &[
                    ("input", "45000"),
                    ("label", "Package id 0"),
                    ("max", "garbage"),
                ],
            ),
        );
        sensors.insert("beep_enable0".into(), sensor("beep_enable", &[("", "1")]));
        sensors.insert("vrm0".into(), sensor("vrm", &[("", "x")]));
        let mut fams = Families::default();
        fams.add_chip("platform_coretemp_0", Some("coretemp"), &sensors);
        let fams = fams.into_vec();
        let names = family_names(&fams);
        assert_eq!(
            names,
            vec![
                "node_hwmon_beep_enabled",
                "node_hwmon_chip_names",
                "node_hwmon_sensor_label",
                "node_hwmon_temp_celsius",
            ]
        );
        assert_eq!(fams[3].samples[0].value, 45.0);
        let label = label_pairs(&fams[2].samples[0]);
        assert_eq!(
            label,
            vec![
                ("chip", "platform_coretemp_0"),
                ("label", "Package id 0"),
                ("sensor", "temp1")
            ]
        );
    }

    #[test]
    fn missing_class_hwmon_is_not_available() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = sysfs_at(dir.path());
        assert_not_available(HwmonCollector::new(&cfg).collect());
    }

    #[cfg(unix)]
    #[test]
    fn reads_a_chip_through_class_symlinks() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path();
        let dev = sys.join("devices/platform/coretemp.0");
        let hw = dev.join("hwmon/hwmon0");
        std::fs::create_dir_all(&hw).unwrap();
        std::fs::create_dir_all(sys.join("class/hwmon")).unwrap();
        symlink("../../../coretemp.0", hw.join("device")).unwrap();
        symlink(
            "../../devices/platform/coretemp.0/hwmon/hwmon0",
            sys.join("class/hwmon/hwmon0"),
        )
        .unwrap();
        write(&hw.join("name"), "coretemp\n");
        write(&hw.join("temp1_input"), "45000\n");
        write(&hw.join("temp1_label"), "Core 0\n");
        write(&dev.join("temp2_input"), "47000\n");
        write(&sys.join("class/hwmon/stray_file"), "");
        let cfg = sysfs_at(sys);
        let fams = HwmonCollector::new(&cfg).collect().unwrap();
        let temp = family(&fams, "node_hwmon_temp_celsius");
        let got: Vec<(&str, &str, f64)> = temp
            .samples
            .iter()
            .map(|s| (s.labels[0].1.as_str(), s.labels[1].1.as_str(), s.value))
            .collect();
        assert_eq!(
            got,
            vec![
                ("platform_coretemp_0", "temp1", 45.0),
                ("platform_coretemp_0", "temp2", 47.0)
            ]
        );
        let names = family(&fams, "node_hwmon_chip_names");
        assert_eq!(names.samples[0].labels[1].1, "coretemp");
    }
}
