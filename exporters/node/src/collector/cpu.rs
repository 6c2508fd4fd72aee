//! Per-CPU statistics:
//! - `node_cpu_seconds_total{cpu,mode}` and (`--collector.cpu.guest`) `node_cpu_guest_seconds_total`
//!   from /proc/stat;
//! - `node_cpu_info{...}` from /proc/cpuinfo (`--collector.cpu.info`);
//! - `node_cpu_isolated{cpu}` from /sys/devices/system/cpu/isolated (read once, at start, as
//!   upstream does: isolation is a boot parameter);
//! - `node_cpu_core_throttles_total` / `node_cpu_package_throttles_total` from
//!   /sys/devices/system/cpu/cpu*/thermal_throttle (x86 bare metal only);
//! - `node_cpu_online{cpu}` from /sys/devices/system/cpu/cpu*/online, where the kernel lets cpu0
//!   be unplugged (upstream checks cpu0's file and emits nothing without it, as on most x86).
//!
//! Sample order follows upstream's exposition, which sorts series by label values as strings
//! (cpu "10" before cpu "2").
//!
//! Over 800 lines because of its unit tests (about two fifths of the file), kept beside the
//! parser they check.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use clap::Args;
use exporter_core::{BlockingCollector, CollectError, CollectResult, MetricFamily};

use crate::collector::CollectorFlags;
use crate::kept::KeptFile;
use crate::paths::HostPaths;
use crate::util::{cpu_number, field_labels, read_attr, sorted_dir_names, USER_HZ};

/// The cpu collector's own flags.
#[derive(Debug, Clone, Args)]
pub struct CpuFlags {
    /// Enables metric node_cpu_info.
    #[arg(long = "collector.cpu.info", id = "collector.cpu.info")]
    info: bool,
    /// Disables metric node_cpu_guest_seconds_total.
    #[arg(long = "no-collector.cpu.guest", id = "no-collector.cpu.guest")]
    no_guest: bool,
}

/// What the cpu collector emits beyond its basics.
#[derive(Debug, Clone)]
pub struct CpuOptions {
    /// `node_cpu_info` (`--collector.cpu.info`).
    pub info: bool,
    /// `node_cpu_guest_seconds_total` (off with `--no-collector.cpu.guest`).
    pub guest: bool,
}

impl Default for CpuOptions {
    fn default() -> Self {
        CpuOptions {
            info: false,
            guest: true,
        }
    }
}

impl CollectorFlags for CpuFlags {
    type Options = CpuOptions;

    fn options(self) -> Result<CpuOptions, String> {
        Ok(CpuOptions {
            info: self.info,
            guest: !self.no_guest,
        })
    }
}

/// The `cpu` collector: what it reads and emits is in the module documentation.
pub struct CpuCollector {
    stat: KeptFile,
    cpuinfo: KeptFile,
    cpu_dir: PathBuf,
    /// Whether any CPU has a thermal_throttle directory. The x86 therm_throt driver creates it
    /// for every CPU when the hardware supports it, and never on VMs or other architectures:
    /// checking once spares those hosts a sysfs scan per scrape.
    throttles: bool,
    info: bool,
    guest: bool,
    isolated: Vec<String>,
    /// Whether cpu0 has an `online` file. Upstream emits `node_cpu_online` only then: most x86
    /// kernels cannot unplug cpu0 and give it no such file. Hotplug support does not change
    /// while the kernel runs, so it is checked once.
    hotplug_cpu0: bool,
    /// Last exported times per CPU label: counters are kept monotonic across scrapes (see
    /// [`update_times`]).
    last: Mutex<BTreeMap<String, CpuTimes>>,
}

