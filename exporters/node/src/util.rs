//! Small helpers for reading procfs/sysfs files into collector errors.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use exporter_core::CollectError;

/// Reads a whole file; a missing file becomes `CollectError::NotAvailable`.
pub fn read_file(path: &Path) -> Result<String, CollectError> {
    let mut text = String::new();
    read_into(path, &mut text).map_err(|e| CollectError::io(path.display().to_string(), e))?;
    Ok(text)
}

/// Reads a whole file into `buf` (cleared first), so loops over many small files reuse one buffer.
///
/// Unlike `std::fs::read_to_string` this skips the size probe (statx + lseek): procfs and sysfs
/// report size 0 or 4096 anyway, and on a VM every syscall counts: a node scrape opens ~140 files.
pub fn read_into(path: &Path, buf: &mut String) -> std::io::Result<()> {
    read_all_at(&File::open(path)?, buf)
}

/// Reads `file` from offset 0 to the end into `buf` (cleared first).
fn read_all_at(file: &File, buf: &mut String) -> std::io::Result<()> {
    buf.clear();
    let mut bytes = std::mem::take(buf).into_bytes();
    bytes.reserve(4096);
    let result = loop {
        if bytes.len() == bytes.capacity() {
            bytes.reserve(bytes.capacity());
        }
        let len = bytes.len();
        let spare = bytes.capacity() - len;
        bytes.resize(len + spare, 0);
        match file.read_at(&mut bytes[len..], len as u64) {
            Ok(0) => {
                bytes.truncate(len);
                break Ok(());
            }
            Ok(n) => bytes.truncate(len + n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => bytes.truncate(len),
            Err(e) => {
                bytes.truncate(len);
                break Err(e);
            }
        }
    };
    *buf = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    result
}

/// A procfs or sysfs file a collector reads every scrape, kept open between scrapes.
///
/// A read from offset 0 makes the kernel generate the content afresh (a seq_file restarts its
/// walk; procps reads /proc/stat this way), so only the first scrape pays for the open and none
/// pays for the close. On a VM those are two thirds of what a small file costs (~9 µs to open,
/// read and close, ~2 µs to read an open one). See [`KeptFile::read_with`] for when a file is
/// opened again.
#[derive(Debug)]
pub struct KeptFile {
    path: PathBuf,
    file: Mutex<Option<File>>,
}

impl KeptFile {
    pub fn new(path: PathBuf) -> Self {
        KeptFile {
            path,
            file: Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole file; a missing file becomes `CollectError::NotAvailable`.
    pub fn read(&self) -> Result<String, CollectError> {
        let mut text = String::new();
        self.read_into(&mut text)
            .map_err(|e| CollectError::io(self.path.display().to_string(), e))?;
        Ok(text)
    }

    /// Reads the whole file into `buf` (cleared first).
    pub fn read_into(&self, buf: &mut String) -> std::io::Result<()> {
        self.read_with(|file| read_all_at(file, buf).map(|()| buf.len()))
    }

    /// Runs `read` (which returns the number of bytes it read) on the file, opening it if it is
    /// not open. The file is kept unless the read was empty or says the file is gone; a file
    /// kept from an earlier scrape that turns out gone is read again on a fresh open. A sysfs
    /// attribute that refuses to be read (EINVAL while a link is down) stays open, since reading
    /// it again asks the kernel again.
    pub fn read_with(
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
pub struct KeptFiles {
    files: Mutex<HashMap<PathBuf, (KeptFile, bool)>>,
}

impl KeptFiles {
    /// This scrape's view. When it is dropped, the files it did not read are closed.
    pub fn scrape(&self) -> KeptFilesScrape<'_> {
        KeptFilesScrape {
            files: self.files.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }
}

pub struct KeptFilesScrape<'a> {
    /// Each file, and whether this scrape asked for it.
    files: MutexGuard<'a, HashMap<PathBuf, (KeptFile, bool)>>,
}

/// Files one set keeps open at most (a host with hundreds of network devices): past it, files
/// are opened and closed per read as usual, so descriptors stay bounded.
const MAX_KEPT_PER_SET: usize = 128;

impl KeptFilesScrape<'_> {
    /// [`KeptFile::read_into`] for `path`.
    pub fn read_into(&mut self, path: &Path, buf: &mut String) -> std::io::Result<()> {
        self.read_with(path, |file| read_all_at(file, buf).map(|()| buf.len()))
    }

    /// [`KeptFile::read_with`] for `path`.
    pub fn read_with(
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

/// A field-name filter (`--collector.netstat.fields`, `--collector.vmstat.fields`) that remembers
/// its answers: the kernel prints the same few hundred names every scrape, and a hash lookup
/// costs a fraction of a regex search.
#[derive(Debug)]
pub struct FieldFilter {
    regex: regex::Regex,
    answers: Mutex<HashMap<String, bool>>,
}

/// More names than any kernel file has: past it the memory is cleared (odd input cannot grow it
/// without bound).
const MAX_REMEMBERED_FIELDS: usize = 4096;

impl FieldFilter {
    pub fn new(regex: regex::Regex) -> Self {
        FieldFilter {
            regex,
            answers: Mutex::default(),
        }
    }

    /// The filter for one scrape (it holds the memory's lock until dropped).
    pub fn matcher(&self) -> FieldMatcher<'_> {
        FieldMatcher {
            regex: &self.regex,
            answers: self.answers.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }
}

pub struct FieldMatcher<'a> {
    regex: &'a regex::Regex,
    answers: MutexGuard<'a, HashMap<String, bool>>,
}

impl FieldMatcher<'_> {
    pub fn is_match(&mut self, name: &str) -> bool {
        if let Some(&known) = self.answers.get(name) {
            return known;
        }
        if self.answers.len() >= MAX_REMEMBERED_FIELDS {
            self.answers.clear();
        }
        let answer = self.regex.is_match(name);
        self.answers.insert(name.to_string(), answer);
        answer
    }
}

/// Reads a one-value sysfs attribute, trimmed. `None` when absent or unreadable (many attributes
/// are optional or return EINVAL while a device is down).
pub fn read_attr(path: &Path) -> Option<String> {
    let mut text = String::new();
    read_into(path, &mut text).ok()?;
    Some(text.trim().to_string())
}

/// Reads a numeric sysfs attribute.
pub fn read_attr_f64(path: &Path) -> Option<f64> {
    read_attr(path)?.parse().ok()
}

/// Lists the entries of a directory, sorted by name, so output order is stable.
pub fn sorted_dir_names(path: &Path) -> Result<Vec<String>, CollectError> {
    let rd =
        std::fs::read_dir(path).map_err(|e| CollectError::io(path.display().to_string(), e))?;
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

/// Parses one whitespace-separated field as a number, naming it in the error.
pub fn parse_field<T: std::str::FromStr>(
    field: Option<&str>,
    what: &str,
) -> Result<T, CollectError> {
    let raw = field.ok_or_else(|| CollectError::Parse(format!("missing field {what}")))?;
    raw.parse()
        .map_err(|_| CollectError::Parse(format!("invalid {what}: {raw:?}")))
}

/// USER_HZ: the unit of the tick counters in /proc/stat and /proc/diskstats-like files.
pub const USER_HZ: f64 = 100.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_field_names_what_is_wrong() {
        assert_eq!(parse_field::<u64>(Some("42"), "x").unwrap(), 42);
        assert!(parse_field::<u64>(None, "x")
            .unwrap_err()
            .to_string()
            .contains("missing field x"));
        assert!(parse_field::<u64>(Some("4z"), "x")
            .unwrap_err()
            .to_string()
            .contains("invalid x"));
    }

    #[test]
    fn read_into_reads_whole_files_larger_than_one_page() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let content: String = (0..3000).map(|i| format!("{i}\n")).collect();
        std::fs::write(&path, &content).unwrap();
        let mut buf = String::from("stale");
        read_into(&path, &mut buf).unwrap();
        assert_eq!(buf, content);
        std::fs::write(&path, "  42\n").unwrap();
        assert_eq!(read_attr(&path).as_deref(), Some("42"));
    }

    #[test]
    fn kept_files_read_fresh_procfs_content_and_reopen_after_errors() {
        // /proc/self/stat changes between reads (utime, the scheduler's counters): a kept file
        // read twice must not return a cached copy.
        let stat = KeptFile::new(PathBuf::from("/proc/self/stat"));
        let first = stat.read().unwrap();
        let busy_until = std::time::Instant::now() + std::time::Duration::from_millis(30);
        while std::time::Instant::now() < busy_until {
            std::hint::black_box(0u64.wrapping_add(1));
        }
        assert_ne!(first, stat.read().unwrap());
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

    #[test]
    fn field_filters_remember_what_the_regex_said() {
        let filter = FieldFilter::new(regex::Regex::new("^pg").unwrap());
        for _ in 0..2 {
            let mut m = filter.matcher();
            assert!(m.is_match("pgfault"));
            assert!(!m.is_match("nr_free_pages"));
        }
        assert_eq!(filter.answers.lock().unwrap().len(), 2);
        let mut m = filter.matcher();
        for i in 0..MAX_REMEMBERED_FIELDS + 10 {
            assert!(m.is_match(&format!("pg{i}")));
        }
        assert!(m.answers.len() <= MAX_REMEMBERED_FIELDS);
    }

    #[test]
    fn missing_files_are_not_available() {
        assert!(matches!(
            read_file(Path::new("/nonexistent/x")),
            Err(CollectError::NotAvailable(_))
        ));
        assert!(read_attr(Path::new("/nonexistent/x")).is_none());
    }
}
