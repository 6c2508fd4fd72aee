//! `node_btrfs_*{uuid}` per mounted Btrfs filesystem from /sys/fs/btrfs/<uuid>
//! (Documentation/ABI/testing/sysfs-fs-btrfs): its label, global reserve, and per block group
//! type (data, metadata, system) the reserved bytes and, per RAID profile, the used and
//! allocated bytes and the allocation ratio; each device's size.
//!
//! Read as node_exporter 1.5 (procfs 0.8) reads it: a value file that is absent or does not
//! parse counts as 0, a missing `label` is empty, a missing `metadata_uuid` leaves the directory
//! name, but each block group type's directory must exist. Without Btrfs the collector succeeds
//! with no series, as upstream's empty glob.
//!
//! Upstream also asks each mounted filesystem, through ioctls, for its devices' used bytes and
//! error counters; we do not (see the README): `node_btrfs_device_size_bytes` always comes from
//! sysfs, labelled `device` and `uuid`.

use std::path::{Path, PathBuf};

use exporter_core::{BlockingCollector, CollectError, CollectResult, MetricFamily};

use crate::absent::SourceGate;
use crate::paths::HostPaths;
use crate::util::{read_file, sorted_dir_names};

/// The `btrfs` collector: what it reads and emits is in the module documentation.
pub struct BtrfsCollector {
    gate: SourceGate,
    dir: PathBuf,
}

impl BtrfsCollector {
    /// The collector reading under `paths`.
    pub fn new(paths: &HostPaths) -> Self {
        let dir = paths.sys_path("fs/btrfs");
        BtrfsCollector {
            gate: SourceGate::new(&dir),
            dir,
        }
    }
}

/// Linux counts device sizes in 512-byte sectors, whatever the device's block size.
const SECTOR_SIZE: u64 = 512;

/// The block group types, in upstream's order.
const BLOCK_GROUP_TYPES: [&str; 3] = ["data", "metadata", "system"];

/// A file's trimmed content; `""` when it does not exist.
fn read_text(path: &Path) -> Result<String, CollectError> {
    match read_file(path) {
        Ok(text) => Ok(text.trim().to_string()),
        Err(CollectError::NotAvailable(_)) => Ok(String::new()),
        Err(e) => Err(e),
    }
}

/// A value file: an unsigned integer, 0 when it does not exist or does not parse (as upstream).
fn read_value(path: &Path) -> Result<u64, CollectError> {
    Ok(parse_value(&read_text(path)?))
}

/// A value as upstream reads it: decimal digits, else 0.
pub fn parse_value(text: &str) -> u64 {
    if text.starts_with('+') {
        return 0;
    }
    text.trim().parse().unwrap_or(0)
}

/// How many bytes of disk a byte of a RAID profile takes, with `devices` devices.
pub fn allocation_ratio(profile: &str, devices: usize) -> f64 {
    let n = devices as f64;
    match profile {
        "single" | "raid0" => 1.0,
        "dup" | "raid1" | "raid10" => 2.0,
        "raid5" => n / (n - 1.0),
        "raid6" => n / (n - 2.0),
        // raid1c3, raid1c4 and anything newer: unknown to upstream 1.5.
        _ => 0.0,
    }
}

/// One profile of one block group type.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The profile (`single`, `dup`, `raid1`, ...).
    pub profile: String,
    /// `used_bytes`.
    pub used_bytes: u64,
    /// `total_bytes`.
    pub total_bytes: u64,
    /// [`allocation_ratio`].
    pub ratio: f64,
}

/// One filesystem.
#[derive(Debug, Clone, PartialEq)]
pub struct Filesystem {
    /// `metadata_uuid`, else the directory name.
    pub uuid: String,
    /// `label`.
    pub label: String,
    /// `allocation/global_rsv_size`.
    pub global_rsv_size: u64,
    /// Per block group type: `bytes_reserved` and the profiles.
    pub block_groups: Vec<(u64, Vec<Layout>)>,
    /// Each device and its size in bytes.
    pub devices: Vec<(String, u64)>,
}