impl CpuCollector {
    /// The collector reading under `cfg`, with its own options.
    pub fn new(cfg: &HostPaths, options: &CpuOptions) -> Self {
        let cpu_dir = cfg.sys_path("devices/system/cpu");
        let isolated_path = cpu_dir.join("isolated");
        let isolated = match std::fs::read_to_string(&isolated_path) {
            Ok(text) => match parse_cpu_list(&text) {
                Ok(mut cpus) => {
                    cpus.sort_unstable();
                    cpus.dedup();
                    let mut labels: Vec<String> = cpus.iter().map(u32::to_string).collect();
                    labels.sort();
                    labels
                }
                Err(e) => {
                    tracing::warn!(path = %isolated_path.display(), %e, "ignoring isolated CPU list");
                    Vec::new()
                }
            },
            Err(_) => Vec::new(),
        };
        let throttles = sorted_dir_names(&cpu_dir).is_ok_and(|names| {
            names.iter().any(|n| {
                cpu_number(n).is_some() && cpu_dir.join(n).join("thermal_throttle").is_dir()
            })
        });
        let hotplug_cpu0 = cpu_dir.join("cpu0/online").exists();
        CpuCollector {
            hotplug_cpu0,
            stat: KeptFile::new(cfg.proc_path("stat")),
            cpuinfo: KeptFile::new(cfg.proc_path("cpuinfo")),
            cpu_dir,
            throttles,
            info: options.info,
            guest: options.guest,
            isolated,
            last: Mutex::new(BTreeMap::new()),
        }
    }
}

/// Times of one CPU, in seconds.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct CpuTimes {
    /// Time in user mode.
    pub user: f64,
    /// Time in user mode at low priority (nice).
    pub nice: f64,
    /// Time in kernel mode.
    pub system: f64,
    /// Idle time.
    pub idle: f64,
    /// Time waiting for I/O.
    pub iowait: f64,
    /// Time servicing interrupts.
    pub irq: f64,
    /// Time servicing softirqs.
    pub softirq: f64,
    /// Time stolen by the hypervisor for other guests.
    pub steal: f64,
    /// Time running a guest (also counted in `user`).
    pub guest: f64,
    /// Time running a niced guest (also counted in `nice`).
    pub guest_nice: f64,
}

/// Parses the per-CPU lines (`cpuN ...`) of /proc/stat into `(cpu label, times)`. The aggregate
/// `cpu` line is skipped. Columns added by later kernels (iowait 2.5.41, irq/softirq 2.6.0,
/// steal 2.6.11, guest 2.6.24, guest_nice 2.6.33) are 0 when absent; a line with fewer than the
/// four original columns, or any non-number, is an error.
pub fn parse_cpu_stat(text: &str) -> Result<Vec<(&str, CpuTimes)>, CollectError> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(cpu) = fields.next().and_then(|f| f.strip_prefix("cpu")) else {
            continue;
        };
        if cpu.is_empty() {
            continue;
        }
        if !cpu.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CollectError::Parse(format!("invalid cpu line {line:?}")));
        }
        let mut cols = [0.0f64; 10];
        let mut n = 0;
        for (slot, raw) in cols.iter_mut().zip(fields) {
            let ticks: f64 = raw
                .parse()
                .map_err(|_| CollectError::Parse(format!("invalid value {raw:?} for cpu{cpu}")))?;
            *slot = ticks / USER_HZ;
            n += 1;
        }
        if n < 4 {
            return Err(CollectError::Parse(format!("truncated cpu line {line:?}")));
        }
        let [user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice] = cols;
        out.push((
            cpu,
            CpuTimes {
                user,
                nice,
                system,
                idle,
                iowait,
                irq,
                softirq,
                steal,
                guest,
                guest_nice,
            },
        ));
    }
    Ok(out)
}

/// If a CPU's idle time goes back by this many seconds, it was most likely hot-unplugged and
/// re-plugged (its counters restarted): its previous values are forgotten.
const JUMP_BACK_SECONDS: f64 = 3.0;

