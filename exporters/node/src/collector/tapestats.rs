//! `node_tape_*{device}` per SCSI tape drive from /sys/class/scsi_tape/st<N>/stats/*
//! (Documentation/ABI/testing/sysfs-class-scsi_tape, Documentation/scsi/st.rst). Only the
//! `st<N>` devices count: `nst<N>` and the `st<N>[lma]` modes are the same drive.
//!
//! As upstream 1.5: no /sys/class/scsi_tape is `node_scrape_collector_success 0`; a drive's
//! stats file that cannot be read or parsed fails the collector.

use std::path::Path;

use exporter_core::{CollectError, CollectResult, MetricFamily};
use regex::Regex;

use crate::absent::{gated_collector, GatedDir};
use crate::paths::HostPaths;
use crate::util::{read_file, regex_flag, sorted_dir_names};

regex_flag! {
    /// Regexp of devices to ignore for tapestats.
    TapestatsFlags { ignored_devices: "collector.tapestats.ignored-devices" = "^$" }
}

/// The `tapestats` collector: what it reads and emits is in the module documentation.
pub struct TapestatsCollector {
    dir: GatedDir,
    ignored: Regex,
}

impl TapestatsCollector {
    /// The collector reading under `paths`.
    pub fn new(paths: &HostPaths, ignored: &Regex) -> Self {
        TapestatsCollector {
            dir: GatedDir::new(paths.sys_path("class/scsi_tape")),
            ignored: ignored.clone(),
        }
    }
}

/// The stats files, the family each becomes, and whether it is in nanoseconds (exported in
/// seconds) or a plain count.
const STATS: [(&str, &str, &str, bool); 10] = [
    ("in_flight", "node_tape_io_now", "The number of I/Os currently outstanding to this device.", false),
    ("io_ns", "node_tape_io_time_seconds_total", "The amount of time spent waiting for all I/O to complete (including read and write). This includes tape movement commands such as seeking between file or set marks and implicit tape movement such as when rewind on close tape devices are used.", true),
    ("other_cnt", "node_tape_io_others_total", "The number of I/Os issued to the tape drive other than read or write commands. The time taken to complete these commands uses the following calculation io_time_seconds_total-read_time_seconds_total-write_time_seconds_total", false),
    ("read_byte_cnt", "node_tape_read_bytes_total", "The number of bytes read from the tape drive.", false),
    ("read_cnt", "node_tape_reads_completed_total", "The number of read requests issued to the tape drive.", false),
    ("read_ns", "node_tape_read_time_seconds_total", "The amount of time spent waiting for read requests to complete.", true),
    ("resid_cnt", "node_tape_residual_total", "The number of times during a read or write we found the residual amount to be non-zero. This should mean that a program is issuing a read larger thean the block size on tape. For write not all data made it to tape.", false),
    ("write_byte_cnt", "node_tape_written_bytes_total", "The number of bytes written to the tape drive.", false),
    ("write_cnt", "node_tape_writes_completed_total", "The number of write requests issued to the tape drive.", false),
    ("write_ns", "node_tape_write_time_seconds_total", "The amount of time spent waiting for write requests to complete.", true),
];

