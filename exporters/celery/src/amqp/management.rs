//! Queue depth from RabbitMQ's management API (`--rabbitmq-management-url`): one
//! `GET /api/queues/{vhost}` per scrape instead of a passive declare per queue, and every queue of
//! the vhost without naming it. Pure parts: the URL, the HTTP/1.1 response (length or chunked) and
//! the JSON; the GET itself is a plain TCP exchange under the scrape deadline.

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::broker_url::ConfigError;
use exporter_core::percent;

/// `http://[user:password@]host[:port][/prefix]`; credentials default to the broker URL's.
#[derive(Clone, PartialEq, Eq)]
pub struct ManagementUrl {
    /// Host of the management listener.
    pub host: String,
    /// Its port (15672 by default).
    pub port: u16,
    /// Path prefix (`management.path_prefix`), without a trailing slash.
    pub prefix: String,
    /// User and password of the URL; the broker URL's when absent.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for ManagementUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl ManagementUrl {
    /// `http://[user:password@]host[:port][/prefix]`.
    pub fn parse(url: &str) -> Result<ManagementUrl, ConfigError> {
        let e = |m: &str| ConfigError(format!("--rabbitmq-management-url: {m}"));
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| e("expected http://[user:password@]host:port[/prefix]"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let credentials = match userinfo {
            None => None,
            Some(ui) => {
                let (u, p) = ui.split_once(':').unwrap_or((ui, ""));
                Some((
                    percent::decode_strict(u)
                        .ok_or_else(|| e("bad percent-encoding in the user"))?,
                    percent::decode_strict(p)
                        .ok_or_else(|| e("bad percent-encoding in the password"))?,
                ))
            }
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => (
                h.trim_start_matches('[').trim_end_matches(']').to_string(),
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| e("the port must be a number from 1 to 65535"))?,
            ),
            _ => (hostport.to_string(), 15672),
        };
        if host.is_empty() {
            return Err(e("no host"));
        }
        Ok(ManagementUrl {
            host,
            port,
            prefix: path.to_string(),
            credentials,
        })
    }

    /// The URL without the password.
    pub fn redacted(&self) -> String {
        let user = match &self.credentials {
            Some((u, _)) => format!("{}:<secret>@", percent::encode(u)),
            None => String::new(),
        };
        format!("http://{user}{}:{}{}", self.host, self.port, self.prefix)
    }

    /// The request path listing `vhost`'s queues, only the columns we read.
    pub fn queues_path(&self, vhost: &str) -> String {
        format!(
            "{}/api/queues/{}?columns=name,messages_ready,messages_unacknowledged,consumers",
            self.prefix,
            percent::encode(vhost)
        )
    }
}

/// One queue as `/api/queues` lists it. Counts are absent for a queue whose stats have not been
/// emitted yet (just declared): read as 0.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct QueueInfo {
    /// The queue's name.
    pub name: String,
    /// Messages ready for delivery.
    #[serde(default)]
    pub messages_ready: Option<u64>,
    /// Delivered and not acknowledged.
    #[serde(default)]
    pub messages_unacknowledged: Option<u64>,
    /// Consumers of the queue.
    #[serde(default)]
    pub consumers: Option<u64>,
}

/// Queues Celery and kombu create for themselves: event receivers (`celeryev.<uuid>`), remote
/// control (`<host>.celery.pidbox`, `reply.celery.pidbox`) and server-named ones.
pub fn is_internal_queue(name: &str) -> bool {
    name.starts_with("celeryev.")
        || name.ends_with(".pidbox")
        || name.starts_with("amq.")
        || name.starts_with("celery@") && name.contains(".pidbox")
}

/// The JSON array `/api/queues` answers.
pub fn parse_queues(body: &[u8]) -> Result<Vec<QueueInfo>, String> {
    serde_json::from_slice(body).map_err(|e| format!("unexpected /api/queues body: {e}"))
}

