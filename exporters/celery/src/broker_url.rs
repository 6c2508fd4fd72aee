//! The `--broker-url`: `redis://` and `rediss://` parsed as kombu and redis-py read them, its
//! `ssl_*` parameters, the redacted form for logs, and the connector to the broker it names.
//! Pure but for the connector (which reads the TLS files); errors never echo a password.

use std::path::PathBuf;

use exporter_core::percent::decode_lenient;
use resp::{Address, Connector, Secret, TlsClient, TlsFile, TlsOptions, TlsSetupError};

/// A bad flag, URL parameter or transport option, with the name at fault; never a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

pub(crate) fn err(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

/// Where the broker is and how to log in.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// Host name or IP address (IPv6 without brackets); `localhost` when the URL has none.
    pub host: String,
    /// TCP port; 6379 when the URL has none.
    pub port: u16,
    /// Database number, the URL's path.
    pub db: u32,
    /// ACL user (`redis://user:password@...`).
    pub username: Option<String>,
    /// Password; a lone userinfo (`redis://secret@host`) is the password, as in redis-py.
    pub password: Option<String>,
    /// `rediss://`: TLS with the `ssl_*` parameters.
    pub tls: Option<TlsOptions>,
}

impl std::fmt::Debug for BrokerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl BrokerUrl {
    /// The connector to this broker: TLS from the `ssl_*` parameters (files read now, so a bad
    /// one stops start-up), `password` (from `--broker-password-file`) instead of the URL's, the
    /// URL's database. Callers bound each connect with `connect_within`.
    pub fn connector(&self, password: Option<String>) -> Result<Connector, ConfigError> {
        let password = password.or_else(|| self.password.clone()).map(Secret::new);
        let mut connector = Connector::new(Address::Tcp {
            host: self.host.clone(),
            port: self.port,
        })
        .login(self.username.clone(), password)
        .db(self.db);
        if let Some(opts) = &self.tls {
            let tls = TlsClient::new(opts).map_err(tls_setup_error)?;
            tls.server_name_for(&self.host).map_err(|_| {
                err(format!(
                    "--broker-url: {:?} is not a valid TLS server name",
                    self.host
                ))
            })?;
            connector = connector.tls(tls);
        }
        Ok(connector)
    }

    /// The URL without credentials, for logs and messages.
    pub fn redacted(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        let host = url_host(&self.host);
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
                    "--broker-url: unsupported scheme {other:?} (Celery's Redis or RabbitMQ broker: redis://, rediss://, amqp:// or amqps://)"
                )))
            }
        };
        let parts = split_url(rest)?;
        let (username, password) = match parts.credentials {
            None => (None, None),
            Some((u, p)) => {
                let u = decode_lenient(u);
                let p = p.map(decode_lenient).filter(|p| !p.is_empty());
                match (u.is_empty(), p) {
                    // redis://secret@host: redis-py takes a lone userinfo as the password.
                    (false, None) => (None, Some(u)),
                    (true, p) => (None, p),
                    (false, p) => (Some(u), p),
                }
            }
        };
        let port = parts.port.unwrap_or(6379);
        let path = parts.path.trim_end_matches('/');
        let db = if path.is_empty() {
            0
        } else {
            path.parse::<u32>().map_err(|_| {
                err(format!(
                    "--broker-url: the path must be a database number, not {path:?}"
                ))
            })?
        };
        let mut tls_options = TlsOptions::default();
        for (k, v) in parts.params() {
            let v = decode_lenient(v);
            match k {
                "ssl_cert_reqs" => {
                    tls_options.skip_verify = match v.to_ascii_lowercase().as_str() {
                        "cert_none" | "none" => true,
                        "cert_required" | "required" | "cert_optional" | "optional" => false,
                        _ => {
                            return Err(err(format!(
                                "--broker-url: ssl_cert_reqs must be required or none, not {v:?}"
                            )))
                        }
                    }
                }
                "ssl_ca_certs" => tls_options.ca_file = Some(PathBuf::from(v)),
                "ssl_certfile" => tls_options.client_cert = Some(PathBuf::from(v)),
                "ssl_keyfile" => tls_options.client_key = Some(PathBuf::from(v)),
                // Options kombu reads from the URL that do not concern a reader of events.
                "virtual_host" | "socket_timeout" | "socket_connect_timeout" | "health_check_interval" => {}
                other => {
                    return Err(err(format!(
                        "--broker-url: unknown query parameter {other:?} (known: ssl_cert_reqs, ssl_ca_certs, ssl_certfile, ssl_keyfile)"
                    )))
                }
            }
        }
        if !tls && parts.query.is_some_and(|q| q.contains("ssl_")) {
            return Err(err("--broker-url: ssl_* parameters need a rediss:// URL"));
        }
        Ok(BrokerUrl {
            host: parts.host.to_string(),
            port,
            db,
            username,
            password,
            tls: tls.then_some(tls_options),
        })
    }
}

/// A TLS set-up error worded with the URL parameter that named the file.
fn tls_setup_error(e: TlsSetupError) -> ConfigError {
    let worded = e.worded_with(|file| match file {
        TlsFile::Ca => "ssl_ca_certs",
        TlsFile::ClientCert => "ssl_certfile",
        TlsFile::ClientKey => "ssl_keyfile",
    });
    match e {
        TlsSetupError::File { .. } => err(format!("--broker-url {worded}")),
        _ => err(format!("--broker-url: {worded}")),
    }
}

/// What follows `scheme://` in either broker's URL, `[user[:password]@]host[:port][/path][?query]`,
/// split but not decoded.
pub(crate) struct UrlParts<'a> {
    /// (user, password) as written; `None` without '@'.
    pub(crate) credentials: Option<(&'a str, Option<&'a str>)>,
    /// Without the brackets of an IPv6 address; `localhost` when the URL has none.
    pub(crate) host: &'a str,
    /// `None` when absent or empty (`host:`).
    pub(crate) port: Option<u16>,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
}

impl<'a> UrlParts<'a> {
    /// The query's `key=value` pairs in order, not decoded; a key without '=' has value "".
    pub(crate) fn params(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.query
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
    }
}

/// `host` as it stands in a URL: an IPv6 address in brackets.
pub(crate) fn url_host(host: &str) -> std::borrow::Cow<'_, str> {
    if host.contains(':') {
        format!("[{host}]").into()
    } else {
        host.into()
    }
}

/// Splits what follows `scheme://`. The last '@' ends the credentials: a password may hold '@'
/// unencoded.
pub(crate) fn split_url(rest: &str) -> Result<UrlParts<'_>, ConfigError> {
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let (credentials, hostport) = match authority.rfind('@') {
        Some(i) => {
            let userinfo = &authority[..i];
            let credentials = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            (Some(credentials), &authority[i + 1..])
        }
        None => (None, authority),
    };
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        let (h, after) = bracketed
            .split_once(']')
            .ok_or_else(|| err("--broker-url: unclosed [ in the host"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(err("--broker-url: unexpected text after the host")),
        };
        (h, port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
            err(format!(
                "--broker-url: invalid port {p:?} (a number from 1 to 65535)"
            ))
        })?),
    };
    Ok(UrlParts {
        credentials,
        host: if host.is_empty() { "localhost" } else { host },
        port,
        path,
        query,
    })
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
        assert!(tls.skip_verify);
        assert_eq!(tls.ca_file, Some(PathBuf::from("/ca.pem")));
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
}
