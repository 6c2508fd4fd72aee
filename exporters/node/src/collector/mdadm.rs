//! `node_md_*` per software RAID array from /proc/mdstat (drivers/md/md.c, `md_seq_show`), read
//! the way node_exporter 1.5 (procfs 0.8) reads it:
//!
//! ```text
//! md1 : active raid5 sdf1[4] sde1[3](S) sdd1[2](F) sdc1[1] sdb2[0]
//!       2093056 blocks super 1.2 level 5, 512k chunk, algorithm 2 [3/2] [UU_]
//!       [==>..................]  recovery = 12.6% (131072/1046528) finish=1.2min speed=11500K/sec
//! ```
//!
//! The device line gives the name, the state (its third word: `active`, `inactive`, or a word
//! no state series matches, such as `clear`) and the failed `(F)` and spare `(S)` members;
//! the status line the size in 1 KiB blocks and `[required/active]` (raid0 and linear arrays
//! count their members, inactive ones report 0); a recovery, resync or check line on the next
//! line (or the one after a bitmap line) replaces the state and gives the blocks synced so far
//! (0 while `resync=PENDING` or `DELAYED`).
//!
//! A host without md has no /proc/mdstat: `node_scrape_collector_success 0`, as upstream. An
//! array whose lines do not parse fails the collector, as upstream.

use std::sync::LazyLock;

use exporter_core::MetricFamily;
use regex::Regex;

use crate::absent::gated_proc_file_collector;
use crate::util::keep_first_of_each;

/// One array as /proc/mdstat describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct MdStat {
    /// The array, `md<N>`.
    pub name: String,
    /// `active`, `inactive`, `recovering`, `resyncing`, `checking`, or the device line's third
    /// word when it is none of these.
    pub state: String,
    /// Disks in use (`[n/m]`'s m; every member of a raid0 or linear array).
    pub disks_active: i64,
    /// The disks the array needs (`[n/m]`'s n).
    pub disks_total: i64,
    /// Members marked `(F)`.
    pub disks_failed: i64,
    /// Members marked `(S)`.
    pub disks_spare: i64,
    /// Size in 1 KiB blocks.
    pub blocks_total: i64,
    /// Blocks in sync: the size, or the progress of a recovery, resync or check.
    pub blocks_synced: i64,
}

static STATUS_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"([0-9]+) blocks .*\[([0-9]+)/([0-9]+)\] \[([U_]+)\]").expect("static regex")
});
static RECOVERY_BLOCKS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\(([0-9]+)/[0-9]+\)").expect("static regex"));
static RECOVERY_PERCENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"= (.+)%").expect("static regex"));
static RECOVERY_FINISH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"finish=(.+)min").expect("static regex"));
static RECOVERY_SPEED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"speed=(.+)[A-Z]").expect("static regex"));

fn parse_int(raw: &str, line: &str) -> Result<i64, String> {
    raw.parse()
        .map_err(|_| format!("invalid number {raw:?} in {line:?}"))
}

/// `(active, total, size)` from an array's device and status lines.
fn parse_status_line(device_line: &str, status_line: &str) -> Result<(i64, i64, i64), String> {
    let size = status_line
        .split_whitespace()
        .next()
        .ok_or_else(|| format!("unexpected status line {status_line:?}"))?;
    let size = parse_int(size, status_line)?;
    if device_line.contains("raid0") || device_line.contains("linear") {
        // Only members carry a `[n]` on the device line.
        let members = device_line.matches('[').count() as i64;
        return Ok((members, members, size));
    }
    if device_line.contains("inactive") {
        return Ok((0, 0, size));
    }
    let m = STATUS_LINE
        .captures(status_line)
        .ok_or_else(|| format!("no [required/active] in status line {status_line:?}"))?;
    let total = parse_int(&m[2], status_line)?;
    let active = parse_int(&m[3], status_line)?;
    Ok((active, total, size))
}

/// The blocks synced from a recovery/resync/check line. Upstream also parses the percentage,
/// the finish time and the speed (and fails on a line without them) without exporting them, so
/// they are checked here too.
fn parse_recovery_line(line: &str) -> Result<i64, String> {
    let bad = || format!("unexpected recovery line {line:?}");
    let blocks = RECOVERY_BLOCKS.captures(line).ok_or_else(bad)?;
    let blocks = parse_int(&blocks[1], line)?;
    for (re, trim) in [
        (&*RECOVERY_PERCENT, true),
        (&*RECOVERY_FINISH, false),
        (&*RECOVERY_SPEED, false),
    ] {
        let m = re.captures(line).ok_or_else(bad)?;
        let raw = if trim { m[1].trim() } else { &m[1] };
        raw.parse::<f64>()
            .map_err(|_| format!("invalid number {raw:?} in {line:?}"))?;
    }
    Ok(blocks)
}

