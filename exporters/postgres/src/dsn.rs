//! Data source names: libpq's URI and key=value forms, the environment variables of upstream
//! postgres_exporter, the `server` label ("fingerprint") and a redacted form for logs.
//!
//! Parsing goes through `tokio_postgres::Config` (its `FromStr`), so `host`, `hostaddr`, `port`,
//! `channel_binding`, `target_session_attrs`, `load_balance_hosts`, keepalives and the rest mean
//! what libpq documents. Only the libpq keys it does not know are taken out first: the TLS ones
//! we implement ourselves (`sslmode` with all six modes, `sslrootcert`, ...), those without
//! effect here, and those we refuse because ignoring them would weaken what libpq promises.
//!
//! Passwords never leave this module in text: errors name keys, never values, and
//! [`Dsn::redacted`] replaces the password.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::config::{ChannelBinding, Host, SslMode as PgSslMode};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsnError {
    /// What tokio-postgres reports; it names keys, never values.
    #[error("invalid connection string: {0}")]
    Invalid(String),
    #[error("invalid key=value connection string: {0}")]
    KeyValue(String),
    #[error("connection parameter {key}: {problem}")]
    Param { key: String, problem: String },
    #[error("connection parameter {key} is not supported: {why}")]
    Unsupported { key: String, why: &'static str },
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

/// libpq's `ssl_min_protocol_version` / `ssl_max_protocol_version` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    V1_0,
    V1_1,
    V1_2,
    V1_3,
}

