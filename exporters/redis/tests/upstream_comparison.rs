//! Side by side with Debian's prometheus-redis-exporter (oliver006/redis_exporter 1.45) on the
//! same servers and data: every family upstream emits (Go runtime and process metrics aside) is
//! emitted by ours with the same type and label names (or, where current upstream releases added
//! a label, with that label too), and stable values agree.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Exporter, Redis};
use exporter_core::testkit::{
    assert_no_problems, family_shapes, free_port, promtool_check_metrics, samples,
    shape_differences, wait_http, ChildGuard,
};

const UPSTREAM: &str = "prometheus-redis-exporter";

/// Upstream must be installed (./scripts/test installs it): a comparison without it fails
/// rather than passing unseen.
#[track_caller]
fn require_upstream() {
    let found = Command::new(UPSTREAM)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(found, "{UPSTREAM} is not installed: run ./scripts/test");
}

/// Upstream with Go-style single-dash flags.
fn start_upstream(args: &[&str]) -> (ChildGuard, u16) {
    let port = free_port();
    let guard = ChildGuard::spawn(
        "upstream",
        Command::new(UPSTREAM)
            .args(args)
            .args(["-web.listen-address", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_http(
        &format!("http://127.0.0.1:{port}/metrics"),
        Duration::from_secs(20),
    );
    (guard, port)
}

/// Families whose difference is by design.
fn exempt(name: &str) -> bool {
    name.starts_with("go_")
        || name.starts_with("process_")
        || name.starts_with("promhttp_")
        // Go build labels (golang_version, commit_sha, build_date) mean nothing for a Rust
        // binary; ours is labelled version, revision, rustversion like every exporter of the suite.
        || name.ends_with("_exporter_build_info")
}

/// Labels current upstream releases (1.6x) added to families 1.45 has; we follow the current ones.
const LABELS_ADDED_SINCE_1_45: &[(&str, &str)] = &[("redis_instance_info", "master_replid")];

/// Families of current upstream releases that 1.45 does not have; their names are upstream's,
/// so promtool's findings on them are inherited, not ours.
const FAMILIES_ADDED_SINCE_1_45: &[&str] = &[
    "redis_rdb_saves_total",
    "redis_memory_used_vm_total",
    "redis_max_clients",
    "redis_current_eviction_exceeded_time_ms",
    "redis_eviction_exceeded_time_ms_total",
    "redis_expire_cycle_cpu_time_ms_total",
    "redis_config_client_output_buffer_limit_bytes",
    "redis_config_client_output_buffer_limit_overcome_seconds",
    "redis_stream_group_entries_read",
    "redis_stream_group_lag",
    "redis_stream_first_entry_id",
    "redis_stream_last_entry_id",
    "redis_stream_max_deleted_entry_id",
    "redis_commands_latencies_usec",
];

fn compare_shapes(theirs: &str, ours: &str) -> Vec<String> {
    shape_differences(theirs, ours, exempt, same_labels_but_current_additions)
}

/// `promtool check metrics` findings on our exposition that are not about a name upstream
/// already uses (names we keep for compatibility inherit upstream's findings; names we introduce
/// must be clean). Empty when promtool is not installed.
fn lint_findings_not_inherited(theirs: &str, ours: &str) -> Vec<String> {
    let Some((_, findings)) = promtool_check_metrics(ours) else {
        return Vec::new();
    };
    let their_names = family_shapes(theirs);
    findings
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| {
            let name = l.split_whitespace().next().unwrap_or("");
            !their_names.contains_key(name) && !FAMILIES_ADDED_SINCE_1_45.contains(&name)
        })
        .map(str::to_string)
        .collect()
}

fn same_labels_but_current_additions(
    family: &str,
    ours: &std::collections::BTreeSet<String>,
    theirs: &std::collections::BTreeSet<String>,
) -> bool {
    let mut ours = ours.clone();
    for (f, label) in LABELS_ADDED_SINCE_1_45 {
        if *f == family {
            ours.remove(*label);
        }
    }
    &ours == theirs
}

type Series = BTreeMap<Vec<(String, String)>, f64>;

fn series(text: &str, name: &str) -> Series {
    samples(text)
        .into_iter()
        .filter(|(n, _, _)| n == name)
        .map(|(_, mut l, v)| {
            l.sort();
            (l, v)
        })
        .collect()
}

/// A server with data of every kind, a replica, and activity that fills commandstats,
/// errorstats and latencystats.
fn populated() -> (Redis, Redis) {
    let master = Redis::start(&["--enable-debug-command", "local"]);
    master.run_lines(
        "SET num 42
         SET str hello
         RPUSH lst a b
         HSET h f v
         SADD st x
         ZADD z 1 a
         PFADD hll a b
         SET exp 1 EX 1000
         XADD s * f v
         XGROUP CREATE s g1 0
         XREADGROUP GROUP g1 c1 COUNT 1 STREAMS s >
         -n 3 SET k3 3
         NOSUCHCOMMAND
         CONFIG SET latency-monitor-threshold 1
         DEBUG SLEEP 0.01",
    );
    let replica = Redis::start(&["--replicaof", "127.0.0.1", &master.port.to_string()]);
    exporter_core::testkit::wait_for("the replica to sync", Duration::from_secs(20), || {
        replica
            .cli(None, &["INFO", "replication"])
            .contains("master_link_status:up")
            .then_some(())
    });
    (master, replica)
}

/// A one-node Redis Cluster owning every slot.
fn cluster_node() -> Redis {
    let node = Redis::start(&[
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
    ]);
    node.cli(None, &["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
    exporter_core::testkit::wait_for("the cluster to be ok", Duration::from_secs(20), || {
        node.cli(None, &["CLUSTER", "INFO"])
            .contains("cluster_state:ok")
            .then_some(())
    });
    node.cli(None, &["SET", "k", "v"]);
    node
}

const FEATURE_FLAGS: &[&str] = &[
    "check-keys=num,str,lst,h,st,z,hll,missing,db3=k*",
    "check-single-keys=db0=num",
    "check-streams=s",
    "count-keys=db0=*,db3=k*",
    "export-client-list",
    "ping-on-connect",
    "include-system-metrics",
];

fn run_pair(redis: &Redis, features: bool, script: Option<&str>) -> (String, String) {
    let mut go_args = vec!["-redis.addr".to_string(), redis.addr()];
    let mut our_args = vec!["--redis.addr".to_string(), redis.addr()];
    if features {
        for f in FEATURE_FLAGS {
            match f.split_once('=') {
                Some((k, v)) => {
                    go_args.extend([format!("-{k}"), v.to_string()]);
                    our_args.extend([format!("--{k}"), v.to_string()]);
                }
                None => {
                    go_args.push(format!("-{f}"));
                    our_args.push(format!("--{f}"));
                }
            }
        }
        if let Some(s) = script {
            go_args.extend(["-script".to_string(), s.to_string()]);
            our_args.extend(["--script".to_string(), s.to_string()]);
        }
    }
    let go_refs: Vec<&str> = go_args.iter().map(String::as_str).collect();
    let our_refs: Vec<&str> = our_args.iter().map(String::as_str).collect();
    let (_upstream, up_port) = start_upstream(&go_refs);
    let ours = Exporter::start(&our_refs);
    let url = format!("http://127.0.0.1:{up_port}/metrics");
    // Warm both up so the compared scrapes are close together in time.
    ours.metrics();
    let theirs = wait_http(&url, Duration::from_secs(20));
    let our = ours.metrics();
    (theirs, our)
}

#[test]
fn same_families_types_and_labels_as_upstream() {
    require_upstream();
    let (master, replica) = populated();
    let dir = tempfile::tempdir().unwrap();
    let script = common::write(dir.path(), "s.lua", "return {'answer', '42', 'pi', '3.14'}");
    let cluster = cluster_node();
    let mut problems = Vec::new();
    for (what, redis, features) in [
        ("master, default flags", &master, false),
        ("master, every feature", &master, true),
        ("replica, every feature", &replica, true),
        ("cluster node, default flags", &cluster, false),
    ] {
        let (theirs, ours) = run_pair(redis, features, script.to_str());
        assert!(
            family_shapes(&theirs).len() > 100,
            "upstream exposition looks empty:\n{theirs}"
        );
        problems.extend(
            lint_findings_not_inherited(&theirs, &ours)
                .into_iter()
                .map(|p| format!("{what}: promtool: {p}")),
        );
        problems.extend(
            compare_shapes(&theirs, &ours)
                .into_iter()
                .map(|p| format!("{what}: {p}")),
        );
    }
    assert_no_problems(&problems);
}

#[test]
fn stable_values_agree_with_upstream() {
    require_upstream();
    let (master, _replica) = populated();
    let (theirs, ours) = run_pair(&master, true, None);
    for name in [
        "redis_db_keys",
        "redis_db_keys_expiring",
        "redis_key_size",
        "redis_key_value",
        "redis_keys_count",
        "redis_stream_length",
        "redis_config_maxclients",
        "redis_memory_max_bytes",
        "redis_connected_slaves",
        "redis_latency_spike_last",
    ] {
        let (t, o) = (series(&theirs, name), series(&ours, name));
        assert!(!t.is_empty(), "upstream has no {name}");
        assert_eq!(t, o, "{name} differs");
    }
    assert_eq!(series(&theirs, "redis_db_keys").len(), 16);
    let clients = |text: &str| {
        series(text, "redis_connected_clients")
            .values()
            .sum::<f64>()
    };
    let (t, o) = (clients(&theirs), clients(&ours));
    assert!(
        (t - o).abs() <= 2.0,
        "connected_clients: ours {o} vs upstream {t}"
    );
    for name in ["redis_errors_total", "redis_commands_total"] {
        let (t, o) = (series(&theirs, name), series(&ours, name));
        assert!(!t.is_empty(), "upstream has no {name}");
        for key in t.keys() {
            assert!(o.contains_key(key), "{name}{key:?} missing from ours");
        }
    }
}