/// Merges fresh readings into the last exported ones the way upstream does: some kernels
/// (notably with NO_HZ and iowait accounting) make counters go slightly backwards, which
/// `rate()` would read as a counter reset; such a decrease keeps the previous value instead.
/// A large idle jump back means a CPU hotplug and resets that CPU. A CPU missing from the fresh
/// readings went offline and is forgotten, as upstream does since 1.6.
pub fn update_times(last: &mut BTreeMap<String, CpuTimes>, fresh: &[(&str, CpuTimes)]) {
    if last.len() != fresh.len() {
        last.retain(|cpu, _| fresh.iter().any(|(online, _)| online == cpu));
    }
    for (cpu, new) in fresh {
        let entry = match last.get_mut(*cpu) {
            Some(e) => e,
            None => last.entry((*cpu).to_string()).or_default(),
        };
        if entry.idle - new.idle >= JUMP_BACK_SECONDS {
            tracing::debug!(
                cpu,
                old = entry.idle,
                new = new.idle,
                "CPU idle counter jumped backwards, possible hotplug event, resetting CPU stats"
            );
            *entry = CpuTimes::default();
        }
        let keep_max = |old: &mut f64, new: f64| {
            if new >= *old {
                *old = new;
            }
        };
        keep_max(&mut entry.idle, new.idle);
        keep_max(&mut entry.user, new.user);
        keep_max(&mut entry.nice, new.nice);
        keep_max(&mut entry.system, new.system);
        keep_max(&mut entry.iowait, new.iowait);
        keep_max(&mut entry.irq, new.irq);
        keep_max(&mut entry.softirq, new.softirq);
        keep_max(&mut entry.steal, new.steal);
        keep_max(&mut entry.guest, new.guest);
        keep_max(&mut entry.guest_nice, new.guest_nice);
    }
}

/// The /proc/cpuinfo fields exported by `node_cpu_info`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CpuInfo {
    /// `processor`: the CPU number.
    pub processor: String,
    /// `vendor_id`.
    pub vendor: String,
    /// `cpu family`.
    pub family: String,
    /// `model`.
    pub model: String,
    /// `model name`.
    pub model_name: String,
    /// `stepping`.
    pub stepping: String,
    /// `microcode`.
    pub microcode: String,
    /// `cache size`.
    pub cache_size: String,
    /// `physical id`: the package.
    pub physical_id: String,
    /// `core id`.
    pub core_id: String,
}

/// Parses /proc/cpuinfo: one block per `processor : N` line. The file must start with a
/// `processor` line (x86, arm64, riscv, ppc layouts); fields a platform does not report stay
/// empty. Values are taken verbatim after `": "`, as upstream does.
pub fn parse_cpuinfo(text: &str) -> Result<Vec<CpuInfo>, CollectError> {
    let mut out: Vec<CpuInfo> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        let Some(colon) = line.find(':') else {
            if out.is_empty() {
                return Err(CollectError::Parse(format!(
                    "invalid cpuinfo line {line:?}"
                )));
            }
            continue;
        };
        let key = line[..colon].trim();
        let value = line
            .find(": ")
            .and_then(|i| line.get(i + 2..))
            .unwrap_or_default();
        if key == "processor" {
            let n: u32 = value
                .trim()
                .parse()
                .map_err(|_| CollectError::Parse(format!("invalid cpuinfo processor {value:?}")))?;
            out.push(CpuInfo {
                processor: n.to_string(),
                ..CpuInfo::default()
            });
            continue;
        }
        let Some(cpu) = out.last_mut() else {
            return Err(CollectError::Parse(format!(
                "cpuinfo does not start with a processor line: {line:?}"
            )));
        };
        let slot = match key {
            "vendor" | "vendor_id" => &mut cpu.vendor,
            "cpu family" => &mut cpu.family,
            "model" => &mut cpu.model,
            "model name" => &mut cpu.model_name,
            "stepping" => &mut cpu.stepping,
            "microcode" => &mut cpu.microcode,
            "cache size" => &mut cpu.cache_size,
            "physical id" => &mut cpu.physical_id,
            "core id" => &mut cpu.core_id,
            _ => continue,
        };
        *slot = value.to_string();
    }
    Ok(out)
}

