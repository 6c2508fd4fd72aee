//! The collector table: one file per collector, in the layout of prometheus/node_exporter, and
//! one row here per collector.
//!
//! A row ([`CollectorSpec`], exporter-core's row type with the node-specific [`NodeBuild`]) holds
//! the name, whether it is on by default and its help line, from which come the
//! `--collector.<name>` / `--no-collector.<name>` switches, plus the collector's own flags and
//! constructor. A collector with options declares them in its file as a clap `Args` struct that
//! implements [`CollectorFlags`] (its flags, defaults and validation beside the collector, as
//! node_exporter's `kingpin.Flag` beside `registerCollector`); the row names that struct.

use clap::{ArgMatches, Args, Command, FromArgMatches};
use exporter_core::collector_table::CollectorTable;
use exporter_core::{asynchronous, blocking, AnyCollector};
use regex::Regex;

use crate::paths::HostPaths;

pub mod arp;
pub mod bcache;
pub mod bonding;
pub mod btrfs;
pub mod conntrack;
pub mod cpu;
pub mod cpufreq;
pub mod diskstats;
pub mod dmi;
pub mod edac;
pub mod entropy;
#[cfg(target_os = "linux")]
pub mod ethtool;
pub mod fibrechannel;
pub mod filefd;
pub mod filesystem;
pub mod hwmon;
pub mod infiniband;
pub mod ipvs;
pub mod loadavg;
pub mod mdadm;
pub mod meminfo;
pub mod netclass;
pub mod netdev;
pub mod netstat;
pub mod nfs;
pub mod nfsd;
pub mod nvme;
pub mod os;
pub mod portable;
pub mod powersupplyclass;
pub mod pressure;
pub mod processes;
pub mod rapl;
pub mod schedstat;
pub mod selinux;
pub mod sockstat;
pub mod softnet;
pub mod stat;
pub mod systemd;
pub mod tapestats;
pub mod textfile;
pub mod thermal_zone;
pub mod time;
pub mod timex;
pub mod udp_queues;
pub mod uname;
pub mod vmstat;
pub mod xfs;
pub mod zfs;

/// The collectors of the basics the guide queries (cpu, memory, filesystem, network, load): on
/// Linux from /proc and /sys, elsewhere through sysinfo under the same names.
#[cfg(target_os = "linux")]
mod basics {
    pub(super) use super::cpu::CpuCollector;
    pub(super) use super::filesystem::FilesystemCollector;
    pub(super) use super::loadavg::LoadavgCollector;
    pub(super) use super::meminfo::MeminfoCollector;
    pub(super) use super::netdev::NetdevCollector;
}
#[cfg(not(target_os = "linux"))]
use portable as basics;

/// What the binary needs of a collector beyond its switch: its own flags and its constructor.
pub struct NodeBuild {
    /// Adds the collector's own flags (`--collector.<name>.*`) to the command line.
    pub add_flags: fn(Command) -> Command,
    /// Makes the collector from the shared paths and the parsed command line, checking its own
    /// flags (a bad value gives an error naming the flag).
    pub new: fn(&HostPaths, &ArgMatches) -> Result<AnyCollector, String>,
}

/// One row of the node collector table.
pub type CollectorSpec = exporter_core::collector_table::CollectorSpec<NodeBuild>;

/// A collector's own flags: a clap `Args` struct in the collector's file, read back into the
/// options its constructor takes.
pub trait CollectorFlags: Args + FromArgMatches {
    /// What the collector's constructor takes: the flags checked and compiled.
    type Options;
    /// Checks the flags; an error names the flag at fault.
    fn options(self) -> Result<Self::Options, String>;
}

/// Reads `F` back from the command line and checks it.
fn options<F: CollectorFlags>(matches: &ArgMatches) -> Result<F::Options, String> {
    F::from_arg_matches(matches)
        .map_err(|e| e.to_string())?
        .options()
}

/// Compiles the regular expression given to `--<flag>`; the error names the flag.
pub(crate) fn flag_regex(flag: &str, value: &str) -> Result<Regex, String> {
    Regex::new(value).map_err(|e| format!("--{flag}: invalid regular expression: {e}"))
}

/// A row from its parts: how the collector adds its own flags to the command line, and how it
/// is built from the paths and the parsed command line.
macro_rules! row {
    ($name:literal, $default:expr, $help:literal, $add_flags:expr, $new:expr) => {
        CollectorSpec {
            name: $name,
            default_enabled: $default,
            help: $help,
            build: NodeBuild {
                add_flags: $add_flags,
                new: $new,
            },
        }
    };
}

