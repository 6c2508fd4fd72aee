//! `node_nfsd_*` from /proc/net/rpc/nfsd, the NFS server's counters (fs/nfsd/stats.c):
//!
//! ```text
//! rc 0 6 18622          reply cache: hits, misses, not cached
//! fh 0 0 0 0 0          file handles: stale, ...
//! io 157286400 72864    bytes read, written
//! th 8 0 ...            threads, times all were busy (older kernels add a histogram)
//! ra 32 0 ... 0         read-ahead cache size, 10 depth counters, not found (before 5.x)
//! net 18628 0 18628 6   packets, udp, tcp, tcp connections
//! rpc 18628 0 0 0 0     calls, bad calls, bad format, bad auth, bad client
//! proc2/proc3/proc4     a count, then that many per-procedure counters
//! proc4ops 72 ...       a count, then that many per-operation counters
//! ```
//!
//! Read as node_exporter 1.5 (procfs 0.8) reads it: each line exactly as many numbers as it
//! has fields (only the first two of `th` count), `proc4` exactly 2, `proc4ops` at least 39,
//! and an unknown line (`wdeleg_getattr`, added by Linux 6.6) fails the file, as upstream.
//! Lines that are missing count as zeros. Without an NFS server there is no file:
//! `node_scrape_collector_success 0`.

use exporter_core::MetricFamily;

use crate::absent::gated_proc_file_collector;
use crate::collector::nfs::{
    counter_lines, exactly, key_and_numbers, parse_go_uint, procedures, PROC2, PROC3,
};

/// The NFSv4 server operations upstream 1.5 exports, each with its position on the
/// `proc4ops` line (1-based, after the count). As procfs 0.8 maps them: 1-3 (reserved numbers) and 24-25
/// (PUTPUBFH, PUTROOTFH) are not exported, and neither are the SETCLIENTID pair: the last
/// three names take positions 36-38.
pub const PROC4_OPS: [(&str, usize); 33] = [
    ("Access", 4),
    ("Close", 5),
    ("Commit", 6),
    ("Create", 7),
    ("DelegPurge", 8),
    ("DelegReturn", 9),
    ("GetAttr", 10),
    ("GetFH", 11),
    ("Link", 12),
    ("Lock", 13),
    ("Lockt", 14),
    ("Locku", 15),
    ("Lookup", 16),
    ("LookupRoot", 17),
    ("Nverify", 18),
    ("Open", 19),
    ("OpenAttr", 20),
    ("OpenConfirm", 21),
    ("OpenDgrd", 22),
    ("PutFH", 23),
    ("Read", 26),
    ("ReadDir", 27),
    ("ReadLink", 28),
    ("Remove", 29),
    ("Rename", 30),
    ("Renew", 31),
    ("RestoreFH", 32),
    ("SaveFH", 33),
    ("SecInfo", 34),
    ("SetAttr", 35),
    ("Verify", 36),
    ("Write", 37),
    ("RelLockOwner", 38),
];

counter_lines! {
    /// /proc/net/rpc/nfsd, zeros where a line is missing.
    ServerStats {
        /// `rc`: hits, misses, not cached.
        reply_cache: 3,
        /// `fh`: stale, total lookups, anonymous lookups, dir not cached, non-dir not cached.
        file_handles: 5,
        /// `io`: bytes read, written.
        io: 2,
        /// `th`: threads, times all were busy.
        threads: 2,
        /// `ra`: cache size, 10 depth counters, not found.
        read_ahead: 12,
        /// `net`: packets, udp, tcp, tcp connections.
        network: 4,
        /// `rpc`: calls, bad calls, bad format, bad auth, bad client.
        rpc: 5,
        /// `proc2`: the v2 procedures of [`PROC2`](crate::collector::nfs::PROC2).
        proc2: 18,
        /// `proc3`: the v3 procedures of [`PROC3`](crate::collector::nfs::PROC3).
        proc3: 22,
        /// `proc4ops`, from position 1 (index 0 is position 1).
        proc4ops: 38,
    }
}

