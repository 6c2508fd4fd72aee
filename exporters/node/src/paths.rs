//! Where the host's /proc, /sys, / and udev database are (`--path.*`), shared by every
//! collector. They are values handed to collectors (never globals), so tests point them at
//! fixture trees. A collector's own options live in its file.

use std::path::PathBuf;

use clap::Args;

/// The `--path.*` flags: where collectors find the host's files.
#[derive(Debug, Clone, Args)]
pub struct HostPaths {
    /// procfs mountpoint.
    #[arg(long = "path.procfs", id = "path.procfs", default_value = "/proc")]
    pub procfs: PathBuf,
    /// sysfs mountpoint.
    #[arg(long = "path.sysfs", id = "path.sysfs", default_value = "/sys")]
    pub sysfs: PathBuf,
    /// rootfs mountpoint.
    #[arg(long = "path.rootfs", id = "path.rootfs", default_value = "/")]
    pub rootfs: PathBuf,
    /// udev data path.
    #[arg(
        long = "path.udev.data",
        id = "path.udev.data",
        default_value = "/run/udev/data"
    )]
    pub udev_data: PathBuf,
}

impl Default for HostPaths {
    fn default() -> Self {
        HostPaths {
            procfs: "/proc".into(),
            sysfs: "/sys".into(),
            rootfs: "/".into(),
            udev_data: "/run/udev/data".into(),
        }
    }
}

impl HostPaths {
    /// `rel` under procfs.
    pub fn proc_path(&self, rel: &str) -> PathBuf {
        self.procfs.join(rel)
    }

    /// `rel` under sysfs.
    pub fn sys_path(&self, rel: &str) -> PathBuf {
        self.sysfs.join(rel)
    }

    /// Maps a path as seen on the host (e.g. a mount point) to where it is visible to us
    /// (`--path.rootfs`, for running in a container with the host's / mounted).
    pub fn root_path(&self, host_path: &str) -> PathBuf {
        self.rootfs.join(host_path.trim_start_matches('/'))
    }
}
