//! Go's `time.ParseDuration` syntax, which the Go exporters' users write in flags and config
//! files: `500ms`, `15s`, `1m30s`, `1h`, `-1.5h`. One parser for every exporter, so a value that
//! one accepts the others accept too.

use std::time::Duration;

/// Seconds in a Go-style duration (`1h2m3.5s`, `300ms`, `-1m`), signed. Units: ns, us (µs), ms,
/// s, m, h. A bare number is seconds: the exporters' flags always took that, and PostgreSQL
/// prints settings so. `None` when `s` is not a duration.
pub fn parse_go_seconds(s: &str) -> Option<f64> {
    let s = s.trim();
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit_seconds = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            // Only a whole string that is one number may leave out its unit.
            "" if number_end == s.trim_start_matches(['-', '+']).len() => 1.0,
            _ => return None,
        };
        total += number * unit_seconds;
        rest = &rest[unit_end..];
    }
    Some(if negative { -total } else { total })
}

/// A flag's duration: Go syntax, not negative. Zero is allowed; the caller decides what it means.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    parse_go_seconds(s)
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("invalid duration {s:?} (Go syntax: 500ms, 15s, 1m30s, 1h)"))
}

/// A flag's duration that must be above zero (a timeout, an interval).
pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err(format!("invalid duration {s:?} (must be above zero)")),
        d => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_syntax() {
        for (input, expected) in [
            ("1h2m3.5s", Some(3723.5)),
            ("300ms", Some(0.3)),
            ("-1m", Some(-60.0)),
            ("+2s", Some(2.0)),
            ("1500us", Some(0.0015)),
            ("7µs", Some(7e-6)),
            ("0", Some(0.0)),
            ("2.5", Some(2.5)),
        ] {
            assert_eq!(parse_go_seconds(input), expected, "{input:?}");
        }
        for bad in ["", "-", "s", "5d", "1m5", "x", "1..2s", "1 s"] {
            assert_eq!(parse_go_seconds(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn flag_durations() {
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_positive_duration("0")
            .unwrap_err()
            .contains("above zero"));
        assert_eq!(parse_positive_duration("15"), Ok(Duration::from_secs(15)));
    }
}