/// Parses a kernel CPU list (`0-3,8,10-11\n`, empty when none).
pub fn parse_cpu_list(text: &str) -> Result<Vec<u32>, CollectError> {
    let bad = |part: &str| CollectError::Parse(format!("invalid cpu list entry {part:?}"));
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let a: u32 = a.parse().map_err(|_| bad(part))?;
                let b: u32 = b.parse().map_err(|_| bad(part))?;
                if b < a || b - a > 65535 {
                    return Err(bad(part));
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().map_err(|_| bad(part))?),
        }
    }
    Ok(out)
}

/// Thermal throttle counts: per (package, core) and per package.
#[derive(Debug, Default, PartialEq)]
pub struct Throttles {
    /// Core throttle events per (package, core).
    pub core: BTreeMap<(u64, u64), u64>,
    /// Package throttle events per package.
    pub package: BTreeMap<u64, u64>,
}

fn read_u64(path: &Path) -> Option<u64> {
    read_attr(path)?.parse().ok()
}

/// Reads thermal_throttle counters for every `cpuN` under `cpu_dir`. Cores are shared by SMT
/// siblings and packages by all their cores, so each is read once. CPUs without topology or
/// without a thermal_throttle directory (VMs, non-Intel) are skipped, and so is a missing
/// `cpu_dir`: like upstream's glob, absence just means no throttle metrics.
fn read_throttles(cpu_dir: &Path) -> Throttles {
    let mut t = Throttles::default();
    let Ok(names) = sorted_dir_names(cpu_dir) else {
        return t;
    };
    for name in names {
        if cpu_number(&name).is_none() {
            continue;
        }
        let dir = cpu_dir.join(&name);
        let throttle = dir.join("thermal_throttle");
        if !throttle.is_dir() {
            continue;
        }
        let (Some(package), Some(core)) = (
            read_u64(&dir.join("topology/physical_package_id")),
            read_u64(&dir.join("topology/core_id")),
        ) else {
            continue;
        };
        if let std::collections::btree_map::Entry::Vacant(e) = t.core.entry((package, core)) {
            if let Some(v) = read_u64(&throttle.join("core_throttle_count")) {
                e.insert(v);
            }
        }
        if let std::collections::btree_map::Entry::Vacant(e) = t.package.entry(package) {
            if let Some(v) = read_u64(&throttle.join("package_throttle_count")) {
                e.insert(v);
            }
        }
    }
    t
}

/// Whether an `online` attribute says the CPU is online: exactly "1", as upstream's procfs reads it.
pub fn parse_online(text: &str) -> bool {
    text.trim() == "1"
}

/// `(cpu number, online)` for every `cpuN` under `cpu_dir`. A CPU without an `online` file (cpu0
/// on kernels that cannot unplug it) counts as offline, as upstream reports it.
fn read_online(cpu_dir: &Path) -> Vec<(String, bool)> {
    let Ok(names) = sorted_dir_names(cpu_dir) else {
        return Vec::new();
    };
    names
        .iter()
        .filter_map(|name| {
            let number = cpu_number(name)?;
            let online = read_attr(&cpu_dir.join(name).join("online"))
                .is_some_and(|text| parse_online(&text));
            Some((number.to_string(), online))
        })
        .collect()
}

fn online_family(cpus: &[(String, bool)]) -> MetricFamily {
    let mut fam = MetricFamily::gauge(
        "node_cpu_online",
        "CPUs that are online and being scheduled.",
    );
    for (cpu, online) in cpus {
        fam.push(&[("cpu", cpu)], if *online { 1.0 } else { 0.0 });
    }
    sort_samples(&mut fam);
    fam
}

/// Sorts a family's samples by label values (labels are pushed in name order), reproducing
/// upstream's exposition order.
fn sort_samples(fam: &mut MetricFamily) {
    fam.samples.sort_by(|a, b| {
        a.labels
            .iter()
            .map(|l| &l.1)
            .cmp(b.labels.iter().map(|l| &l.1))
    });
}

