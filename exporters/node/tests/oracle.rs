//! The oracle: Debian's `prometheus-node-exporter` (node_exporter 1.5) and ours read the same
//! fixture trees (`--path.procfs`, `--path.sysfs`, `--path.rootfs`, `--path.udev.data`) with the
//! same collectors, and must serve the same families (type and help), the same series (label
//! sets) and the same values, `node_scrape_collector_success` included.
//!
//! The trees under `tests/fixtures/oracle/<kind>/{proc,sys,rootfs,udev}` are written by hand from the
//! kernel's documented formats (proc(5), Documentation/ABI, the drivers' own docs and the
//! `seq_printf`s that produce them), one per kind of host:
//! - `basic`: the /proc files every Linux host has, and the CPUs' topology, throttle counts and
//!   cpufreq files;
//! - `bcache`: a cache set with a backing device (sizes in `bch_hprint`'s form, a writeback
//!   controller's debug state) and a cache device;
//! - `bonding`: two bonds, one with a slave down, in the old and new sysfs layouts;
//! - `btrfs`: a two-device RAID1 filesystem (its sysfs side: upstream's ioctls need a mount);
//! - `mdadm`: RAID 0/1/5/6/10 and linear arrays, clean, recovering, resyncing, checking, pending
//!   and inactive, with failed and spare members;
//! - `hardware`: NVMe controllers, DMI, RAPL zones, hwmon chips, a battery and a mains supply,
//!   os-release;
//! - `disk`: /proc/diskstats of a SATA SSD, an NVMe drive, a device-mapper volume, an md array
//!   and the partitions and loop device left out by default, with their udev database entries;
//! - `fibrechannel`: an HBA with a counter its firmware does not implement;
//! - `infiniband`: an adapter with an active and a disabled port, 64-bit counters in the
//!   pre-4.5 `counters_ext/` and a counter that reads `N/A (no PMA)`;
//! - `ipvs`: TCP, UDP, IPv6 and firewall-mark services;
//! - `nfs`: the client's and the server's RPC counters;
//! - `tape`: SCSI tape drives beside their other device nodes;
//! - `xfs`: two filesystems beside the global stats file;
//! - `zfs`: module-wide kstats (with an `int64` row and a counter near 2^64), an online pool
//!   with its `io` and two datasets, a degraded pool.
//!
//! An empty tree checks what each of those collectors does when its files are absent.
//!
//! The collectors that read no files are compared on live sources of their own: `systemd` over a
//! real dbus-daemon serving a stand-in for systemd (`oracle/systemd.rs`, `oracle/dbus.rs`), and
//! `ethtool` on veth and bridge devices in a network namespace of the test's own
//! (`oracle/ethtool.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use exporter_core::testkit::{family_shapes, free_port, samples, wait_http, ChildGuard};

#[path = "oracle/dbus.rs"]
mod dbus;
#[path = "oracle/ethtool.rs"]
mod ethtool;
#[path = "oracle/systemd.rs"]
mod systemd;

const OURS: &str = env!("CARGO_BIN_EXE_node-exporter");
const UPSTREAM: &str = "/usr/bin/prometheus-node-exporter";

/// The collectors each tree is written for.
const CASES: &[(&str, &[&str])] = &[
    (
        "basic",
        &[
            "arp",
            "conntrack",
            "cpu",
            "cpufreq",
            "edac",
            "entropy",
            "filefd",
            "loadavg",
            "meminfo",
            "netstat",
            "pressure",
            "schedstat",
            "sockstat",
            "softnet",
            "stat",
            "thermal_zone",
            "udp_queues",
            "vmstat",
        ],
    ),
    ("bcache", &["bcache"]),
    ("bonding", &["bonding"]),
    ("btrfs", &["btrfs"]),
    ("mdadm", &["mdadm"]),
    (
        "hardware",
        &["dmi", "hwmon", "nvme", "os", "powersupplyclass", "rapl"],
    ),
    ("disk", &["diskstats"]),
    ("fibrechannel", &["fibrechannel"]),
    ("infiniband", &["infiniband"]),
    ("ipvs", &["ipvs"]),
    ("nfs", &["nfs", "nfsd"]),
    ("tape", &["tapestats"]),
    ("xfs", &["xfs"]),
    ("zfs", &["zfs"]),
];

