//! Data source names: libpq's URI and key=value forms, the environment variables of upstream
//! postgres_exporter, the `server` label ("fingerprint") and a redacted form for logs.
//!
//! Passwords never leave this module in text: errors name keys, never values, and
//! [`Dsn::redacted`] replaces the password.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsnError {
    #[error("invalid connection URI: {0}")]
    Uri(String),
    #[error("invalid key=value connection string: {0}")]
    KeyValue(String),
    #[error("connection parameter {key}: {problem}")]
    Param { key: String, problem: String },
    #[error("unknown connection parameter {0:?}")]
    Unknown(String),
}

/// libpq's `sslmode`. `Prefer` is libpq's default: TLS when the server offers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// A password that does not print itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

/// A parsed connection string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsn {
    /// Host names, IP addresses or Unix socket directories (libpq allows a list).
    pub hosts: Vec<String>,
    pub ports: Vec<u16>,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub dbname: Option<String>,
    pub sslmode: SslMode,
    pub sslrootcert: Option<PathBuf>,
    pub sslcert: Option<PathBuf>,
    pub sslkey: Option<PathBuf>,
    pub connect_timeout: Option<Duration>,
    pub application_name: Option<String>,
    pub options: Option<String>,
    pub target_session_attrs: Option<String>,
    /// The fingerprint as upstream computes it, kept from the text as written.
    fingerprint: String,
}

/// Parameters that libpq knows and that do not change how we connect; accepted and ignored so
/// DSNs written for libpq/lib/pq keep working.
const IGNORED: &[&str] = &[
    "fallback_application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "sslcompression",
    "sslsni",
    "gssencmode",
    "krbsrvname",
    "requirepeer",
    "channel_binding",
    "client_encoding",
    "passfile",
    "service",
    "tcp_user_timeout",
    "load_balance_hosts",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "sslcrl",
    "sslcrldir",
    "sslpassword",
    "replication",
    "hostaddr",
];

impl Dsn {
    /// Parses a URI (`postgres://` or `postgresql://`) or a key=value string.
    pub fn parse(text: &str) -> Result<Dsn, DsnError> {
        let text = text.trim();
        let pairs = if let Some(rest) = text
            .strip_prefix("postgresql://")
            .or_else(|| text.strip_prefix("postgres://"))
        {
            parse_uri(rest)?
        } else {
            parse_key_values(text)?
        };
        Dsn::from_pairs(pairs)
    }

    fn from_pairs(pairs: Vec<(String, String)>) -> Result<Dsn, DsnError> {
        let mut map: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in pairs {
            map.insert(k, v);
        }
        // Upstream's fingerprint: host as written (default localhost), port (default 5432).
        let fingerprint = format!(
            "{}:{}",
            map.get("host")
                .filter(|h| !h.is_empty())
                .map(String::as_str)
                .unwrap_or("localhost"),
            map.get("port")
                .filter(|p| !p.is_empty())
                .map(String::as_str)
                .unwrap_or("5432")
        );
        let mut dsn = Dsn {
            hosts: Vec::new(),
            ports: Vec::new(),
            user: None,
            password: None,
            dbname: None,
            sslmode: SslMode::Prefer,
            sslrootcert: None,
            sslcert: None,
            sslkey: None,
            connect_timeout: None,
            application_name: None,
            options: None,
            target_session_attrs: None,
            fingerprint,
        };
        for (key, value) in map {
            let bad = |problem: &str| DsnError::Param {
                key: key.clone(),
                problem: problem.to_string(),
            };
            match key.as_str() {
                "host" => {
                    dsn.hosts = value
                        .split(',')
                        .filter(|h| !h.is_empty())
                        .map(str::to_string)
                        .collect()
                }
                "port" => {
                    dsn.ports = value
                        .split(',')
                        .filter(|p| !p.is_empty())
                        .map(|p| p.parse::<u16>().map_err(|_| bad("not a port number")))
                        .collect::<Result<_, _>>()?
                }
                "user" => dsn.user = Some(value).filter(|v| !v.is_empty()),
                "password" => dsn.password = Some(Secret(value)),
                "dbname" => dsn.dbname = Some(value).filter(|v| !v.is_empty()),
                "sslmode" => {
                    dsn.sslmode = SslMode::parse(&value).ok_or_else(|| {
                        bad("expected disable, allow, prefer, require, verify-ca or verify-full")
                    })?
                }
                "sslrootcert" => dsn.sslrootcert = Some(PathBuf::from(value)),
                "sslcert" => dsn.sslcert = Some(PathBuf::from(value)),
                "sslkey" => dsn.sslkey = Some(PathBuf::from(value)),
                "connect_timeout" => {
                    let secs: u64 = value
                        .parse()
                        .map_err(|_| bad("expected a whole number of seconds"))?;
                    // libpq: zero (or negative) means wait indefinitely.
                    dsn.connect_timeout = (secs > 0).then(|| Duration::from_secs(secs.max(2)));
                }
                "application_name" => dsn.application_name = Some(value),
                "options" => dsn.options = Some(value),
                "target_session_attrs" => match value.as_str() {
                    "any" | "read-write" => dsn.target_session_attrs = Some(value),
                    _ => return Err(bad("expected any or read-write")),
                },
                k if IGNORED.contains(&k) => {}
                _ => return Err(DsnError::Unknown(key)),
            }
        }
        if dsn.sslcert.is_some() != dsn.sslkey.is_some() {
            return Err(DsnError::Param {
                key: "sslcert".into(),
                problem: "sslcert and sslkey must be given together".into(),
            });
        }
        Ok(dsn)
    }