/// Parses /proc/net/rpc/nfsd.
pub fn parse_server_stats(text: &str) -> Result<ServerStats, String> {
    let mut s = ServerStats::default();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        if fields.next() == Some("th") {
            // Only the thread count and the busy count; older kernels append a histogram of
            // decimal fractions.
            let v = fields
                .take(2)
                .map(parse_go_uint)
                .collect::<Result<Vec<u64>, String>>()?;
            s.threads = exactly(&v, "th")?;
            continue;
        }
        let (key, v) = key_and_numbers(line)?;
        match key {
            "rc" => s.reply_cache = exactly(&v, "rc")?,
            "fh" => s.file_handles = exactly(&v, "fh")?,
            "io" => s.io = exactly(&v, "io")?,
            "ra" => s.read_ahead = exactly(&v, "ra")?,
            "net" => s.network = exactly(&v, "net")?,
            "rpc" => s.rpc = exactly(&v, "rpc")?,
            "proc2" => s.proc2 = procedures(&v, 18, "proc2")?,
            "proc3" => s.proc3 = procedures(&v, 22, "proc3")?,
            "proc4" => {
                procedures::<2>(&v, 2, "proc4")?;
                if v[0] != 2 {
                    return Err(format!("invalid proc4 line: count {}", v[0]));
                }
            }
            "proc4ops" => s.proc4ops = procedures(&v, 39, "proc4ops")?,
            other => return Err(format!("unknown NFSd metric line {other:?}")),
        }
    }
    Ok(s)
}

/// The families for one read of /proc/net/rpc/nfsd.
pub fn server_families(s: &ServerStats) -> Vec<MetricFamily> {
    let single = |counter: bool, name: &'static str, help: &'static str, v: u64| {
        let family = if counter {
            MetricFamily::counter(name, help)
        } else {
            MetricFamily::gauge(name, help)
        };
        family.with(&[], v as f64)
    };
    let mut packets = MetricFamily::counter(
        "node_nfsd_packets_total",
        "Total NFSd network packets (sent+received) by protocol type.",
    );
    packets.push(&[("proto", "udp")], s.network[1] as f64);
    packets.push(&[("proto", "tcp")], s.network[2] as f64);
    let mut errors = MetricFamily::counter(
        "node_nfsd_rpc_errors_total",
        "Total number of NFSd RPC errors by error type.",
    );
    errors.push(&[("error", "fmt")], s.rpc[2] as f64);
    errors.push(&[("error", "auth")], s.rpc[3] as f64);
    errors.push(&[("error", "cInt")], s.rpc[4] as f64);
    let mut requests = MetricFamily::counter(
        "node_nfsd_requests_total",
        "Total number NFSd Requests by method and protocol.",
    );
    // v2 and v3 without NULL, as upstream.
    for (method, value) in PROC2.iter().zip(&s.proc2).skip(1) {
        requests.push(&[("proto", "2"), ("method", method)], *value as f64);
    }
    for (method, value) in PROC3.iter().zip(&s.proc3).skip(1) {
        requests.push(&[("proto", "3"), ("method", method)], *value as f64);
    }
    for (method, position) in PROC4_OPS {
        let value = s.proc4ops[position - 1];
        requests.push(&[("proto", "4"), ("method", method)], value as f64);
    }
    vec![
        single(
            true,
            "node_nfsd_reply_cache_hits_total",
            "Total number of NFSd Reply Cache hits (client lost server response).",
            s.reply_cache[0],
        ),
        single(
            true,
            "node_nfsd_reply_cache_misses_total",
            "Total number of NFSd Reply Cache an operation that requires caching (idempotent).",
            s.reply_cache[1],
        ),
        single(
            true,
            "node_nfsd_reply_cache_nocache_total",
            "Total number of NFSd Reply Cache non-idempotent operations (rename/delete/…).",
            s.reply_cache[2],
        ),
        single(
            true,
            "node_nfsd_file_handles_stale_total",
            "Total number of NFSd stale file handles",
            s.file_handles[0],
        ),
        single(
            true,
            "node_nfsd_disk_bytes_read_total",
            "Total NFSd bytes read.",
            s.io[0],
        ),
        single(
            true,
            "node_nfsd_disk_bytes_written_total",
            "Total NFSd bytes written.",
            s.io[1],
        ),
        single(
            false,
            "node_nfsd_server_threads",
            "Total number of NFSd kernel threads that are running.",
            s.threads[0],
        ),
        single(
            false,
            "node_nfsd_read_ahead_cache_size_blocks",
            "How large the read ahead cache is in blocks.",
            s.read_ahead[0],
        ),
        single(
            true,
            "node_nfsd_read_ahead_cache_not_found_total",
            "Total number of NFSd read ahead cache not found.",
            s.read_ahead[11],
        ),
        packets,
        single(
            true,
            "node_nfsd_connections_total",
            "Total number of NFSd TCP connections.",
            s.network[3],
        ),
        errors,
        single(
            true,
            "node_nfsd_server_rpcs_total",
            "Total number of NFSd RPCs.",
            s.rpc[0],
        ),
        requests,
    ]
}

