//! Redis addresses (`redis://`, `rediss://`, `unix://`, bare `host:port`), credentials, the
//! password file, and redaction: nothing here ever formats a password.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use exporter_core::percent::decode_lenient;

pub use resp::Secret;

/// Where the instance listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `redis://` (`tls` false) or `rediss://` (`tls` true).
    Tcp {
        /// Host name or IP address (IPv6 without brackets).
        host: String,
        /// TCP port (6379 when the address names none).
        port: u16,
        /// Speak TLS.
        tls: bool,
    },
    /// `unix://`: the socket's path.
    Unix(PathBuf),
}

/// Where a Redis instance is and how to log in to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Where it listens.
    pub endpoint: Endpoint,
    /// The ACL user of the address (`redis://user:pw@host`), if any.
    pub user: Option<String>,
    /// The password: the address's own, or one filled in from the password file or
    /// `--redis.password`.
    pub password: Option<Secret>,
}

/// Why an address does not parse (never holding its password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddrError {
    /// Not `redis://`, `rediss://`, `valkey(s)://` or `unix://`.
    #[error("unsupported scheme {0:?} (use redis://, rediss:// or unix://)")]
    Scheme(String),
    /// No host before the port.
    #[error("missing host")]
    MissingHost,
    /// The port is not a number from 0 to 65535.
    #[error("invalid port {0:?}")]
    Port(String),
    /// `unix://` without a path.
    #[error("missing socket path")]
    MissingPath,
}

impl Target {
    /// Parses `redis://[user[:password]@]host[:port][/db]`, `rediss://...`, `unix:///path` and bare
    /// `host[:port]` (as upstream, taken as `redis://`). The port defaults to 6379.
    pub fn parse(addr: &str) -> Result<Target, AddrError> {
        let addr = addr.trim();
        let (scheme, rest) = match addr.split_once("://") {
            Some((s, r)) => (s.to_ascii_lowercase(), r),
            None => ("redis".to_string(), addr),
        };
        if scheme == "unix" {
            // unix:///run/redis.sock, optionally with credentials: unix://:pw@/run/redis.sock
            let (userinfo, path) = match rest.rsplit_once('@') {
                Some((u, p)) => (Some(u), p),
                None => (None, rest),
            };
            let path = path.split('?').next().unwrap_or("");
            if path.is_empty() {
                return Err(AddrError::MissingPath);
            }
            let (user, password) = split_userinfo(userinfo);
            return Ok(Target {
                endpoint: Endpoint::Unix(PathBuf::from(decode_lenient(path))),
                user,
                password,
            });
        }
        let tls = match scheme.as_str() {
            "redis" | "valkey" => false,
            "rediss" | "valkeys" => true,
            other => return Err(AddrError::Scheme(other.to_string())),
        };
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or(AddrError::MissingHost)?;
            (h.to_string(), after.strip_prefix(':').unwrap_or(""))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p),
                None => (hostport.to_string(), ""),
            }
        };
        if host.is_empty() {
            return Err(AddrError::MissingHost);
        }
        let port = if port.is_empty() {
            6379
        } else {
            port.parse()
                .map_err(|_| AddrError::Port(port.to_string()))?
        };
        let (user, password) = split_userinfo(userinfo);
        Ok(Target {
            endpoint: Endpoint::Tcp { host, port, tls },
            user,
            password,
        })
    }

    /// The address without credentials, for logs, errors and labels.
    pub fn redacted(&self) -> String {
        let user = self
            .user
            .as_deref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        match &self.endpoint {
            Endpoint::Tcp { host, port, tls } => {
                let scheme = if *tls { "rediss" } else { "redis" };
                if host.contains(':') {
                    format!("{scheme}://{user}[{host}]:{port}")
                } else {
                    format!("{scheme}://{user}{host}:{port}")
                }
            }
            Endpoint::Unix(p) => format!("unix://{user}{}", p.display()),
        }
    }

    /// True for `rediss://`.
    pub fn uses_tls(&self) -> bool {
        matches!(self.endpoint, Endpoint::Tcp { tls: true, .. })
    }

    /// The address to dial, for [`resp::Connector`].
    pub fn address(&self) -> resp::Address {
        match &self.endpoint {
            Endpoint::Tcp { host, port, .. } => resp::Address::Tcp {
                host: host.clone(),
                port: *port,
            },
            Endpoint::Unix(path) => resp::Address::Unix(path.clone()),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

fn split_userinfo(userinfo: Option<&str>) -> (Option<String>, Option<Secret>) {
    let Some(u) = userinfo else {
        return (None, None);
    };
    let (user, pass) = match u.split_once(':') {
        Some((user, pass)) => (user, Some(pass)),
        None => (u, None),
    };
    let user = (!user.is_empty()).then(|| decode_lenient(user));
    let pass = pass
        .filter(|p| !p.is_empty())
        .map(|p| Secret::new(decode_lenient(p)));
    (user, pass)
}

/// Hides the password of anything that looks like a URL with credentials, for messages that must
/// echo user input (`redis://u:secret@h` becomes `redis://u:***@h`).
pub fn redact_url(s: &str) -> String {
    let Some(scheme_end) = s.find("://") else {
        return s.to_string();
    };
    let rest = &s[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &s[..scheme_end + 3], user, &rest[at..])
        }
        None => s.to_string(),
    }
}

