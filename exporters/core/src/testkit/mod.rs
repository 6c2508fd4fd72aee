//! Helpers for the suite's tests (feature `testkit`): free ports, child processes that are killed
//! when the test ends (even on failure), polling, the start-up contract every binary keeps, and
//! reading an exposition (its families' shapes, a sample's value, `assert_samples`). Beside them:
//! a test CA (`pki`), PostgreSQL clusters (`postgres`) and servers run on their own thread
//! (`background`).

pub mod background;
#[cfg(feature = "fuzz")]
pub mod fuzz;
pub mod pki;
pub mod postgres;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::MetricFamily;

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

/// A binary of another workspace package, built by `cargo test --workspace` for that package's
/// own tests: `target/<profile>/<name>`, beside the running test's `deps/` directory (examples
/// are under `examples/<name>`).
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("path of the running test");
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binaries live in target/<profile>/deps/")
        .join(name);
    assert!(
        path.exists(),
        "{} not built: run `cargo test --workspace` (or cargo build -p <its package>)",
        path.display()
    );
    path
}

/// The venv with the pinned Celery of `tests/celery/`: made on first use in
/// `<workspace>/target/celery-venv` by `tests/celery/setup-venv.sh` (idempotent, and locked
/// against the other test binaries), or taken from `CELERY_TEST_VENV`.
pub fn celery_venv(workspace_root: &Path) -> PathBuf {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        if let Some(v) = std::env::var_os("CELERY_TEST_VENV") {
            return PathBuf::from(v);
        }
        let dir = workspace_root.join("target/celery-venv");
        let status = Command::new("bash")
            .arg(workspace_root.join("tests/celery/setup-venv.sh"))
            .arg(&dir)
            .status()
            .expect("cannot run tests/celery/setup-venv.sh");
        assert!(status.success(), "tests/celery/setup-venv.sh failed");
        dir
    })
    .clone()
}

/// Kills and reaps the child when dropped, so a failing test leaves no server behind.
pub struct ChildGuard {
    pub(crate) child: Child,
}

impl ChildGuard {
    /// Starts `cmd` as configured (arguments, environment, stdio); a child that cannot start
    /// fails the test with `name` in the message.
    pub fn spawn(name: &str, cmd: &mut Command) -> ChildGuard {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        ChildGuard { child }
    }

    /// The child's process id, e.g. to read its resident memory under `/proc/<pid>`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a command that is expected to exit (bad flags, `--version`): its exit code (-1 when
/// killed by a signal) and stderr followed by stdout.
pub fn run_to_exit(cmd: &mut Command) -> (i32, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout),
    )
}

/// Polls `f` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// GETs a URL; `None` on any failure (connection refused while a server starts, non-2xx).
pub fn http_get(url: &str) -> Option<String> {
    ureq::get(url)
        .timeout(Duration::from_secs(30))
        .call()
        .ok()?
        .into_string()
        .ok()
}

/// GETs a URL and returns its status and body, for a non-2xx answer too; a failure to connect
/// fails the test.
pub fn http_get_status(url: &str) -> (u16, String) {
    match ureq::get(url).timeout(Duration::from_secs(30)).call() {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => panic!("GET {url}: {e}"),
    }
}

/// Asserts that `f` maps every input of `cases` to the output beside it.
#[track_caller]
pub fn assert_maps<I, O, E>(f: impl Fn(I) -> O, cases: &[(I, E)])
where
    I: Copy + std::fmt::Debug,
    O: PartialEq<E> + std::fmt::Debug,
    E: std::fmt::Debug,
{
    for (input, expected) in cases {
        assert_eq!(&f(*input), expected, "{input:?}");
    }
}

