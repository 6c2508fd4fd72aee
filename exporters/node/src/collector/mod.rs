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

/// Every collector, sorted by name.
pub static COLLECTORS: &[CollectorSpec] = &[
    spec!("arp", true, "Exposes ARP statistics from /proc/net/arp.", arp::ArpCollector),
    spec!("conntrack", true, "Exposes conntrack stats.", conntrack::ConntrackCollector),
    spec!("cpu", true, "Exposes CPU statistics.", cpu::CpuCollector),
    spec!("cpufreq", true, "Exposes CPU frequency statistics.", cpufreq::CpufreqCollector),
    spec!("diskstats", true, "Exposes disk I/O statistics.", diskstats::DiskstatsCollector),
    spec!("edac", true, "Exposes error detection and correction statistics.", edac::EdacCollector),
    spec!("entropy", true, "Exposes available entropy.", entropy::EntropyCollector),
    spec!("filefd", true, "Exposes file descriptor statistics from /proc/sys/fs/file-nr.", filefd::FilefdCollector),
    spec!("filesystem", true, "Exposes filesystem statistics, such as disk space used.", filesystem::FilesystemCollector),
    spec!("hwmon", true, "Exposes hardware monitoring and sensor data from /sys/class/hwmon.", hwmon::HwmonCollector),
    spec!("loadavg", true, "Exposes load average.", loadavg::LoadavgCollector),
    spec!("meminfo", true, "Exposes memory statistics.", meminfo::MeminfoCollector),
    spec!("netclass", true, "Exposes network interface info from /sys/class/net.", netclass::NetclassCollector),
    spec!("netdev", true, "Exposes network interface statistics such as bytes transferred.", netdev::NetdevCollector),
    spec!("netstat", true, "Exposes network statistics from /proc/net/netstat.", netstat::NetstatCollector),
    spec!("os", true, "Exposes OS release info from os-release files.", os::OsCollector),
    spec!("powersupplyclass", true, "Exposes power supply statistics from /sys/class/power_supply.", powersupplyclass::PowersupplyclassCollector),
    spec!("pressure", true, "Exposes pressure stall statistics from /proc/pressure.", pressure::PressureCollector),
    spec!("processes", false, "Exposes aggregate process statistics from /proc.", processes::ProcessesCollector),
    spec!("schedstat", true, "Exposes task scheduler statistics from /proc/schedstat.", schedstat::SchedstatCollector),
    spec!("selinux", true, "Exposes SELinux statistics.", selinux::SelinuxCollector),
    spec!("sockstat", true, "Exposes various statistics from /proc/net/sockstat.", sockstat::SockstatCollector),
    spec!("softnet", true, "Exposes statistics from /proc/net/softnet_stat.", softnet::SoftnetCollector),
    spec!("stat", true, "Exposes various statistics from /proc/stat.", stat::StatCollector),
    spec!("textfile", true, "Exposes statistics read from local disk.", textfile::TextfileCollector),
    spec!("thermal_zone", true, "Exposes thermal zone & cooling device statistics from /sys/class/thermal.", thermal_zone::ThermalZoneCollector),
    spec!("time", true, "Exposes the current system time.", time::TimeCollector),
    spec!("timex", true, "Exposes selected adjtimex(2) system call stats.", timex::TimexCollector),
    spec!("udp_queues", true, "Exposes UDP total lengths of the rx_queue and tx_queue from /proc/net/udp and /proc/net/udp6.", udp_queues::UdpQueuesCollector),
    spec!("uname", true, "Exposes system information as provided by the uname system call.", uname::UnameCollector),
    spec!("vmstat", true, "Exposes statistics from /proc/vmstat.", vmstat::VmstatCollector),
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
