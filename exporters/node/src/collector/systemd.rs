//! `node_systemd_*`: units' states, the unit-state summary, sockets' connection counts, timers'
//! last triggers, whether the system is running and systemd's version, read from systemd's
//! manager over D-Bus (`org.freedesktop.systemd1`), as node_exporter 1.5's `systemd` collector
//! reads them. Opt-in (`--collector.systemd`), as upstream; Debian's build turns it on by default.
//!
//! Where the reads come from is in [`node_exporter_dbus`] (a crate of its own, see its
//! documentation for why); this file holds the flags and turns what was read
//! ([`Snapshot`]) into families, a pure function tested on literal input.
//!
//! As upstream 1.5:
//! - the summary `node_systemd_units{state}` counts every unit listed, before any filter, under
//!   the five states plus any other state a unit is in;
//! - the other unit families cover the units whose name matches `--collector.systemd.unit-include`
//!   and not `--collector.systemd.unit-exclude` (both anchored) and whose load state is `loaded`;
//! - a property a unit does not have (an old systemd, a read that failed) leaves its series out,
//!   a service's missing `Type` gives `type=""`;
//! - timers and `node_systemd_system_running` need systemd 212 or later, judged from the
//!   manager's `Version` (`252.22-1~deb12u1` gives 252.22, the gauge's value).
//!
//! Without a system bus (a container, a host without dbus-daemon) the collector fails alone with
//! one error line naming the address it tried; every D-Bus call has a timeout, so a bus that
//! does not answer cannot hold a scrape.

use std::collections::BTreeMap;

use clap::Args;
use exporter_core::{BoxFuture, CollectError, CollectResult, Collector, MetricFamily};
pub use node_exporter_dbus::{
    parse_version, Snapshot, SocketCounts, Unit, UnitDetails, MIN_VERSION_SYSTEM_STATE,
};

use super::netdev::DeviceFilter;
use super::CollectorFlags;
use crate::util::filter_flags;

/// Debian's default: upstream's list plus `target` units.
const DEFAULT_UNIT_EXCLUDE: &str = r".+\.(automount|device|mount|scope|slice|target)";

/// Upstream's states: each unit gets one series per state, 1 for the one it is in.
const UNIT_STATES: [&str; 5] = ["active", "activating", "deactivating", "inactive", "failed"];

filter_flags! {
    /// The systemd collector's unit filter.
    SystemdUnitFlags {
        /// Regexp of systemd units to include. Units must both match include and not match exclude
        /// to be included.
        include: "collector.systemd.unit-include" = ".+";
        /// Regexp of systemd units to exclude. Units must both match include and not match exclude
        /// to be included.
        exclude: "collector.systemd.unit-exclude" = DEFAULT_UNIT_EXCLUDE;
    }
}

/// The systemd collector's own flags.
#[derive(Debug, Clone, Args)]
pub struct SystemdFlags {
    #[command(flatten)]
    units: SystemdUnitFlags,
    /// Establish a private, direct connection to systemd without dbus (Strongly discouraged
    /// since it requires root. For testing purposes only).
    #[arg(
        long = "collector.systemd.private",
        id = "collector.systemd.private",
        hide = true
    )]
    private: bool,
    /// Enables service unit tasks metrics unit_tasks_current and unit_tasks_max
    #[arg(
        long = "collector.systemd.enable-task-metrics",
        id = "collector.systemd.enable-task-metrics"
    )]
    task_metrics: bool,
    /// Enables service unit metric service_restart_total
    #[arg(
        long = "collector.systemd.enable-restarts-metrics",
        id = "collector.systemd.enable-restarts-metrics"
    )]
    restarts_metrics: bool,
    /// Enables service unit metric unit_start_time_seconds
    #[arg(
        long = "collector.systemd.enable-start-time-metrics",
        id = "collector.systemd.enable-start-time-metrics"
    )]
    start_time_metrics: bool,
}

