//! Sources a host does not have, looked for again only now and then.
//!
//! Most hosts have no bonding driver, no md arrays, no NFS, no XFS, no NVMe, no tape drive, no
//! Fibre Channel, no IPVS and no RAPL, yet those collectors are on by default, as upstream's are.
//! Looking for each missing source on every scrape costs a failed open per collector; a
//! [`SourceGate`] remembers that a collector's top-level source (a file or directory) was missing
//! and answers the same for [`RECHECK`] without any I/O. A source that appears later (a module
//! loaded, an array assembled, an NFS server started) shows up at most [`RECHECK`] later.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use exporter_core::{CollectError, CollectResult};

use crate::kept::KeptFile;
use crate::util::sorted_dir_names;

/// How long a missing source is taken as still missing.
pub(crate) const RECHECK: Duration = Duration::from_secs(60);

/// Remembers when a collector's source was last found missing.
#[derive(Debug)]
pub(crate) struct SourceGate {
    /// The path whose absence means "this host has none" (as `CollectError::NotAvailable` names
    /// it).
    source: String,
    /// Until when the source counts as missing without looking.
    missing_until: Mutex<Option<Instant>>,
}

impl SourceGate {
    /// A gate for the source at `path`.
    pub(crate) fn new(path: &Path) -> Self {
        SourceGate {
            source: path.display().to_string(),
            missing_until: Mutex::new(None),
        }
    }

    /// Runs `collect`, unless the source was found missing less than [`RECHECK`] ago: then the
    /// answer is `NotAvailable` again, with no I/O. A `NotAvailable` naming the source itself
    /// (not a file inside it) starts a new [`RECHECK`] period.
    pub(crate) fn run(&self, collect: impl FnOnce() -> CollectResult) -> CollectResult {
        self.run_at(Instant::now(), collect, Missing::NotAvailable)
    }

    /// [`run`](Self::run) for a collector that succeeds with no series on a host without its
    /// source, as upstream's does when its glob matches nothing: the missing source is
    /// remembered the same way, and answered with no families.
    pub(crate) fn run_or_empty(&self, collect: impl FnOnce() -> CollectResult) -> CollectResult {
        self.run_at(Instant::now(), collect, Missing::Empty)
    }

    fn run_at(
        &self,
        now: Instant,
        collect: impl FnOnce() -> CollectResult,
        answer: Missing,
    ) -> CollectResult {
        let mut missing_until = self.missing_until.lock().unwrap_or_else(|e| e.into_inner());
        if missing_until.is_some_and(|until| now < until) {
            return match answer {
                Missing::Empty => Ok(Vec::new()),
                Missing::NotAvailable => Err(CollectError::NotAvailable(format!(
                    "{} (missing; looked for again every {}s)",
                    self.source,
                    RECHECK.as_secs()
                ))),
            };
        }
        let result = collect();
        let source_missing =
            matches!(&result, Err(CollectError::NotAvailable(what)) if *what == self.source);
        *missing_until = source_missing.then(|| now + RECHECK);
        match answer {
            Missing::Empty if source_missing => Ok(Vec::new()),
            _ => result,
        }
    }
}

/// What a scrape answers while a source is missing.
#[derive(Debug, Clone, Copy)]
enum Missing {
    /// `CollectError::NotAvailable`: the collector reports failure, as upstream's does.
    NotAvailable,
    /// No families, and success.
    Empty,
}

/// A directory that is a collector's whole source, with the [`SourceGate`] that remembers it
/// missing. It derefs to the directory's path.
#[derive(Debug)]
pub(crate) struct GatedDir {
    path: PathBuf,
    gate: SourceGate,
}

impl GatedDir {
    /// The directory at `path`, not yet looked for.
    pub(crate) fn new(path: PathBuf) -> Self {
        GatedDir {
            gate: SourceGate::new(&path),
            path,
        }
    }

    /// [`SourceGate::run`] for this directory.
    pub(crate) fn run(&self, collect: impl FnOnce() -> CollectResult) -> CollectResult {
        self.gate.run(collect)
    }

    /// [`SourceGate::run_or_empty`] for this directory.
    pub(crate) fn run_or_empty(&self, collect: impl FnOnce() -> CollectResult) -> CollectResult {
        self.gate.run_or_empty(collect)
    }

    /// The directory's entries in name order. An empty directory counts as missing (a class
    /// directory with no devices in it: /sys/class/thermal on a VM), so the gate remembers it.
    pub(crate) fn entries(&self) -> Result<Vec<String>, CollectError> {
        let names = sorted_dir_names(&self.path)?;
        if names.is_empty() {
            return Err(self.missing());
        }
        Ok(names)
    }

    /// The error that tells the gate this directory holds nothing of what its collector reads.
    pub(crate) fn missing(&self) -> CollectError {
        CollectError::NotAvailable(self.gate.source.clone())
    }
}

impl AsRef<Path> for GatedDir {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Deref for GatedDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

/// A file whose absence means the collector's source is missing, kept open ([`KeptFile`]), with
/// the [`SourceGate`] that remembers it missing. It derefs to the [`KeptFile`].
#[derive(Debug)]
pub(crate) struct GatedFile {
    file: KeptFile,
    gate: SourceGate,
}

impl GatedFile {
    /// The file at `path`, not yet looked for.
    pub(crate) fn new(path: PathBuf) -> Self {
        GatedFile {
            gate: SourceGate::new(&path),
            file: KeptFile::new(path),
        }
    }

    /// [`SourceGate::run`] for this file.
    pub(crate) fn run(&self, collect: impl FnOnce() -> CollectResult) -> CollectResult {
        self.gate.run(collect)
    }
}

impl Deref for GatedFile {
    type Target = KeptFile;