impl TlsVersion {
    fn parse(s: &str) -> Option<TlsVersion> {
        Some(match s {
            "TLSv1" => TlsVersion::V1_0,
            "TLSv1.1" => TlsVersion::V1_1,
            "TLSv1.2" => TlsVersion::V1_2,
            "TLSv1.3" => TlsVersion::V1_3,
            _ => return None,
        })
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

/// A parsed connection string: tokio-postgres' configuration plus the TLS settings we apply
/// ourselves. `Debug` shows no password (tokio-postgres redacts it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsn {
    config: tokio_postgres::Config,
    pub sslmode: SslMode,
    pub sslrootcert: Option<PathBuf>,
    pub sslcert: Option<PathBuf>,
    pub sslkey: Option<PathBuf>,
    /// libpq's `sslsni`: send the host name in the TLS handshake (default on).
    pub sslsni: bool,
    pub ssl_min_protocol_version: Option<TlsVersion>,
    pub ssl_max_protocol_version: Option<TlsVersion>,
    fallback_application_name: Option<String>,
    /// The fingerprint as upstream computes it: host and port as written.
    fingerprint: String,
}

/// Keys `tokio_postgres::Config` parses itself.
const TOKIO_POSTGRES_KEYS: &[&str] = &[
    "user",
    "password",
    "dbname",
    "options",
    "application_name",
    "sslnegotiation",
    "host",
    "hostaddr",
    "port",
    "connect_timeout",
    "tcp_user_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_retries",
    "target_session_attrs",
    "channel_binding",
    "load_balance_hosts",
];

/// libpq keys with no effect on this exporter, accepted so DSNs written for libpq keep working.
/// Each entry says why ignoring it is harmless.
const WITHOUT_EFFECT: &[&str] = &[
    // tokio-postgres always speaks UTF-8, which the exporter needs anyway.
    "client_encoding",
    // PostgreSQL 14+ servers never compress TLS.
    "sslcompression",
    // Only for GSSAPI, which is not built in (gssencmode=require is refused below).
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    // Only for encrypted key files, which fail to load with a message naming sslkey.
    "sslpassword",
    // A debugging aid.
    "sslkeylogfile",
    // The password comes from the DSN or DATA_SOURCE_PASS(_FILE); without one, a server that
    // asks for it fails the connection with "password missing".
    "passfile",
];

/// libpq's spelling of a key tokio-postgres knows under another name.
fn tokio_postgres_key(key: &str) -> Option<&str> {
    match key {
        "keepalives_count" => Some("keepalives_retries"),
        k if TOKIO_POSTGRES_KEYS.contains(&k) => Some(k),
        _ => None,
    }
}

/// The TLS and libpq-only settings taken out before tokio-postgres parses the rest.
#[derive(Debug)]
struct OwnSettings {
    sslmode: SslMode,
    sslrootcert: Option<PathBuf>,
    sslcert: Option<PathBuf>,
    sslkey: Option<PathBuf>,
    sslsni: bool,
    ssl_min_protocol_version: Option<TlsVersion>,
    ssl_max_protocol_version: Option<TlsVersion>,
    fallback_application_name: Option<String>,
    /// `sslcertmode=disable`: never present a client certificate.
    no_client_certificate: bool,
}

impl Default for OwnSettings {
    fn default() -> Self {
        OwnSettings {
            sslmode: SslMode::Prefer,
            sslrootcert: None,
            sslcert: None,
            sslkey: None,
            sslsni: true,
            ssl_min_protocol_version: None,
            ssl_max_protocol_version: None,
            fallback_application_name: None,
            no_client_certificate: false,
        }
    }
}

impl OwnSettings {
    /// Applies one libpq key that tokio-postgres does not know, or says why it cannot.
    fn apply(&mut self, key: &str, value: String) -> Result<(), DsnError> {
        let bad = |problem: &str| DsnError::Param {
            key: key.to_string(),
            problem: problem.to_string(),
        };
        let refuse = |why: &'static str| DsnError::Unsupported {
            key: key.to_string(),
            why,
        };
        match key {
            "sslmode" => {
                self.sslmode = SslMode::parse(&value).ok_or_else(|| {
                    bad("expected disable, allow, prefer, require, verify-ca or verify-full")
                })?
            }
            "sslrootcert" => self.sslrootcert = Some(PathBuf::from(value)),
            "sslcert" => self.sslcert = Some(PathBuf::from(value)),
            "sslkey" => self.sslkey = Some(PathBuf::from(value)),
            "sslsni" => self.sslsni = parse_libpq_bool(&value).ok_or_else(|| bad("expected 0 or 1"))?,
            "ssl_min_protocol_version" | "ssl_max_protocol_version" => {
                let version = TlsVersion::parse(&value)
                    .ok_or_else(|| bad("expected TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3"))?;
                if key == "ssl_min_protocol_version" {
                    self.ssl_min_protocol_version = Some(version);
                } else {
                    self.ssl_max_protocol_version = Some(version);
                }
            }
            "fallback_application_name" => self.fallback_application_name = Some(value),
            "sslcertmode" => match value.as_str() {
                "allow" => {}
                "disable" => self.no_client_certificate = true,
                "require" => return Err(refuse("the server's request for a client certificate cannot be checked")),
                _ => return Err(bad("expected disable, allow or require")),
            },
            "gssencmode" => match value.as_str() {
                // Without GSSAPI, prefer falls back to the next choice as libpq built without it does.
                "disable" | "prefer" => {}
                "require" => return Err(refuse("GSSAPI encryption is not built in; use sslmode")),
                _ => return Err(bad("expected disable, prefer or require")),
            },
            "replication" => match parse_libpq_bool(&value) {
                Some(false) => {}
                _ => return Err(refuse("the exporter runs queries, not the replication protocol")),
            },
            "require_auth" => return Err(refuse("the authentication method cannot be restricted; use channel_binding=require to insist on SCRAM over TLS")),
            "sslcrl" | "sslcrldir" => return Err(refuse("certificate revocation lists are not checked")),
            "requirepeer" => return Err(refuse("the peer of a Unix socket is not checked")),
            "service" => return Err(refuse("pg_service.conf is not read; write the parameters out")),
            k if WITHOUT_EFFECT.contains(&k) => {}
            _ => {
                return Err(DsnError::Param {
                    key: key.to_string(),
                    problem: "unknown connection parameter".into(),
                })
            }
        }
        Ok(())
    }

    fn check(&mut self) -> Result<(), DsnError> {
        if self.sslcert.is_some() != self.sslkey.is_some() {
            return Err(DsnError::Param {
                key: "sslcert".into(),
                problem: "sslcert and sslkey must be given together".into(),
            });
        }
        if self.no_client_certificate {
            self.sslcert = None;
            self.sslkey = None;
        }
        Ok(())
    }
}

/// libpq's boolean spellings.
fn parse_libpq_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Some(true),
        "0" | "false" | "off" | "no" => Some(false),
        _ => None,
    }
}

