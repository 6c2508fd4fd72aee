//! `node_disk_*`: block device I/O statistics from /proc/diskstats, plus `node_disk_info` and the
//! other udev-derived families (filesystem, device mapper, ATA) from udev's database.

use std::path::PathBuf;

use exporter_core::{BlockingCollector, CollectError, CollectResult, MetricFamily};
use regex::Regex;

use crate::kept::KeptFile;
use crate::paths::HostPaths;
use crate::util::{field_labels, keep_first_of_each, regex_flag};

/// The kernel counts read/write sectors in 512-byte units whatever the device's block size
/// (Documentation/block/stat.rst).
const SECTOR_SIZE: f64 = 512.0;
/// The time fields of /proc/diskstats are milliseconds.
const SECONDS_PER_TICK: f64 = 1.0 / 1000.0;
/// The most stat fields any kernel writes (5.5+); older kernels write 11 (< 4.18) or 15.
pub const MAX_STATS: usize = 17;

/// One line of /proc/diskstats. `stats` holds the first `count` counters in kernel order.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskStat {
    /// Device major number.
    pub major: u32,
    /// Device minor number.
    pub minor: u32,
    /// Device name (`sda`, `nvme0n1`).
    pub device: String,
    /// The counters, in kernel order; only the first `count` are set.
    pub stats: [u64; MAX_STATS],
    /// How many counters the line had.
    pub count: usize,
}

/// Parses /proc/diskstats. Lines carry 14 (< 4.18), 18 (4.18+) or 20 (5.5+) fields; ancient
/// kernels wrote 7 for partitions. Only the fields present are reported, as upstream does.
pub fn parse_diskstats(text: &str) -> Result<Vec<DiskStat>, CollectError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let Some(major) = fields.next() else {
            continue;
        };
        let bad = |what: &str| CollectError::Parse(format!("diskstats line {}: {what}", i + 1));
        let major: u32 = major.parse().map_err(|_| bad("invalid major number"))?;
        let minor: u32 = fields
            .next()
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| bad("invalid minor number"))?;
        let device = fields.next().ok_or_else(|| bad("missing device name"))?;
        let mut stats = [0u64; MAX_STATS];
        let mut count = 0;
        for (slot, field) in stats.iter_mut().zip(&mut fields) {
            *slot = field
                .parse()
                .map_err(|_| bad(&format!("invalid counter {field:?}")))?;
            count += 1;
        }
        if count == 0 {
            return Err(bad("no counters"));
        }
        out.push(DiskStat {
            major,
            minor,
            device: device.to_string(),
            stats,
            count,
        });
    }
    keep_first_of_each(&mut out, |d| d.device.as_str());
    Ok(out)
}

/// The udev properties node_exporter 1.5 reads from `E:` lines of `/run/udev/data/b<maj>:<min>`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct UdevInfo {
    /// `ID_PATH`.
    pub path: String,
    /// `ID_WWN`.
    pub wwn: String,
    /// `ID_MODEL`.
    pub model: String,
    /// `ID_SERIAL_SHORT`.
    pub serial_short: String,
    /// `ID_REVISION`.
    pub revision: String,
    /// `ID_FS_TYPE`.
    pub fs_type: String,
    /// `ID_FS_USAGE`.
    pub fs_usage: String,
    /// `ID_FS_UUID`.
    pub fs_uuid: String,
    /// `ID_FS_VERSION`.
    pub fs_version: String,
    /// `DM_NAME`.
    pub dm_name: String,
    /// `DM_UUID`.
    pub dm_uuid: String,
    /// `DM_VG_NAME`.
    pub dm_vg_name: String,
    /// `DM_LV_NAME`.
    pub dm_lv_name: String,
    /// `DM_LV_LAYER`.
    pub dm_lv_layer: String,
    /// Whether `ID_ATA` is set.
    pub ata: bool,
    /// `ID_ATA_FEATURE_SET_WCACHE`.
    pub ata_write_cache: Option<String>,
    /// `ID_ATA_FEATURE_SET_WCACHE_ENABLED`.
    pub ata_write_cache_enabled: Option<String>,
    /// `ID_ATA_ROTATION_RATE_RPM`.
    pub ata_rotation_rate_rpm: Option<String>,
}

