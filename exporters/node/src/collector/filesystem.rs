//! `node_filesystem_*`: space and inode usage of mounted filesystems, from the mount table
//! (`/proc/1/mountinfo`, which also gives `node_filesystem_mount_info` its device numbers) and
//! statfs(2).
//!
//! A hung mount (stale NFS, dead FUSE daemon) blocks statfs in the kernel, uninterruptibly. So
//! statfs runs on a long-lived worker thread: a scrape hands it all its mount points in one
//! request, the worker records its answers mount by mount, in order, with the time of each, and
//! wakes the scrape once, when the last is in. The scrape waits at most `mount_timeout` for each
//! answer after the one before: when none comes in time, the mount point whose statfs is pending
//! is marked stuck and skipped (device_error 1) until that statfs returns, and the worker, still
//! blocked, is abandoned (it drops the rest of its batch) for a fresh one that gets the remaining
//! mounts. Each stuck mount costs one blocked thread, never more, because a stuck mount is not
//! retried until it has answered. One request and one wake-up per scrape rather than per mount: a
//! cross-thread wake-up (two futex calls) costs more than a statfs of a local filesystem.
//!
//! Over 800 lines because of its unit tests (about two fifths of the file), kept beside the
//! parser they check.
#![allow(
    unsafe_code,
    reason = "statvfs(3), fstatfs(2) and poll(2) through libc"
)]

use std::borrow::Cow;
use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use clap::Args;
use exporter_core::duration::parse_positive_duration;
use exporter_core::{
    interned, BlockingCollector, CollectError, CollectResult, Label, LabelValue, MetricFamily,
};
use regex::Regex;

use crate::collector::{flag_regex, CollectorFlags};
use crate::kept::KeptFile;
use crate::paths::HostPaths;

/// Debian's build excludes these mount points by default (`prometheus-node-exporter --help`).
const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
/// Filesystem types left out by default, upstream's list.
const DEFAULT_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";

#[doc = concat!("The filesystem collector's own flags.")]
#[derive(Debug, Clone, Args)]
pub struct FilesystemFlags {
    /// Regexp of mount points to exclude for filesystem collector.
    #[arg(
        long = "collector.filesystem.mount-points-exclude",
        id = "collector.filesystem.mount-points-exclude",
        default_value = DEFAULT_MOUNT_POINTS_EXCLUDE
    )]
    mount_points_exclude: String,
    /// Regexp of filesystem types to exclude for filesystem collector.
    #[arg(
        long = "collector.filesystem.fs-types-exclude",
        id = "collector.filesystem.fs-types-exclude",
        default_value = DEFAULT_FS_TYPES_EXCLUDE
    )]
    fs_types_exclude: String,
    /// How long to wait for a mount to respond before marking it as stale (seconds).
    #[arg(
        long = "collector.filesystem.mount-timeout",
        id = "collector.filesystem.mount-timeout",
        default_value = "5s",
        value_parser = parse_positive_duration
    )]
    mount_timeout: Duration,
}

/// Which mounts the filesystem collector reports, and how long it waits for one.
#[derive(Debug, Clone)]
pub struct FilesystemOptions {
    /// Mount points left out.
    pub mount_points_exclude: Regex,
    /// Filesystem types left out.
    pub fs_types_exclude: Regex,
    /// How long one statfs may take before the mount is reported as stuck and skipped.
    pub mount_timeout: Duration,
}

impl Default for FilesystemOptions {
    fn default() -> Self {
        let re = |s: &str| Regex::new(s).expect("built-in regex");
        FilesystemOptions {
            mount_points_exclude: re(DEFAULT_MOUNT_POINTS_EXCLUDE),
            fs_types_exclude: re(DEFAULT_FS_TYPES_EXCLUDE),
            mount_timeout: Duration::from_secs(5),
        }
    }
}

impl CollectorFlags for FilesystemFlags {
    type Options = FilesystemOptions;

    fn options(self) -> Result<FilesystemOptions, String> {
        Ok(FilesystemOptions {
            mount_points_exclude: flag_regex(
                "collector.filesystem.mount-points-exclude",
                &self.mount_points_exclude,
            )?,
            fs_types_exclude: flag_regex(
                "collector.filesystem.fs-types-exclude",
                &self.fs_types_exclude,
            )?,
            mount_timeout: self.mount_timeout,
        })
    }
}

/// How long a mount table the kernel reports unchanged is used before it is read anyway: a
/// directory above a mount point renamed changes the table without waking its poll.
const MOUNT_TABLE_MAX_AGE: Duration = Duration::from_secs(300);

/// Whether `file` is on procfs, where a mount table can say it changed. A table elsewhere (a
/// test fixture, a copied table) cannot, so it is read again every scrape.
fn on_procfs(file: &File) -> bool {
    // SAFETY: a plain C struct, for which all zeroes is a valid value.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: fstatfs only writes into the struct we own; `file` keeps its fd open meanwhile.
    unsafe { libc::fstatfs(file.as_raw_fd(), &mut fs) == 0 && fs.f_type == libc::PROC_SUPER_MAGIC }
}

/// Whether `table`, an open `/proc/<pid>/mountinfo`, still shows the mounts it showed when it
/// was last asked (or opened). procfs wakes `poll` with POLLPRI on a mount table when a mount is
/// added, removed or changed in its namespace, as libmount and systemd watch it.
fn mount_table_unchanged(table: &File) -> bool {
    let mut wanted = libc::pollfd {
        fd: table.as_raw_fd(),
        events: libc::POLLPRI,
        revents: 0,
    };
    // SAFETY: one pollfd we own; a zero timeout never waits. 0 means no event: no change.
    unsafe { libc::poll(&mut wanted, 1, 0) == 0 }
}

