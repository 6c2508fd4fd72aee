//! `node_bcache_*` per bcache cache set (/sys/fs/bcache/<uuid>), backing device (`bdev<N>`) and
//! cache device (`cache<N>`) (Documentation/admin-guide/bcache.rst, "Sysfs - ..."). Sizes come in
//! `bch_hprint`'s form (`12.3M`: a power of 1024, with a "fraction" that counts 1024ths in
//! hundredths), which is read back as upstream reads it (`12.3M` = (12 + 3/10.24) MiB).
//!
//! As upstream 1.5 (procfs 0.8): a value file that is absent counts as 0, one whose content is
//! empty or does not parse fails the collector; a value is the file without its last byte (the
//! kernel's newline); a backing device needs `writeback_rate_debug`. Without bcache the collector
//! succeeds with no series, as upstream's empty glob.

use std::path::Path;

use exporter_core::{BlockingCollector, CollectError, CollectResult, MetricFamily};

use crate::absent::GatedDir;
use crate::paths::HostPaths;
use crate::util::{bool_flag, read_file, sorted_dir_names};

bool_flag! {
    /// Expose expensive priority stats.
    BcacheFlags { priority_stats: "collector.bcache.priorityStats" }
}

/// The `bcache` collector: what it reads and emits is in the module documentation.
pub struct BcacheCollector {
    dir: GatedDir,
    priority_stats: bool,
}

impl BcacheCollector {
    /// The collector reading under `paths`, with `priority_stats` if asked for.
    pub fn new(paths: &HostPaths, priority_stats: &bool) -> Self {
        BcacheCollector {
            dir: GatedDir::new(paths.sys_path("fs/bcache")),
            priority_stats: *priority_stats,
        }
    }
}

/// `bch_hprint`'s pseudo-decimal: the digits after the point are 1024ths in hundredths.
fn parse_pseudo_float(text: &str) -> Option<f64> {
    let mut parts = text.split('.');
    let int: f64 = parse_go_float(parts.next()?)?;
    match parts.next() {
        None => Some(int),
        Some(frac) => Some(int + parse_go_float(frac)? / 10.24),
    }
}

/// A float as Go's `strconv.ParseFloat` reads the plain decimal forms the kernel writes.
fn parse_go_float(text: &str) -> Option<f64> {
    text.parse().ok()
}

/// A human-readable size (`1.5k`, `12.3M`, `512`) in units, as procfs' `dehumanize` reads it.
pub fn dehumanize(text: &str) -> Result<u64, String> {
    let last = *text.as_bytes().last().ok_or("zero-length reply")?;
    let value = if last > b'9' {
        let multiplier = match last {
            b'k' => 1u64 << 10,
            b'M' => 1 << 20,
            b'G' => 1 << 30,
            b'T' => 1 << 40,
            b'P' => 1 << 50,
            b'E' => 1 << 60,
            // Z and Y overflow u64; upstream's float multiplies and its conversion saturates.
            b'Z' | b'Y' => u64::MAX,
            _ => 0,
        };
        let mantissa = text
            .get(..text.len() - 1)
            .and_then(parse_pseudo_float)
            .ok_or_else(|| format!("invalid size {text:?}"))?;
        mantissa * multiplier as f64
    } else {
        parse_go_float(text).ok_or_else(|| format!("invalid size {text:?}"))?
    };
    Ok(value as u64)
}

/// A value file's content: everything but its last byte (the newline), dehumanized.
pub fn parse_value(text: &str) -> Result<u64, String> {
    let mut end = text.len().saturating_sub(1);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    dehumanize(&text[..end])
}

/// A signed size of `writeback_rate_debug` (`-920.7M`, `1.1M/sec`).
pub fn parse_signed(text: &str) -> Result<i64, String> {
    let text = text.strip_suffix("/sec").unwrap_or(text);
    match text.strip_prefix('-') {
        Some(rest) => Ok(-(dehumanize(rest)? as i64)),
        None => Ok(dehumanize(text)? as i64),
    }
}

/// The fields of `writeback_rate_debug` that are exported, in order: rate, target,
/// proportional, integral, change.
pub fn parse_writeback_rate_debug(text: &str) -> Result<[i64; 5], String> {
    let mut out = [0i64; 5];
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let at = match key.trim() {
            "rate" => 0,
            "target" => 1,
            "proportional" => 2,
            "integral" => 3,
            "change" => 4,
            "dirty" => {
                parse_signed(value.trim())?;
                continue;
            }
            _ => continue,
        };
        out[at] = parse_signed(value.trim())?;
    }
    Ok(out)
}

