//! What the collectors' unit tests share: host trees in temporary directories, files written
//! into them, and the assertions every collector's tests make.

use std::path::Path;

use exporter_core::{BlockingCollector, CollectError, CollectResult, MetricFamily, Sample};

pub(crate) use exporter_core::testkit::assert_maps;

use crate::collector::CollectorFlags;
use crate::paths::HostPaths;

/// A collector's flags `F` parsed from `args` (its own flags only) and checked: its options, or
/// the error naming the flag at fault.
pub(crate) fn flag_options<F: CollectorFlags>(args: &[&str]) -> Result<F::Options, String> {
    let cmd = F::augment_args(clap::Command::new("x").no_binary_name(true));
    let matches = cmd.try_get_matches_from(args).map_err(|e| e.to_string())?;
    F::from_arg_matches(&matches)
        .map_err(|e| e.to_string())?
        .options()
}

/// Paths with procfs at `dir` and the other trees at their defaults.
pub(crate) fn procfs_at(dir: &Path) -> HostPaths {
    HostPaths {
        procfs: dir.to_path_buf(),
        ..HostPaths::default()
    }
}

/// Paths with sysfs at `dir` and the other trees at their defaults.
pub(crate) fn sysfs_at(dir: &Path) -> HostPaths {
    HostPaths {
        sysfs: dir.to_path_buf(),
        ..HostPaths::default()
    }
}

/// Paths with the root filesystem at `dir` and the other trees at their defaults.
pub(crate) fn rootfs_at(dir: &Path) -> HostPaths {
    HostPaths {
        rootfs: dir.to_path_buf(),
        ..HostPaths::default()
    }
}

/// Writes `text` to `path`, creating the directories above it.
pub(crate) fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Writes each of `files` (`(path below root, text)`), creating the directories above them.
pub(crate) fn write_all(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        write(&root.join(path), text);
    }
}

/// Builds a collector with `new` on a procfs holding `files` (`(path below it, text)`) and
/// returns one scrape's families; panics if the scrape fails.
#[track_caller]
pub(crate) fn scrape_procfs<C: BlockingCollector>(
    files: &[(&str, &str)],
    new: impl FnOnce(&HostPaths) -> C,
) -> Vec<MetricFamily> {
    let dir = tempfile::tempdir().unwrap();
    write_all(dir.path(), files);
    new(&procfs_at(dir.path())).collect().unwrap()
}

/// A `key n 1 2 ... n` line, as /proc/net/rpc/nfs and nfsd write a counted row of statistics.
pub(crate) fn numbered(key: &str, n: usize) -> String {
    let values: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
    format!("{key} {n} {}\n", values.join(" "))
}

/// Asserts that a scrape found its source missing.
#[track_caller]
pub(crate) fn assert_not_available(result: CollectResult) {
    assert!(
        matches!(result, Err(CollectError::NotAvailable(_))),
        "{result:?}"
    );
}

/// For a tree without the collector's source: asserts that a collector `new` builds finds it
/// not available, and returns a fresh one to scrape once the test has made the source (the
/// first would answer from its gate, without looking, for a while).
#[track_caller]
pub(crate) fn not_available_then_fresh<C: BlockingCollector>(new: impl Fn() -> C) -> C {
    assert_not_available(new().collect());
    new()
}

/// Asserts that `parse` rejects every one of `inputs`.
#[track_caller]
pub(crate) fn assert_rejects<'a, T, E>(
    parse: impl Fn(&'a str) -> Result<T, E>,
    inputs: &[&'a str],
) {
    for input in inputs {
        assert!(parse(input).is_err(), "{input:?} was accepted");
    }
}

/// A sample's labels as `(name, value)` pairs, in order, to compare with a literal list.
pub(crate) fn label_pairs(sample: &Sample) -> Vec<(&str, &str)> {
    sample
        .labels
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_str()))
        .collect()
}

pub(crate) use exporter_core::testkit::family;

/// Asserts the value of the first sample of each named family.
#[track_caller]
pub(crate) fn assert_first_values(families: &[MetricFamily], expected: &[(&str, f64)]) {
    for (name, want) in expected {
        assert_eq!(family(families, name).samples[0].value, *want, "{name}");
    }
}

/// The names of `families`, in order.
pub(crate) fn family_names(families: &[MetricFamily]) -> Vec<&str> {
    families.iter().map(|f| f.name.as_ref()).collect()
}
