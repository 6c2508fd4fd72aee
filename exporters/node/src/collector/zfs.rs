//! `node_zfs_*` from OpenZFS's kstats under /proc/spl/kstat/zfs: the module-wide files
//! (arcstats, dmu_tx, zil, fm, ...), each a `name type data` table whose `uint64` rows become
//! untyped `node_zfs_<subsystem>_<name>` series, and per pool its `io` (ZFS before 0.8),
//! `objset-*` (one per dataset) and `state`.
//!
//! ```text
//! 13 1 0x01 96 2160 5214515193 80563931466
//! name                            type data
//! hits                            4    8772612
//! ```
//!
//! Read as node_exporter 1.5 reads them: only type 4 (`uint64`) rows count (so
//! `memory_available_bytes`, an `int64`, is not exported), a module-wide file without its header
//! or with a row that does not parse fails the collector, a missing one is skipped, and a pool's
//! state is one of `online`, `degraded`, `faulted`, `offline`, `removed`, `unavail`. Without the
//! ZFS module there is no /proc/spl/kstat/zfs: `node_scrape_collector_success 0`, as upstream.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use exporter_core::encode::is_valid_metric_name;
use exporter_core::{CollectError, CollectResult, MetricFamily, MetricType};

use crate::absent::{gated_collector, GatedDir};
use crate::paths::HostPaths;
use crate::util::{read_file, sorted_dir_names};

/// The `zfs` collector: what it reads and emits is in the module documentation.
pub struct ZfsCollector {
    dir: GatedDir,
}

impl ZfsCollector {
    /// The collector reading under `paths`.
    pub fn new(paths: &HostPaths) -> Self {
        ZfsCollector {
            dir: GatedDir::new(paths.proc_path("spl/kstat/zfs")),
        }
    }
}

/// The module-wide kstat files and the subsystem each is exported under.
const FILES: [(&str, &str); 11] = [
    ("abdstats", "zfs_abd"),
    ("arcstats", "zfs_arc"),
    ("dbufstats", "zfs_dbuf"),
    ("dmu_tx", "zfs_dmu_tx"),
    ("dnodestats", "zfs_dnode"),
    ("fm", "zfs_fm"),
    ("vdev_cache_stats", "zfs_vdev_cache"),
    ("vdev_mirror_stats", "zfs_vdev_mirror"),
    ("xuio_stats", "zfs_xuio"),
    ("zfetchstats", "zfs_zfetch"),
    ("zil", "zfs_zil"),
];

/// The pool states upstream 1.5 exports, lowercase.
const POOL_STATES: [&str; 6] = [
    "online", "degraded", "faulted", "offline", "removed", "unavail",
];

/// The kstat type of a `uint64` row.
const KSTAT_DATA_UINT64: &str = "4";

/// A decimal `u64` as Go's `strconv.ParseUint(s, 10, 64)` reads one (no sign).
fn parse_go_uint(s: &str) -> Option<u64> {
    if s.starts_with('+') {
        return None;
    }
    s.parse().ok()
}

/// A metric name part from a kstat name (`erpt-dropped` -> `erpt_dropped`).
fn metric_part(name: &str) -> String {
    name.replace('-', "_")
}

/// The `name type data` rows of a kstat table (the lines after that header with three fields
/// or more), in file order.
fn kstat_table(text: &str) -> Result<Vec<[&str; 3]>, String> {
    let mut lines = text.lines();
    if !lines
        .by_ref()
        .any(|l| l.split_whitespace().eq(["name", "type", "data"]))
    {
        return Err("no name/type/data header".into());
    }
    Ok(lines
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [name, kind, data, ..] => Some([name, kind, data]),
            _ => None,
        })
        .collect())
}

/// A row's value when its type is `uint64` (other types are not exported).
fn uint64_value([name, kind, data]: [&str; 3]) -> Result<Option<u64>, String> {
    if kind != KSTAT_DATA_UINT64 {
        return Ok(None);
    }
    parse_go_uint(data)
        .map(Some)
        .ok_or_else(|| format!("invalid value for {name}: {data:?}"))
}

/// The `uint64` rows of a `name type data` kstat table, in file order.
pub fn parse_kstat(text: &str) -> Result<Vec<(String, u64)>, String> {
    let mut rows = Vec::new();
    for row in kstat_table(text)? {
        if let Some(value) = uint64_value(row)? {
            rows.push((row[0].to_string(), value));
        }
    }
    Ok(rows)
}

/// A dataset's `objset-*` table: its `dataset_name` and `uint64` rows. Rows before the name
/// (which the kernel writes first) belong to an unnamed dataset, as upstream has it.
pub fn parse_objset(text: &str) -> Result<Vec<(String, String, u64)>, String> {
    let mut rows = Vec::new();
    let mut dataset = String::new();
    for row in kstat_table(text)? {
        if row[0] == "dataset_name" {
            dataset = row[2].to_string();
        } else if let Some(value) = uint64_value(row)? {
            rows.push((dataset.clone(), row[0].to_string(), value));
        }
    }
    Ok(rows)
}