fn read_filesystem(dir: &Path, name: &str) -> Result<Filesystem, CollectError> {
    let fs_dir = dir.join(name);
    let devices_dir = fs_dir.join("devices");
    let device_names = match sorted_dir_names(&devices_dir) {
        Ok(names) => names,
        Err(CollectError::NotAvailable(_)) => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut devices = Vec::new();
    for device in device_names {
        let sectors = read_value(&devices_dir.join(&device).join("size"))?;
        devices.push((device, sectors.wrapping_mul(SECTOR_SIZE)));
    }
    let mut uuid = read_text(&fs_dir.join("metadata_uuid"))?;
    if uuid.is_empty() {
        uuid = name.to_string();
    }
    let allocation = fs_dir.join("allocation");
    let mut block_groups = Vec::new();
    for kind in BLOCK_GROUP_TYPES {
        let kind_dir = allocation.join(kind);
        let reserved = read_value(&kind_dir.join("bytes_reserved"))?;
        let mut layouts = Vec::new();
        let entries = sorted_dir_names(&kind_dir).map_err(|e| match e {
            CollectError::NotAvailable(what) => CollectError::Other(format!("missing {what}")),
            other => other,
        })?;
        for profile in entries {
            let profile_dir = kind_dir.join(&profile);
            if !profile_dir.is_dir() {
                continue;
            }
            layouts.push(Layout {
                used_bytes: read_value(&profile_dir.join("used_bytes"))?,
                total_bytes: read_value(&profile_dir.join("total_bytes"))?,
                ratio: allocation_ratio(&profile, devices.len()),
                profile,
            });
        }
        block_groups.push((reserved, layouts));
    }
    Ok(Filesystem {
        uuid,
        label: read_text(&fs_dir.join("label"))?,
        global_rsv_size: read_value(&allocation.join("global_rsv_size"))?,
        block_groups,
        devices,
    })
}

/// The families for every filesystem.
pub fn btrfs_families(filesystems: &[Filesystem]) -> Vec<MetricFamily> {
    let mut info = MetricFamily::gauge("node_btrfs_info", "Filesystem information");
    let mut rsv = MetricFamily::gauge(
        "node_btrfs_global_rsv_size_bytes",
        "Size of global reserve.",
    );
    let mut reserved = MetricFamily::gauge(
        "node_btrfs_reserved_bytes",
        "Amount of space reserved for a data type",
    );
    let mut used = MetricFamily::gauge(
        "node_btrfs_used_bytes",
        "Amount of used space by a layout/data type",
    );
    let mut size = MetricFamily::gauge(
        "node_btrfs_size_bytes",
        "Amount of space allocated for a layout/data type",
    );
    let mut ratio = MetricFamily::gauge(
        "node_btrfs_allocation_ratio",
        "Data allocation ratio for a layout/data type",
    );
    let mut device_size = MetricFamily::gauge(
        "node_btrfs_device_size_bytes",
        "Size of a device that is part of the filesystem.",
    );
    for fs in filesystems {
        let uuid = fs.uuid.as_str();
        info.push(&[("uuid", uuid), ("label", &fs.label)], 1.0);
        rsv.push(&[("uuid", uuid)], fs.global_rsv_size as f64);
        for (kind, (bytes_reserved, layouts)) in BLOCK_GROUP_TYPES.iter().zip(&fs.block_groups) {
            reserved.push(
                &[("uuid", uuid), ("block_group_type", kind)],
                *bytes_reserved as f64,
            );
            for layout in layouts {
                let labels = [
                    ("uuid", uuid),
                    ("block_group_type", *kind),
                    ("mode", layout.profile.as_str()),
                ];
                used.push(&labels, layout.used_bytes as f64);
                size.push(&labels, layout.total_bytes as f64);
                ratio.push(&labels, layout.ratio);
            }
        }
        for (device, bytes) in &fs.devices {
            device_size.push(&[("uuid", uuid), ("device", device)], *bytes as f64);
        }
    }
    vec![info, rsv, reserved, used, size, ratio, device_size]
}

impl BlockingCollector for BtrfsCollector {
    fn name(&self) -> &'static str {
        "btrfs"
    }

    fn collect(&self) -> CollectResult {
        let result = self.gate.run(|| {
            // The glob `*-*`: filesystems are named by their UUID (`features` is not one).
            let filesystems = sorted_dir_names(&self.dir)?
                .iter()
                .filter(|n| n.contains('-'))
                .map(|name| read_filesystem(&self.dir, name))
                .collect::<Result<Vec<Filesystem>, CollectError>>()?;
            Ok(btrfs_families(&filesystems))
        });
        // No Btrfs: success with no series, as upstream's empty glob.
        match result {
            Err(CollectError::NotAvailable(_)) => Ok(Vec::new()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_per_profile() {
        assert_eq!(allocation_ratio("single", 1), 1.0);
        assert_eq!(allocation_ratio("dup", 1), 2.0);
        assert_eq!(allocation_ratio("raid10", 4), 2.0);
        assert_eq!(allocation_ratio("raid5", 3), 1.5);
        assert_eq!(allocation_ratio("raid6", 4), 2.0);
        assert_eq!(allocation_ratio("raid1c3", 3), 0.0);
    }

    #[test]
    fn values_that_do_not_parse_are_zero() {
        assert_eq!(parse_value("16384"), 16384);
        assert_eq!(parse_value("x"), 0);
        assert_eq!(parse_value(""), 0);
        assert_eq!(parse_value("+1"), 0);
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn reads_a_filesystem() {
        let dir = tempfile::tempdir().unwrap();
        let paths = HostPaths {
            sysfs: dir.path().to_path_buf(),
            ..HostPaths::default()
        };
        assert!(BtrfsCollector::new(&paths).collect().unwrap().is_empty());
        let fs = dir
            .path()
            .join("fs/btrfs/0abb23a9-579b-43e6-ad30-227ef47fcb9d");
        write(&dir.path().join("fs/btrfs/features/raid56"), "0\n");
        write(&fs.join("label"), "backup\n");
        write(&fs.join("devices/sdb/size"), "2048\n");
        for kind in ["data", "metadata"] {
            write(
                &fs.join("allocation").join(kind).join("single/used_bytes"),
                "10\n",
            );
        }
        // A block group type's directory is required, as upstream.
        let c = BtrfsCollector::new(&paths);
        assert!(matches!(c.collect(), Err(CollectError::Other(_))));
        write(&fs.join("allocation/system/dup/total_bytes"), "8388608\n");
        let fams = c.collect().unwrap();
        assert_eq!(fams[0].samples.len(), 1);
        assert_eq!(fams[0].samples[0].labels[1].1, "backup");
        assert_eq!(fams[3].samples.len(), 3);
        assert_eq!(fams[6].samples[0].value, 1_048_576.0);
        assert_eq!(fams[5].samples[2].value, 2.0);
    }
}
