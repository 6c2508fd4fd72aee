//! `node_ethtool_*` and the link-mode families `node_network_{supported,advertised}_*` /
//! `node_network_autonegotiate`, through the `SIOCETHTOOL` ioctl (see [`crate::ethtool_ioctl`])
//! for every device in /sys/class/net, as node_exporter 1.5's `ethtool` collector. Opt-in
//! (`--collector.ethtool`), as upstream.
//!
//! Per device, as upstream 1.5:
//! - link settings (`ETHTOOL_GSET`, the first 32 link-mode bits): one
//!   `node_network_{supported,advertised}_speed_bytes{device,duplex,mode}` per speed in 1.5's
//!   table (bytes per second, as netclass's speed), `node_network_supported_port_info{device,type}`
//!   per port type, the `autonegotiate`/`pause`/`asymmetricpause` `_supported` and `_advertised`
//!   gauges and `node_network_autonegotiate`;
//! - `node_ethtool_info{bus_info,device,driver,expansion_rom_version,firmware_version,version}`
//!   from the driver info;
//! - one untyped `node_ethtool_<stat>{device}` per driver statistic whose name (invalid
//!   characters made `_`) matches `--collector.ethtool.metrics-include`, named as upstream names
//!   it (lower case, `rx`/`tx` words spelled `received`/`transmitted`, seven common counters as
//!   `node_ethtool_{received,transmitted}_*_total`); statistics whose names come out the same are
//!   all dropped, since no one of them is the right one.
//!
//! A device that does not answer one of the requests (lo, a tunnel, a driver without
//! statistics) just lacks those families; the collector fails only when /sys/class/net cannot be
//! listed or lists nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use exporter_core::{BlockingCollector, CollectError, CollectResult, MetricFamily};
use regex::Regex;

use super::netdev::DeviceFilter;
use super::{flag_regex, CollectorFlags};
use crate::ethtool_ioctl::{DriverInfo, EthtoolSocket, LinkSettings};
use crate::paths::HostPaths;
use crate::util::{field_labels, filter_flags};

filter_flags! {
    /// The ethtool collector's device filter.
    EthtoolDeviceFlags {
        /// Regexp of ethtool devices to include (mutually exclusive to device-exclude).
        include: "collector.ethtool.device-include";
        /// Regexp of ethtool devices to exclude (mutually exclusive to device-include).
        exclude: "collector.ethtool.device-exclude";
    }
}

/// The ethtool collector's own flags.
#[derive(Debug, Clone, Args)]
pub struct EthtoolFlags {
    #[command(flatten)]
    devices: EthtoolDeviceFlags,
    /// Regexp of ethtool stats to include.
    #[arg(
        long = "collector.ethtool.metrics-include",
        id = "collector.ethtool.metrics-include",
        default_value = ".*"
    )]
    metrics_include: String,
}

/// Which devices and statistics the ethtool collector reports.
#[derive(Debug, Clone)]
pub struct EthtoolOptions {
    /// Devices matching the include regex (unanchored), when set, and not the exclude one.
    /// Given both, upstream 1.5 applies both.
    pub devices: DeviceFilter,
    /// Statistics whose sanitized name matches (unanchored).
    pub metrics_include: Regex,
}

impl CollectorFlags for EthtoolFlags {
    type Options = EthtoolOptions;

    fn options(self) -> Result<EthtoolOptions, String> {
        Ok(EthtoolOptions {
            // An empty regex is no filter; given both, upstream 1.5 applies both.
            devices: self
                .devices
                .filter(|v| (!v.is_empty()).then(|| v.to_owned()))?,
            metrics_include: flag_regex(
                "collector.ethtool.metrics-include",
                &self.metrics_include,
            )?,
        })
    }
}

/// Bytes per second in a megabit per second.
const MBPS_IN_BYTES: f64 = 1_000_000.0 / 8.0;

