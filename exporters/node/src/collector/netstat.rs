//! `node_netstat_<Proto>_<Field>` (untyped) from /proc/net/netstat, /proc/net/snmp and
//! /proc/net/snmp6, limited to the fields matching `--collector.netstat.fields`.

use std::collections::HashSet;

use exporter_core::{interned, BlockingCollector, CollectError, CollectResult, MetricFamily};
use regex::Regex;

use crate::kept::KeptFile;
use crate::paths::HostPaths;
use crate::util::{regex_flag, FieldFilter};

/// The fields upstream returns by default.
pub const DEFAULT_FIELDS: &str = concat!(
    "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)",
    "|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)",
    "|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)",
    "|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$"
);

regex_flag! {
    /// Regexp of fields to return for netstat collector.
    NetstatFlags { fields: "collector.netstat.fields" = DEFAULT_FIELDS }
}

/// The `netstat` collector: what it reads and emits is in the module documentation.
pub struct NetstatCollector {
    netstat: KeptFile,
    snmp: KeptFile,
    snmp6: KeptFile,
    fields: FieldFilter,
}

impl NetstatCollector {
    /// The collector reading under `cfg`, with its own options.
    pub fn new(cfg: &HostPaths, fields: &Regex) -> Self {
        NetstatCollector {
            netstat: KeptFile::new(cfg.proc_path("net/netstat")),
            snmp: KeptFile::new(cfg.proc_path("net/snmp")),
            snmp6: KeptFile::new(cfg.proc_path("net/snmp6")),
            fields: FieldFilter::new(fields.clone()),
        }
    }
}

/// One statistic: protocol, field name, raw value.
pub type Stat<'a> = (&'a str, &'a str, &'a str);

/// Parses /proc/net/netstat and /proc/net/snmp: pairs of lines, a header `Tcp: RtoAlgorithm ...`
/// followed by its values `Tcp: 1 ...`.
pub fn parse_pairs(text: &str) -> Result<Vec<Stat<'_>>, CollectError> {
    let mut out = Vec::new();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    while let Some(header) = lines.next() {
        let values = lines
            .next()
            .ok_or_else(|| CollectError::Parse(format!("netstat: no values for {header:?}")))?;
        let mut names = header.split_whitespace();
        let mut vals = values.split_whitespace();
        let proto = names
            .next()
            .and_then(|p| p.strip_suffix(':'))
            .filter(|p| !p.is_empty())
            .ok_or_else(|| CollectError::Parse(format!("netstat: bad header {header:?}")))?;
        if vals.next().and_then(|p| p.strip_suffix(':')) != Some(proto) {
            return Err(CollectError::Parse(format!(
                "netstat: values line does not follow the {proto} header"
            )));
        }
        loop {
            match (names.next(), vals.next()) {
                (Some(n), Some(v)) => out.push((proto, n, v)),
                (None, None) => break,
                _ => {
                    return Err(CollectError::Parse(format!(
                        "netstat: field count mismatch for {proto}"
                    )))
                }
            }
        }
    }
    Ok(out)
}

/// Parses /proc/net/snmp6 (`Ip6InReceives   1`): the protocol is the name up to and including
/// its first '6' (`Ip6`, `Icmp6`, `UdpLite6`); lines without one are skipped, like upstream.
pub fn parse_snmp6(text: &str) -> Vec<Stat<'_>> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let key = f.next()?;
            let value = f.next()?;
            let six = key.find('6')?;
            let (proto, name) = key.split_at(six + 1);
            Some((proto, name, value))
        })
        .collect()
}

