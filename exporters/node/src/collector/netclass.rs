//! `node_network_info`, `node_network_up` and the numeric `node_network_*` device properties from
//! /sys/class/net/<iface>/.
//!
//! Attributes that are absent or refuse to be read (EINVAL while a link is down, EOPNOTSUPP on
//! virtual devices) are skipped one by one, as upstream does: the device is still reported.

use std::path::{Path, PathBuf};

use exporter_core::{BlockingCollector, CollectResult, MetricFamily, MetricType};
use regex::Regex;

use crate::config::NodeConfig;
use crate::util::sorted_dir_names;

/// Numeric properties: (metric stem, sysfs attribute, type), in upstream's emission order.
/// `speed` is handled apart because it is scaled from Mbit/s to bytes/s.
const PROPERTIES: [(&str, &str, MetricType); 14] = [
    ("address_assign_type", "addr_assign_type", MetricType::Gauge),
    ("carrier", "carrier", MetricType::Gauge),
    (
        "carrier_changes_total",
        "carrier_changes",
        MetricType::Counter,
    ),
    (
        "carrier_up_changes_total",
        "carrier_up_count",
        MetricType::Counter,
    ),
    (
        "carrier_down_changes_total",
        "carrier_down_count",
        MetricType::Counter,
    ),
    ("device_id", "dev_id", MetricType::Gauge),
    ("dormant", "dormant", MetricType::Gauge),
    ("flags", "flags", MetricType::Gauge),
    ("iface_id", "ifindex", MetricType::Gauge),
    ("iface_link", "iflink", MetricType::Gauge),
    ("iface_link_mode", "link_mode", MetricType::Gauge),
    ("mtu_bytes", "mtu", MetricType::Gauge),
    ("name_assign_type", "name_assign_type", MetricType::Gauge),
    ("net_dev_group", "netdev_group", MetricType::Gauge),
];

/// Properties emitted after `speed_bytes`, as upstream orders them.
const TRAILING_PROPERTIES: [(&str, &str, MetricType); 2] = [
    ("transmit_queue_length", "tx_queue_len", MetricType::Gauge),
    ("protocol_type", "type", MetricType::Gauge),
];

pub struct NetclassCollector {
    class_net: PathBuf,
    ignored: Option<Regex>,
}

impl NetclassCollector {
    pub fn new(cfg: &NodeConfig) -> Self {
        NetclassCollector {
            class_net: cfg.sys_path("class/net"),
            ignored: cfg.netclass_ignored_devices.clone(),
        }
    }
}

/// Parses a numeric sysfs attribute the way procfs does: `0x`-prefixed values are hex (`flags`,
/// `dev_id`), the rest decimal (`speed` may be `-1`).
pub fn parse_attr_int(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    match raw.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => raw.parse().ok(),
    }
}

/// Reads one attribute into `buf` (reused across reads to avoid an allocation per file).
/// `false` when it is missing or unreadable.
fn read_into(path: &Path, buf: &mut String) -> bool {
    crate::util::read_into(path, buf).is_ok()
}

fn property_family(stem: &str, kind: MetricType) -> MetricFamily {
    MetricFamily::new(
        format!("node_network_{stem}"),
        format!("Network device property: {stem}"),
        kind,
    )
}

