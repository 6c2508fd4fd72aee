//! RESP2, the Redis wire protocol: a pure parser over bytes and a command encoder.
//!
//! The parser never panics and never trusts a length it has not checked: truncated input asks for
//! more bytes (`Ok(None)`), malformed input is an error.

/// One reply from the server.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`
    Status(String),
    /// `-ERR message`
    Error(String),
    /// `:42`
    Integer(i64),
    /// `$5\r\nhello` (`None` for the nil bulk string `$-1`)
    Bulk(Option<Vec<u8>>),
    /// `*2\r\n...` (`None` for the nil array `*-1`)
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The reply as text: status and bulk strings (lossy UTF-8), integers formatted.
    pub fn as_text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Reply::Status(s) => Some(std::borrow::Cow::Borrowed(s)),
            Reply::Bulk(Some(b)) => Some(String::from_utf8_lossy(b)),
            Reply::Integer(i) => Some(std::borrow::Cow::Owned(i.to_string())),
            _ => None,
        }
    }

    /// The reply as an integer: integers, and strings that hold one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Integer(i) => Some(*i),
            Reply::Bulk(Some(b)) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
            Reply::Status(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Reply]> {
        match self {
            Reply::Array(Some(items)) => Some(items),
            _ => None,
        }
    }

    pub fn error(&self) -> Option<&str> {
        match self {
            Reply::Error(e) => Some(e),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RespError {
    #[error("invalid RESP type byte 0x{0:02x}")]
    BadType(u8),
    #[error("invalid RESP length")]
    BadLength,
    #[error("invalid RESP integer")]
    BadInteger,
    #[error("bulk string not terminated by CRLF")]
    MissingCrlf,
    #[error("RESP reply nested too deeply")]
    TooDeep,
}

/// Deepest nesting accepted (Redis replies nest a few levels at most).
const MAX_DEPTH: usize = 32;
/// Largest bulk string accepted (Redis' own proto-max-bulk-len default is 512 MiB).
const MAX_BULK: i64 = 512 * 1024 * 1024;
/// Most array elements accepted in one reply.
const MAX_ARRAY: i64 = 64 * 1024 * 1024;

/// Parses one reply from the start of `buf`. `Ok(None)` means the reply is not complete yet;
/// `Ok(Some((reply, n)))` means it took the first `n` bytes.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, RespError> {
    parse_at(buf, 0, 0)
}

fn parse_at(buf: &[u8], pos: usize, depth: usize) -> Result<Option<(Reply, usize)>, RespError> {
    if depth > MAX_DEPTH {
        return Err(RespError::TooDeep);
    }
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    let Some((line, next)) = read_line(buf, pos + 1) else {
        return Ok(None);
    };
    match kind {
        b'+' => Ok(Some((
            Reply::Status(String::from_utf8_lossy(line).into_owned()),
            next,
        ))),
        b'-' => Ok(Some((
            Reply::Error(String::from_utf8_lossy(line).into_owned()),
            next,
        ))),
        b':' => Ok(Some((Reply::Integer(parse_int(line)?), next))),
        b'$' => {
            let len = parse_int(line)?;
            if len == -1 {
                return Ok(Some((Reply::Bulk(None), next)));
            }
            if !(0..=MAX_BULK).contains(&len) {
                return Err(RespError::BadLength);
            }
            let end = next + len as usize;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(RespError::MissingCrlf);
            }
            Ok(Some((Reply::Bulk(Some(buf[next..end].to_vec())), end + 2)))
        }
        b'*' => {
            let len = parse_int(line)?;
            if len == -1 {
                return Ok(Some((Reply::Array(None), next)));
            }
            if !(0..=MAX_ARRAY).contains(&len) {
                return Err(RespError::BadLength);
            }
            // Every element takes at least 3 bytes: do not reserve for lengths the buffer cannot hold.
            let mut items = Vec::with_capacity((len as usize).min((buf.len() - next) / 3 + 1));
            let mut at = next;
            for _ in 0..len {
                match parse_at(buf, at, depth + 1)? {
                    Some((item, n)) => {
                        items.push(item);
                        at = n;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Reply::Array(Some(items)), at)))
        }
        other => Err(RespError::BadType(other)),
    }
}

/// The bytes up to the next CRLF, and the position after it.
fn read_line(buf: &[u8], from: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(from..)?;
    let i = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..i], from + i + 2))
}

fn parse_int(line: &[u8]) -> Result<i64, RespError> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(RespError::BadInteger)
}

/// Appends one command in RESP's array-of-bulk-strings form.
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    use std::io::Write;
    let _ = write!(out, "*{}\r\n", args.len());
    for a in args {
        let a = a.as_ref();
        let _ = write!(out, "${}\r\n", a.len());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &[u8]) -> Reply {
        let (r, n) = parse_reply(s).unwrap().unwrap();
        assert_eq!(n, s.len());
        r
    }

    #[test]
    fn parses_every_type() {
        assert_eq!(one(b"+OK\r\n"), Reply::Status("OK".into()));
        assert_eq!(one(b"-ERR bad\r\n"), Reply::Error("ERR bad".into()));
        assert_eq!(one(b":-12\r\n"), Reply::Integer(-12));
        assert_eq!(
            one(b"$5\r\nhe\r\no\r\n"),
            Reply::Bulk(Some(b"he\r\no".to_vec()))
        );
        assert_eq!(one(b"$0\r\n\r\n"), Reply::Bulk(Some(vec![])));
        assert_eq!(one(b"$-1\r\n"), Reply::Bulk(None));
        assert_eq!(one(b"*-1\r\n"), Reply::Array(None));
        assert_eq!(
            one(b"*2\r\n:1\r\n*1\r\n$1\r\nx\r\n"),
            Reply::Array(Some(vec![
                Reply::Integer(1),
                Reply::Array(Some(vec![Reply::Bulk(Some(b"x".to_vec()))]))
            ]))
        );
    }

    #[test]
    fn leaves_following_replies_in_the_buffer() {
        let (r, n) = parse_reply(b":1\r\n+OK\r\n").unwrap().unwrap();
        assert_eq!((r, n), (Reply::Integer(1), 4));
    }

    #[test]
    fn every_truncation_asks_for_more() {
        let full = b"*3\r\n$5\r\nhello\r\n:42\r\n*2\r\n+a\r\n-b\r\n";
        assert!(parse_reply(full).unwrap().is_some());
        for cut in 0..full.len() {
            assert_eq!(parse_reply(&full[..cut]), Ok(None), "cut at {cut}");
        }
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        for bad in [
            &b"?what\r\n"[..],
            b":12a\r\n",
            b"$abc\r\n",
            b"$-5\r\n",
            b"$3\r\nabcde\r\n",
            b"*-2\r\n",
            b"*99999999999999999999\r\n",
            b"$9999999999999\r\n",
            b"*1\r\n!x\r\n",
        ] {
            assert!(
                parse_reply(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep: Vec<u8> = b"*1\r\n".repeat(100);
        assert_eq!(parse_reply(&deep), Err(RespError::TooDeep));
        // A pseudo-random byte soup: any outcome but a panic.
        let mut x: u32 = 12345;
        for _ in 0..2000 {
            let len = (x % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    b"*$:+-\r\n0123456789-ab"[(x >> 16) as usize % 20]
                })
                .collect();
            let _ = parse_reply(&bytes);
        }
    }

    #[test]
    fn encodes_commands() {
        let mut out = Vec::new();
        encode_command(&mut out, &["GET", "k y"]);
        assert_eq!(out, b"*2\r\n$3\r\nGET\r\n$3\r\nk y\r\n");
    }
}