/// Parses /proc/mdstat.
pub fn parse_mdstat(text: &str) -> Result<Vec<MdStat>, String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut arrays = Vec::new();
    for (i, &line) in lines.iter().enumerate() {
        if line.trim().is_empty()
            || line.starts_with(' ')
            || line.starts_with("Personalities")
            || line.starts_with("unused")
        {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, _, state, ..] = fields[..] else {
            return Err(format!("too few fields in device line {line:?}"));
        };
        if lines.len() <= i + 3 {
            return Err(format!("too few lines for md device {name}"));
        }
        let (disks_active, disks_total, blocks_total) = parse_status_line(line, lines[i + 1])?;
        let sync_line = if lines[i + 2].contains("bitmap") {
            lines[i + 3]
        } else {
            lines[i + 2]
        };
        let mut state = state.to_string();
        let mut blocks_synced = blocks_total;
        let recovering = sync_line.contains("recovery");
        let resyncing = sync_line.contains("resync");
        let checking = sync_line.contains("check");
        if recovering || resyncing || checking {
            state = if recovering {
                "recovering"
            } else if checking {
                "checking"
            } else {
                "resyncing"
            }
            .to_string();
            blocks_synced = if sync_line.contains("PENDING") || sync_line.contains("DELAYED") {
                0
            } else {
                parse_recovery_line(sync_line).map_err(|e| format!("md device {name}: {e}"))?
            };
        }
        arrays.push(MdStat {
            name: name.to_string(),
            state,
            disks_active,
            disks_total,
            disks_failed: line.matches("(F)").count() as i64,
            disks_spare: line.matches("(S)").count() as i64,
            blocks_total,
            blocks_synced,
        });
    }
    Ok(arrays)
}

/// `node_md_state`'s `state` label values and the parsed state each stands for.
const STATES: [(&str, &str); 5] = [
    ("active", "active"),
    ("inactive", "inactive"),
    ("recovering", "recovering"),
    ("resync", "resyncing"),
    ("check", "checking"),
];

/// The families for every array.
pub fn md_families(arrays: &[MdStat]) -> Vec<MetricFamily> {
    let mut required =
        MetricFamily::gauge("node_md_disks_required", "Total number of disks of device.");
    let mut disks = MetricFamily::gauge(
        "node_md_disks",
        "Number of active/failed/spare disks of device.",
    );
    let mut state = MetricFamily::gauge("node_md_state", "Indicates the state of md-device.");
    let mut blocks = MetricFamily::gauge("node_md_blocks", "Total number of blocks on device.");
    let mut synced = MetricFamily::gauge(
        "node_md_blocks_synced",
        "Number of blocks synced on device.",
    );
    for md in arrays {
        let device = md.name.as_str();
        required.push(&[("device", device)], md.disks_total as f64);
        for (label, value) in [
            ("active", md.disks_active),
            ("failed", md.disks_failed),
            ("spare", md.disks_spare),
        ] {
            disks.push(&[("device", device), ("state", label)], value as f64);
        }
        for (label, parsed) in STATES {
            let value = if md.state == parsed { 1.0 } else { 0.0 };
            state.push(&[("device", device), ("state", label)], value);
        }
        blocks.push(&[("device", device)], md.blocks_total as f64);
        synced.push(&[("device", device)], md.blocks_synced as f64);
    }
    vec![required, disks, state, blocks, synced]
}

/// The families of the text of /proc/mdstat; a repeated array keeps its first entry.
pub fn mdstat_families(text: &str) -> Result<Vec<MetricFamily>, String> {
    let mut arrays = parse_mdstat(text)?;
    keep_first_of_each(&mut arrays, |md| md.name.as_str());
    Ok(md_families(&arrays))
}

gated_proc_file_collector!("mdadm", MdadmCollector, "mdstat", mdstat_families);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        assert_rejects, family_names, not_available_then_fresh, procfs_at, write,
    };
    use exporter_core::BlockingCollector;

    const MDSTAT: &str = "Personalities : [raid1] [raid6] [raid5] [raid4] [raid0] [linear]
md127 : active raid1 sdb1[1] sda1[0]
      1046528 blocks super 1.2 [2/2] [UU]
      bitmap: 0/1 pages [0KB], 65536KB chunk

md1 : active raid5 sdf1[4] sde1[3](S) sdd1[2](F) sdc1[1] sdb2[0]
      2093056 blocks super 1.2 level 5, 512k chunk, algorithm 2 [3/2] [UU_]
      [==>..................]  recovery = 12.6% (131072/1046528) finish=1.2min speed=11500K/sec
      
md2 : active raid0 sdh1[1] sdg1[0]
      2093056 blocks super 1.2 512k chunks
      
