//! Property tests ("fuzzing") for the procfs/sysfs parsers and the textfile parser.
//!
//! Each parser gets arbitrary text and, more often, near-valid text: real-looking kernel output
//! (from the formats the kernel documents) with tokens replaced by odd numbers (huge, negative,
//! hex, float, NaN, empty), tokens and lines deleted, repeated or joined, and the text cut short.
//! Every property asserts that nothing panics, and that what a parser accepts is well-formed:
//! each collector's families, rendered, are a valid exposition (valid and unique names, unique
//! label names, no repeated series) that our strict textfile parser reads back.
//!
//! `FUZZ_CASES` sets the number of cases per property (default 256: a few seconds in all for a
//! debug build).
//! Bench-style run: `FUZZ_CASES=1000000 cargo test --release -p node-exporter --test fuzz`.
//! Properties that write files for a whole collector run a hundredth of that.
//!
//! Over 800 lines: one property per parser, kept in one file so they share the mutation
//! strategies and the well-formedness checks.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use exporter_core::encode::{encode_text, is_valid_label_name, is_valid_metric_name};
use exporter_core::testkit::fuzz::{fuzz_cases, fuzz_config};
use exporter_core::{BlockingCollector, MetricFamily, MetricType};
use node_exporter::collector::*;
use node_exporter::HostPaths;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use regex::Regex;

const DEFAULT_CASES: u32 = 256;

fn cases() -> u32 {
    fuzz_cases(DEFAULT_CASES)
}

/// Properties that write a file tree per case cost milliseconds each: they run a hundredth of
/// the cases.
fn file_config() -> ProptestConfig {
    fuzz_config(cases() / 100)
}

// ---------------------------------------------------------------------------------------------
// Inputs: real-looking samples of each file, written from the kernel's documented formats; where
// the golden test's fixture tree has the file, that one.

const STAT: &str = include_str!("fixtures/proc/stat");

const MEMINFO: &str = include_str!("fixtures/proc/meminfo");

const DISKSTATS: &str = "   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
 254       0 vda 30622 5702 2958058 14757 7381 24420 3291984 23249 0 9024 39711 3923 79 209912 1022 898 681
   8       1 sda1 1 2 3 4 5 6 7 8 9 10 11
 259       0 nvme0n1 9 8 7 6 5 4 3 2 1 0 1 2 3 4 5
";

const NETDEV: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  113576    1200    0    0    0     0          0         0   113576    1200    0    0    0     0       0          0
  eth0: 115678237   86104    0    2    0     0          0        17   206497    2231    0    0    0     0       0          0
";

const NETSTAT: &str =
    "TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops TCPTimeouts TCPOFOQueue
TcpExt: 0 0 3 4 17 9
IpExt: InNoRoutes InOctets OutOctets
IpExt: 0 115678237 206497
";

const SNMP: &str = "Ip: Forwarding DefaultTTL InReceives InHdrErrors
Ip: 2 64 4371 0
Tcp: RtoAlgorithm MaxConn ActiveOpens CurrEstab InErrs
Tcp: 1 -1 41 2 0
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors
Udp: 10 1 0 12 0 0
";

const SNMP6: &str = "Ip6InReceives                   \t1
Ip6InOctets                     \t72
Icmp6InMsgs                     \t0
Udp6InDatagrams                 \t0
UdpLite6InErrors                \t0
";

const VMSTAT: &str = "nr_free_pages 1208361
pgpgin 751961
pgpgout 593088
pswpin 0
pgfault 983598
pgmajfault 659
oom_kill 0
";

const LOADAVG: &str = "0.52 0.58 0.59 1/389 12345\n";

const MOUNTINFO: &str = "22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
28 27 0:25 / /mnt/My\\040Disk ro,nosuid master:3 propagate_from:2 - vfat /dev/sdb1 ro
33 31 0:30 / /srv/data rw,relatime - nfs4 host:/export rw,vers=4.2
";

const SOCKSTAT: &str = "sockets: used 229
TCP: inuse 4 orphan 0 tw 2 alloc 6 mem 1
UDP: inuse 2 mem 2
UDPLITE: inuse 0
RAW: inuse 0
FRAG: inuse 0 memory 0
";

const SOCKSTAT6: &str = "TCP6: inuse 2
UDP6: inuse 1
UDPLITE6: inuse 0
RAW6: inuse 0
FRAG6: inuse 0 memory 0
";

const SOFTNET: &str = "00000030 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000
000010c4 00000002 0000000a 00000000 00000000 00000000 00000000 00000000 00000003 00000004 00000005 00000006 00000001 00000000 00000000
";

const PSI: &str = "some avg10=0.65 avg60=1.35 avg300=1.57 total=3948241
full avg10=0.00 avg60=0.00 avg300=0.00 total=0
";

const SCHEDSTAT: &str = "version 15
timestamp 4295003021
cpu0 0 0 0 0 0 0 2370117829 112612418 17617
domain0 03 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
cpu1 0 0 0 0 0 0 1913599411 83717962 12916
";

const ARP: &str = "IP address       HW type     Flags       HW address            Mask     Device
192.168.1.1      0x1         0x2         52:54:00:12:35:02     *        eth0
10.0.0.7         0x1         0x2         52:54:00:12:35:03     *        eth1
10.0.0.8         0x1         0x0         00:00:00:00:00:00     *        eth1
";

