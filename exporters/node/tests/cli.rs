//! The binary's start-up contract: bad flags and bad config files fail at once with a message
//! naming the culprit; a host without some kernel features still gets a 200 with success 0.
#![allow(
    unsafe_code,
    reason = "getrlimit and pre_exec hooks (setrlimit, fcntl) to start the binary under limits"
)]

use std::process::Command;
use std::time::Duration;

use exporter_core::testkit::{
    check_port_in_use, check_unknown_flag_and_version, free_port, http_get_status, sample_value,
    wait_http, ChildGuard,
};

const BIN: &str = env!("CARGO_BIN_EXE_node-exporter");

fn run_to_exit(args: &[&str]) -> (i32, String) {
    exporter_core::testkit::run_to_exit(Command::new(BIN).args(args))
}

/// Starts the exporter on a free loopback port with `args` (and quiet logs): its guard and its
/// /metrics URL.
fn serve(args: &[&str]) -> (ChildGuard, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut cmd = Command::new(BIN);
    cmd.args(["--web.listen-address", &listen, "--log.level", "error"])
        .args(args);
    let guard = ChildGuard::spawn("node-exporter", &mut cmd);
    (guard, format!("http://{listen}/metrics"))
}

#[test]
fn unknown_flag_is_rejected_and_version_names_the_program() {
    check_unknown_flag_and_version(run_to_exit, "--collector.nonexistent", "node_exporter");
}

#[test]
fn help_opens_with_the_program_description() {
    // Not a collector flag struct's doc comment (it was "The tapestats collector's own flags").
    let (code, out) = run_to_exit(&["--help"]);
    assert_eq!(code, 0, "{out}");
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("Prometheus exporter for machine metrics, drop-in for node_exporter.")
    );
    assert_eq!(lines.next(), Some(""));
    assert_eq!(lines.next(), Some("Usage: node-exporter [OPTIONS]"));
}

