//! `node_ipvs_*` from /proc/net/ip_vs_stats (totals since the module loaded, hexadecimal) and
//! /proc/net/ip_vs (each virtual service and its real servers), as `ip_vs_ctl.c` prints them:
//!
//! ```text
//! TCP  C0A80016:0CEA wlc
//!   -> C0A85216:0CEA      Tunnel  100    248        2
//! TCP  [2620:0000:0000:0000:0000:0000:0000:0001]:0050 sed
//! FWM  10001000 wlc
//! ```
//!
//! Backends are summed per `--collector.ipvs.backend-labels` label set, as upstream. Without the
//! ip_vs module there is no ip_vs_stats: `node_scrape_collector_success 0`, as upstream.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use clap::Args;
use exporter_core::{CollectError, CollectResult, MetricFamily};

use crate::absent::{gated_collector, GatedFile};
use crate::collector::CollectorFlags;
use crate::kept::KeptFile;
use crate::paths::HostPaths;

/// Every backend label, in upstream's order.
pub const BACKEND_LABELS: [&str; 6] = [
    "local_address",
    "local_port",
    "remote_address",
    "remote_port",
    "proto",
    "local_mark",
];

/// The ipvs collector's own flags.
#[derive(Debug, Args)]
pub struct IpvsFlags {
    /// Comma separated list for IPVS backend stats labels.
    #[arg(
        long = "collector.ipvs.backend-labels",
        id = "collector.ipvs.backend-labels",
        default_value = "local_address,local_port,remote_address,remote_port,proto,local_mark"
    )]
    backend_labels: String,
}

impl CollectorFlags for IpvsFlags {
    /// The backend labels to keep, in upstream's order.
    type Options = Vec<&'static str>;

    fn options(self) -> Result<Vec<&'static str>, String> {
        parse_backend_labels(&self.backend_labels)
            .map_err(|e| format!("--collector.ipvs.backend-labels: {e}"))
    }
}

/// The labels named in a comma-separated list, in upstream's order (whatever the list's order);
/// an unknown name is an error.
pub fn parse_backend_labels(list: &str) -> Result<Vec<&'static str>, String> {
    let named: Vec<&str> = list.split(',').filter(|l| !l.is_empty()).collect();
    let mut unknown: Vec<&str> = named
        .iter()
        .copied()
        .filter(|l| !BACKEND_LABELS.contains(l))
        .collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        unknown.dedup();
        return Err(format!(
            "unknown IPVS backend labels: {:?}",
            unknown.join(", ")
        ));
    }
    Ok(BACKEND_LABELS
        .into_iter()
        .filter(|l| named.contains(l))
        .collect())
}

/// The `ipvs` collector: what it reads and emits is in the module documentation.
pub struct IpvsCollector {
    stats: GatedFile,
    services: KeptFile,
    labels: Vec<&'static str>,
}

impl IpvsCollector {
    /// The collector reading under `paths`.
    pub fn new(paths: &HostPaths, labels: &[&'static str]) -> Self {
        IpvsCollector {
            stats: GatedFile::new(paths.proc_path("net/ip_vs_stats")),
            services: KeptFile::new(paths.proc_path("net/ip_vs")),
            labels: labels.to_vec(),
        }
    }
}

/// The totals of /proc/net/ip_vs_stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpvsStats {
    /// Connections scheduled.
    pub connections: u64,
    /// Packets in.
    pub incoming_packets: u64,
    /// Packets out.
    pub outgoing_packets: u64,
    /// Bytes in.
    pub incoming_bytes: u64,
    /// Bytes out.
    pub outgoing_bytes: u64,
}

/// Parses /proc/net/ip_vs_stats: two header lines, then the five totals in hexadecimal.
pub fn parse_ipvs_stats(text: &str) -> Result<IpvsStats, String> {
    let lines: Vec<&str> = text.splitn(4, '\n').collect();
    if lines.len() != 4 {
        return Err("ip_vs_stats corrupt: too short".into());
    }
    let fields: Vec<&str> = lines[2].split_whitespace().collect();
    let [c, ip, op, ib, ob] = fields[..] else {
        return Err("ip_vs_stats corrupt: unexpected number of fields".into());
    };
    let hex = |s: &str| u64::from_str_radix(s, 16).map_err(|_| format!("invalid hex {s:?}"));
    Ok(IpvsStats {
        connections: hex(c)?,
        incoming_packets: hex(ip)?,
        outgoing_packets: hex(op)?,
        incoming_bytes: hex(ib)?,
        outgoing_bytes: hex(ob)?,
    })
}