const UDP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  120: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 17321 2 0000000000000000 0
  250: 3500007F:0035 00000000:0000 07 0000000A:000000FF 00:00000000 00000000   101        0 16511 2 0000000000000000 0
";

const CONNTRACK_STAT: &str = "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart
00000021  00000000 00000000 00000000 00000003 0000588a 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000
00000021  00000000 00000000 00000000 00000002 000056a4 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000001
";

const CPUINFO: &str = include_str!("fixtures/proc/cpuinfo");

const UDEV: &str = "S:disk/by-id/ata-QEMU_HARDDISK_QM00001
E:ID_ATA=1
E:ID_ATA_WRITE_CACHE=1
E:ID_ATA_WRITE_CACHE_ENABLED=1
E:ID_ATA_ROTATION_RATE_RPM=0
E:ID_MODEL=QEMU_HARDDISK
E:ID_SERIAL_SHORT=QM00001
E:ID_PATH=pci-0000:00:01.1-ata-1
E:ID_WWN=0x5000c500a0b1c2d3
E:ID_FS_TYPE=ext4
E:ID_FS_UUID=0b5b8b44-1c1f-4b8b-9b58-1f0d2a1c9e0f
E:DM_NAME=vg0-root
E:DM_VG_NAME=vg0
";

const OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"
NAME='Debian GNU/Linux'
VERSION_ID=\"12\"
export VERSION_CODENAME=bookworm
ID=debian # the id
VARIANT=\"a\\\"b\\\\c\"
SUPPORT_END=2028-06-30
";

const TEXTFILE: &str = "# HELP backup_size_bytes Size of the last backup.
# TYPE backup_size_bytes gauge
backup_size_bytes{job=\"postgres\",path=\"/var/backups/pg \\\"main\\\"\"} 73400320
backup_size_bytes{job=\"redis\",path=\"C:\\\\dump\\nnext\"} 1.5e+06
# TYPE job_duration_seconds histogram
job_duration_seconds_bucket{le=\"0.5\"} 1
job_duration_seconds_bucket{le=\"+Inf\"} 3
job_duration_seconds_sum 4.2
job_duration_seconds_count 3
# TYPE rpc_seconds summary
rpc_seconds{quantile=\"0.99\"} 0.3
rpc_seconds_sum 12
rpc_seconds_count 40
untyped_thing NaN
";

// ---------------------------------------------------------------------------------------------
// Generators.

/// One of `choices`, each as likely as the others.
fn literal(choices: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    prop::sample::select(choices).prop_map(str::to_owned)
}

/// The fixed tokens among [`odd_token`]'s, each as likely as one of its generators: numbers no
/// integer holds or Go and Rust read differently, and lone characters the files give a meaning.
const ODD_LITERALS: &[&str] = &[
    "18446744073709551616",
    "99999999999999999999999999999999999999",
    "1e400",
    "-0",
    "+1",
    "0x1f",
    "NaN",
    "inf",
    "",
    "-",
    ":",
    "=",
    "\\",
    "\"",
    "{",
    "#",
];

/// A token a buggy kernel, a truncated read or a hostile file could put where a number or a
/// name belongs.
fn odd_token() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<u32>().prop_map(|n| format!("{n:08x}")),
        1 => any::<u64>().prop_map(|n| format!("{n:x}")),
        1 => any::<f64>().prop_map(|f| f.to_string()),
        1 => any::<i16>().prop_map(|n| format!("{n}.{}", n.unsigned_abs() % 100)),
        ODD_LITERALS.len() as u32 => literal(ODD_LITERALS),
        1 => "[a-zA-Z_:()=./-]{1,12}",
        1 => "\\PC{1,6}",
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    ReplaceToken(usize, String),
    DeleteToken(usize),
    RepeatToken(usize),
    InsertToken(usize, String),
    DeleteLine(usize),
    RepeatLine(usize),
    JoinLines(usize),
    InsertChar(usize, char),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), odd_token()).prop_map(|(i, t)| Mutation::ReplaceToken(i, t)),
        1 => any::<usize>().prop_map(Mutation::DeleteToken),
        1 => any::<usize>().prop_map(Mutation::RepeatToken),
        1 => (any::<usize>(), odd_token()).prop_map(|(i, t)| Mutation::InsertToken(i, t)),
        1 => any::<usize>().prop_map(Mutation::DeleteLine),
        1 => any::<usize>().prop_map(Mutation::RepeatLine),
        1 => any::<usize>().prop_map(Mutation::JoinLines),
        1 => (any::<usize>(), prop_oneof![
            Just('\n'), Just('\t'), Just(' '), Just('\r'), Just('\0'), Just('\u{fffd}'), any::<char>()
        ]).prop_map(|(i, c)| Mutation::InsertChar(i, c)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// Byte ranges of the whitespace-separated tokens of `text`.
fn token_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, text.len()));
    }
    spans
}

/// Byte ranges of the lines of `text`, newline included.
fn line_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = 0;
    for (i, _) in text.match_indices('\n') {
        spans.push((start, i + 1));
        start = i + 1;
    }
    if start < text.len() {
        spans.push((start, text.len()));
    }
    spans
}