    /// The `server` label upstream puts on every metric: `host:port` as written in the DSN.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The same server, another database (auto-discovery).
    pub fn with_dbname(&self, dbname: &str) -> Dsn {
        let mut d = self.clone();
        d.dbname = Some(dbname.to_string());
        d
    }

    /// The database a connection lands in: libpq defaults it to the user name.
    pub fn effective_dbname(&self) -> &str {
        self.dbname
            .as_deref()
            .or(self.user.as_deref())
            .unwrap_or("postgres")
    }

    /// A URI for logs and the landing page: the password replaced.
    pub fn redacted(&self) -> String {
        let mut s = String::from("postgresql://");
        if let Some(u) = &self.user {
            s.push_str(&percent_encode(u));
            if self.password.is_some() {
                s.push_str(":****");
            }
            s.push('@');
        }
        let hosts: Vec<String> = self
            .hosts
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let host = if h.starts_with('/') {
                    percent_encode(h)
                } else if h.contains(':') {
                    format!("[{h}]")
                } else {
                    h.clone()
                };
                match self.ports.get(i).or(self.ports.first()) {
                    Some(p) => format!("{host}:{p}"),
                    None => host,
                }
            })
            .collect();
        s.push_str(&hosts.join(","));
        if let Some(db) = &self.dbname {
            s.push('/');
            s.push_str(&percent_encode(db));
        }
        s.push_str("?sslmode=");
        s.push_str(self.sslmode.as_str());
        s
    }

    /// The tokio-postgres configuration (TLS is negotiated separately, see [`crate::tls`]).
    pub fn to_config(&self) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        if self.hosts.is_empty() {
            // libpq's default: the local Unix socket directory.
            c.host("/var/run/postgresql");
        }
        for h in &self.hosts {
            c.host(h);
        }
        for p in &self.ports {
            c.port(*p);
        }
        if let Some(u) = &self.user {
            c.user(u);
        } else {
            c.user(std::env::var("USER").unwrap_or_else(|_| "postgres".into()));
        }
        if let Some(p) = &self.password {
            c.password(p.expose());
        }
        if let Some(d) = &self.dbname {
            c.dbname(d);
        }
        c.application_name(
            self.application_name
                .as_deref()
                .unwrap_or("postgres_exporter"),
        );
        if let Some(o) = &self.options {
            c.options(o);
        }
        if let Some(t) = self.connect_timeout {
            c.connect_timeout(t);
        }
        if self.target_session_attrs.as_deref() == Some("read-write") {
            c.target_session_attrs(tokio_postgres::config::TargetSessionAttrs::ReadWrite);
        }
        c.ssl_mode(match self.sslmode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Allow | SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        c
    }
}

