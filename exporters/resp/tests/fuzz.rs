//! Property tests of the RESP2 parser: arbitrary bytes, valid frames (which must round-trip),
//! and valid frames with mutated lengths, types and bytes, truncated or fed in chunks. Nothing
//! may panic, and no length may be trusted.
//!
//! `FUZZ_CASES` sets the cases per property (default 2,000, a few seconds); the bench-style run
//! is `FUZZ_CASES=1000000 cargo test --release -p resp --test fuzz`.

use exporter_core::testkit::fuzz::{fuzz_cases, fuzz_config};
use proptest::prelude::*;
use resp::{encode_command, glob_escape, parse, parse_reply, ProtocolError, Reply, Value};

/// The parser's nesting bound (`MAX_DEPTH`, private to the crate).
const MAX_DEPTH: usize = 16;

// ---- a model encoder: what a Redis server writes ----

fn encode(reply: &Reply, out: &mut Vec<u8>) {
    encode_with(reply, out, &mut Edit::none());
}

/// One change to the `target`-th length header (`$` or `*`, counted in encoding order).
#[derive(Debug, Clone)]
struct Edit {
    target: usize,
    seen: usize,
    length: LengthEdit,
    type_byte: Option<u8>,
}

#[derive(Debug, Clone)]
enum LengthEdit {
    Keep,
    /// The true length plus this (negative results written as they are).
    Delta(i64),
    /// A literal header value: huge, negative, not a number, ...
    Literal(String),
}

impl Edit {
    fn none() -> Edit {
        Edit {
            target: usize::MAX,
            seen: 0,
            length: LengthEdit::Keep,
            type_byte: None,
        }
    }

    /// The type byte and length text of the next header.
    fn header(&mut self, type_byte: u8, len: usize) -> (u8, String) {
        let hit = self.seen == self.target;
        self.seen += 1;
        if !hit {
            return (type_byte, len.to_string());
        }
        let text = match &self.length {
            LengthEdit::Keep => len.to_string(),
            LengthEdit::Delta(d) => (len as i64).saturating_add(*d).to_string(),
            LengthEdit::Literal(s) => s.clone(),
        };
        (self.type_byte.unwrap_or(type_byte), text)
    }
}

fn encode_with(reply: &Reply, out: &mut Vec<u8>, edit: &mut Edit) {
    fn line(out: &mut Vec<u8>, type_byte: u8, text: &[u8]) {
        out.push(type_byte);
        out.extend_from_slice(text);
        out.extend_from_slice(b"\r\n");
    }
    match reply {
        Reply::Simple(b) => line(out, b'+', b),
        Reply::Error(s) => line(out, b'-', s.as_bytes()),
        Reply::Integer(i) => line(out, b':', i.to_string().as_bytes()),
        Reply::Bulk(None) => line(out, b'$', b"-1"),
        Reply::Bulk(Some(b)) => {
            let (t, len) = edit.header(b'$', b.len());
            line(out, t, len.as_bytes());
            out.extend_from_slice(b);
            out.extend_from_slice(b"\r\n");
        }
        Reply::Array(None) => line(out, b'*', b"-1"),
        Reply::Array(Some(items)) => {
            let (t, len) = edit.header(b'*', items.len());
            line(out, t, len.as_bytes());
            for item in items {
                encode_with(item, out, edit);
            }
        }
    }
}

// ---- generators ----

/// Bytes of a simple string or error line: anything but CR and LF.
fn line_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        any::<u8>().prop_map(|b| if b == b'\r' || b == b'\n' { b'.' } else { b }),
        0..24,
    )
}

fn leaf() -> impl Strategy<Value = Reply> {
    prop_oneof![
        line_bytes().prop_map(Reply::Simple),
        line_bytes().prop_map(|b| Reply::Error(String::from_utf8_lossy(&b).into_owned())),
        any::<i64>().prop_map(Reply::Integer),
        prop_oneof![Just(0i64), Just(-1), Just(i64::MIN), Just(i64::MAX)].prop_map(Reply::Integer),
        // Bulk strings may hold anything, CRLF included.
        proptest::collection::vec(any::<u8>(), 0..48).prop_map(|b| Reply::Bulk(Some(b))),
        Just(Reply::Bulk(None)),
        Just(Reply::Array(None)),
    ]
}

/// A reply tree within the parser's limits.
fn reply() -> impl Strategy<Value = Reply> {
    leaf().prop_recursive(5, 48, 8, |inner| {
        proptest::collection::vec(inner, 0..8).prop_map(|items| Reply::Array(Some(items)))
    })
}

