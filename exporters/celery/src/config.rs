//! Start-up configuration: the broker URL, kombu transport options, durations and bucket lists.
//! All pure; every error names the flag or key at fault and never echoes a password.

use std::path::PathBuf;
use std::time::Duration;

use crate::resp::glob_escape;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn err(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

/// Certificate checking of `rediss://`, from the URL's `ssl_cert_reqs` (redis-py's names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertReqs {
    Required,
    /// `CERT_NONE`: any server certificate is accepted (the handshake is still verified).
    None,
}

/// TLS settings of a `rediss://` URL (`ssl_cert_reqs`, `ssl_ca_certs`, `ssl_certfile`,
/// `ssl_keyfile` query parameters, as Celery and redis-py spell them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    pub cert_reqs: CertReqs,
    pub ca_certs: Option<PathBuf>,
    pub certfile: Option<PathBuf>,
    pub keyfile: Option<PathBuf>,
}

/// Where the broker is and how to log in.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub host: String,
    pub port: u16,
    pub db: u32,
    pub username: Option<String>,
    pub password: Option<String>,
    pub tls: Option<TlsOptions>,
}

impl std::fmt::Debug for BrokerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl BrokerUrl {
    /// The URL without credentials, for logs and messages.
    pub fn redacted(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let user = match (&self.username, &self.password) {
            (Some(u), _) => format!("{u}:<secret>@"),
            (None, Some(_)) => ":<secret>@".to_string(),
            _ => String::new(),
        };
        format!("{scheme}://{user}{host}:{}/{}", self.port, self.db)
    }

    /// `redis://[[user]:password@]host[:port][/db][?ssl_...]` and `rediss://...`.
    pub fn parse(url: &str) -> Result<BrokerUrl, ConfigError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| err("--broker-url: expected redis://host:port/db or rediss://..."))?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "redis" => false,
            "rediss" => true,
            other => {
                return Err(err(format!(
                    "--broker-url: unsupported scheme {other:?} (this exporter reads Celery's Redis broker: redis:// or rediss://)"
                )))
            }
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(ui) => {
                let (u, p) = match ui.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (ui, None),
                };
                let u = percent_decode(u);
                let p = p.map(percent_decode).filter(|p| !p.is_empty());
                match (u.is_empty(), p) {
                    // redis://secret@host: redis-py takes a lone userinfo as the password.
                    (false, None) => (None, Some(u)),
                    (true, p) => (None, p),
                    (false, p) => (Some(u), p),
                }
            }
        };
        let (host, port) = split_host_port(hostport)?;
        let path = path.trim_end_matches('/');
        let db = if path.is_empty() {
            0
        } else {
            path.parse::<u32>().map_err(|_| {
                err(format!(
                    "--broker-url: the path must be a database number, not {path:?}"
                ))
            })?
        };
        let mut tls_options = TlsOptions {
            cert_reqs: CertReqs::Required,
            ca_certs: None,
            certfile: None,
            keyfile: None,
        };
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v);
            match k {
                "ssl_cert_reqs" => {
                    tls_options.cert_reqs = match v.to_ascii_lowercase().as_str() {
                        "cert_none" | "none" => CertReqs::None,
                        "cert_required" | "required" | "cert_optional" | "optional" => {
                            CertReqs::Required
                        }
                        _ => {
                            return Err(err(format!(
                                "--broker-url: ssl_cert_reqs must be required or none, not {v:?}"
                            )))
                        }
                    }
                }
                "ssl_ca_certs" => tls_options.ca_certs = Some(PathBuf::from(v)),
                "ssl_certfile" => tls_options.certfile = Some(PathBuf::from(v)),
                "ssl_keyfile" => tls_options.keyfile = Some(PathBuf::from(v)),
                // Options kombu reads from the URL that do not concern a reader of events.
                "virtual_host" | "socket_timeout" | "socket_connect_timeout" | "health_check_interval" => {}
                other => {
                    return Err(err(format!(
                        "--broker-url: unknown query parameter {other:?} (known: ssl_cert_reqs, ssl_ca_certs, ssl_certfile, ssl_keyfile)"
                    )))
                }
            }
        }
        if !tls && query.is_some_and(|q| q.contains("ssl_")) {
            return Err(err("--broker-url: ssl_* parameters need a rediss:// URL"));
        }
        Ok(BrokerUrl {
            host,
            port,
            db,
            username,
            password,
            tls: tls.then_some(tls_options),
        })
    }
}

