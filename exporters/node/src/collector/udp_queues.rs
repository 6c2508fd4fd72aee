//! `node_udp_queues{ip,queue}`: total bytes queued on UDP sockets, from /proc/net/udp and
//! /proc/net/udp6.

use exporter_core::{CollectError, CollectResult, MetricFamily};

use crate::kept::proc_files_collector;

/// `sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid ...`: lines
/// shorter than this are truncated.
const MIN_COLUMNS: usize = 8;

/// Lines of udp6 are ~170 bytes (udp pads its lines to 128): see [`crate::kept::KeptFile::read_seq_file`].
const MAX_LINE: usize = 512;

proc_files_collector!(
    "udp_queues",
    UdpQueuesCollector {
        v4: "net/udp",
        v6: "net/udp6",
    }
);

/// Sums the hex `tx_queue:rx_queue` column over all sockets, skipping the header line.
/// Returns `(tx, rx)`.
pub fn parse_udp_queues(text: &str) -> Result<(u64, u64), CollectError> {
    let (mut tx, mut rx) = (0u64, 0u64);
    for line in text.lines().skip(1) {
        let mut f = line.split_whitespace();
        let queues = f.nth(4);
        let Some(queues) = queues else {
            if line.trim().is_empty() {
                continue;
            }
            return Err(CollectError::Parse(format!("udp: truncated line {line:?}")));
        };
        if 5 + f.count() < MIN_COLUMNS {
            return Err(CollectError::Parse(format!("udp: truncated line {line:?}")));
        }
        let parsed = queues.split_once(':').and_then(|(t, r)| {
            Some((
                u64::from_str_radix(t, 16).ok()?,
                u64::from_str_radix(r, 16).ok()?,
            ))
        });
        let (t, r) =
            parsed.ok_or_else(|| CollectError::Parse(format!("udp: invalid queues {queues:?}")))?;
        tx = tx.saturating_add(t);
        rx = rx.saturating_add(r);
    }
    Ok((tx, rx))
}

impl UdpQueuesCollector {
    /// One scrape.
    fn scrape(&self) -> CollectResult {
        let mut fam = MetricFamily::gauge(
            "node_udp_queues",
            "Number of allocated memory in the kernel for UDP datagrams in bytes.",
        );
        let (tx, rx) = parse_udp_queues(&self.v4.read_seq_file(MAX_LINE)?)?;
        fam.push(&[("ip", "v4"), ("queue", "tx")], tx as f64);
        fam.push(&[("ip", "v4"), ("queue", "rx")], rx as f64);
        // udp6 is absent when IPv6 is disabled; the IPv4 totals still stand.
        match self.v6.read_seq_file(MAX_LINE) {
            Ok(text) => {
                let (tx, rx) = parse_udp_queues(&text)?;
                fam.push(&[("ip", "v6"), ("queue", "tx")], tx as f64);
                fam.push(&[("ip", "v6"), ("queue", "rx")], rx as f64);
            }
            Err(CollectError::NotAvailable(what)) => {
                tracing::debug!(%what, "not collecting IPv6 UDP queues");
            }
            Err(e) => return Err(e),
        }
        Ok(vec![fam])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_not_available, assert_rejects, procfs_at, write};
    use exporter_core::BlockingCollector;

    const V4: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  221: 00000000:0044 00000000:0000 07 00000000:00000000 00 00000000:00000000 00000000     0        0 19447 2 0000000000000000 0
  476: 3500007F:0035 00000000:0000 07 00000010:00000200 00 00000000:00000000 00000000   101        0 17390 2 0000000000000000 0
  900: 0100007F:0143 00000000:0000 07 00000001:00000002 00 00000000:00000000 00000000     0        0 20001 2 0000000000000000 0
";
    const V6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  326: 00000000000000000000000000000000:0222 00000000000000000000000000000000:0000 07 00000000:00000100 00 00000000:00000000 00000000     0        0 20155 2 0000000000000000 0
";

    #[test]
    fn sums_hex_queues() {
        assert_eq!(parse_udp_queues(V4).unwrap(), (0x11, 0x202));
        assert_eq!(parse_udp_queues(V6).unwrap(), (0, 0x100));
        assert_eq!(
            parse_udp_queues(V4.lines().next().unwrap()).unwrap(),
            (0, 0)
        );
        assert_eq!(parse_udp_queues("").unwrap(), (0, 0));
    }

    #[test]
    fn truncated_or_garbage_is_an_error() {
        assert_rejects(
            parse_udp_queues,
            &[
                "hdr\n  221: 00000000:0044 00000000:0000 07\n",
                "hdr\n  221: a b 07 00000000:0000 00\n",
                "hdr\n 1: a b 07 0000zz00:0 00 0 0 0\n",
                "hdr\n 1: a b 07 00000000 00 0 0 0\n",
            ],
        );
    }

    fn proc_tree(v6: bool) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("net")).unwrap();
        write(&dir.path().join("net/udp"), V4);
        if v6 {
            write(&dir.path().join("net/udp6"), V6);
        }
        dir
    }

    fn collect(dir: &std::path::Path) -> CollectResult {
        let cfg = procfs_at(dir);
        UdpQueuesCollector::new(&cfg).collect()
    }

    #[test]
    fn collects_both_families() {
        let dir = proc_tree(true);
        let fams = collect(dir.path()).unwrap();
        let s = &fams[0].samples;
        assert_eq!(s.len(), 4);
        assert_eq!(s[1].labels[0].1, "v4");
        assert_eq!(s[1].labels[1].1, "rx");
        assert_eq!(s[1].value, 514.0);
        assert_eq!(s[3].value, 256.0);
    }

    #[test]
    fn without_ipv6_reports_ipv4_only() {
        let dir = proc_tree(false);
        assert_eq!(collect(dir.path()).unwrap()[0].samples.len(), 2);
    }

    #[test]
    fn without_udp_is_not_available() {
        let dir = tempfile::tempdir().unwrap();
        assert_not_available(collect(dir.path()));
    }
}