/// Whether a /sys/class/scsi_tape entry is a drive (`st<N>`), not one of its other nodes.
pub fn is_drive(name: &str) -> bool {
    name.strip_prefix("st")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// An unsigned integer as Go's `strconv.ParseUint(s, 0, 64)` reads one: decimal, or with a `0x`,
/// `0o`, `0b` or leading `0` base prefix.
pub fn parse_go_uint_base0(s: &str) -> Option<u64> {
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(o) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        (o, 8)
    } else if let Some(b) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        (b, 2)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// The counters of a sysfs statistics directory, one per file: those of the files named in
/// `files`, in that order, read as Go's `strconv.ParseUint(s, 0, 64)` reads them (a file the
/// kernel does not write stays 0). Every other file but those in `skip` must be readable too, as
/// upstream reads them all.
pub(crate) fn read_counter_dir<const N: usize>(
    dir: &Path,
    files: [&str; N],
    skip: &[&str],
) -> Result<[u64; N], CollectError> {
    let mut counters = [0u64; N];
    for file in sorted_dir_names(dir)? {
        if skip.contains(&file.as_str()) {
            continue;
        }
        let path = dir.join(&file);
        let text = read_file(&path)?;
        if let Some(at) = files.iter().position(|f| *f == file) {
            let raw = text.trim();
            counters[at] = parse_go_uint_base0(raw).ok_or_else(|| {
                CollectError::Parse(format!("{}: invalid counter {raw:?}", path.display()))
            })?;
        }
    }
    Ok(counters)
}

/// The families for every drive, `(device, counters in [`STATS`] order)`.
pub fn tape_families(drives: &[(String, [u64; 10])]) -> Vec<MetricFamily> {
    STATS
        .iter()
        .enumerate()
        .map(|(at, (_, name, help, nanoseconds))| {
            let mut family = if at == 0 {
                MetricFamily::gauge(*name, *help)
            } else {
                MetricFamily::counter(*name, *help)
            };
            for (device, values) in drives {
                let value = if *nanoseconds {
                    // Upstream multiplies by 1e-9 (not a division): the same last digit.
                    values[at] as f64 * 1e-9
                } else {
                    values[at] as f64
                };
                family.push(&[("device", device)], value);
            }
            family
        })
        .collect()
}

gated_collector!(TapestatsCollector, "tapestats", dir);

impl TapestatsCollector {
    fn collect_present(&self) -> CollectResult {
        let mut drives = Vec::new();
        for name in sorted_dir_names(&self.dir)? {
            if !is_drive(&name) {
                continue;
            }
            let values = read_counter_dir(
                &self.dir.join(&name).join("stats"),
                STATS.map(|(file, ..)| file),
                &[],
            )?;
            if self.ignored.is_match(&name) {
                continue;
            }
            drives.push((name, values));
        }
        Ok(tape_families(&drives))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_maps, not_available_then_fresh, sysfs_at, write};
    use exporter_core::BlockingCollector;

    #[test]
    fn drives_only() {
        assert_maps(
            is_drive,
            &[
                ("st0", true),
                ("st12", true),
                ("nst0", false),
                ("st0a", false),
                ("st0l", false),
                ("st", false),
                ("stx", false),
                ("st0 ", false),
            ],
        );
    }

    #[test]
    fn numbers_read_like_go() {
        assert_maps(
            parse_go_uint_base0,
            &[
                ("0", Some(0)),
                ("1234", Some(1234)),
                ("0x1f", Some(31)),
                ("010", Some(8)),
                ("", None),
                ("-1", None),
                ("+1", None),
                ("12a", None),
            ],
        );
    }

    #[test]
    fn reads_drives_in_seconds_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let c = not_available_then_fresh(|| {
            TapestatsCollector::new(&sysfs_at(dir.path()), &Regex::new("^st1$").unwrap())
        });
        for drive in ["st0", "nst0", "st1"] {
            let stats = dir.path().join("class/scsi_tape").join(drive).join("stats");
            std::fs::create_dir_all(&stats).unwrap();
            for (file, ..) in STATS {
                write(&stats.join(file), "90529801\n");
            }
        }
        let fams = c.collect().unwrap();
        assert_eq!(fams.len(), 10);
        assert!(fams.iter().all(|f| f.samples.len() == 1));
        assert_eq!(fams[0].samples[0].value, 90529801.0);
        assert_eq!(fams[1].samples[0].value, 0.09052980100000001);
        let bad = dir.path().join("class/scsi_tape/st0/stats/read_cnt");
        write(&bad, "x\n");
        assert!(matches!(c.collect(), Err(CollectError::Parse(_))));
    }
}
