//! Data source names: libpq's URI and key=value forms, the `server` label ("fingerprint"), a
//! redacted form for logs, and the `tokio_postgres::Config` to connect with.
//!
//! Parsing goes through `tokio_postgres::Config` (its `FromStr`), so `host`, `hostaddr`, `port`,
//! `channel_binding`, `target_session_attrs`, `load_balance_hosts`, keepalives and the rest mean
//! what libpq documents. Only the libpq keys it does not know are taken out first
//! ([`libpq_keys`]). Where DSNs come from is [`crate::data_source`]'s job.
//!
//! Passwords never leave this module in text: errors name keys, never values, and
//! [`Dsn::redacted`] replaces the password.

mod libpq_keys;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use exporter_core::percent;
use tokio_postgres::config::{ChannelBinding, Host, SslMode as PgSslMode};

use libpq_keys::{strip_key_values, strip_uri_params, OwnSettings};

/// Why a connection string was refused; it names the key, never a value.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsnError {
    /// What tokio-postgres reports; it names keys, never values.
    #[error("invalid connection string: {0}")]
    Invalid(String),
    /// The key=value syntax is broken (a word without `=`, an unterminated quote).
    #[error("invalid key=value connection string: {0}")]
    KeyValue(String),
    /// A key's value is not one it takes, or the key is unknown.
    #[error("connection parameter {key}: {problem}")]
    Param {
        /// The libpq key.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A libpq key whose promise this exporter cannot keep.
    #[error("connection parameter {key} is not supported: {why}")]
    Unsupported {
        /// The libpq key.
        key: String,
        /// Why it is refused.
        why: &'static str,
    },
}

/// libpq's `sslmode`. `Prefer` is libpq's default: TLS when the server offers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP only.
    Disable,
    /// Plain TCP, TLS if the server insists (negotiated as `prefer` here).
    Allow,
    /// TLS when the server offers it, certificate not checked.
    Prefer,
    /// TLS, certificate not checked (unless `sslrootcert` is given).
    Require,
    /// TLS, the chain checked against `sslrootcert`.
    VerifyCa,
    /// TLS, the chain and the host name checked.
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

    /// libpq's spelling.
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
    /// `TLSv1`.
    V1_0,
    /// `TLSv1.1`.
    V1_1,
    /// `TLSv1.2`.
    V1_2,
    /// `TLSv1.3`.
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
    /// Wraps a password.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The password itself, for the connection only.
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
    /// libpq's `sslmode`.
    pub sslmode: SslMode,
    /// The CA certificates (PEM) for verify-ca and verify-full.
    pub sslrootcert: Option<PathBuf>,
    /// The client certificate (PEM); always with `sslkey`.
    pub sslcert: Option<PathBuf>,
    /// The client certificate's key (PEM).
    pub sslkey: Option<PathBuf>,
    /// libpq's `sslsni`: send the host name in the TLS handshake (default on).
    pub sslsni: bool,
    /// The lowest TLS version allowed.
    pub ssl_min_protocol_version: Option<TlsVersion>,
    /// The highest TLS version allowed.
    pub ssl_max_protocol_version: Option<TlsVersion>,
    fallback_application_name: Option<String>,
    /// The fingerprint as upstream computes it: host and port as written.
    fingerprint: String,
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

    /// The role, if the DSN names one.
    pub fn user(&self) -> Option<&str> {
        self.config.get_user().filter(|u| !u.is_empty())
    }

    /// Whether the DSN carries a password (probe targets must not).
    pub fn has_password(&self) -> bool {
        self.config.get_password().is_some()
    }

    /// Replaces the role (`DATA_SOURCE_USER`, an auth module).
    pub fn set_user(&mut self, user: &str) {
        self.config.user(user);
    }

    /// Replaces the password (`DATA_SOURCE_PASS`, an auth module).
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
            s.push_str(&percent::encode(u));
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
                    Host::Unix(dir) => percent::encode(&dir.to_string_lossy()),
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
            s.push_str(&percent::encode(db));
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
}
