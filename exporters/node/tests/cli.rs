//! The binary's start-up contract: bad flags and bad config files fail at once with a message
//! naming the culprit; a host without some kernel features still gets a 200 with success 0.

use std::process::Command;
use std::time::Duration;

use exporter_core::testkit::{free_port, sample_value, wait_http, ChildGuard};

const BIN: &str = env!("CARGO_BIN_EXE_node-exporter");

fn run_to_exit(args: &[&str]) -> (i32, String) {
    exporter_core::testkit::run_to_exit(Command::new(BIN).args(args))
}

#[test]
fn unknown_flag_is_rejected() {
    let (code, out) = run_to_exit(&["--collector.nonexistent"]);
    assert_eq!(code, 2);
    assert!(out.contains("--collector.nonexistent"), "{out}");
}

#[test]
fn version_names_the_program() {
    let (code, out) = run_to_exit(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("node_exporter, version "), "{out}");
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
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, out) = run_to_exit(&["--web.listen-address", &addr]);
    assert_eq!(code, 1);
    assert!(out.contains("cannot listen"), "{out}");
}

#[test]
fn empty_procfs_and_sysfs_still_answer_with_success_zero() {
    let empty = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = ChildGuard::spawn(
        "node-exporter",
        Command::new(BIN).args([
            "--web.listen-address",
            &format!("127.0.0.1:{port}"),
            "--path.procfs",
            empty.path().to_str().unwrap(),
            "--path.sysfs",
            empty.path().to_str().unwrap(),
            "--log.level",
            "error",
        ]),
    );
    let body = wait_http(
        &format!("http://127.0.0.1:{port}/metrics"),
        Duration::from_secs(20),
    );
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
