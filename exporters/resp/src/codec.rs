//! The RESP2 codec: an incremental parser that borrows from the read buffer, owned replies, and
//! a command encoder. Pure functions over bytes; the parser never trusts a length it reads.

/// Largest bulk string accepted: Redis' own `proto-max-bulk-len` default, so no reply a Redis
/// server can send is refused, and nothing larger makes the read buffer grow.
pub const MAX_BULK: usize = 512 * 1024 * 1024;
/// Largest array accepted (pub/sub frames have 3 or 4 elements, SCAN and SMEMBERS replies more).
pub const MAX_ARRAY: usize = 64 * 1024 * 1024;
/// Deepest nesting accepted (Redis replies nest a few levels at most).
const MAX_DEPTH: usize = 16;

/// One RESP2 value, borrowing its bytes from the buffer it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// `+OK`
    Simple(&'a [u8]),
    /// `-ERR message`
    Error(&'a [u8]),
    /// `:42`
    Integer(i64),
    /// `None` is the null bulk string (`$-1`).
    Bulk(Option<&'a [u8]>),
    /// `None` is the null array (`*-1`).
    Array(Option<Vec<Value<'a>>>),
}

impl<'a> Value<'a> {
    /// The bytes of a simple or bulk string.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Simple(b) | Value::Bulk(Some(b)) => Some(b),
            _ => None,
        }
    }

    /// An integer reply, or a string holding an integer (SCAN cursors are bulk strings).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            other => std::str::from_utf8(other.as_bytes()?).ok()?.parse().ok(),
        }
    }

    /// A copy that no longer borrows the read buffer.
    pub fn to_owned_value(&self) -> Reply {
        match self {
            Value::Simple(b) => Reply::Simple(b.to_vec()),
            Value::Error(b) => Reply::Error(String::from_utf8_lossy(b).into_owned()),
            Value::Integer(i) => Reply::Integer(*i),
            Value::Bulk(b) => Reply::Bulk(b.map(<[u8]>::to_vec)),
            Value::Array(a) => Reply::Array(
                a.as_ref()
                    .map(|items| items.iter().map(Value::to_owned_value).collect()),
            ),
        }
    }
}

/// An owned reply, for request/response commands.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`
    Simple(Vec<u8>),
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
    /// The bytes of a simple or bulk string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Simple(b) | Reply::Bulk(Some(b)) => Some(b),
            _ => None,
        }
    }

    /// The reply as text: simple and bulk strings (lossy UTF-8), integers formatted.
    pub fn as_text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Reply::Integer(i) => Some(std::borrow::Cow::Owned(i.to_string())),
            other => other.as_bytes().map(String::from_utf8_lossy),
        }
    }

    /// The reply as an integer: integers, and strings that hold one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Integer(i) => Some(*i),
            other => std::str::from_utf8(other.as_bytes()?)
                .ok()?
                .trim()
                .parse()
                .ok(),
        }
    }

    /// The elements of a (non-nil) array.
    pub fn as_array(&self) -> Option<&[Reply]> {
        match self {
            Reply::Array(Some(items)) => Some(items),
            _ => None,
        }
    }

    /// The message of an error reply.
    pub fn error(&self) -> Option<&str> {
        match self {
            Reply::Error(e) => Some(e),
            _ => None,
        }
    }
}

/// Bytes that are not RESP2, or a frame beyond the limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The first byte of a value is none of `+ - : $ *`.
    #[error("unexpected type byte {0:#04x}")]
    BadType(u8),
    /// A length or integer that is not a decimal number.
    #[error("malformed length or integer")]
    BadNumber,
    /// A line or bulk string not ended by CRLF.
    #[error("bulk string not terminated by CRLF")]
    BadTerminator,
    /// A bulk string over [`MAX_BULK`], an array over [`MAX_ARRAY`] or a header line over 64 KiB.
    #[error("frame exceeds the size limit")]
    TooLarge,
    /// Arrays nested deeper than 16.
    #[error("values nested too deeply")]
    TooDeep,
}