/// The link-mode bits below 32 that 1.5's table names (ethtool_link_mode_bit_indices): bit,
/// speed in Mb/s, duplex, and the PHY after "base".
const SPEEDS: &[(u32, u32, &str, &str)] = &[
    (0, 10, "half", "T"),
    (1, 10, "full", "T"),
    (2, 100, "half", "T"),
    (3, 100, "full", "T"),
    (4, 1000, "half", "T"),
    (5, 1000, "full", "T"),
    (12, 10000, "full", "T"),
    (17, 1000, "full", "KX"),
    (18, 10000, "full", "KX4"),
    (19, 10000, "full", "KR"),
    (20, 10000, "full", "R_FEC"),
    (21, 20000, "full", "MLD2"),
    (22, 20000, "full", "KR2"),
    (23, 40000, "full", "KR4"),
    (24, 40000, "full", "CR4"),
    (25, 40000, "full", "SR4"),
    (26, 40000, "full", "LR4"),
    (27, 56000, "full", "KR4"),
    (28, 56000, "full", "CR4"),
    (29, 56000, "full", "SR4"),
    (30, 56000, "full", "LR4"),
    (31, 25000, "full", "CR"),
];

/// Port-type bits and upstream's names for them.
const PORTS: &[(u32, &str)] = &[
    (7, "TP"),
    (8, "AUI"),
    (9, "MII"),
    (10, "FIBRE"),
    (11, "BNC"),
    (16, "Backplane"),
];

const AUTONEG_BIT: u32 = 6;
const PAUSE_BIT: u32 = 13;
const ASYM_PAUSE_BIT: u32 = 14;

/// The statistics upstream names and describes itself rather than from the driver's name.
const COMMON_STATS: &[(&str, &str, &str)] = &[
    (
        "rx_bytes",
        "node_ethtool_received_bytes_total",
        "Network interface bytes received",
    ),
    (
        "rx_dropped",
        "node_ethtool_received_dropped_total",
        "Number of received frames dropped",
    ),
    (
        "rx_errors",
        "node_ethtool_received_errors_total",
        "Number of received frames with errors",
    ),
    (
        "rx_packets",
        "node_ethtool_received_packets_total",
        "Network interface packets received",
    ),
    (
        "tx_bytes",
        "node_ethtool_transmitted_bytes_total",
        "Network interface bytes sent",
    ),
    (
        "tx_errors",
        "node_ethtool_transmitted_errors_total",
        "Number of sent frames with errors",
    ),
    (
        "tx_packets",
        "node_ethtool_transmitted_packets_total",
        "Network interface packets sent",
    ),
];

/// Turns statistic names into metric names as upstream does.
struct StatNames {
    invalid: Regex,
    received: Regex,
    transmitted: Regex,
}

impl StatNames {
    fn new() -> Self {
        let re = |r: &str| Regex::new(r).expect("built-in regex");
        StatNames {
            invalid: re(r"_*[^0-9A-Za-z_]+_*"),
            received: re(r"(^|_)rx(_|$)"),
            transmitted: re(r"(^|_)tx(_|$)"),
        }
    }

    /// The statistic's name with each run of invalid characters (and the underscores around it)
    /// made one `_`: what `--collector.ethtool.metrics-include` and the help text see.
    fn sanitize(&self, stat: &str) -> String {
        self.invalid.replace_all(stat, "_").into_owned()
    }

    /// `node_ethtool_` and the sanitized name in lower case, without leading underscores, with
    /// `rx` and `tx` words spelled out.
    fn metric_name(&self, sanitized: &str) -> String {
        let lower = sanitized.to_lowercase();
        let name = lower.trim_start_matches('_');
        let name = self.received.replace_all(name, "${1}received${2}");
        let name = self.transmitted.replace_all(&name, "${1}transmitted${2}");
        format!("node_ethtool_{name}")
    }
}

/// The families of one scrape, built device by device.
#[derive(Default)]
struct Families {
    by_name: BTreeMap<String, MetricFamily>,
}