/// A pool's `io` file (ZFS before 0.8): a header row starting with `nread`, then value rows.
pub fn parse_pool_io(text: &str) -> Result<Vec<(String, u64)>, String> {
    let mut header: Option<Vec<&str>> = None;
    let mut out = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(names) = &header else {
            if fields.len() >= 12 && fields[0] == "nread" {
                header = Some(fields);
            }
            continue;
        };
        if fields.is_empty() {
            continue;
        }
        for (i, name) in names.iter().enumerate() {
            let raw = fields
                .get(i)
                .ok_or_else(|| format!("no value for {name} in {line:?}"))?;
            let value = parse_go_uint(raw).ok_or_else(|| format!("invalid {name}: {raw:?}"))?;
            out.push((name.to_string(), value));
        }
    }
    Ok(out)
}

/// Families by name, in the order they first appear.
#[derive(Default)]
struct Families {
    list: Vec<MetricFamily>,
    at: HashMap<String, usize>,
    /// Every series pushed: family index and label values.
    seen: HashSet<(usize, Vec<String>)>,
}

impl Families {
    /// Adds a sample, unless its family name is not a valid metric name or the family already
    /// has a series with these labels (a row the kernel never repeats, but a corrupt read could;
    /// the first one is kept).
    fn push(
        &mut self,
        name: String,
        help: String,
        kind: MetricType,
        labels: &[(&'static str, &str)],
        value: f64,
    ) {
        if !is_valid_metric_name(&name) {
            return;
        }
        let at = self.index(name, help, kind);
        let series = (at, labels.iter().map(|(_, v)| v.to_string()).collect());
        if self.seen.insert(series) {
            self.list[at].push(labels, value);
        }
    }

    fn index(&mut self, name: String, help: String, kind: MetricType) -> usize {
        let next = self.list.len();
        let at = *self.at.entry(name.clone()).or_insert(next);
        if at == next {
            self.list.push(MetricFamily::new(name, help, kind));
        }
        at
    }
}

fn parse_error(path: &Path, e: String) -> CollectError {
    CollectError::Parse(format!("{}: {e}", path.display()))
}

/// The entries `<pool>/<file>` of the kstat directory whose file name `matches`, sorted by path.
fn pool_files(
    dir: &Path,
    matches: impl Fn(&str) -> bool,
) -> Result<Vec<(String, PathBuf)>, CollectError> {
    let mut out = Vec::new();
    for pool in sorted_dir_names(dir)? {
        let pool_dir = dir.join(&pool);
        if !pool_dir.is_dir() {
            continue;
        }
        for file in sorted_dir_names(&pool_dir)? {
            if matches(&file) {
                out.push((pool.clone(), pool_dir.join(file)));
            }
        }
    }
    Ok(out)
}

impl ZfsCollector {
    fn collect_present(&self) -> CollectResult {
        // The directory itself says whether the module is loaded.
        std::fs::read_dir(&self.dir)
            .map_err(|e| CollectError::io(self.dir.display().to_string(), e))?;
        let mut families = Families::default();
        for (file, subsystem) in FILES {
            let path = self.dir.join(file);
            // A file this ZFS version does not have (or cannot be read) is skipped.
            let Ok(text) = read_file(&path) else {
                continue;
            };
            for (name, value) in parse_kstat(&text).map_err(|e| parse_error(&path, e))? {
                families.push(
                    format!("node_{subsystem}_{}", metric_part(&name)),
                    format!("kstat.zfs.misc.{file}.{name}"),
                    MetricType::Untyped,
                    &[],
                    value as f64,
                );
            }
        }
        for (pool, path) in pool_files(&self.dir, |f| f == "io")? {
            let text = read_file(&path)?;
            for (name, value) in parse_pool_io(&text).map_err(|e| parse_error(&path, e))? {
                families.push(
                    format!("node_zfs_zpool_{}", metric_part(&name)),
                    format!("kstat.zfs.misc.io.{name}"),
                    MetricType::Untyped,
                    &[("zpool", &pool)],
                    value as f64,
                );
            }
        }
        for (pool, path) in pool_files(&self.dir, |f| f.starts_with("objset-"))? {
            let text = read_file(&path)?;
            for (dataset, name, value) in parse_objset(&text).map_err(|e| parse_error(&path, e))? {
                // Upstream names the pool only once it has seen the dataset's name.
                let zpool = if dataset.is_empty() {
                    ""
                } else {
                    pool.as_str()
                };
                families.push(
                    format!("node_zfs_zpool_dataset_{}", metric_part(&name)),
                    format!("kstat.zfs.misc.objset.{name}"),
                    MetricType::Untyped,
                    &[("zpool", zpool), ("dataset", &dataset)],
                    value as f64,
                );
            }
        }
        for (pool, path) in pool_files(&self.dir, |f| f == "state")? {
            let text = read_file(&path)?;
            let actual = text.split('\n').next().unwrap_or("").to_lowercase();
            for state in POOL_STATES {
                let value = if actual == state { 1.0 } else { 0.0 };
                families.push(
                    "node_zfs_zpool_state".to_string(),
                    "kstat.zfs.misc.state".to_string(),
                    MetricType::Gauge,
                    &[("zpool", &pool), ("state", state)],
                    value,
                );
            }
        }
        Ok(families.list)
    }
}

gated_collector!(ZfsCollector, "zfs", dir);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_not_available, assert_rejects, family, procfs_at, write};
    use exporter_core::BlockingCollector;