fn info_family(infos: &[CpuInfo]) -> MetricFamily {
    let mut fam = MetricFamily::gauge("node_cpu_info", "CPU information from /proc/cpuinfo.");
    for c in infos {
        fam.push(
            &field_labels!(
                c,
                cachesize = cache_size,
                core = core_id,
                cpu = processor,
                family,
                microcode,
                model,
                model_name,
                package = physical_id,
                stepping,
                vendor
            ),
            1.0,
        );
    }
    sort_samples(&mut fam);
    // The kernel describes each processor once; a repeated block must not repeat a series.
    fam.samples.dedup_by(|a, b| a.labels == b.labels);
    fam
}

fn throttle_families(t: &Throttles) -> Vec<MetricFamily> {
    let mut core = MetricFamily::counter(
        "node_cpu_core_throttles_total",
        "Number of times this CPU core has been throttled.",
    );
    for (&(package, core_id), &v) in &t.core {
        core.push(
            &[
                ("core", &core_id.to_string()),
                ("package", &package.to_string()),
            ],
            v as f64,
        );
    }
    sort_samples(&mut core);
    let mut package = MetricFamily::counter(
        "node_cpu_package_throttles_total",
        "Number of times this CPU package has been throttled.",
    );
    for (&p, &v) in &t.package {
        package.push(&[("package", &p.to_string())], v as f64);
    }
    sort_samples(&mut package);
    vec![core, package]
}

impl BlockingCollector for CpuCollector {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn collect(&self) -> CollectResult {
        let mut fams = Vec::with_capacity(6);
        if self.info {
            fams.push(info_family(&parse_cpuinfo(&self.cpuinfo.read()?)?));
        }

        let text = self.stat.read()?;
        let fresh = parse_cpu_stat(&text)?;
        let mut seconds = MetricFamily::counter(
            "node_cpu_seconds_total",
            "Seconds the CPUs spent in each mode.",
        );
        let mut guest = MetricFamily::counter(
            "node_cpu_guest_seconds_total",
            "Seconds the CPUs spent in guests (VMs) for each mode.",
        );
        {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            update_times(&mut last, &fresh);
            for (cpu, t) in last.iter() {
                let cpu = cpu.as_str();
                for (mode, v) in [
                    ("idle", t.idle),
                    ("iowait", t.iowait),
                    ("irq", t.irq),
                    ("nice", t.nice),
                    ("softirq", t.softirq),
                    ("steal", t.steal),
                    ("system", t.system),
                    ("user", t.user),
                ] {
                    seconds.push(&[("cpu", cpu), ("mode", mode)], v);
                }
                if self.guest {
                    // Guest time is also included in user and nice.
                    guest.push(&[("cpu", cpu), ("mode", "nice")], t.guest_nice);
                    guest.push(&[("cpu", cpu), ("mode", "user")], t.guest);
                }
            }
        }
        fams.push(seconds);
        if self.guest {
            fams.push(guest);
        }

        if !self.isolated.is_empty() {
            let mut iso = MetricFamily::gauge(
                "node_cpu_isolated",
                "Whether each core is isolated, information from /sys/devices/system/cpu/isolated.",
            );
            for cpu in &self.isolated {
                iso.push(&[("cpu", cpu)], 1.0);
            }
            fams.push(iso);
        }

        if self.throttles {
            fams.extend(throttle_families(&read_throttles(&self.cpu_dir)));
        }
        if self.hotplug_cpu0 {
            fams.push(online_family(&read_online(&self.cpu_dir)));
        }
        fams.retain(|f| !f.is_empty());
        Ok(fams)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        assert_maps, assert_not_available, assert_rejects, family, family_names, write,
    };

    const STAT: &str = "cpu  13978 0 4663 78732 1015 0 146 135 0 0
cpu0 6227 0 1827 41123 76 0 30 59 0 0
cpu1 7751 0 2836 37609 939 0 115 76 12 3
intr 246228 0 0 0
ctxt 402506
btime 1795613456
";

    #[test]
    fn parses_per_cpu_lines() {
        let cpus = parse_cpu_stat(STAT).unwrap();
        assert_eq!(cpus.len(), 2);
        assert_eq!(cpus[0].0, "0");
        assert_eq!(
            cpus[1].1,
            CpuTimes {
                user: 77.51,
                nice: 0.0,
                system: 28.36,
                idle: 376.09,
                iowait: 9.39,
                irq: 0.0,
                softirq: 1.15,
                steal: 0.76,
                guest: 0.12,
                guest_nice: 0.03,
            }
        );
    }

