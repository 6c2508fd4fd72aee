//! The node collectors against a fixture procfs/sysfs tree (a snapshot of a real machine, see
//! tests/fixtures/snapshot.sh) must produce exactly the golden exposition, and the golden file
//! must pass `promtool check metrics` except where upstream node_exporter itself uses the name.
//!
//! `UPDATE_GOLDEN=1 cargo test -p node-exporter --test golden` rewrites the golden file after a deliberate
//! change.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use exporter_core::encode::encode_text;
use exporter_core::testkit::{
    family_shapes, free_port, promtool_check_metrics, wait_http, ChildGuard,
};
use node_exporter::collector::COLLECTORS;
use node_exporter::{exporter_with_flags, HostPaths};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Collectors whose output depends on the live machine rather than the tree (system calls,
/// statfs, the clock, the ethtool ioctl, systemd over D-Bus) or on /proc/<pid> entries a
/// snapshot cannot hold.
const LIVE_ONLY: &[&str] = &[
    "ethtool",
    "filesystem",
    "processes",
    "systemd",
    "time",
    "timex",
    "uname",
];

/// Families whose values change with every run or checkout.
const VOLATILE: &[&str] = &[
    "node_scrape_collector_duration_seconds",
    "node_textfile_mtime_seconds",
];

fn render_fixture() -> String {
    let root = fixtures();
    let paths = HostPaths {
        procfs: root.join("proc"),
        sysfs: root.join("sys"),
        rootfs: root.join("rootfs"),
        udev_data: root.join("udev"),
    };
    let textfile = root.join("textfile");
    let flags = ["--collector.textfile.directory", textfile.to_str().unwrap()];
    let enabled: Vec<&str> = COLLECTORS
        .rows()
        .iter()
        .map(|c| c.name)
        .filter(|n| !LIVE_ONLY.contains(n))
        .collect();
    let exporter = exporter_with_flags(&paths, &enabled, &flags)
        .unwrap()
        .with_exporter_metrics(false);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let families = rt.block_on(exporter.gather(Duration::from_secs(10)));
    let families: Vec<_> = families
        .into_iter()
        .filter(|f| !VOLATILE.contains(&f.name.as_ref()))
        .collect();
    let mut text = String::new();
    encode_text(&families, &mut text);
    // The textfile collector reports absolute paths: make them independent of the checkout.
    text.replace(&root.display().to_string(), "FIXTURES")
}

#[test]
fn fixture_tree_renders_the_golden_exposition() {
    let golden_path = fixtures().join("golden.prom");
    let text = render_fixture();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden_path, &text).unwrap();
    }
    let golden = std::fs::read_to_string(&golden_path)
        .expect("golden.prom missing: run with UPDATE_GOLDEN=1 once");
    if text != golden {
        let diff: Vec<String> = golden
            .lines()
            .zip(text.lines())
            .filter(|(g, t)| g != t)
            .take(20)
            .map(|(g, t)| format!("- {g}\n+ {t}"))
            .collect();
        panic!(
            "exposition differs from golden.prom ({} vs {} lines):\n{}",
            text.lines().count(),
            golden.lines().count(),
            diff.join("\n")
        );
    }
    // The fixture must actually exercise the collectors: every one succeeded but the sources this
    // machine lacks, and the broken textfile was reported.
    for collector in [
        "cpu",
        "meminfo",
        "netclass",
        "netdev",
        "diskstats",
        "textfile",
        "os",
    ] {
        assert!(
            golden.contains(&format!(
                "node_scrape_collector_success{{collector=\"{collector}\"}} 1\n"
            )),
            "{collector} did not succeed on the fixture"
        );
    }
    assert!(golden.contains("node_textfile_scrape_error 1\n"));
    assert!(golden.contains(
        "backup_size_bytes{job=\"postgres\",path=\"/var/backups/pg \\\"main\\\"\"} 73400320\n"
    ));
    assert!(golden.contains("model=\"QEMU_HARDDISK\""));
}

/// Family names Debian's prometheus-node-exporter emits on this machine.
fn upstream_family_names() -> BTreeSet<String> {
    let port = free_port();
    let _upstream = ChildGuard::spawn(
        "prometheus-node-exporter",
        Command::new("prometheus-node-exporter")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // Current upstream releases return more netstat fields by default than Debian's
            // 1.5; ours follows current, so ask 1.5 for the same fields.
            .arg(format!(
                "--collector.netstat.fields={}",
                node_exporter::collector::netstat::DEFAULT_FIELDS
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let text = wait_http(
        &format!("http://127.0.0.1:{port}/metrics"),
        Duration::from_secs(20),
    );
    family_shapes(&text).into_keys().collect()
}

#[test]
fn golden_passes_promtool_except_for_upstream_names() {
    let golden = std::fs::read_to_string(fixtures().join("golden.prom")).unwrap();
    let (code, findings) = promtool_check_metrics(&golden)
        .expect("promtool not installed (apt-get install prometheus)");
    // Exit 1 is a parse error; 3 means lint findings, which we sort below.
    assert_ne!(code, Some(1), "promtool could not parse the golden file");
    let upstream = upstream_family_names();
    let ours: Vec<&str> = findings
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| {
            let name = l.split_whitespace().next().unwrap_or("");
            // Names from the fixture's textfile are the user's, not ours.
            !upstream.contains(name) && !name.starts_with("backup_")
        })
        .collect();
    assert!(
        ours.is_empty(),
        "promtool findings on names we introduced:\n{}",
        ours.join("\n")
    );
}
