//! `amqp://` and `amqps://` broker URLs, as kombu reads them: `amqp://user:pass@host:5672/vhost`,
//! credentials and virtual host percent-encoded, `guest:guest` and vhost `/` by default. Pure:
//! a string in, a value out; the password never reaches `Debug`, logs or error messages.

use std::path::PathBuf;

use exporter_core::percent;

use crate::broker_url::{split_url, url_host, ConfigError};

/// Where a RabbitMQ broker is and how to log in.
#[derive(Clone, PartialEq, Eq)]
pub struct AmqpUrl {
    /// `amqps://`.
    pub tls: bool,
    /// The broker's host.
    pub host: String,
    /// Its port (5672, or 5671 for `amqps://`).
    pub port: u16,
    /// The user (`guest` by default, as kombu).
    pub username: String,
    /// The password (`guest` by default); never printed.
    pub password: String,
    /// The virtual host (`/` by default).
    pub vhost: String,
    /// Heartbeat in seconds asked of the server (`?heartbeat=`), so a silent dead peer is
    /// noticed within two periods.
    pub heartbeat: u16,
    /// `?cacertfile=` (RabbitMQ's and py-amqp's name; `ssl_ca_certs` accepted too): the CAs
    /// that sign the broker's certificate; the system bundle otherwise.
    pub ca_certs: Option<PathBuf>,
}

impl std::fmt::Debug for AmqpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// The heartbeat asked for when the URL names none: a broker restart without a FIN is noticed
/// within 20 s.
pub const DEFAULT_HEARTBEAT: u16 = 10;