/// `priority_stats`' `Unused:` and `Metadata:` percentages.
pub fn parse_priority_stats(text: &str) -> Result<(u64, u64), String> {
    let (mut unused, mut metadata) = (0, 0);
    for line in text.lines() {
        let slot = if line.starts_with("Unused:") {
            &mut unused
        } else if line.starts_with("Metadata:") {
            &mut metadata
        } else {
            continue;
        };
        let raw = line.split_whitespace().last().unwrap_or("");
        let raw = raw.strip_suffix('%').unwrap_or(raw);
        *slot = raw
            .parse()
            .ok()
            .filter(|_| !raw.starts_with('+'))
            .ok_or_else(|| format!("invalid percentage in {line:?}"))?;
    }
    Ok((unused, metadata))
}

/// A value file; an absent one counts as 0.
fn read_value(dir: &Path, file: &str) -> Result<u64, CollectError> {
    let path = dir.join(file);
    match read_file(&path) {
        Ok(text) => {
            parse_value(&text).map_err(|e| CollectError::Parse(format!("{}: {e}", path.display())))
        }
        Err(CollectError::NotAvailable(_)) => Ok(0),
        Err(e) => Err(e),
    }
}

/// A file that must exist once its device does.
fn required(path: &Path) -> Result<String, CollectError> {
    read_file(path).map_err(|e| match e {
        CollectError::NotAvailable(what) => CollectError::Other(format!("missing {what}")),
        other => other,
    })
}