/// Parses a udev database file, keeping only the properties that are exported.
pub fn parse_udev(text: &str) -> UdevInfo {
    let mut info = UdevInfo::default();
    for line in text.lines() {
        let Some((key, value)) = line.strip_prefix("E:").and_then(|p| p.split_once('=')) else {
            continue;
        };
        let slot = match key {
            "ID_PATH" => &mut info.path,
            "ID_WWN" => &mut info.wwn,
            "ID_MODEL" => &mut info.model,
            "ID_SERIAL_SHORT" => &mut info.serial_short,
            "ID_REVISION" => &mut info.revision,
            "ID_FS_TYPE" => &mut info.fs_type,
            "ID_FS_USAGE" => &mut info.fs_usage,
            "ID_FS_UUID" => &mut info.fs_uuid,
            "ID_FS_VERSION" => &mut info.fs_version,
            "DM_NAME" => &mut info.dm_name,
            "DM_UUID" => &mut info.dm_uuid,
            "DM_VG_NAME" => &mut info.dm_vg_name,
            "DM_LV_NAME" => &mut info.dm_lv_name,
            "DM_LV_LAYER" => &mut info.dm_lv_layer,
            "ID_ATA" => {
                info.ata = !value.is_empty();
                continue;
            }
            "ID_ATA_WRITE_CACHE" => {
                info.ata_write_cache = Some(value.to_string());
                continue;
            }
            "ID_ATA_WRITE_CACHE_ENABLED" => {
                info.ata_write_cache_enabled = Some(value.to_string());
                continue;
            }
            "ID_ATA_ROTATION_RATE_RPM" => {
                info.ata_rotation_rate_rpm = Some(value.to_string());
                continue;
            }
            _ => continue,
        };
        *slot = value.to_string();
    }
    info
}

/// (name, help, is_counter, scale) of each /proc/diskstats counter, in kernel order.
const STAT_FAMILIES: [(&str, &str, bool, f64); MAX_STATS] = [
    (
        "node_disk_reads_completed_total",
        "The total number of reads completed successfully.",
        true,
        1.0,
    ),
    (
        "node_disk_reads_merged_total",
        "The total number of reads merged.",
        true,
        1.0,
    ),
    (
        "node_disk_read_bytes_total",
        "The total number of bytes read successfully.",
        true,
        SECTOR_SIZE,
    ),
    (
        "node_disk_read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        true,
        SECONDS_PER_TICK,
    ),
    (
        "node_disk_writes_completed_total",
        "The total number of writes completed successfully.",
        true,
        1.0,
    ),
    (
        "node_disk_writes_merged_total",
        "The number of writes merged.",
        true,
        1.0,
    ),
    (
        "node_disk_written_bytes_total",
        "The total number of bytes written successfully.",
        true,
        SECTOR_SIZE,
    ),
    (
        "node_disk_write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        true,
        SECONDS_PER_TICK,
    ),
    (
        "node_disk_io_now",
        "The number of I/Os currently in progress.",
        false,
        1.0,
    ),
    (
        "node_disk_io_time_seconds_total",
        "Total seconds spent doing I/Os.",
        true,
        SECONDS_PER_TICK,
    ),
    (
        "node_disk_io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        true,
        SECONDS_PER_TICK,
    ),
    (
        "node_disk_discards_completed_total",
        "The total number of discards completed successfully.",
        true,
        1.0,
    ),
    (
        "node_disk_discards_merged_total",
        "The total number of discards merged.",
        true,
        1.0,
    ),
    (
        "node_disk_discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        true,
        1.0,
    ),
    (
        "node_disk_discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        true,
        SECONDS_PER_TICK,
    ),
    (
        "node_disk_flush_requests_total",
        "The total number of flush requests completed successfully",
        true,
        1.0,
    ),
    (
        "node_disk_flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        true,
        SECONDS_PER_TICK,
    ),
];

/// Partitions and virtual devices, left out by default (upstream's default).
pub const DEFAULT_DEVICE_EXCLUDE: &str = r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";

regex_flag! {
    /// Regexp of diskstats devices to exclude.
    DiskstatsFlags { device_exclude: "collector.diskstats.device-exclude" = DEFAULT_DEVICE_EXCLUDE }
}

/// The `diskstats` collector: what it reads and emits is in the module documentation.
pub struct DiskstatsCollector {
    diskstats: KeptFile,
    udev_data: PathBuf,
    exclude: Option<Regex>,
}

impl DiskstatsCollector {
    /// The collector reading under `cfg`, with its own options.
    pub fn new(cfg: &HostPaths, device_exclude: &Regex) -> Self {
        if !cfg.udev_data.is_dir() {
            // Upstream logs this once at startup too; node_disk_info is still emitted, unlabelled.
            tracing::warn!(
                path = %cfg.udev_data.display(),
                "Failed to open directory, disabling udev device properties"
            );
        }
        DiskstatsCollector {
            diskstats: KeptFile::new(cfg.proc_path("diskstats")),
            udev_data: cfg.udev_data.clone(),
            exclude: Some(device_exclude.clone()),
        }
    }

