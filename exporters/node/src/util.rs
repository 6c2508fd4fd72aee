//! Small helpers for reading procfs/sysfs files into collector errors.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use exporter_core::CollectError;

/// Reads a whole file; a missing file becomes `CollectError::NotAvailable`.
pub(crate) fn read_file(path: &Path) -> Result<String, CollectError> {
    let mut text = String::new();
    read_into(path, &mut text).map_err(|e| CollectError::io(path.display().to_string(), e))?;
    Ok(text)
}

/// Reads a whole file into `buf` (cleared first), so loops over many small files reuse one buffer.
///
/// Unlike `std::fs::read_to_string` this skips the size probe (statx + lseek): procfs and sysfs
/// report size 0 or 4096 anyway, and on a VM every syscall counts.
pub(crate) fn read_into(path: &Path, buf: &mut String) -> std::io::Result<()> {
    read_all_at(&File::open(path)?, buf)
}

/// Reads `file` from offset 0 to the end into `buf` (cleared first).
pub(crate) fn read_all_at(file: &File, buf: &mut String) -> std::io::Result<()> {
    read_at_until_short(file, buf, 0)
}

/// The smallest buffer a seq_file fills a read from.
const SEQ_FILE_BUFFER: usize = 4096;

/// [`read_all_at`] for a seq_file whose records (lines) are under `max_record` bytes, without the
/// final read that returns nothing.
///
/// The kernel fills a read record by record and stops early only at the end, or when its buffer
/// (a page or more) cannot take the next record. So a read that returns less than asked and less
/// than a page minus a record has seen the end. The read that would confirm it is not free for
/// every file: for /proc/net/udp the kernel walks its whole socket hash table again (16,384
/// buckets on a small VM: ~55 µs, twice what the first read costs).
pub(crate) fn read_seq_file_at(
    file: &File,
    buf: &mut String,
    max_record: usize,
) -> std::io::Result<()> {
    read_at_until_short(file, buf, SEQ_FILE_BUFFER.saturating_sub(max_record))
}

/// Reads until a read returns nothing, or fewer than `short` bytes and less than it was asked.
fn read_at_until_short(file: &File, buf: &mut String, short: usize) -> std::io::Result<()> {
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
            Ok(n) => {
                bytes.truncate(len + n);
                if n < short && n < spare {
                    break Ok(());
                }
            }
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

/// A field-name filter (`--collector.netstat.fields`, `--collector.vmstat.fields`) that remembers
/// its answers in the order the names came: the kernel prints the same few hundred names in the
/// same order every scrape, so each name is checked against the one remembered at its position (a
/// short string compare), and only a name that differs costs a regex search.
pub(crate) struct FieldFilter {
    regex: regex::Regex,
    answers: Mutex<Vec<(String, bool)>>,
}

/// More names than any kernel file has: past it names are searched every time (odd input cannot
/// grow the memory without bound).
const MAX_REMEMBERED_FIELDS: usize = 4096;

impl FieldFilter {
    pub(crate) fn new(regex: regex::Regex) -> Self {
        FieldFilter {
            regex,
            answers: Mutex::default(),
        }
    }

    /// The filter for one scrape's names, in order (it holds the memory's lock until dropped).
    pub(crate) fn matcher(&self) -> FieldMatcher<'_> {
        FieldMatcher {
            regex: &self.regex,
            answers: self.answers.lock().unwrap_or_else(|e| e.into_inner()),
            next: 0,
        }
    }
}

pub(crate) struct FieldMatcher<'a> {
    regex: &'a regex::Regex,
    answers: MutexGuard<'a, Vec<(String, bool)>>,
    /// Position of the next name in the scrape.
    next: usize,
}

impl FieldMatcher<'_> {
    pub(crate) fn is_match(&mut self, name: &str) -> bool {
        let at = self.next;
        self.next += 1;
        match self.answers.get_mut(at) {
            Some((known, answer)) if known == name => *answer,
            Some(slot) => {
                let answer = self.regex.is_match(name);
                *slot = (name.to_string(), answer);
                answer
            }
            None if at < MAX_REMEMBERED_FIELDS => {
                let answer = self.regex.is_match(name);
                self.answers.push((name.to_string(), answer));
                answer
            }
            None => self.regex.is_match(name),
        }
    }
}

