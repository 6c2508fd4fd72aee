//! `--log.level` and `--log.format` (logfmt or json), on tracing.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The least severe messages `--log.level` lets through.
// The variants' docs are `#[doc = concat!(..)]`, not `///`: clap's derive turns a doc comment on
// a value into help text, which would change how `--help` lists the values. It reads only literal
// doc strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogLevel {
    #[doc = concat!("Everything, including a collector source this host does not have.")]
    Debug,
    #[doc = concat!("Start-up, listening addresses, reloads and shutdown too: the default.")]
    Info,
    #[doc = concat!("Only what needs a look: a dropped family, a failed accept, and errors.")]
    Warn,
    #[doc = concat!("Only failures: a failed collector, a web config that does not load.")]
    Error,
}

/// How log lines are written (`--log.format`): the two layouts of go-kit's logger, with the same
/// keys.
// Variant docs as on `LogLevel`, for the same reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[doc = concat!("`ts=... level=info caller=... msg=\"...\"`, the Go exporters' default.")]
    Logfmt,
    #[doc = concat!("One JSON object per line, for log pipelines that parse JSON.")]
    Json,
}

/// Installs the global subscriber. Logs go to stderr, like the Go exporters'.
pub fn init(level: LogLevel, format: LogFormat) {
    let level = match level {
        LogLevel::Debug => Level::DEBUG,
        LogLevel::Info => Level::INFO,
        LogLevel::Warn => Level::WARN,
        LogLevel::Error => Level::ERROR,
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr);
    // A second init (tests start several servers in one process) keeps the first subscriber.
    let _ = builder.event_format(format).try_init();
}

/// Each format writes go-kit's keys: `ts=... level=info caller=target msg="..." key=value` as
/// its logfmt logger, `{"ts":"...","level":"info","caller":"target","msg":"...","key":"value"}`
/// as its JSON logger, so log pipelines parse both exporters alike.
impl<S, N> FormatEvent<S, N> for LogFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let level = meta.level().as_str().to_ascii_lowercase();
        let write_pair = match self {
            LogFormat::Logfmt => {
                let (ts, caller) = (rfc3339_now(), meta.target());
                write!(writer, "ts={ts} level={level} caller={caller}")?;
                write_pair
            }
            LogFormat::Json => {
                let ts = rfc3339_now();
                write!(
                    writer,
                    "{{\"ts\":\"{ts}\",\"level\":\"{level}\",\"caller\":"
                )?;
                write_json_string(&mut writer, meta.target())?;
                write_json_pair
            }
        };
        let mut visitor = FieldVisitor {
            writer: &mut writer,
            write_pair,
            result: Ok(()),
        };
        event.record(&mut visitor);
        visitor.result?;
        match self {
            LogFormat::Logfmt => writeln!(writer),
            LogFormat::Json => writeln!(writer, "}}"),
        }
    }
}

fn write_json_pair(w: &mut Writer<'_>, key: &str, value: &str) -> fmt::Result {
    w.write_char(',')?;
    write_json_string(w, key)?;
    w.write_char(':')?;
    write_json_string(w, value)
}

fn write_json_string(w: &mut Writer<'_>, value: &str) -> fmt::Result {
    w.write_char('"')?;
    for c in value.chars() {
        match c {
            '"' => w.write_str("\\\"")?,
            '\\' => w.write_str("\\\\")?,
            '\n' => w.write_str("\\n")?,
            '\r' => w.write_str("\\r")?,
            '\t' => w.write_str("\\t")?,
            c if u32::from(c) < 0x20 => write!(w, "\\u{:04x}", u32::from(c))?,
            c => w.write_char(c)?,
        }
    }
    w.write_char('"')
}

/// Writes an event's fields as key/value pairs in one format; the first write error sticks.
struct FieldVisitor<'a, 'w> {
    writer: &'a mut Writer<'w>,
    write_pair: fn(&mut Writer<'_>, &str, &str) -> fmt::Result,
    result: fmt::Result,
}

impl Visit for FieldVisitor<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_ok() {
            self.result = (self.write_pair)(self.writer, field_name(field), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_ok() {
            self.result = (self.write_pair)(self.writer, field_name(field), &format!("{value:?}"));
        }
    }
}

fn field_name(field: &Field) -> &'static str {
    match field.name() {
        "message" => "msg",
        other => other,
    }
}

fn write_pair(w: &mut Writer<'_>, key: &str, value: &str) -> fmt::Result {
    if !value.is_empty() && !value.contains([' ', '"', '=', '\\', '\n']) {
        return write!(w, " {key}={value}");
    }
    write!(w, " {key}=\"")?;
    for c in value.chars() {
        match c {
            '"' => w.write_str("\\\"")?,
            '\\' => w.write_str("\\\\")?,
            '\n' => w.write_str("\\n")?,
            c => w.write_char(c)?,
        }
    }
    w.write_char('"')
}

fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format_rfc3339(now.as_secs() as i64, now.subsec_millis())
}

/// UTC timestamp with millisecond precision, without pulling in a date crate.
pub(crate) fn format_rfc3339(secs: i64, millis: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects what a subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn log_line(format: LogFormat) -> String {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .event_format(format)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(target: "node_exporter::netclass", err = "a \"quoted\"\nline", n = 3, "Listening on");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text
    }

    #[test]
    fn json_and_logfmt_use_the_same_keys_as_upstream() {
        for (format, start, end) in [
            (
                LogFormat::Json,
                "{\"ts\":\"20",
                "\",\"level\":\"warn\",\"caller\":\"node_exporter::netclass\",\"msg\":\"Listening on\",\"err\":\"a \\\"quoted\\\"\\nline\",\"n\":\"3\"}\n",
            ),
            (
                LogFormat::Logfmt,
                "ts=20",
                " level=warn caller=node_exporter::netclass msg=\"Listening on\" err=\"a \\\"quoted\\\"\\nline\" n=3\n",
            ),
        ] {
            let line = log_line(format);
            assert!(line.starts_with(start) && line.ends_with(end), "{line}");
        }
    }

    #[test]
    fn formats_utc_timestamps() {
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339(1_795_959_092, 7), "2026-11-29T13:31:32.007Z");
        assert_eq!(format_rfc3339(951_782_400, 0), "2000-02-29T00:00:00.000Z");
    }
}
