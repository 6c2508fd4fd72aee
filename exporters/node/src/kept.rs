//! Files read every scrape, kept open between scrapes.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use exporter_core::CollectError;

use crate::util::{read_all_at, read_seq_file_at};

/// A procfs or sysfs file a collector reads every scrape, kept open between scrapes.
///
/// A read from offset 0 makes the kernel generate the content afresh (a seq_file restarts its
/// walk; procps reads /proc/stat this way), so only the first scrape pays for the open and none
/// pays for the close. On a VM those are two thirds of what a small file costs (~9 µs to open,
/// read and close, ~2 µs to read an open one). See [`KeptFile::read_with`] for when a file is
/// opened again.
#[derive(Debug)]
pub(crate) struct KeptFile {
    path: PathBuf,
    file: Mutex<Option<File>>,
}

impl KeptFile {
    pub(crate) fn new(path: PathBuf) -> Self {
        KeptFile {
            path,
            file: Mutex::new(None),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The whole file; a missing file becomes `CollectError::NotAvailable`.
    pub(crate) fn read(&self) -> Result<String, CollectError> {
        self.read_to_string(Self::read_into)
    }

    /// The whole file given to `parse`; a parse error becomes `CollectError::Parse` naming the
    /// file.
    pub(crate) fn parse_with<T>(
        &self,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, CollectError> {
        let text = self.read()?;
        parse(&text).map_err(|e| CollectError::Parse(format!("{}: {e}", self.path.display())))
    }

    /// [`read`](Self::read) for a seq_file with records under `max_record` bytes (see
    /// [`read_seq_file_at`]).
    pub(crate) fn read_seq_file(&self, max_record: usize) -> Result<String, CollectError> {
        self.read_to_string(|kept, buf| {
            kept.read_with(|file| read_seq_file_at(file, buf, max_record).map(|()| buf.len()))
        })
    }

    fn read_to_string(
        &self,
        read: impl FnOnce(&Self, &mut String) -> std::io::Result<()>,
    ) -> Result<String, CollectError> {
        let mut text = String::new();
        read(self, &mut text).map_err(|e| CollectError::io(self.path.display().to_string(), e))?;
        Ok(text)
    }

    /// Reads the whole file into `buf` (cleared first).
    pub(crate) fn read_into(&self, buf: &mut String) -> std::io::Result<()> {
        self.read_with(|file| read_all_at(file, buf).map(|()| buf.len()))
    }

    /// `look` at the file if it is open (None if it is not): for questions about the open file
    /// itself, such as whether a mount table changed since it was read.
    pub(crate) fn if_open<R>(&self, look: impl FnOnce(&File) -> R) -> Option<R> {
        let slot = self.file.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref().map(look)
    }

    /// Runs `read` (which returns the number of bytes it read) on the file, opening it if it is
    /// not open. The file is kept unless the read was empty or says the file is gone; a file
    /// kept from an earlier scrape that turns out gone is read again on a fresh open. A sysfs
    /// attribute that refuses to be read (EINVAL while a link is down) stays open, since reading
    /// it again asks the kernel again.
    pub(crate) fn read_with(
        &self,
        mut read: impl FnMut(&File) -> std::io::Result<usize>,
    ) -> std::io::Result<()> {
        let keep = |result: &std::io::Result<usize>| match result {
            Ok(n) => *n > 0,
            Err(e) => !file_gone(e),
        };
        // Held across the read: overlapping scrapes take turns on this one file.
        let mut slot = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(kept) = &*slot {
            let result = read(kept);
            if keep(&result) {
                return result.map(drop);
            }
        }
        let file = File::open(&self.path)?;
        let result = read(&file);
        *slot = keep(&result).then_some(file);
        result.map(drop)
    }
}

/// Whether a read error means the file no longer exists (a removed sysfs device reads ENODEV).
fn file_gone(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENODEV | libc::ENOENT | libc::ESTALE | libc::ENXIO | libc::EBADF)
    )
}

/// Kept files for paths that come and go with devices (`/sys/class/net/<dev>/...`): a file read
/// in one scrape stays open for the next, and one that was not read is closed, so the set follows
/// the devices that exist.
#[derive(Debug, Default)]
pub(crate) struct KeptFiles {
    files: Mutex<HashMap<PathBuf, (KeptFile, bool)>>,
}

impl KeptFiles {
    /// This scrape's view. When it is dropped, the files it did not read are closed.
    pub(crate) fn scrape(&self) -> KeptFilesScrape<'_> {
        KeptFilesScrape {
            files: self.files.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }
}

pub(crate) struct KeptFilesScrape<'a> {
    /// Each file, and whether this scrape asked for it.
    files: MutexGuard<'a, HashMap<PathBuf, (KeptFile, bool)>>,
}

/// Files one set keeps open at most (a host with hundreds of network devices): past it, files
/// are opened and closed per read as usual, so descriptors stay bounded.
const MAX_KEPT_PER_SET: usize = 128;