/// One real server of one virtual service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// `None` for a firewall-mark service.
    pub local_address: Option<IpAddr>,
    /// The virtual service's port (0 for a firewall-mark service).
    pub local_port: u16,
    /// The firewall mark of an `FWM` service, else empty.
    pub local_mark: String,
    /// `TCP`, `UDP` or `FWM`.
    pub proto: String,
    /// The real server's address.
    pub remote_address: IpAddr,
    /// The real server's port.
    pub remote_port: u16,
    /// The real server's weight.
    pub weight: u64,
    /// Active connections.
    pub active_conn: u64,
    /// Inactive connections.
    pub inact_conn: u64,
}

/// `C0A80016:0CEA` (IPv4, host byte order printed big-endian) or
/// `[2620:0000:0000:0000:0000:0000:0000:0001]:0050` (IPv6); the port is hexadecimal.
pub fn parse_ip_port(s: &str) -> Result<(IpAddr, u16), String> {
    let bad = || format!("unexpected IP:Port {s:?}");
    let ip = match s.len() {
        13 => {
            let hex = s.get(..8).ok_or_else(bad)?;
            let v = u32::from_str_radix(hex, 16).map_err(|_| bad())?;
            if hex.starts_with(['+', '-']) {
                return Err(bad());
            }
            IpAddr::V4(Ipv4Addr::from(v))
        }
        46 => {
            let inner = s.get(1..40).ok_or_else(bad)?;
            IpAddr::V6(inner.parse::<Ipv6Addr>().map_err(|_| bad())?)
        }
        _ => return Err(bad()),
    };
    let port = s.get(s.len() - 4..).ok_or_else(bad)?;
    if port.starts_with(['+', '-']) {
        return Err(bad());
    }
    let port = u16::from_str_radix(port, 16).map_err(|_| bad())?;
    Ok((ip, port))
}

/// An address as Go's `net.IP.String` writes it: an IPv4-mapped IPv6 address in dotted form.
pub fn format_ip(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// Parses /proc/net/ip_vs into its backends.
pub fn parse_ipvs_backends(text: &str) -> Result<Vec<Backend>, String> {
    let mut backends = Vec::new();
    let mut proto = String::new();
    let mut local_mark = String::new();
    let mut local_address: Option<IpAddr> = None;
    let mut local_port = 0u16;
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields[..] {
            [] => {}
            ["IP", ..] | ["Prot", ..] | [_, "RemoteAddress:Port", ..] => {}
            [p @ ("TCP" | "UDP"), addr, ..] => {
                let (ip, port) = parse_ip_port(addr)?;
                proto = p.to_string();
                local_mark.clear();
                local_address = Some(ip);
                local_port = port;
            }
            ["FWM", mark, ..] => {
                proto = "FWM".to_string();
                local_mark = mark.to_string();
                local_address = None;
                local_port = 0;
            }
            ["->", addr, _, weight, active, inactive, ..] => {
                let (remote_address, remote_port) = parse_ip_port(addr)?;
                // Go's ParseUint: decimal digits, no sign.
                let num = |s: &str| match s.starts_with('+') {
                    true => Err(format!("invalid number {s:?}")),
                    false => s
                        .parse::<u64>()
                        .map_err(|_| format!("invalid number {s:?}")),
                };
                backends.push(Backend {
                    local_address,
                    local_port,
                    local_mark: local_mark.clone(),
                    proto: proto.clone(),
                    remote_address,
                    remote_port,
                    weight: num(weight)?,
                    active_conn: num(active)?,
                    inact_conn: num(inactive)?,
                });
            }
            _ => {}
        }
    }
    Ok(backends)
}

