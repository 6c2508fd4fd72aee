//! `node_selinux_enabled`, and when SELinux is on, `node_selinux_config_mode` (from
//! /etc/selinux/config) and `node_selinux_current_mode` (from selinuxfs `enforce`).
//!
//! Modes use upstream's (go-selinux's) encoding: 1 enforcing, 0 permissive, -1 disabled.
//! A host without selinuxfs reports `enabled 0` and succeeds, as upstream does.

use std::path::PathBuf;

use exporter_core::{BlockingCollector, CollectResult, MetricFamily};

use crate::paths::HostPaths;
use crate::util::read_attr;

/// The `selinux` collector: what it reads and emits is in the module documentation.
pub struct SelinuxCollector {
    enforce: PathBuf,
    attr_current: PathBuf,
    config: PathBuf,
}

impl SelinuxCollector {
    /// The collector reading under `cfg`.
    pub fn new(cfg: &HostPaths) -> Self {
        SelinuxCollector {
            enforce: cfg.sys_path("fs/selinux/enforce"),
            attr_current: cfg.proc_path("self/attr/current"),
            config: cfg.root_path("/etc/selinux/config"),
        }
    }
}

const ENFORCING: f64 = 1.0;
const PERMISSIVE: f64 = 0.0;
const DISABLED: f64 = -1.0;

/// Parses selinuxfs `enforce` (`0` or `1`); anything else counts as disabled, as go-selinux does
/// when it cannot read the mode.
pub fn parse_enforce(text: &str) -> f64 {
    match text.trim().parse::<i64>() {
        Ok(0) => PERMISSIVE,
        Ok(1) => ENFORCING,
        _ => DISABLED,
    }
}

/// The `SELINUX=` setting of /etc/selinux/config as a mode; a missing file or key is disabled.
pub fn parse_config_mode(text: &str) -> f64 {
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() == "SELINUX" {
            return match value.trim().trim_matches('"') {
                "enforcing" => ENFORCING,
                "permissive" => PERMISSIVE,
                _ => DISABLED,
            };
        }
    }
    DISABLED
}

impl SelinuxCollector {
    /// SELinux counts as enabled when selinuxfs is mounted (its `enforce` file is readable) and a
    /// policy is loaded: before policy load our own context reads as `kernel`. Without an LSM the
    /// context file is unreadable (EINVAL); that never coincides with selinuxfs being mounted, so
    /// only an explicit `kernel` disables.
    fn enforce_mode(&self) -> Option<f64> {
        let enforce = read_attr(&self.enforce)?;
        let context = read_attr(&self.attr_current);
        if context.as_deref().map(|c| c.trim_end_matches('\0')) == Some("kernel") {
            return None;
        }
        Some(parse_enforce(&enforce))
    }
}

impl BlockingCollector for SelinuxCollector {
    fn name(&self) -> &'static str {
        "selinux"
    }

    fn collect(&self) -> CollectResult {
        let enabled = MetricFamily::gauge(
            "node_selinux_enabled",
            "SELinux is enabled, 1 is true, 0 is false",
        );
        let Some(current) = self.enforce_mode() else {
            return Ok(vec![enabled.with(&[], 0.0)]);
        };
        let config = read_attr(&self.config)
            .map(|t| parse_config_mode(&t))
            .unwrap_or(DISABLED);
        Ok(vec![
            enabled.with(&[], 1.0),
            MetricFamily::gauge(
                "node_selinux_config_mode",
                "Configured SELinux enforcement mode",
            )
            .with(&[], config),
            MetricFamily::gauge(
                "node_selinux_current_mode",
                "Current SELinux enforcement mode",
            )
            .with(&[], current),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::write;

    #[test]
    fn parses_enforce() {
        assert_eq!(parse_enforce("1"), ENFORCING);
        assert_eq!(parse_enforce("0\n"), PERMISSIVE);
        assert_eq!(parse_enforce(""), DISABLED);
        assert_eq!(parse_enforce("yes"), DISABLED);
    }

    #[test]
    fn parses_config() {
        let fedora = "# This file controls the state of SELinux on the system.\n\
                      # SELINUX= can take one of these three values:\n\
                      #     enforcing - SELinux security policy is enforced.\n\
                      SELINUX=enforcing\n\
                      SELINUXTYPE=targeted\n";
        assert_eq!(parse_config_mode(fedora), ENFORCING);
        assert_eq!(parse_config_mode("SELINUX = \"permissive\"\n"), PERMISSIVE);
        assert_eq!(parse_config_mode("SELINUX=disabled\n"), DISABLED);
        assert_eq!(parse_config_mode("SELINUXTYPE=targeted\n"), DISABLED);
        assert_eq!(parse_config_mode("garbage\n=\n"), DISABLED);
        assert_eq!(parse_config_mode(""), DISABLED);
    }

    fn fixture() -> (tempfile::TempDir, HostPaths) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = HostPaths {
            procfs: dir.path().join("proc"),
            sysfs: dir.path().join("sys"),
            rootfs: dir.path().join("root"),
            ..HostPaths::default()
        };
        (dir, cfg)
    }

    #[test]
    fn without_selinuxfs_reports_disabled_and_succeeds() {
        let (_dir, cfg) = fixture();
        let fams = SelinuxCollector::new(&cfg).collect().unwrap();
        assert_eq!(fams.len(), 1);
        assert_eq!(fams[0].name, "node_selinux_enabled");
        assert_eq!(fams[0].samples[0].value, 0.0);
    }

    #[test]
    fn with_selinuxfs_reports_modes() {
        let (dir, cfg) = fixture();
        let p = dir.path();
        std::fs::create_dir_all(p.join("sys/fs/selinux")).unwrap();
        write(&p.join("sys/fs/selinux/enforce"), "0");
        std::fs::create_dir_all(p.join("root/etc/selinux")).unwrap();
        write(&p.join("root/etc/selinux/config"), "SELINUX=enforcing\n");
        let c = SelinuxCollector::new(&cfg);
        let values: Vec<_> = c
            .collect()
            .unwrap()
            .iter()
            .map(|f| (f.name.to_string(), f.samples[0].value))
            .collect();
        assert_eq!(
            values,
            [
                ("node_selinux_enabled".to_string(), 1.0),
                ("node_selinux_config_mode".to_string(), 1.0),
                ("node_selinux_current_mode".to_string(), 0.0),
            ]
        );

        // No policy loaded yet: our context is "kernel".
        std::fs::create_dir_all(p.join("proc/self/attr")).unwrap();
        write(&p.join("proc/self/attr/current"), "kernel\0");
        let fams = c.collect().unwrap();
        assert_eq!(fams.len(), 1);
        assert_eq!(fams[0].samples[0].value, 0.0);
    }
}