/// A row. `spec!(name, default, help, Collector)` for a collector built from the paths alone;
/// `spec!(name, default, help, Collector, Flags)` for one with its own flags, built with
/// `Collector::new(paths, &options)`.
macro_rules! spec {
    ($name:literal, $default:expr, $help:literal, $ty:path) => {
        row!($name, $default, $help, |cmd| cmd, |paths, _| {
            Ok(blocking(<$ty>::new(paths)))
        })
    };
    ($name:literal, $default:expr, $help:literal, $ty:path, $flags:path) => {
        row!(
            $name,
            $default,
            $help,
            <$flags as Args>::augment_args,
            |paths, matches| Ok(blocking(<$ty>::new(paths, &options::<$flags>(matches)?)))
        )
    };
}

/// A row for an asynchronous collector (one that waits on a socket, not a file), with its own
/// flags: `spec_async!(name, default, help, Collector, Flags)`.
macro_rules! spec_async {
    ($name:literal, $default:expr, $help:literal, $ty:path, $flags:path) => {
        row!(
            $name,
            $default,
            $help,
            <$flags as Args>::augment_args,
            |_, matches| Ok(asynchronous(<$ty>::new(&options::<$flags>(matches)?)))
        )
    };
}

/// Collectors that read /proc or /sys are on by default only on Linux; elsewhere the defaults are
/// the sysinfo-backed basics, textfile, time and uname (the others can still be enabled, and then
/// report `node_scrape_collector_success 0`).
const LINUX: bool = cfg!(target_os = "linux");

/// Every collector, sorted by name.
pub const COLLECTORS: CollectorTable<NodeBuild> = CollectorTable::new(ROWS);

