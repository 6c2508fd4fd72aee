//! `node_infiniband_*` per InfiniBand (and RoCE) device and port from /sys/class/infiniband
//! (Documentation/ABI/stable/sysfs-class-infiniband): the adapter's identity as
//! `node_infiniband_info`, each port's `state`, `phys_state` (`4: ACTIVE`, `5: LinkUp`) and
//! `rate` (`40 Gb/sec (4X QDR)`), and its PMA counters from `counters/` and, before Linux 4.5,
//! the 64-bit ones from `counters_ext/`. The data counters count 4-octet words and are exported
//! in octets (times 4), as upstream does. A counter the port does not have, or that reads
//! `N/A (no PMA)`, has no series.
//!
//! As upstream 1.5: no /sys/class/infiniband reports `node_scrape_collector_success 0`, and so
//! does a device missing `board_id`, `fw_ver`, `hca_type`, its ports, a port's state, physical
//! state, rate or `counters/`, or a counter that does not parse.

use std::path::Path;

use exporter_core::{BlockingCollector, CollectError, CollectResult, MetricFamily};

use crate::absent::GatedDir;
use crate::collector::tapestats::parse_go_uint_base0;
use crate::paths::HostPaths;
use crate::util::{field_labels, read_each_entry, read_file, sorted_dir_names};

/// The `infiniband` collector: what it reads and emits is in the module documentation.
pub struct InfinibandCollector {
    dir: GatedDir,
}

impl InfinibandCollector {
    /// The collector reading under `paths`.
    pub fn new(paths: &HostPaths) -> Self {
        InfinibandCollector {
            dir: GatedDir::new(paths.sys_path("class/infiniband")),
        }
    }
}

/// A counter: its directory and file, its family (without `node_infiniband_`), its help, and
/// whether it counts 4-octet words.
type Counter = (&'static str, &'static str, &'static str, &'static str, bool);

/// Every counter exported, in upstream's order.
const COUNTERS: [Counter; 30] = [
    ("counters_ext", "port_multicast_rcv_packets", "legacy_multicast_packets_received_total", "Number of multicast packets received", false),
    ("counters_ext", "port_multicast_xmit_packets", "legacy_multicast_packets_transmitted_total", "Number of multicast packets transmitted", false),
    ("counters_ext", "port_rcv_data_64", "legacy_data_received_bytes_total", "Number of data octets received on all links", true),
    ("counters_ext", "port_rcv_packets_64", "legacy_packets_received_total", "Number of data packets received on all links", false),
    ("counters_ext", "port_unicast_rcv_packets", "legacy_unicast_packets_received_total", "Number of unicast packets received", false),
    ("counters_ext", "port_unicast_xmit_packets", "legacy_unicast_packets_transmitted_total", "Number of unicast packets transmitted", false),
    ("counters_ext", "port_xmit_data_64", "legacy_data_transmitted_bytes_total", "Number of data octets transmitted on all links", true),
    ("counters_ext", "port_xmit_packets_64", "legacy_packets_transmitted_total", "Number of data packets received on all links", false),
    ("counters", "excessive_buffer_overrun_errors", "excessive_buffer_overrun_errors_total", "Number of times that OverrunErrors consecutive flow control update periods occurred, each having at least one overrun error.", false),
    ("counters", "link_downed", "link_downed_total", "Number of times the link failed to recover from an error state and went down", false),
    ("counters", "link_error_recovery", "link_error_recovery_total", "Number of times the link successfully recovered from an error state", false),
    ("counters", "local_link_integrity_errors", "local_link_integrity_errors_total", "Number of times that the count of local physical errors exceeded the threshold specified by LocalPhyErrors.", false),
    ("counters", "multicast_rcv_packets", "multicast_packets_received_total", "Number of multicast packets received (including errors)", false),
    ("counters", "multicast_xmit_packets", "multicast_packets_transmitted_total", "Number of multicast packets transmitted (including errors)", false),
    ("counters", "port_rcv_constraint_errors", "port_constraint_errors_received_total", "Number of packets received on the switch physical port that are discarded", false),
    ("counters", "port_xmit_constraint_errors", "port_constraint_errors_transmitted_total", "Number of packets not transmitted from the switch physical port", false),
    ("counters", "port_rcv_data", "port_data_received_bytes_total", "Number of data octets received on all links", true),
    ("counters", "port_xmit_data", "port_data_transmitted_bytes_total", "Number of data octets transmitted on all links", true),
    ("counters", "port_rcv_discards", "port_discards_received_total", "Number of inbound packets discarded by the port because the port is down or congested", false),
    ("counters", "port_xmit_discards", "port_discards_transmitted_total", "Number of outbound packets discarded by the port because the port is down or congested", false),
    ("counters", "port_rcv_errors", "port_errors_received_total", "Number of packets containing an error that were received on this port", false),
    ("counters", "port_rcv_packets", "port_packets_received_total", "Number of packets received on all VLs by this port (including errors)", false),
    ("counters", "port_xmit_packets", "port_packets_transmitted_total", "Number of packets transmitted on all VLs from this port (including errors)", false),
    ("counters", "port_xmit_wait", "port_transmit_wait_total", "Number of ticks during which the port had data to transmit but no data was sent during the entire tick", false),
    ("counters", "unicast_rcv_packets", "unicast_packets_received_total", "Number of unicast packets received (including errors)", false),
    ("counters", "unicast_xmit_packets", "unicast_packets_transmitted_total", "Number of unicast packets transmitted (including errors)", false),
    ("counters", "port_rcv_remote_physical_errors", "port_receive_remote_physical_errors_total", "Number of packets marked with the EBP (End of Bad Packet) delimiter received on the port.", false),
    ("counters", "port_rcv_switch_relay_errors", "port_receive_switch_relay_errors_total", "Number of packets that could not be forwarded by the switch.", false),
    ("counters", "symbol_error", "symbol_error_total", "Number of minor link errors detected on one or more physical lanes.", false),
    ("counters", "VL15_dropped", "vl15_dropped_total", "Number of incoming VL15 packets dropped due to resource limitations.", false),
];

