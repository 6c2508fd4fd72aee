//! Other operating systems: cpu, memory, filesystem, network and load through the `sysinfo`
//! crate, under node_exporter's names, types and labels, so the guide's queries work unchanged.
//! On Linux the /proc and /sys collectors serve these names (with far more detail); this module
//! is compiled there too, so that its tests compare it against them.
//!
//! What sysinfo cannot give, and how it is filled:
//! - CPU time: sysinfo reports usage since its last refresh, not cumulative seconds. Each scrape
//!   adds `usage x elapsed` to `mode="user"` and the rest to `mode="idle"`, so
//!   `rate(node_cpu_seconds_total{mode="idle"}[5m])` means what it means on Linux; the split of
//!   busy time into user/system/iowait is not available.
//! - Filesystems: no free-vs-available distinction (`node_filesystem_free_bytes` is the space
//!   available to unprivileged users) and no inode counts.

use std::sync::Mutex;
use std::time::Instant;

use exporter_core::{BlockingCollector, CollectResult, MetricFamily};
use sysinfo::{Disks, Networks, System};

use super::cpu::CpuOptions;
use super::filesystem::{self, FilesystemOptions};
use super::netdev::DeviceFilter;
use crate::paths::HostPaths;

/// Declares a stateless sysinfo stand-in: the unit struct `$collector`, its `new` taking the Linux
/// collector's arguments (the paths and, where it has them, its `$options`), which do not apply
/// to sysinfo, and its `BlockingCollector` named `$name`, whose scrape is its own `scrape`.
macro_rules! stand_in {
    ($(#[doc = $doc:tt])+ $collector:ident, $name:literal $(, $options:ty)?) => {
        $(#[doc = $doc])+
        pub struct $collector;

        impl $collector {
            /// Takes the Linux collector's arguments, which do not apply to sysinfo.
            pub fn new(_cfg: &HostPaths $(, _options: &$options)?) -> Self {
                $collector
            }
        }

        impl BlockingCollector for $collector {
            fn name(&self) -> &'static str {
                $name
            }

            fn collect(&self) -> CollectResult {
                self.scrape()
            }
        }
    };
}

/// `node_cpu_seconds_total{cpu, mode="user"|"idle"}`, integrated from usage samples.
pub struct CpuCollector {
    state: Mutex<CpuState>,
}

struct CpuState {
    system: System,
    last: Instant,
    /// Per CPU: [busy, idle] seconds since the exporter started.
    seconds: Vec<[f64; 2]>,
}

impl CpuCollector {
    /// Takes the Linux collector's arguments; the options do not apply to sysinfo's figures.
    pub fn new(_cfg: &HostPaths, _options: &CpuOptions) -> Self {
        let mut system = System::new();
        system.refresh_cpu_usage();
        CpuCollector {
            state: Mutex::new(CpuState {
                system,
                last: Instant::now(),
                seconds: Vec::new(),
            }),
        }
    }
}

impl BlockingCollector for CpuCollector {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn collect(&self) -> CollectResult {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = &mut *state;
        state.system.refresh_cpu_usage();
        let elapsed = state.last.elapsed().as_secs_f64();
        state.last = Instant::now();
        let cpus = state.system.cpus();
        state.seconds.resize(cpus.len(), [0.0; 2]);
        let mut family = MetricFamily::counter(
            "node_cpu_seconds_total",
            "Seconds the CPUs spent in each mode.",
        );
        for (i, (cpu, total)) in cpus.iter().zip(&mut state.seconds).enumerate() {
            let busy = f64::from(cpu.cpu_usage()).clamp(0.0, 100.0) / 100.0;
            total[0] += busy * elapsed;
            total[1] += (1.0 - busy) * elapsed;
            let cpu = i.to_string();
            family.push(&[("cpu", &cpu), ("mode", "idle")], total[1]);
            family.push(&[("cpu", &cpu), ("mode", "user")], total[0]);
        }
        Ok(vec![family])
    }
}

stand_in!(
    /// `node_memory_{MemTotal,MemAvailable,MemFree,SwapTotal,SwapFree}_bytes`.
    MeminfoCollector, "meminfo"
);

impl MeminfoCollector {
    /// One scrape.
    fn scrape(&self) -> CollectResult {
        let mut system = System::new();
        system.refresh_memory();
        let gauge = |name: &str, help: &'static str, value: u64| {
            MetricFamily::gauge(format!("node_memory_{name}_bytes"), help).with(&[], value as f64)
        };
        Ok(vec![
            gauge(
                "MemTotal",
                "Memory information field MemTotal_bytes.",
                system.total_memory(),
            ),
            gauge(
                "MemAvailable",
                "Memory information field MemAvailable_bytes.",
                system.available_memory(),
            ),
            gauge(
                "MemFree",
                "Memory information field MemFree_bytes.",
                system.free_memory(),
            ),
            gauge(
                "SwapTotal",
                "Memory information field SwapTotal_bytes.",
                system.total_swap(),
            ),
            gauge(
                "SwapFree",
                "Memory information field SwapFree_bytes.",
                system.free_swap(),
            ),
        ])
    }
}