fn percent_decode(s: &str, what: &str) -> Result<String, DsnError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| DsnError::Uri(format!("bad percent-encoding in the {what}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| DsnError::Uri(format!("the {what} is not UTF-8")))
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `[user[:password]@][host][:port][,...][/dbname][?param=value&...]`
fn parse_uri(rest: &str) -> Result<Vec<(String, String)>, DsnError> {
    let mut pairs = Vec::new();
    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match main.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (main, None),
    };
    let hostlist = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                pairs.push(("user".into(), percent_decode(user, "user name")?));
            }
            if let Some(p) = password {
                pairs.push(("password".into(), percent_decode(p, "password")?));
            }
            hosts
        }
        None => authority,
    };
    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    for spec in hostlist.split(',').filter(|s| !s.is_empty()) {
        let (host, port) = if let Some(v6) = spec.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| DsnError::Uri("unclosed [ in an IPv6 host".into()))?;
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match spec.rsplit_once(':') {
                Some((h, p)) => (percent_decode(h, "host")?, Some(p)),
                None => (percent_decode(spec, "host")?, None),
            }
        };
        hosts.push(host);
        if let Some(p) = port {
            ports.push(p.to_string());
        }
    }
    if !hosts.is_empty() {
        pairs.push(("host".into(), hosts.join(",")));
    }
    if !ports.is_empty() {
        pairs.push(("port".into(), ports.join(",")));
    }
    if let Some(db) = path.filter(|p| !p.is_empty()) {
        pairs.push(("dbname".into(), percent_decode(db, "database name")?));
    }
    for kv in query.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| DsnError::Uri("a query parameter without '='".into()))?;
        let k = percent_decode(k, "query")?;
        pairs.push((k.clone(), percent_decode(v, &k)?));
    }
    Ok(pairs)
}

