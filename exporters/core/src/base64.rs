//! Standard base64 (RFC 4648 alphabet): the `Authorization: Basic` header the server checks and
//! clients send, and the message bodies a Celery broker carries (kombu's `body_encoding: base64`).

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const INVALID: u8 = 0xFF;
/// Each byte's 6-bit value, or `INVALID`: one lookup a character on the decode path, which runs
/// for every Celery event.
const VALUES: [u8; 256] = {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// `input` encoded, with padding.
pub fn encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for c in input.chunks(3) {
        let n = (c[0] as u32) << 16
            | (c.get(1).copied().unwrap_or(0) as u32) << 8
            | c.get(2).copied().unwrap_or(0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes `input` (padding optional) onto the end of `out`. `None` on any character outside
/// the alphabet or an impossible length; `out` then holds a partial result.
pub fn decode_into(input: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let input = match input {
        [rest @ .., b'=', b'='] => rest,
        [rest @ .., b'='] => rest,
        all => all,
    };
    if input.len() % 4 == 1 {
        return None;
    }
    out.reserve(input.len() / 4 * 3 + 2);
    let mut chunks = input.chunks_exact(4);
    for c in &mut chunks {
        let [a, b, cc, d] = [c[0], c[1], c[2], c[3]].map(|ch| VALUES[ch as usize]);
        if (a | b | cc | d) & 0xC0 != 0 {
            return None;
        }
        let n = (a as u32) << 18 | (b as u32) << 12 | (cc as u32) << 6 | d as u32;
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    let rest = chunks.remainder();
    let mut n: u32 = 0;
    for (i, &ch) in rest.iter().enumerate() {
        let v = VALUES[ch as usize];
        if v == INVALID {
            return None;
        }
        n |= (v as u32) << (18 - 6 * i);
    }
    match rest.len() {
        0 => {}
        2 => out.push((n >> 16) as u8),
        3 => out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8]),
        _ => return None,
    }
    Some(())
}

/// Decodes `input`, which must be padded to a multiple of four characters (as Go's
/// `base64.StdEncoding` requires of an `Authorization` header).
pub fn decode_padded(input: &str) -> Option<Vec<u8>> {
    if !input.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::new();
    decode_into(input.as_bytes(), &mut out)?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_and_without_padding() {
        let mut out = Vec::new();
        for input in [
            &b""[..],
            b"f",
            b"fo",
            b"foo",
            b"foob",
            b"fooba",
            b"foobar",
            &[0, 255, 128, 7],
        ] {
            let enc = encode(input);
            out.clear();
            decode_into(enc.as_bytes(), &mut out).unwrap();
            assert_eq!(out, input, "{enc}");
            out.clear();
            decode_into(enc.trim_end_matches('=').as_bytes(), &mut out).unwrap();
            assert_eq!(out, input);
        }
        assert_eq!(encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(encode(b"fo"), "Zm8=");
    }

    #[test]
    fn rejects_garbage_and_impossible_lengths() {
        let mut out = Vec::new();
        for bad in [&b"a"[..], b"ab$d", b"abcde", b"a=bc", b"ab\ncd"] {
            out.clear();
            assert!(
                decode_into(bad, &mut out).is_none(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn padded_decoding_wants_whole_quads() {
        assert_eq!(decode_padded("YQ==").unwrap(), b"a");
        assert_eq!(decode_padded("YWI=").unwrap(), b"ab");
        assert_eq!(decode_padded("YWJj").unwrap(), b"abc");
        assert!(decode_padded("YWJ").is_none());
        assert!(decode_padded("Y$==").is_none());
        // More padding than a quad can hold is refused, as Go's StdEncoding does.
        assert!(decode_padded("YWxpY2U6cHc====").is_none());
    }
}