/// One port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// The port number (its directory under `ports/`).
    pub number: u32,
    /// `state`'s number (4: ACTIVE).
    pub state_id: u32,
    /// `phys_state`'s number (5: LinkUp).
    pub phys_state_id: u32,
    /// `rate` in bytes per second.
    pub rate: u64,
    /// [`COUNTERS`]' values; `None` for a counter the port does not have.
    pub counters: [Option<u64>; 30],
}

/// One device and its ports, in port order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The device, e.g. `mlx5_0`.
    pub name: String,
    /// `board_id`.
    pub board_id: String,
    /// `fw_ver`.
    pub firmware_version: String,
    /// `hca_type`.
    pub hca_type: String,
    /// The ports.
    pub ports: Vec<Port>,
}

/// Parses `state` / `phys_state`: `<id>: <name>`.
pub fn parse_state(text: &str) -> Option<u32> {
    let parts: Vec<&str> = text.split(':').collect();
    let [id, _name] = parts[..] else {
        return None;
    };
    let id = id.trim();
    if id.starts_with('+') {
        return None;
    }
    id.parse().ok()
}

/// Parses `rate` (`40 Gb/sec (4X QDR)`, `2.5 Gb/sec (1X SDR)`) into bytes per second: the number
/// of Gb/s read as a 32-bit float, as upstream reads it, times 125,000,000, truncated.
pub fn parse_rate(text: &str) -> Option<u64> {
    let (number, _) = text.split_once(' ')?;
    let gbits: f32 = number.trim().parse().ok()?;
    if !gbits.is_finite() {
        return None;
    }
    Some((f64::from(gbits) * 125_000_000.0) as u64)
}

/// A counter file's value; `Ok(None)` for `N/A (no PMA)`.
pub fn parse_counter(text: &str, words: bool) -> Result<Option<u64>, String> {
    let raw = text.trim();
    match parse_go_uint_base0(raw) {
        Some(v) if words => Ok(Some(v.wrapping_mul(4))),
        Some(v) => Ok(Some(v)),
        None if raw.contains("N/A (no PMA)") => Ok(None),
        None => Err(format!("invalid counter {raw:?}")),
    }
}