fn label_value(backend: &Backend, label: &str) -> String {
    match label {
        "local_address" => backend
            .local_address
            .as_ref()
            .map(format_ip)
            .unwrap_or_default(),
        "local_port" => backend.local_port.to_string(),
        "remote_address" => format_ip(&backend.remote_address),
        "remote_port" => backend.remote_port.to_string(),
        "proto" => backend.proto.clone(),
        "local_mark" => backend.local_mark.clone(),
        _ => String::new(),
    }
}

/// The families for the totals and the backends summed per label set of `labels`.
pub fn ipvs_families(
    stats: &IpvsStats,
    backends: &[Backend],
    labels: &[&'static str],
) -> Vec<MetricFamily> {
    let total = |name: &'static str, help: &'static str, v: u64| {
        MetricFamily::counter(name, help).with(&[], v as f64)
    };
    let mut families = vec![
        total(
            "node_ipvs_connections_total",
            "The total number of connections made.",
            stats.connections,
        ),
        total(
            "node_ipvs_incoming_packets_total",
            "The total number of incoming packets.",
            stats.incoming_packets,
        ),
        total(
            "node_ipvs_outgoing_packets_total",
            "The total number of outgoing packets.",
            stats.outgoing_packets,
        ),
        total(
            "node_ipvs_incoming_bytes_total",
            "The total amount of incoming data.",
            stats.incoming_bytes,
        ),
        total(
            "node_ipvs_outgoing_bytes_total",
            "The total amount of outgoing data.",
            stats.outgoing_bytes,
        ),
    ];
    // Sum the backends that share a label set, in the order their sets first appear.
    let mut order: Vec<Vec<String>> = Vec::new();
    let mut sums: HashMap<Vec<String>, [u64; 3]> = HashMap::new();
    for b in backends {
        let key: Vec<String> = labels.iter().map(|l| label_value(b, l)).collect();
        let sum = sums.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            [0; 3]
        });
        sum[0] = sum[0].wrapping_add(b.active_conn);
        sum[1] = sum[1].wrapping_add(b.inact_conn);
        sum[2] = sum[2].wrapping_add(b.weight);
    }
    let mut active = MetricFamily::gauge(
        "node_ipvs_backend_connections_active",
        "The current active connections by local and remote address.",
    );
    let mut inactive = MetricFamily::gauge(
        "node_ipvs_backend_connections_inactive",
        "The current inactive connections by local and remote address.",
    );
    let mut weight = MetricFamily::gauge(
        "node_ipvs_backend_weight",
        "The current backend weight by local and remote address.",
    );
    for key in &order {
        let pairs: Vec<(&'static str, &str)> = labels
            .iter()
            .copied()
            .zip(key.iter().map(String::as_str))
            .collect();
        let sum = sums[key];
        active.push(&pairs, sum[0] as f64);
        inactive.push(&pairs, sum[1] as f64);
        weight.push(&pairs, sum[2] as f64);
    }
    families.extend([active, inactive, weight]);
    families
}

gated_collector!(IpvsCollector, "ipvs", stats);