/// One mount, from a line of `/proc/<pid>/mountinfo` (proc(5)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// The mount source (`/dev/sda1`, `tmpfs`).
    pub device: String,
    /// Where it is mounted, as the host sees it.
    pub mount_point: String,
    /// The filesystem type.
    pub fs_type: String,
    /// The per-mount options, then the superblock's: either may say `ro`.
    pub options: String,
    /// The device number of the mounted filesystem (`node_filesystem_mount_info`).
    pub major: u32,
    /// Minor part of the device number.
    pub minor: u32,
}

impl MountEntry {
    fn read_only(&self) -> bool {
        self.options.split(',').any(|o| o == "ro")
    }
}

/// Decodes the `\ooo` octal escapes the kernel writes for space, tab, newline and backslash in
/// mount points. Anything that is not a complete escape is kept as is.
pub fn unescape_octal(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if let Some(&[d0, d1, d2]) = b.get(i + 1..i + 4) {
                let octal = |d: u8| (b'0'..=b'7').contains(&d).then(|| d - b'0');
                if let (Some(a), Some(m), Some(c)) = (octal(d0), octal(d1), octal(d2)) {
                    if a <= 3 {
                        out.push((a << 6) | (m << 3) | c);
                        i += 4;
                        continue;
                    }
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Parses a mountinfo table:
/// `27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard`
/// (mount id, parent id, major:minor, root, mount point, mount options, optional fields up to
/// `-`, filesystem type, source, superblock options). A malformed line fails the whole table, as
/// upstream's does: the kernel never writes one, so the file is not a mountinfo table.
pub fn parse_mountinfo(text: &str) -> Result<Vec<MountEntry>, CollectError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry = parse_mountinfo_line(line).ok_or_else(|| {
            CollectError::Parse(format!(
                "mountinfo line {}: malformed mount point information: {line:?}",
                i + 1
            ))
        })?;
        out.push(entry);
    }
    Ok(out)
}

fn parse_mountinfo_line(line: &str) -> Option<MountEntry> {
    let mut fields = line.split_whitespace();
    let (_id, _parent, device_number, _root, mount_point, mount_options) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    // Optional fields (shared:N, master:N, ...) run up to the lone "-".
    fields.by_ref().find(|&f| f == "-")?;
    let (fs_type, source, super_options) = (fields.next()?, fields.next()?, fields.next()?);
    let (major, minor) = device_number.split_once(':')?;
    Some(MountEntry {
        // Upstream decodes only the mount point; keep the device label byte-identical.
        device: source.to_string(),
        mount_point: unescape_octal(mount_point).into_owned(),
        fs_type: fs_type.to_string(),
        options: format!("{mount_options},{super_options}"),
        major: major.parse().ok()?,
        minor: minor.parse().ok()?,
    })
}

/// Drops excluded mount points and filesystem types, and mounts listed twice (over-mounts, bind
/// mounts of the same device at the same place): the first one wins, as in upstream's output.
pub fn select_mounts(mut mounts: Vec<MountEntry>, cfg: &FilesystemOptions) -> Vec<MountEntry> {
    let keep: Vec<bool> = {
        let mut seen: HashSet<(&str, &str, &str)> = HashSet::new();
        mounts
            .iter()
            .map(|m| {
                if cfg.mount_points_exclude.is_match(&m.mount_point) {
                    tracing::debug!(mountpoint = %m.mount_point, "Ignoring mount point");
                    return false;
                }
                if cfg.fs_types_exclude.is_match(&m.fs_type) {
                    tracing::debug!(fstype = %m.fs_type, "Ignoring fs type");
                    return false;
                }
                seen.insert((&m.device, &m.mount_point, &m.fs_type))
            })
            .collect()
    };
    let mut keep = keep.into_iter();
    mounts.retain(|_| keep.next().unwrap_or(false));
    mounts
}

/// What statfs tells us, already in bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FsStats {
    /// Size in bytes.
    pub size: f64,
    /// Free bytes.
    pub free: f64,
    /// Bytes free to unprivileged users.
    pub avail: f64,
    /// Inodes.
    pub files: f64,
    /// Free inodes.
    pub files_free: f64,
    /// Read-only now (`ST_RDONLY`): the mount's or its superblock's flag, as the mount table's
    /// options would show it. A superblock the kernel turns read-only after an error changes
    /// the table without waking its poll, so this is what keeps `node_filesystem_readonly`
    /// current between reads of the table.
    pub read_only: bool,
}

/// The statfs implementation; replaceable so tests can simulate a hung mount.
pub type StatfsFn = Arc<dyn Fn(&Path) -> io::Result<FsStats> + Send + Sync>;

/// statfs(2), through statvfs(3): the same numbers, and the mount flags in a field every libc
/// names. Sizes use `f_bsize`, like upstream.
pub fn statfs(path: &Path) -> io::Result<FsStats> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
    // SAFETY: statvfs only writes into the zeroed struct we own; the path is NUL-terminated.
    let mut buf: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut buf) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let bsize = buf.f_bsize as f64;
    Ok(FsStats {
        size: buf.f_blocks as f64 * bsize,
        free: buf.f_bfree as f64 * bsize,
        avail: buf.f_bavail as f64 * bsize,
        files: buf.f_files as f64,
        files_free: buf.f_ffree as f64,
        read_only: buf.f_flag & libc::ST_RDONLY != 0,
    })
}

/// One scrape's mount points, statted in order; the answers go to `progress`, and `done` is
/// sent once they are all in.
struct Batch {
    /// (path to statfs, mount point as the stuck set knows it)
    mounts: Vec<(PathBuf, String)>,
    progress: Arc<Mutex<Progress>>,
    done: mpsc::Sender<()>,
}

/// The answers to a batch so far, shared by the worker and the waiting collector.
struct Progress {
    /// One per mount of the batch, in order.
    answers: Vec<io::Result<FsStats>>,
    /// When the last answer came in (or the batch was handed over): the next is late
    /// `mount_timeout` after it.
    last: Instant,
    /// Set by the collector when it gave up waiting (the pending statfs timed out): the worker
    /// drops the rest of the batch once that statfs returns.
    abandoned: bool,
}

