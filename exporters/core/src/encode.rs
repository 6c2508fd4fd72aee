//! Prometheus text exposition format, version 0.0.4.

use crate::metric::{write_value, MetricFamily};

/// The Content-Type Prometheus expects for the text format (Prometheus 3 rejects a missing one).
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Writes `families` in the text format. Families are written in the order given.
pub fn encode_text(families: &[MetricFamily], out: &mut String) {
    for fam in families {
        if fam.samples.is_empty() {
            continue;
        }
        out.push_str("# HELP ");
        out.push_str(&fam.name);
        out.push(' ');
        escape_help(&fam.help, out);
        out.push_str("\n# TYPE ");
        out.push_str(&fam.name);
        out.push(' ');
        out.push_str(fam.kind.as_str());
        out.push('\n');
        for s in &fam.samples {
            out.push_str(&fam.name);
            out.push_str(s.suffix);
            if !s.labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in s.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(k);
                    out.push_str("=\"");
                    escape_label_value(v, out);
                    out.push('"');
                }
                out.push('}');
            }
            out.push(' ');
            write_value(out, s.value);
            out.push('\n');
        }
    }
}

fn escape_help(s: &str, out: &mut String) {
    escape::<false>(s, out);
}

fn escape_label_value(s: &str, out: &mut String) {
    escape::<true>(s, out);
}

/// Appends `s` with the exposition format's escapes: backslash and newline, and with `QUOTE`
/// (label values, not HELP text) the double quote too. Text without them, nearly all of it, is
/// copied in one piece.
fn escape<const QUOTE: bool>(s: &str, out: &mut String) {
    // The escaped characters are ASCII, so a byte scan finds them without decoding UTF-8.
    let special = |b: &u8| *b == b'\\' || *b == b'\n' || (QUOTE && *b == b'"');
    if !s.as_bytes().iter().any(special) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if QUOTE => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// True when `name` is a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// True when `name` is a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`, not reserved `__`).
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::MetricFamily;

    #[test]
    fn writes_help_type_and_escaped_samples() {
        let mut f = MetricFamily::gauge("node_uname_info", "Info with \\ and\nnewline.");
        f.push(&[("release", "6.1"), ("weird", "a\"b\\c\nd")], 1.0);
        let mut out = String::new();
        encode_text(&[f, MetricFamily::gauge("empty", "skipped")], &mut out);
        assert_eq!(
            out,
            "# HELP node_uname_info Info with \\\\ and\\nnewline.\n\
             # TYPE node_uname_info gauge\n\
             node_uname_info{release=\"6.1\",weird=\"a\\\"b\\\\c\\nd\"} 1\n"
        );
    }

    #[test]
    fn validates_names() {
        assert!(is_valid_metric_name("node_load1"));
        assert!(is_valid_metric_name("a:b_c"));
        assert!(!is_valid_metric_name("1abc"));
        assert!(!is_valid_metric_name("a-b"));
        assert!(!is_valid_metric_name(""));
        assert!(is_valid_label_name("device"));
        assert!(!is_valid_label_name("__name__"));
        assert!(!is_valid_label_name("a:b"));
    }
}