/// Parses one value from the front of `buf`. `Ok(None)`: the value is not complete yet, read
/// more. `Ok(Some((value, n)))`: the value took the first `n` bytes.
pub fn parse(buf: &[u8]) -> Result<Option<(Value<'_>, usize)>, ProtocolError> {
    parse_at(buf, 0, 0)
}

/// [`parse`], as an owned [`Reply`].
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, ProtocolError> {
    Ok(parse(buf)?.map(|(value, n)| (value.to_owned_value(), n)))
}

fn parse_at(
    buf: &[u8],
    pos: usize,
    depth: usize,
) -> Result<Option<(Value<'_>, usize)>, ProtocolError> {
    if depth > MAX_DEPTH {
        return Err(ProtocolError::TooDeep);
    }
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    let Some((line, after)) = line(buf, pos + 1)? else {
        return Ok(None);
    };
    match kind {
        b'+' => Ok(Some((Value::Simple(line), after))),
        b'-' => Ok(Some((Value::Error(line), after))),
        b':' => Ok(Some((Value::Integer(number(line)?), after))),
        b'$' => {
            let Some(len) = length(line, MAX_BULK)? else {
                return Ok(Some((Value::Bulk(None), after)));
            };
            let end = after + len;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(ProtocolError::BadTerminator);
            }
            Ok(Some((Value::Bulk(Some(&buf[after..end])), end + 2)))
        }
        b'*' => {
            let Some(n) = length(line, MAX_ARRAY)? else {
                return Ok(Some((Value::Array(None), after)));
            };
            // Never pre-allocate from an untrusted count.
            let mut items = Vec::with_capacity(n.min(16));
            let mut at = after;
            for _ in 0..n {
                match parse_at(buf, at, depth + 1)? {
                    Some((v, next)) => {
                        items.push(v);
                        at = next;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Value::Array(Some(items)), at)))
        }
        other => Err(ProtocolError::BadType(other)),
    }
}

/// The line starting at `from` (without CRLF) and the position after its CRLF.
fn line(buf: &[u8], from: usize) -> Result<Option<(&[u8], usize)>, ProtocolError> {
    let rest = buf.get(from..).unwrap_or_default();
    match rest.iter().position(|&b| b == b'\r') {
        Some(i) => match rest.get(i + 1) {
            Some(b'\n') => Ok(Some((&rest[..i], from + i + 2))),
            Some(_) => Err(ProtocolError::BadTerminator),
            None => Ok(None),
        },
        // A header line is short: a long run without CR is garbage, not a slow sender.
        None if rest.len() > 64 * 1024 => Err(ProtocolError::TooLarge),
        None => Ok(None),
    }
}

/// The length of a bulk string or an array (`line` is its header without the type byte): `None`
/// for `-1` (nil), an error for any other negative number or one over `max`.
fn length(line: &[u8], max: usize) -> Result<Option<usize>, ProtocolError> {
    let n = number(line)?;
    if n == -1 {
        return Ok(None);
    }
    let n = usize::try_from(n).map_err(|_| ProtocolError::BadNumber)?;
    if n > max {
        return Err(ProtocolError::TooLarge);
    }
    Ok(Some(n))
}

fn number(line: &[u8]) -> Result<i64, ProtocolError> {
    if line.is_empty() || line.len() > 20 {
        return Err(ProtocolError::BadNumber);
    }
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(ProtocolError::BadNumber)
}

