//! Aggregate process statistics from a scan of /proc/[pid]/stat (disabled by default, as
//! upstream: the scan costs one read per process and per thread):
//! `node_processes_{threads,max_threads,max_processes,pids}`, `node_processes_state{state}` and
//! `node_processes_threads_state{thread_state}`.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use exporter_core::{BlockingCollector, CollectError, CollectResult, MetricFamily};

use crate::paths::HostPaths;
use crate::util::{parse_field, read_file};

/// The `processes` collector: what it reads and emits is in the module documentation.
pub struct ProcessesCollector {
    proc: PathBuf,
    threads_max: PathBuf,
    pid_max: PathBuf,
}

impl ProcessesCollector {
    /// The collector reading under `cfg`.
    pub fn new(cfg: &HostPaths) -> Self {
        ProcessesCollector {
            proc: cfg.procfs.clone(),
            threads_max: cfg.proc_path("sys/kernel/threads-max"),
            pid_max: cfg.proc_path("sys/kernel/pid_max"),
        }
    }
}

/// Parses the state and thread count out of /proc/[pid]/stat. The command name (field 2) is in
/// parentheses and may itself contain spaces, parentheses or non-UTF-8 bytes, so parsing starts
/// after the last `)`; from there the state is the first field and num_threads the 18th.
pub fn parse_proc_stat(buf: &[u8]) -> Result<(u8, u64), CollectError> {
    let close = buf
        .iter()
        .rposition(|&b| b == b')')
        .ok_or_else(|| CollectError::Parse("no command name in stat".into()))?;
    let rest = std::str::from_utf8(buf.get(close + 1..).unwrap_or_default())
        .map_err(|_| CollectError::Parse("non-UTF-8 stat fields".into()))?;
    let mut fields = rest.split_whitespace();
    let state = match fields.next().map(str::as_bytes) {
        Some(&[s]) => s,
        other => {
            return Err(CollectError::Parse(format!(
                "invalid process state {:?}",
                other.map(String::from_utf8_lossy)
            )))
        }
    };
    let threads = parse_field(fields.nth(16), "num_threads")?;
    Ok((state, threads))
}

/// Whether an error means the process or thread went away mid-scan (which is normal).
fn vanished(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH)
}

/// Counts gathered by one scan of /proc. States are single ASCII letters, counted per byte so
/// the output comes out sorted without a map.
pub struct ProcScan {
    /// Processes seen.
    pub pids: u64,
    /// Threads seen.
    pub threads: u64,
    /// Processes per state letter.
    pub states: [u64; 256],
    /// Threads per state letter.
    pub thread_states: [u64; 256],
}

impl Default for ProcScan {
    fn default() -> Self {
        ProcScan {
            pids: 0,
            threads: 0,
            states: [0; 256],
            thread_states: [0; 256],
        }
    }
}

/// Reads a whole file into `buf` (reused between calls to avoid an allocation per process).
fn read_into(path: &Path, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    File::open(path)?.read_to_end(buf).map(|_| ())
}

fn is_pid(name: &std::ffi::OsStr) -> bool {
    let b = name.as_encoded_bytes();
    !b.is_empty() && b.iter().all(u8::is_ascii_digit)
}

/// Scans every process under `proc`, then every thread of each process. Processes and threads
/// exiting between the directory listing and the read are skipped; any other error fails.
pub fn scan_procs(proc: &Path) -> Result<ProcScan, CollectError> {
    let ctx = |p: &Path, e: io::Error| CollectError::io(p.display().to_string(), e);
    let mut scan = ProcScan::default();
    let mut buf = Vec::with_capacity(512);
    let mut path = proc.to_path_buf();
    for entry in std::fs::read_dir(proc).map_err(|e| ctx(proc, e))? {
        let entry = entry.map_err(|e| ctx(proc, e))?;
        let pid = entry.file_name();
        if !is_pid(&pid) {
            continue;
        }
        let Some((state, threads)) = read_stat(&mut path, &pid, &mut buf)? else {
            continue;
        };
        scan.pids += 1;
        scan.threads += threads;
        scan.states[usize::from(state)] += 1;

        path.push(&pid);
        path.push("task");
        let tasks = std::fs::read_dir(&path);
        match tasks {
            Ok(tasks) => {
                for task in tasks {
                    let task = match task {
                        Ok(t) => t,
                        Err(e) if vanished(&e) => break,
                        Err(e) => return Err(ctx(&path, e)),
                    };
                    let tid = task.file_name();
                    if !is_pid(&tid) {
                        continue;
                    }
                    // The main thread's state is the process's, already read.
                    if tid == pid {
                        scan.thread_states[usize::from(state)] += 1;
                        continue;
                    }
                    if let Some((tstate, _)) = read_stat(&mut path, &tid, &mut buf)? {
                        scan.thread_states[usize::from(tstate)] += 1;
                    }
                }
            }
            Err(e) if vanished(&e) => {}
            Err(e) => return Err(ctx(&path, e)),
        }
        path.pop();
        path.pop();
    }
    Ok(scan)
}

