//! `node_fibrechannel_*{fc_host}` per Fibre Channel host adapter from /sys/class/fc_host/<host>/
//! (drivers/scsi/scsi_transport_fc.c; Documentation/ABI/testing/sysfs-class-fc_host): the
//! adapter's identity as `node_fibrechannel_info` and its `statistics/` counters, which the
//! driver prints in hexadecimal (`0x1f`). A counter of all ones (`0xffffffffffffffff`) is one the
//! firmware does not implement and is left out, as upstream does.
//!
//! As upstream 1.5: no /sys/class/fc_host, or a host without `statistics/`, reports
//! `node_scrape_collector_success 0`; so does a host missing one of the identity attributes or
//! with a counter that does not parse (upstream 1.5 crashes on the latter).

use std::path::Path;

use exporter_core::{CollectError, CollectResult, MetricFamily};

use crate::absent::{gated_collector, GatedDir};
use crate::collector::tapestats::read_counter_dir;
use crate::paths::HostPaths;
use crate::util::{read_each_entry, read_file};

/// The `fibrechannel` collector: what it reads and emits is in the module documentation.
pub struct FibrechannelCollector {
    dir: GatedDir,
}

impl FibrechannelCollector {
    /// The collector reading under `paths`.
    pub fn new(paths: &HostPaths) -> Self {
        FibrechannelCollector {
            dir: GatedDir::new(paths.sys_path("class/fc_host")),
        }
    }
}

/// The identity attributes read (every one must exist), in the order of [`Host::attributes`].
/// `node_name` is read but, as upstream, not exported.
const ATTRIBUTES: [&str; 11] = [
    "speed",
    "port_state",
    "port_type",
    "node_name",
    "port_id",
    "port_name",
    "fabric_name",
    "dev_loss_tmo",
    "symbolic_name",
    "supported_classes",
    "supported_speeds",
];

/// The info labels and the attribute each comes from.
const INFO_LABELS: [(&str, &str); 10] = [
    ("speed", "speed"),
    ("port_state", "port_state"),
    ("port_type", "port_type"),
    ("port_id", "port_id"),
    ("port_name", "port_name"),
    ("fabric_name", "fabric_name"),
    ("symbolic_name", "symbolic_name"),
    ("supported_classes", "supported_classes"),
    ("supported_speeds", "supported_speeds"),
    ("dev_loss_tmo", "dev_loss_tmo"),
];

/// The counters exported: statistics file, family, help, in upstream's order.
const COUNTERS: [(&str, &str, &str); 14] = [
    (
        "dumped_frames",
        "node_fibrechannel_dumped_frames_total",
        "Number of dumped frames",
    ),
    (
        "error_frames",
        "node_fibrechannel_error_frames_total",
        "Number of errors in frames",
    ),
    (
        "invalid_crc_count",
        "node_fibrechannel_invalid_crc_total",
        "Invalid Cyclic Redundancy Check count",
    ),
    (
        "rx_frames",
        "node_fibrechannel_rx_frames_total",
        "Number of frames received",
    ),
    (
        "rx_words",
        "node_fibrechannel_rx_words_total",
        "Number of words received by host port",
    ),
    (
        "tx_frames",
        "node_fibrechannel_tx_frames_total",
        "Number of frames transmitted by host port",
    ),
    (
        "tx_words",
        "node_fibrechannel_tx_words_total",
        "Number of words transmitted by host port",
    ),
    (
        "seconds_since_last_reset",
        "node_fibrechannel_seconds_since_last_reset_total",
        "Number of seconds since last host port reset",
    ),
    (
        "invalid_tx_word_count",
        "node_fibrechannel_invalid_tx_words_total",
        "Number of invalid words transmitted by host port",
    ),
    (
        "link_failure_count",
        "node_fibrechannel_link_failure_total",
        "Number of times the host port link has failed",
    ),
    (
        "loss_of_sync_count",
        "node_fibrechannel_loss_of_sync_total",
        "Number of failures on either bit or transmission word boundaries",
    ),
    (
        "loss_of_signal_count",
        "node_fibrechannel_loss_of_signal_total",
        "Number of times signal has been lost",
    ),
    (
        "nos_count",
        "node_fibrechannel_nos_total",
        "Number Not_Operational Primitive Sequence received by host port",
    ),
    (
        "fcp_packet_aborts",
        "node_fibrechannel_fcp_packet_aborts_total",
        "Number of aborted packets",
    ),
];

/// One adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The array, `md<N>`.
    pub name: String,
    /// [`ATTRIBUTES`]' values, trimmed, names and ids without their `0x`.
    pub attributes: [String; 11],
    /// [`COUNTERS`]' values (0 for a file the driver does not have).
    pub counters: [u64; 14],
}