fn required(path: &Path) -> Result<String, CollectError> {
    read_file(path).map_err(|e| match e {
        CollectError::NotAvailable(what) => CollectError::Other(format!("missing {what}")),
        other => other,
    })
}

/// Whether a counter that cannot be read is one the driver does not offer.
fn unreadable_counter(e: &CollectError) -> bool {
    match e {
        CollectError::NotAvailable(_) => true,
        CollectError::Io { source, .. } => {
            matches!(
                source.kind(),
                std::io::ErrorKind::PermissionDenied
                    | std::io::ErrorKind::InvalidInput
                    | std::io::ErrorKind::Unsupported
            ) || source.raw_os_error() == Some(libc::EOPNOTSUPP)
        }
        _ => false,
    }
}

fn read_port(dir: &Path, name: &str) -> Result<Port, CollectError> {
    let bad = |what: &str| CollectError::Parse(format!("{}: invalid {what}", dir.display()));
    let number = name.parse::<u32>().map_err(|_| bad("port number"))?;
    let state_id = parse_state(&required(&dir.join("state"))?).ok_or_else(|| bad("state"))?;
    let phys_state_id =
        parse_state(&required(&dir.join("phys_state"))?).ok_or_else(|| bad("phys_state"))?;
    let rate = parse_rate(&required(&dir.join("rate"))?).ok_or_else(|| bad("rate"))?;
    let mut counters = [None; 30];
    for sub in ["counters", "counters_ext"] {
        let sub_dir = dir.join(sub);
        let files = match sorted_dir_names(&sub_dir) {
            Ok(files) => files,
            // Only kernels before 4.5 have counters_ext.
            Err(CollectError::NotAvailable(_)) if sub == "counters_ext" => continue,
            Err(CollectError::NotAvailable(what)) => {
                return Err(CollectError::Other(format!("missing {what}")))
            }
            Err(e) => return Err(e),
        };
        for file in files {
            let Some(at) = COUNTERS.iter().position(|c| c.0 == sub && c.1 == file) else {
                continue;
            };
            let path = sub_dir.join(&file);
            let text = match read_file(&path) {
                Ok(text) => text,
                Err(e) if unreadable_counter(&e) => continue,
                Err(e) => return Err(e),
            };
            counters[at] = parse_counter(&text, COUNTERS[at].4)
                .map_err(|e| CollectError::Parse(format!("{}: {e}", path.display())))?;
        }
    }
    Ok(Port {
        number,
        state_id,
        phys_state_id,
        rate,
        counters,
    })
}

fn read_device(dir: &Path, name: &str) -> Result<Device, CollectError> {
    let device_dir = dir.join(name);
    let attribute = |file: &str| required(&device_dir.join(file)).map(|t| t.trim().to_string());
    let board_id = attribute("board_id")?;
    let firmware_version = attribute("fw_ver")?;
    let hca_type = attribute("hca_type")?;
    let ports_dir = device_dir.join("ports");
    let mut ports = Vec::new();
    for port in sorted_dir_names(&ports_dir).map_err(|e| match e {
        CollectError::NotAvailable(what) => CollectError::Other(format!("missing {what}")),
        other => other,
    })? {
        ports.push(read_port(&ports_dir.join(&port), &port)?);
    }
    ports.sort_by_key(|p| p.number);
    Ok(Device {
        name: name.to_string(),
        board_id,
        firmware_version,
        hca_type,
        ports,
    })
}