/// `key=value key='quoted \' value' ...`
fn parse_key_values(text: &str) -> Result<Vec<(String, String)>, DsnError> {
    let mut pairs = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(DsnError::KeyValue(format!("missing '=' after {key:?}")));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => {
                            return Err(DsnError::KeyValue(format!(
                                "unterminated value of {key:?}"
                            )))
                        }
                    },
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => {
                        return Err(DsnError::KeyValue(format!(
                            "unterminated quoted value of {key:?}"
                        )))
                    }
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        value.push(n);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        if key.is_empty() {
            return Err(DsnError::KeyValue("empty key".into()));
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// Where the data source names come from, in upstream 0.11's order: `DATA_SOURCE_NAME`
/// (comma-separated list), `DATA_SOURCE_NAME_FILE`, else `DATA_SOURCE_URI(_FILE)` (comma-separated)
/// with `DATA_SOURCE_USER(_FILE)` and `DATA_SOURCE_PASS(_FILE)`. `env` and `read_file` are passed
/// in so this stays testable. An empty list means nothing was configured.
pub fn data_sources(
    env: &dyn Fn(&str) -> Option<String>,
    read_file: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<Vec<Dsn>, String> {
    let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let from_file = |name: &str| -> Result<Option<String>, String> {
        match var(name) {
            Some(path) => read_file(&path)
                .map(|s| Some(s.trim().to_string()))
                .map_err(|e| format!("{name}: cannot read {path}: {e}")),
            None => Ok(None),
        }
    };
    let parse_list = |list: &str, origin: &str| -> Result<Vec<Dsn>, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
            .map(|(i, s)| Dsn::parse(s).map_err(|e| format!("{origin} (entry {}): {e}", i + 1)))
            .collect()
    };
    if let Some(names) = var("DATA_SOURCE_NAME") {
        return parse_list(&names, "DATA_SOURCE_NAME");
    }
    if let Some(names) = from_file("DATA_SOURCE_NAME_FILE")? {
        return parse_list(&names, "DATA_SOURCE_NAME_FILE");
    }
    let uri = match from_file("DATA_SOURCE_URI_FILE")? {
        Some(u) => Some(u),
        None => var("DATA_SOURCE_URI"),
    };
    let Some(uri) = uri else {
        return Ok(Vec::new());
    };
    let user = match from_file("DATA_SOURCE_USER_FILE")? {
        Some(u) => Some(u),
        None => var("DATA_SOURCE_USER"),
    };
    let pass = match from_file("DATA_SOURCE_PASS_FILE")? {
        Some(p) => Some(p),
        None => env("DATA_SOURCE_PASS"),
    };
    let mut out = Vec::new();
    for (i, u) in uri
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .enumerate()
    {
        let u = u
            .strip_prefix("postgresql://")
            .or_else(|| u.strip_prefix("postgres://"))
            .unwrap_or(u);
        let mut dsn = Dsn::parse(&format!("postgresql://{u}"))
            .map_err(|e| format!("DATA_SOURCE_URI (entry {}): {e}", i + 1))?;
        if let Some(user) = &user {
            dsn.user = Some(user.clone());
        }
        if let Some(pass) = &pass {
            dsn.password = Some(Secret(pass.clone()));
        }
        out.push(dsn);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_form() {
        let d = Dsn::parse(
            "postgresql://mon:s%40cret@db.example:5433/app?sslmode=verify-full&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(d.hosts, vec!["db.example"]);
        assert_eq!(d.ports, vec![5433]);
        assert_eq!(d.user.as_deref(), Some("mon"));
        assert_eq!(d.password.as_ref().unwrap().expose(), "s@cret");
        assert_eq!(d.dbname.as_deref(), Some("app"));
        assert_eq!(d.sslmode, SslMode::VerifyFull);
        assert_eq!(d.connect_timeout, Some(Duration::from_secs(3)));
        assert_eq!(d.fingerprint(), "db.example:5433");
        let r = d.redacted();
        assert!(!r.contains("cret"), "{r}");
        assert_eq!(
            r,
            "postgresql://mon:****@db.example:5433/app?sslmode=verify-full"
        );
        let d = Dsn::parse("postgres://[::1]:5432,10.0.0.2/x").unwrap();
        assert_eq!(d.hosts, vec!["::1", "10.0.0.2"]);
        assert_eq!(d.fingerprint(), "::1,10.0.0.2:5432");
    }

    #[test]
    fn key_value_form() {
        let d = Dsn::parse(
            "host=/run/postgresql user=prometheus password='it''s' dbname=postgres sslmode=disable",
        );
        // A doubled quote is not an escape in libpq: this is a syntax error.
        assert!(d.is_err());
        let d = Dsn::parse(r"host=127.0.0.1 port=5432 user=u password='a b\'c' sslmode=require")
            .unwrap();
        assert_eq!(d.password.unwrap().expose(), "a b'c");
        assert_eq!(d.sslmode, SslMode::Require);
        let d = Dsn::parse("user=prometheus host=/run/postgresql dbname=postgres").unwrap();
        assert_eq!(d.fingerprint(), "/run/postgresql:5432");
        assert_eq!(
            Dsn::parse("dbname=x").unwrap().fingerprint(),
            "localhost:5432"
        );
    }

    #[test]
    fn errors_name_keys_never_values() {
        let e = Dsn::parse("host=h password=hunter2 sslmode=bogus")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("sslmode") && !e.contains("hunter2") && !e.contains("bogus"),
            "{e}"
        );
        let e = Dsn::parse("postgresql://u:hunter2@h/db?frobnicate=1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("frobnicate") && !e.contains("hunter2"), "{e}");
        let e = Dsn::parse("host=h port=hunter2").unwrap_err().to_string();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(format!("{:?}", Dsn::parse("password=hunter2").unwrap()).contains("****"));
        assert!(!format!("{:?}", Dsn::parse("password=hunter2").unwrap()).contains("hunter2"));
    }

    #[test]
    fn environment_in_upstream_order() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let no_files =
            |_: &str| -> std::io::Result<String> { Err(std::io::ErrorKind::NotFound.into()) };
        let d = data_sources(
            &env(&[("DATA_SOURCE_NAME", "postgresql://a@h1/x,host=h2 user=b")]),
            &no_files,
        )
        .unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[1].fingerprint(), "h2:5432");
        let d = data_sources(
            &env(&[
                ("DATA_SOURCE_URI", "h:5433/db?sslmode=disable"),
                ("DATA_SOURCE_USER", "mon"),
                ("DATA_SOURCE_PASS_FILE", "/pw"),
            ]),
            &|p: &str| {
                assert_eq!(p, "/pw");
                Ok("p@ss:word\n".to_string())
            },
        )
        .unwrap();
        assert_eq!(d[0].user.as_deref(), Some("mon"));
        assert_eq!(d[0].password.as_ref().unwrap().expose(), "p@ss:word");
        assert_eq!(d[0].fingerprint(), "h:5433");
        assert!(data_sources(&env(&[]), &no_files).unwrap().is_empty());
        let e = data_sources(&env(&[("DATA_SOURCE_URI_FILE", "/nope")]), &no_files).unwrap_err();
        assert!(e.contains("DATA_SOURCE_URI_FILE"), "{e}");
    }
}