/// An attribute's exported value: trimmed, and for the names and ids (printed `0x...`) the first
/// two characters dropped when there are more than two.
pub fn attribute_value(attribute: &str, text: &str) -> String {
    let value = text.trim();
    let hex_id = matches!(
        attribute,
        "node_name" | "port_id" | "port_name" | "fabric_name"
    );
    match value.get(2..) {
        Some(rest) if hex_id && !rest.is_empty() => rest.to_string(),
        _ => value.to_string(),
    }
}

fn read_host(dir: &Path, name: &str) -> Result<Host, CollectError> {
    let host_dir = dir.join(name);
    let mut attributes: [String; 11] = Default::default();
    for (value, attribute) in attributes.iter_mut().zip(ATTRIBUTES) {
        let text = read_file(&host_dir.join(attribute)).map_err(|e| match e {
            CollectError::NotAvailable(what) => CollectError::Other(format!("missing {what}")),
            other => other,
        })?;
        *value = attribute_value(attribute, &text);
    }
    let stats_dir = host_dir.join("statistics");
    // reset_statistics is write-only: writing to it resets the counters.
    let counters = read_counter_dir(
        &stats_dir,
        COUNTERS.map(|(file, ..)| file),
        &["reset_statistics"],
    )?;
    Ok(Host {
        name: name.to_string(),
        attributes,
        counters,
    })
}

/// The families for every adapter.
pub fn fibrechannel_families(hosts: &[Host]) -> Vec<MetricFamily> {
    let mut info = MetricFamily::gauge(
        "node_fibrechannel_info",
        "Non-numeric data from /sys/class/fc_host/<host>, value is always 1.",
    );
    let mut counters: Vec<MetricFamily> = COUNTERS
        .iter()
        .map(|(_, name, help)| MetricFamily::counter(*name, *help))
        .collect();
    for host in hosts {
        let mut labels: Vec<(&'static str, &str)> = vec![("fc_host", &host.name)];
        for (label, attribute) in INFO_LABELS {
            let at = ATTRIBUTES.iter().position(|a| *a == attribute).unwrap_or(0);
            labels.push((label, &host.attributes[at]));
        }
        info.push(&labels, 1.0);
        for (family, value) in counters.iter_mut().zip(host.counters) {
            // All ones: not implemented by the adapter's firmware.
            if value != u64::MAX {
                family.push(&[("fc_host", &host.name)], value as f64);
            }
        }
    }
    let mut families = vec![info];
    families.append(&mut counters);
    families
}

gated_collector!(FibrechannelCollector, "fibrechannel", dir);

impl FibrechannelCollector {
    fn collect_present(&self) -> CollectResult {
        Ok(fibrechannel_families(&read_each_entry(
            &self.dir, read_host,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_not_available, family, not_available_then_fresh, sysfs_at, write};
    use exporter_core::BlockingCollector;

    #[test]
    fn ids_lose_their_prefix() {
        assert_eq!(
            attribute_value("port_name", "0x1000e0071bce95f2\n"),
            "1000e0071bce95f2"
        );
        assert_eq!(attribute_value("fabric_name", "0x0\n"), "0");
        assert_eq!(attribute_value("port_id", "0\n"), "0");
        assert_eq!(attribute_value("port_id", "0x\n"), "0x");
        assert_eq!(attribute_value("speed", "16 Gbit\n"), "16 Gbit");
    }

    #[test]
    fn reads_hosts_and_leaves_out_unimplemented_counters() {
        let dir = tempfile::tempdir().unwrap();
        let c = not_available_then_fresh(|| FibrechannelCollector::new(&sysfs_at(dir.path())));
        let host = dir.path().join("class/fc_host/host0");
        for attribute in ATTRIBUTES {
            write(&host.join(attribute), "0x10\n");
        }
        // No statistics directory: no data, as upstream.
        assert_not_available(c.collect());
        write(&host.join("statistics/rx_frames"), "0x1f\n");
        write(
            &host.join("statistics/dumped_frames"),
            "0xffffffffffffffff\n",
        );
        write(&host.join("statistics/lip_count"), "anything\n");
        let fams = c.collect().unwrap();
        assert_eq!(fams[0].samples[0].labels.len(), 11);
        let rx = family(&fams, "node_fibrechannel_rx_frames_total");
        assert_eq!(rx.samples[0].value, 31.0);
        let dumped = family(&fams, "node_fibrechannel_dumped_frames_total");
        assert!(dumped.samples.is_empty());
        // A counter that does not parse fails the collector (upstream 1.5 panics).
        write(&host.join("statistics/rx_frames"), "zz\n");
        assert!(matches!(c.collect(), Err(CollectError::Parse(_))));
        std::fs::remove_file(host.join("statistics/rx_frames")).unwrap();
        std::fs::remove_file(host.join("symbolic_name")).unwrap();
        assert!(matches!(c.collect(), Err(CollectError::Other(_))));
    }
}