/// Reads and parses `<id>/stat` under the directory in `path` (which is left as it was found):
/// the state and thread count, or `None` when the process or thread exited meanwhile.
fn read_stat(
    path: &mut PathBuf,
    id: &OsStr,
    buf: &mut Vec<u8>,
) -> Result<Option<(u8, u64)>, CollectError> {
    path.push(id);
    path.push("stat");
    let stat = match read_into(path, buf) {
        Ok(()) => parse_proc_stat(buf)
            .map(Some)
            .map_err(|e| CollectError::Parse(format!("{}: {e}", path.display()))),
        Err(e) if vanished(&e) => Ok(None),
        Err(e) => Err(CollectError::io(path.display().to_string(), e)),
    };
    path.pop();
    path.pop();
    stat
}

fn read_uint(path: &Path) -> Result<f64, CollectError> {
    let text = read_file(path)?;
    let v: u64 = parse_field(text.split_whitespace().next(), &path.display().to_string())?;
    Ok(v as f64)
}

fn state_family(
    name: &'static str,
    help: &'static str,
    label: &'static str,
    counts: &[u64; 256],
) -> MetricFamily {
    let mut fam = MetricFamily::gauge(name, help);
    let mut utf8 = [0u8; 4];
    for (b, &n) in counts.iter().enumerate() {
        if n > 0 {
            let state = char::from(b as u8).encode_utf8(&mut utf8);
            fam.push(&[(label, state)], n as f64);
        }
    }
    fam
}

