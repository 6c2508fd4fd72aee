//! `node_dmi_info` from /sys/class/dmi/id (Documentation/ABI/testing/sysfs-class-dmi): one
//! series labelled with the firmware's, board's, chassis' and product's identity.
//!
//! The table is fixed until the next boot, so, as upstream 1.5 does at start, it is read once (at
//! the first scrape) and served from memory after: 20 file reads saved per scrape. An attribute
//! that is absent, or that only root may read (`product_serial`, `product_uuid`, ...), is left out
//! of the label set; an empty one is an empty label. A host without DMI (most ARM boards, some
//! VMs) reports `node_scrape_collector_success 0` at no cost after the first scrape.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use exporter_core::{BlockingCollector, CollectError, CollectResult, MetricFamily};

use crate::paths::HostPaths;
use crate::util::read_file;

/// The `dmi` collector: what it reads and emits is in the module documentation.
pub struct DmiCollector {
    dir: PathBuf,
    /// The labels read at the first scrape that got an answer (`None`: no DMI on this host).
    labels: OnceLock<Option<Vec<(&'static str, String)>>>,
}

impl DmiCollector {
    /// The collector reading under `paths`.
    pub fn new(paths: &HostPaths) -> Self {
        DmiCollector {
            dir: paths.sys_path("class/dmi/id"),
            labels: OnceLock::new(),
        }
    }
}

/// Attribute file -> label, in label order (`sys_vendor` is labelled `system_vendor`).
/// `chassis_type`, `modalias` and `uevent` are not exported.
pub const ATTRIBUTES: [(&str, &str); 20] = [
    ("bios_date", "bios_date"),
    ("bios_release", "bios_release"),
    ("bios_vendor", "bios_vendor"),
    ("bios_version", "bios_version"),
    ("board_asset_tag", "board_asset_tag"),
    ("board_name", "board_name"),
    ("board_serial", "board_serial"),
    ("board_vendor", "board_vendor"),
    ("board_version", "board_version"),
    ("chassis_asset_tag", "chassis_asset_tag"),
    ("chassis_serial", "chassis_serial"),
    ("chassis_vendor", "chassis_vendor"),
    ("chassis_version", "chassis_version"),
    ("product_family", "product_family"),
    ("product_name", "product_name"),
    ("product_serial", "product_serial"),
    ("product_sku", "product_sku"),
    ("product_uuid", "product_uuid"),
    ("product_version", "product_version"),
    ("sys_vendor", "system_vendor"),
];

/// An attribute's value as exported: the file's text without surrounding whitespace.
pub fn attribute_value(text: &str) -> String {
    text.trim().to_string()
}

/// Reads the table; `Ok(None)` when the directory does not exist.
fn read_labels(dir: &Path) -> Result<Option<Vec<(&'static str, String)>>, CollectError> {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CollectError::io(dir.display().to_string(), e)),
        Ok(_) => {}
    }
    let mut labels = Vec::new();
    for (file, label) in ATTRIBUTES {
        match read_file(&dir.join(file)) {
            Ok(text) => labels.push((label, attribute_value(&text))),
            Err(CollectError::NotAvailable(_)) => {}
            Err(CollectError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::PermissionDenied => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Some(labels))
}

/// `node_dmi_info` with the labels read.
pub fn dmi_family(labels: &[(&'static str, String)]) -> MetricFamily {
    let pairs: Vec<(&'static str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
    MetricFamily::gauge(
        "node_dmi_info",
        "A metric with a constant '1' value labeled by bios_date, bios_release, bios_vendor, \
         bios_version, board_asset_tag, board_name, board_serial, board_vendor, board_version, \
         chassis_asset_tag, chassis_serial, chassis_vendor, chassis_version, product_family, \
         product_name, product_serial, product_sku, product_uuid, product_version, system_vendor \
         if provided by DMI.",
    )
    .with(&pairs, 1.0)
}

impl BlockingCollector for DmiCollector {
    fn name(&self) -> &'static str {
        "dmi"
    }

    fn collect(&self) -> CollectResult {
        let labels = match self.labels.get() {
            Some(labels) => labels,
            // A read error (not an absence) is not remembered: the next scrape tries again.
            None => {
                let read = read_labels(&self.dir)?;
                self.labels.get_or_init(|| read)
            }
        };
        match labels {
            Some(labels) if !labels.is_empty() => Ok(vec![dmi_family(labels)]),
            _ => Err(CollectError::NotAvailable(format!(
                "no DMI table at {}",
                self.dir.display()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_not_available, sysfs_at, write, write_all};

    fn collector(sys: &Path) -> DmiCollector {
        DmiCollector::new(&sysfs_at(sys))
    }

    #[test]
    fn values_lose_their_padding_only() {
        assert_eq!(attribute_value("Dell Inc.  \n"), "Dell Inc.");
        assert_eq!(attribute_value("\n"), "");
        assert_eq!(attribute_value("SKU=Not Provided\n"), "SKU=Not Provided");
    }

    #[test]
    fn no_dmi_is_not_available_and_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let c = collector(dir.path());
        assert_not_available(c.collect());
        // Appearing later changes nothing, as upstream (it reads the table once).
        let id = dir.path().join("class/dmi/id");
        std::fs::create_dir_all(&id).unwrap();
        write(&id.join("bios_vendor"), "X\n");
        assert_not_available(c.collect());
    }

    #[test]
    fn labels_are_the_attributes_present_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let id = dir.path().join("class/dmi/id");
        write_all(
            &id,
            &[
                ("sys_vendor", "Dell Inc.\n"),
                ("board_serial", "\n"),
                ("chassis_type", "23\n"),
                ("uevent", "MODALIAS=dmi:x\n"),
            ],
        );
        let c = collector(dir.path());
        let want = vec![
            ("board_serial".into(), String::new()),
            ("system_vendor".into(), "Dell Inc.".to_string()),
        ];
        let got = |c: &DmiCollector| {
            let fams = c.collect().unwrap();
            fams[0].samples[0]
                .labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<(String, String)>>()
        };
        assert_eq!(got(&c), want);
        write(&id.join("sys_vendor"), "Other\n");
        assert_eq!(got(&c), want);
    }

    #[test]
    fn an_empty_table_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("class/dmi/id")).unwrap();
        assert_not_available(collector(dir.path()).collect());
    }
}