stand_in!(
    /// `node_filesystem_{size,free,avail}_bytes`, `node_filesystem_readonly` and
    /// `node_filesystem_device_error` per mount point.
    FilesystemCollector, "filesystem", FilesystemOptions
);

impl FilesystemCollector {
    /// One scrape.
    fn scrape(&self) -> CollectResult {
        let disks = Disks::new_with_refreshed_list();
        let mut size = filesystem::family("size_bytes");
        let mut free = filesystem::family("free_bytes");
        let mut avail = filesystem::family("avail_bytes");
        let mut readonly = filesystem::family("readonly");
        let mut device_error = filesystem::family("device_error");
        for disk in disks.list() {
            let device = disk.name().to_string_lossy();
            let fstype = disk.file_system().to_string_lossy();
            let mountpoint = disk.mount_point().to_string_lossy();
            let labels = [
                ("device", device.as_ref()),
                ("fstype", fstype.as_ref()),
                ("mountpoint", mountpoint.as_ref()),
            ];
            size.push(&labels, disk.total_space() as f64);
            free.push(&labels, disk.available_space() as f64);
            avail.push(&labels, disk.available_space() as f64);
            readonly.push(&labels, if disk.is_read_only() { 1.0 } else { 0.0 });
            device_error.push(&labels, 0.0);
        }
        Ok(vec![size, free, avail, readonly, device_error])
    }
}

stand_in!(
    /// `node_network_{receive,transmit}_{bytes,packets,errs}_total` per interface.
    NetdevCollector, "netdev", DeviceFilter
);

impl NetdevCollector {
    /// One scrape.
    fn scrape(&self) -> CollectResult {
        let networks = Networks::new_with_refreshed_list();
        let counter = |direction: &str, what: &str| {
            MetricFamily::counter(
                format!("node_network_{direction}_{what}_total"),
                format!("Network device statistic {direction}_{what}."),
            )
        };
        let mut families = [
            counter("receive", "bytes"),
            counter("transmit", "bytes"),
            counter("receive", "packets"),
            counter("transmit", "packets"),
            counter("receive", "errs"),
            counter("transmit", "errs"),
        ];
        for (name, data) in &networks {
            let values = [
                data.total_received(),
                data.total_transmitted(),
                data.total_packets_received(),
                data.total_packets_transmitted(),
                data.total_errors_on_received(),
                data.total_errors_on_transmitted(),
            ];
            for (family, value) in families.iter_mut().zip(values) {
                family.push(&[("device", name.as_str())], value as f64);
            }
        }
        Ok(families.into())
    }
}

stand_in!(
    /// `node_load1`, `node_load5`, `node_load15` (zero where the OS has no load average).
    LoadavgCollector, "loadavg"
);

