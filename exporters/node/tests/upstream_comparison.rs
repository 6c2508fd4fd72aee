//! Side by side with Debian's prometheus-node-exporter on this machine: every family upstream emits
//! (Go runtime metrics aside) is emitted by ours with the same type and label names, and stable
//! values agree.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use exporter_core::testkit::{
    assert_no_problems, family_shapes, free_port, samples, shape_differences, wait_http, ChildGuard,
};

const OURS: &str = env!("CARGO_BIN_EXE_node-exporter");
const UPSTREAM: &str = "prometheus-node-exporter";

fn start(name: &str, bin: &str, port: u16) -> ChildGuard {
    ChildGuard::spawn(
        name,
        Command::new(bin)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
}

fn scrape_pair() -> (String, String) {
    let (up_port, our_port) = (free_port(), free_port());
    let _upstream = start("upstream", UPSTREAM, up_port);
    let _ours = start("ours", OURS, our_port);
    let timeout = Duration::from_secs(20);
    // Warm both up so the measured scrapes are close together in time.
    wait_http(&format!("http://127.0.0.1:{up_port}/metrics"), timeout);
    wait_http(&format!("http://127.0.0.1:{our_port}/metrics"), timeout);
    let theirs = wait_http(&format!("http://127.0.0.1:{up_port}/metrics"), timeout);
    let ours = wait_http(&format!("http://127.0.0.1:{our_port}/metrics"), timeout);
    (theirs, ours)
}

/// Families whose difference is by design.
fn exempt(name: &str) -> bool {
    name.starts_with("go_")
        || name.starts_with("promhttp_")
        // Go build labels (goversion, goarch, ...) have no meaning for a Rust binary; ours is
        // labelled version, revision, rustversion.
        || name == "node_exporter_build_info"
}

#[test]
fn ours_emits_every_upstream_family_with_the_same_type_and_labels() {
    let (theirs, ours) = scrape_pair();
    assert!(
        family_shapes(&theirs).len() > 100,
        "upstream exposition looks empty"
    );
    assert_no_problems(&shape_differences(&theirs, &ours, exempt, |_, o, t| o == t));
}

type Series = BTreeMap<(String, Vec<(String, String)>), f64>;

fn series(text: &str, name: &str) -> Series {
    samples(text)
        .into_iter()
        .filter(|(n, _, _)| n == name)
        .map(|(n, mut l, v)| {
            l.sort();
            ((n, l), v)
        })
        .collect()
}

#[test]
fn stable_values_agree() {
    let (theirs, ours) = scrape_pair();
    for name in ["node_memory_MemTotal_bytes", "node_filesystem_size_bytes"] {
        let (t, o) = (series(&theirs, name), series(&ours, name));
        assert!(!t.is_empty(), "upstream has no {name}");
        assert_eq!(t, o, "{name} differs");
    }
    let (t, o) = (
        series(&theirs, "node_cpu_seconds_total"),
        series(&ours, "node_cpu_seconds_total"),
    );
    assert_eq!(t.len(), o.len(), "cpu series differ");
    for (key, their_value) in &t {
        let our_value = o[key];
        // Both scrapes happen within milliseconds: allow 2%, or one tick-second for tiny values.
        let tolerance = (their_value * 0.02).max(1.0);
        assert!(
            (our_value - their_value).abs() <= tolerance,
            "{key:?}: ours {our_value} vs upstream {their_value}"
        );
    }
}
