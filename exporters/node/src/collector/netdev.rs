//! `node_network_{receive,transmit}_*_total{device}` from /proc/net/dev.
//!
//! Upstream 1.5 reads these over rtnetlink by default and folds the detailed counters back into
//! the /proc/net/dev columns (its "legacy" names). The kernel does the same folding when it prints
//! /proc/net/dev, so the 16 columns are equal; the one netlink counter /proc/net/dev lacks,
//! `rx_nohandler`, comes from sysfs (`statistics/rx_nohandler`) so the family set is the same.

use std::path::PathBuf;

use exporter_core::{interned, BlockingCollector, CollectError, CollectResult, MetricFamily};
use regex::Regex;

use crate::collector::{flag_regex, CollectorFlags};
use crate::kept::{KeptFile, KeptFiles};
use crate::paths::HostPaths;
use crate::util::{filter_flags, keep_first_of_each};

/// Metric stems for the 16 columns of /proc/net/dev, in file order (8 receive, 8 transmit).
const COLUMNS: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errs",
    "receive_drop",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errs",
    "transmit_drop",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

/// Debian's build leaves the loopback device out of netdev.
const DEFAULT_DEVICE_EXCLUDE: &str = "^lo$";

filter_flags! {
    /// The netdev collector's own flags.
    NetdevFlags {
        /// Regexp of net devices to include (mutually exclusive to device-exclude).
        include: "collector.netdev.device-include",
            conflicts_with = "collector.netdev.device-exclude";
        /// Regexp of net devices to exclude (mutually exclusive to device-include).
        exclude: "collector.netdev.device-exclude" = DEFAULT_DEVICE_EXCLUDE;
    }
}

impl CollectorFlags for NetdevFlags {
    type Options = DeviceFilter;

    fn options(self) -> Result<DeviceFilter, String> {
        let mut filter = self.filter(|v| Some(v.to_owned()))?;
        // The default exclude only applies when no include list is given.
        if filter.include.is_some() {
            filter.exclude = None;
        }
        Ok(filter)
    }
}

/// Include/exclude regexes on names: the netdev collector's options (at most one of them set),
/// the device filter of the diskstats and ethtool collectors and the systemd unit filter.
#[derive(Debug, Clone)]
pub struct DeviceFilter {
    /// Only these devices, when set.
    pub include: Option<Regex>,
    /// Not these devices, when set.
    pub exclude: Option<Regex>,
}

impl Default for DeviceFilter {
    fn default() -> Self {
        DeviceFilter {
            include: None,
            exclude: Some(Regex::new(DEFAULT_DEVICE_EXCLUDE).expect("built-in regex")),
        }
    }
}

impl DeviceFilter {
    /// The filter of an include and an exclude flag (`(flag name, value)`): each value given is
    /// compiled from `pattern(value)` where that is `Some`; an error names the flag.
    pub(crate) fn from_flags(
        include: (&str, Option<String>),
        exclude: (&str, Option<String>),
        pattern: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let compile = |(flag, value): (&str, Option<String>)| {
            value
                .as_deref()
                .and_then(&pattern)
                .map(|p| flag_regex(flag, &p))
                .transpose()
        };
        Ok(DeviceFilter {
            include: compile(include)?,
            exclude: compile(exclude)?,
        })
    }

    /// Whether `device` is filtered out.
    pub fn ignored(&self, device: &str) -> bool {
        self.exclude.as_ref().is_some_and(|r| r.is_match(device))
            || self.include.as_ref().is_some_and(|r| !r.is_match(device))
    }
}

/// The `netdev` collector: what it reads and emits is in the module documentation.
pub struct NetdevCollector {
    path: KeptFile,
    class_net: PathBuf,
    filter: DeviceFilter,
    /// Each device's `statistics/rx_nohandler`.
    nohandler: KeptFiles,
}

impl NetdevCollector {
    /// The collector reading under `cfg`, with its own options.
    pub fn new(cfg: &HostPaths, filter: &DeviceFilter) -> Self {
        NetdevCollector {
            path: KeptFile::new(cfg.proc_path("net/dev")),
            class_net: cfg.sys_path("class/net"),
            filter: filter.clone(),
            nohandler: KeptFiles::default(),
        }
    }
}

/// One device's line of /proc/net/dev.
#[derive(Debug, Clone, PartialEq)]
pub struct NetDevLine<'a> {
    /// The interface name.
    pub device: &'a str,
    /// The 16 counters, in file order (see `COLUMNS`).
    pub values: [u64; 16],
}

/// Parses /proc/net/dev: two header lines, then `  eth0: <8 receive> <8 transmit>` per device.
/// The name ends at the last ':' because old kernels print `eth0:123` with no space.
pub fn parse_netdev(text: &str) -> Result<Vec<NetDevLine<'_>>, CollectError> {
    let mut out = Vec::new();
    for line in text.lines().skip(2) {
        if line.trim().is_empty() {
            continue;
        }
        let (name, rest) = line
            .rsplit_once(':')
            .ok_or_else(|| CollectError::Parse(format!("net/dev: no ':' in {line:?}")))?;
        let device = name.trim();
        let mut values = [0u64; 16];
        let mut fields = rest.split_whitespace();
        for (slot, stem) in values.iter_mut().zip(COLUMNS) {
            let raw = fields
                .next()
                .ok_or_else(|| CollectError::Parse(format!("net/dev: {device}: missing {stem}")))?;
            *slot = raw.parse().map_err(|_| {
                CollectError::Parse(format!("net/dev: {device}: invalid {stem}: {raw:?}"))
            })?;
        }
        out.push(NetDevLine { device, values });
    }
    keep_first_of_each(&mut out, |l| l.device);
    Ok(out)
}

