//! `node_os_info`, `node_os_version` and (where the file has SUPPORT_END)
//! `node_os_support_end_timestamp_seconds` from os-release(5): <rootfs>/etc/os-release, falling
//! back to <rootfs>/usr/lib/os-release.
//!
//! Upstream caches the parsed file by mtime; reading ~300 bytes per scrape is cheaper than the
//! bookkeeping, so we read it fresh.

use std::path::PathBuf;

use exporter_core::{BlockingCollector, CollectError, CollectResult, MetricFamily};

use crate::paths::HostPaths;
use crate::util::{field_labels, read_file};

/// The `os` collector: what it reads and emits is in the module documentation.
pub struct OsCollector {
    paths: [PathBuf; 2],
}

impl OsCollector {
    /// The collector reading under `cfg`.
    pub fn new(cfg: &HostPaths) -> Self {
        OsCollector {
            paths: [
                cfg.root_path("etc/os-release"),
                cfg.root_path("usr/lib/os-release"),
            ],
        }
    }
}

/// The os-release fields upstream exports (absent ones are empty).
#[derive(Debug, Default, PartialEq)]
pub struct OsRelease {
    /// `BUILD_ID`.
    pub build_id: String,
    /// `ID`.
    pub id: String,
    /// `ID_LIKE`.
    pub id_like: String,
    /// `IMAGE_ID`.
    pub image_id: String,
    /// `IMAGE_VERSION`.
    pub image_version: String,
    /// `NAME`.
    pub name: String,
    /// `PRETTY_NAME`.
    pub pretty_name: String,
    /// `VARIANT`.
    pub variant: String,
    /// `VARIANT_ID`.
    pub variant_id: String,
    /// `VERSION`.
    pub version: String,
    /// `VERSION_CODENAME`.
    pub version_codename: String,
    /// `VERSION_ID`.
    pub version_id: String,
    /// `SUPPORT_END` (a date).
    pub support_end: String,
}

impl OsRelease {
    fn field_mut(&mut self, key: &str) -> Option<&mut String> {
        Some(match key {
            "BUILD_ID" => &mut self.build_id,
            "ID" => &mut self.id,
            "ID_LIKE" => &mut self.id_like,
            "IMAGE_ID" => &mut self.image_id,
            "IMAGE_VERSION" => &mut self.image_version,
            "NAME" => &mut self.name,
            "PRETTY_NAME" => &mut self.pretty_name,
            "VARIANT" => &mut self.variant,
            "VARIANT_ID" => &mut self.variant_id,
            "VERSION" => &mut self.version,
            "VERSION_CODENAME" => &mut self.version_codename,
            "VERSION_ID" => &mut self.version_id,
            "SUPPORT_END" => &mut self.support_end,
            _ => return None,
        })
    }
}

/// Parses os-release with the rules of the env-file parser upstream uses: blank and `#` lines are
/// skipped, an optional `export ` prefix is dropped, values may mix unquoted, `'single'` (literal)
/// and `"double"` (escapes `\"`, `\\`, `\n`, `\t`) quoted parts, and an unquoted `#` starts a
/// comment. Like upstream, a malformed line makes the whole file an error.
pub fn parse_os_release(text: &str) -> Result<OsRelease, CollectError> {
    let mut os = OsRelease::default();
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line).trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = parse_line(line)
            .map_err(|e| CollectError::Parse(format!("os-release line {}: {e}", i + 1)))?;
        if let Some(field) = os.field_mut(key) {
            *field = value;
        }
    }
    Ok(os)
}

fn parse_line(line: &str) -> Result<(&str, String), String> {
    let (key, value) = line.split_once('=').ok_or("missing =")?;
    let key = key.trim();
    let key = key.strip_prefix("export ").unwrap_or(key);
    match key.as_bytes().first() {
        None => return Err("empty key".into()),
        Some(c) if !(c.is_ascii_alphabetic() || *c == b'_') => {
            return Err(format!("key must start with [A-Za-z_] but found {c:?}"));
        }
        Some(_) => {}
    }
    if let Some(c) = key
        .bytes()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'_' | b'/' | b'.')))
    {
        return Err(format!(
            "key characters must be [A-Za-z0-9/_.] but found {:?}",
            c as char
        ));
    }
    Ok((key, unquote(value.trim())?))
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Normal,
    Double,
    Single,
    Escape,
}