fn length_edit() -> impl Strategy<Value = LengthEdit> {
    prop_oneof![
        (-4i64..=4).prop_map(LengthEdit::Delta),
        any::<i64>().prop_map(LengthEdit::Delta),
        prop_oneof![
            Just("-1"),
            Just("-2"),
            Just("-0"),
            Just("+3"),
            Just(""),
            Just(" 1"),
            Just("1 "),
            Just("0x10"),
            Just("abc"),
            Just("536870912"),
            Just("536870913"),
            Just("67108864"),
            Just("67108865"),
            Just("9223372036854775807"),
            Just("9223372036854775808"),
            Just("-9223372036854775808"),
            Just("99999999999999999999999"),
        ]
        .prop_map(|s| LengthEdit::Literal(s.to_string())),
    ]
}

fn type_byte() -> impl Strategy<Value = Option<u8>> {
    prop_oneof![
        3 => Just(None),
        1 => prop_oneof![Just(b'+'), Just(b'-'), Just(b':'), Just(b'$'), Just(b'*')].prop_map(Some),
        1 => any::<u8>().prop_map(Some),
    ]
}

#[derive(Debug, Clone)]
enum ByteEdit {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    let byte = prop_oneof![
        Just(b'\r'),
        Just(b'\n'),
        Just(b'*'),
        Just(b'$'),
        Just(b'-'),
        Just(b'0'),
        Just(b'9'),
        any::<u8>()
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| ByteEdit::Set(i, b)),
        (any::<usize>(), byte).prop_map(|(i, b)| ByteEdit::Insert(i, b)),
        any::<usize>().prop_map(ByteEdit::Remove),
        any::<usize>().prop_map(ByteEdit::Truncate),
    ]
}

fn apply_byte_edit(buf: &mut Vec<u8>, edit: &ByteEdit) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match *edit {
        ByteEdit::Set(i, b) if !buf.is_empty() => {
            let i = at(i, buf.len());
            buf[i] = b;
        }
        ByteEdit::Insert(i, b) => {
            let i = at(i, buf.len() + 1);
            buf.insert(i, b);
        }
        ByteEdit::Remove(i) if !buf.is_empty() => {
            let i = at(i, buf.len());
            buf.remove(i);
        }
        ByteEdit::Truncate(i) => {
            let i = at(i, buf.len() + 1);
            buf.truncate(i);
        }
        _ => {}
    }
}

// ---- invariants every parse must keep ----

/// What any input, valid or not, must satisfy: no panic; a complete value takes at least one
/// byte and at most all of them, and does not depend on the bytes after it; its views work.
fn check_any(buf: &[u8]) {
    match parse(buf) {
        Ok(Some((value, n))) => {
            assert!(n > 0 && n <= buf.len(), "consumed {n} of {}", buf.len());
            assert_eq!(parse(&buf[..n]), Ok(Some((value.clone(), n))));
            exercise_views(&value);
            assert_eq!(parse_reply(buf), Ok(Some((value.to_owned_value(), n))));
        }
        Ok(None) => {
            // Incomplete: the same bytes without the last one are incomplete too.
            if let Some((_, shorter)) = buf.split_last() {
                assert_eq!(
                    parse(shorter),
                    Ok(None),
                    "{:?}",
                    String::from_utf8_lossy(buf)
                );
            }
        }
        Err(_) => {}
    }
}

fn exercise_views(value: &Value<'_>) {
    let _ = value.as_bytes();
    let _ = value.as_int();
    let owned = value.to_owned_value();
    let _ = owned.as_text();
    let _ = owned.as_int();
    let _ = owned.error();
    if let Value::Array(Some(items)) = value {
        items.iter().for_each(exercise_views);
    }
}

/// The RESP alphabet, so random input reaches past the first header more often.
fn resp_ish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let alphabet = b"*$:+-\r\n0123456789-x".to_vec();
    proptest::collection::vec(proptest::sample::select(alphabet), 0..64)
}

