//! The collector table: one file per collector, in the layout of prometheus/node_exporter.
//!
//! `COLLECTORS` lists every collector with whether it is on by default; the binary turns it into
//! `--collector.<name>` / `--no-collector.<name>` flags.

use exporter_core::{blocking, AnyCollector};

use crate::config::NodeConfig;

pub mod arp;
pub mod conntrack;
pub mod cpu;
pub mod cpufreq;
pub mod diskstats;
pub mod edac;
pub mod entropy;
pub mod filefd;
pub mod filesystem;
pub mod hwmon;
pub mod loadavg;
pub mod meminfo;
pub mod netclass;
pub mod netdev;
pub mod netstat;
pub mod os;
pub mod portable;
pub mod powersupplyclass;
pub mod pressure;
pub mod processes;
pub mod schedstat;
pub mod selinux;
pub mod sockstat;
pub mod softnet;
pub mod stat;
pub mod textfile;
pub mod thermal_zone;
pub mod time;
pub mod timex;
pub mod udp_queues;
pub mod uname;
pub mod vmstat;

/// The collectors of the basics the guide queries (cpu, memory, filesystem, network, load): on
/// Linux from /proc and /sys, elsewhere through sysinfo under the same names.
#[cfg(target_os = "linux")]
mod basics {
    pub use super::cpu::CpuCollector;
    pub use super::filesystem::FilesystemCollector;
    pub use super::loadavg::LoadavgCollector;
    pub use super::meminfo::MeminfoCollector;
    pub use super::netdev::NetdevCollector;
}
#[cfg(not(target_os = "linux"))]
use portable as basics;

pub struct CollectorSpec {
    pub name: &'static str,
    pub default_enabled: bool,
    pub help: &'static str,
    pub build: fn(&NodeConfig) -> AnyCollector,
}

macro_rules! spec {
    ($name:literal, $default:expr, $help:literal, $ty:path) => {
        CollectorSpec {
            name: $name,
            default_enabled: $default,
            help: $help,
            build: |cfg| blocking(<$ty>::new(cfg)),
        }
    };
}

/// Collectors that read /proc or /sys are on by default only on Linux; elsewhere the defaults are
/// the sysinfo-backed basics, textfile, time and uname (the others can still be enabled, and then
/// report `node_scrape_collector_success 0`).
const LINUX: bool = cfg!(target_os = "linux");

/// Every collector, sorted by name.
pub static COLLECTORS: &[CollectorSpec] = &[
    spec!("arp", LINUX, "Exposes ARP statistics from /proc/net/arp.", arp::ArpCollector),
    spec!("conntrack", LINUX, "Exposes conntrack stats.", conntrack::ConntrackCollector),
    spec!("cpu", true, "Exposes CPU statistics.", basics::CpuCollector),
    spec!("cpufreq", LINUX, "Exposes CPU frequency statistics.", cpufreq::CpufreqCollector),
    spec!("diskstats", LINUX, "Exposes disk I/O statistics.", diskstats::DiskstatsCollector),
    spec!("edac", LINUX, "Exposes error detection and correction statistics.", edac::EdacCollector),
    spec!("entropy", LINUX, "Exposes available entropy.", entropy::EntropyCollector),
    spec!("filefd", LINUX, "Exposes file descriptor statistics from /proc/sys/fs/file-nr.", filefd::FilefdCollector),
    spec!("filesystem", true, "Exposes filesystem statistics, such as disk space used.", basics::FilesystemCollector),
    spec!("hwmon", LINUX, "Exposes hardware monitoring and sensor data from /sys/class/hwmon.", hwmon::HwmonCollector),
    spec!("loadavg", true, "Exposes load average.", basics::LoadavgCollector),
    spec!("meminfo", true, "Exposes memory statistics.", basics::MeminfoCollector),
    spec!("netclass", LINUX, "Exposes network interface info from /sys/class/net.", netclass::NetclassCollector),
    spec!("netdev", true, "Exposes network interface statistics such as bytes transferred.", basics::NetdevCollector),
    spec!("netstat", LINUX, "Exposes network statistics from /proc/net/netstat.", netstat::NetstatCollector),
    spec!("os", LINUX, "Exposes OS release info from os-release files.", os::OsCollector),
    spec!("powersupplyclass", LINUX, "Exposes power supply statistics from /sys/class/power_supply.", powersupplyclass::PowersupplyclassCollector),
    spec!("pressure", LINUX, "Exposes pressure stall statistics from /proc/pressure.", pressure::PressureCollector),
    spec!("processes", false, "Exposes aggregate process statistics from /proc.", processes::ProcessesCollector),
    spec!("schedstat", LINUX, "Exposes task scheduler statistics from /proc/schedstat.", schedstat::SchedstatCollector),
    spec!("selinux", LINUX, "Exposes SELinux statistics.", selinux::SelinuxCollector),
    spec!("sockstat", LINUX, "Exposes various statistics from /proc/net/sockstat.", sockstat::SockstatCollector),
    spec!("softnet", LINUX, "Exposes statistics from /proc/net/softnet_stat.", softnet::SoftnetCollector),
    spec!("stat", LINUX, "Exposes various statistics from /proc/stat.", stat::StatCollector),
    spec!("textfile", true, "Exposes statistics read from local disk.", textfile::TextfileCollector),
    spec!("thermal_zone", LINUX, "Exposes thermal zone & cooling device statistics from /sys/class/thermal.", thermal_zone::ThermalZoneCollector),
    spec!("time", true, "Exposes the current system time.", time::TimeCollector),
    spec!("timex", LINUX, "Exposes selected adjtimex(2) system call stats.", timex::TimexCollector),
    spec!("udp_queues", LINUX, "Exposes UDP total lengths of the rx_queue and tx_queue from /proc/net/udp and /proc/net/udp6.", udp_queues::UdpQueuesCollector),
    spec!("uname", true, "Exposes system information as provided by the uname system call.", uname::UnameCollector),
    spec!("vmstat", LINUX, "Exposes statistics from /proc/vmstat.", vmstat::VmstatCollector),
];

/// Looks up a collector by name.
pub fn find(name: &str) -> Option<&'static CollectorSpec> {
    COLLECTORS.iter().find(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        let names: Vec<_> = COLLECTORS.iter().map(|c| c.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted);
    }
}
