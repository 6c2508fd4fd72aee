//! Percent-encoding (RFC 3986) for the URLs and URIs the exporters take: broker and Redis URLs,
//! PostgreSQL connection URIs, query strings.

/// The value of one hex digit.
fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Decodes `%XX` escapes; `None` on a broken escape (`%`, `%4`, `%zz`) or a result that is not
/// UTF-8.
pub fn decode_strict(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex(*bytes.get(i + 1)?)?;
            let lo = hex(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Decodes `%XX` escapes, keeping a broken one as written (`a%` stays `a%`) and replacing
/// what is not UTF-8 with U+FFFD.
pub fn decode_lenient(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| Some(hex(*bytes.get(i + 1)?)? << 4 | hex(*bytes.get(i + 2)?)?))
            .flatten();
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes everything but RFC 3986's unreserved characters (`/` becomes `%2F`).
pub fn encode(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_decoding_refuses_broken_escapes_and_bad_utf8() {
        let cases = [
            ("s%40cret", Some("s@cret")),
            ("%41%2f", Some("A/")),
            ("plain é", Some("plain é")),
            ("%", None),
            ("a%4", None),
            ("%zz", None),
            ("%+5", None),
            ("%ff", None),
        ];
        for (input, expected) in cases {
            assert_eq!(decode_strict(input).as_deref(), expected, "{input:?}");
        }
    }

    #[test]
    fn lenient_decoding_keeps_broken_escapes() {
        let cases = [
            ("a%2Fb%", "a/b%"),
            ("%zz%4", "%zz%4"),
            ("é%é", "é%é"),
            ("a%4", "a%4"),
            ("%41", "A"),
            ("%+5", "%+5"),
            ("%ff", "\u{fffd}"),
        ];
        for (input, expected) in cases {
            assert_eq!(decode_lenient(input), expected, "{input:?}");
        }
    }

    #[test]
    fn encoding_keeps_only_unreserved_characters() {
        assert_eq!(encode("a-b._~Z9"), "a-b._~Z9");
        assert_eq!(encode("/v h@:é"), "%2Fv%20h%40%3A%C3%A9");
        assert_eq!(
            decode_strict(&encode("p@ss/wörd")).as_deref(),
            Some("p@ss/wörd")
        );
    }
}