/// The rows of [`COLLECTORS`].
static ROWS: &[CollectorSpec] = &[
    spec!("arp", LINUX, "Exposes ARP statistics from /proc/net/arp.", arp::ArpCollector),
    spec!("bcache", LINUX, "Exposes bcache statistics from /sys/fs/bcache/.", bcache::BcacheCollector, bcache::BcacheFlags),
    spec!("bonding", LINUX, "Exposes the number of configured and active slaves of Linux bonding interfaces.", bonding::BondingCollector),
    spec!("btrfs", LINUX, "Exposes btrfs statistics", btrfs::BtrfsCollector),
    spec!("conntrack", LINUX, "Exposes conntrack stats.", conntrack::ConntrackCollector),
    spec!("cpu", true, "Exposes CPU statistics.", basics::CpuCollector, cpu::CpuFlags),
    spec!("cpufreq", LINUX, "Exposes CPU frequency statistics.", cpufreq::CpufreqCollector),
    spec!("diskstats", LINUX, "Exposes disk I/O statistics.", diskstats::DiskstatsCollector, diskstats::DiskstatsFlags),
    spec!("dmi", LINUX, "Expose Desktop Management Interface (DMI) info from /sys/class/dmi/id/", dmi::DmiCollector),
    spec!("edac", LINUX, "Exposes error detection and correction statistics.", edac::EdacCollector),
    spec!("entropy", LINUX, "Exposes available entropy.", entropy::EntropyCollector),
    #[cfg(target_os = "linux")]
    spec!("ethtool", false, "Exposes network interface information and network driver statistics equivalent to `ethtool`, `ethtool -S`, and `ethtool -i`.", ethtool::EthtoolCollector, ethtool::EthtoolFlags),
    spec!("fibrechannel", LINUX, "Exposes fibre channel information and statistics from /sys/class/fc_host/.", fibrechannel::FibrechannelCollector),
    spec!("filefd", LINUX, "Exposes file descriptor statistics from /proc/sys/fs/file-nr.", filefd::FilefdCollector),
    spec!("filesystem", true, "Exposes filesystem statistics, such as disk space used.", basics::FilesystemCollector, filesystem::FilesystemFlags),
    spec!("hwmon", LINUX, "Exposes hardware monitoring and sensor data from /sys/class/hwmon.", hwmon::HwmonCollector),
    spec!("infiniband", LINUX, "Exposes network statistics specific to InfiniBand and Intel OmniPath configurations.", infiniband::InfinibandCollector),
    spec!("ipvs", LINUX, "Exposes IPVS status from /proc/net/ip_vs and stats from /proc/net/ip_vs_stats.", ipvs::IpvsCollector, ipvs::IpvsFlags),
    spec!("loadavg", true, "Exposes load average.", basics::LoadavgCollector),
    spec!("mdadm", LINUX, "Exposes statistics about devices in /proc/mdstat (does nothing if no /proc/mdstat present).", mdadm::MdadmCollector),
    spec!("meminfo", true, "Exposes memory statistics.", basics::MeminfoCollector),
    spec!("netclass", LINUX, "Exposes network interface info from /sys/class/net.", netclass::NetclassCollector, netclass::NetclassFlags),
    spec!("netdev", true, "Exposes network interface statistics such as bytes transferred.", basics::NetdevCollector, netdev::NetdevFlags),
    spec!("netstat", LINUX, "Exposes network statistics from /proc/net/netstat.", netstat::NetstatCollector, netstat::NetstatFlags),
    spec!("nfs", LINUX, "Exposes NFS client statistics from /proc/net/rpc/nfs.", nfs::NfsCollector),
    spec!("nfsd", LINUX, "Exposes NFS kernel server statistics from /proc/net/rpc/nfsd.", nfsd::NfsdCollector),
    spec!("nvme", LINUX, "Exposes NVMe info from /sys/class/nvme/", nvme::NvmeCollector),
    spec!("os", LINUX, "Exposes OS release info from os-release files.", os::OsCollector),
    spec!("powersupplyclass", LINUX, "Exposes power supply statistics from /sys/class/power_supply.", powersupplyclass::PowersupplyclassCollector),
    spec!("pressure", LINUX, "Exposes pressure stall statistics from /proc/pressure.", pressure::PressureCollector),
    spec!("processes", false, "Exposes aggregate process statistics from /proc.", processes::ProcessesCollector),
    spec!("rapl", LINUX, "Exposes various statistics from /sys/class/powercap.", rapl::RaplCollector, rapl::RaplFlags),
    spec!("schedstat", LINUX, "Exposes task scheduler statistics from /proc/schedstat.", schedstat::SchedstatCollector),
    spec!("selinux", LINUX, "Exposes SELinux statistics.", selinux::SelinuxCollector),
    spec!("sockstat", LINUX, "Exposes various statistics from /proc/net/sockstat.", sockstat::SockstatCollector),
    spec!("softnet", LINUX, "Exposes statistics from /proc/net/softnet_stat.", softnet::SoftnetCollector),
    spec!("stat", LINUX, "Exposes various statistics from /proc/stat.", stat::StatCollector),
    spec_async!("systemd", false, "Exposes service and system status from systemd.", systemd::SystemdCollector, systemd::SystemdFlags),
    spec!("tapestats", LINUX, "Exposes statistics from /sys/class/scsi_tape.", tapestats::TapestatsCollector, tapestats::TapestatsFlags),
    spec!("textfile", true, "Exposes statistics read from local disk.", textfile::TextfileCollector, textfile::TextfileFlags),
    spec!("thermal_zone", LINUX, "Exposes thermal zone & cooling device statistics from /sys/class/thermal.", thermal_zone::ThermalZoneCollector),
    spec!("time", true, "Exposes the current system time.", time::TimeCollector),
    spec!("timex", LINUX, "Exposes selected adjtimex(2) system call stats.", timex::TimexCollector),
    spec!("udp_queues", LINUX, "Exposes UDP total lengths of the rx_queue and tx_queue from /proc/net/udp and /proc/net/udp6.", udp_queues::UdpQueuesCollector),
    spec!("uname", true, "Exposes system information as provided by the uname system call.", uname::UnameCollector),
    spec!("vmstat", LINUX, "Exposes statistics from /proc/vmstat.", vmstat::VmstatCollector, vmstat::VmstatFlags),
    spec!("xfs", LINUX, "Exposes XFS runtime statistics.", xfs::XfsCollector),
    spec!("zfs", LINUX, "Exposes ZFS performance statistics.", zfs::ZfsCollector),
];

/// Adds every collector's switches and own flags to the command line.
pub fn add_flags(mut cmd: Command) -> Command {
    for row in COLLECTORS.rows() {
        cmd = (row.build.add_flags)(cmd);
    }
    COLLECTORS.add_switches(cmd)
}