/// Trees read again with a collector's own flags set, as the same flags reach upstream.
const WITH_FLAGS: &[(&str, &[&str], &[&str])] = &[
    ("bcache", &["bcache"], &["--collector.bcache.priorityStats"]),
    (
        "hardware",
        &["rapl"],
        &["--collector.rapl.enable-zone-label"],
    ),
    (
        "ipvs",
        &["ipvs"],
        &["--collector.ipvs.backend-labels=proto,local_address"],
    ),
    (
        "tape",
        &["tapestats"],
        &["--collector.tapestats.ignored-devices=^st1$"],
    ),
];

/// Families that say nothing about the host: the exporter's own, the Go runtime's, and the time a
/// collector took.
fn exempt(name: &str) -> bool {
    name.starts_with("go_")
        || name.starts_with("process_")
        || name.starts_with("promhttp_")
        || name == "node_exporter_build_info"
        || name == "node_scrape_collector_duration_seconds"
}

/// Families ours adds on purpose: node_exporter 1.6+ emits them from the same files (see the
/// README's "Current upstream releases"); 1.5 does not.
const OURS_ONLY: &[&str] = &[
    "node_cpu_scaling_governor",
    "node_softnet_backlog_len",
    "node_softnet_cpu_collision_total",
    "node_softnet_flow_limit_count_total",
    "node_softnet_received_rps_total",
];

fn fixture(tree: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/oracle")
        .join(tree)
}

/// Starts `cmd` (an exporter and its arguments but the listen address) on a free loopback port:
/// its guard, named `name`, and its /metrics URL.
pub(crate) fn serve_on_free_port(name: &str, cmd: &mut Command) -> (ChildGuard, String) {
    let port = free_port();
    cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"));
    let guard = ChildGuard::spawn(name, cmd);
    (guard, format!("http://127.0.0.1:{port}/metrics"))
}

/// How long an exporter may take to answer its first scrape.
pub(crate) const FIRST_SCRAPE: Duration = Duration::from_secs(20);

/// One scrape of `bin` reading `root`'s proc, sys, rootfs and udev with only `collectors` on,
/// and `flags`.
fn scrape(bin: &str, root: &Path, collectors: &[&str], flags: &[&str]) -> String {
    // Git keeps no empty directory: a tree whose proc, sys or rootfs holds nothing still has it.
    for dir in ["proc", "sys", "rootfs"] {
        std::fs::create_dir_all(root.join(dir)).expect("fixture directory");
    }
    let mut cmd = Command::new(bin);
    cmd.arg(format!("--path.procfs={}", root.join("proc").display()))
        .arg(format!("--path.sysfs={}", root.join("sys").display()))
        .arg(format!("--path.rootfs={}", root.join("rootfs").display()))
        .arg(format!("--path.udev.data={}", root.join("udev").display()))
        .arg("--collector.disable-defaults")
        .args(collectors.iter().map(|c| format!("--collector.{c}")))
        .args(flags)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let (_guard, url) = serve_on_free_port(bin, &mut cmd);
    wait_http(&url, FIRST_SCRAPE)
}

fn helps(text: &str) -> BTreeMap<&str, &str> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# HELP "))
        .filter_map(|l| l.split_once(' '))
        .collect()
}

type Series = BTreeMap<(String, Vec<(String, String)>), f64>;

fn series(text: &str) -> Series {
    samples(text)
        .into_iter()
        .filter(|(name, _, _)| !exempt(name) && !OURS_ONLY.contains(&name.as_str()))
        .map(|(name, mut labels, value)| {
            labels.sort();
            ((name, labels), value)
        })
        .collect()
}