/// The char boundary at or before `at`, taken modulo the text's length.
fn boundary(text: &str, at: usize) -> usize {
    let mut i = at % (text.len() + 1);
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn splice(text: &mut String, (start, end): (usize, usize), with: &str) {
    text.replace_range(start..end, with);
}

fn apply(text: &mut String, m: &Mutation) {
    let pick = |spans: &[(usize, usize)], i: usize| -> Option<(usize, usize)> {
        (!spans.is_empty()).then(|| spans[i % spans.len()])
    };
    match m {
        Mutation::ReplaceToken(i, with) => {
            if let Some(span) = pick(&token_spans(text), *i) {
                splice(text, span, with);
            }
        }
        Mutation::DeleteToken(i) => {
            if let Some(span) = pick(&token_spans(text), *i) {
                splice(text, span, "");
            }
        }
        Mutation::RepeatToken(i) => {
            if let Some((s, e)) = pick(&token_spans(text), *i) {
                let token = format!("{0} {0}", &text[s..e]);
                splice(text, (s, e), &token);
            }
        }
        Mutation::InsertToken(i, with) => {
            if let Some((s, _)) = pick(&token_spans(text), *i) {
                splice(text, (s, s), &format!("{with} "));
            }
        }
        Mutation::DeleteLine(i) => {
            if let Some(span) = pick(&line_spans(text), *i) {
                splice(text, span, "");
            }
        }
        Mutation::RepeatLine(i) => {
            if let Some((s, e)) = pick(&line_spans(text), *i) {
                let line = text[s..e].to_string();
                splice(text, (e, e), &line);
            }
        }
        Mutation::JoinLines(i) => {
            let newlines: Vec<(usize, usize)> =
                text.match_indices('\n').map(|(p, _)| (p, p + 1)).collect();
            if let Some(span) = pick(&newlines, *i) {
                splice(text, span, " ");
            }
        }
        Mutation::InsertChar(at, c) => {
            let at = boundary(text, *at);
            text.insert(at, *c);
        }
        Mutation::Truncate(at) => {
            let at = boundary(text, *at);
            text.truncate(at);
        }
    }
}

/// `sample` with a few mutations applied.
fn near(sample: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec(mutation(), 0..6).prop_map(move |ms| {
        let mut text = sample.to_string();
        for m in &ms {
            apply(&mut text, m);
        }
        text
    })
}

/// Anything: unicode text, printable ASCII with newlines, or random bytes read lossily.
fn arbitrary_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~\t\n]{0,300}",
        prop::collection::vec(any::<u8>(), 0..300)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

/// Mostly near-valid text, sometimes anything.
fn input(sample: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![4 => near(sample), 1 => arbitrary_text()]
}

// ---------------------------------------------------------------------------------------------
// What "well-formed" means for collector output.

/// No key of `keys` twice.
fn assert_unique<K: Eq + std::hash::Hash + std::fmt::Debug>(
    keys: impl IntoIterator<Item = K>,
) -> Result<(), TestCaseError> {
    let mut seen = HashSet::new();
    for key in keys {
        prop_assert!(!seen.contains(&key), "{key:?} twice");
        seen.insert(key);
    }
    Ok(())
}

/// Every family name valid and unique, every sample's label names valid and unique, no series
/// twice in a family, and the rendered exposition read back by the strict textfile parser.
fn assert_well_formed(families: &[MetricFamily]) -> Result<(), TestCaseError> {
    let mut names = HashSet::new();
    for fam in families {
        prop_assert!(
            is_valid_metric_name(&fam.name),
            "family name {:?}",
            fam.name
        );
        prop_assert!(
            names.insert(fam.name.as_ref()),
            "family {:?} twice",
            fam.name
        );
        let mut series = HashSet::new();
        for s in &fam.samples {
            let mut label_names = HashSet::new();
            for (k, _) in &s.labels {
                prop_assert!(is_valid_label_name(k), "{}: label name {k:?}", fam.name);
                prop_assert!(
                    label_names.insert(k.as_ref()),
                    "{}: label {k} twice",
                    fam.name
                );
            }
            prop_assert!(
                series.insert((s.suffix, &s.labels)),
                "{}: series {:?} twice",
                fam.name,
                s.labels
            );
        }
    }
    let mut text = String::new();
    encode_text(families, &mut text);
    if let Err(e) = textfile::parse_exposition(&text) {
        return Err(TestCaseError::fail(format!(
            "rendered exposition does not parse: {e}\n{text}"
        )));
    }
    Ok(())
}

/// A fuzzed tree's paths and every collector's options, as the builds below take them.
struct Tree {
    paths: HostPaths,
    cpu: cpu::CpuOptions,
    filesystem: filesystem::FilesystemOptions,
    netdev: netdev::DeviceFilter,
    diskstats_exclude: Regex,
    netstat_fields: Regex,
    vmstat_fields: Regex,
    textfile_directory: Option<std::path::PathBuf>,
}

type Build = fn(&Tree) -> Box<dyn BlockingCollector>;

