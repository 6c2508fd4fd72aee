//! `node_time_seconds`, `node_time_zone_offset_seconds{time_zone}` and the clocksource info
//! metrics from /sys/devices/system/clocksource/clocksource<N>/.
#![allow(unsafe_code, reason = "localtime_r(3) for the time zone")]

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use exporter_core::{BlockingCollector, CollectError, CollectResult, MetricFamily};

use crate::kept::KeptFiles;
use crate::paths::HostPaths;
use crate::util::sorted_dir_names;

/// The `time` collector: what it reads and emits is in the module documentation.
pub struct TimeCollector {
    clocksource_dir: PathBuf,
    clocksource_files: KeptFiles,
}

impl TimeCollector {
    /// The collector reading under `cfg`.
    pub fn new(cfg: &HostPaths) -> Self {
        TimeCollector {
            clocksource_dir: cfg.sys_path("devices/system/clocksource"),
            clocksource_files: KeptFiles::default(),
        }
    }
}

/// The local time zone's abbreviation and UTC offset in seconds at `epoch_secs`, from the C
/// library (TZ, else /etc/localtime), read once per process like Go's `time.Local`.
#[cfg(target_os = "linux")]
pub fn local_zone(epoch_secs: u64) -> Option<(String, f64)> {
    let t = libc::time_t::try_from(epoch_secs).ok()?;
    // SAFETY: an all-zero `tm` is a valid value (integers and a null pointer). localtime_r is the
    // reentrant variant: it writes only into `tm`, which lives on our stack, and reads `t`.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call (see above).
    let res = unsafe { libc::localtime_r(&t, &mut tm) };
    if res.is_null() {
        return None;
    }
    let zone = if tm.tm_zone.is_null() {
        String::new()
    } else {
        // SAFETY: glibc/musl point tm_zone at a NUL-terminated abbreviation in storage that lives
        // for the rest of the process (zone strings are interned, never freed); we copy it at once.
        unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) }
            .to_string_lossy()
            .into_owned()
    };
    Some((zone, tm.tm_gmtoff as f64))
}

#[cfg(not(target_os = "linux"))]
pub fn local_zone(_epoch_secs: u64) -> Option<(String, f64)> {
    None
}

/// The `<N>` of a `clocksource<N>` entry (the `clocksource[0-9]*` glob).
pub fn is_clocksource_dir(name: &str) -> bool {
    name.strip_prefix("clocksource")
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}

/// Splits `available_clocksource` (`"tsc hpet acpi_pm \n"`) into names.
pub fn parse_available(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}

impl BlockingCollector for TimeCollector {
    fn name(&self) -> &'static str {
        "time"
    }

    fn collect(&self) -> CollectResult {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| CollectError::Other(format!("system clock before 1970: {e}")))?;

        let seconds = MetricFamily::gauge(
            "node_time_seconds",
            "System time in seconds since epoch (1970).",
        )
        .with(&[], now.as_secs_f64());

        let mut zone = MetricFamily::gauge(
            "node_time_zone_offset_seconds",
            "System time zone offset in seconds.",
        );
        if let Some((name, offset)) = local_zone(now.as_secs()) {
            zone.push(&[("time_zone", &name)], offset);
        }

        let mut available = MetricFamily::gauge(
            "node_time_clocksource_available_info",
            "Available clocksources read from '/sys/devices/system/clocksource'.",
        );
        let mut current = MetricFamily::gauge(
            "node_time_clocksource_current_info",
            "Current clocksource read from '/sys/devices/system/clocksource'.",
        );
        // A missing directory (containers with a partial /sys) only loses the clocksource info.
        let entries = sorted_dir_names(&self.clocksource_dir).unwrap_or_default();
        let mut files = self.clocksource_files.scrape();
        let mut read = |path: &std::path::Path| {
            let mut text = String::new();
            files.read_into(path, &mut text).ok()?;
            Some(text.trim().to_string())
        };
        // Upstream labels each clocksource with its position in the sorted glob, not its number.
        for (i, entry) in entries.iter().filter(|e| is_clocksource_dir(e)).enumerate() {
            let dir = self.clocksource_dir.join(entry);
            let (Some(avail), Some(cur)) = (
                read(&dir.join("available_clocksource")),
                read(&dir.join("current_clocksource")),
            ) else {
                continue;
            };
            let device = i.to_string();
            for cs in parse_available(&avail) {
                available.push(&[("clocksource", cs), ("device", &device)], 1.0);
            }
            current.push(&[("clocksource", &cur), ("device", &device)], 1.0);
        }

        Ok(vec![seconds, zone, available, current])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_maps, sysfs_at, write};

    #[test]
    fn clocksource_entries() {
        assert_maps(
            is_clocksource_dir,
            &[
                ("clocksource0", true),
                ("clocksource12", true),
                ("clocksource", false),
                ("power", false),
                ("uevent", false),
            ],
        );
    }

    #[test]
    fn parses_available_clocksources() {
        assert_eq!(
            parse_available("tsc hpet acpi_pm \n"),
            vec!["tsc", "hpet", "acpi_pm"]
        );
        assert_eq!(parse_available("kvm-clock"), vec!["kvm-clock"]);
        assert!(parse_available("").is_empty());
        assert!(parse_available(" \n").is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn local_zone_reports_a_plausible_offset() {
        let (name, offset) = local_zone(1_700_000_000).unwrap();
        assert!(!name.is_empty());
        assert!(offset.abs() <= 14.0 * 3600.0, "{offset}");
    }

    #[test]
    fn collects_time_and_clocksources() {
        let dir = tempfile::tempdir().unwrap();
        let cs = dir.path().join("devices/system/clocksource");
        std::fs::create_dir_all(cs.join("clocksource0")).unwrap();
        std::fs::create_dir_all(cs.join("power")).unwrap();
        write(
            &cs.join("clocksource0/available_clocksource"),
            "tsc kvm-clock \n",
        );
        write(&cs.join("clocksource0/current_clocksource"), "tsc\n");
        let cfg = sysfs_at(dir.path());
        let fams = TimeCollector::new(&cfg).collect().unwrap();
        assert!(fams[0].samples[0].value > 1.6e9);
        let avail: Vec<(&str, &str)> = fams[2]
            .samples
            .iter()
            .map(|s| (s.labels[0].1.as_str(), s.labels[1].1.as_str()))
            .collect();
        assert_eq!(avail, vec![("tsc", "0"), ("kvm-clock", "0")]);
        assert_eq!(fams[3].samples[0].labels[0].1, "tsc");
    }

    #[test]
    fn missing_clocksources_still_report_the_time() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = sysfs_at(dir.path());
        let fams = TimeCollector::new(&cfg).collect().unwrap();
        assert_eq!(fams[0].samples.len(), 1);
        assert!(fams[2].is_empty() && fams[3].is_empty());
    }
}
