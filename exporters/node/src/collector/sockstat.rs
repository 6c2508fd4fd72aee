//! `node_sockstat_*` gauges from /proc/net/sockstat and /proc/net/sockstat6.
#![allow(unsafe_code, reason = "sysconf(3) for the page size")]

use std::collections::HashSet;

use exporter_core::{interned, BlockingCollector, CollectError, CollectResult, MetricFamily};

use crate::kept::KeptFile;
use crate::paths::HostPaths;

/// The per-protocol fields upstream knows, in its emission order; others are ignored as
/// upstream's parser ignores them.
const FIELDS: [&str; 6] = ["inuse", "orphan", "tw", "alloc", "mem", "memory"];
/// Position of `mem` (in pages) in [`FIELDS`].
const MEM: usize = 4;

/// The `sockstat` collector: what it reads and emits is in the module documentation.
pub struct SockstatCollector {
    v4: KeptFile,
    v6: KeptFile,
    page_size: f64,
}

impl SockstatCollector {
    /// The collector reading under `cfg`.
    pub fn new(cfg: &HostPaths) -> Self {
        // SAFETY: sysconf only reads a system constant.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        SockstatCollector {
            v4: KeptFile::new(cfg.proc_path("net/sockstat")),
            v6: KeptFile::new(cfg.proc_path("net/sockstat6")),
            page_size: if page > 0 { page as f64 } else { 4096.0 },
        }
    }
}

/// One protocol line: `TCP: inuse 2 orphan 0 tw 0 alloc 2 mem 349`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtoStats<'a> {
    /// The protocol (`TCP`, `UDP6`, ...).
    pub protocol: &'a str,
    /// Values of [`FIELDS`], `None` where the line lacks the field.
    pub fields: [Option<f64>; 6],
}

/// One sockstat file: the socket count and the protocol lines.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sockstat<'a> {
    /// `sockets: used N` (IPv4 file only).
    pub used: Option<f64>,
    /// Every protocol line, in file order.
    pub protocols: Vec<ProtoStats<'a>>,
}

/// Parses a sockstat file: `PROTO: key value key value ...` per line.
pub fn parse_sockstat(text: &str) -> Result<Sockstat<'_>, CollectError> {
    let mut out = Sockstat::default();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some(head) = f.next() else { continue };
        let protocol = head
            .strip_suffix(':')
            .ok_or_else(|| CollectError::Parse(format!("sockstat: bad line {line:?}")))?;
        let mut fields = [None; 6];
        let mut used = None;
        while let Some(key) = f.next() {
            let raw = f.next().ok_or_else(|| {
                CollectError::Parse(format!("sockstat: {protocol}: odd number of fields"))
            })?;
            let v: f64 = raw.parse::<i64>().map_err(|_| {
                CollectError::Parse(format!("sockstat: {protocol}: invalid {key}: {raw:?}"))
            })? as f64;
            if protocol == "sockets" {
                if key == "used" {
                    used = Some(v);
                }
            } else if let Some(i) = FIELDS.iter().position(|k| *k == key) {
                fields[i] = Some(v);
            }
        }
        if protocol == "sockets" {
            out.used = used.or(out.used);
        } else {
            out.protocols.push(ProtoStats { protocol, fields });
        }
    }
    Ok(out)
}