/// Writes `files` (paths relative to the tree root) into a fresh tree, builds each collector on
/// it and collects once; output that is not an error must be well-formed.
fn collect_on_tree(
    files: &[(&str, &str)],
    adjust: impl FnOnce(&mut Tree),
    builds: &[Build],
) -> Result<(), TestCaseError> {
    let io = |e: std::io::Error| TestCaseError::fail(e.to_string());
    let dir = tempfile::tempdir().map_err(io)?;
    for (rel, content) in files {
        let path = dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&path, content).map_err(io)?;
    }
    let every_field = Regex::new(".*").map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut cfg = Tree {
        paths: HostPaths {
            procfs: dir.path().join("proc"),
            sysfs: dir.path().join("sys"),
            rootfs: dir.path().join("root"),
            udev_data: dir.path().join("udev"),
        },
        cpu: cpu::CpuOptions::default(),
        filesystem: filesystem::FilesystemOptions::default(),
        netdev: netdev::DeviceFilter::default(),
        diskstats_exclude: Regex::new(diskstats::DEFAULT_DEVICE_EXCLUDE).expect("regex"),
        textfile_directory: Some(dir.path().join("textfile")),
        // Every field through, so odd names reach the output.
        netstat_fields: every_field.clone(),
        vmstat_fields: every_field,
    };
    adjust(&mut cfg);
    for build in builds {
        if let Ok(families) = build(&cfg).collect() {
            assert_well_formed(&families)?;
        }
    }
    Ok(())
}

/// statfs for fuzzed mount points, which do not exist: every mount gets the same numbers.
fn fixed_statfs(_: &Path) -> std::io::Result<filesystem::FsStats> {
    Ok(filesystem::FsStats {
        size: 1000.0,
        free: 500.0,
        avail: 400.0,
        files: 10.0,
        files_free: 5.0,
        read_only: false,
    })
}

fn boxed<C: BlockingCollector + 'static>(c: C) -> Box<dyn BlockingCollector> {
    Box::new(c)
}

// ---------------------------------------------------------------------------------------------
// Parsers whose only promise is not to panic, one property each: `name(strategy) => parse;`.

macro_rules! parsers_do_not_panic {
    ($($name:ident($strategy:expr) => $parse:expr;)+) => {
        proptest! {
            #![proptest_config(fuzz_config(cases()))]
            $(
                #[test]
                fn $name(text in $strategy) {
                    let _ = $parse(&text);
                }
            )+
        }
    };
}

parsers_do_not_panic! {
    stat_parser(input(STAT)) => stat::parse_stat;
    cpuinfo_parser(input(CPUINFO)) => cpu::parse_cpuinfo;
    udev_parser(input(UDEV)) => diskstats::parse_udev;
    vmstat_parser(input(VMSTAT)) => |t: &str| drop(vmstat::parse_vmstat(t, |_| true));
    loadavg_parser(input(LOADAVG)) => loadavg::parse_loadavg;
    sockstat_parser(prop_oneof![input(SOCKSTAT), input(SOCKSTAT6)]) => sockstat::parse_sockstat;
    pressure_parser(input(PSI)) => pressure::parse_psi;
    arp_parser(input(ARP)) => arp::parse_arp;
    udp_queues_parser(input(UDP)) => udp_queues::parse_udp_queues;
    conntrack_stat_parser(input(CONNTRACK_STAT)) => conntrack::parse_conntrack_stat;
}

// Parsers: the structural promises of what they accept.