    fn udev_info(&self, major: u32, minor: u32) -> UdevInfo {
        let path = self.udev_data.join(format!("b{major}:{minor}"));
        match std::fs::read_to_string(&path) {
            Ok(text) => parse_udev(&text),
            Err(err) => {
                tracing::debug!(path = %path.display(), %err, "Failed to parse udev info");
                UdevInfo::default()
            }
        }
    }
}

impl BlockingCollector for DiskstatsCollector {
    fn name(&self) -> &'static str {
        "diskstats"
    }

    fn collect(&self) -> CollectResult {
        let disks = parse_diskstats(&self.diskstats.read()?)?;

        let mut stat_fams: Vec<MetricFamily> = STAT_FAMILIES
            .iter()
            .map(|&(name, help, counter, _)| {
                if counter {
                    MetricFamily::counter(name, help)
                } else {
                    MetricFamily::gauge(name, help)
                }
            })
            .collect();
        let mut info = MetricFamily::gauge("node_disk_info", "Info of /sys/block/<block_device>.");
        let mut fs_info =
            MetricFamily::gauge("node_disk_filesystem_info", "Info about disk filesystem.");
        let mut dm_info = MetricFamily::gauge(
            "node_disk_device_mapper_info",
            "Info about disk device mapper.",
        );
        let mut ata_write_cache =
            MetricFamily::gauge("node_disk_ata_write_cache", "ATA disk has a write cache.");
        let mut ata_write_cache_enabled = MetricFamily::gauge(
            "node_disk_ata_write_cache_enabled",
            "ATA disk has its write cache enabled.",
        );
        let mut ata_rotation = MetricFamily::gauge(
            "node_disk_ata_rotation_rate_rpm",
            "ATA disk rotation rate in RPMs (0 for SSDs).",
        );

        for disk in &disks {
            let dev = disk.device.as_str();
            if self.exclude.as_ref().is_some_and(|r| r.is_match(dev)) {
                continue;
            }
            let udev = self.udev_info(disk.major, disk.minor);
            // Labels in the order upstream's client library writes them (sorted by name).
            info.push(
                &field_labels!(
                    udev,
                    ("device", dev),
                    ("major", &disk.major.to_string()),
                    ("minor", &disk.minor.to_string()),
                    model,
                    path,
                    revision,
                    serial = serial_short,
                    wwn,
                ),
                1.0,
            );
            for ((fam, &(.., scale)), &v) in stat_fams
                .iter_mut()
                .zip(STAT_FAMILIES.iter())
                .zip(disk.stats.iter())
                .take(disk.count)
            {
                fam.push(&[("device", dev)], v as f64 * scale);
            }
            if !udev.fs_type.is_empty() {
                fs_info.push(
                    &field_labels!(
                        udev,
                        ("device", dev),
                        type = fs_type,
                        usage = fs_usage,
                        uuid = fs_uuid,
                        version = fs_version,
                    ),
                    1.0,
                );
            }
            if !udev.dm_name.is_empty() {
                dm_info.push(
                    &field_labels!(
                        udev,
                        ("device", dev),
                        lv_layer = dm_lv_layer,
                        lv_name = dm_lv_name,
                        name = dm_name,
                        uuid = dm_uuid,
                        vg_name = dm_vg_name,
                    ),
                    1.0,
                );
            }
            if udev.ata {
                for (fam, raw) in [
                    (&mut ata_write_cache, &udev.ata_write_cache),
                    (&mut ata_write_cache_enabled, &udev.ata_write_cache_enabled),
                    (&mut ata_rotation, &udev.ata_rotation_rate_rpm),
                ] {
                    let Some(raw) = raw else { continue };
                    match raw.parse::<f64>() {
                        Ok(v) => fam.push(&[("device", dev)], v),
                        Err(err) => {
                            tracing::error!(device = dev, value = %raw, %err, "Failed to parse ATA value")
                        }
                    }
                }
            }
        }

        stat_fams.extend([
            info,
            fs_info,
            dm_info,
            ata_write_cache,
            ata_write_cache_enabled,
            ata_rotation,
        ]);
        Ok(stat_fams)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_first_values, assert_not_available, family, label_pairs, write};

    // This machine (6.x kernel, 20 fields).
    const KERNEL_5_5: &str = "   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
 254       0 vda 30622 5702 2958058 14757 7381 24420 3291984 23249 0 9024 39711 3923 79 209912 1022 898 681
 253       0 zram0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