/// The start-up contract every exporter binary keeps, checked through `run` (the crate's way of
/// running its binary to exit with arguments): an unknown flag exits 2 naming the flag, and
/// `--version` exits 0 with output starting `<upstream>, version ` (as the Go exporter's).
#[track_caller]
pub fn check_unknown_flag_and_version(
    run: impl Fn(&[&str]) -> (i32, String),
    unknown_flag: &str,
    upstream: &str,
) {
    let (code, out) = run(&[unknown_flag]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains(unknown_flag), "{out}");
    let (code, out) = run(&["--version"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with(&format!("{upstream}, version ")), "{out}");
}

/// A start-up that must fail, from the crate's way of running its binary to exit: exit code 1,
/// the output naming each of `shown` and none of `hidden` (the secrets it was given).
#[track_caller]
pub fn assert_fails_naming((code, out): (i32, String), shown: &[&str], hidden: &[&str]) {
    assert_eq!(code, 1, "{out}");
    for s in shown {
        assert!(out.contains(s), "{s} missing from: {out}");
    }
    for h in hidden {
        assert!(!out.contains(h), "{h} shown in: {out}");
    }
}

/// The family named `name` among `families`; panics naming it when it is missing.
#[track_caller]
pub fn family<'a>(families: &'a [MetricFamily], name: &str) -> &'a MetricFamily {
    families
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no family {name}"))
}

/// What `promtool check metrics` says about the exposition `text`: its exit code (1: it could not
/// parse it, 3: lint findings) and its findings (stdout, then stderr); `None` when promtool is not
/// installed (the CI image has it).
pub fn promtool_check_metrics(text: &str) -> Option<(Option<i32>, String)> {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let findings =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Some((out.status.code(), findings))
}

/// The start-up contract for a listen address already taken: exit 1 with a message saying the
/// exporter cannot listen (checked through `run`, as in [`check_unknown_flag_and_version`]).
#[track_caller]
pub fn check_port_in_use(run: impl Fn(&[&str]) -> (i32, String)) {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, out) = run(&["--web.listen-address", &addr]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cannot listen"), "{out}");
}

/// Waits until `url` answers 2xx and returns the body.
pub fn wait_http(url: &str, timeout: Duration) -> String {
    wait_for(url, timeout, || http_get(url))
}

/// The shape of one metric family: its type and the label names seen on its samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyShape {
    /// The `# TYPE` (`counter`, `gauge`, ...); `untyped` when the exposition declares none.
    pub kind: String,
    /// Every label name on the family's samples, without `le` and `quantile`: comparing these
    /// with upstream's finds a missing or extra label.
    pub label_names: BTreeSet<String>,
}

/// Family name -> shape, from a text exposition. Histogram/summary sample suffixes and their
/// `le`/`quantile` labels are folded into the family.
pub fn family_shapes(text: &str) -> BTreeMap<String, FamilyShape> {
    let mut out: BTreeMap<String, FamilyShape> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            if let (Some(name), Some(kind)) = (parts.next(), parts.next()) {
                out.entry(name.to_string()).or_insert(FamilyShape {
                    kind: kind.to_string(),
                    label_names: BTreeSet::new(),
                });
            }
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((name, labels, _)) = parse_sample(line) else {
            continue;
        };
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                let base = name.strip_suffix(s)?;
                out.get(base)
                    .filter(|f| f.kind == "histogram" || f.kind == "summary")
                    .map(|_| base.to_string())
            })
            .unwrap_or_else(|| name.clone());
        let entry = out.entry(family).or_insert(FamilyShape {
            kind: "untyped".into(),
            label_names: BTreeSet::new(),
        });
        for (k, _) in labels {
            if k != "le" && k != "quantile" {
                entry.label_names.insert(k);
            }
        }
    }
    out
}

