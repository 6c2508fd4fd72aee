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
//! As upstream, each Btrfs filesystem mounted (per `--path.procfs`'s `1/mounts`, else `mounts`,
//! the mount point under `--path.rootfs`) is also asked through ioctls (`BTRFS_IOC_FS_INFO`,
//! `BTRFS_IOC_DEV_INFO`, `BTRFS_IOC_GET_DEV_STATS`, include/uapi/linux/btrfs.h) for its devices:
//! then `node_btrfs_device_size_bytes`, `node_btrfs_device_unused_bytes` and
//! `node_btrfs_device_errors_total{type}` carry `device` and `btrfs_dev_uuid`, and the sysfs
//! device sizes are not served for that filesystem. A mount that cannot be asked (no permission,
//! another namespace) leaves its filesystem to sysfs, as upstream.
#![allow(
    unsafe_code,
    reason = "ioctl(2) on a mounted Btrfs filesystem's directory, with buffers sized as the kernel's structs"
)]

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use exporter_core::{BlockingCollector, CollectError, CollectResult, MetricFamily};

use crate::absent::GatedDir;
use crate::paths::HostPaths;
use crate::util::{read_file, sorted_dir_names};

/// The `btrfs` collector: what it reads and emits is in the module documentation.
pub struct BtrfsCollector {
    dir: GatedDir,
    procfs: PathBuf,
    rootfs: PathBuf,
}

impl BtrfsCollector {
    /// The collector reading under `paths`.
    pub fn new(paths: &HostPaths) -> Self {
        BtrfsCollector {
            dir: GatedDir::new(paths.sys_path("fs/btrfs")),
            procfs: paths.procfs.clone(),
            rootfs: paths.rootfs.clone(),
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

/// One device of a mounted filesystem, as the ioctls describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoctlDevice {
    /// The device's path (`/dev/sdb`) without its directory: `sdb`.
    pub device: String,
    /// The device's Btrfs UUID.
    pub uuid: String,
    /// Bytes allocated on the device.
    pub bytes_used: u64,
    /// The device's size as Btrfs uses it.
    pub total_bytes: u64,
    /// Write, read, flush, corruption and generation errors.
    pub errors: [u64; 5],
}

/// The error types of `BTRFS_IOC_GET_DEV_STATS`, in the kernel's order.
const ERROR_TYPES: [&str; 5] = ["write", "read", "flush", "corruption", "generation"];

/// `_IOR(0x94, 31, struct btrfs_ioctl_fs_info_args)` (1024 bytes).
const BTRFS_IOC_FS_INFO: u64 = 0x8400_941f;
/// `_IOWR(0x94, 30, struct btrfs_ioctl_dev_info_args)` (4096 bytes).
const BTRFS_IOC_DEV_INFO: u64 = 0xd000_941e;
/// `_IOWR(0x94, 52, struct btrfs_ioctl_get_dev_stats)` (1032 bytes).
const BTRFS_IOC_GET_DEV_STATS: u64 = 0xc408_9434;

fn u64_at(buf: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&buf[at..at + 8]);
    u64::from_ne_bytes(bytes)
}

/// A UUID's 16 bytes as `8-4-4-4-12` lowercase hex.
pub fn format_uuid(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    match (
        hex.get(..8),
        hex.get(8..12),
        hex.get(12..16),
        hex.get(16..20),
        hex.get(20..),
    ) {
        (Some(a), Some(b), Some(c), Some(d), Some(e)) => format!("{a}-{b}-{c}-{d}-{e}"),
        _ => hex,
    }
}

/// Runs one Btrfs ioctl with `buf` as its argument.
fn ioctl(file: &std::fs::File, request: u64, buf: &mut [u8]) -> std::io::Result<()> {
    // SAFETY: `buf` is as large as the struct the request's size field names, lives across the
    // call, and the kernel writes no more than that size into it.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), request as _, buf.as_mut_ptr()) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The fsid (hex, no dashes) and devices of the filesystem mounted at `mount_point`.
fn ioctl_devices(mount_point: &Path) -> std::io::Result<(String, Vec<IoctlDevice>)> {
    let file = std::fs::File::open(mount_point)?;
    let mut info = [0u8; 1024];
    ioctl(&file, BTRFS_IOC_FS_INFO, &mut info)?;
    let max_id = u64_at(&info, 0);
    let num_devices = u64_at(&info, 8);
    let fsid: String = info[16..32].iter().map(|b| format!("{b:02x}")).collect();
    let mut devices = Vec::new();
    for id in 0..=max_id {
        let mut dev = [0u8; 4096];
        dev[..8].copy_from_slice(&id.to_ne_bytes());
        match ioctl(&file, BTRFS_IOC_DEV_INFO, &mut dev) {
            Ok(()) => {}
            // Device ids need not start at 0 nor be contiguous.
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => continue,
            Err(e) => return Err(e),
        }
        let mut stats = [0u8; 1032];
        stats[..8].copy_from_slice(&id.to_ne_bytes());
        stats[8..16].copy_from_slice(&(ERROR_TYPES.len() as u64).to_ne_bytes());
        ioctl(&file, BTRFS_IOC_GET_DEV_STATS, &mut stats)?;
        let path_bytes = &dev[3072..];
        let path_len = path_bytes
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(path_bytes.len());
        let path = String::from_utf8_lossy(&path_bytes[..path_len]);
        let mut errors = [0u64; 5];
        for (i, e) in errors.iter_mut().enumerate() {
            *e = u64_at(&stats, 24 + 8 * i);
        }
        devices.push(IoctlDevice {
            device: path.rsplit('/').next().unwrap_or("").to_string(),
            uuid: format_uuid(&dev[8..24]),
            bytes_used: u64_at(&dev, 24),
            total_bytes: u64_at(&dev, 32),
            errors,
        });
        if devices.len() as u64 == num_devices {
            break;
        }
    }
    Ok((fsid, devices))
}

/// The Btrfs mounts of a mounts table (`device mount_point fstype ...`): device and mount point.
pub fn btrfs_mounts(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let device = fields.next()?;
            let mount_point = fields.next()?;
            (fields.next()? == "btrfs").then(|| {
                (
                    device.to_string(),
                    crate::collector::filesystem::unescape_octal(mount_point).into_owned(),
                )
            })
        })
        .collect()
}