    #[test]
    fn old_kernels_lack_later_columns() {
        // 2.6.18 (RHEL 5): no guest_nice; OpenVZ: no guest either.
        let cpus = parse_cpu_stat("cpu0 1 2 3 4 5 6 7 8\ncpu1 1 2 3 4\n").unwrap();
        assert_eq!(cpus[0].1.steal, 0.08);
        assert_eq!(cpus[0].1.guest, 0.0);
        assert_eq!(cpus[1].1.idle, 0.04);
        assert_eq!(cpus[1].1.iowait, 0.0);
    }

    #[test]
    fn truncated_or_garbage_stat_is_an_error() {
        assert_rejects(
            parse_cpu_stat,
            &["cpu0 1 2 3\n", "cpu0 1 2 x 4\n", "cpuX 1 2 3 4\n"],
        );
        assert!(parse_cpu_stat("").unwrap().is_empty());
        assert!(parse_cpu_stat("cpu 1 2 3 4\n").unwrap().is_empty());
    }

    fn times(idle: f64, user: f64) -> CpuTimes {
        CpuTimes {
            idle,
            user,
            ..CpuTimes::default()
        }
    }

    #[test]
    fn counters_never_go_backwards_but_hotplug_resets() {
        let mut last = BTreeMap::new();
        update_times(&mut last, &[("0", times(100.0, 50.0))]);
        // Small decrease: keep the old values.
        update_times(&mut last, &[("0", times(99.0, 49.0))]);
        assert_eq!(last["0"], times(100.0, 50.0));
        // Normal increase.
        update_times(&mut last, &[("0", times(101.0, 51.0))]);
        assert_eq!(last["0"], times(101.0, 51.0));
        // Idle jumps back by >= 3 s: counters restarted.
        update_times(&mut last, &[("0", times(2.0, 1.0))]);
        assert_eq!(last["0"], times(2.0, 1.0));
    }

    #[test]
    fn cpus_that_go_offline_are_forgotten() {
        let mut last = BTreeMap::new();
        update_times(&mut last, &[("0", times(1.0, 1.0)), ("1", times(5.0, 5.0))]);
        update_times(&mut last, &[("0", times(2.0, 2.0))]);
        assert_eq!(last.keys().collect::<Vec<_>>(), ["0"]);
        // Back online: its counters start from what the kernel says now.
        update_times(&mut last, &[("0", times(2.0, 2.0)), ("1", times(1.0, 1.0))]);
        assert_eq!(last["1"], times(1.0, 1.0));
    }

    #[test]
    fn online_attribute_is_exactly_one() {
        assert_maps(
            parse_online,
            &[("1\n", true), ("0\n", false), ("", false), ("11\n", false)],
        );
    }

    #[test]
    fn online_family_only_where_cpu0_can_be_unplugged() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        write(&p.join("proc/stat"), STAT);
        let cpu = p.join("sys/devices/system/cpu");
        write(&cpu.join("cpu1/online"), "1\n");
        let cfg = HostPaths {
            procfs: p.join("proc"),
            sysfs: p.join("sys"),
            ..HostPaths::default()
        };
        let names = |c: &CpuCollector| -> Vec<String> {
            c.collect()
                .unwrap()
                .iter()
                .map(|f| f.name.to_string())
                .collect()
        };
        assert!(!names(&CpuCollector::new(&cfg, &CpuOptions::default()))
            .contains(&"node_cpu_online".to_string()));

        write(&cpu.join("cpu0/online"), "1\n");
        write(&cpu.join("cpu2/online"), "0\n");
        std::fs::create_dir_all(cpu.join("cpu10")).unwrap();
        let fams = CpuCollector::new(&cfg, &CpuOptions::default())
            .collect()
            .unwrap();
        let online = family(&fams, "node_cpu_online");
        let got: Vec<(&str, f64)> = online
            .samples
            .iter()
            .map(|s| (s.labels[0].1.as_str(), s.value))
            .collect();
        assert_eq!(got, [("0", 1.0), ("1", 1.0), ("10", 0.0), ("2", 0.0)]);
    }

    const CPUINFO: &str = "processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC
stepping\t: 1
microcode\t: 0x1000065
cpu MHz\t\t: 2445.404
cache size\t: 512 KB
physical id\t: 0
core id\t\t: 0
flags\t\t: fpu vme de pse
power management:

processor\t: 1
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC
stepping\t: 1
microcode\t: 0x1000065
cache size\t: 512 KB
physical id\t: 0
core id\t\t: 1
";

    #[test]
    fn a_repeated_processor_block_is_one_series() {
        // Found by tests/fuzz.rs: `processor : 1` twice gave two identical node_cpu_info series.
        let infos = parse_cpuinfo("processor\t: 0\nprocessor\t: 1\nprocessor\t: 1\n").unwrap();
        assert_eq!(infos.len(), 3);
        let fam = info_family(&infos);
        let cpus: Vec<&str> = fam.samples.iter().map(|s| s.labels[2].1.as_str()).collect();
        assert_eq!(cpus, ["0", "1"]);
    }

    #[test]
    fn parses_cpuinfo() {
        let infos = parse_cpuinfo(CPUINFO).unwrap();
        assert_eq!(infos.len(), 2);
        assert_eq!(
            infos[1],
            CpuInfo {
                processor: "1".into(),
                vendor: "AuthenticAMD".into(),
                family: "25".into(),
                model: "1".into(),
                model_name: "AMD EPYC".into(),
                stepping: "1".into(),
                microcode: "0x1000065".into(),
                cache_size: "512 KB".into(),
                physical_id: "0".into(),
                core_id: "1".into(),
            }
        );
    }

    #[test]
    fn parses_arm64_cpuinfo() {
        let arm = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd\nCPU implementer\t: 0x41\n\nprocessor\t: 1\nBogoMIPS\t: 50.00\n";
        let infos = parse_cpuinfo(arm).unwrap();
        assert_eq!(infos.len(), 2);
        assert_eq!(infos[1].processor, "1");
        assert_eq!(infos[1].vendor, "");
    }

    #[test]
    fn truncated_or_garbage_cpuinfo_is_an_error() {
        assert_rejects(
            parse_cpuinfo,
            &[
                "vendor_id\t: GenuineIntel\n",
                "processor\t: x\n",
                "garbage\n",
                "processor\t:\n",
            ],
        );
        // Cut mid-block: what was read is kept.
        assert_eq!(
            parse_cpuinfo("processor\t: 0\nvendor_id\t: Genu").unwrap()[0].vendor,
            "Genu"
        );
        assert!(parse_cpuinfo("").unwrap().is_empty());
    }

    #[test]
    fn parses_cpu_lists() {
        assert_eq!(parse_cpu_list("\n").unwrap(), Vec::<u32>::new());
        assert_eq!(parse_cpu_list("2-4,8\n").unwrap(), vec![2, 3, 4, 8]);
        assert_rejects(parse_cpu_list, &["4-2", "a", "1-", "0-4294967295"]);
    }

    fn fixture() -> (tempfile::TempDir, HostPaths) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        write(&p.join("proc/stat"), STAT);
        write(&p.join("proc/cpuinfo"), CPUINFO);
        for cpu in ["cpu0", "cpu1"] {
            write(
                &p.join(format!("sys/devices/system/cpu/{cpu}/topology/core_id")),
                "0\n",
            );
            write(
                &p.join(format!(
                    "sys/devices/system/cpu/{cpu}/topology/physical_package_id"
                )),
                "0\n",
            );
        }
        write(&p.join("sys/devices/system/cpu/isolated"), "\n");
        let cfg = HostPaths {
            procfs: p.join("proc"),
            sysfs: p.join("sys"),
            ..HostPaths::default()
        };
        (dir, cfg)
    }

    #[test]
    fn collects_like_this_vm() {
        let (_dir, cfg) = fixture();
        let fams = CpuCollector::new(&cfg, &CpuOptions::default())
            .collect()
            .unwrap();
        let names = family_names(&fams);
        assert_eq!(
            names,
            ["node_cpu_seconds_total", "node_cpu_guest_seconds_total"]
        );
        let first: Vec<_> = fams[0].samples[..3]
            .iter()
            .map(|s| (s.labels[0].1.as_str(), s.labels[1].1.as_str(), s.value))
            .collect();
        assert_eq!(
            first,
            [
                ("0", "idle", 411.23),
                ("0", "iowait", 0.76),
                ("0", "irq", 0.0)
            ]
        );
        assert_eq!(fams[0].samples.len(), 16);
        let guest: Vec<_> = fams[1]
            .samples
            .iter()
            .map(|s| (s.labels[1].1.as_str(), s.value))
            .collect();
        assert_eq!(
            guest,
            [("nice", 0.0), ("user", 0.0), ("nice", 0.03), ("user", 0.12)]
        );
    }

    #[test]
    fn collects_info_isolated_and_throttles() {
        let (dir, cfg) = fixture();
        let p = dir.path();
        let options = CpuOptions {
            info: true,
            guest: false,
        };
        write(&p.join("sys/devices/system/cpu/isolated"), "1,10\n");
        for cpu in ["cpu0", "cpu1"] {
            let t = p.join(format!("sys/devices/system/cpu/{cpu}/thermal_throttle"));
            write(&t.join("core_throttle_count"), "5\n");
            write(&t.join("package_throttle_count"), "7\n");
        }
        let fams = CpuCollector::new(&cfg, &options).collect().unwrap();
        let names = family_names(&fams);
        assert_eq!(
            names,
            [
                "node_cpu_info",
                "node_cpu_seconds_total",
                "node_cpu_isolated",
                "node_cpu_core_throttles_total",
                "node_cpu_package_throttles_total"
            ]
        );
        let info = &fams[0].samples[0].labels;
        let label_names: Vec<_> = info.iter().map(|l| l.0.as_ref()).collect();
        assert_eq!(
            label_names,
            [
                "cachesize",
                "core",
                "cpu",
                "family",
                "microcode",
                "model",
                "model_name",
                "package",
                "stepping",
                "vendor"
            ]
        );
        let iso: Vec<_> = fams[2]
            .samples
            .iter()
            .map(|s| s.labels[0].1.as_str())
            .collect();
        assert_eq!(iso, ["1", "10"]);
        // Both CPUs share core 0 of package 0: read once.
        assert_eq!(fams[3].samples.len(), 1);
        assert_eq!(fams[3].samples[0].value, 5.0);
        assert_eq!(fams[4].samples[0].value, 7.0);
    }

    #[test]
    fn missing_sources() {
        let (dir, cfg) = fixture();
        std::fs::remove_file(dir.path().join("proc/stat")).unwrap();
        assert_not_available(CpuCollector::new(&cfg, &CpuOptions::default()).collect());
        let (dir, cfg) = fixture();
        let info = CpuOptions {
            info: true,
            ..CpuOptions::default()
        };
        write(&dir.path().join("proc/cpuinfo"), "garbage\n");
        assert!(matches!(
            CpuCollector::new(&cfg, &info).collect(),
            Err(CollectError::Parse(_))
        ));
    }

    #[test]
    fn output_order_is_upstreams_string_order() {
        let mut last = BTreeMap::new();
        let fresh: Vec<(String, CpuTimes)> = (0..12)
            .map(|i| (i.to_string(), CpuTimes::default()))
            .collect();
        let fresh: Vec<(&str, CpuTimes)> = fresh.iter().map(|(c, t)| (c.as_str(), *t)).collect();
        update_times(&mut last, &fresh);
        let order: Vec<_> = last.keys().map(String::as_str).take(4).collect();
        assert_eq!(order, ["0", "1", "10", "11"]);
    }
}