/// Evaluates the quoting of one value.
pub fn unquote(value: &str) -> Result<String, String> {
    let mut out: Vec<u8> = Vec::with_capacity(value.len());
    // End of the last significant byte, to drop whitespace before an unquoted trailing comment.
    let mut last_sig = 0;
    let mut mode = Mode::Normal;
    for &b in value.as_bytes() {
        if b < 32 {
            return Err(format!("{b:#04x} is an invalid value character"));
        }
        if b > 127 {
            if mode == Mode::Escape {
                return Err("multibyte characters disallowed in escape sequences".into());
            }
            out.push(b);
            last_sig = out.len();
            continue;
        }
        match mode {
            Mode::Normal => match b {
                b'"' => mode = Mode::Double,
                b'\'' => mode = Mode::Single,
                b'#' => {
                    out.truncate(last_sig);
                    return Ok(into_string(out));
                }
                b' ' | b'\t' => out.push(b),
                _ => {
                    out.push(b);
                    last_sig = out.len();
                }
            },
            Mode::Double => match b {
                b'"' => mode = Mode::Normal,
                b'\\' => mode = Mode::Escape,
                _ => {
                    out.push(b);
                    last_sig = out.len();
                }
            },
            Mode::Escape => {
                out.push(match b {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'n' => b'\n',
                    b't' => b'\t',
                    _ => return Err(format!("invalid escape sequence: {}", b as char)),
                });
                last_sig = out.len();
                mode = Mode::Double;
            }
            Mode::Single => match b {
                b'\'' => mode = Mode::Normal,
                _ => {
                    out.push(b);
                    last_sig = out.len();
                }
            },
        }
    }
    match mode {
        Mode::Normal => Ok(into_string(out)),
        Mode::Double => Err("unmatched \"".into()),
        Mode::Single => Err("unmatched '".into()),
        Mode::Escape => Err("incomplete escape sequence".into()),
    }
}

fn into_string(bytes: Vec<u8>) -> String {
    // Only ASCII bytes are dropped or inserted, so valid UTF-8 input stays valid.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The `major.minor` prefix of VERSION_ID as a number (`22.04` from `22.04`, `3.18` from
/// `3.18.4`), or 0 when it does not start with a digit (`rolling`).
pub fn major_minor(version_id: &str) -> f64 {
    let b = version_id.as_bytes();
    let major = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if major == 0 {
        return 0.0;
    }
    let mut end = major;
    if b.get(end) == Some(&b'.') {
        end += 1;
        end += b
            .get(end..)
            .map_or(0, |r| r.iter().take_while(|c| c.is_ascii_digit()).count());
    }
    version_id
        .get(..end)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0)
}