fn split_host_port(hostport: &str) -> Result<(String, u16), ConfigError> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| err("--broker-url: unclosed [ in the host"))?;
        (h, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let host = if host.is_empty() { "localhost" } else { host };
    let port = match port {
        None | Some("") => 6379,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| err(format!("--broker-url: invalid port {p:?}")))?,
    };
    Ok((host.to_string(), port))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// kombu's Redis transport options that decide key and channel names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportOptions {
    pub global_keyprefix: String,
    /// `None`: `fanout_prefix=false`; otherwise the prefix, `{db}` not yet substituted.
    pub fanout_prefix: Option<String>,
    pub fanout_patterns: bool,
    pub sep: String,
    pub priority_steps: Vec<u32>,
    pub unacked_key: String,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            global_keyprefix: String::new(),
            fanout_prefix: Some("/{db}.".into()),
            fanout_patterns: true,
            sep: "\x06\x16".into(),
            priority_steps: vec![0, 3, 6, 9],
            unacked_key: "unacked".into(),
        }
    }
}

const FLAG: &str = "--broker-transport-option";

fn parse_bool(key: &str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(err(format!(
            "{FLAG} {key}: expected true or false, not {v:?}"
        ))),
    }
}

/// Decodes `\xNN` escapes so `sep=\x06\x16` can be typed on a command line.
fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut rest = v;
    while let Some(i) = rest.find("\\x") {
        out.push_str(&rest[..i]);
        let hex = rest.get(i + 2..i + 4);
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(b) => {
                out.push(b as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push_str("\\x");
                rest = &rest[i + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

impl TransportOptions {
    /// Applies `key=value` pairs, as given to `--broker-transport-option`.
    pub fn parse<S: AsRef<str>>(pairs: &[S]) -> Result<TransportOptions, ConfigError> {
        let mut o = TransportOptions::default();
        for pair in pairs {
            let pair = pair.as_ref();
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| err(format!("{FLAG} {pair:?}: expected key=value")))?;
            let (k, v) = (k.trim(), v.trim());
            match k {
                "global_keyprefix" => o.global_keyprefix = unescape(v),
                "fanout_prefix" => {
                    o.fanout_prefix = match parse_bool(k, v) {
                        Ok(true) => Some("/{db}.".into()),
                        Ok(false) => None,
                        // kombu: a string replaces the default prefix.
                        Err(_) => Some(unescape(v)),
                    }
                }
                "fanout_patterns" => o.fanout_patterns = parse_bool(k, v)?,
                "sep" => {
                    if v.is_empty() {
                        return Err(err(format!("{FLAG} sep: must not be empty")));
                    }
                    o.sep = unescape(v)
                }
                "priority_steps" => {
                    let steps: Result<Vec<u32>, _> = v
                        .trim_matches(|c| c == '[' || c == ']' || c == '(' || c == ')')
                        .split([',', ' '])
                        .filter(|s| !s.is_empty())
                        .map(str::parse::<u32>)
                        .collect();
                    match steps {
                        Ok(s) if !s.is_empty() && s.len() <= 256 => o.priority_steps = s,
                        _ => {
                            return Err(err(format!(
                                "{FLAG} priority_steps: expected a list of integers like 0,3,6,9, not {v:?}"
                            )))
                        }
                    }
                }
                "unacked_key" => o.unacked_key = unescape(v),
                other => {
                    return Err(err(format!(
                        "{FLAG}: unknown key {other:?} (known: global_keyprefix, fanout_prefix, fanout_patterns, sep, priority_steps, unacked_key)"
                    )))
                }
            }
        }
        Ok(o)
    }
}

/// Key and channel names on one broker database, as kombu forms them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
    fanout: String,
    fanout_patterns: bool,
    sep: String,
    priority_steps: Vec<u32>,
    unacked: String,
}

impl Keys {
    pub fn new(o: &TransportOptions, db: u32) -> Keys {
        Keys {
            prefix: o.global_keyprefix.clone(),
            fanout: o
                .fanout_prefix
                .as_deref()
                .map(|f| f.replace("{db}", &db.to_string()))
                .unwrap_or_default(),
            fanout_patterns: o.fanout_patterns,
            sep: o.sep.clone(),
            priority_steps: o.priority_steps.clone(),
            unacked: o.unacked_key.clone(),
        }
    }

    /// The PSUBSCRIBE pattern that receives every event: `{prefix}/{db}.celeryev/*`.
    pub fn events_pattern(&self) -> String {
        let channel = glob_escape(&format!("{}{}celeryev", self.prefix, self.fanout));
        if self.fanout_patterns {
            channel + "/*"
        } else {
            channel
        }
    }

    /// Where `celery control` broadcasts go (routing key "" never gets a `/suffix`).
    pub fn pidbox_channel(&self) -> String {
        format!("{}{}celery.pidbox", self.prefix, self.fanout)
    }

    /// The lists holding a queue's messages: the queue itself and one per priority step.
    pub fn queue_keys(&self, queue: &str) -> Vec<String> {
        self.priority_steps
            .iter()
            .map(|&p| {
                if p == 0 {
                    format!("{}{queue}", self.prefix)
                } else {
                    format!("{}{queue}{}{p}", self.prefix, self.sep)
                }
            })
            .collect()
    }

    pub fn unacked_key(&self) -> String {
        format!("{}{}", self.prefix, self.unacked)
    }

    /// SCAN MATCH pattern of the exchange binding sets.
    pub fn bindings_pattern(&self) -> String {
        format!("{}_kombu.binding.*", glob_escape(&self.prefix))
    }

    /// The exchange of a binding set key, `None` for fanout exchanges Celery uses for events and
    /// remote control (their "queues" are pub/sub subscribers, not lists).
    pub fn binding_exchange<'k>(&self, key: &'k str) -> Option<&'k str> {
        let exchange = key
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix("_kombu.binding.")?;
        (exchange != "celeryev" && !exchange.ends_with(".pidbox")).then_some(exchange)
    }

    /// The queue of a binding set member `routing_key{sep}pattern{sep}queue`.
    pub fn binding_queue<'m>(&self, member: &'m str) -> Option<&'m str> {
        let queue = member.splitn(3, self.sep.as_str()).nth(2)?;
        (!queue.is_empty() && !queue.starts_with("celeryev.") && !queue.ends_with(".pidbox"))
            .then_some(queue)
    }
}