impl KeptFilesScrape<'_> {
    /// [`KeptFile::read_into`] for `path`.
    pub(crate) fn read_into(&mut self, path: &Path, buf: &mut String) -> std::io::Result<()> {
        self.read_with(path, |file| read_all_at(file, buf).map(|()| buf.len()))
    }

    /// [`KeptFile::read_with`] for `path`.
    pub(crate) fn read_with(
        &mut self,
        path: &Path,
        read: impl FnMut(&File) -> std::io::Result<usize>,
    ) -> std::io::Result<()> {
        if let Some((file, used)) = self.files.get_mut(path) {
            *used = true;
            return file.read_with(read);
        }
        let file = KeptFile::new(path.to_path_buf());
        let result = file.read_with(read);
        if self.files.len() < MAX_KEPT_PER_SET {
            self.files.insert(path.to_path_buf(), (file, true));
        }
        result
    }
}

impl Drop for KeptFilesScrape<'_> {
    fn drop(&mut self) {
        self.files.retain(|_, (_, used)| std::mem::take(used));
    }
}

/// Declares a collector whose only state is files under /proc it keeps open: the struct
/// `$collector` with one [`KeptFile`] field per file (`field: "path below the proc root"`), its
/// `new`, the collector reading under a [`HostPaths`](crate::paths::HostPaths), and its
/// `BlockingCollector` named `$name`, whose scrape is the collector's own `scrape`.
macro_rules! proc_files_collector {
    ($name:literal, $collector:ident { $($field:ident: $path:literal),+ $(,)? }) => {
        #[doc = concat!("The `", $name, "` collector: what it reads and emits is in the module documentation.")]
        pub struct $collector {
            $($field: $crate::kept::KeptFile,)+
        }

        impl $collector {
            /// The collector reading under `cfg`.
            pub fn new(cfg: &$crate::paths::HostPaths) -> Self {
                $collector {
                    $($field: $crate::kept::KeptFile::new(cfg.proc_path($path)),)+
                }
            }
        }

        impl exporter_core::BlockingCollector for $collector {
            fn name(&self) -> &'static str {
                $name
            }

            fn collect(&self) -> exporter_core::CollectResult {
                self.scrape()
            }
        }
    };
}
pub(crate) use proc_files_collector;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_files_read_fresh_procfs_content_and_reopen_after_errors() {
        // /proc/self/stat changes between reads (utime, the scheduler's counters): a kept file
        // read twice must not return a cached copy.
        let stat = KeptFile::new(PathBuf::from("/proc/self/stat"));
        let first = stat.read().unwrap();
        // Burn CPU until the content moves (a few ticks); a cached copy never would.
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut again = stat.read().unwrap();
        while again == first && std::time::Instant::now() < give_up {
            for i in 0..100_000u64 {
                std::hint::black_box(i);
            }
            again = stat.read().unwrap();
        }
        assert_ne!(first, again);
        // Larger than one read: /proc/self/smaps is many kB.
        let smaps = KeptFile::new(PathBuf::from("/proc/self/smaps"));
        assert_eq!(
            smaps.read().unwrap().lines().last().map(|l| l.is_empty()),
            Some(false)
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("attr");
        let kept = KeptFile::new(path.clone());
        assert!(matches!(kept.read(), Err(CollectError::NotAvailable(_))));
        std::fs::write(&path, "1\n").unwrap();
        assert_eq!(kept.read().unwrap(), "1\n");
        std::fs::write(&path, "22\n").unwrap();
        assert_eq!(kept.read().unwrap(), "22\n");
    }

    #[test]
    fn kept_file_sets_close_what_a_scrape_did_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "1").unwrap();
        std::fs::write(&b, "2").unwrap();
        let files = KeptFiles::default();
        let mut text = String::new();
        {
            let mut scrape = files.scrape();
            scrape.read_into(&a, &mut text).unwrap();
            assert_eq!(text, "1");
            scrape.read_into(&b, &mut text).unwrap();
            assert_eq!(text, "2");
        }
        assert_eq!(files.files.lock().unwrap().len(), 2);
        {
            let mut scrape = files.scrape();
            scrape.read_into(&b, &mut text).unwrap();
        }
        let open: Vec<PathBuf> = files.files.lock().unwrap().keys().cloned().collect();
        assert_eq!(open, std::slice::from_ref(&b));
        // Past the bound, files are still read, just not kept.
        let mut scrape = files.scrape();
        for i in 0..MAX_KEPT_PER_SET + 5 {
            let path = dir.path().join(format!("f{i}"));
            std::fs::write(&path, format!("{i}")).unwrap();
            scrape.read_into(&path, &mut text).unwrap();
            assert_eq!(text, format!("{i}"));
        }
        assert_eq!(scrape.files.len(), MAX_KEPT_PER_SET);
    }
}
