//! `node_xfs_*{device}` from each mounted XFS filesystem's /sys/fs/xfs/<device>/stats/stats
//! (fs/xfs/xfs_stats.c, `xfs_stats_format`: one line per group, its name then its counters):
//!
//! ```text
//! extent_alloc 92447 97589 92448 93751
//! blk_map 1767055 188820 184891 92447 92448 2140766 0
//! rw 107739 94045
//! ```
//!
//! Read as node_exporter 1.5 (procfs 0.8) reads it: every line of two fields or more holds 32-bit
//! counters (`xpc`, the byte counters, 64-bit), the groups exported need their exact number of
//! counters (`vnodes` 7 or 8), and a line that breaks either rule fails the collector. The global
//! /sys/fs/xfs/stats/stats is not a device and is not read. Without XFS there is nothing to read
//! and the collector succeeds with no series, as upstream's empty glob.

use exporter_core::{BlockingCollector, CollectError, CollectResult, MetricFamily};

use crate::absent::GatedDir;
use crate::paths::HostPaths;
use crate::util::{read_file, sorted_dir_names};

/// The `xfs` collector: what it reads and emits is in the module documentation.
pub struct XfsCollector {
    dir: GatedDir,
}

impl XfsCollector {
    /// The collector reading under `paths`.
    pub fn new(paths: &HostPaths) -> Self {
        XfsCollector {
            dir: GatedDir::new(paths.sys_path("fs/xfs")),
        }
    }
}

/// The groups exported: the line's name, how many counters it must have (a second accepted
/// count for `vnodes`, whose last counter older kernels lack), and per counter position the
/// metric it becomes (`None`: not exported).
struct Group {
    line: &'static str,
    counts: &'static [usize],
    metrics: &'static [Option<(&'static str, &'static str)>],
}

const GROUPS: &[Group] = &[
    Group {
        line: "extent_alloc",
        counts: &[4],
        metrics: &[
            Some(("node_xfs_extent_allocation_extents_allocated_total", "Number of extents allocated for a filesystem.")),
            Some(("node_xfs_extent_allocation_blocks_allocated_total", "Number of blocks allocated for a filesystem.")),
            Some(("node_xfs_extent_allocation_extents_freed_total", "Number of extents freed for a filesystem.")),
            Some(("node_xfs_extent_allocation_blocks_freed_total", "Number of blocks freed for a filesystem.")),
        ],
    },
    Group {
        line: "abt",
        counts: &[4],
        metrics: &[
            Some(("node_xfs_allocation_btree_lookups_total", "Number of allocation B-tree lookups for a filesystem.")),
            Some(("node_xfs_allocation_btree_compares_total", "Number of allocation B-tree compares for a filesystem.")),
            Some(("node_xfs_allocation_btree_records_inserted_total", "Number of allocation B-tree records inserted for a filesystem.")),
            Some(("node_xfs_allocation_btree_records_deleted_total", "Number of allocation B-tree records deleted for a filesystem.")),
        ],
    },
    Group {
        line: "blk_map",
        counts: &[7],
        metrics: &[
            Some(("node_xfs_block_mapping_reads_total", "Number of block map for read operations for a filesystem.")),
            Some(("node_xfs_block_mapping_writes_total", "Number of block map for write operations for a filesystem.")),
            Some(("node_xfs_block_mapping_unmaps_total", "Number of block unmaps (deletes) for a filesystem.")),
            Some(("node_xfs_block_mapping_extent_list_insertions_total", "Number of extent list insertions for a filesystem.")),
            Some(("node_xfs_block_mapping_extent_list_deletions_total", "Number of extent list deletions for a filesystem.")),
            Some(("node_xfs_block_mapping_extent_list_lookups_total", "Number of extent list lookups for a filesystem.")),
            Some(("node_xfs_block_mapping_extent_list_compares_total", "Number of extent list compares for a filesystem.")),
        ],
    },
    Group {
        line: "bmbt",
        counts: &[4],
        metrics: &[
            Some(("node_xfs_block_map_btree_lookups_total", "Number of block map B-tree lookups for a filesystem.")),
            Some(("node_xfs_block_map_btree_compares_total", "Number of block map B-tree compares for a filesystem.")),
            Some(("node_xfs_block_map_btree_records_inserted_total", "Number of block map B-tree records inserted for a filesystem.")),
            Some(("node_xfs_block_map_btree_records_deleted_total", "Number of block map B-tree records deleted for a filesystem.")),
        ],
    },
    Group {
        line: "dir",
        counts: &[4],
        metrics: &[
            Some(("node_xfs_directory_operation_lookup_total", "Number of file name directory lookups which miss the operating systems directory name lookup cache.")),
            Some(("node_xfs_directory_operation_create_total", "Number of times a new directory entry was created for a filesystem.")),
            Some(("node_xfs_directory_operation_remove_total", "Number of times an existing directory entry was created for a filesystem.")),
            Some(("node_xfs_directory_operation_getdents_total", "Number of times the directory getdents operation was performed for a filesystem.")),
        ],
    },
    Group { line: "trans", counts: &[3], metrics: &[None, None, None] },
    Group {
        line: "ig",
        counts: &[7],
        metrics: &[
            Some(("node_xfs_inode_operation_attempts_total", "Number of times the OS looked for an XFS inode in the inode cache.")),
            Some(("node_xfs_inode_operation_found_total", "Number of times the OS looked for and found an XFS inode in the inode cache.")),
            Some(("node_xfs_inode_operation_recycled_total", "Number of times the OS found an XFS inode in the cache, but could not use it as it was being recycled.")),
            Some(("node_xfs_inode_operation_missed_total", "Number of times the OS looked for an XFS inode in the cache, but did not find it.")),
            Some(("node_xfs_inode_operation_duplicates_total", "Number of times the OS tried to add a missing XFS inode to the inode cache, but found it had already been added by another process.")),
            Some(("node_xfs_inode_operation_reclaims_total", "Number of times the OS reclaimed an XFS inode from the inode cache to free memory for another purpose.")),
            Some(("node_xfs_inode_operation_attribute_changes_total", "Number of times the OS explicitly changed the attributes of an XFS inode.")),
        ],
    },
    Group { line: "log", counts: &[5], metrics: &[None, None, None, None, None] },
    Group {
        line: "rw",
        counts: &[2],
        metrics: &[
            Some(("node_xfs_write_calls_total", "Number of write(2) system calls made to files in a filesystem.")),
            Some(("node_xfs_read_calls_total", "Number of read(2) system calls made to files in a filesystem.")),
        ],
    },
    Group { line: "attr", counts: &[4], metrics: &[None, None, None, None] },
    Group { line: "icluster", counts: &[3], metrics: &[None, None, None] },
    Group {
        line: "vnodes",
        counts: &[7, 8],
        metrics: &[
            Some(("node_xfs_vnode_active_total", "Number of vnodes not on free lists for a filesystem.")),
            Some(("node_xfs_vnode_allocate_total", "Number of times vn_alloc called for a filesystem.")),
            Some(("node_xfs_vnode_get_total", "Number of times vn_get called for a filesystem.")),
            Some(("node_xfs_vnode_hold_total", "Number of times vn_hold called for a filesystem.")),
            Some(("node_xfs_vnode_release_total", "Number of times vn_rele called for a filesystem.")),
            Some(("node_xfs_vnode_reclaim_total", "Number of times vn_reclaim called for a filesystem.")),
            Some(("node_xfs_vnode_remove_total", "Number of times vn_remove called for a filesystem.")),
            None,
        ],
    },
    Group { line: "buf", counts: &[9], metrics: &[None, None, None, None, None, None, None, None, None] },
];

