//! The ethtool collector against node_exporter 1.5 on real devices: a network namespace of the
//! test's own (deleted when the test ends, even when it fails) with a veth pair (driver info,
//! link settings and driver statistics), a bridge (driver info and link settings, no
//! statistics: skipped, as upstream skips it) and lo (none of them). Both exporters run inside it
//! (`ip netns exec`) and must serve the same families, series and values. The links stay down,
//! so no packet moves a counter between the two scrapes. Needs root, as CI runs.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use exporter_core::testkit::{http_get, samples, wait_for};

use super::{assert_same_as_upstream_with_each, serve_on_free_port, success, FIRST_SCRAPE, OURS};

/// A network namespace made for one test; deleted (with its devices) when dropped.
struct Netns {
    name: String,
}

impl Netns {
    fn create() -> Netns {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let name = format!("node-oracle-{}-{nanos}", std::process::id());
        ip(&["netns", "add", &name]);
        Netns { name }
    }

    /// `ip -n <netns> args...`, which must succeed.
    fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// One scrape of `bin` run inside the namespace with only the ethtool collector and `flags`.
    fn scrape(&self, bin: &str, flags: &[&str]) -> String {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, bin])
            .args(["--collector.disable-defaults", "--collector.ethtool"])
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let (_guard, url) = serve_on_free_port(bin, &mut cmd);
        wait_for(&url, FIRST_SCRAPE, || self.get(&url))
    }

    /// GETs `url` from inside the namespace, on a thread that enters it.
    fn get(&self, url: &str) -> Option<String> {
        let netns = File::open(format!("/run/netns/{}", self.name)).expect("the namespace");
        let url = url.to_string();
        std::thread::spawn(move || {
            enter(&netns);
            http_get(&url)
        })
        .join()
        .expect("the scraping thread")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Moves the calling thread (only it: setns changes a thread's namespace) into `netns`.
#[allow(
    unsafe_code,
    reason = "setns(2) through libc, to reach an exporter listening on the namespace's loopback"
)]
fn enter(netns: &File) {
    // SAFETY: setns takes a descriptor we hold open and a constant; it touches no memory of ours.
    let rc = unsafe { libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {} (the ethtool test needs root and iproute2)",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ethtool_in_a_network_namespace_as_upstream() {
    let netns = Netns::create();
    netns.ip(&["link", "set", "lo", "up"]);
    netns.ip(&[
        "link", "add", "veth-a", "type", "veth", "peer", "name", "veth-b",
    ]);
    netns.ip(&["link", "add", "br-x", "type", "bridge"]);

    let ours = netns.scrape(OURS, &[]);
    assert_eq!(success(&ours, "ethtool"), Some(1.0), "{ours}");
    let series = samples(&ours);
    let has = |name: &str, device: &str| {
        series
            .iter()
            .any(|(n, l, _)| n == name && l.iter().any(|(k, v)| k == "device" && v == device))
    };
    for device in ["veth-a", "veth-b"] {
        assert!(has("node_ethtool_info", device), "{device} info: {ours}");
        assert!(
            has("node_ethtool_peer_ifindex", device),
            "{device} stats: {ours}"
        );
        assert!(
            has("node_network_autonegotiate", device),
            "{device} link: {ours}"
        );
    }
    assert!(has("node_ethtool_info", "br-x"), "{ours}");
    assert!(!has("node_ethtool_peer_ifindex", "br-x"), "{ours}");
    assert!(
        !series
            .iter()
            .any(|(_, l, _)| l.iter().any(|(_, v)| v == "lo")),
        "{ours}"
    );

    let flag_sets: &[&[&str]] = &[
        &[],
        &["--collector.ethtool.device-include=^veth"],
        &[
            "--collector.ethtool.device-exclude=-b$",
            "--collector.ethtool.metrics-include=xdp_(packets|bytes)$",
        ],
    ];
    assert_same_as_upstream_with_each("ethtool", flag_sets, |bin, flags| netns.scrape(bin, flags));
}