/// Mount points whose statfs has not returned yet. Shared with the workers, which clear an entry
/// when the blocked call finally comes back.
type StuckSet = Arc<Mutex<HashSet<String>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn worker_loop(rx: mpsc::Receiver<Batch>, statfs: StatfsFn, stuck: StuckSet) {
    // Ends when the collector drops the sender: after a timeout, or with the collector.
    'batches: while let Ok(batch) = rx.recv() {
        for (path, mount_point) in batch.mounts {
            let result = statfs(&path);
            // Answer under the stuck lock: the collector looks at the progress under the same
            // lock before marking a mount stuck, so a late answer is never mistaken for a hang.
            let stuck = &mut *lock(&stuck);
            if stuck.remove(&mount_point) {
                tracing::info!(mountpoint = %mount_point, "Mount point has recovered, monitoring will resume");
            }
            let mut progress = lock(&batch.progress);
            if progress.abandoned {
                // The collector gave up on this batch (this statfs timed out): the rest of it
                // went to a fresh worker.
                continue 'batches;
            }
            progress.answers.push(result);
            progress.last = Instant::now();
        }
        let _ = batch.done.send(());
    }
}

/// How waiting for a batch ended.
enum BatchEnd {
    /// Every mount was answered.
    Done,
    /// The mount at this position of the batch did not answer in time (now marked stuck), or
    /// the worker died statting it; the worker is gone.
    StoppedAt { position: usize, timed_out: bool },
}

/// The `filesystem` collector: what it reads and emits is in the module documentation.
pub struct FilesystemCollector {
    cfg: HostPaths,
    options: FilesystemOptions,
    root_mounts: KeptFile,
    statfs: StatfsFn,
    /// The current worker's queue. Held while a collect's statfs calls run, so a batch never
    /// waits behind another scrape's hung statfs (which would make a healthy mount look stuck).
    worker: Mutex<Option<mpsc::Sender<Batch>>>,
    stuck: StuckSet,
    /// The mounts selected from `root_mounts` when it was last read, and when that was: kept,
    /// when the table is on procfs, while the kernel reports no change to it, for at most
    /// [`MOUNT_TABLE_MAX_AGE`].
    selected: Mutex<Option<(Arc<Vec<MountEntry>>, Instant)>>,
}

impl FilesystemCollector {
    /// The collector reading under `cfg`, with its own options.
    pub fn new(cfg: &HostPaths, options: &FilesystemOptions) -> Self {
        Self::with_statfs(cfg, options, Arc::new(statfs))
    }

    /// Builds the collector with another statfs (fault injection in tests).
    pub fn with_statfs(cfg: &HostPaths, options: &FilesystemOptions, statfs: StatfsFn) -> Self {
        FilesystemCollector {
            options: options.clone(),
            root_mounts: KeptFile::new(cfg.proc_path("1/mountinfo")),
            cfg: cfg.clone(),
            statfs,
            worker: Mutex::new(None),
            stuck: Arc::new(Mutex::new(HashSet::new())),
            selected: Mutex::new(None),
        }
    }

    /// The mounts to report, read and selected again only when the mount table changed: at
    /// 1,000 mounts generating and parsing the table is most of what a scrape would otherwise
    /// cost besides the statfs calls, and it changes far less often than it is scraped.
    fn mounts(&self) -> Result<Arc<Vec<MountEntry>>, CollectError> {
        let mut selected = lock(&self.selected);
        if let Some((mounts, read_at)) = &*selected {
            if read_at.elapsed() < MOUNT_TABLE_MAX_AGE
                && self.root_mounts.if_open(mount_table_unchanged) == Some(true)
            {
                return Ok(Arc::clone(mounts));
            }
        }
        let (text, from_root) = self.read_mount_table()?;
        let mounts = Arc::new(select_mounts(parse_mountinfo(&text)?, &self.options));
        let keep = from_root && self.root_mounts.if_open(on_procfs) == Some(true);
        *selected = keep.then(|| (Arc::clone(&mounts), Instant::now()));
        Ok(mounts)
    }

    /// The mount table's text, and whether it is `root_mounts`' (not the fallback's).
    fn read_mount_table(&self) -> Result<(String, bool), CollectError> {
        // /proc/1/mountinfo shows the host's mounts when we run in a container sharing the host's
        // PID namespace; hidepid hides it, so fall back to our own view.
        let primary = &self.root_mounts;
        let mut text = String::new();
        match primary.read_into(&mut text) {
            Ok(()) => Ok((text, true)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
                ) =>
            {
                tracing::debug!(err = %e, "Reading root mounts failed, falling back to self mounts");
                Ok((
                    crate::util::read_file(&self.cfg.proc_path("self/mountinfo"))?,
                    false,
                ))
            }
            Err(e) => Err(CollectError::io(primary.path().display().to_string(), e)),
        }
    }

    fn spawn_worker(&self) -> Result<mpsc::Sender<Batch>, CollectError> {
        let (tx, rx) = mpsc::channel();
        let statfs = Arc::clone(&self.statfs);
        let stuck = Arc::clone(&self.stuck);
        std::thread::Builder::new()
            .name("statfs".into())
            .spawn(move || worker_loop(rx, statfs, stuck))
            .map_err(|e| CollectError::io("spawning statfs worker", e))?;
        Ok(tx)
    }