/// Reads a sockstat file; `None` when it does not exist (IPv4 or IPv6 disabled).
fn read_optional(file: &KeptFile) -> Result<Option<String>, CollectError> {
    match file.read() {
        Ok(t) => Ok(Some(t)),
        Err(CollectError::NotAvailable(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

impl SockstatCollector {
    fn families(&self, stats: &[Sockstat<'_>]) -> Vec<MetricFamily> {
        let mut out = Vec::new();
        // Only the IPv4 file carries the total; sockstat6 has no `sockets:` line.
        if let Some(used) = stats.first().and_then(|s| s.used) {
            out.push(
                MetricFamily::gauge(
                    "node_sockstat_sockets_used",
                    "Number of IPv4 sockets in use.",
                )
                .with(&[], used),
            );
        }
        let gauge = |protocol: &str, state: &str, v: f64| {
            MetricFamily::gauge(
                interned!("node_sockstat_{protocol}_{state}"),
                interned!("Number of {protocol} sockets in state {state}."),
            )
            .with(&[], v)
        };
        // The kernel names each protocol once, in letters and digits; a corrupt read must not
        // produce a repeated family or a broken metric name.
        let mut seen = HashSet::new();
        for p in stats.iter().flat_map(|s| &s.protocols) {
            let usable = p
                .protocol
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !usable || !seen.insert(p.protocol) {
                tracing::debug!(
                    protocol = p.protocol,
                    "sockstat: repeated or unusable protocol skipped"
                );
                continue;
            }
            for (name, v) in FIELDS.iter().zip(p.fields) {
                if let Some(v) = v {
                    out.push(gauge(p.protocol, name, v));
                }
            }
            // `mem` is in pages; upstream adds the byte count beside it.
            if let Some(pages) = p.fields[MEM] {
                out.push(gauge(p.protocol, "mem_bytes", pages * self.page_size));
            }
        }
        out
    }
}

impl BlockingCollector for SockstatCollector {
    fn name(&self) -> &'static str {
        "sockstat"
    }

    fn collect(&self) -> CollectResult {
        let v4 = read_optional(&self.v4)?;
        let v6 = read_optional(&self.v6)?;
        // Neither file (no IPv4 or IPv6 stack in this procfs): upstream skips each missing file
        // and succeeds with nothing, and so do we.
        if v4.is_none() && v6.is_none() {
            return Ok(Vec::new());
        }
        let mut stats = Vec::with_capacity(2);
        // An empty IPv4 entry keeps the "first is IPv4" rule when only sockstat6 exists.
        stats.push(match &v4 {
            Some(t) => parse_sockstat(t)?,
            None => Sockstat::default(),
        });
        if let Some(t) = &v6 {
            let mut s6 = parse_sockstat(t)?;
            s6.used = None;
            stats.push(s6);
        }
        Ok(self.families(&stats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_rejects, family, family_names, procfs_at, write};

    const V4: &str = "\
sockets: used 13
TCP: inuse 2 orphan 0 tw 1 alloc 2 mem 349
UDP: inuse 0 mem 3
UDPLITE: inuse 0
RAW: inuse 0
FRAG: inuse 0 memory 0
";
    const V6: &str = "\
TCP6: inuse 1
UDP6: inuse 2
UDPLITE6: inuse 0
RAW6: inuse 0
FRAG6: inuse 0 memory 0
";

    fn collector() -> SockstatCollector {
        SockstatCollector {
            v4: KeptFile::new(Default::default()),
            v6: KeptFile::new(Default::default()),
            page_size: 4096.0,
        }
    }

    fn value(fams: &[MetricFamily], name: &str) -> Option<f64> {
        fams.iter()
            .find(|f| f.name == name)
            .map(|f| f.samples[0].value)
    }

    #[test]
    fn parses_sockstat() {
        let s = parse_sockstat(V4).unwrap();
        assert_eq!(s.used, Some(13.0));
        assert_eq!(s.protocols.len(), 5);
        assert_eq!(s.protocols[0].protocol, "TCP");
        assert_eq!(
            s.protocols[0].fields,
            [
                Some(2.0),
                Some(0.0),
                Some(1.0),
                Some(2.0),
                Some(349.0),
                None
            ]
        );
        assert_eq!(s.protocols[4].fields[5], Some(0.0));
    }

    #[test]
    fn emits_upstream_families_with_mem_bytes() {
        let stats = [parse_sockstat(V4).unwrap(), parse_sockstat(V6).unwrap()];
        let fams = collector().families(&stats);
        assert_eq!(value(&fams, "node_sockstat_sockets_used"), Some(13.0));
        assert_eq!(value(&fams, "node_sockstat_TCP_mem"), Some(349.0));
        assert_eq!(
            value(&fams, "node_sockstat_TCP_mem_bytes"),
            Some(349.0 * 4096.0)
        );
        assert_eq!(
            value(&fams, "node_sockstat_UDP_mem_bytes"),
            Some(3.0 * 4096.0)
        );
        assert_eq!(value(&fams, "node_sockstat_FRAG_memory"), Some(0.0));
        assert_eq!(value(&fams, "node_sockstat_UDP6_inuse"), Some(2.0));
        assert_eq!(value(&fams, "node_sockstat_FRAG6_memory"), Some(0.0));
        assert_eq!(value(&fams, "node_sockstat_FRAG_memory_bytes"), None);
        let tcp = family(&fams, "node_sockstat_TCP_tw");
        assert_eq!(tcp.help, "Number of TCP sockets in state tw.");
        // 1 + TCP 6 + UDP 3 + UDPLITE 1 + RAW 1 + FRAG 2 + v6 (1 + 1 + 1 + 1 + 2)
        assert_eq!(fams.len(), 20);
    }

    #[test]
    fn repeated_or_unusable_protocols_are_skipped() {
        // Found by tests/fuzz.rs: a repeated `TCP6:` line gave two node_sockstat_TCP6_inuse.
        let v6 = parse_sockstat("TCP6: inuse 2\nTCP6: inuse 5\nT{6: inuse 1\n").unwrap();
        let fams = collector().families(&[Sockstat::default(), v6]);
        let names = family_names(&fams);
        assert_eq!(names, ["node_sockstat_TCP6_inuse"]);
        assert_eq!(fams[0].samples[0].value, 2.0);
    }

    #[test]
    fn unknown_keys_are_ignored() {
        let s = parse_sockstat("TCP: inuse 1 newfield 7\n").unwrap();
        assert_eq!(s.protocols[0].fields[0], Some(1.0));
    }

    #[test]
    fn truncated_or_garbage_is_an_error() {
        assert_rejects(
            parse_sockstat,
            &[
                "TCP: inuse\n",
                "TCP: inuse x\n",
                "TCP inuse 1\n",
                "sockets: used\n",
            ],
        );
        assert_eq!(parse_sockstat("").unwrap(), Sockstat::default());
    }

    #[test]
    fn only_ipv6_file_still_collects() {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("net");
        std::fs::create_dir_all(&net).unwrap();
        let cfg = procfs_at(dir.path());
        assert!(SockstatCollector::new(&cfg).collect().unwrap().is_empty());
        write(&net.join("sockstat6"), V6);
        let fams = SockstatCollector::new(&cfg).collect().unwrap();
        assert_eq!(value(&fams, "node_sockstat_TCP6_inuse"), Some(1.0));
        assert_eq!(value(&fams, "node_sockstat_sockets_used"), None);
    }

    #[test]
    fn page_size_is_positive() {
        assert!(SockstatCollector::new(&HostPaths::default()).page_size > 0.0);
    }
}