/// Drops every item whose key an earlier item already has. The kernel never repeats a device,
/// CPU or field within one file, but a corrupt read must not turn into a repeated series, which
/// Prometheus refuses (and upstream's registry would fail the scrape on).
pub(crate) fn keep_first_of_each<T, K: Eq + std::hash::Hash + ?Sized>(
    items: &mut Vec<T>,
    key: impl Fn(&T) -> &K,
) {
    if items.len() < 2 {
        return;
    }
    let keep: Vec<bool> = {
        let mut seen = std::collections::HashSet::with_capacity(items.len());
        items.iter().map(|item| seen.insert(key(item))).collect()
    };
    if keep.iter().all(|&k| k) {
        return;
    }
    let mut keep = keep.into_iter();
    items.retain(|_| keep.next().unwrap_or(true));
}

/// `cpu12` -> `12`; other entries of devices/system/cpu (`cpufreq`, `cpuidle`, `isolated`, ...)
/// are None.
pub(crate) fn cpu_number(name: &str) -> Option<&str> {
    let n = name.strip_prefix("cpu")?;
    (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some(n)
}

/// Reads a one-value sysfs attribute, trimmed. `None` when absent or unreadable (many attributes
/// are optional or return EINVAL while a device is down).
pub(crate) fn read_attr(path: &Path) -> Option<String> {
    let mut text = String::new();
    read_into(path, &mut text).ok()?;
    Some(text.trim().to_string())
}

/// Lists the entries of a directory, sorted by name, so output order is stable.
pub(crate) fn sorted_dir_names(path: &Path) -> Result<Vec<String>, CollectError> {
    let rd =
        std::fs::read_dir(path).map_err(|e| CollectError::io(path.display().to_string(), e))?;
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

/// Reads every entry of a directory, in name order, with `read(dir, name)`; the first error
/// fails them all.
pub(crate) fn read_each_entry<T>(
    dir: &Path,
    read: impl Fn(&Path, &str) -> Result<T, CollectError>,
) -> Result<Vec<T>, CollectError> {
    sorted_dir_names(dir)?
        .iter()
        .map(|name| read(dir, name))
        .collect()
}

/// Parses one whitespace-separated field as a number, naming it in the error.
pub(crate) fn parse_field<T: std::str::FromStr>(
    field: Option<&str>,
    what: &str,
) -> Result<T, CollectError> {
    let raw = field.ok_or_else(|| CollectError::Parse(format!("missing field {what}")))?;
    raw.parse()
        .map_err(|_| CollectError::Parse(format!("invalid {what}: {raw:?}")))
}

/// USER_HZ: the unit of the tick counters in /proc/stat and /proc/diskstats-like files.
pub(crate) const USER_HZ: f64 = 100.0;

/// Declares a collector's flags when they are one regular expression: the clap `Args` struct
/// `$flags` with the field `$field` (`--$id`, default `$default`, help the doc comment), whose
/// options are the compiled `Regex` (an invalid one is an error naming the flag).
macro_rules! regex_flag {
    ($(#[doc = $help:tt])+ $flags:ident { $field:ident: $id:tt = $default:expr }) => {
        #[doc = concat!("The collector's one flag, `--", $id, "`.")]
        #[derive(Debug, Clone, clap::Args)]
        pub struct $flags {
            $(#[doc = $help])+
            #[arg(long = $id, id = $id, default_value = $default)]
            $field: String,
        }

        impl $crate::collector::CollectorFlags for $flags {
            /// The compiled regular expression.
            type Options = regex::Regex;

            fn options(self) -> Result<regex::Regex, String> {
                $crate::collector::flag_regex($id, &self.$field)
            }
        }
    };
}
pub(crate) use regex_flag;

/// Declares the flags of a collector whose one flag is a switch (`--<id>`, off by default), as
/// [`regex_flag!`] does for a regular expression; the options are whether it is given.
macro_rules! bool_flag {
    ($(#[doc = $help:tt])+ $flags:ident { $field:ident: $id:tt }) => {
        #[doc = concat!("The collector's one flag, `--", $id, "`.")]
        #[derive(Debug, Clone, clap::Args)]
        pub struct $flags {
            $(#[doc = $help])+
            #[arg(long = $id, id = $id)]
            $field: bool,
        }

        impl $crate::collector::CollectorFlags for $flags {
            /// Whether the flag is given.
            type Options = bool;

            fn options(self) -> Result<bool, String> {
                Ok(self.$field)
            }
        }
    };
}
pub(crate) use bool_flag;

/// Declares an include/exclude pair of regular-expression flags, as node_exporter's
/// deviceFilter takes them (`--$include`, `--$exclude`; the defaults and the `conflicts_with`
/// given), for a collector's flags to be or to flatten: the clap `Args` struct `$flags`, whose
/// `filter` compiles them into a [`DeviceFilter`](crate::collector::netdev::DeviceFilter) with
/// [`DeviceFilter::from_flags`](crate::collector::netdev::DeviceFilter::from_flags).
macro_rules! filter_flags {
    (
        $(#[doc = $about:tt])+
        $flags:ident {
            $(#[doc = $inc_help:tt])+
            include: $inc:tt $(= $inc_default:expr)? $(, conflicts_with = $conflict:tt)?;
            $(#[doc = $exc_help:tt])+
            exclude: $exc:tt $(= $exc_default:expr)?;
        }
    ) => {
        $(#[doc = $about])+
        #[derive(Debug, Clone, clap::Args)]
        pub struct $flags {
            $(#[doc = $inc_help])+
            #[arg(long = $inc, id = $inc $(, default_value = $inc_default)? $(, conflicts_with = $conflict)?)]
            include: Option<String>,
            $(#[doc = $exc_help])+
            #[arg(long = $exc, id = $exc $(, default_value = $exc_default)?)]
            exclude: Option<String>,
        }

        impl $flags {
            /// The filter of the values given (a default counts), each compiled from
            /// `pattern(value)` where that is `Some`; an error names the flag.
            fn filter(
                self,
                pattern: impl Fn(&str) -> Option<String>,
            ) -> Result<$crate::collector::netdev::DeviceFilter, String> {
                $crate::collector::netdev::DeviceFilter::from_flags(
                    ($inc, self.include),
                    ($exc, self.exclude),
                    pattern,
                )
            }
        }
    };
}
pub(crate) use filter_flags;

/// The labels of an info series whose values are mostly string fields of `$v`, in the order
/// written: `field_labels!(v, name, other = field, ("device", dev))` is
/// `[("name", &*v.name), ("other", &*v.field), ("device", dev)]`.
macro_rules! field_labels {
    ($v:expr, $($label:tt $(= $field:ident)?),+ $(,)?) => {
        [$($crate::util::field_labels!(@label $v, $label $(, $field)?)),+]
    };
    (@label $v:expr, ($name:literal, $value:expr)) => {
        ($name, $value)
    };
    (@label $v:expr, $label:tt) => {
        (stringify!($label), &*$v.$label)
    };
    (@label $v:expr, $label:tt, $field:ident) => {
        (stringify!($label), &*$v.$field)
    };
}
pub(crate) use field_labels;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::assert_maps;

    #[test]
    fn cpu_numbers() {
        assert_maps(
            cpu_number,
            &[
                ("cpu0", Some("0")),
                ("cpu17", Some("17")),
                ("cpufreq", None),
                ("cpu", None),
                ("online", None),
            ],
        );
    }

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
    fn seq_file_reads_stop_at_a_short_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines");
        let file = || File::open(&path).unwrap();
        let mut buf = String::from("stale");
        // Longer than a page: the reads that fill the buffer are not taken for the end.
        let long: String = (0..3000).map(|i| format!("{i:>7}\n")).collect();
        std::fs::write(&path, &long).unwrap();
        read_seq_file_at(&file(), &mut buf, 512).unwrap();
        assert_eq!(buf, long);
        std::fs::write(&path, "header\n").unwrap();
        read_seq_file_at(&file(), &mut buf, 512).unwrap();
        assert_eq!(buf, "header\n");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn seq_file_read_of_proc_net_udp_matches_a_full_read() {
        let path = Path::new("/proc/net/udp");
        let mut short = String::new();
        read_seq_file_at(&File::open(path).unwrap(), &mut short, 512).unwrap();
        let full = std::fs::read_to_string(path).unwrap();
        // Sockets may come and go between the reads; the header and the line shape may not.
        assert_eq!(short.lines().next(), full.lines().next());
        assert!(short.ends_with('\n') && short.lines().all(|l| l.len() < 512));
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
        // Names in another order, or one more in the middle, get their own answers.
        let mut m = filter.matcher();
        assert!(!m.is_match("nr_free_pages"));
        assert!(m.is_match("pgfault"));
        drop(m);
        let mut m = filter.matcher();
        assert!(!m.is_match("nr_free_pages"));
        assert!(m.is_match("pgmajfault"));
        assert!(m.is_match("pgfault"));
        drop(m);
        let mut m = filter.matcher();
        for i in 0..MAX_REMEMBERED_FIELDS + 10 {
            assert!(m.is_match(&format!("pg{i}")));
        }
        assert!(m.answers.len() <= MAX_REMEMBERED_FIELDS);
    }

    #[test]
    fn keeps_the_first_of_each_key_in_order() {
        let mut items = vec![("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5)];
        keep_first_of_each(&mut items, |(k, _)| *k);
        assert_eq!(items, [("a", 1), ("b", 2), ("c", 4)]);
        let mut unique = vec![("x".to_string(), 1)];
        keep_first_of_each(&mut unique, |(k, _)| k.as_str());
        assert_eq!(unique.len(), 1);
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