    /// Every mount's statfs numbers, in the order of `mounts`; None where they are unavailable:
    /// the mount is stuck from an earlier scrape (or earlier in this one), statfs failed, or it
    /// timed out now (then the mount is marked stuck). The mounts not known to be stuck go to the
    /// worker in one batch; after a timeout or a dead worker, the mounts after that one go to a
    /// fresh worker in another.
    fn stats_of_all(
        &self,
        worker: &mut Option<mpsc::Sender<Batch>>,
        mounts: &[MountEntry],
    ) -> Result<Vec<Option<FsStats>>, CollectError> {
        let mut stats = vec![None; mounts.len()];
        let mut next = 0;
        while next < mounts.len() {
            let todo: Vec<usize> = {
                let stuck = lock(&self.stuck);
                (next..mounts.len())
                    .filter(|&i| {
                        let is_stuck = stuck.contains(&mounts[i].mount_point);
                        if is_stuck {
                            tracing::debug!(mountpoint = %mounts[i].mount_point, "Mount point is in an unresponsive state");
                        }
                        !is_stuck
                    })
                    .collect()
            };
            next = mounts.len();
            if todo.is_empty() {
                break;
            }
            let progress = Arc::new(Mutex::new(Progress {
                answers: Vec::with_capacity(todo.len()),
                last: Instant::now(),
                abandoned: false,
            }));
            let (done, all_done) = mpsc::channel();
            let batch = Batch {
                mounts: todo
                    .iter()
                    .map(|&i| {
                        let mount_point = &mounts[i].mount_point;
                        (self.cfg.root_path(mount_point), mount_point.clone())
                    })
                    .collect(),
                progress: Arc::clone(&progress),
                done,
            };
            self.send(worker, batch)?;
            let end = self.wait(worker, &progress, &all_done, &todo, mounts);
            let answers = std::mem::take(&mut lock(&progress).answers);
            for (&i, answer) in todo.iter().zip(answers) {
                match answer {
                    Ok(s) => stats[i] = Some(s),
                    Err(err) => {
                        tracing::debug!(mountpoint = %mounts[i].mount_point, %err, "Error on statfs() system call");
                    }
                }
            }
            if let BatchEnd::StoppedAt {
                position,
                timed_out,
            } = end
            {
                let m = &mounts[todo[position]];
                if timed_out {
                    tracing::warn!(
                        mountpoint = %m.mount_point,
                        timeout = ?self.options.mount_timeout,
                        "Mount point timed out, it is being labeled as stuck and will not be monitored"
                    );
                } else {
                    tracing::debug!(mountpoint = %m.mount_point, "Error on statfs() system call: statfs worker died");
                }
                // The rest go to a fresh worker.
                next = todo[position] + 1;
            }
        }
        Ok(stats)
    }

    /// Hands `batch` to the worker, starting one if there is none.
    fn send(
        &self,
        worker: &mut Option<mpsc::Sender<Batch>>,
        mut batch: Batch,
    ) -> Result<(), CollectError> {
        // A send fails only if the worker died (a panicking statfs); one fresh worker is enough.
        for _ in 0..2 {
            let tx = match worker {
                Some(tx) => tx,
                None => worker.insert(self.spawn_worker()?),
            };
            match tx.send(batch) {
                Ok(()) => return Ok(()),
                Err(mpsc::SendError(b)) => {
                    batch = b;
                    *worker = None;
                }
            }
        }
        Err(CollectError::Other("statfs worker keeps dying".into()))
    }

    /// Waits for the worker to answer the whole batch, at most `mount_timeout` for each answer
    /// after the one before. On a timeout or a dead worker, `worker` is left empty.
    fn wait(
        &self,
        worker: &mut Option<mpsc::Sender<Batch>>,
        progress: &Mutex<Progress>,
        all_done: &mpsc::Receiver<()>,
        todo: &[usize],
        mounts: &[MountEntry],
    ) -> BatchEnd {
        let timeout = self.options.mount_timeout;
        loop {
            // A timeout too long for an Instant (years) waits that long from now instead.
            let late_at = lock(progress).last.checked_add(timeout);
            let left = late_at.map_or(timeout, |t| t.saturating_duration_since(Instant::now()));
            match all_done.recv_timeout(left) {
                Ok(()) => return BatchEnd::Done,
                Err(RecvTimeoutError::Disconnected) => {
                    // The worker died (a panicking statfs) at the mount after its last answer.
                    *worker = None;
                    let position = lock(progress).answers.len();
                    if position == todo.len() {
                        return BatchEnd::Done;
                    }
                    return BatchEnd::StoppedAt {
                        position,
                        timed_out: false,
                    };
                }
                Err(RecvTimeoutError::Timeout) => {
                    let mut stuck = lock(&self.stuck);
                    let mut p = lock(progress);
                    let position = p.answers.len();
                    if position == todo.len() {
                        // The last answer came in; its `done` is on the way.
                        return BatchEnd::Done;
                    }
                    if p.last
                        .checked_add(timeout)
                        .is_none_or(|t| Instant::now() < t)
                    {
                        continue; // answers came in meanwhile
                    }
                    p.abandoned = true;
                    stuck.insert(mounts[todo[position]].mount_point.clone());
                    // The old worker exits once its statfs returns and it finds the batch
                    // abandoned and the queue closed.
                    *worker = None;
                    return BatchEnd::StoppedAt {
                        position,
                        timed_out: true,
                    };
                }
            }
        }
    }
}

/// `node_filesystem_<stem>` with upstream's help text; the sysinfo collector of other operating
/// systems (`portable.rs`) emits the same families.
pub(crate) fn family(stem: &str) -> MetricFamily {
    let help = match stem {
        "size_bytes" => "Filesystem size in bytes.",
        "free_bytes" => "Filesystem free space in bytes.",
        "avail_bytes" => "Filesystem space available to non-root users in bytes.",
        "files" => "Filesystem total file nodes.",
        "files_free" => "Filesystem total free file nodes.",
        "readonly" => "Filesystem read-only status.",
        "device_error" => {
            "Whether an error occurred while getting statistics for the given device."
        }
        "mount_info" => "Filesystem mount information.",
        _ => unreachable!("not a filesystem family: {stem}"),
    };
    MetricFamily::gauge(interned!("node_filesystem_{stem}"), help)
}

