//! The systemd collector against node_exporter 1.5 over a real `dbus-daemon` serving a stand-in
//! for systemd's manager (see `dbus.rs`): both exporters find the bus through
//! `DBUS_SYSTEM_BUS_ADDRESS`, read the same units and must serve the same families, series and
//! values. Neither reaches systemd's private socket: this sandbox has no /run/systemd/private,
//! and with the bus there neither exporter looks for it.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use exporter_core::testkit::{samples, wait_http};

use super::dbus::{DbusDaemon, FakeSystemd, FakeUnit, Kind};
use super::{
    assert_same_as_upstream_with_each, serve_on_free_port, success, FIRST_SCRAPE, OURS, UPSTREAM,
};

const ALL_FAMILIES: &[&str] = &[
    "--collector.systemd.enable-task-metrics",
    "--collector.systemd.enable-restarts-metrics",
    "--collector.systemd.enable-start-time-metrics",
];

fn unit(name: &'static str, load: &'static str, active: &'static str, kind: Kind) -> FakeUnit {
    FakeUnit {
        name,
        load_state: load,
        active_state: active,
        active_enter_usec: 1_700_000_000_123_456,
        kind,
    }
}

/// A host's worth of units: services (one failed, one reloading, one from an old systemd, one
/// whose name needs escaping in its object path), a socket, a timer, a mount and a target (both
/// left out by the default exclude), and a unit that is not loaded.
fn units() -> Vec<FakeUnit> {
    let service = |service_type, restarts, tasks_current, tasks_max| Kind::Service {
        service_type,
        restarts,
        tasks_current,
        tasks_max,
    };
    vec![
        unit(
            "ssh.service",
            "loaded",
            "active",
            service("notify", 2, 3, 4915),
        ),
        unit(
            "cron.service",
            "loaded",
            "failed",
            service("simple", 5, u64::MAX, u64::MAX),
        ),
        unit(
            "nginx.service",
            "loaded",
            "reloading",
            service("forking", 0, 9, 100),
        ),
        unit(
            "getty@tty1.service",
            "loaded",
            "active",
            service("idle", 0, 1, 4915),
        ),
        unit(
            "legacy.service",
            "loaded",
            "inactive",
            Kind::OldService {
                service_type: "oneshot",
            },
        ),
        unit(
            "dbus.socket",
            "loaded",
            "active",
            Kind::Socket {
                accepted: 12,
                connections: 1,
                refused: 3,
            },
        ),
        unit(
            "apt-daily.timer",
            "loaded",
            "active",
            Kind::Timer {
                last_trigger_usec: 1_700_000_100_000_000,
            },
        ),
        unit(
            "home.mount",
            "loaded",
            "active",
            Kind::Mount { fs_type: "ext4" },
        ),
        unit("multi-user.target", "loaded", "active", Kind::Plain),
        unit("ghost.service", "not-found", "inactive", Kind::Plain),
    ]
}

/// One scrape of `bin` with only the systemd collector (and `flags`), the system bus at
/// `address`; its log goes to `log`.
fn scrape(bin: &str, address: &str, flags: &[&str], log: &Path) -> String {
    let mut cmd = Command::new(bin);
    cmd.env("DBUS_SYSTEM_BUS_ADDRESS", address)
        .args(["--collector.disable-defaults", "--collector.systemd"])
        .args(flags)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"));
    let (_guard, url) = serve_on_free_port(bin, &mut cmd);
    wait_http(&url, FIRST_SCRAPE)
}

/// `name{k="v",...} value` for every `node_systemd_*` sample, labels sorted.
fn systemd_series(text: &str) -> BTreeSet<String> {
    samples(text)
        .into_iter()
        .filter(|(name, _, _)| name.starts_with("node_systemd_"))
        .map(|(name, mut labels, value)| {
            labels.sort();
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            format!("{name}{{{}}} {value}", labels.join(","))
        })
        .collect()
}