/// Why `--redis.password-file` cannot be used (saying where, never what: it holds passwords).
#[derive(Debug, thiserror::Error)]
pub enum PasswordFileError {
    /// The file cannot be read.
    #[error("--redis.password-file {path}: {source}")]
    Read {
        /// The file's path.
        path: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a JSON object of address to password.
    #[error("--redis.password-file {path}: not a JSON object of address to password: {message}")]
    Parse {
        /// The file's path.
        path: String,
        /// Where the JSON went wrong (line and column).
        message: String,
    },
}

/// Upstream's password file: a JSON object mapping a Redis URI to its password.
#[derive(Debug, Clone, Default)]
pub struct PasswordMap(HashMap<String, Secret>);

impl PasswordMap {
    /// Reads and parses the file.
    pub fn load(path: &Path) -> Result<Self, PasswordFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| PasswordFileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|message| PasswordFileError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses the JSON text. Errors say where, never what (the text holds passwords).
    pub fn parse(text: &str) -> Result<Self, String> {
        let map: HashMap<String, String> = serde_json::from_str(text)
            .map_err(|e| format!("line {} column {}", e.line(), e.column()))?;
        Ok(PasswordMap(
            map.into_iter().map(|(k, v)| (k, Secret::new(v))).collect(),
        ))
    }

    /// The password for `addr`: the exact string first, then the same address in canonical form
    /// (so `redis://h:6379` finds an entry written `redis://h` and the other way round).
    pub fn lookup(&self, addr: &str) -> Option<&Secret> {
        if let Some(s) = self.0.get(addr) {
            return Some(s);
        }
        let want = Target::parse(addr).ok()?.redacted();
        self.0
            .iter()
            .find(|(k, _)| {
                Target::parse(k)
                    .map(|t| t.redacted() == want)
                    .unwrap_or(false)
            })
            .map(|(_, v)| v)
    }

    /// The number of addresses listed.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no address is listed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_address_forms() {
        let t = Target::parse("redis://localhost:6380").unwrap();
        assert_eq!(
            t.endpoint,
            Endpoint::Tcp {
                host: "localhost".into(),
                port: 6380,
                tls: false
            }
        );
        let t = Target::parse("rediss://bob:p%40ss@example.com/2").unwrap();
        assert!(t.uses_tls());
        assert_eq!(t.user.as_deref(), Some("bob"));
        assert_eq!(t.password.as_ref().unwrap().expose(), "p@ss");
        let t = Target::parse("10.0.0.1").unwrap();
        assert_eq!(t.redacted(), "redis://10.0.0.1:6379");
        let t = Target::parse("redis://[::1]:7000").unwrap();
        assert_eq!(t.redacted(), "redis://[::1]:7000");
        let t = Target::parse("unix:///run/redis/redis.sock").unwrap();
        assert_eq!(t.endpoint, Endpoint::Unix("/run/redis/redis.sock".into()));
        let t = Target::parse("redis://:only-pass@h:1").unwrap();
        assert_eq!(t.user, None);
        assert_eq!(t.password.unwrap().expose(), "only-pass");
        assert_eq!(
            Target::parse("http://h").unwrap_err(),
            AddrError::Scheme("http".into())
        );
        assert_eq!(
            Target::parse("redis://h:port").unwrap_err(),
            AddrError::Port("port".into())
        );
        assert_eq!(
            Target::parse("redis://:1").unwrap_err(),
            AddrError::MissingHost
        );
        assert_eq!(
            Target::parse("unix://").unwrap_err(),
            AddrError::MissingPath
        );
    }

    #[test]
    fn nothing_formats_a_password() {
        let t = Target::parse("redis://u:hunter2@h:1").unwrap();
        for s in [t.redacted(), t.to_string(), format!("{t:?}")] {
            assert!(!s.contains("hunter2"), "{s}");
        }
        assert_eq!(redact_url("redis://u:hunter2@h:1/0"), "redis://u:***@h:1/0");
        assert_eq!(redact_url("redis://h:1"), "redis://h:1");
        assert_eq!(redact_url("h:1"), "h:1");
    }

    #[test]
    fn password_file_lookup() {
        let m = PasswordMap::parse(r#"{"redis://a:6379": "pa", "redis://b": "pb"}"#).unwrap();
        assert_eq!(m.lookup("redis://a:6379").unwrap().expose(), "pa");
        assert_eq!(m.lookup("redis://a").unwrap().expose(), "pa");
        assert_eq!(m.lookup("redis://b:6379").unwrap().expose(), "pb");
        assert!(m.lookup("redis://c:6379").is_none());
        let err = PasswordMap::parse(r#"{"redis://a": "secret-value", }"#).unwrap_err();
        assert!(!err.contains("secret-value"), "{err}");
        assert!(PasswordMap::parse("[1,2]").is_err());
    }
}