/// SUPPORT_END (`YYYY-MM-DD`) as seconds since the epoch at 00:00 UTC, the way upstream's
/// `time.Parse(time.DateOnly, ..)` reads it: exactly four year digits, two month digits, two day
/// digits, and a day that exists in that month. None otherwise.
pub fn parse_support_end(date: &str) -> Option<f64> {
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = b.get(range)?;
        digits
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some((days_from_civil(year, month, day) * 86_400) as f64)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `node_os_info` and `node_os_version` from a parsed os-release file.
pub fn os_families(os: &OsRelease) -> Vec<MetricFamily> {
    let info = MetricFamily::gauge(
        "node_os_info",
        "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, \
         image_version, name, pretty_name, variant, variant_id, version, version_codename, \
         version_id.",
    )
    .with(
        &field_labels!(
            os,
            build_id,
            id,
            id_like,
            image_id,
            image_version,
            name,
            pretty_name,
            variant,
            variant_id,
            version,
            version_codename,
            version_id
        ),
        1.0,
    );
    let mut version = MetricFamily::gauge(
        "node_os_version",
        "Metric containing the major.minor part of the OS version.",
    );
    let v = major_minor(&os.version_id);
    if v > 0.0 {
        version.push(
            &[("id", &os.id), ("id_like", &os.id_like), ("name", &os.name)],
            v,
        );
    }
    vec![info, version, support_end_family(&os.support_end)]
}

fn support_end_family(support_end: &str) -> MetricFamily {
    let mut fam = MetricFamily::gauge(
        "node_os_support_end_timestamp_seconds",
        "Metric containing the end-of-life date timestamp of the OS.",
    );
    if support_end.is_empty() {
        return fam;
    }
    // Upstream fails the whole collector on a date it cannot read; losing node_os_info over
    // one odd field helps nobody, so only this family is left out.
    match parse_support_end(support_end) {
        Some(timestamp) => fam.push(&[], timestamp),
        None => tracing::warn!(
            value = support_end,
            "os-release SUPPORT_END is not a YYYY-MM-DD date"
        ),
    }
    fam
}

impl BlockingCollector for OsCollector {
    fn name(&self) -> &'static str {
        "os"
    }

    fn collect(&self) -> CollectResult {
        let mut last = None;
        for path in &self.paths {
            match read_file(path) {
                Ok(text) => return Ok(os_families(&parse_os_release(&text)?)),
                Err(e @ CollectError::NotAvailable(_)) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| CollectError::NotAvailable("no os-release file".into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_not_available, rootfs_at, write};

    const DEBIAN: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"#;

    #[test]
    fn parses_debian() {
        let os = parse_os_release(DEBIAN).unwrap();
        assert_eq!(os.pretty_name, "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(os.name, "Debian GNU/Linux");
        assert_eq!(os.version_id, "12");
        assert_eq!(os.version_codename, "bookworm");
        assert_eq!(os.id, "debian");
        assert_eq!(os.id_like, "");
        let fams = os_families(&os);
        assert_eq!(fams[1].samples[0].value, 12.0);
        assert_eq!(fams[0].samples[0].labels.len(), 12);
    }

    #[test]
    fn parses_quoting_comments_and_export() {
        let text = "# comment\n\n  \nNAME=\"Ubuntu\"\r\nexport ID=ubuntu\n  ID_LIKE='debian'\n\
                    VARIANT='Server \\n edition'\nVARIANT_ID=\"a\\\"b\\\\c\\td\"\n\
                    BUILD_ID=abc   # trailing comment\nIMAGE_ID=x y\nVERSION=a'b c'd\n\
                    PRETTY_NAME=\"a\"b\"c\"\nIMAGE_VERSION=\nVERSION_CODENAME=caf\u{e9}\n\
                    UNKNOWN_KEY=whatever\n_X=1\nA.b/c=2\n";
        let os = parse_os_release(text).unwrap();
        assert_eq!(os.name, "Ubuntu");
        assert_eq!(os.id, "ubuntu");
        assert_eq!(os.id_like, "debian");
        assert_eq!(os.variant, "Server \\n edition");
        assert_eq!(os.variant_id, "a\"b\\c\td");
        assert_eq!(os.build_id, "abc");
        assert_eq!(os.image_id, "x y");
        assert_eq!(os.version, "ab cd");
        assert_eq!(os.pretty_name, "abc");
        assert_eq!(os.image_version, "");
        assert_eq!(os.version_codename, "caf\u{e9}");
    }

    #[test]
    fn malformed_lines_are_errors() {
        for bad in [
            "NOEQ",
            "NAME=\"unterminated",
            "NAME='unterminated",
            "NAME=\"bad \\q escape\"",
            "NAME=\"dangling\\",
            "1KEY=x",
            "=x",
            "na-me=x",
            "export  NAME=x",
            "NAME=a\\\"b",
            "NAME=a\tb",
            "NAME=\"\\\u{e9}\"",
        ] {
            assert!(parse_os_release(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn major_minor_versions() {
        assert_eq!(major_minor("12"), 12.0);
        assert_eq!(major_minor("22.04"), 22.04);
        assert_eq!(major_minor("3.18.4"), 3.18);
        assert_eq!(major_minor("7."), 7.0);
        assert_eq!(major_minor("rolling"), 0.0);
        assert_eq!(major_minor(""), 0.0);
        assert_eq!(major_minor("0"), 0.0);
        assert_eq!(major_minor("8-stream"), 8.0);
    }

    #[test]
    fn support_end_is_midnight_utc_of_the_date() {
        // Fedora 39's os-release: SUPPORT_END=2024-11-12.
        let os = parse_os_release("NAME=Fedora\nVERSION_ID=39\nSUPPORT_END=2024-11-12\n").unwrap();
        assert_eq!(os.support_end, "2024-11-12");
        let fams = os_families(&os);
        assert_eq!(fams[2].name, "node_os_support_end_timestamp_seconds");
        assert_eq!(fams[2].samples[0].value, 1_731_369_600.0);
        assert!(os_families(&parse_os_release(DEBIAN).unwrap())[2].is_empty());
    }

    #[test]
    fn support_end_dates() {
        assert_eq!(parse_support_end("1970-01-01"), Some(0.0));
        assert_eq!(parse_support_end("2000-02-29"), Some(951_782_400.0));
        assert_eq!(parse_support_end("2028-03-15"), Some(1_836_691_200.0));
        assert_eq!(parse_support_end("1969-12-31"), Some(-86_400.0));
        for bad in [
            "",
            "2024-1-12",
            "24-11-12",
            "2024/11/12",
            "2024-13-01",
            "2024-00-10",
            "2023-02-29",
            "1900-02-29",
            "2024-04-31",
            "2024-11-12T00:00",
            "２０２４-11-12",
            "+024-11-12",
        ] {
            assert_eq!(parse_support_end(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn unreadable_support_end_leaves_only_that_family_out() {
        let os = parse_os_release("NAME=X\nSUPPORT_END=soon\n").unwrap();
        let fams = os_families(&os);
        assert_eq!(fams[0].samples.len(), 1);
        assert!(fams[2].is_empty());
    }

    #[test]
    fn no_version_metric_without_numeric_version_id() {
        let os = parse_os_release("NAME=Arch\nID=arch\nBUILD_ID=rolling\n").unwrap();
        let fams = os_families(&os);
        assert!(fams[1].is_empty());
        assert_eq!(fams[0].samples.len(), 1);
    }

    #[test]
    fn falls_back_to_usr_lib_and_reports_absence() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = rootfs_at(dir.path());
        assert_not_available(OsCollector::new(&cfg).collect());
        std::fs::create_dir_all(dir.path().join("usr/lib")).unwrap();
        write(&dir.path().join("usr/lib/os-release"), DEBIAN);
        let fams = OsCollector::new(&cfg).collect().unwrap();
        assert_eq!(fams[1].samples[0].value, 12.0);
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        write(&dir.path().join("etc/os-release"), "ID=x\nVERSION_ID=1.5\n");
        let fams = OsCollector::new(&cfg).collect().unwrap();
        assert_eq!(fams[1].samples[0].value, 1.5);
    }
}