    fn deref(&self) -> &KeptFile {
        &self.file
    }
}

/// Implements `BlockingCollector` for a collector whose whole source may be missing on a host:
/// its name is `$name`, and a scrape runs the collector's own `collect_present` through the
/// [`SourceGate`], [`GatedDir`] or [`GatedFile`] in its field `$gate` (with `or_empty` last,
/// through [`SourceGate::run_or_empty`]).
macro_rules! gated_collector {
    ($collector:ty, $name:literal, $gate:ident) => {
        $crate::absent::gated_collector!($collector, $name, $gate, run);
    };
    ($collector:ty, $name:literal, $gate:ident, or_empty) => {
        $crate::absent::gated_collector!($collector, $name, $gate, run_or_empty);
    };
    ($collector:ty, $name:literal, $gate:ident, $run:ident) => {
        impl exporter_core::BlockingCollector for $collector {
            fn name(&self) -> &'static str {
                $name
            }

            fn collect(&self) -> exporter_core::CollectResult {
                self.$gate.$run(|| self.collect_present())
            }
        }
    };
}
pub(crate) use gated_collector;

/// Declares a collector of one /proc file that may be missing on a host (its kernel module not
/// loaded): the struct `$collector` with the [`GatedFile`] of `$path` (below the proc root), its
/// `new`, and its `BlockingCollector` named `$name`, whose scrape is `$families` (a pure function
/// from the file's text to the families, or a parse error) on the file.
macro_rules! gated_proc_file_collector {
    ($name:literal, $collector:ident, $path:literal, $families:path) => {
        #[doc = concat!("The `", $name, "` collector: what it reads and emits is in the module documentation.")]
        pub struct $collector {
            file: $crate::absent::GatedFile,
        }

        impl $collector {
            /// The collector reading under `paths`.
            pub fn new(paths: &$crate::paths::HostPaths) -> Self {
                $collector {
                    file: $crate::absent::GatedFile::new(paths.proc_path($path)),
                }
            }

            fn collect_present(&self) -> exporter_core::CollectResult {
                self.file.parse_with($families)
            }
        }

        $crate::absent::gated_collector!($collector, $name, file);
    };
}
pub(crate) use gated_proc_file_collector;

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A collect that finds `what` missing, counting its runs in `calls`.
    fn finds_missing<'a>(
        what: &'a str,
        calls: &'a Cell<usize>,
    ) -> impl Fn() -> CollectResult + Copy + 'a {
        move || {
            calls.set(calls.get() + 1);
            Err(CollectError::NotAvailable(what.into()))
        }
    }

    #[test]
    fn a_missing_source_is_looked_for_once_per_period() {
        let gate = SourceGate::new(Path::new("/x/mdstat"));
        let calls = Cell::new(0);
        let missing = finds_missing("/x/mdstat", &calls);
        let t0 = Instant::now();
        assert!(gate.run_at(t0, missing, Missing::NotAvailable).is_err());
        assert!(matches!(
            gate.run_at(t0 + RECHECK / 2, missing, Missing::NotAvailable),
            Err(CollectError::NotAvailable(_))
        ));
        assert_eq!(calls.get(), 1);
        // Once the period is over, it is looked for again, and found.
        let found = gate.run_at(t0 + RECHECK, || Ok(Vec::new()), Missing::NotAvailable);
        assert!(found.is_ok());
        assert!(gate
            .run_at(t0 + RECHECK, missing, Missing::NotAvailable)
            .is_err());
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn a_file_missing_inside_the_source_is_not_remembered() {
        let gate = SourceGate::new(Path::new("/x/class/nvme"));
        let calls = Cell::new(0);
        let inner_missing = finds_missing("/x/class/nvme/nvme0/state", &calls);
        let t0 = Instant::now();
        assert!(gate
            .run_at(t0, inner_missing, Missing::NotAvailable)
            .is_err());
        assert!(gate
            .run_at(t0, inner_missing, Missing::NotAvailable)
            .is_err());
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn a_source_that_may_be_missing_is_answered_empty_and_remembered() {
        let gate = SourceGate::new(Path::new("/x/class/thermal"));
        let calls = Cell::new(0);
        let missing = finds_missing("/x/class/thermal", &calls);
        let t0 = Instant::now();
        assert_eq!(gate.run_at(t0, missing, Missing::Empty).unwrap(), vec![]);
        assert_eq!(
            gate.run_at(t0 + RECHECK / 2, missing, Missing::Empty)
                .unwrap(),
            vec![]
        );
        assert_eq!(calls.get(), 1);
        // Other errors still fail the scrape.
        let broken = || Err(CollectError::Parse("bad".into()));
        assert!(gate.run_at(t0 + RECHECK, broken, Missing::Empty).is_err());
    }

    #[test]
    fn an_empty_directory_counts_as_missing() {
        let dir = tempfile::tempdir().unwrap();
        let gated = GatedDir::new(dir.path().join("class"));
        assert!(
            matches!(gated.entries(), Err(CollectError::NotAvailable(w)) if w == gated.gate.source)
        );
        std::fs::create_dir(dir.path().join("class")).unwrap();
        assert!(
            matches!(gated.entries(), Err(CollectError::NotAvailable(w)) if w == gated.gate.source)
        );
        std::fs::create_dir(dir.path().join("class/b")).unwrap();
        std::fs::create_dir(dir.path().join("class/a")).unwrap();
        assert_eq!(gated.entries().unwrap(), ["a", "b"]);
    }
}