/// Whether `Proto_Field` can follow `node_netstat_` in a metric name. The kernel only uses
/// letters and digits, but a corrupt header must not corrupt the exposition.
fn is_name_part(key: &str) -> bool {
    key.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

impl NetstatCollector {
    fn families(&self, stats: &[Stat<'_>]) -> Vec<MetricFamily> {
        let mut key = String::with_capacity(64);
        let mut out = Vec::new();
        let mut fields = self.fields.matcher();
        for &(proto, name, value) in stats {
            key.clear();
            key.push_str(proto);
            key.push('_');
            key.push_str(name);
            if !fields.is_match(&key) {
                continue;
            }
            if !is_name_part(&key) {
                tracing::debug!(field = %key, "netstat: field name not usable in a metric name, skipped");
                continue;
            }
            let Ok(v) = value.parse::<f64>() else {
                tracing::debug!(field = %key, value, "netstat: unparsable value skipped");
                continue;
            };
            out.push(
                MetricFamily::untyped(
                    interned!("node_netstat_{key}"),
                    interned!("Statistic {proto}{name}."),
                )
                .with(&[], v),
            );
        }
        // Should a protocol appear twice, the later file wins, as in upstream's merge; a
        // duplicate family would otherwise expose two unlabeled samples under one name.
        let mut seen = HashSet::with_capacity(out.len());
        let mut deduped: Vec<MetricFamily> = out
            .into_iter()
            .rev()
            .filter(|f| seen.insert(f.name.clone()))
            .collect();
        deduped.reverse();
        deduped
    }
}

impl BlockingCollector for NetstatCollector {
    fn name(&self) -> &'static str {
        "netstat"
    }

    fn collect(&self) -> CollectResult {
        let netstat = self.netstat.read()?;
        let snmp = self.snmp.read()?;
        // Absent when IPv6 is disabled.
        let snmp6 = match self.snmp6.read() {
            Ok(t) => t,
            Err(CollectError::NotAvailable(_)) => String::new(),
            Err(e) => return Err(e),
        };
        let mut stats = parse_pairs(&netstat)?;
        stats.extend(parse_pairs(&snmp)?);
        stats.extend(parse_snmp6(&snmp6));
        Ok(self.families(&stats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        assert_not_available, assert_rejects, family, family_names, procfs_at, write,
    };

    const NETSTAT: &str = "\
TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed ListenOverflows ListenDrops TCPTimeouts TCPSynRetrans PruneCalled
TcpExt: 0 0 0 3 4 17 5 0
IpExt: InNoRoutes InOctets OutOctets
IpExt: 0 115678237 206497
";

    const SNMP: &str = "\
Ip: Forwarding DefaultTTL InReceives InHdrErrors
Ip: 2 64 4371 0
Icmp: InMsgs InErrors OutMsgs
Icmp: 1 0 2
Tcp: RtoAlgorithm MaxConn ActiveOpens CurrEstab InErrs
Tcp: 1 -1 41 2 0
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors
Udp: 10 1 0 12 0 0
UdpLite: InDatagrams InErrors
UdpLite: 0 0
";

    const SNMP6: &str = "\
Ip6InReceives                   \t1
Ip6InOctets                     \t72
Ip6OutOctets                    \t0
Icmp6InMsgs                     \t0
Icmp6InErrors                   \t0
Icmp6InType133                  \t0
Udp6InDatagrams                 \t0
UdpLite6InErrors                \t0
NoSixHere                       \t5
Ip6Truncated
";

    fn collector() -> NetstatCollector {
        NetstatCollector::new(&HostPaths::default(), &Regex::new(DEFAULT_FIELDS).unwrap())
    }

    #[test]
    fn parses_header_value_pairs() {
        let stats = parse_pairs(SNMP).unwrap();
        assert!(stats.contains(&("Ip", "Forwarding", "2")));
        assert!(stats.contains(&("Tcp", "MaxConn", "-1")));
        assert_eq!(stats.len(), 4 + 3 + 5 + 6 + 2);
    }

    #[test]
    fn snmp6_splits_protocol_at_first_six() {
        let stats = parse_snmp6(SNMP6);
        assert!(stats.contains(&("Ip6", "InOctets", "72")));
        assert!(stats.contains(&("Icmp6", "InType133", "0")));
        assert!(stats.contains(&("UdpLite6", "InErrors", "0")));
        assert!(!stats.iter().any(|s| s.1.contains("SixHere")));
        assert_eq!(stats.len(), 8);
    }

    #[test]
    fn default_fields_select_upstream_families() {
        let mut stats = parse_pairs(NETSTAT).unwrap();
        stats.extend(parse_pairs(SNMP).unwrap());
        stats.extend(parse_snmp6(SNMP6));
        let fams = collector().families(&stats);
        let names = family_names(&fams);
        for want in [
            "node_netstat_TcpExt_ListenOverflows",
            "node_netstat_TcpExt_SyncookiesSent",
            "node_netstat_TcpExt_TCPTimeouts",
            "node_netstat_IpExt_InOctets",
            "node_netstat_Ip_Forwarding",
            "node_netstat_Icmp_InErrors",
            "node_netstat_Tcp_CurrEstab",
            "node_netstat_Tcp_InErrs",
            "node_netstat_Udp_RcvbufErrors",
            "node_netstat_UdpLite_InErrors",
            "node_netstat_Ip6_InOctets",
            "node_netstat_Icmp6_InMsgs",
            "node_netstat_Udp6_InDatagrams",
            "node_netstat_UdpLite6_InErrors",
        ] {
            assert!(names.contains(&want), "missing {want}");
        }
        for unwanted in [
            "node_netstat_TcpExt_PruneCalled",
            "node_netstat_Tcp_MaxConn",
            "node_netstat_Ip6_InReceives",
            "node_netstat_UdpLite_InDatagrams",
        ] {
            assert!(!names.contains(&unwanted), "unexpected {unwanted}");
        }
        let fwd = family(&fams, "node_netstat_Ip_Forwarding");
        assert_eq!(fwd.help, "Statistic IpForwarding.");
        assert_eq!(fwd.kind, exporter_core::MetricType::Untyped);
        assert_eq!(fwd.samples[0].value, 2.0);
        assert!(DEFAULT_FIELDS.contains("TCPTimeouts"));
    }

    #[test]
    fn duplicate_protocol_keeps_the_later_value() {
        let stats = [("Ip", "Forwarding", "1"), ("Ip", "Forwarding", "2")];
        let fams = collector().families(&stats);
        assert_eq!(fams.len(), 1);
        assert_eq!(fams[0].samples[0].value, 2.0);
    }

    #[test]
    fn field_names_that_cannot_be_metric_names_are_skipped() {
        // Found by tests/fuzz.rs: a corrupt snmp header gave `node_netstat_Udp_0.0`.
        let c = NetstatCollector::new(&HostPaths::default(), &Regex::new(".*").unwrap());
        let stats = [
            ("Udp", "0.0", "1"),
            ("T{cp", "InErrs", "2"),
            ("Udp", "InErrors", "3"),
        ];
        let names: Vec<_> = c.families(&stats).into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["node_netstat_Udp_InErrors"]);
    }

    #[test]
    fn unparsable_value_is_skipped() {
        let stats = [("Ip", "Forwarding", "x"), ("Tcp", "InErrs", "3")];
        let fams = collector().families(&stats);
        assert_eq!(fams.len(), 1);
        assert_eq!(fams[0].name, "node_netstat_Tcp_InErrs");
    }

    #[test]
    fn truncated_or_garbage_is_an_error() {
        assert_rejects(
            parse_pairs,
            &[
                "Ip: Forwarding DefaultTTL\n",
                "Ip: Forwarding DefaultTTL\nIp: 1\n",
                "Ip: Forwarding\nTcp: 1\n",
                "garbage\n1 2\n",
            ],
        );
        // Found by tests/fuzz.rs: a header without a protocol name (`: Tcp: ...`) was taken
        // for protocol "".
        assert!(parse_pairs(": TcpExt: Syncookies\n: TcpExt: Syncookies\n").is_err());
        assert!(parse_pairs("").unwrap().is_empty());
        assert!(parse_snmp6("").is_empty());
        assert!(parse_snmp6("\u{0}\u{1}\n6\n").is_empty());
    }

    #[test]
    fn missing_snmp6_is_tolerated_but_missing_netstat_is_not_available() {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("net");
        std::fs::create_dir_all(&net).unwrap();
        write(&net.join("snmp"), SNMP);
        let cfg = procfs_at(dir.path());
        assert_not_available(
            NetstatCollector::new(&cfg, &Regex::new(DEFAULT_FIELDS).unwrap()).collect(),
        );
        write(&net.join("netstat"), NETSTAT);
        let fams = NetstatCollector::new(&cfg, &Regex::new(DEFAULT_FIELDS).unwrap())
            .collect()
            .unwrap();
        assert!(fams.iter().any(|f| f.name == "node_netstat_Ip_Forwarding"));
        assert!(!fams.iter().any(|f| f.name.starts_with("node_netstat_Ip6")));
    }
}
