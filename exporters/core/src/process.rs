//! `process_*` self-metrics, the same set the Go client library's process collector exposes.
#![allow(
    unsafe_code,
    reason = "getrusage, getrlimit and setrlimit through libc for the process_* metrics and the open-file limit"
)]

use crate::metric::MetricFamily;

/// Collects the exporter's own process metrics. Cheap: a clock read, one small procfs file and a
/// directory count.
pub fn process_metrics() -> Vec<MetricFamily> {
    let mut out = vec![MetricFamily::counter(
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.",
    )
    .with(&[], process_cpu_seconds())];

    let limits = [
        (
            libc::RLIMIT_NOFILE,
            "process_max_fds",
            "Maximum number of open file descriptors.",
        ),
        (
            libc::RLIMIT_AS,
            "process_virtual_memory_max_bytes",
            "Maximum amount of virtual memory available in bytes.",
        ),
    ];
    for (resource, name, help) in limits {
        if let Some(limit) = rlimit(resource) {
            out.push(MetricFamily::gauge(name, help).with(&[], limit));
        }
    }
    #[cfg(target_os = "linux")]
    linux::push(&mut out);
    out
}

/// CPU time with nanosecond resolution (procfs only counts 10 ms ticks).
fn process_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the OS defines.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
type Resource = libc::c_int;

/// Raises the soft limit on open files to the hard limit, as Go programs do at start (so
/// `process_max_fds` reads as upstream's does). Exporters keep files open between scrapes, one
/// per device attribute on a busy host, and a 1024 soft limit is still common.
pub fn raise_open_file_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit struct, written by getrlimit before setrlimit reads it.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            // Failure leaves the limit as it was, which is no worse.
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// The soft limit of a resource; `RLIM_INFINITY` is reported as the largest u64, as Go does.
fn rlimit(resource: Resource) -> Option<f64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit struct.
    let rc = unsafe { libc::getrlimit(resource, &mut lim) };
    (rc == 0).then_some(lim.rlim_cur as f64)
}

#[cfg(target_os = "linux")]
mod linux {
    use std::fs::File;
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    use std::sync::OnceLock;

    use crate::metric::MetricFamily;

    /// /proc/self/statm and /proc/self/fd, opened once: every scrape reads them, and the path
    /// walk through /proc/self costs more than the read (more still in a PID namespace). A read
    /// from offset 0 of an open procfs file is generated afresh, and a stat of an open directory
    /// reports its size now.
    struct SelfFiles {
        statm: Option<File>,
        /// Opened `O_PATH`: only ever `fstat`ed.
        fd_dir: Option<File>,
    }

