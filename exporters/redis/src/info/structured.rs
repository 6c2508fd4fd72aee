//! INFO fields whose value holds several numbers: `slaveN`, `cmdstat_*`,
//! `latency_percentiles_usec_*`, `errorstat_*` and `dbN`, each parsed by a pure function.

/// One replica as its master lists it (`slave0:...`).
#[derive(Debug, PartialEq)]
pub struct ConnectedSlave<'a> {
    /// The replica's IP address.
    pub ip: &'a str,
    /// The replica's port.
    pub port: &'a str,
    /// `online`, `wait_bgsave`, ...
    pub state: &'a str,
    /// Replication offset in bytes.
    pub offset: f64,
    /// Seconds since the replica's last acknowledgement (absent on old servers).
    pub lag: Option<f64>,
}

/// `slave0:ip=10.0.0.2,port=6379,state=online,offset=123,lag=0`
pub fn parse_connected_slave<'a>(key: &str, value: &'a str) -> Option<ConnectedSlave<'a>> {
    let n = key.strip_prefix("slave")?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut s = ConnectedSlave {
        ip: "",
        port: "",
        state: "",
        offset: f64::NAN,
        lag: None,
    };
    for part in value.split(',') {
        let (k, v) = part.split_once('=')?;
        match k {
            "ip" => s.ip = v,
            "port" => s.port = v,
            "state" => s.state = v,
            "offset" => s.offset = v.parse().ok()?,
            "lag" => s.lag = Some(v.parse().ok()?),
            _ => {}
        }
    }
    (!s.offset.is_nan()).then_some(s)
}

/// One command's statistics (`cmdstat_get:...`).
#[derive(Debug, PartialEq)]
pub struct CommandStats {
    /// Calls so far.
    pub calls: f64,
    /// Microseconds spent in them.
    pub usec: f64,
    /// Redis 6.2+: `(rejected_calls, failed_calls)`.
    pub rejected_failed: Option<(f64, f64)>,
}

/// `cmdstat_get:calls=21,usec=175,usec_per_call=8.33[,rejected_calls=0,failed_calls=0]`
pub fn parse_command_stats<'a>(key: &'a str, value: &str) -> Option<(&'a str, CommandStats)> {
    let cmd = key.strip_prefix("cmdstat_")?;
    let mut calls = None;
    let mut usec = None;
    let mut rejected = None;
    let mut failed = None;
    for part in value.split(',') {
        let (k, v) = part.split_once('=')?;
        let v: f64 = v.parse().ok()?;
        match k {
            "calls" => calls = Some(v),
            "usec" => usec = Some(v),
            "rejected_calls" => rejected = Some(v),
            "failed_calls" => failed = Some(v),
            _ => {}
        }
    }
    Some((
        cmd,
        CommandStats {
            calls: calls?,
            usec: usec?,
            rejected_failed: rejected.zip(failed),
        },
    ))
}

/// `latency_percentiles_usec_get:p50=1.003,p99=2.007,p99.9=4.015` -> `("get", [(50, 1.003), ...])`
pub fn parse_latency_stats<'a>(key: &'a str, value: &str) -> Option<(&'a str, Vec<(f64, f64)>)> {
    let cmd = key.strip_prefix("latency_percentiles_usec_")?;
    let mut out = Vec::with_capacity(3);
    for part in value.split(',') {
        let (p, v) = part.split_once('=')?;
        let p: f64 = p.strip_prefix('p')?.parse().ok()?;
        out.push((p, v.parse().ok()?));
    }
    Some((cmd, out))
}

/// `errorstat_ERR:count=4` -> `("ERR", 4)`
pub fn parse_error_stats<'a>(key: &'a str, value: &str) -> Option<(&'a str, f64)> {
    let err = key.strip_prefix("errorstat_")?;
    let count = value.strip_prefix("count=")?.parse().ok()?;
    Some((err, count))
}

/// One database's line of the Keyspace section (`db0:...`).
#[derive(Debug, PartialEq)]
pub struct Keyspace {
    /// Keys in the database.
    pub keys: f64,
    /// Keys with an expiry.
    pub expires: f64,
    /// Average TTL of the expiring keys, in milliseconds.
    pub avg_ttl_ms: Option<f64>,
    /// KeyDB's cached keys.
    pub cached: Option<f64>,
}

/// `db0:keys=1,expires=0,avg_ttl=0[,cached_keys=0]`
pub fn parse_keyspace(key: &str, value: &str) -> Option<Keyspace> {
    let n = key.strip_prefix("db")?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut ks = Keyspace {
        keys: f64::NAN,
        expires: f64::NAN,
        avg_ttl_ms: None,
        cached: None,
    };
    for part in value.split(',') {
        let (k, v) = part.split_once('=')?;
        let v: f64 = v.parse().ok()?;
        match k {
            "keys" => ks.keys = v,
            "expires" => ks.expires = v,
            "avg_ttl" => ks.avg_ttl_ms = Some(v),
            "cached_keys" => ks.cached = Some(v),
            _ => {}
        }
    }
    (!ks.keys.is_nan() && !ks.expires.is_nan()).then_some(ks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_values() {
        assert_eq!(
            parse_connected_slave(
                "slave0",
                "ip=10.0.0.2,port=6380,state=online,offset=42,lag=1"
            ),
            Some(ConnectedSlave {
                ip: "10.0.0.2",
                port: "6380",
                state: "online",
                offset: 42.0,
                lag: Some(1.0)
            })
        );
        assert_eq!(
            parse_command_stats("cmdstat_get", "calls=21,usec=175,usec_per_call=8.33"),
            Some((
                "get",
                CommandStats {
                    calls: 21.0,
                    usec: 175.0,
                    rejected_failed: None
                }
            ))
        );
        assert_eq!(
            parse_latency_stats("latency_percentiles_usec_get", "p50=1.003,p99.9=4.015"),
            Some(("get", vec![(50.0, 1.003), (99.9, 4.015)]))
        );
        assert_eq!(
            parse_error_stats("errorstat_ERR", "count=4"),
            Some(("ERR", 4.0))
        );
        assert_eq!(
            parse_keyspace("db3", "keys=5,expires=1,avg_ttl=2500,cached_keys=0"),
            Some(Keyspace {
                keys: 5.0,
                expires: 1.0,
                avg_ttl_ms: Some(2500.0),
                cached: Some(0.0)
            })
        );
    }

    #[test]
    fn malformed_values_are_none() {
        for bad in ["cmdstat_get:calls", "cmdstat_get:calls=1", "x:y"] {
            let (k, v) = bad.split_once(':').unwrap();
            assert!(parse_command_stats(k, v).is_none(), "{bad}");
        }
        assert!(parse_latency_stats("latency_percentiles_usec_get", "p50").is_none());
        assert!(parse_latency_stats("latency_percentiles_usec_get", "x50=1").is_none());
        assert!(parse_latency_stats("latency_percentiles_usec_get", "p=1").is_none());
        assert!(parse_error_stats("errorstat_ERR", "count=").is_none());
        assert!(parse_connected_slave("slave0", "ip=1,port=2").is_none());
        assert!(parse_connected_slave("slave0", "garbage").is_none());
        assert!(parse_connected_slave("slave_x", "offset=1").is_none());
        assert!(parse_keyspace("db1", "keys=1").is_none());
        assert!(parse_keyspace("dbz", "keys=1,expires=0").is_none());
    }
}