type Gauge = (&'static str, &'static str, &'static str, bool);

/// The cache set's values: file, family, help, counter.
const SET_VALUES: [Gauge; 10] = [
    ("average_key_size", "node_bcache_average_key_size_sectors", "Average data per key in the btree (sectors).", false),
    ("btree_cache_size", "node_bcache_btree_cache_size_bytes", "Amount of memory currently used by the btree cache.", false),
    ("cache_available_percent", "node_bcache_cache_available_percent", "Percentage of cache device without dirty data, usable for writeback (may contain clean cached data).", false),
    ("congested", "node_bcache_congested", "Congestion.", false),
    ("root_usage_percent", "node_bcache_root_usage_percent", "Percentage of the root btree node in use (tree depth increases if too high).", false),
    ("tree_depth", "node_bcache_tree_depth", "Depth of the btree.", false),
    ("internal/active_journal_entries", "node_bcache_active_journal_entries", "Number of journal entries that are newer than the index.", false),
    ("internal/btree_nodes", "node_bcache_btree_nodes", "Total nodes in the btree.", false),
    // In microseconds, exported as nanoseconds times 1e-9, as upstream does.
    ("internal/btree_read_average_duration_us", "node_bcache_btree_read_average_duration_seconds", "Average btree read duration.", false),
    ("internal/cache_read_races", "node_bcache_cache_read_races_total", "Counts instances where while data was being read from the cache, the bucket was reused and invalidated - i.e. where the pointer was stale after the read completed.", true),
];

/// A backing device's values.
const BDEV_VALUES: [Gauge; 8] = [
    (
        "dirty_data",
        "node_bcache_dirty_data_bytes",
        "Amount of dirty data for this backing device in the cache.",
        false,
    ),
    (
        "stats_total/bypassed",
        "node_bcache_bypassed_bytes_total",
        "Amount of IO (both reads and writes) that has bypassed the cache.",
        true,
    ),
    (
        "stats_total/cache_bypass_hits",
        "node_bcache_cache_bypass_hits_total",
        "Hits for IO intended to skip the cache.",
        true,
    ),
    (
        "stats_total/cache_bypass_misses",
        "node_bcache_cache_bypass_misses_total",
        "Misses for IO intended to skip the cache.",
        true,
    ),
    (
        "stats_total/cache_hits",
        "node_bcache_cache_hits_total",
        "Hits counted per individual IO as bcache sees them.",
        true,
    ),
    (
        "stats_total/cache_miss_collisions",
        "node_bcache_cache_miss_collisions_total",
        "Instances where data insertion from cache miss raced with write (data already present).",
        true,
    ),
    (
        "stats_total/cache_misses",
        "node_bcache_cache_misses_total",
        "Misses counted per individual IO as bcache sees them.",
        true,
    ),
    (
        "stats_total/cache_readaheads",
        "node_bcache_cache_readaheads_total",
        "Count of times readahead occurred.",
        true,
    ),
];

/// `writeback_rate_debug`'s families, in [`parse_writeback_rate_debug`]'s order.
const WRITEBACK: [(&str, &str); 5] = [
    (
        "node_bcache_writeback_rate",
        "Current writeback rate for this backing device in bytes.",
    ),
    (
        "node_bcache_dirty_target_bytes",
        "Current dirty data target threshold for this backing device in bytes.",
    ),
    (
        "node_bcache_writeback_rate_proportional_term",
        "Current result of proportional controller, part of writeback rate",
    ),
    (
        "node_bcache_writeback_rate_integral_term",
        "Current result of integral controller, part of writeback rate",
    ),
    (
        "node_bcache_writeback_change",
        "Last writeback rate change step for this backing device.",
    ),
];

/// A cache device's values.
const CACHE_VALUES: [Gauge; 3] = [
    (
        "io_errors",
        "node_bcache_io_errors",
        "Number of errors that have occurred, decayed by io_error_halflife.",
        false,
    ),
    (
        "metadata_written",
        "node_bcache_metadata_written_bytes_total",
        "Sum of all non data writes (btree writes and all other metadata).",
        true,
    ),
    (
        "written",
        "node_bcache_written_bytes_total",
        "Sum of all data that has been written to the cache.",
        true,
    ),
];

fn family((_, name, help, counter): &Gauge) -> MetricFamily {
    if *counter {
        MetricFamily::counter(*name, *help)
    } else {
        MetricFamily::gauge(*name, *help)
    }
}

/// Entries of `dir` named `<prefix><digits...>` (the glob `<prefix>[0-9]*`), sorted.
fn numbered(dir: &Path, prefix: &str) -> Result<Vec<String>, CollectError> {
    Ok(sorted_dir_names(dir)?
        .into_iter()
        .filter(|n| {
            n.strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        })
        .collect())
}

impl BcacheCollector {
    fn collect_present(&self) -> CollectResult {
        let mut set_families: Vec<MetricFamily> = SET_VALUES.iter().map(family).collect();
        let mut bdev_families: Vec<MetricFamily> = BDEV_VALUES.iter().map(family).collect();
        let mut writeback: Vec<MetricFamily> = WRITEBACK
            .iter()
            .map(|(name, help)| MetricFamily::gauge(*name, *help))
            .collect();
        let mut cache_families: Vec<MetricFamily> = CACHE_VALUES.iter().map(family).collect();
        let mut unused = MetricFamily::gauge(
            "node_bcache_priority_stats_unused_percent",
            "The percentage of the cache that doesn't contain any data.",
        );
        let mut metadata = MetricFamily::gauge(
            "node_bcache_priority_stats_metadata_percent",
            "Bcache's metadata overhead.",
        );
        // The glob `*-*`: cache sets are named by their UUID.
        for uuid in sorted_dir_names(&self.dir)?
            .into_iter()
            .filter(|n| n.contains('-'))
        {
            let set = self.dir.join(&uuid);
            let labels = [("uuid", uuid.as_str())];
            for (at, value) in SET_VALUES.iter().enumerate() {
                let v = read_value(&set, value.0)? as f64;
                let v = if at == 8 { v * 1e-9 } else { v };
                set_families[at].push(&labels, v);
            }
            for bdev in numbered(&set, "bdev")? {
                let dir = set.join(&bdev);
                let labels = [("backing_device", bdev.as_str()), ("uuid", uuid.as_str())];
                for (at, value) in BDEV_VALUES.iter().enumerate() {
                    bdev_families[at].push(&labels, read_value(&dir, value.0)? as f64);
                }
                let debug_path = dir.join("writeback_rate_debug");
                let rates = parse_writeback_rate_debug(&required(&debug_path)?)
                    .map_err(|e| CollectError::Parse(format!("{}: {e}", debug_path.display())))?;
                for (family, value) in writeback.iter_mut().zip(rates) {
                    family.push(&labels, value as f64);
                }
            }
            for cache in numbered(&set, "cache")? {
                let dir = set.join(&cache);
                let labels = [("cache_device", cache.as_str()), ("uuid", uuid.as_str())];
                for (at, value) in CACHE_VALUES.iter().enumerate() {
                    cache_families[at].push(&labels, read_value(&dir, value.0)? as f64);
                }
                if self.priority_stats {
                    let path = dir.join("priority_stats");
                    let (u, m) = parse_priority_stats(&required(&path)?)
                        .map_err(|e| CollectError::Parse(format!("{}: {e}", path.display())))?;
                    unused.push(&labels, u as f64);
                    metadata.push(&labels, m as f64);
                }
            }
        }
        let mut families = set_families;
        families.append(&mut bdev_families);
        families.append(&mut writeback);
        families.append(&mut cache_families);
        families.extend([unused, metadata]);
        Ok(families)
    }
}

impl BlockingCollector for BcacheCollector {
    fn name(&self) -> &'static str {
        "bcache"
    }

    fn collect(&self) -> CollectResult {
        // No bcache: success with no series, as upstream's empty glob.
        match self.dir.run(|| self.collect_present()) {
            Err(CollectError::NotAvailable(_)) => Ok(Vec::new()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_maps, assert_rejects, sysfs_at, write};

    #[test]
    fn sizes_read_as_upstream_reads_them() {
        assert_maps(
            dehumanize,
            &[
                ("512", Ok(512)),
                ("1.5k", Ok(1524)),
                ("12.3M", Ok(12_890_112)),
                ("6.4G", Ok(6_861_881_344)),
                ("1.5X", Ok(0)),
            ],
        );
        assert_rejects(dehumanize, &["", "x", "1.zk"]);
        // The last byte is taken for the newline, whatever it is.
        assert_eq!(parse_value("546\n"), Ok(546));
        assert!(parse_value("5").is_err());
    }

    #[test]
    fn writeback_debug_is_signed() {
        let text =
            "rate:\t\t4.0M/sec\ndirty:\t\t954.7M\ntarget:\t\t36.7G\nproportional:\t-920.7M\n\
                    integral:\t-17.1M\nchange:\t\t-1.5k/sec\nnext io:\t-7969ms\n";
        assert_eq!(
            parse_writeback_rate_debug(text),
            Ok([4_194_304, 39_388_708_864, -965_406_720, -17_928_192, -1524])
        );
        assert_eq!(
            parse_writeback_rate_debug("rate:\t\t4.0M/sec\n"),
            Ok([4_194_304, 0, 0, 0, 0])
        );
        assert!(parse_writeback_rate_debug("rate:\t\tx/sec\n").is_err());
    }

    #[test]
    fn priority_stats_percentages() {
        let text = "Unused:\t\t99%\nClean:\t\t0%\nDirty:\t\t0%\nMetadata:\t3%\nAverage:\t0\n";
        assert_eq!(parse_priority_stats(text), Ok((99, 3)));
        assert!(parse_priority_stats("Unused:\tx%\n").is_err());
    }

    #[test]
    fn reads_sets_backing_and_cache_devices() {
        let dir = tempfile::tempdir().unwrap();
        let paths = sysfs_at(dir.path());
        assert!(BcacheCollector::new(&paths, &false)
            .collect()
            .unwrap()
            .is_empty());
        let set = dir
            .path()
            .join("fs/bcache/deaddd54-c735-46d5-868e-f331c5fd7c74");
        write(&set.join("congested"), "2\n");
        write(&set.join("bdev0/dirty_data"), "1.0k\n");
        write(
            &set.join("bdev0/writeback_rate_debug"),
            "rate:\t\t1.0k/sec\n",
        );
        write(&set.join("cache0/written"), "6.4G\n");
        write(
            &set.join("cache0/priority_stats"),
            "Unused:\t\t99%\nMetadata:\t1%\n",
        );
        write(&dir.path().join("fs/bcache/register"), "");
        let fams = BcacheCollector::new(&paths, &true).collect().unwrap();
        let value = |name: &str| {
            fams.iter()
                .find(|f| f.name == name)
                .map(|f| f.samples[0].value)
        };
        assert_eq!(value("node_bcache_congested"), Some(2.0));
        assert_eq!(value("node_bcache_tree_depth"), Some(0.0));
        assert_eq!(value("node_bcache_dirty_data_bytes"), Some(1024.0));
        assert_eq!(value("node_bcache_writeback_rate"), Some(1024.0));
        assert_eq!(
            value("node_bcache_written_bytes_total"),
            Some(6_861_881_344.0)
        );
        assert_eq!(
            value("node_bcache_priority_stats_unused_percent"),
            Some(99.0)
        );
        std::fs::remove_file(set.join("bdev0/writeback_rate_debug")).unwrap();
        assert!(BcacheCollector::new(&paths, &false).collect().is_err());
    }
}
