//! Per-CPU scheduler statistics from /proc/schedstat (kernels built with CONFIG_SCHEDSTATS):
//! `node_schedstat_{running,waiting}_seconds_total{cpu}` and `node_schedstat_timeslices_total{cpu}`.

use exporter_core::{CollectError, CollectResult, MetricFamily};

use crate::kept::proc_files_collector;
use crate::util::keep_first_of_each;

proc_files_collector!("schedstat", SchedstatCollector { path: "schedstat" });

/// One `cpuN` line of /proc/schedstat.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuSchedstat<'a> {
    /// The CPU number, as in `cpu<N>`.
    pub cpu: &'a str,
    /// Nanoseconds spent running tasks.
    pub running_ns: u64,
    /// Nanoseconds tasks spent waiting to run.
    pub waiting_ns: u64,
    /// Timeslices run.
    pub timeslices: u64,
}

/// Parses the `cpuN` lines of /proc/schedstat. Each has nine counters; the last three are the
/// time spent running, the time spent waiting to run (both ns) and the number of timeslices
/// (see Documentation/scheduler/sched-stats.rst). `version`, `timestamp` and `domainN` lines are
/// skipped, and so is a `cpu` line that does not have nine numbers — upstream's regex does not
/// match those either.
pub fn parse_schedstat(text: &str) -> Result<Vec<CpuSchedstat<'_>>, CollectError> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(cpu) = fields.next().and_then(|f| f.strip_prefix("cpu")) else {
            continue;
        };
        if cpu.is_empty() || !cpu.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let mut nums = [0u64; 9];
        let mut ok = true;
        for slot in nums.iter_mut() {
            match fields.next().map(str::parse) {
                Some(Ok(v)) => *slot = v,
                _ => {
                    ok = false;
                    break;
                }
            }
        }
        if !ok {
            continue;
        }
        let [_, _, _, _, _, _, running_ns, waiting_ns, timeslices] = nums;
        out.push(CpuSchedstat {
            cpu,
            running_ns,
            waiting_ns,
            timeslices,
        });
    }
    keep_first_of_each(&mut out, |c| c.cpu);
    Ok(out)
}

const NS_PER_SEC: f64 = 1e9;

impl SchedstatCollector {
    /// One scrape.
    fn scrape(&self) -> CollectResult {
        let text = self.path.read()?;
        let cpus = parse_schedstat(&text)?;
        let mut running = MetricFamily::counter(
            "node_schedstat_running_seconds_total",
            "Number of seconds CPU spent running a process.",
        );
        let mut waiting = MetricFamily::counter(
            "node_schedstat_waiting_seconds_total",
            "Number of seconds spent by processing waiting for this CPU.",
        );
        let mut timeslices = MetricFamily::counter(
            "node_schedstat_timeslices_total",
            "Number of timeslices executed by CPU.",
        );
        for c in &cpus {
            running.push(&[("cpu", c.cpu)], c.running_ns as f64 / NS_PER_SEC);
            waiting.push(&[("cpu", c.cpu)], c.waiting_ns as f64 / NS_PER_SEC);
            timeslices.push(&[("cpu", c.cpu)], c.timeslices as f64);
        }
        Ok(vec![running, waiting, timeslices])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_not_available, procfs_at, write};
    use exporter_core::BlockingCollector;

    // Version 15 (Linux 4.x-6.5); version 17 keeps the same cpu line.
    const SAMPLE: &str = "version 15
timestamp 15819019232
cpu0 498494191 0 1208434497 295283745 617009469 381236925 2120587286553 370367729946 1003225394
domain0 00000000,00000003 212499247 210112015 1861015 1860405746 533916 1 ...
cpu1 518377256 0 4155211005 2778589869 10466382 8867629 3190593209003 384628637659 1051765546
domain0 00000000,00000003 217653037 215526982 1577949 1580427380 557469 0 ...
";

    #[test]
    fn parses_cpu_lines() {
        let cpus = parse_schedstat(SAMPLE).unwrap();
        assert_eq!(
            cpus,
            vec![
                CpuSchedstat {
                    cpu: "0",
                    running_ns: 2120587286553,
                    waiting_ns: 370367729946,
                    timeslices: 1003225394
                },
                CpuSchedstat {
                    cpu: "1",
                    running_ns: 3190593209003,
                    waiting_ns: 384628637659,
                    timeslices: 1051765546
                },
            ]
        );
    }

    #[test]
    fn a_repeated_cpu_keeps_its_first_line() {
        // Found by tests/fuzz.rs: a repeated line gave two series for cpu="0".
        let cpus = parse_schedstat(
            "cpu0 0 0 0 0 0 0 1 2 3\ncpu1 0 0 0 0 0 0 4 5 6\ncpu0 0 0 0 0 0 0 7 8 9\n",
        )
        .unwrap();
        let got: Vec<_> = cpus.iter().map(|c| (c.cpu, c.running_ns)).collect();
        assert_eq!(got, [("0", 1), ("1", 4)]);
    }

    #[test]
    fn truncated_or_garbage_lines_are_skipped() {
        assert_eq!(parse_schedstat("").unwrap(), vec![]);
        assert_eq!(parse_schedstat("cpu0 1 2 3\n").unwrap(), vec![]);
        assert_eq!(parse_schedstat("cpu0 1 2 3 4 5 6 7 8 x\n").unwrap(), vec![]);
        assert_eq!(parse_schedstat("cpu 1 2 3 4 5 6 7 8 9\n").unwrap(), vec![]);
        assert_eq!(parse_schedstat("cpux 1 2 3 4 5 6 7 8 9\n").unwrap(), vec![]);
    }

    #[test]
    fn collects_from_a_fixture_and_reports_absence() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = procfs_at(dir.path());
        let c = SchedstatCollector::new(&cfg);
        assert_not_available(c.collect());

        write(&dir.path().join("schedstat"), SAMPLE);
        let fams = c.collect().unwrap();
        assert_eq!(fams[0].samples.len(), 2);
        assert_eq!(fams[0].samples[0].value, 2120.587286553);
        assert_eq!(fams[1].samples[1].value, 384.628637659);
        assert_eq!(fams[2].samples[1].value, 1051765546.0);
        assert_eq!(fams[2].samples[1].labels[0].1, "1");
    }
}
