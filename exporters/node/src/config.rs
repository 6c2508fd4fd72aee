//! Everything a collector may be configured with. Paths are values handed to collectors (never
//! globals), so tests point them at fixture trees.

use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;

/// Debian's build excludes these mount points by default (`prometheus-node-exporter --help`).
pub const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
pub const DEFAULT_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";
pub const DEFAULT_DISKSTATS_DEVICE_EXCLUDE: &str =
    r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";
/// Debian's build leaves the loopback device out of netdev.
pub const DEFAULT_NETDEV_DEVICE_EXCLUDE: &str = "^lo$";
pub const DEFAULT_NETSTAT_FIELDS: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";
pub const DEFAULT_VMSTAT_FIELDS: &str = "^(oom_kill|pgpg|pswp|pg.*fault).*";

#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    pub rootfs: PathBuf,
    /// udev's database (`/run/udev/data`), source of `node_disk_info`'s model/serial labels.
    pub udev_data: PathBuf,
    pub filesystem: FilesystemConfig,
    pub netdev: DeviceFilter,
    pub netclass_ignored_devices: Option<Regex>,
    pub diskstats_device_exclude: Option<Regex>,
    pub netstat_fields: Regex,
    pub vmstat_fields: Regex,
    pub cpu_info: bool,
    pub cpu_guest: bool,
    pub textfile_directory: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct FilesystemConfig {
    pub mount_points_exclude: Regex,
    pub fs_types_exclude: Regex,
    /// How long one statfs may take before the mount is reported as stuck and skipped.
    pub mount_timeout: Duration,
}

/// Include/exclude regexes on device names (at most one of them is set).
#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    pub include: Option<Regex>,
    pub exclude: Option<Regex>,
}

impl DeviceFilter {
    pub fn ignored(&self, device: &str) -> bool {
        self.exclude.as_ref().is_some_and(|r| r.is_match(device))
            || self.include.as_ref().is_some_and(|r| !r.is_match(device))
    }
}

impl Default for NodeConfig {
    fn default() -> Self {
        let re = |s: &str| Regex::new(s).expect("built-in regex");
        NodeConfig {
            procfs: "/proc".into(),
            sysfs: "/sys".into(),
            rootfs: "/".into(),
            udev_data: "/run/udev/data".into(),
            filesystem: FilesystemConfig {
                mount_points_exclude: re(DEFAULT_MOUNT_POINTS_EXCLUDE),
                fs_types_exclude: re(DEFAULT_FS_TYPES_EXCLUDE),
                mount_timeout: Duration::from_secs(5),
            },
            netdev: DeviceFilter {
                include: None,
                exclude: Some(re(DEFAULT_NETDEV_DEVICE_EXCLUDE)),
            },
            netclass_ignored_devices: Some(re("^$")),
            diskstats_device_exclude: Some(re(DEFAULT_DISKSTATS_DEVICE_EXCLUDE)),
            netstat_fields: re(DEFAULT_NETSTAT_FIELDS),
            vmstat_fields: re(DEFAULT_VMSTAT_FIELDS),
            cpu_info: false,
            cpu_guest: true,
            textfile_directory: None,
        }
    }
}

impl NodeConfig {
    pub fn proc_path(&self, rel: &str) -> PathBuf {
        self.procfs.join(rel)
    }

    pub fn sys_path(&self, rel: &str) -> PathBuf {
        self.sysfs.join(rel)
    }

    /// Maps a path as seen on the host (e.g. a mount point) to where it is visible to us
    /// (`--path.rootfs`, for running in a container with the host's / mounted).
    pub fn root_path(&self, host_path: &str) -> PathBuf {
        self.rootfs.join(host_path.trim_start_matches('/'))
    }
}