impl Dsn {
    /// Parses a URI (`postgres://` or `postgresql://`) or a key=value string.
    pub fn parse(text: &str) -> Result<Dsn, DsnError> {
        let text = text.trim();
        let mut own = OwnSettings::default();
        let for_tokio_postgres = if is_uri(text) {
            strip_uri_params(text, &mut own)?
        } else {
            strip_key_values(text, &mut own)?
        };
        own.check()?;
        let config = tokio_postgres::Config::from_str(&for_tokio_postgres)
            .map_err(|e| DsnError::Invalid(error_chain(&e)))?;
        check_hostaddr_count(&config)?;
        Ok(Dsn {
            fingerprint: fingerprint(&config),
            config,
            sslmode: own.sslmode,
            sslrootcert: own.sslrootcert,
            sslcert: own.sslcert,
            sslkey: own.sslkey,
            sslsni: own.sslsni,
            ssl_min_protocol_version: own.ssl_min_protocol_version,
            ssl_max_protocol_version: own.ssl_max_protocol_version,
            fallback_application_name: own.fallback_application_name,
        })
    }

    /// The `server` label upstream puts on every metric: `host:port` as written in the DSN.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn user(&self) -> Option<&str> {
        self.config.get_user().filter(|u| !u.is_empty())
    }

    pub fn has_password(&self) -> bool {
        self.config.get_password().is_some()
    }

    pub fn set_user(&mut self, user: &str) {
        self.config.user(user);
    }

    pub fn set_password(&mut self, password: &Secret) {
        self.config.password(password.expose());
    }

    /// `channel_binding=require`: authentication must be SCRAM bound to the TLS channel.
    pub fn requires_channel_binding(&self) -> bool {
        self.config.get_channel_binding() == ChannelBinding::Require
    }

    /// The DSN's `connect_timeout`; libpq waits at least 2 seconds.
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.config
            .get_connect_timeout()
            .map(|t| (*t).max(Duration::from_secs(2)))
    }

    /// `sslnegotiation=direct` (PostgreSQL 17+): TLS from the first byte, with ALPN.
    pub fn direct_tls(&self) -> bool {
        self.config.get_ssl_negotiation() == tokio_postgres::config::SslNegotiation::Direct
    }

    /// The same server, another database (auto-discovery).
    pub fn with_dbname(&self, dbname: &str) -> Dsn {
        let mut d = self.clone();
        d.config.dbname(dbname);
        d
    }

    /// The database a connection lands in: libpq defaults it to the user name.
    pub fn effective_dbname(&self) -> &str {
        self.config
            .get_dbname()
            .filter(|d| !d.is_empty())
            .or(self.user())
            .unwrap_or("postgres")
    }

    /// A URI for logs and the landing page: the password replaced.
    pub fn redacted(&self) -> String {
        let mut s = String::from("postgresql://");
        if let Some(u) = self.user() {
            s.push_str(&percent_encode(u));
            if self.has_password() {
                s.push_str(":****");
            }
            s.push('@');
        }
        let ports = self.config.get_ports();
        let hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let host = match h {
                    Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
                    Host::Tcp(name) => name.clone(),
                    Host::Unix(dir) => percent_encode(&dir.to_string_lossy()),
                };
                match ports.get(i).or(ports.first()) {
                    Some(p) => format!("{host}:{p}"),
                    None => host,
                }
            })
            .collect();
        s.push_str(&hosts.join(","));
        if let Some(db) = self.config.get_dbname() {
            s.push('/');
            s.push_str(&percent_encode(db));
        }
        s.push_str("?sslmode=");
        s.push_str(self.sslmode.as_str());
        let hostaddrs = self.config.get_hostaddrs();
        if !hostaddrs.is_empty() {
            let list: Vec<String> = hostaddrs.iter().map(|a| a.to_string()).collect();
            s.push_str("&hostaddr=");
            s.push_str(&list.join(","));
        }
        s
    }

    /// The tokio-postgres configuration to connect with: the parsed one plus libpq's defaults
    /// that tokio-postgres leaves to the caller. TLS is negotiated by [`crate::tls`].
    pub fn to_config(&self) -> tokio_postgres::Config {
        let mut c = self.config.clone();
        if c.get_hosts().is_empty() {
            match c.get_hostaddrs().to_vec() {
                // libpq's default: the local Unix socket directory.
                addrs if addrs.is_empty() => {
                    c.host_path("/var/run/postgresql");
                }
                // tokio-postgres only negotiates TLS with a host name; libpq uses the address.
                addrs => {
                    for a in addrs {
                        c.host(a.to_string());
                    }
                }
            }
        }
        if c.get_user().is_none() {
            c.user(std::env::var("USER").unwrap_or_else(|_| "postgres".into()));
        }
        if c.get_application_name().is_none() {
            c.application_name(
                self.fallback_application_name
                    .as_deref()
                    .unwrap_or("postgres_exporter"),
            );
        }
        if let Some(t) = self.connect_timeout() {
            c.connect_timeout(t);
        }
        c.ssl_mode(self.tokio_postgres_ssl_mode(&c));
        c
    }

    fn tokio_postgres_ssl_mode(&self, c: &tokio_postgres::Config) -> PgSslMode {
        // libpq never uses TLS on Unix sockets, whatever sslmode says.
        let only_unix_sockets = c.get_hosts().iter().all(|h| matches!(h, Host::Unix(_)))
            && c.get_hostaddrs().is_empty();
        match self.sslmode {
            _ if only_unix_sockets => PgSslMode::Disable,
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Allow | SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
        }
    }
}

