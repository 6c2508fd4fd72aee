//! `node_nfs_*` from /proc/net/rpc/nfs, the NFS client's RPC counters (net/sunrpc/stats.c,
//! `rpc_proc_show`, and fs/nfs's procedure tables):
//!
//! ```text
//! net 18628 0 18628 6            packets, udp, tcp, tcp connections
//! rpc 4329785 0 4338291          calls, retransmissions, authentication refreshes
//! proc3 22 1 4084749 ...         a count, then that many per-procedure counters
//! ```
//!
//! Read as node_exporter 1.5 (procfs 0.8) reads it, so the same file fails or passes the same
//! way: every line needs a key and numbers, a `procN` line exactly as many numbers as its count
//! (at least 18 for v2 and 22 for v3; a v4 line with fewer than 59 is padded with zeros), and an
//! unknown key fails the file. Lines that are missing count as zeros. The procedure tables
//! ([`PROC2`], [`PROC3`], [`CLIENT_PROC4`]) name each counter as upstream's labels do.
//!
//! Without NFS client support loaded there is no file: `node_scrape_collector_success 0`.

use exporter_core::MetricFamily;

use crate::absent::gated_proc_file_collector;

/// The NFSv2 procedures, in the kernel's order (after `Null`).
pub const PROC2: [&str; 18] = [
    "Null", "GetAttr", "SetAttr", "Root", "Lookup", "ReadLink", "Read", "WrCache", "Write",
    "Create", "Remove", "Rename", "Link", "SymLink", "MkDir", "RmDir", "ReadDir", "FsStat",
];

/// The NFSv3 procedures, in the kernel's order.
pub const PROC3: [&str; 22] = [
    "Null",
    "GetAttr",
    "SetAttr",
    "Lookup",
    "Access",
    "ReadLink",
    "Read",
    "Write",
    "Create",
    "MkDir",
    "SymLink",
    "MkNod",
    "Remove",
    "RmDir",
    "Rename",
    "Link",
    "ReadDir",
    "ReadDirPlus",
    "FsStat",
    "FsInfo",
    "PathConf",
    "Commit",
];

/// The NFSv4 client operations upstream 1.5 names, in the kernel's order (`LayoutGet` before
/// `GetDeviceInfo`, as procfs 0.8 maps them); later ones are not exported.
pub const CLIENT_PROC4: [&str; 59] = [
    "Null",
    "Read",
    "Write",
    "Commit",
    "Open",
    "OpenConfirm",
    "OpenNoattr",
    "OpenDowngrade",
    "Close",
    "Setattr",
    "FsInfo",
    "Renew",
    "SetClientID",
    "SetClientIDConfirm",
    "Lock",
    "Lockt",
    "Locku",
    "Access",
    "Getattr",
    "Lookup",
    "LookupRoot",
    "Remove",
    "Rename",
    "Link",
    "Symlink",
    "Create",
    "Pathconf",
    "StatFs",
    "ReadLink",
    "ReadDir",
    "ServerCaps",
    "DelegReturn",
    "GetACL",
    "SetACL",
    "FsLocations",
    "ReleaseLockowner",
    "Secinfo",
    "FsidPresent",
    "ExchangeID",
    "CreateSession",
    "DestroySession",
    "Sequence",
    "GetLeaseTime",
    "ReclaimComplete",
    "LayoutGet",
    "GetDeviceInfo",
    "LayoutCommit",
    "LayoutReturn",
    "SecinfoNoName",
    "TestStateID",
    "FreeStateID",
    "GetDeviceList",
    "BindConnToSession",
    "DestroyClientID",
    "Seek",
    "Allocate",
    "DeAllocate",
    "LayoutStats",
    "Clone",
];