/// Appends one command (an array of bulk strings) to `out`.
pub fn encode_command<A: AsRef<[u8]>>(args: &[A], out: &mut Vec<u8>) {
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.push(b'$');
        out.extend_from_slice(a.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Escapes Redis glob metacharacters so `s` matches itself in PSUBSCRIBE and SCAN MATCH.
pub fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(buf: &[u8]) -> Value<'_> {
        let (v, n) = parse(buf).unwrap().unwrap();
        assert_eq!(n, buf.len());
        v
    }

    #[test]
    fn parses_every_type() {
        assert_eq!(full(b"+OK\r\n"), Value::Simple(b"OK"));
        assert_eq!(full(b"-ERR no\r\n"), Value::Error(b"ERR no"));
        assert_eq!(full(b":-42\r\n"), Value::Integer(-42));
        assert_eq!(full(b"$3\r\na\rb\r\n"), Value::Bulk(Some(b"a\rb")));
        assert_eq!(full(b"$0\r\n\r\n"), Value::Bulk(Some(b"")));
        assert_eq!(full(b"$-1\r\n"), Value::Bulk(None));
        assert_eq!(full(b"*-1\r\n"), Value::Array(None));
        assert_eq!(
            full(b"*4\r\n$8\r\npmessage\r\n$3\r\np/*\r\n$3\r\np/x\r\n$2\r\n{}\r\n"),
            Value::Array(Some(vec![
                Value::Bulk(Some(b"pmessage")),
                Value::Bulk(Some(b"p/*")),
                Value::Bulk(Some(b"p/x")),
                Value::Bulk(Some(b"{}")),
            ]))
        );
        assert_eq!(
            full(b"*2\r\n*1\r\n:1\r\n+x\r\n"),
            Value::Array(Some(vec![
                Value::Array(Some(vec![Value::Integer(1)])),
                Value::Simple(b"x")
            ]))
        );
    }

    #[test]
    fn every_truncation_asks_for_more() {
        let frame = b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n:7\r\n";
        let first = frame.len() - 4;
        for cut in 0..first {
            assert_eq!(parse(&frame[..cut]), Ok(None), "cut at {cut}");
        }
        let (_, n) = parse(frame).unwrap().unwrap();
        assert_eq!(n, first);
        // The next frame follows.
        assert_eq!(parse(&frame[n..]).unwrap().unwrap().0, Value::Integer(7));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            &b"?what\r\n"[..],
            b":abc\r\n",
            b":\r\n",
            b"$-2\r\n",
            b"$3\r\nabcde\r\n",
            b"*-5\r\n",
            b"$99999999999999999999999\r\n",
            b"$9999999999\r\n",
            b"*99999999\r\n",
            b"+x\rz",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let deep: Vec<u8> = b"*1\r\n".repeat(100);
        assert_eq!(parse(&deep), Err(ProtocolError::TooDeep));
        assert!(parse(&vec![b'+'; 70 * 1024]).is_err());
    }

    #[test]
    fn pseudo_random_bytes_never_panic() {
        // xorshift: deterministic, no dependency.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let alphabet = b"*$:+-\r\n0123456789-abc";
        for _ in 0..20_000 {
            let len = (x % 40) as usize;
            let mut buf = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            let _ = parse(&buf);
        }
    }

    #[test]
    fn encodes_commands_and_round_trips() {
        let mut out = Vec::new();
        encode_command(&["LLEN", "q\x06\x163"], &mut out);
        assert_eq!(out, b"*2\r\n$4\r\nLLEN\r\n$4\r\nq\x06\x163\r\n");
        let v = full(&out);
        assert_eq!(
            v.to_owned_value().as_array().unwrap()[1].as_bytes(),
            Some(&b"q\x06\x163"[..])
        );
        assert_eq!(Value::Bulk(Some(b"17")).as_int(), Some(17));
    }

    #[test]
    fn owned_replies_read_as_text_integers_and_errors() {
        let (r, n) = parse_reply(b":1\r\n+OK\r\n").unwrap().unwrap();
        assert_eq!((r, n), (Reply::Integer(1), 4));
        let simple = parse_reply(b"+OK\r\n").unwrap().unwrap().0;
        assert_eq!(simple.as_text().as_deref(), Some("OK"));
        assert_eq!(Reply::Integer(7).as_text().as_deref(), Some("7"));
        assert_eq!(Reply::Bulk(Some(b" 12\r\n".to_vec())).as_int(), Some(12));
        let err = parse_reply(b"-ERR bad\r\n").unwrap().unwrap().0;
        assert_eq!(err.error(), Some("ERR bad"));
        assert_eq!(err.as_text(), None);
        assert_eq!(Reply::Bulk(None).as_text(), None);
    }

    #[test]
    fn glob_escape_quotes_metacharacters() {
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
        assert_eq!(glob_escape("/0.celeryev"), "/0.celeryev");
    }
}