md3 : inactive sdi1[0](S)
      1046528 blocks super 1.2
       
md4 : active (auto-read-only) raid1 sdk1[1] sdj1[0]
      1046528 blocks super 1.2 [2/2] [UU]
      \tresync=PENDING
      
md5 : active raid6 sdp1[3] sdo1[2] sdn1[1] sdm1[0]
      2093056 blocks super 1.2 level 6, 512k chunk, algorithm 2 [4/4] [UUUU]
      [=>...................]  check =  5.0% (52326/1046528) finish=2.0min speed=8720K/sec
      
md6 : active (read-only) raid1 sdx1[1] sdw1[0]
      1046528 blocks super 1.2 [2/2] [UU]
      
unused devices: <none>
";

    fn md(name: &str, state: &str, disks: [i64; 4], blocks: [i64; 2]) -> MdStat {
        MdStat {
            name: name.into(),
            state: state.into(),
            disks_active: disks[0],
            disks_total: disks[1],
            disks_failed: disks[2],
            disks_spare: disks[3],
            blocks_total: blocks[0],
            blocks_synced: blocks[1],
        }
    }

    #[test]
    fn parses_every_kind_of_array() {
        assert_eq!(
            parse_mdstat(MDSTAT).unwrap(),
            [
                md("md127", "active", [2, 2, 0, 0], [1046528, 1046528]),
                md("md1", "recovering", [2, 3, 1, 1], [2093056, 131072]),
                md("md2", "active", [2, 2, 0, 0], [2093056, 2093056]),
                md("md3", "inactive", [0, 0, 0, 1], [1046528, 1046528]),
                md("md4", "resyncing", [2, 2, 0, 0], [1046528, 0]),
                md("md5", "checking", [4, 4, 0, 0], [2093056, 52326]),
                md("md6", "active", [2, 2, 0, 0], [1046528, 1046528]),
            ]
        );
    }

    #[test]
    fn a_state_no_series_names_sets_none() {
        let text = "md9 : clear raid1 sda1[0]\n      10 blocks super 1.2 [2/1] [U_]\n      \n\n";
        let arrays = parse_mdstat(text).unwrap();
        assert_eq!(arrays[0].state, "clear");
        let fams = md_families(&arrays);
        assert!(fams[2].samples.iter().all(|s| s.value == 0.0));
    }

    #[test]
    fn no_arrays_is_no_series() {
        let text = "Personalities : \nunused devices: <none>\n";
        assert!(parse_mdstat(text).unwrap().is_empty());
        assert!(parse_mdstat("").unwrap().is_empty());
    }

    #[test]
    fn truncated_or_garbage_is_an_error() {
        // Cut after the device line: too few lines.
        assert_rejects(
            parse_mdstat,
            &["md0 : active raid1 sda1[0]\n", "md0 :\n\n\n\n"],
        );
        // A status line without its size or [n/m].
        assert_rejects(
            parse_mdstat,
            &[
                "md0 : active raid1 sda1[0]\n      blocks\n\n\n",
                "md0 : active raid1 sda1[0]\n      10 blocks [2/\n\n\n",
            ],
        );
        // A recovery line cut before its speed.
        let cut = "md0 : active raid1 sdb1[1] sda1[0]
      10 blocks super 1.2 [2/1] [U_]
      [>....]  recovery =  1.0% (1/10) finish=1.0min
\n";
        assert!(parse_mdstat(cut).is_err());
    }

    #[test]
    fn families_have_upstreams_series() {
        let arrays = parse_mdstat(MDSTAT).unwrap();
        let fams = md_families(&arrays);
        let names = family_names(&fams);
        assert_eq!(
            names,
            [
                "node_md_disks_required",
                "node_md_disks",
                "node_md_state",
                "node_md_blocks",
                "node_md_blocks_synced"
            ]
        );
        assert_eq!(fams[1].samples.len(), 3 * arrays.len());
        assert_eq!(fams[2].samples.len(), 5 * arrays.len());
        let on: Vec<(&str, &str)> = fams[2]
            .samples
            .iter()
            .filter(|s| s.value == 1.0)
            .map(|s| (s.labels[0].1.as_str(), s.labels[1].1.as_str()))
            .collect();
        assert_eq!(
            on,
            [
                ("md127", "active"),
                ("md1", "recovering"),
                ("md2", "active"),
                ("md3", "inactive"),
                ("md4", "resync"),
                ("md5", "check"),
                ("md6", "active"),
            ]
        );
    }

    #[test]
    fn missing_mdstat_is_not_available_and_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let c = not_available_then_fresh(|| MdadmCollector::new(&procfs_at(dir.path())));
        write(&dir.path().join("mdstat"), MDSTAT);
        assert_eq!(c.collect().unwrap()[0].samples.len(), 7);
    }
}
