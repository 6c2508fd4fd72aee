//! `node_edac_*` memory error counters from /sys/devices/system/edac/mc/mc<N>/ and its
//! csrow<M>/ subdirectories.
//!
//! Hosts without an EDAC driver have no `mc` directory at all; like upstream (a glob that matches
//! nothing) that is a successful scrape with no samples, not an error.

use std::path::Path;

use exporter_core::{CollectError, CollectResult, MetricFamily};

use crate::absent::{gated_collector, GatedDir};
use crate::paths::HostPaths;
use crate::util::{read_file, sorted_dir_names};

/// The `edac` collector: what it reads and emits is in the module documentation.
pub struct EdacCollector {
    mc_dir: GatedDir,
}

impl EdacCollector {
    /// The collector reading under `cfg`.
    pub fn new(cfg: &HostPaths) -> Self {
        EdacCollector {
            mc_dir: GatedDir::new(cfg.sys_path("devices/system/edac/mc")),
        }
    }
}

/// The number in a `mc<N>` / `csrow<N>` directory name, or `None` for other entries (`power`,
/// `uevent`, ...). Like upstream's `mc[0-9]*` glob, only the leading digits count.
pub fn entry_number<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = name.strip_prefix(prefix)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    rest.get(..digits)
}

/// Parses a counter file (`ce_count`, `ue_noinfo_count`, ...): one unsigned decimal number.
pub fn parse_count(text: &str) -> Result<u64, CollectError> {
    let raw = text.trim();
    raw.parse()
        .map_err(|_| CollectError::Parse(format!("invalid EDAC counter {raw:?}")))
}

fn read_count(dir: &Path, file: &str) -> Result<f64, CollectError> {
    let path = dir.join(file);
    let text = read_file(&path)?;
    parse_count(&text)
        .map(|v| v as f64)
        .map_err(|e| CollectError::Parse(format!("{}: {e}", path.display())))
}

/// Counter files are mandatory once a controller exists: a missing one is a broken driver, an
/// error like upstream reports, not a host without EDAC.
fn required(r: Result<f64, CollectError>) -> Result<f64, CollectError> {
    r.map_err(|e| match e {
        CollectError::NotAvailable(what) => CollectError::Other(format!("missing {what}")),
        other => other,
    })
}

// A host without EDAC (no mc directory, or no controller in it) succeeds with no series.
gated_collector!(EdacCollector, "edac", mc_dir, or_empty);

impl EdacCollector {
    fn collect_present(&self) -> CollectResult {
        let entries = self.mc_dir.entries()?;

        let mut ce = MetricFamily::counter(
            "node_edac_correctable_errors_total",
            "Total correctable memory errors.",
        );
        let mut ue = MetricFamily::counter(
            "node_edac_uncorrectable_errors_total",
            "Total uncorrectable memory errors.",
        );
        let mut csrow_ce = MetricFamily::counter(
            "node_edac_csrow_correctable_errors_total",
            "Total correctable memory errors for this csrow.",
        );
        let mut csrow_ue = MetricFamily::counter(
            "node_edac_csrow_uncorrectable_errors_total",
            "Total uncorrectable memory errors for this csrow.",
        );

        for entry in &entries {
            let Some(controller) = entry_number(entry, "mc") else {
                continue;
            };
            let dir = self.mc_dir.join(entry);
            let labels = [("controller", controller)];
            ce.push(&labels, required(read_count(&dir, "ce_count"))?);
            csrow_ce.push(
                &[("controller", controller), ("csrow", "unknown")],
                required(read_count(&dir, "ce_noinfo_count"))?,
            );
            ue.push(&labels, required(read_count(&dir, "ue_count"))?);
            csrow_ue.push(
                &[("controller", controller), ("csrow", "unknown")],
                required(read_count(&dir, "ue_noinfo_count"))?,
            );

            for row_entry in sorted_dir_names(&dir)? {
                let Some(csrow) = entry_number(&row_entry, "csrow") else {
                    continue;
                };
                let row_dir = dir.join(&row_entry);
                let row_labels = [("controller", controller), ("csrow", csrow)];
                csrow_ce.push(&row_labels, required(read_count(&row_dir, "ce_count"))?);
                csrow_ue.push(&row_labels, required(read_count(&row_dir, "ue_count"))?);
            }
        }

        Ok(vec![ce, ue, csrow_ce, csrow_ue])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_maps, assert_rejects, sysfs_at, write};
    use exporter_core::BlockingCollector;

    #[test]
    fn entry_numbers_follow_the_glob() {
        assert_maps(
            |(name, prefix)| entry_number(name, prefix),
            &[
                (("mc0", "mc"), Some("0")),
                (("mc12", "mc"), Some("12")),
                (("mc3x", "mc"), Some("3")),
                (("mc", "mc"), None),
                (("mcx", "mc"), None),
                (("power", "mc"), None),
                (("csrow7", "csrow"), Some("7")),
                (("ce_count", "csrow"), None),
            ],
        );
    }

    #[test]
    fn parses_counters() {
        assert_eq!(parse_count("0\n").unwrap(), 0);
        assert_eq!(parse_count("  42 \n").unwrap(), 42);
        assert_rejects(parse_count, &["", "-1", "4 2", "garbage"]);
    }

    fn collector(sys: &Path) -> EdacCollector {
        let cfg = sysfs_at(sys);
        EdacCollector::new(&cfg)
    }

    #[test]
    fn missing_edac_is_success_without_samples() {
        let dir = tempfile::tempdir().unwrap();
        let fams = collector(dir.path()).collect().unwrap();
        assert!(fams.iter().all(|f| f.samples.is_empty()));
    }

    #[test]
    fn reads_controllers_and_csrows() {
        let dir = tempfile::tempdir().unwrap();
        let mc = dir.path().join("devices/system/edac/mc");
        for (file, v) in [
            ("ce_count", "3"),
            ("ce_noinfo_count", "1"),
            ("ue_count", "2"),
            ("ue_noinfo_count", "0"),
            ("csrow0/ce_count", "5"),
            ("csrow0/ue_count", "6"),
        ] {
            write(&mc.join("mc0").join(file), v);
        }
        write(&mc.join("power/autosuspend_delay_ms"), "x");
        let fams = collector(dir.path()).collect().unwrap();
        let ce = &fams[0];
        assert_eq!(ce.samples.len(), 1);
        assert_eq!(ce.samples[0].labels[0].1, "0");
        assert_eq!(ce.samples[0].value, 3.0);
        let csrow_ue = &fams[3];
        let rows: Vec<(&str, f64)> = csrow_ue
            .samples
            .iter()
            .map(|s| (s.labels[1].1.as_str(), s.value))
            .collect();
        assert_eq!(rows, vec![("unknown", 0.0), ("0", 6.0)]);
    }

    #[test]
    fn a_broken_controller_is_an_error_not_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let mc0 = dir.path().join("devices/system/edac/mc/mc0");
        write(&mc0.join("ce_count"), "3");
        let err = collector(dir.path()).collect().unwrap_err();
        assert!(matches!(err, CollectError::Other(_)), "{err:?}");
        write(&mc0.join("ce_noinfo_count"), "junk");
        let err = collector(dir.path()).collect().unwrap_err();
        assert!(matches!(err, CollectError::Parse(_)), "{err:?}");
    }
}