fn err(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

impl AmqpUrl {
    /// Whether `url` names an AMQP broker (so the Redis parser is not asked).
    pub fn is_amqp(url: &str) -> bool {
        let scheme = url.split_once("://").map_or("", |(s, _)| s);
        matches!(
            scheme.to_ascii_lowercase().as_str(),
            "amqp" | "amqps" | "pyamqp" | "librabbitmq"
        )
    }

    /// The URL without the password, for logs and messages: `amqp://user:<secret>@host:port/vhost`.
    pub fn redacted(&self) -> String {
        let scheme = if self.tls { "amqps" } else { "amqp" };
        format!(
            "{scheme}://{}:<secret>@{}:{}/{}",
            percent::encode(&self.username),
            url_host(&self.host),
            self.port,
            percent::encode(&self.vhost)
        )
    }

    /// `amqp://[user[:password]@]host[:port][/vhost][?heartbeat=N&cacertfile=FILE]`, and
    /// `amqps://` (TLS, port 5671). kombu's aliases `pyamqp://` and `librabbitmq://` are read as
    /// `amqp://`. An empty path or `/` is the default vhost `/` (kombu's rule; `//` spells it too).
    pub fn parse(url: &str) -> Result<AmqpUrl, ConfigError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| err("--broker-url: expected amqp://user:password@host:port/vhost"))?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "amqp" | "pyamqp" | "librabbitmq" => false,
            "amqps" => true,
            _ => {
                return Err(err(
                    "--broker-url: scheme must be redis, rediss, amqp or amqps",
                ))
            }
        };
        let parts = split_url(rest)?;
        let (username, password) = match parts.credentials {
            None => ("guest".to_string(), "guest".to_string()),
            Some((u, p)) => {
                let u = percent::decode_strict(u)
                    .ok_or_else(|| err("--broker-url: bad percent-encoding in the user name"))?;
                let p = match p {
                    Some(p) => percent::decode_strict(p)
                        .ok_or_else(|| err("--broker-url: bad percent-encoding in the password"))?,
                    None => "guest".to_string(),
                };
                let u = if u.is_empty() { "guest".to_string() } else { u };
                (u, p)
            }
        };
        let port = parts.port.unwrap_or(if tls { 5671 } else { 5672 });
        let vhost = if parts.path.is_empty() || parts.path == "/" {
            "/".to_string()
        } else {
            percent::decode_strict(parts.path)
                .ok_or_else(|| err("--broker-url: bad percent-encoding in the virtual host"))?
        };
        let mut url = AmqpUrl {
            tls,
            host: parts.host.to_string(),
            port,
            username,
            password,
            vhost,
            heartbeat: DEFAULT_HEARTBEAT,
            ca_certs: None,
        };
        for (k, v) in parts.params() {
            let v = percent::decode_strict(v)
                .ok_or_else(|| err(format!("--broker-url: bad percent-encoding in {k}")))?;
            match k {
                "heartbeat" => {
                    url.heartbeat = v.parse().map_err(|_| {
                        err("--broker-url: heartbeat must be a whole number of seconds (0-65535)")
                    })?
                }
                "cacertfile" | "ssl_ca_certs" => {
                    if !tls {
                        return Err(err(format!("--broker-url: {k} needs amqps://")));
                    }
                    url.ca_certs = Some(PathBuf::from(v));
                }
                // What kombu and py-amqp accept and we do without.
                "connect_timeout" | "ssl" | "verify" | "server_name_indication" => {}
                _ => {
                    return Err(err(format!(
                        "--broker-url: unknown parameter {k} (known: heartbeat, cacertfile)"
                    )))
                }
            }
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kombu_defaults() {
        let u = AmqpUrl::parse("amqp://localhost").unwrap();
        assert_eq!(
            (
                u.tls,
                u.host.as_str(),
                u.port,
                u.username.as_str(),
                u.password.as_str(),
                u.vhost.as_str()
            ),
            (false, "localhost", 5672, "guest", "guest", "/")
        );
        for url in ["amqp://h/", "amqp://h//", "amqp://h/%2F", "amqp://h/%2f"] {
            assert_eq!(AmqpUrl::parse(url).unwrap().vhost, "/", "{url}");
        }
        let u = AmqpUrl::parse("amqps://h").unwrap();
        assert_eq!((u.tls, u.port), (true, 5671));
        assert_eq!(AmqpUrl::parse("pyamqp://h").unwrap().port, 5672);
    }

    #[test]
    fn credentials_and_vhost_are_percent_decoded() {
        let u = AmqpUrl::parse(
            "amqp://us%40er:p%3Ass@w@rd@rabbit.example:5673/my%2Fvhost?heartbeat=30",
        )
        .unwrap();
        assert_eq!(u.username, "us@er");
        assert_eq!(u.password, "p:ss@w@rd");
        assert_eq!(u.host, "rabbit.example");
        assert_eq!(u.port, 5673);
        assert_eq!(u.vhost, "my/vhost");
        assert_eq!(u.heartbeat, 30);
        let u = AmqpUrl::parse("amqp://[::1]:5999/v").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 5999));
    }

    #[test]
    fn the_password_never_shows() {
        let u = AmqpUrl::parse("amqp://admin:hunter2@h:5672/prod").unwrap();
        assert_eq!(u.redacted(), "amqp://admin:<secret>@h:5672/prod");
        assert!(!format!("{u:?}").contains("hunter2"));
        let u = AmqpUrl::parse("amqps://h").unwrap();
        assert_eq!(u.redacted(), "amqps://guest:<secret>@h:5671/%2F");
        for bad in [
            "amqp://u:hunter2@h:0/v",
            "amqp://u:hunter2@h:99999/v",
            "amqp://u:hunter2@h/v?bogus=1",
            "amqp://u:hunter2@h/v?heartbeat=x",
            "amqp://u:hunter2@h/%zz",
            "amqp://u:hunter2@h/v?cacertfile=/x",
        ] {
            let e = AmqpUrl::parse(bad).unwrap_err();
            assert!(!e.0.contains("hunter2"), "{bad}: {}", e.0);
        }
    }

    #[test]
    fn schemes() {
        assert!(AmqpUrl::is_amqp("AMQP://h"));
        assert!(AmqpUrl::is_amqp("amqps://h"));
        assert!(!AmqpUrl::is_amqp("redis://h"));
        let u = AmqpUrl::parse("amqps://h/?cacertfile=/etc/ca.pem").unwrap();
        assert_eq!(u.ca_certs, Some(PathBuf::from("/etc/ca.pem")));
    }
}
