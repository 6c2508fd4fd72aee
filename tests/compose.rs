//! No Docker engine runs here, so the compose deployment is validated as a file: it parses, every
//! file it mounts or builds from exists, its services and ports are the scrape targets
//! prometheus.yml uses, and it ships no default password.

use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn compose() -> Value {
    let text = std::fs::read_to_string(root().join("docker-compose.monitoring.yml")).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

fn services() -> serde_yaml_ng::Mapping {
    compose()["services"].as_mapping().unwrap().clone()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

#[test]
fn every_mounted_and_built_file_exists() {
    for (name, svc) in services() {
        let name = name.as_str().unwrap();
        for volume in strings(&svc["volumes"]) {
            let host = volume.split(':').next().unwrap();
            if host.starts_with("./") {
                assert!(root().join(host).exists(), "{name}: {host} does not exist");
            }
        }
    }
    assert!(root().join("Dockerfile").exists());
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    for (name, svc) in services() {
        if svc["image"].as_str() == Some("monitoring-suite:latest") {
            let binary = strings(&svc["command"]).into_iter().next().unwrap();
            assert!(
                dockerfile.contains(&binary),
                "{}: binary {binary} is not built by the Dockerfile",
                name.as_str().unwrap()
            );
        }
    }
}

#[test]
fn scrape_targets_are_compose_services_with_their_ports() {
    let services = services();
    let targets = root().join("monitoring/targets");
    for entry in std::fs::read_dir(&targets).unwrap() {
        let path = entry.unwrap().path();
        let groups: Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for target in groups
            .as_sequence()
            .unwrap()
            .iter()
            .flat_map(|g| strings(&g["targets"]))
        {
            let (host, port) = target.rsplit_once(':').unwrap();
            let svc = services
                .get(host)
                .unwrap_or_else(|| panic!("{}: {host} is not a compose service", path.display()));
            let ports = strings(&svc["ports"]);
            assert!(
                ports.iter().any(|p| p.ends_with(&format!(":{port}"))),
                "{host} does not publish port {port} (ports: {ports:?})"
            );
        }
    }
}

#[test]
fn prometheus_keeps_30_days_and_reloads() {
    let command = strings(&services()["prometheus"]["command"]);
    assert!(command.contains(&"--storage.tsdb.retention.time=30d".to_string()));
    assert!(command.contains(&"--web.enable-lifecycle".to_string()));
}

#[test]
fn grafana_has_no_default_password() {
    let password = services()["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        password.contains(":?"),
        "the admin password must come from the environment, with no default: {password}"
    );
    let text = std::fs::read_to_string(root().join("docker-compose.monitoring.yml")).unwrap();
    assert!(!text.contains("admin/admin") && !text.contains("=admin"));
}

#[test]
fn secrets_come_from_files_outside_the_repository() {
    for (name, secret) in compose()["secrets"].as_mapping().unwrap() {
        let file = secret["file"].as_str().unwrap();
        assert!(
            Path::new(file).starts_with("./secrets"),
            "{}: {file}",
            name.as_str().unwrap()
        );
    }
    let ignore = std::fs::read_to_string(root().join(".gitignore")).unwrap();
    assert!(
        ignore.lines().any(|l| l.trim() == "/secrets"),
        "secrets/ must be git-ignored"
    );
}