impl LoadavgCollector {
    /// One scrape.
    fn scrape(&self) -> CollectResult {
        let load = System::load_average();
        Ok(vec![
            MetricFamily::gauge("node_load1", "1m load average.").with(&[], load.one),
            MetricFamily::gauge("node_load5", "5m load average.").with(&[], load.five),
            MetricFamily::gauge("node_load15", "15m load average.").with(&[], load.fifteen),
        ])
    }
}

/// On Linux, the same families from both implementations: same types and label names, and
/// values that agree where both read the same kernel numbers.
#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::collections::BTreeMap;

    use exporter_core::{encode::encode_text, BlockingCollector};

    use super::*;
    use crate::collector;

    fn text(c: &dyn BlockingCollector) -> String {
        let mut out = String::new();
        encode_text(&c.collect().unwrap(), &mut out);
        out
    }

    /// Family -> (type, label names) of `text`, for the families `portable` emits.
    fn shapes(text: &str, of: &str) -> BTreeMap<String, exporter_core::testkit::FamilyShape> {
        let ours = exporter_core::testkit::family_shapes(of);
        exporter_core::testkit::family_shapes(text)
            .into_iter()
            .filter(|(name, _)| ours.contains_key(name))
            .collect()
    }

    #[test]
    fn families_have_the_linux_collectors_types_and_labels() {
        let cfg = HostPaths::default();
        // Each stand-in and the Linux collector, built with the same arguments.
        macro_rules! both {
            ($ours:ident, $linux:ty $(, $options:expr)?) => {
                (
                    Box::new($ours::new(&cfg $(, $options)?)) as Box<dyn BlockingCollector>,
                    Box::new(<$linux>::new(&cfg $(, $options)?)) as Box<dyn BlockingCollector>,
                )
            };
        }
        let pairs = [
            both!(
                CpuCollector,
                collector::cpu::CpuCollector,
                &CpuOptions::default()
            ),
            both!(MeminfoCollector, collector::meminfo::MeminfoCollector),
            both!(
                FilesystemCollector,
                collector::filesystem::FilesystemCollector,
                &FilesystemOptions::default()
            ),
            both!(
                NetdevCollector,
                collector::netdev::NetdevCollector,
                &DeviceFilter::default()
            ),
            both!(LoadavgCollector, collector::loadavg::LoadavgCollector),
        ];
        for (portable, linux) in pairs {
            assert_eq!(portable.name(), linux.name());
            let portable_text = text(portable.as_ref());
            let ours = exporter_core::testkit::family_shapes(&portable_text);
            assert!(!ours.is_empty(), "{}", portable.name());
            let theirs = shapes(&text(linux.as_ref()), &portable_text);
            assert_eq!(ours, theirs, "{}", portable.name());
        }
    }

    #[test]
    fn memory_and_load_agree_with_proc() {
        let cfg = HostPaths::default();
        let value = |c: &dyn BlockingCollector, name: &str| {
            exporter_core::testkit::sample_value(&text(c), name, &[]).unwrap()
        };
        let portable = MeminfoCollector::new(&cfg);
        let linux = collector::meminfo::MeminfoCollector::new(&cfg);
        assert_eq!(
            value(&portable, "node_memory_MemTotal_bytes"),
            value(&linux, "node_memory_MemTotal_bytes")
        );
        let load = value(&LoadavgCollector::new(&cfg), "node_load15");
        let proc_load = value(
            &collector::loadavg::LoadavgCollector::new(&cfg),
            "node_load15",
        );
        assert!((load - proc_load).abs() < 0.05, "{load} vs {proc_load}");
    }

    #[test]
    fn cpu_seconds_grow_with_wall_time() {
        let cpu = CpuCollector::new(&HostPaths::default(), &CpuOptions::default());
        let total = || -> f64 {
            exporter_core::testkit::samples(&text(&cpu))
                .iter()
                .map(|(_, _, v)| v)
                .sum()
        };
        cpu.collect().unwrap();
        let before = total();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let after = total();
        let cpus = System::new_all().cpus().len() as f64;
        // Every CPU spends the 300 ms in some mode.
        let grown = (after - before) / cpus;
        assert!((0.25..0.6).contains(&grown), "{grown} s per CPU in 300 ms");
    }
}