impl BlockingCollector for FilesystemCollector {
    fn name(&self) -> &'static str {
        "filesystem"
    }

    fn collect(&self) -> CollectResult {
        let mounts = self.mounts()?;

        let mut size = family("size_bytes");
        let mut free = family("free_bytes");
        let mut avail = family("avail_bytes");
        let mut files = family("files");
        let mut files_free = family("files_free");
        let mut readonly = family("readonly");
        let mut device_error = family("device_error");
        let mut mount_info = family("mount_info");
        // mount_info has no fstype label: one series per device and mount point.
        let mut mount_info_seen: HashSet<(&str, &str)> = HashSet::new();

        let stats_of_all = {
            let mut worker = lock(&self.worker);
            self.stats_of_all(&mut worker, &mounts)?
        };
        for (m, stats) in mounts.iter().zip(stats_of_all) {
            // Sorted by label name, the order upstream's client library writes them in. Built
            // once and cloned into each family: a long mount point is shared, not copied.
            let labels: Vec<Label> = vec![
                (Cow::Borrowed("device"), LabelValue::new(&m.device)),
                (Cow::Borrowed("fstype"), LabelValue::new(&m.fs_type)),
                (Cow::Borrowed("mountpoint"), LabelValue::new(&m.mount_point)),
            ];
            // Since 1.8 upstream reports read-only status for mounts it cannot stat, too.
            let read_only = m.read_only() || stats.is_some_and(|s| s.read_only);
            readonly.push_labels(labels.clone(), if read_only { 1.0 } else { 0.0 });
            let Some(stats) = stats else {
                device_error.push_labels(labels, 1.0);
                continue;
            };
            device_error.push_labels(labels.clone(), 0.0);
            size.push_labels(labels.clone(), stats.size);
            free.push_labels(labels.clone(), stats.free);
            avail.push_labels(labels.clone(), stats.avail);
            files.push_labels(labels.clone(), stats.files);
            files_free.push_labels(labels, stats.files_free);
            if !mount_info_seen.insert((&m.device, &m.mount_point)) {
                continue;
            }
            mount_info.push(
                &[
                    ("device", m.device.as_str()),
                    ("major", &m.major.to_string()),
                    ("minor", &m.minor.to_string()),
                    ("mountpoint", m.mount_point.as_str()),
                ],
                1.0,
            );
        }

        Ok(vec![
            size,
            free,
            avail,
            files,
            files_free,
            readonly,
            device_error,
            mount_info,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::family;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    // From this machine's /proc/1/mountinfo.
    const MOUNTINFO: &str = "22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334760k,nr_inodes=3083690,mode=755
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683772k
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
30 25 0:27 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683772k
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/unified rw,relatime master:7 propagate_from:2 - cgroup2 cgroup2 rw
";

    /// Test tables in the short fstab(5) layout (`device mountpoint fstype options`), turned into
    /// mountinfo lines with made-up device numbers 0:<line>.
    fn mountinfo(table: &str) -> String {
        table
            .lines()
            .enumerate()
            .map(|(i, line)| {
                let f: Vec<&str> = line.split_whitespace().collect();
                format!(
                    "{i} 1 0:{i} / {} {} - {} {} {}\n",
                    f[1], f[3], f[2], f[0], f[3]
                )
            })
            .collect()
    }

    fn default_fs() -> FilesystemOptions {
        FilesystemOptions::default()
    }

    #[test]
    fn parses_mountinfo() {
        let m = parse_mountinfo(MOUNTINFO).unwrap();
        assert_eq!(m.len(), 8);
        assert_eq!(
            m[4],
            MountEntry {
                device: "/dev/vda".into(),
                mount_point: "/".into(),
                fs_type: "ext4".into(),
                options: "rw,relatime,rw,discard,resv_strict,resuid=65534,resgid=65534".into(),
                major: 254,
                minor: 0,
            }
        );
        assert!(!m[4].read_only());
        assert_eq!(m[7].fs_type, "cgroup2", "optional fields skipped");
    }

    #[test]
    fn read_only_in_mount_or_superblock_options() {
        let m = parse_mountinfo(
            "1 0 8:1 / /a ro,relatime - ext4 /dev/sda1 rw\n\
             2 0 8:2 / /b rw,relatime - ext4 /dev/sda2 ro,errors=remount-ro\n\
             3 0 8:3 / /c rw,relatime - ext4 /dev/sda3 rw,errors=remount-ro\n",
        )
        .unwrap();
        let ro: Vec<bool> = m.iter().map(MountEntry::read_only).collect();
        assert_eq!(ro, [true, true, false]);
    }

    #[test]
    fn decodes_octal_escapes_in_mount_points() {
        let m = parse_mountinfo(&mountinfo(
            "/dev/sdb1 /media/My\\040Disk vfat ro,nosuid\n\
             host:/x /mnt/a\\011b\\012c\\134d nfs4 rw\n\
             sshfs#u@h:/a\\040b /srv/fuse fuse.sshfs rw\n",
        ))
        .unwrap();
        assert_eq!(m[0].mount_point, "/media/My Disk");
        assert!(m[0].read_only());
        assert_eq!(m[1].mount_point, "/mnt/a\tb\nc\\d");
        assert_eq!(
            m[2].device, "sshfs#u@h:/a\\040b",
            "device kept as upstream shows it"
        );
    }

    #[test]
    fn incomplete_escapes_are_kept_verbatim() {
        assert_eq!(unescape_octal("/a\\04"), "/a\\04");
        assert_eq!(unescape_octal("/a\\"), "/a\\");
        assert_eq!(unescape_octal("/a\\089"), "/a\\089");
        assert_eq!(unescape_octal("/a\\777"), "/a\\777", "out of byte range");
        assert_eq!(unescape_octal("/é\\040ü"), "/é ü");
        assert!(matches!(unescape_octal("/plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn malformed_mountinfo_is_an_error() {
        assert!(parse_mountinfo("").unwrap().is_empty());
        assert!(parse_mountinfo("\n  \n").unwrap().is_empty());
        let err = parse_mountinfo("27 1 254:0 / / rw - ext4 /dev/vda rw\n28 1 254:1 / /x rw\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        for bad in [
            "27 1 254:0 / / rw - ext4 /dev/vda",
            "27 1 254:0 / / rw ext4 /dev/vda rw",
            "27 1 254-0 / / rw - ext4 /dev/vda rw",
            "27 1 254:x / / rw - ext4 /dev/vda rw",
            "27 1 -1:0 / / rw - ext4 /dev/vda rw",
            "27 1 4294967296:0 / / rw - ext4 /dev/vda rw",
            "/dev/vda / ext4 rw 0 0",
        ] {
            assert!(parse_mountinfo(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn excludes_and_dedupes_like_upstream() {
        let kept = select_mounts(parse_mountinfo(MOUNTINFO).unwrap(), &default_fs());
        let points: Vec<_> = kept.iter().map(|m| m.mount_point.as_str()).collect();
        assert_eq!(points, ["/"]);

        let table = "tmpfs /data tmpfs rw\n\
                     tmpfs /data tmpfs ro\n\
                     other /data tmpfs rw\n\
                     tmpfs /run/user/1000 tmpfs rw\n\
                     /dev/sr0 /cdrom iso9660 ro\n\
                     /dev/sdb /var/lib/docker/overlay2/x ext4 rw\n\
                     /dev/sdc /var/lib/docker ext4 rw\n";
        let kept = select_mounts(parse_mountinfo(&mountinfo(table)).unwrap(), &default_fs());
        let got: Vec<_> = kept
            .iter()
            .map(|m| {
                (
                    m.device.as_str(),
                    m.mount_point.as_str(),
                    m.options.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("tmpfs", "/data", "rw,rw"),
                ("other", "/data", "rw,rw"),
                ("/dev/sdc", "/var/lib/docker", "rw,rw"),
            ]
        );
    }

    fn fixture(
        mounts: &str,
        timeout: Duration,
    ) -> (tempfile::TempDir, HostPaths, FilesystemOptions) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc/1")).unwrap();
        std::fs::write(dir.path().join("proc/1/mountinfo"), mountinfo(mounts)).unwrap();
        let cfg = HostPaths {
            procfs: dir.path().join("proc"),
            rootfs: "/".into(),
            ..HostPaths::default()
        };
        let options = FilesystemOptions {
            mount_timeout: timeout,
            ..FilesystemOptions::default()
        };
        (dir, cfg, options)
    }

    fn value(fams: &[MetricFamily], name: &str, mp: &str) -> Option<f64> {
        fams.iter()
            .find(|f| f.name == name)?
            .samples
            .iter()
            .find(|s| s.labels[2].1 == mp)
            .map(|s| s.value)
    }

    const STATS: FsStats = FsStats {
        size: 1000.0,
        free: 500.0,
        avail: 400.0,
        files: 10.0,
        files_free: 5.0,
        read_only: false,
    };

    #[test]
    fn real_statfs_on_this_host() {
        let dir = tempfile::tempdir().unwrap();
        let s = statfs(dir.path()).unwrap();
        assert!(
            s.size > 0.0 && s.avail <= s.free && s.free <= s.size,
            "{s:?}"
        );
        assert!(statfs(Path::new("/nonexistent/for/sure")).is_err());
    }

    #[test]
    fn statfs_error_reports_device_error_without_sizes() {
        let (_dir, cfg, options) = fixture(
            "/dev/a /ok ext4 ro\n/dev/b /gone ext4 rw\n",
            Duration::from_secs(5),
        );
        let f: StatfsFn = Arc::new(|p: &Path| {
            if p.ends_with("gone") {
                Err(io::Error::from_raw_os_error(libc::ENOENT))
            } else {
                Ok(STATS)
            }
        });
        let fams = FilesystemCollector::with_statfs(&cfg, &options, f)
            .collect()
            .unwrap();
        assert_eq!(
            value(&fams, "node_filesystem_device_error", "/ok"),
            Some(0.0)
        );
        assert_eq!(value(&fams, "node_filesystem_readonly", "/ok"), Some(1.0));
        assert_eq!(
            value(&fams, "node_filesystem_avail_bytes", "/ok"),
            Some(400.0)
        );
        assert_eq!(
            value(&fams, "node_filesystem_device_error", "/gone"),
            Some(1.0)
        );
        assert_eq!(value(&fams, "node_filesystem_size_bytes", "/gone"), None);
        assert_eq!(
            value(&fams, "node_filesystem_readonly", "/gone"),
            Some(0.0),
            "read-only status is reported for mounts statfs failed on, as since 1.8"
        );
        let mount_info = family(&fams, "node_filesystem_mount_info");
        assert_eq!(
            mount_info.samples.len(),
            1,
            "only for mounts with statistics"
        );
        let labels: Vec<(&str, &str)> = mount_info.samples[0]
            .labels
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_str()))
            .collect();
        assert_eq!(
            labels,
            [
                ("device", "/dev/a"),
                ("major", "0"),
                ("minor", "0"),
                ("mountpoint", "/ok")
            ]
        );
    }

    #[test]
    fn one_mount_info_per_device_and_mount_point() {
        // Found by tests/fuzz.rs: one device mounted at one place under two filesystem types
        // gave two identical node_filesystem_mount_info series.
        let (_dir, cfg, options) = fixture(
            "/dev/a /x ext4 rw\n/dev/a /x ext3 rw\n",
            Duration::from_secs(5),
        );
        let c = FilesystemCollector::with_statfs(&cfg, &options, Arc::new(|_: &Path| Ok(STATS)));
        let fams = c.collect().unwrap();
        let count = |name: &str| family(&fams, name).samples.len();
        assert_eq!(count("node_filesystem_size_bytes"), 2);
        assert_eq!(count("node_filesystem_mount_info"), 1);
        let labels: Vec<_> = fams[0].samples[0]
            .labels
            .iter()
            .map(|l| l.0.as_ref())
            .collect();
        assert_eq!(labels, ["device", "fstype", "mountpoint"]);
    }

    #[test]
    fn panicking_statfs_only_fails_its_mount() {
        let (_dir, cfg, options) = fixture(
            "/dev/a /boom ext4 rw\n/dev/b /ok ext4 rw\n",
            Duration::from_secs(5),
        );
        let f: StatfsFn = Arc::new(|p: &Path| {
            if p.ends_with("boom") {
                panic!("injected");
            }
            Ok(STATS)
        });
        let c = FilesystemCollector::with_statfs(&cfg, &options, f);
        for _ in 0..2 {
            let fams = c.collect().unwrap();
            assert_eq!(
                value(&fams, "node_filesystem_device_error", "/boom"),
                Some(1.0)
            );
            assert_eq!(
                value(&fams, "node_filesystem_size_bytes", "/ok"),
                Some(1000.0)
            );
        }
    }

    #[test]
    fn hung_mount_is_skipped_until_its_statfs_returns() {
        let (_dir, cfg, options) = fixture(
            "/dev/a /fast ext4 rw\nsrv:/x /slow nfs4 rw\n/dev/c /after ext4 rw\n",
            Duration::from_millis(500),
        );
        let hung = Arc::new(AtomicBool::new(true));
        let slow_calls = Arc::new(AtomicUsize::new(0));
        let f: StatfsFn = {
            let (hung, slow_calls) = (Arc::clone(&hung), Arc::clone(&slow_calls));
            Arc::new(move |p: &Path| {
                if p.ends_with("slow") {
                    slow_calls.fetch_add(1, Ordering::SeqCst);
                    while hung.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
                Ok(STATS)
            })
        };
        let c = FilesystemCollector::with_statfs(&cfg, &options, f);

        // First scrape waits one timeout for /slow, then carries on with a fresh worker.
        let t = Instant::now();
        let fams = c.collect().unwrap();
        assert!(t.elapsed() < Duration::from_secs(3));
        assert_eq!(
            value(&fams, "node_filesystem_device_error", "/slow"),
            Some(1.0)
        );
        assert_eq!(value(&fams, "node_filesystem_size_bytes", "/slow"), None);
        assert_eq!(
            value(&fams, "node_filesystem_size_bytes", "/fast"),
            Some(1000.0)
        );
        assert_eq!(
            value(&fams, "node_filesystem_size_bytes", "/after"),
            Some(1000.0)
        );

        // While it hangs, /slow is skipped without another statfs and without waiting.
        let t = Instant::now();
        let fams = c.collect().unwrap();
        assert!(
            t.elapsed() < Duration::from_millis(400),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(
            value(&fams, "node_filesystem_device_error", "/slow"),
            Some(1.0)
        );
        assert_eq!(
            value(&fams, "node_filesystem_size_bytes", "/after"),
            Some(1000.0)
        );
        assert_eq!(slow_calls.load(Ordering::SeqCst), 1);

        // Once the blocked call returns, the mount is retried and reported again.
        hung.store(false, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(5);
        while lock(&c.stuck).contains("/slow") {
            assert!(Instant::now() < deadline, "mount never recovered");
            std::thread::sleep(Duration::from_millis(5));
        }
        let fams = c.collect().unwrap();
        assert_eq!(
            value(&fams, "node_filesystem_device_error", "/slow"),
            Some(0.0)
        );
        assert_eq!(
            value(&fams, "node_filesystem_size_bytes", "/slow"),
            Some(1000.0)
        );
        assert_eq!(slow_calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn hang_in_the_middle_of_a_batch() {
        // Ten mounts, the fourth hangs; the same NFS export is mounted again further on.
        let mut table = String::new();
        for i in 0..10 {
            if i == 3 {
                table.push_str("srv:/x /slow nfs4 rw\n");
            } else if i == 7 {
                table.push_str("srv:/y /slow nfs4 ro\n");
            } else {
                table.push_str(&format!("/dev/d{i} /m{i} ext4 rw\n"));
            }
        }
        let (_dir, cfg, options) = fixture(&table, Duration::from_millis(300));
        let hung = Arc::new(AtomicBool::new(true));
        let calls = Arc::new(Mutex::new(Vec::<String>::new()));
        let workers = Arc::new(Mutex::new(HashSet::new()));
        let f: StatfsFn = {
            let (hung, calls, workers) =
                (Arc::clone(&hung), Arc::clone(&calls), Arc::clone(&workers));
            Arc::new(move |p: &Path| {
                lock(&workers).insert(std::thread::current().id());
                lock(&calls).push(p.display().to_string());
                if p.ends_with("slow") {
                    while hung.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
                Ok(STATS)
            })
        };
        let c = FilesystemCollector::with_statfs(&cfg, &options, f);
        let count = |suffix: &str| {
            lock(&calls)
                .iter()
                .filter(|p| Path::new(p).ends_with(suffix))
                .count()
        };

        // One timeout for /slow; its second mount is skipped without a statfs; the six mounts
        // after it are served by a second worker.
        let t = Instant::now();
        let fams = c.collect().unwrap();
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_millis(1500),
            "{took:?}"
        );
        for i in [0, 1, 2, 4, 5, 6, 8, 9] {
            let mp = format!("/m{i}");
            assert_eq!(
                value(&fams, "node_filesystem_size_bytes", &mp),
                Some(1000.0),
                "{mp}"
            );
            assert_eq!(
                value(&fams, "node_filesystem_device_error", &mp),
                Some(0.0),
                "{mp}"
            );
        }
        let errors: Vec<f64> = family(&fams, "node_filesystem_device_error")
            .samples
            .iter()
            .filter(|s| s.labels[2].1 == "/slow")
            .map(|s| s.value)
            .collect();
        assert_eq!(errors, [1.0, 1.0], "both mounts at /slow");
        assert_eq!(count("slow"), 1);
        assert_eq!(lock(&workers).len(), 2, "one worker per batch");

        // While /slow hangs, scrapes skip it without waiting and use one (third) worker.
        for _ in 0..3 {
            let t = Instant::now();
            let fams = c.collect().unwrap();
            assert!(
                t.elapsed() < Duration::from_millis(250),
                "{:?}",
                t.elapsed()
            );
            assert_eq!(
                value(&fams, "node_filesystem_size_bytes", "/m9"),
                Some(1000.0)
            );
        }
        assert_eq!(count("slow"), 1);
        assert_eq!(lock(&workers).len(), 2, "the second worker is kept");

        // The hung statfs returns: the abandoned worker drops the rest of its batch (no mount
        // is statted twice per scrape) and the mount is reported again.
        hung.store(false, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(5);
        while lock(&c.stuck).contains("/slow") {
            assert!(Instant::now() < deadline, "mount never recovered");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(count("m4"), 4, "once per scrape");
        assert_eq!(count("m9"), 4, "once per scrape");
        let fams = c.collect().unwrap();
        assert_eq!(
            value(&fams, "node_filesystem_device_error", "/slow"),
            Some(0.0)
        );
        assert_eq!(count("slow"), 3, "both /slow mounts statted again");
        assert_eq!(count("m4"), 5);
    }

    #[test]
    fn a_superblock_statfs_finds_read_only_is_reported_read_only() {
        let (_dir, cfg, options) = fixture("/dev/a /x ext4 rw\n", Duration::from_secs(1));
        let read_only = FsStats {
            read_only: true,
            ..STATS
        };
        let c = FilesystemCollector::with_statfs(
            &cfg,
            &options,
            Arc::new(move |_: &Path| Ok(read_only)),
        );
        let fams = c.collect().unwrap();
        assert_eq!(value(&fams, "node_filesystem_readonly", "/x"), Some(1.0));
    }

    #[test]
    fn a_table_not_on_procfs_is_read_again_every_scrape() {
        let (dir, cfg, options) = fixture("/dev/a /x ext4 rw\n", Duration::from_secs(1));
        let c = FilesystemCollector::with_statfs(&cfg, &options, Arc::new(|_: &Path| Ok(STATS)));
        assert_eq!(
            value(&c.collect().unwrap(), "node_filesystem_files", "/y"),
            None
        );
        std::fs::write(
            dir.path().join("proc/1/mountinfo"),
            mountinfo("/dev/a /x ext4 rw\n/dev/b /y ext4 rw\n"),
        )
        .unwrap();
        let fams = c.collect().unwrap();
        assert_eq!(value(&fams, "node_filesystem_files", "/y"), Some(10.0));
    }

    /// What the kept mount list relies on, asked of this host's kernel: a mount made or removed
    /// in a namespace shows in a poll of that namespace's open mountinfo, once. Needs root (to
    /// make a mount namespace and mount in it), as the CI runs the tests.
    #[test]
    fn procfs_reports_each_change_of_a_mount_table_once() {
        use exporter_core::testkit::{wait_for, ChildGuard};
        use std::process::Command;

        let holder = ChildGuard::spawn(
            "unshare",
            Command::new("unshare").args(["--mount", "--propagation", "private", "sleep", "600"]),
        );
        let pid = holder.pid();
        let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap();
        wait_for(
            "the holder's own mount namespace",
            Duration::from_secs(10),
            || (ns(&pid.to_string()) != ns("self")).then_some(()),
        );
        let in_holder = |args: &[&str]| {
            let status = Command::new("nsenter")
                .args(["-t", &pid.to_string(), "-m", "--"])
                .args(args)
                .status()
                .unwrap();
            assert!(
                status.success(),
                "{args:?} in the holder's namespace (needs root)"
            );
        };

        let table = KeptFile::new(format!("/proc/{pid}/mountinfo").into());
        table.read_into(&mut String::new()).unwrap();
        assert_eq!(table.if_open(on_procfs), Some(true));
        let unchanged = || table.if_open(mount_table_unchanged);
        assert_eq!(unchanged(), Some(true), "changed without a mount");

        let point = tempfile::tempdir().unwrap();
        let point = point.path().to_str().unwrap();
        in_holder(&["mount", "-t", "tmpfs", "scratch", point]);
        assert_eq!(unchanged(), Some(false), "a new mount went unseen");
        assert_eq!(unchanged(), Some(true), "one mount reported twice");
        // node_filesystem_readonly comes from the options in the table.
        in_holder(&["mount", "-o", "remount,ro", point]);
        assert_eq!(unchanged(), Some(false), "a remount read-only went unseen");
        in_holder(&["umount", point]);
        assert_eq!(unchanged(), Some(false), "an unmount went unseen");
        assert_eq!(
            KeptFile::new("/nonexistent".into()).if_open(mount_table_unchanged),
            None
        );
    }

    #[test]
    fn falls_back_to_self_mountinfo() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc/self")).unwrap();
        std::fs::write(
            dir.path().join("proc/self/mountinfo"),
            mountinfo("/dev/a /x ext4 rw\n"),
        )
        .unwrap();
        let cfg = HostPaths {
            procfs: dir.path().join("proc"),
            ..HostPaths::default()
        };
        let options = FilesystemOptions::default();
        let c = FilesystemCollector::with_statfs(&cfg, &options, Arc::new(|_: &Path| Ok(STATS)));
        let fams = c.collect().unwrap();
        assert_eq!(value(&fams, "node_filesystem_files", "/x"), Some(10.0));

        let empty = tempfile::tempdir().unwrap();
        let cfg = HostPaths {
            procfs: empty.path().to_path_buf(),
            ..HostPaths::default()
        };
        assert!(matches!(
            FilesystemCollector::new(&cfg, &options).collect(),
            Err(CollectError::NotAvailable(_))
        ));
    }
}