/// The families of the text of /proc/net/rpc/nfsd.
pub fn server_families_of(text: &str) -> Result<Vec<MetricFamily>, String> {
    Ok(server_families(&parse_server_stats(text)?))
}

gated_proc_file_collector!("nfsd", NfsdCollector, "net/rpc/nfsd", server_families_of);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::numbered;

    const NFSD: &str = "rc 3 6 18622
fh 7 0 0 0 0
io 157286400 72864
th 8 0 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000
ra 32 11 12 13 14 15 16 17 18 19 20 21
net 18628 1 18627 6
rpc 18628 7 1 2 4
proc4 2 2 10853
";

    #[test]
    fn parses_every_line() {
        let text = format!(
            "{NFSD}{}{}{}",
            numbered("proc2", 18),
            numbered("proc3", 22),
            numbered("proc4ops", 72)
        );
        let s = parse_server_stats(&text).unwrap();
        assert_eq!(s.reply_cache, [3, 6, 18622]);
        assert_eq!(s.threads, [8, 0]);
        assert_eq!(s.read_ahead[11], 21);
        assert_eq!(s.rpc, [18628, 7, 1, 2, 4]);
        assert_eq!(s.proc4ops[37], 38);
        let fams = server_families(&s);
        let requests = fams.last().unwrap();
        assert_eq!(requests.samples.len(), 17 + 21 + 33);
        let write = requests
            .samples
            .iter()
            .find(|s| s.labels[0].1 == "4" && s.labels[1].1 == "Write")
            .unwrap();
        assert_eq!(write.value, 37.0);
    }

    #[test]
    fn newer_kernels_short_thread_line_is_read() {
        let s = parse_server_stats("th 8 0\n").unwrap();
        assert_eq!(s.threads, [8, 0]);
        assert_eq!(parse_server_stats("th 8 0 x\n").unwrap().threads, [8, 0]);
    }

    #[test]
    fn what_upstream_refuses_is_an_error() {
        for bad in [
            numbered("proc4ops", 38),
            numbered("proc2", 17),
            "proc4 3 1 2 3\n".to_string(),
            "proc4 1 1\n".to_string(),
            "th 8\n".to_string(),
            "rc 1 2\n".to_string(),
            "ra 1 2 3 4 5 6 7 8 9 10 11\n".to_string(),
            "wdeleg_getattr 4\n".to_string(),
            "\n".to_string(),
        ] {
            assert!(parse_server_stats(&bad).is_err(), "{bad:?}");
        }
    }
}