impl BlockingCollector for NetclassCollector {
    fn name(&self) -> &'static str {
        "netclass"
    }

    fn collect(&self) -> CollectResult {
        let devices = sorted_dir_names(&self.class_net)?;

        let mut up = MetricFamily::gauge(
            "node_network_up",
            "Value is 1 if operstate is 'up', 0 otherwise.",
        );
        let mut info = MetricFamily::gauge(
            "node_network_info",
            "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
        );
        let mut props: Vec<MetricFamily> = PROPERTIES
            .iter()
            .map(|&(stem, _, kind)| property_family(stem, kind))
            .collect();
        let mut speed = property_family("speed_bytes", MetricType::Gauge);
        let mut trailing: Vec<MetricFamily> = TRAILING_PROPERTIES
            .iter()
            .map(|&(stem, _, kind)| property_family(stem, kind))
            .collect();

        let mut path = self.class_net.clone();
        let mut buf = String::with_capacity(64);
        for device in devices.iter().map(String::as_str) {
            if self.ignored.as_ref().is_some_and(|r| r.is_match(device)) {
                continue;
            }
            path.push(device);
            // `bonding_masters` (and any other regular file) sits beside the device links.
            let is_file = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file());
            if is_file {
                path.pop();
                continue;
            }

            let mut read_str = |attr: &str, path: &mut PathBuf| -> String {
                path.push(attr);
                let ok = read_into(path, &mut buf);
                path.pop();
                if ok {
                    buf.trim().to_string()
                } else {
                    String::new()
                }
            };
            let address = read_str("address", &mut path);
            let broadcast = read_str("broadcast", &mut path);
            let duplex = read_str("duplex", &mut path);
            let ifalias = read_str("ifalias", &mut path);
            let operstate = read_str("operstate", &mut path);

            up.push(
                &[("device", device)],
                if operstate == "up" { 1.0 } else { 0.0 },
            );
            info.push(
                &[
                    ("address", &address),
                    ("broadcast", &broadcast),
                    ("device", device),
                    ("duplex", &duplex),
                    ("ifalias", &ifalias),
                    ("operstate", &operstate),
                ],
                1.0,
            );

            let mut read_int = |attr: &str, path: &mut PathBuf| -> Option<i64> {
                path.push(attr);
                let ok = read_into(path, &mut buf);
                path.pop();
                if ok {
                    parse_attr_int(&buf)
                } else {
                    None
                }
            };
            for (fam, &(_, attr, _)) in props.iter_mut().zip(PROPERTIES.iter()) {
                if let Some(v) = read_int(attr, &mut path) {
                    fam.push(&[("device", device)], v as f64);
                }
            }
            // Unknown speed reads as -1 and is reported as -125000, like upstream's default.
            if let Some(mbit) = read_int("speed", &mut path) {
                speed.push(&[("device", device)], mbit.saturating_mul(125_000) as f64);
            }
            for (fam, &(_, attr, _)) in trailing.iter_mut().zip(TRAILING_PROPERTIES.iter()) {
                if let Some(v) = read_int(attr, &mut path) {
                    fam.push(&[("device", device)], v as f64);
                }
            }
            path.pop();
        }

        let mut families = Vec::with_capacity(props.len() + trailing.len() + 3);
        families.push(up);
        families.push(info);
        families.extend(props);
        families.push(speed);
        families.extend(trailing);
        Ok(families)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exporter_core::CollectError;

    #[test]
    fn parses_hex_decimal_and_negative_attributes() {
        assert_eq!(parse_attr_int("0x1003\n"), Some(4099));
        assert_eq!(parse_attr_int("0x0"), Some(0));
        assert_eq!(parse_attr_int("1500\n"), Some(1500));
        assert_eq!(parse_attr_int("-1\n"), Some(-1));
    }

    #[test]
    fn garbage_attributes_are_none() {
        assert_eq!(parse_attr_int(""), None);
        assert_eq!(parse_attr_int("0x"), None);
        assert_eq!(parse_attr_int("0xzz"), None);
        assert_eq!(parse_attr_int("up"), None);
        assert_eq!(parse_attr_int("99999999999999999999999"), None);
    }

    fn write_attrs(dir: &Path, attrs: &[(&str, &str)]) {
        std::fs::create_dir_all(dir).unwrap();
        for (name, value) in attrs {
            std::fs::write(dir.join(name), value).unwrap();
        }
    }

    fn sample<'a>(fams: &'a [MetricFamily], name: &str, device: &str) -> Option<&'a f64> {
        fams.iter()
            .find(|f| f.name == name)?
            .samples
            .iter()
            .find(|s| s.labels.iter().any(|l| l.0 == "device" && l.1 == device))
            .map(|s| &s.value)
    }

    #[test]
    fn collects_devices_skipping_missing_attributes() {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("class/net");
        write_attrs(
            &net.join("eth0"),
            &[
                ("addr_assign_type", "0\n"),
                ("address", "02:fc:00:00:00:01\n"),
                ("broadcast", "ff:ff:ff:ff:ff:ff\n"),
                ("carrier", "1\n"),
                ("carrier_changes", "2\n"),
                ("carrier_up_count", "1\n"),
                ("carrier_down_count", "1\n"),
                ("dev_id", "0x0\n"),
                ("dormant", "0\n"),
                ("duplex", "unknown\n"),
                ("flags", "0x1003\n"),
                ("ifalias", "\n"),
                ("ifindex", "4\n"),
                ("iflink", "4\n"),
                ("link_mode", "0\n"),
                ("mtu", "1400\n"),
                ("name_assign_type", "1\n"),
                ("netdev_group", "0\n"),
                ("operstate", "up\n"),
                ("speed", "-1\n"),
                ("tx_queue_len", "1000\n"),
                ("type", "1\n"),
            ],
        );
        // A down virtual device: no carrier/dormant/speed/duplex (EINVAL on a real system).
        write_attrs(
            &net.join("ifb0"),
            &[
                ("address", "6e:ce:74:8b:7d:f3\n"),
                ("flags", "0x82\n"),
                ("mtu", "1500\n"),
                ("operstate", "down\n"),
                ("speed", "garbage\n"),
                ("type", "1\n"),
            ],
        );
        write_attrs(&net.join("veth9"), &[("operstate", "up\n")]);
        std::fs::write(net.join("bonding_masters"), "bond0\n").unwrap();

        let cfg = NodeConfig {
            sysfs: dir.path().to_path_buf(),
            netclass_ignored_devices: Some(Regex::new("^veth").unwrap()),
            ..NodeConfig::default()
        };
        let fams = NetclassCollector::new(&cfg).collect().unwrap();

        let info = fams.iter().find(|f| f.name == "node_network_info").unwrap();
        assert_eq!(info.samples.len(), 2);
        let labels: Vec<(&str, &str)> = info.samples[0]
            .labels
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_str()))
            .collect();
        assert_eq!(
            labels,
            [
                ("address", "02:fc:00:00:00:01"),
                ("broadcast", "ff:ff:ff:ff:ff:ff"),
                ("device", "eth0"),
                ("duplex", "unknown"),
                ("ifalias", ""),
                ("operstate", "up"),
            ]
        );
        assert_eq!(info.samples[1].labels[3].1, "");

        assert_eq!(sample(&fams, "node_network_up", "eth0"), Some(&1.0));
        assert_eq!(sample(&fams, "node_network_up", "ifb0"), Some(&0.0));
        assert_eq!(sample(&fams, "node_network_flags", "eth0"), Some(&4099.0));
        assert_eq!(sample(&fams, "node_network_flags", "ifb0"), Some(&130.0));
        assert_eq!(
            sample(&fams, "node_network_speed_bytes", "eth0"),
            Some(&-125000.0)
        );
        assert_eq!(sample(&fams, "node_network_speed_bytes", "ifb0"), None);
        assert_eq!(sample(&fams, "node_network_carrier", "ifb0"), None);
        assert_eq!(
            sample(&fams, "node_network_carrier_up_changes_total", "eth0"),
            Some(&1.0)
        );
        assert_eq!(sample(&fams, "node_network_iface_id", "eth0"), Some(&4.0));
        assert_eq!(
            sample(&fams, "node_network_transmit_queue_length", "eth0"),
            Some(&1000.0)
        );
        assert_eq!(
            sample(&fams, "node_network_protocol_type", "ifb0"),
            Some(&1.0)
        );
        assert!(sample(&fams, "node_network_up", "veth9").is_none());
        assert!(sample(&fams, "node_network_up", "bonding_masters").is_none());

        let kinds: Vec<_> = fams
            .iter()
            .filter(|f| f.kind == MetricType::Counter)
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(
            kinds,
            [
                "node_network_carrier_changes_total",
                "node_network_carrier_up_changes_total",
                "node_network_carrier_down_changes_total"
            ]
        );
    }

    #[test]
    fn missing_class_net_is_not_available() {
        let cfg = NodeConfig {
            sysfs: "/nonexistent".into(),
            ..NodeConfig::default()
        };
        assert!(matches!(
            NetclassCollector::new(&cfg).collect(),
            Err(CollectError::NotAvailable(_))
        ));
    }
}