/// What the systemd collector reads and reports, from its flags.
#[derive(Debug, Clone)]
pub struct SystemdOptions {
    /// Units whose whole name matches the include regex (`^(?:include)$`) and not the exclude
    /// one are reported.
    pub units: DeviceFilter,
    /// Talk to systemd on its private socket instead of the system bus.
    pub private: bool,
    /// Services' `TasksCurrent` and `TasksMax`.
    pub task_metrics: bool,
    /// Services' `NRestarts`.
    pub restarts_metrics: bool,
    /// Units' `ActiveEnterTimestamp`.
    pub start_time_metrics: bool,
}

impl CollectorFlags for SystemdFlags {
    type Options = SystemdOptions;

    fn options(self) -> Result<SystemdOptions, String> {
        Ok(SystemdOptions {
            units: self.units.filter(|v| Some(format!("^(?:{v})$")))?,
            private: self.private,
            task_metrics: self.task_metrics,
            restarts_metrics: self.restarts_metrics,
            start_time_metrics: self.start_time_metrics,
        })
    }
}

impl SystemdOptions {
    /// Whether the unit gets the per-unit families.
    fn selects(&self, unit: &Unit) -> bool {
        !self.units.ignored(&unit.name) && unit.load_state == "loaded"
    }
}

/// The families of one scrape.
pub fn families(snapshot: &Snapshot, options: &SystemdOptions) -> Vec<MetricFamily> {
    let mut out = Vec::new();

    let (version, version_label) = match snapshot.version.as_deref().map(|v| (parse_version(v), v))
    {
        Some((Some(number), label)) => (number, label),
        _ => (0.0, ""),
    };
    out.push(
        MetricFamily::gauge("node_systemd_version", "Detected systemd version")
            .with(&[("version", version_label)], version),
    );

    let mut summary: BTreeMap<&str, f64> = UNIT_STATES.iter().map(|s| (*s, 0.0)).collect();
    for unit in &snapshot.units {
        *summary.entry(unit.active_state.as_str()).or_default() += 1.0;
    }
    let mut units = MetricFamily::gauge("node_systemd_units", "Summary of systemd unit states");
    for (state, count) in summary {
        units.push(&[("state", state)], count);
    }
    out.push(units);

    let mut state = MetricFamily::gauge("node_systemd_unit_state", "Systemd unit");
    let mut restarts = MetricFamily::counter(
        "node_systemd_service_restart_total",
        "Service unit count of Restart triggers",
    );
    let mut start_time = MetricFamily::gauge(
        "node_systemd_unit_start_time_seconds",
        "Start time of the unit since unix epoch in seconds.",
    );
    let mut tasks_current = MetricFamily::gauge(
        "node_systemd_unit_tasks_current",
        "Current number of tasks per Systemd unit",
    );
    let mut tasks_max = MetricFamily::gauge(
        "node_systemd_unit_tasks_max",
        "Maximum number of tasks per Systemd unit",
    );
    let mut last_trigger = MetricFamily::gauge(
        "node_systemd_timer_last_trigger_seconds",
        "Seconds since epoch of last trigger.",
    );
    let mut accepted = MetricFamily::counter(
        "node_systemd_socket_accepted_connections_total",
        "Total number of accepted socket connections",
    );
    let mut current = MetricFamily::gauge(
        "node_systemd_socket_current_connections",
        "Current number of socket connections",
    );
    // A gauge despite its name, as upstream declares it.
    let mut refused = MetricFamily::gauge(
        "node_systemd_socket_refused_connections_total",
        "Total number of refused socket connections",
    );
    let timers_known = version >= MIN_VERSION_SYSTEM_STATE;
    for unit in snapshot.units.iter().filter(|u| options.selects(u)) {
        let name = unit.name.as_str();
        let d = &unit.details;
        let kind = d.service_type.as_deref().unwrap_or("");
        for s in UNIT_STATES {
            let value = if s == unit.active_state { 1.0 } else { 0.0 };
            state.push(&[("name", name), ("state", s), ("type", kind)], value);
        }
        if options.restarts_metrics {
            if let Some(n) = d.restarts {
                restarts.push(&[("name", name)], f64::from(n));
            }
        }
        if options.start_time_metrics {
            let usec = if unit.active_state == "active" {
                d.active_enter_usec
            } else {
                Some(0)
            };
            if let Some(usec) = usec {
                start_time.push(&[("name", name)], usec as f64 / 1e6);
            }
        }
        if options.task_metrics {
            // u64::MAX is systemd's "not counted" / "no limit": no series, as upstream.
            if let Some(n) = d.tasks_current.filter(|n| *n != u64::MAX) {
                tasks_current.push(&[("name", name)], n as f64);
            }
            if let Some(n) = d.tasks_max.filter(|n| *n != u64::MAX) {
                tasks_max.push(&[("name", name)], n as f64);
            }
        }
        if timers_known {
            if let Some(usec) = d.last_trigger_usec {
                last_trigger.push(&[("name", name)], usec as f64 / 1e6);
            }
        }
        if let Some(socket) = &d.socket {
            accepted.push(&[("name", name)], f64::from(socket.accepted));
            if let Some(n) = socket.current {
                current.push(&[("name", name)], f64::from(n));
                if let Some(n) = socket.refused {
                    refused.push(&[("name", name)], f64::from(n));
                }
            }
        }
    }
    out.extend([
        state,
        restarts,
        start_time,
        tasks_current,
        tasks_max,
        last_trigger,
        accepted,
        current,
        refused,
    ]);

    if timers_known {
        let running = snapshot.system_state.as_deref() == Some("running");
        out.push(
            MetricFamily::gauge(
                "node_systemd_system_running",
                "Whether the system is operational (see 'systemctl is-system-running')",
            )
            .with(&[], if running { 1.0 } else { 0.0 }),
        );
    }
    out.retain(|f| !f.is_empty());
    out
}