impl BlockingCollector for ProcessesCollector {
    fn name(&self) -> &'static str {
        "processes"
    }

    fn collect(&self) -> CollectResult {
        let scan = scan_procs(&self.proc)?;
        let max_threads = read_uint(&self.threads_max)?;
        let pid_max = read_uint(&self.pid_max)?;
        Ok(vec![
            MetricFamily::gauge("node_processes_threads", "Allocated threads in system")
                .with(&[], scan.threads as f64),
            MetricFamily::gauge(
                "node_processes_max_threads",
                "Limit of threads in the system",
            )
            .with(&[], max_threads),
            state_family(
                "node_processes_state",
                "Number of processes in each state.",
                "state",
                &scan.states,
            ),
            state_family(
                "node_processes_threads_state",
                "Number of threads in each state.",
                "thread_state",
                &scan.thread_states,
            ),
            MetricFamily::gauge("node_processes_pids", "Number of PIDs")
                .with(&[], scan.pids as f64),
            MetricFamily::gauge("node_processes_max_processes", "Number of max PIDs limit")
                .with(&[], pid_max),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        assert_first_values, assert_not_available, family, procfs_at, write, write_all,
    };

    const CAT: &str = "7422 (cat) R 7413 7413 5105 0 -1 4194304 103 0 0 0 0 0 0 0 20 0 1 0 49533 3133440 383 18446744073709551615 94718994083840 94718994103721 140734600155104 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94718994119728 94718994121344 94719569408000 140734600162017 140734600162037 140734600162037 140734600163307 0\n";

    fn stat_line(pid: u32, comm: &str, state: char, threads: u32) -> String {
        format!("{pid} ({comm}) {state} 1 1 1 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 {threads} 0 100 1000 10 18446744073709551615\n")
    }

    #[test]
    fn parses_stat() {
        assert_eq!(parse_proc_stat(CAT.as_bytes()).unwrap(), (b'R', 1));
        // Command names may contain spaces and parentheses.
        let odd = stat_line(5, "a) (b c", 'S', 12);
        assert_eq!(parse_proc_stat(odd.as_bytes()).unwrap(), (b'S', 12));
        // ... and arbitrary bytes.
        let mut bin = b"9 (\xff\xfe) I ".to_vec();
        bin.extend_from_slice(b"2 0 0 0 -1 69238880 0 0 0 0 0 0 0 0 0 -20 1 0 3 0 0\n");
        assert_eq!(parse_proc_stat(&bin).unwrap(), (b'I', 1));
    }

    #[test]
    fn truncated_or_garbage_is_an_error() {
        assert!(parse_proc_stat(b"").is_err());
        assert!(parse_proc_stat(b"1 (init").is_err());
        assert!(parse_proc_stat(b"1 (init)").is_err());
        assert!(parse_proc_stat(b"1 (init) S 0 1 1").is_err());
        assert!(parse_proc_stat(b"1 (init) SS 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0").is_err());
        assert!(parse_proc_stat(b"1 (init) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 x 0").is_err());
    }

    #[test]
    fn scans_a_fixture_tree() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        write_all(
            p,
            &[
                ("sys/kernel/threads-max", "192729\n"),
                ("sys/kernel/pid_max", "32768\n"),
                ("self", ""),
                ("meminfo", ""),
            ],
        );
        // A single-threaded sleeper.
        write(&p.join("1/stat"), &stat_line(1, "init", 'S', 1));
        std::fs::create_dir_all(p.join("1/task/1")).unwrap();
        // A 3-thread process: main thread sleeping, one worker running, one that exited
        // between the task listing and the read (directory present, stat gone).
        write(&p.join("20/stat"), &stat_line(20, "worker (x)", 'S', 3));
        std::fs::create_dir_all(p.join("20/task/20")).unwrap();
        write(&p.join("20/task/21/stat"), &stat_line(21, "w", 'R', 3));
        std::fs::create_dir_all(p.join("20/task/22")).unwrap();
        // A process that exited after the listing: its directory has no stat.
        std::fs::create_dir_all(p.join("30")).unwrap();
        // A zombie whose task directory is already gone.
        write(&p.join("40/stat"), &stat_line(40, "defunct", 'Z', 1));

        let scan = scan_procs(p).unwrap();
        assert_eq!(scan.pids, 3);
        assert_eq!(scan.threads, 5);
        assert_eq!(scan.states[usize::from(b'S')], 2);
        assert_eq!(scan.states[usize::from(b'Z')], 1);
        assert_eq!(scan.thread_states[usize::from(b'S')], 2);
        assert_eq!(scan.thread_states[usize::from(b'R')], 1);

        let cfg = procfs_at(p);
        let fams = ProcessesCollector::new(&cfg).collect().unwrap();
        let get = |name: &str| family(&fams, name);
        assert_first_values(
            &fams,
            &[
                ("node_processes_max_threads", 192729.0),
                ("node_processes_max_processes", 32768.0),
                ("node_processes_pids", 3.0),
            ],
        );
        let states: Vec<_> = get("node_processes_state")
            .samples
            .iter()
            .map(|s| (s.labels[0].1.as_str(), s.value))
            .collect();
        assert_eq!(states, [("S", 2.0), ("Z", 1.0)]);
        let tstates = &get("node_processes_threads_state").samples;
        assert_eq!(tstates[0].labels[0].0, "thread_state");
        assert_eq!(tstates[0].labels[0].1, "R");
    }

    #[test]
    fn garbage_stat_fails_and_missing_limits_fail() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        write(&p.join("7/stat"), "garbage");
        assert!(matches!(scan_procs(p), Err(CollectError::Parse(_))));

        std::fs::remove_dir_all(p.join("7")).unwrap();
        let cfg = procfs_at(p);
        assert_not_available(ProcessesCollector::new(&cfg).collect());
    }

    #[test]
    fn scans_this_machine() {
        let scan = scan_procs(Path::new("/proc")).unwrap();
        assert!(scan.pids > 0);
        assert!(scan.threads >= scan.pids);
        assert!(scan.thread_states.iter().sum::<u64>() >= scan.pids);
    }
}