impl BlockingCollector for NetdevCollector {
    fn name(&self) -> &'static str {
        "netdev"
    }

    fn collect(&self) -> CollectResult {
        let text = self.path.read()?;
        let lines = parse_netdev(&text)?;

        let mut families: Vec<MetricFamily> = COLUMNS
            .iter()
            .map(|stem| {
                MetricFamily::counter(
                    interned!("node_network_{stem}_total"),
                    interned!("Network device statistic {stem}."),
                )
            })
            .collect();
        let mut nohandler = MetricFamily::counter(
            "node_network_receive_nohandler_total",
            "Network device statistic receive_nohandler.",
        );

        let mut files = self.nohandler.scrape();
        let mut path = PathBuf::new();
        let mut text = String::new();
        for dev in lines.iter().filter(|d| !self.filter.ignored(d.device)) {
            for (fam, v) in families.iter_mut().zip(dev.values) {
                fam.push(&[("device", dev.device)], v as f64);
            }
            path.clone_from(&self.class_net);
            path.push(dev.device);
            path.push("statistics/rx_nohandler");
            if files.read_into(&path, &mut text).is_ok() {
                if let Ok(v) = text.trim().parse::<u64>() {
                    nohandler.push(&[("device", dev.device)], v as f64);
                }
            }
        }
        families.push(nohandler);
        Ok(families)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_not_available, assert_rejects, write};

    const SAMPLE: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:   62948      63    0    0    0     0          0         0    62948      63    0    0    0     0       0          0
  ifb0:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
  eth0: 115678237    4277    1    2    3     4          5         6   206497    2387    7    8    9    10      11         12
";

    #[test]
    fn parses_all_columns() {
        let lines = parse_netdev(SAMPLE).unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].device, "lo");
        assert_eq!(lines[2].device, "eth0");
        assert_eq!(
            lines[2].values,
            [115678237, 4277, 1, 2, 3, 4, 5, 6, 206497, 2387, 7, 8, 9, 10, 11, 12]
        );
    }

    #[test]
    fn old_kernel_format_without_space_after_colon() {
        let text = "h1\nh2\n  eth0:1234 5 0 0 0 0 0 0 99 3 0 0 0 0 0 0\n";
        let lines = parse_netdev(text).unwrap();
        assert_eq!(lines[0].device, "eth0");
        assert_eq!(lines[0].values[0], 1234);
        assert_eq!(lines[0].values[8], 99);
    }

    #[test]
    fn a_repeated_device_keeps_its_first_line() {
        // Found by tests/fuzz.rs: a repeated line gave two series for device="lo".
        let text = "h1\nh2\n lo: 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n\
                    eth0: 2 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n lo: 3 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        let got: Vec<_> = parse_netdev(text)
            .unwrap()
            .iter()
            .map(|l| (l.device, l.values[0]))
            .collect();
        assert_eq!(got, [("lo", 1), ("eth0", 2)]);
    }

    #[test]
    fn headers_only_or_empty_is_no_devices() {
        assert!(parse_netdev("").unwrap().is_empty());
        assert!(parse_netdev("a\nb\n").unwrap().is_empty());
    }

    #[test]
    fn truncated_or_garbage_is_an_error() {
        assert_rejects(
            parse_netdev,
            &[
                "h1\nh2\n  eth0: 1 2 3\n",
                "h1\nh2\n  eth0 1 2 3\n",
                "h1\nh2\n  eth0: 1 2 3 4 5 6 7 x 9 10 11 12 13 14 15 16\n",
                "h1\nh2\n  eth0: -1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
            ],
        );
    }

    #[test]
    fn collect_filters_devices_and_reads_nohandler() {
        let dir = tempfile::tempdir().unwrap();
        let proc_net = dir.path().join("proc/net");
        std::fs::create_dir_all(&proc_net).unwrap();
        write(&proc_net.join("dev"), SAMPLE);
        let stats = dir.path().join("sys/class/net/eth0/statistics");
        std::fs::create_dir_all(&stats).unwrap();
        write(&stats.join("rx_nohandler"), "7\n");

        let cfg = HostPaths {
            procfs: dir.path().join("proc"),
            sysfs: dir.path().join("sys"),
            ..HostPaths::default()
        };
        let filter = DeviceFilter {
            include: None,
            exclude: Some(regex::Regex::new("^lo$").unwrap()),
        };
        let fams = NetdevCollector::new(&cfg, &filter).collect().unwrap();
        assert_eq!(fams.len(), 17);
        let bytes = &fams[0];
        assert_eq!(bytes.name, "node_network_receive_bytes_total");
        let devs: Vec<_> = bytes
            .samples
            .iter()
            .map(|s| s.labels[0].1.as_str())
            .collect();
        assert_eq!(devs, ["ifb0", "eth0"]);
        let nh = fams.last().unwrap();
        assert_eq!(nh.name, "node_network_receive_nohandler_total");
        assert_eq!(nh.samples.len(), 1);
        assert_eq!(nh.samples[0].value, 7.0);
    }

    #[test]
    fn missing_file_is_not_available() {
        let cfg = HostPaths {
            procfs: "/nonexistent".into(),
            ..HostPaths::default()
        };
        assert_not_available(NetdevCollector::new(&cfg, &DeviceFilter::default()).collect());
    }
}