#[test]
fn systemd_over_dbus_is_as_expected_and_as_upstream() {
    assert!(
        Path::new(UPSTREAM).exists(),
        "{UPSTREAM} is missing: apt-get install prometheus-node-exporter"
    );
    let dir = tempfile::tempdir().unwrap();
    let bus = DbusDaemon::start(dir.path());
    let _systemd = FakeSystemd::serve(&bus.address, "252.22-1~deb12u1", "degraded", units());
    let log = dir.path().join("log");

    let ours = scrape(OURS, &bus.address, ALL_FAMILIES, &log);
    assert_eq!(success(&ours, "systemd"), Some(1.0), "{ours}");
    let mut expected: BTreeSet<String> = [
        r#"node_systemd_version{version="252.22-1~deb12u1"} 252.22"#,
        r#"node_systemd_system_running{} 0"#,
        r#"node_systemd_units{state="active"} 6"#,
        r#"node_systemd_units{state="activating"} 0"#,
        r#"node_systemd_units{state="deactivating"} 0"#,
        r#"node_systemd_units{state="failed"} 1"#,
        r#"node_systemd_units{state="inactive"} 2"#,
        r#"node_systemd_units{state="reloading"} 1"#,
        r#"node_systemd_service_restart_total{name="ssh.service"} 2"#,
        r#"node_systemd_service_restart_total{name="cron.service"} 5"#,
        r#"node_systemd_service_restart_total{name="nginx.service"} 0"#,
        r#"node_systemd_service_restart_total{name="getty@tty1.service"} 0"#,
        r#"node_systemd_unit_tasks_current{name="ssh.service"} 3"#,
        r#"node_systemd_unit_tasks_current{name="nginx.service"} 9"#,
        r#"node_systemd_unit_tasks_current{name="getty@tty1.service"} 1"#,
        r#"node_systemd_unit_tasks_max{name="ssh.service"} 4915"#,
        r#"node_systemd_unit_tasks_max{name="nginx.service"} 100"#,
        r#"node_systemd_unit_tasks_max{name="getty@tty1.service"} 4915"#,
        r#"node_systemd_unit_start_time_seconds{name="ssh.service"} 1700000000.123456"#,
        r#"node_systemd_unit_start_time_seconds{name="getty@tty1.service"} 1700000000.123456"#,
        r#"node_systemd_unit_start_time_seconds{name="dbus.socket"} 1700000000.123456"#,
        r#"node_systemd_unit_start_time_seconds{name="apt-daily.timer"} 1700000000.123456"#,
        r#"node_systemd_unit_start_time_seconds{name="cron.service"} 0"#,
        r#"node_systemd_unit_start_time_seconds{name="nginx.service"} 0"#,
        r#"node_systemd_unit_start_time_seconds{name="legacy.service"} 0"#,
        r#"node_systemd_socket_accepted_connections_total{name="dbus.socket"} 12"#,
        r#"node_systemd_socket_current_connections{name="dbus.socket"} 1"#,
        r#"node_systemd_socket_refused_connections_total{name="dbus.socket"} 3"#,
        r#"node_systemd_timer_last_trigger_seconds{name="apt-daily.timer"} 1700000100"#,
    ]
    .into_iter()
    .map(String::from)
    .collect();
    for (name, state, kind) in [
        ("ssh.service", "active", "notify"),
        ("cron.service", "failed", "simple"),
        ("nginx.service", "reloading", "forking"),
        ("getty@tty1.service", "active", "idle"),
        ("legacy.service", "inactive", "oneshot"),
        ("dbus.socket", "active", ""),
        ("apt-daily.timer", "active", ""),
    ] {
        for s in ["active", "activating", "deactivating", "inactive", "failed"] {
            let value = if s == state { 1 } else { 0 };
            expected.insert(format!(
                r#"node_systemd_unit_state{{name="{name}",state="{s}",type="{kind}"}} {value}"#
            ));
        }
    }
    let got = systemd_series(&ours);
    assert_eq!(
        got.difference(&expected).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "series ours has that were not expected"
    );
    assert_eq!(
        expected.difference(&got).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "expected series ours lacks"
    );

    // The oracle, with the opt-in families, without them, and with other unit filters.
    let flag_sets: &[&[&str]] = &[
        ALL_FAMILIES,
        &[],
        &[
            r"--collector.systemd.unit-include=.+\.(service|mount)",
            r"--collector.systemd.unit-exclude=cron\.service",
        ],
    ];
    assert_same_as_upstream_with_each("systemd", flag_sets, |bin, flags| {
        scrape(bin, &bus.address, flags, &log)
    });
}

/// Scrapes both exporters with the systemd and loadavg collectors on and the bus at `address`:
/// systemd fails for both and loadavg still succeeds. Returns our exposition and the one line
/// ours logged about systemd (logs go to `dir`).
fn systemd_fails_alone(address: &str, dir: &Path) -> (String, String) {
    let log = dir.join("log");
    let flags = ["--collector.loadavg"];
    let theirs = scrape(UPSTREAM, address, &flags, &log);
    let ours = scrape(OURS, address, &flags, &log);
    for (who, text) in [("upstream", &theirs), ("ours", &ours)] {
        assert_eq!(success(text, "systemd"), Some(0.0), "{who}: {text}");
        assert_eq!(success(text, "loadavg"), Some(1.0), "{who}: {text}");
    }
    let logged = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = logged
        .lines()
        .filter(|l| l.contains("collector=systemd"))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "one line about systemd per scrape: {logged}"
    );
    (ours, lines[0].to_string())
}

/// No system bus (and, in this sandbox, no /run/systemd/private): the systemd collector fails
/// alone, as upstream's does, with one log line, and the other collectors serve as usual.
#[test]
fn systemd_without_a_bus_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let address = format!("unix:path={}", dir.path().join("no_bus_here").display());
    let (ours, line) = systemd_fails_alone(&address, dir.path());
    assert!(ours.contains("node_load1 "), "{ours}");
    assert!(
        line.contains("couldn't connect to the system bus") && line.contains("no_bus_here"),
        "{line}"
    );
}

/// A bus without systemd on it (a container's own dbus-daemon): both fail the collector, ours
/// with one line naming the missing service, and nothing waits for a reply that cannot come.
#[test]
fn systemd_missing_from_the_bus_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let bus = DbusDaemon::start(dir.path());
    let (_, line) = systemd_fails_alone(&bus.address, dir.path());
    assert!(
        line.contains("couldn't get units") && line.contains("org.freedesktop.systemd1"),
        "{line}"
    );
}