proptest! {
    #![proptest_config(fuzz_config(fuzz_cases(2_000)))]

    #[test]
    fn arbitrary_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..256)) {
        check_any(&buf);
    }

    #[test]
    fn resp_alphabet_soup_never_panics(buf in resp_ish_bytes()) {
        check_any(&buf);
    }

    #[test]
    fn valid_frames_round_trip(
        value in reply(),
        suffix in proptest::collection::vec(any::<u8>(), 0..8),
        cut in any::<usize>(),
    ) {
        let mut frame = Vec::new();
        encode(&value, &mut frame);
        let len = frame.len();
        prop_assert_eq!(parse_reply(&frame), Ok(Some((value.clone(), len))));
        // Whatever follows (the next frame, or garbage) is not part of this one.
        let mut followed = frame.clone();
        followed.extend_from_slice(&suffix);
        prop_assert_eq!(parse_reply(&followed), Ok(Some((value, len))));
        // Every truncation asks for more bytes.
        let cut = cut % len;
        prop_assert_eq!(parse(&frame[..cut]), Ok(None));
    }

    #[test]
    fn mutated_frames_never_panic(
        value in reply(),
        target in 0usize..12,
        length in length_edit(),
        type_byte in type_byte(),
        edits in proptest::collection::vec(byte_edit(), 0..3),
    ) {
        let mut edit = Edit { target, seen: 0, length, type_byte };
        let mut frame = Vec::new();
        encode_with(&value, &mut frame, &mut edit);
        for e in &edits {
            apply_byte_edit(&mut frame, e);
        }
        check_any(&frame);
    }

    #[test]
    fn frames_fed_in_chunks_parse_as_a_whole(
        values in proptest::collection::vec(reply(), 1..6),
        chunks in proptest::collection::vec(1usize..24, 1..64),
    ) {
        let mut stream = Vec::new();
        for v in &values {
            encode(v, &mut stream);
        }
        // A reader: append what arrived, take every complete frame off the front.
        let mut buf = Vec::new();
        let mut got = Vec::new();
        let mut rest = &stream[..];
        let mut sizes = chunks.iter().cycle();
        while !rest.is_empty() {
            let n = (*sizes.next().unwrap_or(&1)).min(rest.len());
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            while let Some((reply, used)) = parse_reply(&buf).expect("valid stream") {
                got.push(reply);
                buf.drain(..used);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got, values);
    }

    #[test]
    fn nesting_is_bounded(depth in 0usize..40, leaf in leaf()) {
        let mut frame = b"*1\r\n".repeat(depth);
        encode(&leaf, &mut frame);
        let parsed = parse_reply(&frame);
        if depth <= MAX_DEPTH {
            let mut want = leaf;
            for _ in 0..depth {
                want = Reply::Array(Some(vec![want]));
            }
            prop_assert_eq!(parsed, Ok(Some((want, frame.len()))));
        } else {
            prop_assert_eq!(parsed, Err(ProtocolError::TooDeep));
        }
    }

    #[test]
    fn untrusted_lengths_are_checked_before_use(
        is_bulk in any::<bool>(),
        len in prop_oneof![any::<i64>(), -3i64..70, Just(resp::MAX_BULK as i64 + 1)],
        payload in proptest::collection::vec(any::<u8>(), 0..32),
    ) {
        let (kind, max) = if is_bulk { (b'$', resp::MAX_BULK) } else { (b'*', resp::MAX_ARRAY) };
        let mut frame = vec![kind];
        frame.extend_from_slice(format!("{len}\r\n").as_bytes());
        frame.extend_from_slice(&payload);
        let parsed = parse(&frame);
        match len {
            -1 => prop_assert!(matches!(parsed, Ok(Some(_)))),
            l if l < -1 => prop_assert_eq!(parsed, Err(ProtocolError::BadNumber)),
            l if l as u64 > max as u64 => prop_assert_eq!(parsed, Err(ProtocolError::TooLarge)),
            _ => check_any(&frame),
        }
    }

    #[test]
    fn encoded_commands_parse_back(
        args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..32), 0..8),
    ) {
        let mut out = Vec::new();
        encode_command(&args, &mut out);
        let want = Reply::Array(Some(args.into_iter().map(|a| Reply::Bulk(Some(a))).collect()));
        prop_assert_eq!(parse_reply(&out), Ok(Some((want, out.len()))));
    }

    #[test]
    fn glob_escape_is_reversible(s in any::<String>()) {
        let escaped = glob_escape(&s);
        let mut unescaped = String::new();
        let mut chars = escaped.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                let next = chars.next();
                prop_assert!(matches!(next, Some('*' | '?' | '[' | ']' | '\\')), "{:?}", escaped);
                unescaped.extend(next);
            } else {
                prop_assert!(!matches!(c, '*' | '?' | '[' | ']'), "{:?}", escaped);
                unescaped.push(c);
            }
        }
        prop_assert_eq!(unescaped, s);
    }
}