/// Status and body of an HTTP/1.1 response read to the end (`Connection: close`), with either a
/// `Content-Length` or chunked transfer encoding.
pub fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let head_end = find(raw, b"\r\n\r\n").ok_or("truncated HTTP response head")?;
    let head = std::str::from_utf8(&raw[..head_end]).map_err(|_| "HTTP head is not text")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("bad HTTP status line {status_line:?}"))?;
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked") {
            chunked = true;
        } else if k.eq_ignore_ascii_case("content-length") {
            length = v.parse::<usize>().ok();
        }
    }
    let body = &raw[head_end + 4..];
    if chunked {
        return Ok((status, dechunk(body)?));
    }
    match length {
        Some(n) if body.len() < n => Err("truncated HTTP body".into()),
        Some(n) => Ok((status, body[..n].to_vec())),
        None => Ok((status, body.to_vec())),
    }
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(body.len());
    loop {
        let line_end = find(body, b"\r\n").ok_or("truncated chunk size")?;
        let size_text = std::str::from_utf8(&body[..line_end]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk size")?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size + 2 {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Standard base64 for the Basic authorization header.
fn basic_auth(user: &str, password: &str) -> String {
    exporter_core::base64::encode(format!("{user}:{password}").as_bytes())
}

/// The largest `/api/queues` answer read (about 20,000 queues with our four columns).
const MAX_RESPONSE: usize = 16 << 20;

/// `GET path` on the management listener with basic auth; the body of a 200 answer.
pub async fn get(
    url: &ManagementUrl,
    path: &str,
    user: &str,
    password: &str,
) -> Result<Vec<u8>, String> {
    let mut stream = tokio::net::TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(|e| {
            format!(
                "cannot connect to the management API at {}: {e}",
                url.redacted()
            )
        })?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}:{}\r\nAuthorization: Basic {}\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
        url.host,
        url.port,
        basic_auth(user, password)
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("management API: {e}"))?;
    let mut raw = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("management API: {e}"))?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&chunk[..n]);
        if raw.len() > MAX_RESPONSE {
            return Err("management API answer larger than 16 MiB".into());
        }
    }
    let (status, body) = parse_response(&raw)?;
    match status {
        200 => Ok(body),
        401 => Err("management API refused the credentials (401)".into()),
        404 => Err("management API: no such vhost (404)".into()),
        s => Err(format!("management API answered HTTP {s}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = ManagementUrl::parse("http://admin:s3cret@rabbit:15673/rmq/").unwrap();
        assert_eq!(u.host, "rabbit");
        assert_eq!(u.port, 15673);
        assert_eq!(u.prefix, "/rmq");
        assert_eq!(u.redacted(), "http://admin:<secret>@rabbit:15673/rmq");
        assert_eq!(
            u.queues_path("/"),
            "/rmq/api/queues/%2F?columns=name,messages_ready,messages_unacknowledged,consumers"
        );
        let u = ManagementUrl::parse("http://rabbit").unwrap();
        assert_eq!((u.port, u.credentials), (15672, None));
        assert!(ManagementUrl::parse("https://rabbit").is_err());
        assert!(ManagementUrl::parse("http://u:s3cret@h:0")
            .unwrap_err()
            .0
            .find("s3cret")
            .is_none());
    }

    #[test]
    fn responses_with_length_or_chunks() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n[]";
        assert_eq!(parse_response(raw).unwrap(), (200, b"[]".to_vec()));
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[{\"\r\n2;x=y\r\n}]\r\n0\r\n\r\n";
        assert_eq!(parse_response(raw).unwrap(), (200, b"[{\"}]".to_vec()));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n[]").is_err());
        assert!(parse_response(b"garbage").is_err());
        assert_eq!(
            parse_response(b"HTTP/1.1 401 Unauthorized\r\n\r\n")
                .unwrap()
                .0,
            401
        );
    }

    #[test]
    fn queue_lists() {
        let body =
            br#"[{"name":"celery","messages_ready":3,"messages_unacknowledged":1,"consumers":2},
            {"name":"fresh"},
            {"name":"celeryev.1b2c","messages_ready":0,"consumers":1}]"#;
        let q = parse_queues(body).unwrap();
        assert_eq!(q.len(), 3);
        assert_eq!(q[0].messages_ready, Some(3));
        assert_eq!(q[1].consumers, None);
        assert!(is_internal_queue(&q[2].name));
        assert!(is_internal_queue("w1@test.celery.pidbox"));
        assert!(is_internal_queue("reply.celery.pidbox"));
        assert!(!is_internal_queue("celery"));
        assert!(parse_queues(b"{}").is_err());
    }
}
