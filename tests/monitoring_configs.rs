//! The shipped Prometheus, alert-rule and Alertmanager files, checked with the upstream tools:
//! promtool (config, rules, rule unit tests) and amtool (config, routing of every severity).

use std::path::{Path, PathBuf};
use std::process::Command;

fn monitoring() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("monitoring")
}

/// Runs a tool and returns (success, combined output).
fn run(cmd: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(monitoring())
        .output()
        .unwrap_or_else(|e| panic!("{cmd} not installed ({e}): run ./scripts/test"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn prometheus_config_and_rules_are_valid() {
    let (ok, out) = run("promtool", &["check", "config", "prometheus.yml"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("alert.rules.yml"),
        "rule file not referenced:\n{out}"
    );
}

#[test]
fn every_alert_passes_its_unit_tests() {
    let (ok, out) = run("promtool", &["test", "rules", "tests/alert.rules.test.yml"]);
    assert!(ok, "{out}");
}

#[test]
fn every_alert_is_unit_tested_and_documented() {
    let rules: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(monitoring().join("alert.rules.yml")).unwrap(),
    )
    .unwrap();
    let tests = std::fs::read_to_string(monitoring().join("tests/alert.rules.test.yml")).unwrap();
    let readme = std::fs::read_to_string(monitoring().join("README.md")).unwrap();
    let mut count = 0;
    for group in rules["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let name = rule["alert"].as_str().unwrap();
            count += 1;
            for label in ["severity", "service"] {
                assert!(
                    rule["labels"][label].is_string(),
                    "{name}: no {label} label"
                );
            }
            for annotation in ["summary", "description", "runbook_url"] {
                assert!(
                    rule["annotations"][annotation].is_string(),
                    "{name}: no {annotation}"
                );
            }
            assert!(
                tests.contains(&format!("alertname: {name}\n")),
                "{name} has no promtool unit test"
            );
            let anchor = rule["annotations"]["runbook_url"]
                .as_str()
                .unwrap()
                .rsplit('#')
                .next()
                .unwrap()
                .to_string();
            assert_eq!(anchor, name.to_lowercase(), "{name}: runbook anchor");
            assert!(
                readme.contains(&format!("### {name}\n")),
                "{name} has no runbook section in monitoring/README.md"
            );
        }
    }
    assert!(count >= 10, "the guide's ten alerts are missing");
}

#[test]
fn alertmanager_config_is_valid() {
    let (ok, out) = run("amtool", &["check-config", "alertmanager.yml"]);
    assert!(ok, "{out}");
}

/// `amtool config routes test --verify.receivers` exits 1 on a mismatch.
fn routes_to(labels: &[&str], receivers: &str) -> bool {
    let verify = format!("--verify.receivers={receivers}");
    let mut args = vec![
        "config",
        "routes",
        "test",
        "--config.file=alertmanager.yml",
        &verify,
    ];
    args.extend_from_slice(labels);
    run("amtool", &args).0
}

#[test]
fn severities_route_to_the_guides_receivers() {
    assert!(routes_to(
        &["alertname=RedisDown", "severity=critical", "service=redis"],
        "oncall-email,team-email,slack-critical,pagerduty"
    ));
    assert!(routes_to(
        &["alertname=DiskSpaceLow", "severity=warning", "service=host"],
        "team-email,slack-warning"
    ));
    assert!(routes_to(&["alertname=Custom"], "team-email"));
    // The check itself can fail: a warning must not page anyone.
    assert!(!routes_to(
        &["alertname=DiskSpaceLow", "severity=warning", "service=host"],
        "oncall-email,team-email,slack-critical,pagerduty"
    ));
}

#[test]
fn no_secret_is_in_the_alertmanager_file() {
    let text = std::fs::read_to_string(monitoring().join("alertmanager.yml")).unwrap();
    for secret_key in [
        "smtp_auth_password:",
        "api_url:",
        "service_key:",
        "routing_key:",
    ] {
        assert!(
            !text.contains(secret_key),
            "{secret_key} must come from a *_file"
        );
    }
}