    const ARCSTATS: &str = "13 1 0x01 96 2160 5214515193 80563931466
name                            type data
hits                            4    8772612
memory_available_bytes          3    184209408
erpt-dropped                    4    18
";

    #[test]
    fn kstat_tables_keep_uint64_rows() {
        assert_eq!(
            parse_kstat(ARCSTATS).unwrap(),
            [
                ("hits".to_string(), 8772612),
                ("erpt-dropped".to_string(), 18)
            ]
        );
        assert_rejects(
            parse_kstat,
            &[
                "no header\n",
                "name type data\nhits 4 x\n",
                "name type data\nhits 4 -1\n",
            ],
        );
        // int64 rows are not parsed at all.
        assert!(parse_kstat("name type data\nfree 3 -5\n")
            .unwrap()
            .is_empty());
        assert_eq!(metric_part("erpt-dropped"), "erpt_dropped");
    }

    #[test]
    fn objsets_and_pool_io() {
        let objset = "31 1 0x01 7 2160 5214515193 80563931466\nname type data\n\
                      dataset_name 7 pool1/home\nwrites 4 10\nnread 4 2048\n";
        assert_eq!(
            parse_objset(objset).unwrap(),
            [
                ("pool1/home".to_string(), "writes".to_string(), 10),
                ("pool1/home".to_string(), "nread".to_string(), 2048)
            ]
        );
        let io = "12 3 0x00 1 80 2225326830828 32953476980628
nread    nwritten   reads    writes   wtime    wlentime   wupdate    rtime    rlentime   rupdate    wcnt     rcnt
1884160  3206144    22       132      7155162  104112268  25347054007 8234584  149213364  25347054007 0        0
";
        let rows = parse_pool_io(io).unwrap();
        assert_eq!(rows.len(), 12);
        assert_eq!(rows[0], ("nread".to_string(), 1884160));
        assert!(parse_pool_io("nread a b c d e f g h i j k\n1 2\n").is_err());
    }

    #[test]
    fn reads_module_and_pools() {
        let dir = tempfile::tempdir().unwrap();
        let paths = procfs_at(dir.path());
        assert_not_available(ZfsCollector::new(&paths).collect());
        let zfs = dir.path().join("spl/kstat/zfs");
        write(&zfs.join("arcstats"), ARCSTATS);
        write(&zfs.join("tank/state"), "DEGRADED\n");
        let fams = ZfsCollector::new(&paths).collect().unwrap();
        assert_eq!(fams[0].name, "node_zfs_arc_hits");
        assert_eq!(fams[0].help, "kstat.zfs.misc.arcstats.hits");
        assert_eq!(fams[1].name, "node_zfs_arc_erpt_dropped");
        let state = family(&fams, "node_zfs_zpool_state");
        let on: Vec<&str> = state
            .samples
            .iter()
            .filter(|s| s.value == 1.0)
            .map(|s| s.labels[1].1.as_str())
            .collect();
        assert_eq!(on, ["degraded"]);
        // A repeated row and a name no metric can have: the first kept, the other skipped.
        write(
            &zfs.join("dmu_tx"),
            "name type data\ndmu_tx_assigned 4 1\ndmu_tx_assigned 4 2\nbad.name 4 3\n",
        );
        let fams = ZfsCollector::new(&paths).collect().unwrap();
        let tx: Vec<_> = fams
            .iter()
            .filter(|f| f.name.starts_with("node_zfs_dmu_tx"))
            .collect();
        assert_eq!(tx.len(), 1);
        assert_eq!(tx[0].samples.len(), 1);
        assert_eq!(tx[0].samples[0].value, 1.0);
        write(&zfs.join("zil"), "no table\n");
        assert!(matches!(
            ZfsCollector::new(&paths).collect(),
            Err(CollectError::Parse(_))
        ));
    }
}
