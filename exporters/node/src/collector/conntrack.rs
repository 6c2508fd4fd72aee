//! `node_nf_conntrack_entries`, `node_nf_conntrack_entries_limit` and the
//! `node_nf_conntrack_stat_*` gauges (summed over CPUs) from /proc/sys/net/netfilter and
//! /proc/net/stat/nf_conntrack. Without the nf_conntrack module the files are absent and the
//! collector reports NotAvailable.

use exporter_core::{interned, CollectError, CollectResult, MetricFamily};

use crate::kept::{proc_files_collector, KeptFile};
use crate::util::parse_field;

/// (column in /proc/net/stat/nf_conntrack and metric suffix, help), in upstream's order.
const STATS: [(&str, &str); 8] = [
    ("found", "Number of searched entries which were successful.",
    ),
    ("invalid", "Number of packets seen which can not be tracked.",
    ),
    ("ignore", "Number of packets seen which are already connected to a conntrack entry.",
    ),
    ("insert", "Number of entries inserted into the list."),
    ("insert_failed", "Number of entries for which list insertion was attempted but failed.",
    ),
    ("drop", "Number of packets dropped due to conntrack failure.",
    ),
    ("early_drop", "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.",
    ),
    ("search_restart", "Number of conntrack table lookups which had to be restarted due to hashtable resizes.",
    ),
];

proc_files_collector!(
    "conntrack",
    ConntrackCollector {
        count: "sys/net/netfilter/nf_conntrack_count",
        max: "sys/net/netfilter/nf_conntrack_max",
        stat: "net/stat/nf_conntrack",
    }
);

/// Sums the per-CPU hex rows of /proc/net/stat/nf_conntrack for each of [`STATS`], locating the
/// columns by the header line (their positions differ between kernels). `None` for a statistic
/// this kernel does not have.
pub fn parse_conntrack_stat(text: &str) -> Result<[Option<u64>; 8], CollectError> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .map(|h| h.split_whitespace().collect())
        .unwrap_or_default();
    if header.is_empty() {
        return Err(CollectError::Parse("nf_conntrack: missing header".into()));
    }
    let columns = STATS.map(|(col, _)| header.iter().position(|h| *h == col));
    let mut sums: [Option<u64>; 8] = columns.map(|c| c.map(|_| 0));
    let mut row = Vec::with_capacity(header.len());
    for line in lines {
        row.clear();
        row.extend(line.split_whitespace());
        if row.is_empty() {
            continue;
        }
        if row.len() != header.len() {
            return Err(CollectError::Parse(format!(
                "nf_conntrack: {} columns, {} expected",
                row.len(),
                header.len()
            )));
        }
        for (sum, col) in sums.iter_mut().zip(columns) {
            let (Some(sum), Some(col)) = (sum.as_mut(), col) else {
                continue;
            };
            let raw = row.get(col).copied().unwrap_or_default();
            let v = u64::from_str_radix(raw, 16).map_err(|_| {
                CollectError::Parse(format!("nf_conntrack: invalid hex value {raw:?}"))
            })?;
            *sum = sum.saturating_add(v);
        }
    }
    Ok(sums)
}

fn read_u64(file: &KeptFile) -> Result<u64, CollectError> {
    let text = file.read()?;
    parse_field(
        text.split_whitespace().next(),
        &file.path().display().to_string(),
    )
}

impl ConntrackCollector {
    /// One scrape.
    fn scrape(&self) -> CollectResult {
        let count = read_u64(&self.count)?;
        let max = read_u64(&self.max)?;
        let mut out = vec![
            MetricFamily::gauge(
                "node_nf_conntrack_entries",
                "Number of currently allocated flow entries for connection tracking.",
            )
            .with(&[], count as f64),
            MetricFamily::gauge(
                "node_nf_conntrack_entries_limit",
                "Maximum size of connection tracking table.",
            )
            .with(&[], max as f64),
        ];
        // The per-CPU statistics live in the network namespace's procfs and can be missing
        // where the sysctls are visible; the two table gauges are still worth reporting.
        let text = match self.stat.read() {
            Ok(t) => t,
            Err(CollectError::NotAvailable(what)) => {
                tracing::debug!(%what, "conntrack statistics not available");
                return Ok(out);
            }
            Err(e) => return Err(e),
        };
        let sums = parse_conntrack_stat(&text)?;
        for ((suffix, help), sum) in STATS.iter().zip(sums) {
            if let Some(v) = sum {
                out.push(
                    MetricFamily::gauge(interned!("node_nf_conntrack_stat_{suffix}"), *help)
                        .with(&[], v as f64),
                );
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_not_available, assert_rejects, family_names, procfs_at, write};
    use exporter_core::BlockingCollector;

    // Linux 5.x+ layout.
    const MODERN: &str = "\
entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart
00000021  00000000 00000001 00000000 00000002 00000003 00000000 00000000 00000004 00000005 00000006 00000007 00000000  00000000 00000000 00000000 00000008
00000021  00000000 00000010 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 0000000a
";
    // Linux 4.x layout: `searched` and `delete_list` instead of `clashres` and `chainlength`.
    const OLD: &str = "\
entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart
0000000a  00000000 000000ff 00000000 00000001 00000002 00000000 00000000 00000003 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000
";

    #[test]
    fn sums_columns_over_cpus() {
        assert_eq!(
            parse_conntrack_stat(MODERN).unwrap(),
            [
                Some(0x11),
                Some(2),
                Some(3),
                Some(4),
                Some(5),
                Some(6),
                Some(7),
                Some(0x12)
            ]
        );
        let old = parse_conntrack_stat(OLD).unwrap();
        assert_eq!(old[0], Some(255));
        assert_eq!(old[3], Some(3));
    }

    #[test]
    fn column_missing_from_header_is_none() {
        let sums = parse_conntrack_stat("entries found\n00000001 00000002\n").unwrap();
        assert_eq!(sums[0], Some(2));
        assert_eq!(sums[7], None);
    }

    #[test]
    fn truncated_or_garbage_is_an_error() {
        assert_rejects(
            parse_conntrack_stat,
            &[
                "",
                "entries found\n00000001\n",
                "entries found\n00000001 zz\n",
            ],
        );
    }

    fn proc_tree(stat: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let nf = dir.path().join("sys/net/netfilter");
        write(&nf.join("nf_conntrack_count"), "12\n");
        write(&nf.join("nf_conntrack_max"), "262144\n");
        if let Some(s) = stat {
            write(&dir.path().join("net/stat/nf_conntrack"), s);
        }
        dir
    }

    #[test]
    fn collects_all_families() {
        let dir = proc_tree(Some(MODERN));
        let fams = ConntrackCollector::new(&procfs_at(dir.path()))
            .collect()
            .unwrap();
        let names = family_names(&fams);
        assert_eq!(names.len(), 10);
        assert_eq!(names[0], "node_nf_conntrack_entries");
        assert_eq!(fams[1].samples[0].value, 262144.0);
        assert_eq!(names[9], "node_nf_conntrack_stat_search_restart");
        assert_eq!(fams[9].samples[0].value, 18.0);
    }

    #[test]
    fn missing_stat_file_keeps_table_gauges() {
        let dir = proc_tree(None);
        let fams = ConntrackCollector::new(&procfs_at(dir.path()))
            .collect()
            .unwrap();
        assert_eq!(fams.len(), 2);
    }

    #[test]
    fn missing_module_is_not_available() {
        let dir = tempfile::tempdir().unwrap();
        assert_not_available(ConntrackCollector::new(&procfs_at(dir.path())).collect());
    }
}
