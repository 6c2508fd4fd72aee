//! CPU frequencies from /sys/devices/system/cpu/cpu*/cpufreq: `node_cpu_frequency_{,min_,max_}hertz`,
//! `node_cpu_scaling_frequency_{,min_,max_}hertz` and `node_cpu_scaling_governor{cpu,governor}`.
//!
//! Attributes a driver does not provide (or that are root-only, like `cpuinfo_cur_freq`) are
//! skipped. A host without cpufreq (most VMs) succeeds with no metrics, as upstream 1.5 does.

use std::path::{Path, PathBuf};

use exporter_core::{CollectResult, MetricFamily};

use crate::absent::{gated_collector, GatedDir};
use crate::paths::HostPaths;
use crate::util::{cpu_number, read_attr, sorted_dir_names};

/// The `cpufreq` collector: what it reads and emits is in the module documentation.
pub struct CpufreqCollector {
    /// /sys/devices/system/cpu, gated on "no CPU has cpufreq" (most VMs).
    cpu_dir: GatedDir,
}

impl CpufreqCollector {
    /// The collector reading under `cfg`.
    pub fn new(cfg: &HostPaths) -> Self {
        CpufreqCollector {
            cpu_dir: GatedDir::new(cfg.sys_path("devices/system/cpu")),
        }
    }
}

/// The frequency attributes (kHz) of a CPU's cpufreq directory, with the family (in Hz) and
/// help each becomes, in upstream's order.
const FREQUENCIES: [(&str, &str, &str); 6] = [
    (
        "cpuinfo_cur_freq",
        "node_cpu_frequency_hertz",
        "Current cpu thread frequency in hertz.",
    ),
    (
        "cpuinfo_min_freq",
        "node_cpu_frequency_min_hertz",
        "Minimum cpu thread frequency in hertz.",
    ),
    (
        "cpuinfo_max_freq",
        "node_cpu_frequency_max_hertz",
        "Maximum cpu thread frequency in hertz.",
    ),
    (
        "scaling_cur_freq",
        "node_cpu_scaling_frequency_hertz",
        "Current scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_min_freq",
        "node_cpu_scaling_frequency_min_hertz",
        "Minimum scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_max_freq",
        "node_cpu_scaling_frequency_max_hertz",
        "Maximum scaled CPU thread frequency in hertz.",
    ),
];

/// The cpufreq attributes of one CPU.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CpuFreq {
    /// The CPU number, as in `cpu<N>`.
    pub cpu: String,
    /// The [`FREQUENCIES`] attributes in their order, in hertz.
    pub frequencies: [Option<f64>; FREQUENCIES.len()],
    /// `scaling_governor`: the governor in use.
    pub governor: Option<String>,
    /// `scaling_available_governors`, space-separated.
    pub available_governors: Option<String>,
}

/// Parses a cpufreq frequency attribute (kHz) into Hz. `<unknown>` (intel_pstate's
/// `scaling_cur_freq` on some kernels) and garbage are None: the attribute is skipped.
pub fn parse_khz(text: &str) -> Option<f64> {
    text.trim()
        .parse::<u64>()
        .ok()
        .map(|khz| khz as f64 * 1000.0)
}

fn read_cpu(cpu: &str, dir: &Path) -> CpuFreq {
    CpuFreq {
        cpu: cpu.to_string(),
        frequencies: FREQUENCIES
            .map(|(attr, ..)| read_attr(&dir.join(attr)).as_deref().and_then(parse_khz)),
        governor: read_attr(&dir.join("scaling_governor")).filter(|g| !g.is_empty()),
        available_governors: read_attr(&dir.join("scaling_available_governors")),
    }
}

/// Most drivers answer frequency reads from a cached value, but some (x86 APERF/MPERF sampling
/// on older kernels, firmware-backed drivers) sleep per read; reading CPUs on a few threads
/// bounds the scrape time on large hosts, as upstream's parallel reads do.
const MAX_READERS: usize = 8;

fn read_all(cpus: &[(String, PathBuf)]) -> Vec<CpuFreq> {
    if cpus.len() <= 1 {
        return cpus.iter().map(|(c, d)| read_cpu(c, d)).collect();
    }
    let chunk = cpus.len().div_ceil(MAX_READERS);
    std::thread::scope(|s| {
        let handles: Vec<_> = cpus
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || part.iter().map(|(c, d)| read_cpu(c, d)).collect::<Vec<_>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|_| Vec::new()))
            .collect()
    })
}

/// Builds the families from per-CPU readings; families with no samples are dropped later.
pub fn families(cpus: &[CpuFreq]) -> Vec<MetricFamily> {
    let mut frequencies = FREQUENCIES.map(|(_, name, help)| MetricFamily::gauge(name, help));
    let mut governor = MetricFamily::gauge(
        "node_cpu_scaling_governor",
        "Current enabled CPU frequency governor.",
    );
    for c in cpus {
        let l = [("cpu", c.cpu.as_str())];
        for (fam, v) in frequencies.iter_mut().zip(c.frequencies) {
            if let Some(v) = v {
                fam.push(&l, v);
            }
        }
        if let Some(active) = &c.governor {
            for g in c
                .available_governors
                .as_deref()
                .unwrap_or_default()
                .split_whitespace()
            {
                let on = if g == active { 1.0 } else { 0.0 };
                governor.push(&[("cpu", c.cpu.as_str()), ("governor", g)], on);
            }
        }
    }
    let mut out = Vec::from(frequencies);
    out.push(governor);
    out
}