proptest! {
    #![proptest_config(fuzz_config(cases()))]

    #[test]
    fn cpu_stat_parser(text in input(STAT)) {
        if let Ok(cpus) = cpu::parse_cpu_stat(&text) {
            for (label, _) in cpus {
                prop_assert!(!label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()));
            }
        }
    }

    #[test]
    fn cpu_list_parser(text in prop_oneof![
        input("0-3,8,10-11\n"),
        "[0-9,\\- \n]{0,40}",
        Just("0-4294967295".to_string()),
        Just("4294967290-4294967295".to_string()),
    ]) {
        if let Ok(cpus) = cpu::parse_cpu_list(&text) {
            // A list the kernel could print never names more CPUs than it has digits for.
            prop_assert!(cpus.len() <= 1 << 16, "{} cpus from {text:?}", cpus.len());
        }
    }

    #[test]
    fn meminfo_parser(text in input(MEMINFO)) {
        if let Ok(fields) = meminfo::parse_meminfo(&text) {
            assert_unique(fields.iter().map(|(key, _)| key))?;
            for (key, _) in &fields {
                prop_assert!(is_valid_metric_name(&format!("node_memory_{key}")), "{key:?}");
            }
        }
    }

    #[test]
    fn diskstats_parser(text in input(DISKSTATS)) {
        if let Ok(disks) = diskstats::parse_diskstats(&text) {
            assert_unique(disks.iter().map(|d| &d.device))?;
            for d in disks {
                prop_assert!(d.count <= d.stats.len());
                prop_assert!(!d.device.is_empty() && !d.device.contains(char::is_whitespace));
            }
        }
    }

    #[test]
    fn netdev_parser(text in input(NETDEV)) {
        if let Ok(lines) = netdev::parse_netdev(&text) {
            assert_unique(lines.iter().map(|l| l.device))?;
        }
    }

    #[test]
    fn netstat_and_snmp_parser(text in prop_oneof![input(NETSTAT), input(SNMP)]) {
        if let Ok(stats) = netstat::parse_pairs(&text) {
            for (proto, name, value) in stats {
                prop_assert!(!proto.is_empty() && !name.is_empty() && !value.is_empty());
                let joined = [proto, name, value].concat();
                prop_assert!(!joined.contains(char::is_whitespace), "{joined:?}");
            }
        }
    }

    #[test]
    fn snmp6_parser(text in input(SNMP6)) {
        for (proto, _, value) in netstat::parse_snmp6(&text) {
            prop_assert!(proto.ends_with('6'), "{proto:?}");
            prop_assert!(!value.contains(char::is_whitespace));
        }
    }

    #[test]
    fn mountinfo_parser(text in input(MOUNTINFO)) {
        if let Ok(mounts) = filesystem::parse_mountinfo(&text) {
            let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
            prop_assert_eq!(mounts.len(), lines);
            for m in mounts {
                prop_assert!(!m.fs_type.is_empty() && !m.device.is_empty());
                prop_assert!(!m.fs_type.contains(char::is_whitespace));
            }
        }
    }

    #[test]
    fn octal_unescape(text in prop_oneof![
        "(\\\\[0-9]{0,4}|[a-z /])*",
        any::<String>(),
    ]) {
        let decoded = filesystem::unescape_octal(&text);
        // Every escape shrinks four bytes to one; nothing else changes length.
        prop_assert!(decoded.len() <= text.len() + 2 * text.matches('\\').count());
    }

    #[test]
    fn softnet_parser(text in input(SOFTNET)) {
        if let Ok(lines) = softnet::parse_softnet(&text) {
            assert_unique(lines.iter().map(|l| l.cpu))?;
        }
    }

    #[test]
    fn schedstat_parser(text in input(SCHEDSTAT)) {
        if let Ok(cpus) = schedstat::parse_schedstat(&text) {
            for c in cpus {
                prop_assert!(!c.cpu.is_empty() && c.cpu.bytes().all(|b| b.is_ascii_digit()));
            }
        }
    }

    #[test]
    fn small_sysfs_values(text in prop_oneof![
        input("4096\n"),
        input("1024\t0\t9223372036854775807\n"),
        input("0x1003\n"),
        input("-1\n"),
        input("2400000\n"),
        input("1\n"),
    ]) {
        let _ = entropy::parse_sysctl_uint(&text, "x");
        let _ = filefd::parse_file_nr(&text);
        let _ = edac::parse_count(&text);
        let _ = netclass::parse_attr_int(&text);
        let _ = powersupplyclass::parse_int(&text);
        let _ = cpufreq::parse_khz(&text);
        let _ = selinux::parse_enforce(&text);
        let _ = selinux::parse_config_mode(&text);
        let _ = cpu::parse_online(&text);
        let _ = time::parse_available(&text);
        let _ = thermal_zone::parse_zone(&text, Some(&text), &text);
        let _ = thermal_zone::parse_cooling_device(&text, &text, &text);
    }

    #[test]
    fn sysfs_names(name in prop_oneof![
        "(temp|in|fan|cpu|curr|power|freq|beep_enable)[0-9]{0,3}(_[a-z_]{1,12})?",
        "(cpu|clocksource|thermal_zone|cooling_device|mc|csrow)[0-9a-z]{0,4}",
        any::<String>(),
    ]) {
        if let Some((kind, _, prop)) = hwmon::explode_sensor_filename(&name) {
            prop_assert!(!kind.is_empty() && !kind.contains(|c: char| c.is_ascii_digit()));
            prop_assert!(name.starts_with(kind) && name.ends_with(prop));
        }
        let cleaned = hwmon::clean_metric_name(&name);
        prop_assert!(cleaned.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == ':'));
        let _ = edac::entry_number(&name, "csrow");
        let _ = thermal_zone::numbered(&name, "thermal_zone");
        let _ = time::is_clocksource_dir(&name);
    }

    #[test]
    fn hwmon_bytes(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let text = hwmon::to_valid_utf8(&bytes);
        if let Ok(valid) = std::str::from_utf8(&bytes) {
            prop_assert_eq!(text.as_ref(), valid);
        }
    }

    #[test]
    fn proc_pid_stat_bytes(bytes in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        near("1234 (my (odd) proc) S 1 1234 1234 0 -1 4194560 1075 0 0 0 2 1 0 0 20 0 3 0 25 0\n")
            .prop_map(String::into_bytes),
    ]) {
        let _ = processes::parse_proc_stat(&bytes);
    }

    #[test]
    fn os_release_parser(text in input(OS_RELEASE)) {
        if let Ok(os) = os::parse_os_release(&text) {
            let _ = os::os_families(&os);
        }
        let _ = os::unquote(&text);
        let _ = os::major_minor(&text);
    }

    #[test]
    fn support_end_dates(text in prop_oneof![
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        "[0-9+-]{0,12}",
        any::<String>(),
    ]) {
        if let Some(ts) = os::parse_support_end(&text) {
            // Whole days between years 0 and 9999.
            prop_assert!(ts % 86_400.0 == 0.0);
            prop_assert!((-62_167_219_200.0..=253_402_214_400.0).contains(&ts), "{ts}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The textfile parser: accepted input must come out well-formed and survive a round trip.

/// Exposition lines built from valid and invalid pieces: names, label sets with bad escapes and
/// repeated label names, odd values, timestamps, repeated HELP and TYPE lines.
fn exposition_line() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        1 => "[a-z_:][a-z0-9_:]{0,6}",
        4 => literal(&["x", "x_bucket", "x_sum", "x_count"]),
        1 => "[0-9{}\"= -][a-z]{0,3}",
    ];
    let label_value = prop_oneof![
        1 => "[a-z0-9 ]{0,6}",
        7 => literal(&["\\\\", "\\\"", "\\n", "\\t", "\\", "+Inf", "0.5"]),
        1 => "\\PC{0,3}",
    ];
    let label = (
        prop_oneof![
            1 => "[a-z_][a-z0-9_]{0,4}",
            3 => literal(&["le", "quantile", "__name__"]),
            1 => "[0-9-]{1,2}",
        ],
        label_value,
    )
        .prop_map(|(k, v)| format!("{k}=\"{v}\""));
    let labels = prop::collection::vec(label, 0..4).prop_map(|ls| {
        if ls.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", ls.join(","))
        }
    });
    let value = prop_oneof![
        1 => any::<f64>().prop_map(|f| f.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        6 => literal(&["+Inf", "-Inf", "NaN", "1e400", "abc", ""]),
    ];
    let kind = prop::sample::select(
        &[
            "counter",
            "gauge",
            "histogram",
            "summary",
            "untyped",
            "bogus",
            "",
        ][..],
    );
    prop_oneof![
        4 => (name.clone(), labels, value, prop::option::of(any::<i64>()))
            .prop_map(|(n, l, v, ts)| match ts {
                Some(ts) => format!("{n}{l} {v} {ts}"),
                None => format!("{n}{l} {v}"),
            }),
        1 => (name.clone(), "[ -~]{0,10}(\\\\[n\\\\t]?)?").prop_map(|(n, h)| format!("# HELP {n} {h}")),
        1 => (name, kind).prop_map(|(n, k)| format!("# TYPE {n} {k}")),
        1 => "# [ -~]{0,12}",
        1 => Just(String::new()),
    ]
}

fn exposition() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(exposition_line(), 0..12).prop_map(|ls| ls.join("\n") + "\n"),
        2 => input(TEXTFILE),
        1 => arbitrary_text(),
    ]
}