/// The exported counters of one stats file, in [`GROUPS`] order (zeros for a missing line).
pub type XfsStats = Vec<u64>;

/// How many counters [`XfsStats`] holds.
fn exported_len() -> usize {
    GROUPS
        .iter()
        .flat_map(|g| g.metrics.iter().flatten())
        .count()
}

/// Parses one stats file into its exported counters.
pub fn parse_xfs_stats(text: &str) -> Result<XfsStats, String> {
    let mut stats = vec![0u64; exported_len()];
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [label, values @ ..] = &fields[..] else {
            continue;
        };
        if values.is_empty() {
            continue;
        }
        let numbers = if *label == "xpc" {
            values
                .iter()
                .map(|v| v.parse::<u64>().ok().filter(|_| !v.starts_with('+')))
                .collect::<Option<Vec<u64>>>()
        } else {
            values
                .iter()
                .map(|v| {
                    v.parse::<u32>()
                        .ok()
                        .filter(|_| !v.starts_with('+'))
                        .map(u64::from)
                })
                .collect::<Option<Vec<u64>>>()
        }
        .ok_or_else(|| format!("invalid counter on line {line:?}"))?;
        if *label == "xpc" && numbers.len() != 3 {
            return Err(format!("incorrect number of values on line {line:?}"));
        }
        let mut at = 0;
        for group in GROUPS {
            let exported = group.metrics.iter().flatten().count();
            if group.line == *label {
                if !group.counts.contains(&numbers.len()) {
                    return Err(format!("incorrect number of values on line {line:?}"));
                }
                let mut slot = at;
                for (metric, value) in group.metrics.iter().zip(&numbers) {
                    if metric.is_some() {
                        stats[slot] = *value;
                        slot += 1;
                    }
                }
            }
            at += exported;
        }
    }
    Ok(stats)
}

/// The families for every device, `(device, counters)` in device order.
pub fn xfs_families(devices: &[(String, XfsStats)]) -> Vec<MetricFamily> {
    let mut families = Vec::new();
    for (name, help) in GROUPS.iter().flat_map(|g| g.metrics.iter().flatten()) {
        families.push(MetricFamily::counter(*name, *help));
    }
    for (device, stats) in devices {
        for (family, value) in families.iter_mut().zip(stats) {
            family.push(&[("device", device)], *value as f64);
        }
    }
    families
}