// No cpu directory at all (an empty sysfs), or no CPU with cpufreq (a VM): upstream's glob
// matches nothing and the collector succeeds with no series; the gate looks again every minute.
gated_collector!(CpufreqCollector, "cpufreq", cpu_dir, or_empty);

impl CpufreqCollector {
    fn collect_present(&self) -> CollectResult {
        // Lexicographic order (cpu0, cpu1, cpu10, cpu2) is the order upstream exposes.
        let names = sorted_dir_names(&self.cpu_dir)?;
        let cpus: Vec<(String, PathBuf)> = names
            .iter()
            .filter_map(|name| {
                let n = cpu_number(name)?;
                let dir = self.cpu_dir.join(name).join("cpufreq");
                dir.is_dir().then(|| (n.to_string(), dir))
            })
            .collect();
        if cpus.is_empty() {
            return Err(self.cpu_dir.missing());
        }
        let mut fams = families(&read_all(&cpus));
        fams.retain(|f| !f.is_empty());
        Ok(fams)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{family, sysfs_at, write, write_all};
    use exporter_core::BlockingCollector;

    #[test]
    fn parses_khz() {
        assert_eq!(parse_khz("2445404\n"), Some(2_445_404_000.0));
        assert_eq!(parse_khz("<unknown>\n"), None);
        assert_eq!(parse_khz(""), None);
        assert_eq!(parse_khz("-5"), None);
    }

    #[test]
    fn host_without_cpufreq_succeeds_empty() {
        let dir = tempfile::tempdir().unwrap();
        let cpu = dir.path().join("devices/system/cpu");
        std::fs::create_dir_all(cpu.join("cpu0/topology")).unwrap();
        std::fs::create_dir_all(cpu.join("cpufreq")).unwrap();
        let fams = CpufreqCollector::new(&sysfs_at(dir.path()))
            .collect()
            .unwrap();
        assert!(fams.is_empty());

        let missing = sysfs_at(&dir.path().join("nope"));
        assert!(CpufreqCollector::new(&missing)
            .collect()
            .unwrap()
            .is_empty());
    }

    #[test]
    fn reads_present_attributes_and_skips_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let cpu = dir.path().join("devices/system/cpu");
        // acpi-cpufreq style: everything readable.
        let c0 = cpu.join("cpu0/cpufreq");
        write_all(
            &c0,
            &[
                ("cpuinfo_cur_freq", "1800000\n"),
                ("cpuinfo_min_freq", "800000\n"),
                ("cpuinfo_max_freq", "3600000\n"),
                ("scaling_cur_freq", "1799998\n"),
                ("scaling_min_freq", "800000\n"),
                ("scaling_max_freq", "3600000\n"),
                ("scaling_governor", "schedutil\n"),
            ],
        );
        write(
            &c0.join("scaling_available_governors"),
            "conservative ondemand userspace powersave performance schedutil \n",
        );
        // intel_pstate style: no cpuinfo_cur_freq, "<unknown>" scaling_cur_freq.
        let c10 = cpu.join("cpu10/cpufreq");
        write_all(
            &c10,
            &[
                ("cpuinfo_max_freq", "4700000\n"),
                ("scaling_cur_freq", "<unknown>\n"),
                ("scaling_governor", "powersave\n"),
            ],
        );
        write(
            &c10.join("scaling_available_governors"),
            "performance powersave\n",
        );
        // A CPU without cpufreq.
        std::fs::create_dir_all(cpu.join("cpu2")).unwrap();

        let fams = CpufreqCollector::new(&sysfs_at(dir.path()))
            .collect()
            .unwrap();
        let get = |n: &str| family(&fams, n);
        let cur = get("node_cpu_frequency_hertz");
        assert_eq!(cur.samples.len(), 1);
        assert_eq!(cur.samples[0].value, 1.8e9);
        let max: Vec<_> = get("node_cpu_frequency_max_hertz")
            .samples
            .iter()
            .map(|s| (s.labels[0].1.as_str(), s.value))
            .collect();
        assert_eq!(max, [("0", 3.6e9), ("10", 4.7e9)]);
        let gov: Vec<_> = get("node_cpu_scaling_governor")
            .samples
            .iter()
            .filter(|s| s.value == 1.0)
            .map(|s| (s.labels[0].1.as_str(), s.labels[1].1.as_str()))
            .collect();
        assert_eq!(gov, [("0", "schedutil"), ("10", "powersave")]);
        assert_eq!(get("node_cpu_scaling_governor").samples.len(), 8);
    }

    #[test]
    fn parallel_reads_keep_cpu_order() {
        let cpus: Vec<(String, PathBuf)> = (0..20)
            .map(|i| (i.to_string(), PathBuf::from("/nonexistent")))
            .collect();
        let got: Vec<String> = read_all(&cpus).into_iter().map(|c| c.cpu).collect();
        let want: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        assert_eq!(got, want);
    }
}