/// Every way ours differs from upstream's exposition.
fn differences(theirs: &str, ours: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let (their_shapes, our_shapes) = (family_shapes(theirs), family_shapes(ours));
    let (their_helps, our_helps) = (helps(theirs), helps(ours));
    for (name, shape) in their_shapes.iter().filter(|(n, _)| !exempt(n)) {
        match our_shapes.get(name) {
            None => problems.push(format!("missing family {name}")),
            Some(o) if o.kind != shape.kind => problems.push(format!(
                "{name}: type {} vs upstream {}",
                o.kind, shape.kind
            )),
            Some(_) if their_helps.get(name.as_str()) != our_helps.get(name.as_str()) => problems
                .push(format!(
                    "{name}: help {:?} vs upstream {:?}",
                    our_helps.get(name.as_str()),
                    their_helps.get(name.as_str())
                )),
            Some(_) => {}
        }
    }
    for name in our_shapes.keys() {
        if !exempt(name) && !OURS_ONLY.contains(&name.as_str()) && !their_shapes.contains_key(name)
        {
            problems.push(format!("extra family {name}"));
        }
    }
    let (t, o) = (series(theirs), series(ours));
    let keys: BTreeSet<_> = t.keys().chain(o.keys()).collect();
    for key in keys {
        match (t.get(key), o.get(key)) {
            (Some(a), Some(b)) if a == b || (a.is_nan() && b.is_nan()) => {}
            (a, b) => problems.push(format!("{key:?}: ours {b:?} vs upstream {a:?}")),
        }
    }
    problems
}

fn success(text: &str, collector: &str) -> Option<f64> {
    samples(text).into_iter().find_map(|(n, l, v)| {
        (n == "node_scrape_collector_success"
            && l.iter()
                .any(|(k, val)| k == "collector" && val == collector))
        .then_some(v)
    })
}