impl BtrfsCollector {
    /// Each mounted filesystem's devices by fsid (hex, no dashes), as upstream gathers them: one
    /// mount per device, the first that answers.
    fn ioctl_stats(&self) -> HashMap<String, Vec<IoctlDevice>> {
        let mut out = HashMap::new();
        let text = read_file(&self.procfs.join("1/mounts"))
            .or_else(|_| read_file(&self.procfs.join("mounts")));
        let Ok(text) = text else {
            return out;
        };
        let mut devices_done = std::collections::HashSet::new();
        for (device, mount_point) in btrfs_mounts(&text) {
            if devices_done.contains(&device) {
                continue;
            }
            let path = self.rootfs.join(mount_point.trim_start_matches('/'));
            let Ok((fsid, devices)) = ioctl_devices(&path) else {
                continue;
            };
            if out.contains_key(&fsid) {
                continue;
            }
            devices_done.insert(device);
            out.insert(fsid, devices);
        }
        out
    }
}

/// The families for every filesystem, with the ioctls' devices where a filesystem was asked.
pub fn btrfs_families(
    filesystems: &[Filesystem],
    ioctl: &HashMap<String, Vec<IoctlDevice>>,
) -> Vec<MetricFamily> {
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
    let mut device_unused = MetricFamily::gauge(
        "node_btrfs_device_unused_bytes",
        "Unused bytes unused on a device that is part of the filesystem.",
    );
    let mut device_errors = MetricFamily::counter(
        "node_btrfs_device_errors_total",
        "Errors reported for the device",
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
        match ioctl.get(&uuid.replace('-', "")) {
            Some(devices) => {
                for d in devices {
                    let labels = [
                        ("uuid", uuid),
                        ("device", d.device.as_str()),
                        ("btrfs_dev_uuid", d.uuid.as_str()),
                    ];
                    device_size.push(&labels, d.total_bytes as f64);
                    device_unused.push(&labels, d.total_bytes.wrapping_sub(d.bytes_used) as f64);
                    for (kind, count) in ERROR_TYPES.iter().zip(d.errors) {
                        device_errors.push(
                            &[
                                ("uuid", uuid),
                                ("type", kind),
                                ("device", d.device.as_str()),
                                ("btrfs_dev_uuid", d.uuid.as_str()),
                            ],
                            count as f64,
                        );
                    }
                }
            }
            None => {
                for (device, bytes) in &fs.devices {
                    device_size.push(&[("uuid", uuid), ("device", device)], *bytes as f64);
                }
            }
        }
    }
    vec![
        info,
        rsv,
        reserved,
        used,
        size,
        ratio,
        device_size,
        device_unused,
        device_errors,
    ]
}

