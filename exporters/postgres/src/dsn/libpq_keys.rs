//! The libpq keys `tokio_postgres::Config` does not parse: taken out of a DSN (URI query or
//! key=value string) before tokio-postgres reads the rest, and applied here (the TLS ones we
//! implement ourselves), accepted without effect, or refused because ignoring them would weaken
//! what libpq promises. Errors name keys, never values.

use std::path::PathBuf;

use exporter_core::percent;

use super::{DsnError, SslMode, TlsVersion};

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
pub(super) struct OwnSettings {
    pub(super) sslmode: SslMode,
    pub(super) sslrootcert: Option<PathBuf>,
    pub(super) sslcert: Option<PathBuf>,
    pub(super) sslkey: Option<PathBuf>,
    pub(super) sslsni: bool,
    pub(super) ssl_min_protocol_version: Option<TlsVersion>,
    pub(super) ssl_max_protocol_version: Option<TlsVersion>,
    pub(super) fallback_application_name: Option<String>,
    /// `sslcertmode=disable`: never present a client certificate.
    pub(super) no_client_certificate: bool,
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

    /// Checks the keys that go together and drops what `sslcertmode=disable` turns off.
    pub(super) fn check(&mut self) -> Result<(), DsnError> {
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

/// Takes the parameters tokio-postgres does not know out of a URI's query string; the rest of
/// the URI (credentials, hosts, ports, database) is left for tokio-postgres to parse.
pub(super) fn strip_uri_params(uri: &str, own: &mut OwnSettings) -> Result<String, DsnError> {
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
        let key = percent::decode_strict(raw_key)
            .ok_or_else(|| DsnError::Invalid("bad percent-encoding in a parameter name".into()))?;
        match tokio_postgres_key(&key) {
            Some(name) => kept.push(format!("{name}={raw_value}")),
            None => {
                let value = percent::decode_strict(raw_value).ok_or_else(|| DsnError::Param {
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
pub(super) fn strip_key_values(text: &str, own: &mut OwnSettings) -> Result<String, DsnError> {
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Dsn;
    use super::*;

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
    fn key_value_quoting() {
        assert_eq!(quote_value(r"a b'c\"), r"'a b\'c\\'");
        assert_eq!(
            parse_key_values(r"a=1  b = 'x \' y' c=d\ e").unwrap(),
            [
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "x ' y".to_string()),
                ("c".to_string(), "d e".to_string())
            ]
        );
        assert!(parse_key_values("a=1 lonely").is_err());
    }
}