/// For each set of flags: `scrape(bin, flags)` of upstream must have `collector` succeed, and
/// ours must match it (see [`differences`]); every difference is reported at once.
fn assert_same_as_upstream_with_each(
    collector: &str,
    flag_sets: &[&[&str]],
    scrape: impl Fn(&str, &[&str]) -> String,
) {
    let mut problems = Vec::new();
    for flags in flag_sets {
        let theirs = scrape(UPSTREAM, flags);
        assert_eq!(
            success(&theirs, collector),
            Some(1.0),
            "upstream's {collector} collector failed with {flags:?}: {theirs}"
        );
        let ours = scrape(OURS, flags);
        problems.extend(
            differences(&theirs, &ours)
                .into_iter()
                .map(|p| format!("{flags:?}: {p}")),
        );
    }
    assert!(
        problems.is_empty(),
        "{} differences from upstream:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

fn compare(root: &Path, collectors: &[&str], flags: &[&str]) -> (String, Vec<String>) {
    let theirs = scrape(UPSTREAM, root, collectors, flags);
    let ours = scrape(OURS, root, collectors, flags);
    let problems = differences(&theirs, &ours);
    (theirs, problems)
}

fn assert_same_as_upstream(tree: &str) {
    assert!(
        Path::new(UPSTREAM).exists(),
        "{UPSTREAM} is missing: apt-get install prometheus-node-exporter"
    );
    let collectors = CASES
        .iter()
        .find(|(t, _)| *t == tree)
        .map(|(_, c)| *c)
        .expect("a tree of CASES");
    let (theirs, problems) = compare(&fixture(tree), collectors, &[]);
    // The tree is whole: upstream reads every collector's files without an error.
    for c in collectors {
        assert_eq!(
            success(&theirs, c),
            Some(1.0),
            "upstream's {c} collector fails on the {tree} tree"
        );
    }
    assert!(
        problems.is_empty(),
        "{tree}: {} differences from upstream:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn basic_tree() {
    assert_same_as_upstream("basic");
}

#[test]
fn bcache_tree() {
    assert_same_as_upstream("bcache");
}

#[test]
fn bonding_tree() {
    assert_same_as_upstream("bonding");
}

#[test]
fn btrfs_tree() {
    assert_same_as_upstream("btrfs");
}

#[test]
fn mdadm_tree() {
    assert_same_as_upstream("mdadm");
}

#[test]
fn hardware_tree() {
    assert_same_as_upstream("hardware");
}

#[test]
fn disk_tree() {
    assert_same_as_upstream("disk");
}

#[test]
fn fibrechannel_tree() {
    assert_same_as_upstream("fibrechannel");
}

#[test]
fn infiniband_tree() {
    assert_same_as_upstream("infiniband");
}

#[test]
fn ipvs_tree() {
    assert_same_as_upstream("ipvs");
}

#[test]
fn nfs_tree() {
    assert_same_as_upstream("nfs");
}

#[test]
fn tape_tree() {
    assert_same_as_upstream("tape");
}

#[test]
fn xfs_tree() {
    assert_same_as_upstream("xfs");
}

#[test]
fn zfs_tree() {
    assert_same_as_upstream("zfs");
}

/// Every collector of every tree on a host that has none of their files: the same success or
/// failure as upstream, and no series.
#[test]
fn absent_files() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["proc", "sys", "rootfs"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
    }
    let collectors: Vec<&str> = CASES.iter().flat_map(|(_, c)| c.iter().copied()).collect();
    let (_, problems) = compare(dir.path(), &collectors, &[]);
    assert!(
        problems.is_empty(),
        "absent files: {} differences from upstream:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The collectors' own flags (bcache's priority stats, RAPL zone labels, IPVS backend labels,
/// ignored tape drives) change the output as they change upstream's.
#[test]
fn collector_flags() {
    let mut problems = Vec::new();
    for (tree, collectors, flags) in WITH_FLAGS {
        let (theirs, found) = compare(&fixture(tree), collectors, flags);
        for c in *collectors {
            assert_eq!(
                success(&theirs, c),
                Some(1.0),
                "upstream's {c} with {flags:?}"
            );
        }
        problems.extend(found.into_iter().map(|p| format!("{tree} {flags:?}: {p}")));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn differences_are_found() {
    let theirs = "# HELP node_a A.\n# TYPE node_a gauge\nnode_a{x=\"1\"} 1\nnode_b 2\n";
    assert!(differences(theirs, theirs).is_empty());
    let ours = "# HELP node_a A.\n# TYPE node_a counter\nnode_a{x=\"2\"} 1\nnode_c 2\n";
    let found = differences(theirs, ours).join("\n");
    for want in [
        "node_a: type counter",
        "missing family node_b",
        "extra family node_c",
        "\"2\"",
    ] {
        assert!(found.contains(want), "{want} not in {found}");
    }
}

/// Unmounts and detaches what [`btrfs_mounted`] set up, even when the test fails.
struct LoopMount {
    mount_point: PathBuf,
    loops: Vec<String>,
}

impl Drop for LoopMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount_point).status();
        for l in &self.loops {
            let _ = Command::new("losetup").args(["-d", l]).status();
        }
    }
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run a setup command");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The btrfs collector's ioctl side (device sizes, unused bytes and error counters per device)
/// against upstream on a real two-device RAID1 Btrfs, mounted from loop devices. It needs root,
/// loop devices and btrfs-progs, and mounts a filesystem the host's other tests would see, so it
/// runs only when asked: `cargo test -p node-exporter --test oracle -- --ignored`.
#[test]
#[ignore = "needs root, loop devices and mkfs.btrfs; mounts a filesystem"]
fn btrfs_mounted() {
    let dir = tempfile::tempdir().unwrap();
    let mut loops = Vec::new();
    for name in ["d1.img", "d2.img"] {
        let image = dir.path().join(name);
        std::fs::File::create(&image)
            .unwrap()
            .set_len(300 << 20)
            .unwrap();
        loops.push(run_ok(
            Command::new("losetup").arg("-f").arg("--show").arg(&image),
        ));
    }
    let mount_point = dir.path().join("mnt");
    std::fs::create_dir(&mount_point).unwrap();
    let guard = LoopMount {
        mount_point: mount_point.clone(),
        loops: loops.clone(),
    };
    run_ok(
        Command::new("mkfs.btrfs")
            .args(["-q", "-L", "oracle", "-d", "raid1", "-m", "raid1"])
            .args(&loops),
    );
    run_ok(Command::new("mount").arg(&loops[0]).arg(&mount_point));
    std::fs::write(mount_point.join("data"), vec![7u8; 8 << 20]).unwrap();
    run_ok(&mut Command::new("sync"));

    let scrape_live = |bin: &str| {
        let mut cmd = Command::new(bin);
        cmd.args(["--collector.disable-defaults", "--collector.btrfs"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let (_child, url) = serve_on_free_port(bin, &mut cmd);
        wait_http(&url, FIRST_SCRAPE)
    };
    let theirs = scrape_live(UPSTREAM);
    let ours = scrape_live(OURS);
    assert!(
        theirs.contains("node_btrfs_device_errors_total"),
        "upstream did not reach the mount through its ioctls (not root?)"
    );
    let problems = differences(&theirs, &ours);
    drop(guard);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