impl IpvsCollector {
    fn collect_present(&self) -> CollectResult {
        let stats = self.stats.parse_with(parse_ipvs_stats)?;
        // ip_vs_stats exists, so the module is loaded: a missing ip_vs is an error.
        let backends = self
            .services
            .parse_with(parse_ipvs_backends)
            .map_err(|e| match e {
                CollectError::NotAvailable(what) => CollectError::Other(format!("missing {what}")),
                other => other,
            })?;
        Ok(ipvs_families(&stats, &backends, &self.labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_rejects, not_available_then_fresh, procfs_at, write};
    use exporter_core::BlockingCollector;

    const STATS: &str = "   Total Incoming Outgoing         Incoming         Outgoing
   Conns  Packets  Packets            Bytes            Bytes
 16AA370 E33656E5        0     51D8C8883AB3                0

 Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s
       4    1FB3C        0          1282A8F                0
";

    const SERVICES: &str = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  C0A80016:0CEA wlc
  -> C0A85216:0CEA      Tunnel  100    248        2
  -> C0A85318:0CEA      Tunnel  100    248        2
UDP  [2620:0000:0000:0000:0000:0000:0000:0001]:0035 rr
  -> [0000:0000:0000:0000:0000:ffff:c0a8:0102]:0035      Masq    1      0          3
FWM  10001000 wlc
  -> C0A8321A:0CEA      Route   0      0          1
";

    #[test]
    fn parses_totals() {
        assert_eq!(
            parse_ipvs_stats(STATS).unwrap(),
            IpvsStats {
                connections: 0x16AA370,
                incoming_packets: 0xE33656E5,
                outgoing_packets: 0,
                incoming_bytes: 0x51D8C8883AB3,
                outgoing_bytes: 0,
            }
        );
        assert_rejects(
            parse_ipvs_stats,
            &["a\nb\n", "a\nb\n1 2 3\n\n", "a\nb\n1 2 3 4 G\n\n"],
        );
    }

    #[test]
    fn parses_addresses_like_go() {
        let (ip, port) = parse_ip_port("C0A80016:0CEA").unwrap();
        assert_eq!((format_ip(&ip).as_str(), port), ("192.168.0.22", 3306));
        let (ip, port) = parse_ip_port("[2620:0000:0000:0000:0000:0000:0000:0001]:0050").unwrap();
        assert_eq!((format_ip(&ip).as_str(), port), ("2620::1", 80));
        let (ip, _) = parse_ip_port("[0000:0000:0000:0000:0000:ffff:c0a8:0102]:0050").unwrap();
        assert_eq!(format_ip(&ip), "192.168.1.2");
        for bad in [
            "",
            "C0A80016",
            "C0A8001G:0CEA",
            "C0A80016:0CEX",
            "[::1]:0050",
            "+0A80016:0CEA",
        ] {
            assert!(parse_ip_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_services_and_backends() {
        let backends = parse_ipvs_backends(SERVICES).unwrap();
        assert_eq!(backends.len(), 4);
        assert_eq!(backends[2].proto, "UDP");
        assert_eq!(format_ip(&backends[2].remote_address), "192.168.1.2");
        assert_eq!(backends[3].local_address, None);
        assert_eq!(backends[3].local_mark, "10001000");
        assert_eq!(backends[3].inact_conn, 1);
        assert!(parse_ipvs_backends("TCP  C0A80016 wlc\n").is_err());
        assert!(
            parse_ipvs_backends("TCP  C0A80016:0CEA wlc\n  -> C0A85216:0CEA Tunnel x 1 2\n")
                .is_err()
        );
    }

    #[test]
    fn backend_labels_follow_upstreams_order_and_sum() {
        assert_eq!(
            parse_backend_labels("proto,local_address").unwrap(),
            ["local_address", "proto"]
        );
        assert!(parse_backend_labels("proto,nope")
            .unwrap_err()
            .contains("nope"));
        assert!(parse_backend_labels("").unwrap().is_empty());
        let stats = parse_ipvs_stats(STATS).unwrap();
        let backends = parse_ipvs_backends(SERVICES).unwrap();
        let fams = ipvs_families(&stats, &backends, &["proto"]);
        let active = &fams[5];
        assert_eq!(active.samples.len(), 3);
        assert_eq!(active.samples[0].value, 496.0);
        let all = ipvs_families(&stats, &backends, &BACKEND_LABELS);
        assert_eq!(all[7].samples.len(), 4);
        assert_eq!(all[0].samples[0].value, 23765872.0);
    }

    #[test]
    fn without_the_module_it_is_not_available() {
        let dir = tempfile::tempdir().unwrap();
        let paths = procfs_at(dir.path());
        let c = not_available_then_fresh(|| IpvsCollector::new(&paths, &BACKEND_LABELS));
        std::fs::create_dir_all(dir.path().join("net")).unwrap();
        write(&dir.path().join("net/ip_vs_stats"), STATS);
        assert!(matches!(c.collect(), Err(CollectError::Other(_))));
        write(&dir.path().join("net/ip_vs"), SERVICES);
        assert_eq!(c.collect().unwrap().len(), 8);
    }
}