/// Declares a struct of counter lines (`field: length`, each a public `[u64; length]`) and its
/// `Default`, all zeros: `derive` gives none for arrays longer than 32.
macro_rules! counter_lines {
    (
        $(#[doc = $doc:tt])+
        $stats:ident { $($(#[doc = $field_doc:tt])+ $field:ident: $len:literal,)+ }
    ) => {
        $(#[doc = $doc])+
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $stats {
            $($(#[doc = $field_doc])+ pub $field: [u64; $len],)+
        }

        impl Default for $stats {
            fn default() -> Self {
                $stats {
                    $($field: [0; $len],)+
                }
            }
        }
    };
}
pub(crate) use counter_lines;

counter_lines! {
    /// /proc/net/rpc/nfs, zeros where a line is missing.
    ClientStats {
        /// `net`: packets, udp, tcp, tcp connections.
        network: 4,
        /// `rpc`: calls, retransmissions, authentication refreshes.
        rpc: 3,
        /// `proc2`: the v2 procedures of [`PROC2`](crate::collector::nfs::PROC2).
        proc2: 18,
        /// `proc3`: the v3 procedures of [`PROC3`](crate::collector::nfs::PROC3).
        proc3: 22,
        /// `proc4`: the v4 operations of [`CLIENT_PROC4`].
        proc4: 59,
    }
}

/// A line's key and numbers: Go's `ParseUint` on every field (decimal, no sign).
pub(crate) fn key_and_numbers(line: &str) -> Result<(&str, Vec<u64>), String> {
    let mut fields = line.split_whitespace();
    let key = fields.next().unwrap_or("");
    let numbers = fields
        .map(parse_go_uint)
        .collect::<Result<Vec<u64>, String>>()?;
    if numbers.is_empty() {
        return Err(format!("invalid NFS metric line {line:?}"));
    }
    Ok((key, numbers))
}

/// A decimal `u64` as Go's `strconv.ParseUint(s, 10, 64)` reads one (no `+`).
pub(crate) fn parse_go_uint(s: &str) -> Result<u64, String> {
    if s.starts_with('+') {
        return Err(format!("invalid number {s:?}"));
    }
    s.parse().map_err(|_| format!("invalid number {s:?}"))
}

/// Copies exactly `N` numbers, or fails naming the line.
pub(crate) fn exactly<const N: usize>(v: &[u64], what: &str) -> Result<[u64; N], String> {
    v.try_into()
        .map_err(|_| format!("invalid {what} line: {} values, want {N}", v.len()))
}

/// A `procN` line: a count, then exactly that many counters, at least `min` of them; the first
/// `N` are kept (zeros past the end).
pub(crate) fn procedures<const N: usize>(
    v: &[u64],
    min: usize,
    what: &str,
) -> Result<[u64; N], String> {
    let count = v[0];
    let counters = &v[1..];
    if counters.len() as u64 != count || counters.len() < min {
        return Err(format!(
            "invalid {what} line: count {count}, {} values",
            counters.len()
        ));
    }
    let mut out = [0; N];
    for (o, c) in out.iter_mut().zip(counters) {
        *o = *c;
    }
    Ok(out)
}

/// Parses /proc/net/rpc/nfs.
pub fn parse_client_stats(text: &str) -> Result<ClientStats, String> {
    let mut stats = ClientStats::default();
    for line in text.lines() {
        let (key, v) = key_and_numbers(line)?;
        match key {
            "net" => stats.network = exactly(&v, "net")?,
            "rpc" => stats.rpc = exactly(&v, "rpc")?,
            "proc2" => stats.proc2 = procedures(&v, 18, "proc2")?,
            "proc3" => stats.proc3 = procedures(&v, 22, "proc3")?,
            "proc4" => stats.proc4 = procedures(&v, 0, "proc4")?,
            other => return Err(format!("unknown NFS metric line {other:?}")),
        }
    }
    Ok(stats)
}

/// The families for one read of /proc/net/rpc/nfs.
pub fn client_families(s: &ClientStats) -> Vec<MetricFamily> {
    let counter = |name: &'static str, help: &'static str, v: u64| {
        MetricFamily::counter(name, help).with(&[], v as f64)
    };
    let mut packets = MetricFamily::counter(
        "node_nfs_packets_total",
        "Total NFSd network packets (sent+received) by protocol type.",
    );
    packets.push(&[("protocol", "udp")], s.network[1] as f64);
    packets.push(&[("protocol", "tcp")], s.network[2] as f64);
    let mut requests = MetricFamily::counter(
        "node_nfs_requests_total",
        "Number of NFS procedures invoked.",
    );
    let tables: [(&str, &[&str], &[u64]); 3] = [
        ("2", &PROC2, &s.proc2),
        ("3", &PROC3, &s.proc3),
        ("4", &CLIENT_PROC4, &s.proc4),
    ];
    for (proto, names, values) in tables {
        for (method, value) in names.iter().zip(values) {
            requests.push(&[("proto", proto), ("method", method)], *value as f64);
        }
    }
    vec![
        packets,
        counter(
            "node_nfs_connections_total",
            "Total number of NFSd TCP connections.",
            s.network[3],
        ),
        counter(
            "node_nfs_rpcs_total",
            "Total number of RPCs performed.",
            s.rpc[0],
        ),
        counter(
            "node_nfs_rpc_retransmissions_total",
            "Number of RPC transmissions performed.",
            s.rpc[1],
        ),
        counter(
            "node_nfs_rpc_authentication_refreshes_total",
            "Number of RPC authentication refreshes performed.",
            s.rpc[2],
        ),
        requests,
    ]
}

/// The families of the text of /proc/net/rpc/nfs.
pub fn client_families_of(text: &str) -> Result<Vec<MetricFamily>, String> {
    Ok(client_families(&parse_client_stats(text)?))
}

gated_proc_file_collector!("nfs", NfsCollector, "net/rpc/nfs", client_families_of);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_not_available, numbered, procfs_at};
    use exporter_core::BlockingCollector;

    #[test]
    fn parses_every_line() {
        let text = format!(
            "net 18628 0 18628 6\nrpc 4329785 17 4338291\n{}{}{}",
            numbered("proc2", 18),
            numbered("proc3", 22),
            numbered("proc4", 69)
        );
        let s = parse_client_stats(&text).unwrap();
        assert_eq!(s.network, [18628, 0, 18628, 6]);
        assert_eq!(s.rpc, [4329785, 17, 4338291]);
        assert_eq!(s.proc2[17], 18);
        assert_eq!(s.proc3[21], 22);
        // Operations past upstream's 59 are not exported.
        assert_eq!(s.proc4[58], 59);
    }

    #[test]
    fn short_v4_lines_are_padded_and_missing_lines_are_zero() {
        let s = parse_client_stats(&numbered("proc4", 40)).unwrap();
        assert_eq!(s.proc4[39], 40);
        assert_eq!(s.proc4[40], 0);
        assert_eq!(s.rpc, [0; 3]);
        assert_eq!(parse_client_stats("").unwrap(), ClientStats::default());
    }

    #[test]
    fn what_upstream_refuses_is_an_error() {
        for bad in [
            numbered("proc2", 17),
            numbered("proc3", 21),
            "proc3 23 1 2\n".to_string(),
            "proc4 2 1 2 3\n".to_string(),
            "net 1 2 3\n".to_string(),
            "rpc 1 2 3 4\n".to_string(),
            "rpc 1 2 3\n\n".to_string(),
            "xyz 1\n".to_string(),
            "net 1 2 3 x\n".to_string(),
            "net 1 2 3 +4\n".to_string(),
            "net\n".to_string(),
        ] {
            assert!(parse_client_stats(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn families_name_every_procedure() {
        let fams = client_families(&ClientStats::default());
        let requests = fams.last().unwrap();
        assert_eq!(requests.samples.len(), 18 + 22 + 59);
        assert_eq!(fams[0].samples.len(), 2);
    }

    #[test]
    fn missing_file_is_not_available() {
        let dir = tempfile::tempdir().unwrap();
        let c = NfsCollector::new(&procfs_at(dir.path()));
        assert_not_available(c.collect());
    }
}
