//! `node_arp_entries{device}` from /proc/net/arp.

use std::collections::BTreeMap;

use exporter_core::{CollectError, CollectResult, MetricFamily};

use crate::kept::proc_files_collector;

/// `IP address  HW type  Flags  HW address  Mask  Device` splits into 9 words.
const HEADER_WIDTH: usize = 9;
const ENTRY_WIDTH: usize = 6;

proc_files_collector!("arp", ArpCollector { path: "net/arp" });

/// Counts the entries of /proc/net/arp per device (last column), sorted by device.
pub fn parse_arp(text: &str) -> Result<BTreeMap<&str, u32>, CollectError> {
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        let mut device = None;
        let mut width = 0;
        for (i, c) in line.split_whitespace().enumerate() {
            width = i + 1;
            if i == ENTRY_WIDTH - 1 {
                device = Some(c);
            }
        }
        match width {
            0 | HEADER_WIDTH => {}
            ENTRY_WIDTH => {
                if let Some(dev) = device {
                    *counts.entry(dev).or_insert(0) += 1;
                }
            }
            _ => {
                return Err(CollectError::Parse(format!(
                    "arp: {width} columns, {ENTRY_WIDTH} expected: {line:?}"
                )))
            }
        }
    }
    Ok(counts)
}

impl ArpCollector {
    /// One scrape.
    fn scrape(&self) -> CollectResult {
        let text = self.path.read()?;
        let mut fam = MetricFamily::gauge("node_arp_entries", "ARP entries by device");
        for (dev, n) in parse_arp(&text)? {
            fam.push(&[("device", dev)], n as f64);
        }
        Ok(vec![fam])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_rejects, scrape_procfs};

    const SAMPLE: &str = "\
IP address       HW type     Flags       HW address            Mask     Device
192.0.2.1        0x1         0x2         02:fc:00:00:00:05     *        eth0
192.0.2.7        0x1         0x0         00:00:00:00:00:00     *        eth0
10.0.0.1         0x1         0x2         52:54:00:12:34:56     *        br-lan
";

    #[test]
    fn counts_entries_per_device() {
        let counts = parse_arp(SAMPLE).unwrap();
        assert_eq!(
            counts.into_iter().collect::<Vec<_>>(),
            [("br-lan", 1), ("eth0", 2)]
        );
    }

    #[test]
    fn header_only_is_empty() {
        assert!(parse_arp(SAMPLE.lines().next().unwrap())
            .unwrap()
            .is_empty());
        assert!(parse_arp("").unwrap().is_empty());
    }

    #[test]
    fn truncated_line_is_an_error() {
        assert_rejects(
            parse_arp,
            &["192.0.2.1 0x1 0x2 02:fc:00:00:00:05\n", "garbage\n"],
        );
    }

    #[test]
    fn collects_from_file() {
        let fams = scrape_procfs(&[("net/arp", SAMPLE)], ArpCollector::new);
        assert_eq!(fams[0].name, "node_arp_entries");
        assert_eq!(fams[0].samples[1].labels[0].1, "eth0");
        assert_eq!(fams[0].samples[1].value, 2.0);
    }
}