/// The `systemd` collector: what it reads and emits is in the module documentation.
pub struct SystemdCollector {
    options: SystemdOptions,
}

impl SystemdCollector {
    /// The collector with `options`.
    pub fn new(options: &SystemdOptions) -> Self {
        SystemdCollector {
            options: options.clone(),
        }
    }
}

impl Collector for SystemdCollector {
    fn name(&self) -> &'static str {
        "systemd"
    }

    fn collect(&self) -> BoxFuture<'_, CollectResult> {
        Box::pin(async move {
            let options = &self.options;
            let selects = |unit: &Unit| options.selects(unit);
            let query = node_exporter_dbus::Query {
                private: options.private,
                task_metrics: options.task_metrics,
                restarts_metrics: options.restarts_metrics,
                start_time_metrics: options.start_time_metrics,
                selects: &selects,
            };
            let snapshot = node_exporter_dbus::read(&query)
                .await
                .map_err(CollectError::Other)?;
            Ok(families(&snapshot, &self.options))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_maps, flag_options};

    fn options(args: &[&str]) -> SystemdOptions {
        flag_options::<SystemdFlags>(args).unwrap()
    }

    fn unit(name: &str, load: &str, active: &str) -> Unit {
        Unit {
            name: name.into(),
            load_state: load.into(),
            active_state: active.into(),
            details: UnitDetails::default(),
        }
    }

    fn series(fams: &[MetricFamily]) -> Vec<String> {
        fams.iter()
            .flat_map(|f| {
                f.samples.iter().map(move |s| {
                    let labels: Vec<String> =
                        s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!("{}{{{}}} {}", f.name, labels.join(","), s.value)
                })
            })
            .collect()
    }

    #[test]
    fn versions_are_read_as_upstream_reads_them() {
        assert_maps(
            parse_version,
            &[
                ("252.22-1~deb12u1", Some(252.22)),
                ("systemd 249 (249.11-0ubuntu3)", Some(249.0)),
                ("v245.4", Some(245.4)),
                ("212.", Some(212.0)),
                ("12.5 and 3", None),
                ("", None),
            ],
        );
    }

    #[test]
    fn default_filters_are_debians_and_anchored() {
        let o = options(&[]);
        let selected = |name: &str| o.selects(&unit(name, "loaded", "active"));
        assert!(selected("ssh.service") && selected("dbus.socket"));
        assert!(!selected("multi-user.target") && !selected("-.mount"));
        assert!(!o.selects(&unit("gone.service", "not-found", "inactive")));
        let o = options(&["--collector.systemd.unit-include", "ssh"]);
        assert!(!o.selects(&unit("ssh.service", "loaded", "active")));
        assert!(o.selects(&unit("ssh", "loaded", "active")));
    }

    #[test]
    fn a_bad_regex_names_its_flag() {
        let err =
            flag_options::<SystemdFlags>(&["--collector.systemd.unit-exclude", "("]).unwrap_err();
        assert!(err.contains("--collector.systemd.unit-exclude"), "{err}");
    }

    #[test]
    fn families_follow_upstreams_rules() {
        let mut ssh = unit("ssh.service", "loaded", "active");
        ssh.details = UnitDetails {
            service_type: Some("notify".into()),
            restarts: Some(2),
            active_enter_usec: Some(1_700_000_000_500_000),
            tasks_current: Some(3),
            tasks_max: Some(u64::MAX),
            ..UnitDetails::default()
        };
        let mut sock = unit("dbus.socket", "loaded", "failed");
        sock.details.socket = Some(SocketCounts {
            accepted: 7,
            current: Some(1),
            refused: None,
        });
        let mut timer = unit("apt.timer", "loaded", "reloading");
        timer.details.last_trigger_usec = Some(1_500_000);
        let snapshot = Snapshot {
            version: Some("252.22-1~deb12u1".into()),
            system_state: Some("degraded".into()),
            units: vec![
                ssh,
                sock,
                timer,
                unit("multi-user.target", "loaded", "active"),
            ],
        };
        let all = options(&[
            "--collector.systemd.enable-task-metrics",
            "--collector.systemd.enable-restarts-metrics",
            "--collector.systemd.enable-start-time-metrics",
        ]);
        let got = series(&families(&snapshot, &all));
        for want in [
            "node_systemd_version{version=252.22-1~deb12u1} 252.22",
            "node_systemd_units{state=active} 2",
            "node_systemd_units{state=reloading} 1",
            "node_systemd_units{state=deactivating} 0",
            "node_systemd_unit_state{name=ssh.service,state=active,type=notify} 1",
            "node_systemd_unit_state{name=dbus.socket,state=failed,type=} 1",
            "node_systemd_unit_state{name=apt.timer,state=active,type=} 0",
            "node_systemd_service_restart_total{name=ssh.service} 2",
            "node_systemd_unit_start_time_seconds{name=ssh.service} 1700000000.5",
            "node_systemd_unit_start_time_seconds{name=dbus.socket} 0",
            "node_systemd_unit_tasks_current{name=ssh.service} 3",
            "node_systemd_timer_last_trigger_seconds{name=apt.timer} 1.5",
            "node_systemd_socket_accepted_connections_total{name=dbus.socket} 7",
            "node_systemd_socket_current_connections{name=dbus.socket} 1",
            "node_systemd_system_running{} 0",
        ] {
            assert!(got.contains(&want.to_string()), "{want} not in {got:#?}");
        }
        assert!(!got.iter().any(|s| s.contains("multi-user.target")));
        assert!(!got
            .iter()
            .any(|s| s.starts_with("node_systemd_unit_tasks_max")));
        assert!(!got.iter().any(|s| s.contains("refused")));
        // Five states, the last trigger, and a start time of 0 since it is not active.
        assert_eq!(got.iter().filter(|s| s.contains("apt.timer")).count(), 7);

        // Without the flags, the opt-in families are not read or reported.
        let got = series(&families(&snapshot, &options(&[])));
        assert!(!got
            .iter()
            .any(|s| s.contains("restart") || s.contains("start_time") || s.contains("tasks")));
    }

    #[test]
    fn an_unknown_version_hides_timers_and_system_state() {
        let mut timer = unit("apt.timer", "loaded", "active");
        timer.details.last_trigger_usec = Some(1);
        let snapshot = Snapshot {
            version: Some("unknown".into()),
            system_state: Some("running".into()),
            units: vec![timer],
        };
        let got = series(&families(&snapshot, &options(&[])));
        assert!(got.contains(&"node_systemd_version{version=} 0".to_string()));
        assert!(!got.iter().any(|s| s.contains("timer_last_trigger")));
        assert!(!got.iter().any(|s| s.contains("system_running")));
    }
}