impl BlockingCollector for BtrfsCollector {
    fn name(&self) -> &'static str {
        "btrfs"
    }

    fn collect(&self) -> CollectResult {
        let result = self.dir.run(|| {
            // The glob `*-*`: filesystems are named by their UUID (`features` is not one).
            let filesystems = sorted_dir_names(&self.dir)?
                .iter()
                .filter(|n| n.contains('-'))
                .map(|name| read_filesystem(&self.dir, name))
                .collect::<Result<Vec<Filesystem>, CollectError>>()?;
            let ioctl = if filesystems.is_empty() {
                HashMap::new()
            } else {
                self.ioctl_stats()
            };
            Ok(btrfs_families(&filesystems, &ioctl))
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
    use crate::testing::{assert_maps, sysfs_at, write};

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
    fn mounts_and_uuids() {
        let mounts = "/dev/sdb /srv/a\\040b btrfs rw,relatime 0 0\n\
                      /dev/sda1 / ext4 rw 0 0\n\
                      /dev/sdb /srv/snap btrfs ro 0 0\n";
        assert_eq!(
            btrfs_mounts(mounts),
            [
                ("/dev/sdb".to_string(), "/srv/a b".to_string()),
                ("/dev/sdb".to_string(), "/srv/snap".to_string())
            ]
        );
        let bytes: Vec<u8> = (0..16).collect();
        assert_eq!(format_uuid(&bytes), "00010203-0405-0607-0809-0a0b0c0d0e0f");
    }

    #[test]
    fn ioctl_devices_replace_the_sysfs_sizes() {
        let fs = Filesystem {
            uuid: "71a02444-d1de-42ee-bce1-fad7e45722b1".into(),
            label: String::new(),
            global_rsv_size: 0,
            block_groups: vec![(0, Vec::new()); 3],
            devices: vec![("loop0".into(), 512)],
        };
        let fams = btrfs_families(std::slice::from_ref(&fs), &HashMap::new());
        assert_eq!(fams[6].samples[0].labels.len(), 2);
        assert!(fams[8].samples.is_empty());
        let mut ioctl = HashMap::new();
        ioctl.insert(
            "71a02444d1de42eebce1fad7e45722b1".to_string(),
            vec![IoctlDevice {
                device: "loop0".into(),
                uuid: "9afa96d8-df18-4b28-886f-a00900daccfb".into(),
                bytes_used: 100,
                total_bytes: 300,
                errors: [1, 2, 3, 4, 5],
            }],
        );
        let fams = btrfs_families(&[fs], &ioctl);
        assert_eq!(fams[6].samples[0].labels.len(), 3);
        assert_eq!(fams[6].samples[0].value, 300.0);
        assert_eq!(fams[7].samples[0].value, 200.0);
        assert_eq!(fams[8].samples.len(), 5);
        assert_eq!(fams[8].samples[4].value, 5.0);
    }

    #[test]
    fn values_that_do_not_parse_are_zero() {
        assert_maps(
            parse_value,
            &[("16384", 16384), ("x", 0), ("", 0), ("+1", 0)],
        );
    }

    #[test]
    fn reads_a_filesystem() {
        let dir = tempfile::tempdir().unwrap();
        let paths = sysfs_at(dir.path());
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