/// How our exposition's families differ from upstream's, a line each: a family of `theirs` that
/// `ours` lacks, or has with another type or other label names. A family for which `skip(name)`
/// holds is not compared; `labels_agree(name, ours, theirs)` says whether the label names agree
/// (`|_, o, t| o == t` to ask for the same).
pub fn shape_differences(
    theirs: &str,
    ours: &str,
    skip: impl Fn(&str) -> bool,
    labels_agree: impl Fn(&str, &BTreeSet<String>, &BTreeSet<String>) -> bool,
) -> Vec<String> {
    let our_shapes = family_shapes(ours);
    let mut problems = Vec::new();
    for (name, shape) in family_shapes(theirs).iter().filter(|(n, _)| !skip(n)) {
        match our_shapes.get(name) {
            None => problems.push(format!("missing: {name}")),
            Some(o) if o.kind != shape.kind => problems.push(format!(
                "{name}: type {} vs upstream {}",
                o.kind, shape.kind
            )),
            Some(o) if !labels_agree(name, &o.label_names, &shape.label_names) => {
                problems.push(format!(
                    "{name}: labels {:?} vs upstream {:?}",
                    o.label_names, shape.label_names
                ))
            }
            Some(_) => {}
        }
    }
    problems
}

/// Fails listing every one of `problems` (their count, then one a line), if there is any.
#[track_caller]
pub fn assert_no_problems(problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// One sample line: name, labels, value.
pub type ParsedSample = (String, Vec<(String, String)>, f64);

/// Every sample line of an exposition.
pub fn samples(text: &str) -> Vec<ParsedSample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(parse_sample)
        .collect()
}

/// The value of the first sample named `name` whose labels include all of `labels`.
pub fn sample_value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples(text).into_iter().find_map(|(n, l, v)| {
        (n == name
            && labels
                .iter()
                .all(|(k, want)| l.iter().any(|(lk, lv)| lk == k && lv == want)))
        .then_some(v)
    })
}

/// An expected sample: name, labels it must include, and its value (`None`: absent).
pub type ExpectedSample<'a> = (&'a str, &'a [(&'a str, &'a str)], Option<f64>);

/// Asserts each of `expected` against the exposition `text` (by [`sample_value`]).
#[track_caller]
pub fn assert_samples(text: &str, expected: &[ExpectedSample]) {
    for &(name, labels, value) in expected {
        let got = sample_value(text, name, labels);
        assert_eq!(got, value, "{name}{labels:?} in\n{text}");
    }
}

fn parse_sample(line: &str) -> Option<ParsedSample> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_string();
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        let mut chars = r.char_indices().peekable();
        let mut key = String::new();
        loop {
            let (i, c) = chars.next()?;
            match c {
                '}' => {
                    rest = &r[i + 1..];
                    break;
                }
                ',' | ' ' => {}
                '=' => {
                    if chars.next()?.1 != '"' {
                        return None;
                    }
                    let mut value = String::new();
                    loop {
                        let (_, c) = chars.next()?;
                        match c {
                            '\\' => match chars.next()?.1 {
                                'n' => value.push('\n'),
                                other => value.push(other),
                            },
                            '"' => break,
                            c => value.push(c),
                        }
                    }
                    labels.push((std::mem::take(&mut key), value));
                }
                c => key.push(c),
            }
        }
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some((name, labels, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_fold_histogram_parts() {
        let text = "# TYPE h histogram\nh_bucket{a=\"1\",le=\"+Inf\"} 2\nh_sum{a=\"1\"} 3\nh_count{a=\"1\"} 2\n\
                    # TYPE g gauge\ng{x=\"a,b\\\"c\",y=\"\"} 1.5\n";
        let s = family_shapes(text);
        assert_eq!(s.len(), 2);
        assert_eq!(s["h"].label_names, BTreeSet::from(["a".to_string()]));
        assert_eq!(
            s["g"].label_names,
            BTreeSet::from(["x".to_string(), "y".to_string()])
        );
        assert_eq!(sample_value(text, "g", &[("x", "a,b\"c")]), Some(1.5));
        assert_eq!(sample_value(text, "h_bucket", &[("le", "+Inf")]), Some(2.0));
    }
}