#[test]
fn bad_regex_names_the_flag() {
    let (code, out) = run_to_exit(&["--collector.filesystem.mount-points-exclude", "(unclosed"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("--collector.filesystem.mount-points-exclude"),
        "{out}"
    );
}

#[test]
fn bad_web_config_names_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web.yml");
    std::fs::write(
        &file,
        "tls_server_config:\n  cert_file: a\n  key_file: b\n  bogus: 1\n",
    )
    .unwrap();
    let port = free_port();
    let (code, out) = run_to_exit(&[
        "--web.config.file",
        file.to_str().unwrap(),
        "--web.listen-address",
        &format!("127.0.0.1:{port}"),
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("web.yml") && out.contains("bogus"), "{out}");
}

#[test]
fn port_in_use_is_a_clear_error() {
    check_port_in_use(run_to_exit);
}

#[test]
fn empty_procfs_and_sysfs_still_answer_with_success_zero() {
    let empty = tempfile::tempdir().unwrap();
    let empty = empty.path().to_str().unwrap();
    let (_server, url) = serve(&["--path.procfs", empty, "--path.sysfs", empty]);
    let body = wait_http(&url, Duration::from_secs(20));
    for collector in [
        "cpu",
        "meminfo",
        "loadavg",
        "pressure",
        "conntrack",
        "diskstats",
    ] {
        assert_eq!(
            sample_value(
                &body,
                "node_scrape_collector_success",
                &[("collector", collector)]
            ),
            Some(0.0),
            "{collector}"
        );
    }
    // Collectors that do not read procfs keep working.
    assert_eq!(
        sample_value(
            &body,
            "node_scrape_collector_success",
            &[("collector", "uname")]
        ),
        Some(1.0)
    );
}

/// Started with a low soft limit on open files, the exporter raises it to the hard limit as Go's
/// upstream does: it keeps files open between scrapes.
#[test]
fn soft_open_file_limit_is_raised_to_the_hard_limit() {
    use std::os::unix::process::CommandExt;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit struct.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    let hard = lim.rlim_max;
    let low = 256.min(hard);
    assert!(low < hard, "this test needs a hard limit above {low}");
    let port = free_port();
    let mut cmd = Command::new(BIN);
    cmd.args([
        "--web.listen-address",
        &format!("127.0.0.1:{port}"),
        "--log.level",
        "error",
    ]);
    // SAFETY: the closure only calls setrlimit, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: low,
                rlim_max: hard,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let _server = ChildGuard::spawn("node-exporter", &mut cmd);
    let body = wait_http(
        &format!("http://127.0.0.1:{port}/metrics"),
        Duration::from_secs(20),
    );
    assert_eq!(
        sample_value(&body, "process_max_fds", &[]),
        Some(hard as f64)
    );
}

/// `collect[]` narrows a scrape to the named collectors (plus the scrape's own metrics), as
/// node_exporter's does; an unknown name is a 400 naming it.
#[test]
fn a_scrape_can_name_its_collectors() {
    let (_server, base) = serve(&[]);
    let all = wait_http(&base, Duration::from_secs(20));
    assert!(all.contains("\nnode_load1 "));

    let some = wait_http(
        &format!("{base}?collect[]=cpu&collect%5B%5D=meminfo"),
        Duration::from_secs(5),
    );
    let ran: Vec<_> = exporter_core::testkit::samples(&some)
        .into_iter()
        .filter(|(name, _, _)| name == "node_scrape_collector_success")
        .map(|(_, labels, _)| labels[0].1.clone())
        .collect();
    assert_eq!(ran, ["cpu", "meminfo"]);
    assert!(
        some.contains("node_cpu_seconds_total{") && some.contains("node_memory_MemTotal_bytes ")
    );
    assert!(!some.contains("node_load1"));
    assert!(
        some.contains("process_cpu_seconds_total"),
        "self metrics stay"
    );

    let without = wait_http(&format!("{base}?exclude[]=loadavg"), Duration::from_secs(5));
    assert!(!without.contains("node_load1") && without.contains("node_cpu_seconds_total{"));

    let (status, refused) = http_get_status(&format!("{base}?collect[]=cpu&collect[]=nonexistent"));
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused.contains("missing collector: nonexistent"),
        "{refused}"
    );
}

/// With `--web.systemd-socket` the exporter serves on the socket systemd passes (fd 3, named by
/// LISTEN_FDS and LISTEN_PID), not on `--web.listen-address`.
#[test]
fn serves_on_a_socket_passed_by_systemd() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let fd = socket.as_raw_fd();
    let unused = free_port();
    let mut cmd = Command::new("sh");
    // LISTEN_PID must be the exporter's pid: the shell's own, which exec keeps.
    cmd.args(["-c", "LISTEN_PID=$$ exec \"$0\" \"$@\"", BIN])
        .args([
            "--web.systemd-socket",
            "--web.listen-address",
            &format!("127.0.0.1:{unused}"),
            "--log.level",
            "error",
        ])
        .env("LISTEN_FDS", "1");
    // SAFETY: dup2 and fcntl are async-signal-safe; the closure touches no other state.
    unsafe {
        cmd.pre_exec(move || {
            let moved = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if moved < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let _server = ChildGuard::spawn("node-exporter", &mut cmd);
    let body = wait_http(&format!("http://{addr}/metrics"), Duration::from_secs(20));
    assert!(body.contains("node_scrape_collector_success"));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", unused)).is_err(),
        "--web.listen-address is not bound when systemd passes the sockets"
    );
}

#[test]
fn systemd_socket_without_systemd_is_a_clear_error() {
    let (code, out) = exporter_core::testkit::run_to_exit(
        Command::new(BIN)
            .args(["--web.systemd-socket"])
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDS"),
    );
    assert_eq!(code, 1);
    assert!(
        out.contains("--web.systemd-socket: LISTEN_PID is not set"),
        "{out}"
    );
}
