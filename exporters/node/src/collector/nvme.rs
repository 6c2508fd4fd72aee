//! `node_nvme_info` per NVMe controller from /sys/class/nvme/<device>/{firmware_rev,model,serial,
//! state} (Documentation/ABI/testing/sysfs-class-nvme).
//!
//! As upstream: a host without /sys/class/nvme, or a controller missing one of the four
//! attributes, reports `node_scrape_collector_success 0`.

use exporter_core::{CollectResult, MetricFamily};

use crate::absent::{gated_collector, GatedDir};
use crate::paths::HostPaths;
use crate::util::{field_labels, read_file, sorted_dir_names};

/// The `nvme` collector: what it reads and emits is in the module documentation.
pub struct NvmeCollector {
    class_dir: GatedDir,
}

impl NvmeCollector {
    /// The collector reading under `paths`.
    pub fn new(paths: &HostPaths) -> Self {
        NvmeCollector {
            class_dir: GatedDir::new(paths.sys_path("class/nvme")),
        }
    }
}

/// One controller's identity, each attribute trimmed of the padding the controller reports
/// (serial and model are space-padded fixed-width fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NvmeDevice {
    /// The controller, `nvme<N>`.
    pub device: String,
    /// `firmware_rev`.
    pub firmware_revision: String,
    /// `model`.
    pub model: String,
    /// `serial`.
    pub serial: String,
    /// `state` (`live`, `resetting`, ...).
    pub state: String,
}

/// The attributes read, and the label each becomes.
const ATTRIBUTES: [&str; 4] = ["firmware_rev", "model", "serial", "state"];

/// Builds a device from its attribute files' contents, in [`ATTRIBUTES`] order.
pub fn parse_nvme_device(device: &str, attributes: [&str; 4]) -> NvmeDevice {
    let [firmware_rev, model, serial, state] = attributes.map(|a| a.trim().to_string());
    NvmeDevice {
        device: device.to_string(),
        firmware_revision: firmware_rev,
        model,
        serial,
        state,
    }
}

/// `node_nvme_info`, one series per controller.
pub fn nvme_family(devices: &[NvmeDevice]) -> MetricFamily {
    let mut info = MetricFamily::gauge(
        "node_nvme_info",
        "Non-numeric data from /sys/class/nvme/<device>, value is always 1.",
    );
    for d in devices {
        info.push(
            &field_labels!(d, device, firmware_revision, model, serial, state),
            1.0,
        );
    }
    info
}

gated_collector!(NvmeCollector, "nvme", class_dir);

impl NvmeCollector {
    fn collect_present(&self) -> CollectResult {
        let mut devices = Vec::new();
        for name in sorted_dir_names(&self.class_dir)? {
            let dir = self.class_dir.join(&name);
            let mut texts: [String; 4] = Default::default();
            for (text, attribute) in texts.iter_mut().zip(ATTRIBUTES) {
                *text = read_file(&dir.join(attribute))?;
            }
            devices.push(parse_nvme_device(
                &name,
                texts.each_ref().map(|s| s.as_str()),
            ));
        }
        Ok(vec![nvme_family(&devices)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{not_available_then_fresh, sysfs_at, write, write_all};
    use exporter_core::BlockingCollector;

    #[test]
    fn attributes_are_trimmed() {
        let d = parse_nvme_device(
            "nvme0",
            [
                "5B2QGXA7\n",
                "Samsung SSD 980 PRO 1TB     \n",
                "S4EW  \n",
                "live\n",
            ],
        );
        assert_eq!(
            d,
            NvmeDevice {
                device: "nvme0".into(),
                firmware_revision: "5B2QGXA7".into(),
                model: "Samsung SSD 980 PRO 1TB".into(),
                serial: "S4EW".into(),
                state: "live".into(),
            }
        );
    }

    #[test]
    fn reads_controllers_and_fails_on_a_missing_attribute() {
        let dir = tempfile::tempdir().unwrap();
        let c = not_available_then_fresh(|| NvmeCollector::new(&sysfs_at(dir.path())));
        let nvme0 = dir.path().join("class/nvme/nvme0");
        write_all(
            &nvme0,
            &[
                ("firmware_rev", "1.0\n"),
                ("model", "M\n"),
                ("serial", "S\n"),
            ],
        );
        assert!(c.collect().is_err());
        write(&nvme0.join("state"), "live\n");
        let fams = c.collect().unwrap();
        assert_eq!(fams[0].samples.len(), 1);
        assert_eq!(fams[0].samples[0].labels[4].1, "live");
    }
}