    fn self_files() -> &'static SelfFiles {
        static FILES: OnceLock<SelfFiles> = OnceLock::new();
        FILES.get_or_init(|| SelfFiles {
            statm: File::open("/proc/self/statm").ok(),
            fd_dir: std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH)
                .open("/proc/self/fd")
                .ok(),
        })
    }

    /// Size and resident set in pages, from /proc/self/statm (about 30 bytes).
    fn statm() -> Option<(u64, u64)> {
        let Some(file) = &self_files().statm else {
            return parse_statm(&std::fs::read_to_string("/proc/self/statm").ok()?);
        };
        let mut buf = [0u8; 256];
        let n = file.read_at(&mut buf, 0).ok()?;
        parse_statm(std::str::from_utf8(&buf[..n]).ok()?)
    }

    pub(super) fn push(out: &mut Vec<MetricFamily>) {
        if let Some((virt, rss)) = statm() {
            let page = page_size();
            out.push(
                MetricFamily::gauge(
                    "process_virtual_memory_bytes",
                    "Virtual memory size in bytes.",
                )
                .with(&[], virt as f64 * page),
            );
            out.push(
                MetricFamily::gauge(
                    "process_resident_memory_bytes",
                    "Resident memory size in bytes.",
                )
                .with(&[], rss as f64 * page),
            );
        }
        if let Some(open) = open_fds() {
            out.push(
                MetricFamily::gauge("process_open_fds", "Number of open file descriptors.")
                    .with(&[], open as f64),
            );
        }
        if let Some(start) = start_time() {
            out.push(
                MetricFamily::gauge(
                    "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds.",
                )
                .with(&[], start),
            );
        }
    }

    fn page_size() -> f64 {
        // SAFETY: sysconf has no preconditions.
        let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if p > 0 {
            p as f64
        } else {
            4096.0
        }
    }

    /// `/proc/self/statm`: size and resident set, in pages.
    pub(super) fn parse_statm(text: &str) -> Option<(u64, u64)> {
        let mut f = text.split_whitespace();
        Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
    }

    /// Open file descriptors. Linux 6.2 and later give the count as the size of /proc/self/fd, which
    /// saves listing the directory: a dentry per descriptor, every scrape, and exporters keep dozens
    /// of files open.
    pub(super) fn open_fds() -> Option<usize> {
        let size = match &self_files().fd_dir {
            Some(dir) => dir.metadata(),
            None => std::fs::metadata("/proc/self/fd"),
        };
        match size {
            Ok(meta) if meta.len() > 0 => Some(meta.len() as usize),
            _ => {
                let dir = std::fs::read_dir("/proc/self/fd").ok()?;
                // The directory handle used for counting is itself one of the entries.
                Some(dir.count().saturating_sub(1))
            }
        }
    }

    /// Start time never changes: compute it once from the process's start ticks and boot time.
    fn start_time() -> Option<f64> {
        static START: OnceLock<Option<f64>> = OnceLock::new();
        *START.get_or_init(|| {
            let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
            let ticks = parse_start_ticks(&stat)?;
            let btime = std::fs::read_to_string("/proc/stat")
                .ok()?
                .lines()
                .find_map(|l| l.strip_prefix("btime "))?
                .trim()
                .parse::<f64>()
                .ok()?;
            // SAFETY: sysconf has no preconditions.
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
            let hz = if hz > 0 { hz as f64 } else { 100.0 };
            Some(btime + ticks as f64 / hz)
        })
    }

    /// Field 22 of `/proc/self/stat`; the command name (field 2) may contain spaces and parens,
    /// so count from the last `)`.
    pub(super) fn parse_start_ticks(stat: &str) -> Option<u64> {
        let after = &stat[stat.rfind(')')? + 1..];
        // After the comm field come fields 3.. ; starttime is field 22, i.e. index 19 here.
        after.split_whitespace().nth(19)?.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_the_go_client_set_on_linux() {
        let names: Vec<String> = process_metrics()
            .into_iter()
            .map(|f| f.name.into_owned())
            .collect();
        for want in ["process_cpu_seconds_total", "process_max_fds"] {
            assert!(names.iter().any(|n| n == want), "{want} missing");
        }
        #[cfg(target_os = "linux")]
        for want in [
            "process_resident_memory_bytes",
            "process_virtual_memory_bytes",
            "process_open_fds",
            "process_start_time_seconds",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} missing");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn open_fds_agrees_with_listing_the_directory() {
        let listed = || std::fs::read_dir("/proc/self/fd").unwrap().count() - 1;
        // Tests on other threads open files meanwhile: one quiet moment is enough.
        let agreed = (0..100).any(|_| {
            let before = linux::open_fds();
            let count = listed();
            before == Some(count) && linux::open_fds() == before
        });
        assert!(agreed, "{:?} against {}", linux::open_fds(), listed());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn parses_proc_self_files_and_rejects_garbage() {
        assert_eq!(
            linux::parse_statm("1000 200 30 4 0 5 0\n"),
            Some((1000, 200))
        );
        assert_eq!(linux::parse_statm("x"), None);
        let stat =
            "12 (my (odd) name) S 1 12 12 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 4242 1000 200";
        assert_eq!(linux::parse_start_ticks(stat), Some(4242));
        assert_eq!(linux::parse_start_ticks("12 (x) S 1"), None);
        assert_eq!(linux::parse_start_ticks("garbage"), None);
    }
}
