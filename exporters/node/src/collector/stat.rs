//! Kernel activity counters from /proc/stat: boot time, context switches, forks, interrupts and
//! the number of running/blocked processes. Per-CPU times belong to the `cpu` collector.

use exporter_core::{CollectError, CollectResult, MetricFamily};

use crate::kept::proc_files_collector;
use crate::util::parse_field;

proc_files_collector!("stat", StatCollector { path: "stat" });

/// The non-CPU lines of /proc/stat. Lines missing from the file stay 0, as upstream reports them.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct KernelStat {
    /// `btime`: boot time, seconds since the epoch.
    pub boot_time: f64,
    /// `ctxt`: context switches.
    pub context_switches: f64,
    /// `processes`: forks since boot.
    pub forks: f64,
    /// `intr`: interrupts serviced (the total).
    pub interrupts: f64,
    /// `procs_running`.
    pub procs_running: f64,
    /// `procs_blocked`.
    pub procs_blocked: f64,
}

/// Parses /proc/stat, reading only the lines this collector exports (`intr` is its total, the
/// first number; the per-IRQ counts that follow are skipped).
pub fn parse_stat(text: &str) -> Result<KernelStat, CollectError> {
    let mut st = KernelStat::default();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(key) = fields.next() else { continue };
        let slot = match key {
            "btime" => &mut st.boot_time,
            "ctxt" => &mut st.context_switches,
            "processes" => &mut st.forks,
            "intr" => &mut st.interrupts,
            "procs_running" => &mut st.procs_running,
            "procs_blocked" => &mut st.procs_blocked,
            _ => continue,
        };
        *slot = parse_field(fields.next(), key)?;
    }
    Ok(st)
}

impl StatCollector {
    /// One scrape.
    fn scrape(&self) -> CollectResult {
        let st = parse_stat(&self.path.read()?)?;
        Ok(vec![
            MetricFamily::counter("node_intr_total", "Total number of interrupts serviced.")
                .with(&[], st.interrupts),
            MetricFamily::counter(
                "node_context_switches_total",
                "Total number of context switches.",
            )
            .with(&[], st.context_switches),
            MetricFamily::counter("node_forks_total", "Total number of forks.").with(&[], st.forks),
            MetricFamily::gauge("node_boot_time_seconds", "Node boot time, in unixtime.")
                .with(&[], st.boot_time),
            MetricFamily::gauge(
                "node_procs_running",
                "Number of processes in runnable state.",
            )
            .with(&[], st.procs_running),
            MetricFamily::gauge(
                "node_procs_blocked",
                "Number of processes blocked waiting for I/O to complete.",
            )
            .with(&[], st.procs_blocked),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        assert_not_available, assert_rejects, family_names, procfs_at, scrape_procfs,
    };
    use exporter_core::BlockingCollector;

    const SAMPLE: &str = "cpu  13978 0 4663 78732 1015 0 146 135 0 0
cpu0 6227 0 1827 41123 76 0 30 59 0 0
cpu1 7751 0 2836 37609 939 0 115 76 0 0
intr 246228 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 9 0 0 0 0 98 64 0 20 1 70318
ctxt 402506
btime 1795613456
processes 7417
procs_running 2
procs_blocked 0
softirq 156621 0 14746 4 4689 70318 0 116 36297 0 30451
";

    #[test]
    fn parses_this_machines_stat() {
        let st = parse_stat(SAMPLE).unwrap();
        assert_eq!(
            st,
            KernelStat {
                boot_time: 1795613456.0,
                context_switches: 402506.0,
                forks: 7417.0,
                interrupts: 246228.0,
                procs_running: 2.0,
                procs_blocked: 0.0,
            }
        );
    }

    #[test]
    fn missing_lines_stay_zero() {
        // Old kernels (< 2.6.23) had no procs_running/procs_blocked lines.
        let st = parse_stat("cpu  1 2 3 4\nintr 5\nctxt 6\nbtime 7\nprocesses 8\n").unwrap();
        assert_eq!(st.interrupts, 5.0);
        assert_eq!(st.procs_running, 0.0);
        assert_eq!(parse_stat("").unwrap(), KernelStat::default());
    }

    #[test]
    fn truncated_or_garbage_is_an_error() {
        assert_rejects(parse_stat, &["ctxt\n", "btime abc\n", "intr -\n"]);
    }

    #[test]
    fn collects_from_a_fixture() {
        let fams = scrape_procfs(&[("stat", SAMPLE)], StatCollector::new);
        let names = family_names(&fams);
        assert_eq!(
            names,
            [
                "node_intr_total",
                "node_context_switches_total",
                "node_forks_total",
                "node_boot_time_seconds",
                "node_procs_running",
                "node_procs_blocked"
            ]
        );

        let dir = tempfile::tempdir().unwrap();
        let missing = procfs_at(&dir.path().join("nope"));
        assert_not_available(StatCollector::new(&missing).collect());
    }
}