/// libpq pairs `hostaddr` entries with `host` entries one to one; say so at start-up rather
/// than at every connection attempt.
fn check_hostaddr_count(config: &tokio_postgres::Config) -> Result<(), DsnError> {
    let (hosts, addrs) = (config.get_hosts().len(), config.get_hostaddrs().len());
    if hosts > 0 && addrs > 0 && hosts != addrs {
        return Err(DsnError::Param {
            key: "hostaddr".into(),
            problem: format!("{addrs} addresses for {hosts} hosts; give one per host"),
        });
    }
    Ok(())
}

/// An error and its causes: tokio-postgres puts the key it rejects in the cause.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// Upstream's fingerprint: the host list as written (default `localhost`), then the port list
/// (default 5432; one port when all hosts share it).
fn fingerprint(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = match config.get_hosts() {
        [] => config
            .get_hostaddrs()
            .iter()
            .map(|a| a.to_string())
            .collect(),
        hosts => hosts.iter().map(host_text).collect(),
    };
    let hosts = if hosts.is_empty() {
        "localhost".to_string()
    } else {
        hosts.join(",")
    };
    let mut ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    if ports.windows(2).all(|w| w[0] == w[1]) {
        ports.truncate(1);
    }
    let ports = if ports.is_empty() {
        "5432".to_string()
    } else {
        ports.join(",")
    };
    format!("{hosts}:{ports}")
}

fn host_text(host: &Host) -> String {
    match host {
        Host::Tcp(name) => name.clone(),
        Host::Unix(dir) => path_text(dir),
    }
}

fn path_text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn is_uri(text: &str) -> bool {
    text.starts_with("postgresql://") || text.starts_with("postgres://")
}

/// Takes the parameters tokio-postgres does not know out of a URI's query string; the rest of
/// the URI (credentials, hosts, ports, database) is left for tokio-postgres to parse.
fn strip_uri_params(uri: &str, own: &mut OwnSettings) -> Result<String, DsnError> {
    // tokio-postgres reads credentials up to the first '@'; the query starts after them.
    let after_credentials = uri.find('@').map_or(0, |at| at + 1);
    let Some(query_at) = uri[after_credentials..]
        .find('?')
        .map(|q| q + after_credentials)
    else {
        return Ok(uri.to_string());
    };
    let (base, query) = (&uri[..query_at], &uri[query_at + 1..]);
    let mut kept = Vec::new();
    for param in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = param
            .split_once('=')
            .ok_or_else(|| DsnError::Invalid("a URI query parameter without '='".into()))?;
        let key = percent_decode(raw_key)
            .map_err(|_| DsnError::Invalid("bad percent-encoding in a parameter name".into()))?;
        match tokio_postgres_key(&key) {
            Some(name) => kept.push(format!("{name}={raw_value}")),
            None => {
                let value = percent_decode(raw_value).map_err(|_| DsnError::Param {
                    key: key.clone(),
                    problem: "bad percent-encoding".into(),
                })?;
                own.apply(&key, value)?;
            }
        }
    }
    Ok(if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    })
}