impl BlockingCollector for XfsCollector {
    fn name(&self) -> &'static str {
        "xfs"
    }

    fn collect(&self) -> CollectResult {
        // No XFS: success with no series, as upstream's empty glob.
        match self.dir.run(|| self.collect_present()) {
            Err(CollectError::NotAvailable(_)) => Ok(Vec::new()),
            other => other,
        }
    }
}

impl XfsCollector {
    fn collect_present(&self) -> CollectResult {
        let entries = sorted_dir_names(&self.dir)?;
        let mut devices = Vec::new();
        for device in entries {
            // The glob fs/xfs/*/stats/stats: devices only. The global file is fs/xfs/stats/stats,
            // so `stats` is no device (and looking inside it costs a failed open per scrape).
            if device == "stats" {
                continue;
            }
            let path = self.dir.join(&device).join("stats/stats");
            let text = match read_file(&path) {
                Ok(text) => text,
                Err(CollectError::NotAvailable(_)) => continue,
                // fs/xfs/stats is the global file's directory: stats/stats is not a directory.
                Err(CollectError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotADirectory =>
                {
                    continue
                }
                Err(e) => return Err(e),
            };
            let stats = parse_xfs_stats(&text)
                .map_err(|e| CollectError::Parse(format!("{}: {e}", path.display())))?;
            devices.push((device, stats));
        }
        Ok(xfs_families(&devices))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{sysfs_at, write};

    const STATS: &str = "extent_alloc 92447 97589 92448 93751
abt 11 12 13 14
blk_map 1767055 188820 184891 92447 92448 2140766 5
bmbt 21 22 23 24
dir 185039 92447 92444 136422
trans 706 944304 0
ig 185045 58807 1 126238 2 33637 22
log 2883 113448 9 17360 739
push_ail 945014 0 134260 15483 0 3940 464 159985 0 40
xstrat 92447 0
rw 107739 94045
attr 4 3 2 1
icluster 8677 7849 135802
vnodes 92601 31 32 33 92444 92445 92446 34
buf 2666287 7122 2659202 3599 2 7085 0 10297 7085
abtb2 184 1062 8 8 0 0 0 0 0 0 0 0 0 0 16
xpc 399724544 92823103 86219234
debug 0
";

    fn value(stats: &XfsStats, name: &str) -> u64 {
        let at = GROUPS
            .iter()
            .flat_map(|g| g.metrics.iter().flatten())
            .position(|(n, _)| *n == name)
            .unwrap();
        stats[at]
    }

    #[test]
    fn parses_the_exported_groups() {
        let s = parse_xfs_stats(STATS).unwrap();
        assert_eq!(s.len(), 39);
        assert_eq!(
            value(&s, "node_xfs_extent_allocation_blocks_freed_total"),
            93751
        );
        assert_eq!(
            value(&s, "node_xfs_block_mapping_extent_list_compares_total"),
            5
        );
        assert_eq!(
            value(&s, "node_xfs_inode_operation_attribute_changes_total"),
            22
        );
        // The kernel prints writes before reads.
        assert_eq!(value(&s, "node_xfs_write_calls_total"), 107739);
        assert_eq!(value(&s, "node_xfs_read_calls_total"), 94045);
        assert_eq!(value(&s, "node_xfs_vnode_remove_total"), 92446);
    }

    #[test]
    fn older_vnodes_lines_and_missing_lines() {
        let s = parse_xfs_stats("vnodes 1 2 3 4 5 6 7\n").unwrap();
        assert_eq!(value(&s, "node_xfs_vnode_remove_total"), 7);
        assert_eq!(value(&s, "node_xfs_read_calls_total"), 0);
        assert_eq!(parse_xfs_stats("").unwrap(), vec![0; 39]);
        // A lone label is skipped.
        assert!(parse_xfs_stats("debug\n").is_ok());
    }

    #[test]
    fn what_upstream_refuses_is_an_error() {
        for bad in [
            "rw 1 2 3\n",
            "vnodes 1 2 3 4 5 6\n",
            "abt 1 2 3 x\n",
            "push_ail 4294967296\n",
            "xpc 1 2\n",
            "trans 1 2\n",
            "buf 1\n",
        ] {
            assert!(parse_xfs_stats(bad).is_err(), "{bad:?}");
        }
        // 64-bit byte counters.
        assert!(parse_xfs_stats("xpc 4294967296 1 2\n").is_ok());
    }

    #[test]
    fn devices_only_and_no_xfs_is_success() {
        let dir = tempfile::tempdir().unwrap();
        let c = XfsCollector::new(&sysfs_at(dir.path()));
        assert!(c.collect().unwrap().iter().all(|f| f.samples.is_empty()));
        // The collector now remembers the source as missing; a new one looks again.
        let c = XfsCollector::new(&sysfs_at(dir.path()));
        let xfs = dir.path().join("fs/xfs");
        for sub in ["sda1/stats", "stats"] {
            std::fs::create_dir_all(xfs.join(sub)).unwrap();
            write(&xfs.join(sub).join("stats"), STATS);
        }
        let fams = c.collect().unwrap();
        assert_eq!(fams.len(), 39);
        assert!(fams.iter().all(|f| f.samples.len() == 1));
        assert_eq!(fams[0].samples[0].labels[0].1, "sda1");
    }
}