/// The families for every device and port.
pub fn infiniband_families(devices: &[Device]) -> Vec<MetricFamily> {
    let mut info = MetricFamily::gauge(
        "node_infiniband_info",
        "Non-numeric data from /sys/class/infiniband/<device>, value is always 1.",
    );
    let mut state = MetricFamily::gauge(
        "node_infiniband_state_id",
        "State of the InfiniBand port (0: no change, 1: down, 2: init, 3: armed, 4: active, 5: act defer)",
    );
    let mut phys_state = MetricFamily::gauge(
        "node_infiniband_physical_state_id",
        "Physical state of the InfiniBand port (0: no change, 1: sleep, 2: polling, 3: disable, 4: shift, 5: link up, 6: link error recover, 7: phytest)",
    );
    let mut rate = MetricFamily::gauge(
        "node_infiniband_rate_bytes_per_second",
        "Maximum signal transfer rate",
    );
    let mut counters: Vec<MetricFamily> = COUNTERS
        .iter()
        .map(|c| MetricFamily::counter(format!("node_infiniband_{}", c.2), c.3))
        .collect();
    for device in devices {
        info.push(
            &field_labels!(device, device = name, board_id, firmware_version, hca_type),
            1.0,
        );
        for port in &device.ports {
            let number = port.number.to_string();
            let labels = [("device", device.name.as_str()), ("port", number.as_str())];
            state.push(&labels, f64::from(port.state_id));
            phys_state.push(&labels, f64::from(port.phys_state_id));
            rate.push(&labels, port.rate as f64);
            for (family, value) in counters.iter_mut().zip(port.counters) {
                if let Some(value) = value {
                    family.push(&labels, value as f64);
                }
            }
        }
    }
    let mut families = vec![info, state, phys_state, rate];
    families.append(&mut counters);
    families
}

impl BlockingCollector for InfinibandCollector {
    fn name(&self) -> &'static str {
        "infiniband"
    }

    fn collect(&self) -> CollectResult {
        self.dir.run(|| {
            Ok(infiniband_families(&read_each_entry(
                &self.dir,
                read_device,
            )?))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_maps, assert_not_available, family, sysfs_at, write_all};

    #[test]
    fn states_and_rates() {
        let states = [
            ("4: ACTIVE\n", Some(4)),
            ("5: LinkUp", Some(5)),
            ("ACTIVE", None),
            ("x: ACTIVE", None),
            ("1: a: b", None),
        ];
        assert_maps(parse_state, &states);
        let rates = [
            ("40 Gb/sec (4X QDR)\n", Some(5_000_000_000)),
            ("2.5 Gb/sec (1X SDR)", Some(312_500_000)),
            ("100 Gb/sec (4X EDR)", Some(12_500_000_000)),
            ("x Gb/sec", None),
            ("40", None),
        ];
        assert_maps(parse_rate, &rates);
    }

    #[test]
    fn counters_in_words_and_not_available() {
        assert_eq!(parse_counter("8888\n", true), Ok(Some(35552)));
        assert_eq!(parse_counter("0x10\n", false), Ok(Some(16)));
        assert_eq!(parse_counter("N/A (no PMA)\n", false), Ok(None));
        assert!(parse_counter("x\n", false).is_err());
    }

    #[test]
    fn reads_devices_and_ports() {
        let dir = tempfile::tempdir().unwrap();
        let paths = sysfs_at(dir.path());
        assert_not_available(InfinibandCollector::new(&paths).collect());
        let dev = dir.path().join("class/infiniband/mlx4_0");
        write_all(
            &dev,
            &[
                ("board_id", "B\n"),
                ("fw_ver", "2.31\n"),
                ("hca_type", "MT4099\n"),
            ],
        );
        for port in ["1", "10", "2"] {
            let p = dev.join("ports").join(port);
            write_all(
                &p,
                &[
                    ("state", "4: ACTIVE\n"),
                    ("phys_state", "5: LinkUp\n"),
                    ("rate", "40 Gb/sec (4X QDR)\n"),
                    ("counters/port_rcv_data", "10\n"),
                    ("counters/port_xmit_wait", "N/A (no PMA)\n"),
                    ("counters/unknown_counter", "junk\n"),
                ],
            );
        }
        let c = InfinibandCollector::new(&paths);
        let fams = c.collect().unwrap();
        assert_eq!(fams[0].samples[0].labels[2].1, "2.31");
        let ports: Vec<&str> = fams[1]
            .samples
            .iter()
            .map(|s| s.labels[1].1.as_str())
            .collect();
        assert_eq!(ports, ["1", "2", "10"]);
        let data = family(&fams, "node_infiniband_port_data_received_bytes_total");
        assert_eq!(data.samples[0].value, 40.0);
        let wait = family(&fams, "node_infiniband_port_transmit_wait_total");
        assert!(wait.samples.is_empty());
        std::fs::remove_file(dev.join("hca_type")).unwrap();
        assert!(matches!(c.collect(), Err(CollectError::Other(_))));
    }
}