/// Takes the keys tokio-postgres does not know out of a key=value string and writes the rest
/// back, quoted, for tokio-postgres to parse.
fn strip_key_values(text: &str, own: &mut OwnSettings) -> Result<String, DsnError> {
    let mut kept = Vec::new();
    for (key, value) in parse_key_values(text)? {
        match tokio_postgres_key(&key) {
            Some(name) => kept.push(format!("{name}={}", quote_value(&value))),
            None => own.apply(&key, value)?,
        }
    }
    Ok(kept.join(" "))
}

/// A key=value value in libpq's quoting: single quotes, `'` and `\` escaped with `\`.
fn quote_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

fn percent_decode(s: &str) -> Result<String, ()> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let byte = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(())?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ())
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
            // Not the word itself: it may be the rest of a password with a space in it.
            return Err(DsnError::KeyValue(format!(
                "parameter {} has no '=' (quote values with spaces)",
                pairs.len() + 1
            )));
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
            dsn.set_user(user);
        }
        if let Some(pass) = &pass {
            dsn.set_password(&Secret(pass.clone()));
        }
        out.push(dsn);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    #[test]
    fn uri_form() {
        let d = Dsn::parse(
            "postgresql://mon:s%40cret@db.example:5433/app?sslmode=verify-full&connect_timeout=3",
        )
        .unwrap();
        let c = d.to_config();
        assert_eq!(c.get_hosts(), [Host::Tcp("db.example".into())]);
        assert_eq!(c.get_ports(), [5433]);
        assert_eq!(d.user(), Some("mon"));
        assert_eq!(c.get_password(), Some(&b"s@cret"[..]));
        assert_eq!(c.get_dbname(), Some("app"));
        assert_eq!(d.sslmode, SslMode::VerifyFull);
        assert_eq!(c.get_ssl_mode(), PgSslMode::Require);
        assert_eq!(d.connect_timeout(), Some(Duration::from_secs(3)));
        assert_eq!(d.fingerprint(), "db.example:5433");
        let r = d.redacted();
        assert!(!r.contains("cret"), "{r}");
        assert_eq!(
            r,
            "postgresql://mon:****@db.example:5433/app?sslmode=verify-full"
        );
        let d = Dsn::parse("postgres://[::1]:5432,10.0.0.2/x").unwrap();
        assert_eq!(
            d.to_config().get_hosts(),
            [Host::Tcp("::1".into()), Host::Tcp("10.0.0.2".into())]
        );
        assert_eq!(d.fingerprint(), "::1,10.0.0.2:5432");
        let d = Dsn::parse("postgresql://%2Frun%2Fpostgresql/db?sslmode=require").unwrap();
        assert_eq!(d.fingerprint(), "/run/postgresql:5432");
        // libpq never uses TLS on Unix sockets.
        assert_eq!(d.to_config().get_ssl_mode(), PgSslMode::Disable);
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
        assert_eq!(d.to_config().get_password(), Some(&b"a b'c"[..]));
        assert_eq!(d.sslmode, SslMode::Require);
        let d = Dsn::parse("user=prometheus host=/run/postgresql dbname=postgres").unwrap();
        assert_eq!(d.fingerprint(), "/run/postgresql:5432");
        assert_eq!(
            Dsn::parse("dbname=x").unwrap().fingerprint(),
            "localhost:5432"
        );
        let d = Dsn::parse(r"host=h application_name='a \\ b' options='-c x=1'").unwrap();
        let c = d.to_config();
        assert_eq!(c.get_application_name(), Some(r"a \ b"));
        assert_eq!(c.get_options(), Some("-c x=1"));
    }

    #[test]
    fn libpq_keys_tokio_postgres_knows_take_effect() {
        let d = Dsn::parse(
            "host=db.example hostaddr=127.0.0.1 channel_binding=require keepalives_count=4 \
             target_session_attrs=read-only load_balance_hosts=random",
        )
        .unwrap();
        let c = d.to_config();
        assert_eq!(c.get_hosts(), [Host::Tcp("db.example".into())]);
        assert_eq!(c.get_hostaddrs(), ["127.0.0.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(c.get_channel_binding(), ChannelBinding::Require);
        assert!(d.requires_channel_binding());
        assert_eq!(c.get_keepalives_retries(), Some(4));
        assert_eq!(d.fingerprint(), "db.example:5432");
        assert_eq!(
            d.redacted(),
            "postgresql://db.example?sslmode=prefer&hostaddr=127.0.0.1"
        );
        let d =
            Dsn::parse("postgresql://u@db.example/x?hostaddr=127.0.0.1&channel_binding=disable")
                .unwrap();
        assert_eq!(d.to_config().get_channel_binding(), ChannelBinding::Disable);
        assert_eq!(d.to_config().get_hostaddrs().len(), 1);
        assert!(matches!(
            Dsn::parse("host=h hostaddr=not-an-ip"),
            Err(DsnError::Invalid(e)) if e.contains("hostaddr")
        ));
        assert!(Dsn::parse("host=h channel_binding=sometimes").is_err());
        let e = Dsn::parse("host=a,b hostaddr=127.0.0.1").unwrap_err();
        assert!(e.to_string().contains("hostaddr"), "{e}");
        // hostaddr alone: the address is also the name TLS is negotiated with.
        let d = Dsn::parse("hostaddr=127.0.0.1 port=5433").unwrap();
        assert_eq!(d.fingerprint(), "127.0.0.1:5433");
        assert_eq!(d.to_config().get_hosts(), [Host::Tcp("127.0.0.1".into())]);
    }

    #[test]
    fn libpq_keys_we_apply_ignore_or_refuse() {
        let d = Dsn::parse(
            "host=h sslmode=verify-ca sslrootcert=/ca.crt sslcert=/c.crt sslkey=/c.key sslsni=0 \
             ssl_min_protocol_version=TLSv1.3 fallback_application_name=fb client_encoding=UTF8 \
             gssencmode=disable passfile=/x sslcompression=0",
        )
        .unwrap();
        assert_eq!(d.sslmode, SslMode::VerifyCa);
        assert_eq!(d.sslrootcert.as_deref(), Some(Path::new("/ca.crt")));
        assert_eq!(d.sslkey.as_deref(), Some(Path::new("/c.key")));
        assert!(!d.sslsni);
        assert_eq!(d.ssl_min_protocol_version, Some(TlsVersion::V1_3));
        assert_eq!(d.to_config().get_application_name(), Some("fb"));
        let d = Dsn::parse("host=h sslcert=/c.crt sslkey=/c.key sslcertmode=disable").unwrap();
        assert_eq!(d.sslcert, None);
        for refused in [
            "sslcrl=/crl.pem",
            "require_auth=scram-sha-256",
            "gssencmode=require",
            "service=prod",
            "requirepeer=postgres",
            "replication=database",
        ] {
            let e = Dsn::parse(&format!("host=h password=hunter2 {refused}")).unwrap_err();
            assert!(matches!(e, DsnError::Unsupported { .. }), "{refused}: {e}");
            assert!(!e.to_string().contains("hunter2"));
        }
        let e = Dsn::parse("postgresql://h/db?sslcrl=%2Fcrl.pem").unwrap_err();
        assert!(e.to_string().contains("sslcrl"), "{e}");
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
        for bad in [
            "host=h port=hunter2",
            "postgresql://u:hunter2@h:hunter2/db",
            "host=h password=hunter2 hunter3",
            "host=h password=hun ter2",
            "host=h hostaddr=hunter2",
            "postgresql://u:hunter2@h/db?port=hunter2",
        ] {
            let e = Dsn::parse(bad).unwrap_err().to_string();
            assert!(!e.contains("hunter") && !e.contains("ter2"), "{bad}: {e}");
        }
        let d = Dsn::parse("password=hunter2").unwrap();
        assert!(!format!("{d:?}").contains("hunter2"));
        assert!(!d.redacted().contains("hunter2"));
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
        assert_eq!(d[0].user(), Some("mon"));
        assert_eq!(d[0].to_config().get_password(), Some(&b"p@ss:word"[..]));
        assert_eq!(d[0].fingerprint(), "h:5433");
        assert!(data_sources(&env(&[]), &no_files).unwrap().is_empty());
        let e = data_sources(&env(&[("DATA_SOURCE_URI_FILE", "/nope")]), &no_files).unwrap_err();
        assert!(e.contains("DATA_SOURCE_URI_FILE"), "{e}");
    }
}