";
    // 4.18 - 5.4: discard fields, no flush fields.
    const KERNEL_4_18: &str =
        "   8       0 sda 1000 10 20000 300 400 50 6000 700 0 800 900 11 12 13 14\n";
    // Before 4.18: 11 counters.
    const KERNEL_4_4: &str = "   8       0 sda 1000 10 20000 300 400 50 6000 700 2 800 900\n";

    fn default_exclude() -> Regex {
        Regex::new(DEFAULT_DEVICE_EXCLUDE).unwrap()
    }

    fn cfg_with(dir: &std::path::Path) -> HostPaths {
        HostPaths {
            procfs: dir.join("proc"),
            udev_data: dir.join("udev"),
            ..HostPaths::default()
        }
    }

    #[test]
    fn parses_all_kernel_layouts() {
        let d = parse_diskstats(KERNEL_5_5).unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(d[1].device, "vda");
        assert_eq!((d[1].major, d[1].minor), (254, 0));
        assert_eq!(d[1].count, 17);
        assert_eq!(d[1].stats[16], 681);

        let d = parse_diskstats(KERNEL_4_18).unwrap();
        assert_eq!(d[0].count, 15);
        assert_eq!(d[0].stats[14], 14);

        let d = parse_diskstats(KERNEL_4_4).unwrap();
        assert_eq!(d[0].count, 11);
        assert_eq!(d[0].stats[8], 2);

        // 2.6 kernels wrote 4 counters for partitions.
        let d = parse_diskstats("   8    1 sda1 5 6 7 8\n").unwrap();
        assert_eq!(d[0].count, 4);
    }

    #[test]
    fn a_repeated_device_keeps_its_first_line() {
        // Found by tests/fuzz.rs: a repeated line gave two series for device="loop0".
        let disks = parse_diskstats(
            "7 0 loop0 1 0 0 0 0 0 0 0 0 0 0\n254 0 vda 2 0 0 0 0 0 0 0 0 0 0\n7 0 loop0 3 0 0 0 0 0 0 0 0 0 0\n",
        )
        .unwrap();
        let got: Vec<_> = disks
            .iter()
            .map(|d| (d.device.as_str(), d.stats[0]))
            .collect();
        assert_eq!(got, [("loop0", 1), ("vda", 2)]);
    }

    #[test]
    fn extra_fields_from_future_kernels_are_ignored() {
        let line = format!("{} 99 98\n", KERNEL_5_5.lines().nth(1).unwrap());
        let d = parse_diskstats(&line).unwrap();
        assert_eq!(d[0].count, 17);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse_diskstats("").unwrap().is_empty());
        assert!(parse_diskstats("\n\n").unwrap().is_empty());
        for bad in [
            "x 0 sda 1 2 3",
            "8",
            "8 0",
            "8 0 sda",
            "8 0 sda 1 2 x",
            "8 0 sda -1 2 3 4",
            "8 zero sda 1 2 3 4",
            "99999999999 0 sda 1",
        ] {
            let err = parse_diskstats(bad).unwrap_err().to_string();
            assert!(err.contains("line 1"), "{bad}: {err}");
        }
    }

    #[test]
    fn parses_udev_properties() {
        let text = "S:disk/by-id/ata-Samsung_SSD_860_EVO_S3Z9NB0K123456A
W:1
I:12345
E:ID_ATA=1
E:ID_TYPE=disk
E:ID_MODEL=Samsung_SSD_860_EVO_500GB
E:ID_REVISION=RVT04B6Q
E:ID_SERIAL=Samsung_SSD_860_EVO_500GB_S3Z9NB0K123456A
E:ID_SERIAL_SHORT=S3Z9NB0K123456A
E:ID_WWN=0x5002538e40a0b1c2
E:ID_PATH=pci-0000:00:17.0-ata-1
E:ID_ATA_WRITE_CACHE=1
E:ID_ATA_WRITE_CACHE_ENABLED=1
E:ID_ATA_ROTATION_RATE_RPM=0
E:ID_FS_TYPE=ext4
E:ID_FS_USAGE=filesystem
E:ID_FS_UUID=3b614a3f-4a65-4480-876a-8a998e01ac9b
E:ID_FS_VERSION=1.0
E:DM_NAME=vg-root
E:EMPTY=
G:systemd
broken line without colon
E:NOEQUALS
";
        let u = parse_udev(text);
        assert_eq!(u.model, "Samsung_SSD_860_EVO_500GB");
        assert_eq!(u.serial_short, "S3Z9NB0K123456A");
        assert_eq!(u.wwn, "0x5002538e40a0b1c2");
        assert_eq!(u.path, "pci-0000:00:17.0-ata-1");
        assert_eq!(u.revision, "RVT04B6Q");
        assert!(u.ata);
        assert_eq!(u.ata_rotation_rate_rpm.as_deref(), Some("0"));
        assert_eq!(u.fs_type, "ext4");
        assert_eq!(u.dm_name, "vg-root");
        assert_eq!(parse_udev(""), UdevInfo::default());
    }

    #[test]
    fn default_exclude_takes_partitions_and_ram_disks() {
        let re = default_exclude();
        for dev in ["ram0", "zram0", "loop7", "sda1", "vda2", "nvme0n1p1", "fd0"] {
            assert!(re.is_match(dev), "{dev}");
        }
        for dev in ["sda", "vda", "nvme0n1", "dm-0", "md0"] {
            assert!(!re.is_match(dev), "{dev}");
        }
    }

    #[test]
    fn collects_with_udev_and_exclusion() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        std::fs::create_dir_all(dir.path().join("udev")).unwrap();
        write(&dir.path().join("proc/diskstats"), KERNEL_5_5);
        write(&dir.path().join("udev/b254:0"), "E:ID_MODEL=QEMU\nE:ID_SERIAL_SHORT=abc\nE:ID_FS_TYPE=ext4\nE:ID_ATA=1\nE:ID_ATA_ROTATION_RATE_RPM=7200\nE:ID_ATA_WRITE_CACHE=x\n");
        // The default leaves zram0 out too (see `default_exclude_takes_partitions_and_ram_disks`);
        // here only loop devices are, so zram0 shows a disk without a udev file.
        let loops = Regex::new(r"^loop\d+$").unwrap();
        let fams = DiskstatsCollector::new(&cfg_with(dir.path()), &loops)
            .collect()
            .unwrap();
        let get = |n: &str| family(&fams, n);

        let info = get("node_disk_info");
        assert_eq!(info.samples.len(), 2, "loop0 is excluded");
        let vda = label_pairs(&info.samples[0]);
        assert_eq!(
            vda,
            [
                ("device", "vda"),
                ("major", "254"),
                ("minor", "0"),
                ("model", "QEMU"),
                ("path", ""),
                ("revision", ""),
                ("serial", "abc"),
                ("wwn", "")
            ]
        );
        // No udev file for zram0: still reported, with empty labels.
        assert_eq!(info.samples[1].labels[0].1, "zram0");
        assert_eq!(info.samples[1].labels[3].1, "");

        assert_first_values(
            &fams,
            &[
                ("node_disk_read_bytes_total", 2958058.0 * 512.0),
                ("node_disk_read_time_seconds_total", 14.757),
                ("node_disk_discarded_sectors_total", 209912.0),
                ("node_disk_flush_requests_total", 898.0),
                ("node_disk_flush_requests_time_seconds_total", 0.681),
                ("node_disk_ata_rotation_rate_rpm", 7200.0),
            ],
        );
        assert_eq!(
            get("node_disk_io_now").kind,
            exporter_core::MetricType::Gauge
        );
        assert_eq!(get("node_disk_filesystem_info").samples.len(), 1);
        assert!(
            get("node_disk_ata_write_cache").is_empty(),
            "unparsable value skipped"
        );
        assert!(get("node_disk_device_mapper_info").is_empty());
    }

    #[test]
    fn old_kernels_only_report_fields_present() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        write(&dir.path().join("proc/diskstats"), KERNEL_4_4);
        let fams = DiskstatsCollector::new(&cfg_with(dir.path()), &default_exclude())
            .collect()
            .unwrap();
        let non_empty: Vec<&str> = fams
            .iter()
            .filter(|f| !f.is_empty())
            .map(|f| f.name.as_ref())
            .collect();
        assert_eq!(non_empty.len(), 12, "11 counters + info: {non_empty:?}");
        assert!(!non_empty.contains(&"node_disk_discards_completed_total"));
    }

    #[test]
    fn missing_diskstats_is_not_available() {
        let dir = tempfile::tempdir().unwrap();
        assert_not_available(
            DiskstatsCollector::new(&cfg_with(dir.path()), &default_exclude()).collect(),
        );
    }
}