/// A sample as (suffix, labels, value bits).
type SampleKey = (String, Vec<(String, String)>, u64);
/// A family as (name, help, type, samples).
type FamilyKey = (String, String, MetricType, Vec<SampleKey>);

/// Families with values compared bit for bit (NaN equals NaN).
fn comparable(families: &[MetricFamily]) -> Vec<FamilyKey> {
    families
        .iter()
        .map(|f| {
            (
                f.name.to_string(),
                f.help.to_string(),
                f.kind,
                f.samples
                    .iter()
                    .map(|s| {
                        let labels = s
                            .labels
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect();
                        (s.suffix.to_string(), labels, s.value.to_bits())
                    })
                    .collect(),
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(fuzz_config(cases()))]

    #[test]
    fn textfile_parser(text in exposition()) {
        let Ok(families) = textfile::parse_exposition(&text) else {
            return Ok(());
        };
        for fam in &families {
            prop_assert!(is_valid_metric_name(&fam.name), "{:?}", fam.name);
            prop_assert!(!fam.samples.is_empty());
            for s in &fam.samples {
                let mut seen = HashSet::new();
                for (k, _) in &s.labels {
                    prop_assert!(is_valid_label_name(k), "{k:?}");
                    prop_assert!(seen.insert(k.as_ref()), "label {k} twice");
                }
                match (fam.kind, s.suffix) {
                    (MetricType::Histogram, "_bucket") => {
                        prop_assert_eq!(s.labels.last().map(|l| l.0.as_ref()), Some("le"));
                    }
                    (MetricType::Summary, "") => {
                        prop_assert_eq!(s.labels.last().map(|l| l.0.as_ref()), Some("quantile"));
                    }
                    (MetricType::Histogram, "_sum" | "_count") | (MetricType::Summary, "_sum" | "_count") | (_, "") => {}
                    (kind, suffix) => prop_assert!(false, "{kind:?} sample with suffix {suffix:?}"),
                }
            }
        }
        // What we accept, rendered as we serve it, reads back the same.
        let mut rendered = String::new();
        encode_text(&families, &mut rendered);
        let again = textfile::parse_exposition(&rendered)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{rendered}")))?;
        prop_assert_eq!(comparable(&again), comparable(&families), "{}", rendered);
    }

    #[test]
    fn go_float_round_trips(v in any::<f64>()) {
        let shown = textfile::go_float(v);
        let back: f64 = shown.parse().map_err(|_| TestCaseError::fail(format!("{shown:?}")))?;
        prop_assert!(back.to_bits() == v.to_bits() || (v.is_nan() && back.is_nan()), "{v} -> {shown}");
    }
}

// ---------------------------------------------------------------------------------------------
// Whole collectors on fuzzed files: whatever they serve is a valid exposition.

proptest! {
    #![proptest_config(file_config())]

    #[test]
    fn stat_and_cpu_collectors(text in input(STAT)) {
        collect_on_tree(&[("proc/stat", &text)], |_| {}, &[
            |c| boxed(stat::StatCollector::new(&c.paths)),
            |c| boxed(cpu::CpuCollector::new(&c.paths, &c.cpu)),
        ])?;
    }

    #[test]
    fn cpu_info_collector(info in input(CPUINFO), online in input("1\n")) {
        collect_on_tree(
            &[("proc/stat", STAT), ("proc/cpuinfo", &info),
              ("sys/devices/system/cpu/cpu0/online", &online), ("sys/devices/system/cpu/isolated", &online)],
            |c| c.cpu.info = true,
            &[|c| boxed(cpu::CpuCollector::new(&c.paths, &c.cpu))],
        )?;
    }

    #[test]
    fn meminfo_collector(text in input(MEMINFO)) {
        collect_on_tree(&[("proc/meminfo", &text)], |_| {}, &[|c| boxed(meminfo::MeminfoCollector::new(&c.paths))])?;
    }

    #[test]
    fn diskstats_collector(text in input(DISKSTATS), udev in input(UDEV)) {
        collect_on_tree(
            &[("proc/diskstats", &text), ("udev/b254:0", &udev), ("udev/b8:1", &udev)],
            |c| c.diskstats_exclude = Regex::new("^$").expect("regex"),
            &[|c| boxed(diskstats::DiskstatsCollector::new(&c.paths, &c.diskstats_exclude))],
        )?;
    }

    #[test]
    fn netdev_collector(text in input(NETDEV)) {
        collect_on_tree(
            &[("proc/net/dev", &text)],
            |c| c.netdev = netdev::DeviceFilter { include: None, exclude: None },
            &[|c| boxed(netdev::NetdevCollector::new(&c.paths, &c.netdev))],
        )?;
    }

    #[test]
    fn netstat_collector(netstat in input(NETSTAT), snmp in input(SNMP), snmp6 in input(SNMP6)) {
        collect_on_tree(
            &[("proc/net/netstat", &netstat), ("proc/net/snmp", &snmp), ("proc/net/snmp6", &snmp6)],
            |_| {},
            &[|c| boxed(netstat::NetstatCollector::new(&c.paths, &c.netstat_fields))],
        )?;
    }

    #[test]
    fn vmstat_collector(text in input(VMSTAT)) {
        collect_on_tree(&[("proc/vmstat", &text)], |_| {}, &[|c| boxed(vmstat::VmstatCollector::new(&c.paths, &c.vmstat_fields))])?;
    }

    #[test]
    fn small_proc_file_collectors(
        loadavg in input(LOADAVG),
        sockstat in input(SOCKSTAT),
        sockstat6 in input(SOCKSTAT6),
        softnet in input(SOFTNET),
        schedstat in input(SCHEDSTAT),
        arp in input(ARP),
        udp in input(UDP),
    ) {
        let files = [
            ("proc/loadavg", loadavg.as_str()),
            ("proc/net/sockstat", &sockstat),
            ("proc/net/sockstat6", &sockstat6),
            ("proc/net/softnet_stat", &softnet),
            ("proc/schedstat", &schedstat),
            ("proc/net/arp", &arp),
            ("proc/net/udp", &udp),
            ("proc/net/udp6", &udp),
        ];
        collect_on_tree(&files, |_| {}, &[
            |c| boxed(loadavg::LoadavgCollector::new(&c.paths)),
            |c| boxed(sockstat::SockstatCollector::new(&c.paths)),
            |c| boxed(softnet::SoftnetCollector::new(&c.paths)),
            |c| boxed(schedstat::SchedstatCollector::new(&c.paths)),
            |c| boxed(arp::ArpCollector::new(&c.paths)),
            |c| boxed(udp_queues::UdpQueuesCollector::new(&c.paths)),
        ])?;
    }

    #[test]
    fn pressure_collector(cpu in input(PSI), io in input(PSI), irq in input("full avg10=0.00 avg60=0.00 avg300=0.00 total=62500\n")) {
        collect_on_tree(
            &[("proc/pressure/cpu", &cpu), ("proc/pressure/io", &io), ("proc/pressure/memory", PSI), ("proc/pressure/irq", &irq)],
            |_| {},
            &[|c| boxed(pressure::PressureCollector::new(&c.paths))],
        )?;
    }

    #[test]
    fn filesystem_collector(text in input(MOUNTINFO)) {
        collect_on_tree(
            &[("proc/1/mountinfo", &text)],
            |c| {
                c.filesystem.mount_points_exclude = regex::Regex::new("^$").expect("regex");
                c.filesystem.fs_types_exclude = regex::Regex::new("^$").expect("regex");
            },
            &[|c| boxed(filesystem::FilesystemCollector::with_statfs(&c.paths, &c.filesystem, Arc::new(fixed_statfs)))],
        )?;
    }

    #[test]
    fn os_collector(text in input(OS_RELEASE)) {
        collect_on_tree(&[("root/etc/os-release", &text)], |_| {}, &[|c| boxed(os::OsCollector::new(&c.paths))])?;
    }

    #[test]
    fn textfile_collector(a in exposition(), b in exposition()) {
        collect_on_tree(
            &[("textfile/a.prom", &a), ("textfile/b.prom", &b)],
            |_| {},
            &[|c| boxed(textfile::TextfileCollector::new(&c.paths, &c.textfile_directory))],
        )?;
    }
}

// ---------------------------------------------------------------------------------------------
// The collectors of hardware and services most hosts lack (issue 18), on the oracle test's
// hand-written fixture files.

const MDSTAT: &str = include_str!("fixtures/oracle/mdadm/proc/mdstat");
const IP_VS_STATS: &str = include_str!("fixtures/oracle/ipvs/proc/net/ip_vs_stats");
const IP_VS: &str = include_str!("fixtures/oracle/ipvs/proc/net/ip_vs");
const RPC_NFS: &str = include_str!("fixtures/oracle/nfs/proc/net/rpc/nfs");
const RPC_NFSD: &str = include_str!("fixtures/oracle/nfs/proc/net/rpc/nfsd");
const XFS_STATS: &str = include_str!("fixtures/oracle/xfs/sys/fs/xfs/sda1/stats/stats");
const ARCSTATS: &str = include_str!("fixtures/oracle/zfs/proc/spl/kstat/zfs/arcstats");
const OBJSET: &str = include_str!("fixtures/oracle/zfs/proc/spl/kstat/zfs/pool1/objset-0x37");
const ZPOOL_IO: &str = include_str!("fixtures/oracle/zfs/proc/spl/kstat/zfs/pool1/io");
const WRITEBACK: &str = "rate:\t\t1.1M/sec\ndirty:\t\t20.4G\ntarget:\t\t20.4G\n\
proportional:\t-920.7M\nintegral:\t0.0k\nchange:\t\t0.0k/sec\nnext io:\t-1ms\n";

proptest! {
    #![proptest_config(fuzz_config(cases()))]

    #[test]
    fn mdstat_parser(text in input(MDSTAT)) {
        if let Ok(families) = mdadm::mdstat_families(&text) {
            assert_well_formed(&families)?;
        }
    }

    #[test]
    fn ipvs_parsers(stats in input(IP_VS_STATS), services in input(IP_VS)) {
        let _ = ipvs::parse_ip_port(&services);
        if let (Ok(s), Ok(b)) = (ipvs::parse_ipvs_stats(&stats), ipvs::parse_ipvs_backends(&services)) {
            assert_well_formed(&ipvs::ipvs_families(&s, &b, &ipvs::BACKEND_LABELS))?;
            assert_well_formed(&ipvs::ipvs_families(&s, &b, &["proto"]))?;
        }
    }

    #[test]
    fn nfs_parsers(client in input(RPC_NFS), server in input(RPC_NFSD)) {
        if let Ok(families) = nfs::client_families_of(&client) {
            assert_well_formed(&families)?;
        }
        if let Ok(families) = nfsd::server_families_of(&server) {
            assert_well_formed(&families)?;
        }
    }

    #[test]
    fn xfs_parser(text in input(XFS_STATS)) {
        if let Ok(stats) = xfs::parse_xfs_stats(&text) {
            assert_well_formed(&xfs::xfs_families(&[("sda1".to_string(), stats)]))?;
        }
    }

    #[test]
    fn zfs_parsers(kstat in input(ARCSTATS), objset in input(OBJSET), io in input(ZPOOL_IO)) {
        let _ = zfs::parse_kstat(&kstat);
        let _ = zfs::parse_objset(&objset);
        let _ = zfs::parse_pool_io(&io);
    }

    #[test]
    fn bcache_infiniband_and_small_values(text in prop_oneof![
        input(WRITEBACK),
        input("12.3M\n"),
        input("4: ACTIVE\n"),
        input("40 Gb/sec (4X QDR)\n"),
        input("0xffffffffffffffff\n"),
        input("Unused:\t\t99%\nMetadata:\t0%\n"),
        input("package-0\n"),
    ]) {
        let _ = bcache::parse_writeback_rate_debug(&text);
        let _ = bcache::parse_value(&text);
        let _ = bcache::dehumanize(&text);
        let _ = bcache::parse_priority_stats(&text);
        let _ = infiniband::parse_state(&text);
        let _ = infiniband::parse_rate(&text);
        let _ = infiniband::parse_counter(&text, true);
        let _ = tapestats::parse_go_uint_base0(text.trim());
        let _ = fibrechannel::attribute_value("port_name", &text);
        let _ = btrfs::parse_value(&text);
        let _ = rapl::parse_uint(&text);
        let (name, _) = rapl::zone_index(text.trim(), &Default::default());
        let family = format!("node_rapl_{}", rapl::sanitize(&format!("{name}_joules_total")));
        prop_assert!(is_valid_metric_name(&family), "{:?}", family);
        let _ = bonding::parse_name_list(&text);
        let _ = nvme::parse_nvme_device("nvme0", [text.as_str(); 4]);
        let _ = tapestats::is_drive(&text);
    }
}