impl Families {
    fn family(&mut self, name: &str, help: &str, untyped: bool) -> &mut MetricFamily {
        self.by_name.entry(name.to_string()).or_insert_with(|| {
            if untyped {
                MetricFamily::untyped(name.to_string(), help.to_string())
            } else {
                MetricFamily::gauge(name.to_string(), help.to_string())
            }
        })
    }

    fn gauge(&mut self, name: &str, help: &str, labels: &[(&'static str, &str)], value: f64) {
        self.family(name, help, false).push(labels, value);
    }

    fn link(&mut self, device: &str, link: LinkSettings) {
        self.speeds("supported", "supported", device, link.supported);
        for (bit, port) in PORTS {
            if link.supported & (1 << bit) != 0 {
                self.gauge(
                    "node_network_supported_port_info",
                    "Type of ports or PHYs supported by network device",
                    &[("device", device), ("type", port)],
                    1.0,
                );
            }
        }
        self.capabilities("supported", "supports", device, link.supported);
        self.speeds("advertised", "offered", device, link.advertising);
        self.capabilities("advertised", "offers", device, link.advertising);
        self.gauge(
            "node_network_autonegotiate",
            "If this port is using autonegotiate",
            &[("device", device)],
            f64::from(link.autoneg),
        );
    }

    fn speeds(&mut self, prefix: &str, verb: &str, device: &str, modes: u32) {
        let name = format!("node_network_{prefix}_speed_bytes");
        let help = format!("Combination of speeds and features {verb} by network device");
        for (bit, mbps, duplex, phy) in SPEEDS {
            if modes & (1 << bit) != 0 {
                let mode = format!("{mbps}base{phy}");
                let labels = [("device", device), ("duplex", *duplex), ("mode", &mode)];
                self.gauge(&name, &help, &labels, f64::from(*mbps) * MBPS_IN_BYTES);
            }
        }
    }

    /// Autonegotiation, pause frames and asymmetric pause, supported or advertised; upstream's
    /// help texts differ between the two sets in more than the verb.
    fn capabilities(&mut self, prefix: &str, verb: &str, device: &str, modes: u32) {
        let bit = |b: u32| if modes & (1 << b) != 0 { 1.0 } else { 0.0 };
        let (pause, asym) = match prefix {
            "supported" => ("pause frames", "asymmetric pause frames"),
            _ => ("pause capability", "asymmetric pause capability"),
        };
        let labels = [("device", device)];
        self.gauge(
            &format!("node_network_autonegotiate_{prefix}"),
            &format!("If this port device {verb} autonegotiate"),
            &labels,
            bit(AUTONEG_BIT),
        );
        self.gauge(
            &format!("node_network_pause_{prefix}"),
            &format!("If this port device {verb} {pause}"),
            &labels,
            bit(PAUSE_BIT),
        );
        self.gauge(
            &format!("node_network_asymmetricpause_{prefix}"),
            &format!("If this port device {verb} {asym}"),
            &labels,
            bit(ASYM_PAUSE_BIT),
        );
    }

    fn info(&mut self, device: &str, info: &DriverInfo) {
        self.gauge(
            "node_ethtool_info",
            "A metric with a constant '1' value labeled by bus_info, device, driver, expansion_rom_version, firmware_version, version.",
            &field_labels!(
                info,
                bus_info,
                ("device", device),
                driver,
                expansion_rom_version = erom_version,
                firmware_version = fw_version,
                version,
            ),
            1.0,
        );
    }

    fn stats(&mut self, device: &str, stats: &[(String, u64)], names: &StatNames, include: &Regex) {
        // Later entries of a name the driver repeats win, as in upstream's map.
        let mut by_stat: BTreeMap<&str, u64> = BTreeMap::new();
        for (stat, value) in stats.iter().filter(|(s, _)| !s.is_empty()) {
            by_stat.insert(stat, *value);
        }
        let mut by_metric: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
        for (stat, value) in by_stat {
            let sanitized = names.sanitize(stat);
            if include.is_match(&sanitized) {
                by_metric
                    .entry(names.metric_name(&sanitized))
                    .or_default()
                    .push((sanitized, value));
            }
        }
        for (metric, same_name) in by_metric {
            let [(stat, value)] = &same_name[..] else {
                tracing::debug!(device, metric, "dropping statistics whose names clash");
                continue;
            };
            let (name, help) = match COMMON_STATS.iter().find(|(s, _, _)| s == stat) {
                Some((_, name, help)) => (name.to_string(), help.to_string()),
                None => (metric, format!("Network interface {stat}")),
            };
            self.family(&name, &help, true)
                .push(&[("device", device)], *value as f64);
        }
    }
}

/// The `ethtool` collector: what it reads and emits is in the module documentation.
pub struct EthtoolCollector {
    net_dir: PathBuf,
    options: EthtoolOptions,
    names: StatNames,
}

impl EthtoolCollector {
    /// The collector listing devices under `paths`' sysfs.
    pub fn new(paths: &HostPaths, options: &EthtoolOptions) -> Self {
        EthtoolCollector {
            net_dir: paths.sys_path("class/net"),
            options: options.clone(),
            names: StatNames::new(),
        }
    }

    /// The devices in /sys/class/net (its directories and links, not `bonding_masters`), sorted.
    fn devices(&self) -> Result<Vec<String>, CollectError> {
        let context = || self.net_dir.display().to_string();
        let entries =
            std::fs::read_dir(&self.net_dir).map_err(|e| CollectError::io(context(), e))?;
        let mut devices = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| CollectError::io(context(), e))?;
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if !is_file {
                devices.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        devices.sort();
        Ok(devices)
    }
}

/// Logs a failed request at debug level when the device simply lacks the operation, as upstream.
fn log_failure(what: &str, device: &str, e: &std::io::Error) {
    if e.raw_os_error() == Some(libc::EOPNOTSUPP) {
        tracing::debug!(device, %e, "ethtool {what} not supported");
    } else {
        tracing::error!(device, %e, "ethtool {what} error");
    }
}

impl BlockingCollector for EthtoolCollector {
    fn name(&self) -> &'static str {
        "ethtool"
    }

    fn collect(&self) -> CollectResult {
        let devices = self.devices()?;
        if devices.is_empty() {
            return Err(CollectError::Other("no network devices found".into()));
        }
        let socket = EthtoolSocket::open().map_err(|e| CollectError::io("ethtool socket", e))?;
        let mut out = Families::default();
        for device in devices.iter().filter(|d| !self.options.devices.ignored(d)) {
            match socket.link_settings(device) {
                Ok(link) => out.link(device, link),
                Err(e) => log_failure("link info", device, &e),
            }
            match socket.driver_info(device) {
                Ok(info) => out.info(device, &info),
                Err(e) => log_failure("driver info", device, &e),
            }
            match socket.stats(device) {
                Ok(stats) => out.stats(device, &stats, &self.names, &self.options.metrics_include),
                Err(e) => log_failure("stats", device, &e),
            }
        }
        Ok(out.by_name.into_values().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{flag_options, write};

    fn options(args: &[&str]) -> EthtoolOptions {
        flag_options::<EthtoolFlags>(args).unwrap()
    }

    fn series(f: Families) -> Vec<String> {
        f.by_name
            .values()
            .flat_map(|f| {
                f.samples.iter().map(move |s| {
                    let labels: Vec<String> =
                        s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!("{}{{{}}} {}", f.name, labels.join(","), s.value)
                })
            })
            .collect()
    }

    #[test]
    fn statistic_names_become_upstreams_metric_names() {
        let n = StatNames::new();
        assert_eq!(
            n.metric_name(&n.sanitize("rx_queue_0_xdp_packets")),
            "node_ethtool_received_queue_0_xdp_packets"
        );
        assert_eq!(
            n.metric_name(&n.sanitize("tx-0.tx_packets")),
            "node_ethtool_transmitted_0_transmitted_packets"
        );
        assert_eq!(n.sanitize("tx-0.tx_packets"), "tx_0_tx_packets");
        assert_eq!(
            n.metric_name(&n.sanitize("__Port.RX-Errors")),
            "node_ethtool_port_received_errors"
        );
        assert_eq!(n.metric_name("rx_rx"), "node_ethtool_received_rx");
        assert_eq!(n.metric_name("peer_ifindex"), "node_ethtool_peer_ifindex");
        assert_eq!(n.metric_name("prx_tx"), "node_ethtool_prx_transmitted");
    }

    #[test]
    fn statistics_become_untyped_families_and_clashes_are_dropped() {
        let mut f = Families::default();
        let stats = [
            ("rx_bytes".to_string(), 10),
            ("peer_ifindex".to_string(), 7),
            ("a.b".to_string(), 1),
            ("a-b".to_string(), 2),
            (String::new(), 3),
            ("dup".to_string(), 4),
            ("dup".to_string(), 5),
        ];
        f.stats(
            "eth0",
            &stats,
            &StatNames::new(),
            &Regex::new(".*").unwrap(),
        );
        let got = series(f);
        assert_eq!(
            got,
            [
                "node_ethtool_dup{device=eth0} 5",
                "node_ethtool_peer_ifindex{device=eth0} 7",
                "node_ethtool_received_bytes_total{device=eth0} 10",
            ]
        );
        let mut f = Families::default();
        f.stats(
            "eth0",
            &stats,
            &StatNames::new(),
            &Regex::new("^peer").unwrap(),
        );
        assert_eq!(series(f), ["node_ethtool_peer_ifindex{device=eth0} 7"]);
    }

    #[test]
    fn link_modes_become_speeds_ports_and_capabilities() {
        let mut f = Families::default();
        // 1000baseT full, autoneg, TP, pause; advertising 1000baseT full only.
        let link = LinkSettings {
            supported: 1 << 5 | 1 << 6 | 1 << 7 | 1 << 13 | 1 << 15,
            advertising: 1 << 5,
            autoneg: 1,
        };
        f.link("eth0", link);
        let got = series(f);
        for want in [
            "node_network_supported_speed_bytes{device=eth0,duplex=full,mode=1000baseT} 125000000",
            "node_network_advertised_speed_bytes{device=eth0,duplex=full,mode=1000baseT} 125000000",
            "node_network_supported_port_info{device=eth0,type=TP} 1",
            "node_network_autonegotiate_supported{device=eth0} 1",
            "node_network_pause_supported{device=eth0} 1",
            "node_network_asymmetricpause_supported{device=eth0} 0",
            "node_network_autonegotiate_advertised{device=eth0} 0",
            "node_network_autonegotiate{device=eth0} 1",
        ] {
            assert!(got.contains(&want.to_string()), "{want} not in {got:#?}");
        }
        // Bit 15 (2500baseX) is not in 1.5's table.
        assert_eq!(got.iter().filter(|s| s.contains("speed_bytes")).count(), 2);
    }

    #[test]
    fn device_filters_are_unanchored_and_combine() {
        let o = options(&[
            "--collector.ethtool.device-include",
            "eth",
            "--collector.ethtool.device-exclude",
            "1$",
        ]);
        assert!(!o.devices.ignored("eth0") && o.devices.ignored("eth1") && o.devices.ignored("lo"));
        assert!(!options(&[]).devices.ignored("lo"));
    }

    #[test]
    fn a_missing_class_net_is_not_available() {
        let dir = tempfile::tempdir().unwrap();
        let paths = HostPaths {
            sysfs: dir.path().to_path_buf(),
            ..HostPaths::default()
        };
        let c = EthtoolCollector::new(&paths, &options(&[]));
        assert!(matches!(c.collect(), Err(CollectError::NotAvailable(_))));
        std::fs::create_dir_all(dir.path().join("class/net")).unwrap();
        write(&dir.path().join("class/net/bonding_masters"), "");
        assert!(matches!(c.collect(), Err(CollectError::Other(_))));
    }
}