/// Go-style durations (`500ms`, `5s`, `2m`, `1h`; a bare number is seconds). Zero is allowed;
/// callers decide what it means.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (like 500ms, 5s, 2m, 1h)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("invalid duration unit in {s:?} (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("invalid duration {s:?}"))
}

/// A comma-separated list of histogram bucket upper bounds: finite, positive, ascending.
pub fn parse_buckets(flag: &str, s: &str) -> Result<Vec<f64>, ConfigError> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let v: f64 = part
            .parse()
            .map_err(|_| err(format!("--{flag}: {part:?} is not a number")))?;
        if !v.is_finite() || v <= 0.0 {
            return Err(err(format!(
                "--{flag}: bounds must be positive and finite, not {part}"
            )));
        }
        if out.last().is_some_and(|&last| v <= last) {
            return Err(err(format!(
                "--{flag}: bounds must be in ascending order ({part})"
            )));
        }
        out.push(v);
    }
    if out.is_empty() {
        return Err(err(format!(
            "--{flag}: at least one bucket bound is needed"
        )));
    }
    if out.len() > 64 {
        return Err(err(format!("--{flag}: at most 64 buckets")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_parse_like_kombu() {
        let u = BrokerUrl::parse("redis://localhost:6379/0").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.db), ("localhost", 6379, 0));
        assert_eq!((u.username, u.password, u.tls), (None, None, None));

        let u = BrokerUrl::parse("redis://:p%40ss@10.0.0.1/3").unwrap();
        assert_eq!(
            (u.port, u.db, u.password.as_deref()),
            (6379, 3, Some("p@ss"))
        );
        assert_eq!(u.username, None);

        let u = BrokerUrl::parse("redis://celery:s3cret@[::1]:7000/").unwrap();
        assert_eq!(u.host, "::1");
        assert_eq!(u.port, 7000);
        assert_eq!(u.username.as_deref(), Some("celery"));
        assert_eq!(u.redacted(), "redis://celery:<secret>@[::1]:7000/0");
        assert!(!format!("{u:?}").contains("s3cret"));

        let u = BrokerUrl::parse("redis://lonely@h").unwrap();
        assert_eq!((u.username, u.password.as_deref()), (None, Some("lonely")));

        let u = BrokerUrl::parse("rediss://h:6380/1?ssl_cert_reqs=CERT_NONE&ssl_ca_certs=/ca.pem")
            .unwrap();
        let tls = u.tls.unwrap();
        assert_eq!(tls.cert_reqs, CertReqs::None);
        assert_eq!(tls.ca_certs, Some(PathBuf::from("/ca.pem")));
        assert_eq!(BrokerUrl::parse("redis://h").unwrap().host, "h");
    }

    #[test]
    fn bad_broker_urls_name_the_problem_without_the_password() {
        for (url, want) in [
            ("amqp://guest:hunter2@h//", "unsupported scheme"),
            ("redis://:hunter2@h:99999/0", "invalid port"),
            ("redis://:hunter2@h/zero", "database number"),
            ("rediss://:hunter2@h/0?ssl_cert_reqs=maybe", "ssl_cert_reqs"),
            ("rediss://:hunter2@h/0?bogus=1", "bogus"),
            ("redis://:hunter2@h/0?ssl_ca_certs=/x", "rediss"),
            ("localhost:6379", "expected redis://"),
        ] {
            let e = BrokerUrl::parse(url).unwrap_err().0;
            assert!(e.contains(want), "{url}: {e}");
            assert!(!e.contains("hunter2"), "{url}: {e}");
        }
    }

    #[test]
    fn default_names_match_kombu() {
        let k = Keys::new(&TransportOptions::default(), 0);
        assert_eq!(k.events_pattern(), "/0.celeryev/*");
        assert_eq!(k.pidbox_channel(), "/0.celery.pidbox");
        assert_eq!(
            k.queue_keys("celery"),
            [
                "celery",
                "celery\x06\x163",
                "celery\x06\x166",
                "celery\x06\x169"
            ]
        );
        assert_eq!(k.unacked_key(), "unacked");
        assert_eq!(k.bindings_pattern(), "_kombu.binding.*");
        assert_eq!(k.binding_exchange("_kombu.binding.celery"), Some("celery"));
        assert_eq!(k.binding_exchange("_kombu.binding.celeryev"), None);
        assert_eq!(
            k.binding_exchange("_kombu.binding.reply.celery.pidbox"),
            None
        );
        assert_eq!(
            k.binding_queue("celery\x06\x16\x06\x16celery"),
            Some("celery")
        );
        assert_eq!(k.binding_queue("#\x06\x16\x06\x16celeryev.5f1c"), None);
        assert_eq!(k.binding_queue("garbage"), None);
    }

    #[test]
    fn transport_options_change_names() {
        let o = TransportOptions::parse(&[
            "global_keyprefix=app*1:",
            "fanout_patterns=false",
            "priority_steps=[0, 5]",
            "sep=:",
        ])
        .unwrap();
        let k = Keys::new(&o, 2);
        assert_eq!(k.events_pattern(), "app\\*1:/2.celeryev");
        assert_eq!(k.pidbox_channel(), "app*1:/2.celery.pidbox");
        assert_eq!(k.queue_keys("q"), ["app*1:q", "app*1:q:5"]);
        assert_eq!(k.unacked_key(), "app*1:unacked");
        assert_eq!(k.bindings_pattern(), "app\\*1:_kombu.binding.*");
        assert_eq!(
            k.binding_exchange("app*1:_kombu.binding.tasks"),
            Some("tasks")
        );
        assert_eq!(k.binding_exchange("other:_kombu.binding.tasks"), None);

        let o = TransportOptions::parse(&["fanout_prefix=false"]).unwrap();
        assert_eq!(Keys::new(&o, 0).events_pattern(), "celeryev/*");
        let o = TransportOptions::parse(&["fanout_prefix=/x{db}.", "sep=\\x01"]).unwrap();
        assert_eq!(Keys::new(&o, 4).events_pattern(), "/x4.celeryev/*");
        assert_eq!(o.sep, "\x01");

        for (bad, want) in [
            (&["nope=1"][..], "unknown key \"nope\""),
            (&["fanout_patterns=maybe"], "fanout_patterns"),
            (&["priority_steps=a,b"], "priority_steps"),
            (&["novalue"], "key=value"),
            (&["sep="], "sep"),
        ] {
            let e = TransportOptions::parse(bad).unwrap_err().0;
            assert!(e.contains(want), "{bad:?}: {e}");
        }
    }

    #[test]
    fn durations_and_buckets() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(
            parse_buckets("buckets", "0.1, 1,10").unwrap(),
            [0.1, 1.0, 10.0]
        );
        for bad in ["", "1,1", "2,1", "-1", "x", "inf"] {
            let e = parse_buckets("buckets", bad).unwrap_err().0;
            assert!(e.starts_with("--buckets"), "{e}");
        }
    }

    #[test]
    fn percent_decoding_is_lenient() {
        assert_eq!(percent_decode("a%2Fb%"), "a/b%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("é%é"), "é%é");
    }
}
