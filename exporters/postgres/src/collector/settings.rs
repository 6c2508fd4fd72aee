//! `pg_settings_<name>[_<unit>]`: every bool, integer and real setting, read in ONE query, with
//! upstream's name mangling (dots become underscores, the unit is appended as `seconds` or
//! `bytes`) and unit conversion (ms/min/h/d to seconds, kB/MB/8kB/... to bytes; -1 kept as is).
//! A value upstream would choke on (an unknown unit, a non-number) is skipped with a debug log.
//!
//! pg_settings is the most expensive view the exporter reads (every GUC is formatted), yet a
//! session's settings only change when the server reloads its configuration or leaves recovery.
//! So each scrape asks only `pg_conf_load_time()` and `pg_is_in_recovery()`, and reads
//! pg_settings again when either differs from the last read on this connection (or after a
//! reconnect). The values reported are the ones a fresh read would give.

use exporter_core::{Label, MetricFamily};

use super::{decode, PerServer, PgCollector, PgFuture};
use crate::instance::Instance;
use crate::value::Cell;

/// What invalidates a session's settings: a configuration reload, or leaving recovery.
pub(crate) const CHANGE_SQL: &str = "SELECT pg_conf_load_time(), pg_is_in_recovery()";

pub(crate) const SQL: &str =
    "SELECT name, setting, COALESCE(unit, ''), short_desc, vartype FROM pg_settings \
     WHERE vartype IN ('bool', 'integer', 'real') AND name != 'sync_commit_cancel_wait'";

/// Why one setting produced no metric.
#[derive(Debug, PartialEq)]
pub(crate) enum SettingError {
    UnknownUnit(String),
    NotANumber(String),
    UnknownType(String),
}

/// Converts a value in `unit` to the base unit; returns (value, base unit name).
pub(crate) fn normalise(value: f64, unit: &str) -> Result<(f64, &'static str), SettingError> {
    let (base, factor) = match unit {
        "" => return Ok((value, "")),
        "ms" => ("seconds", 1e-3),
        "s" => ("seconds", 1.0),
        "min" => ("seconds", 60.0),
        "h" => ("seconds", 3600.0),
        "d" => ("seconds", 86_400.0),
        "B" => ("bytes", 1.0),
        "kB" => ("bytes", 1024.0),
        "MB" => ("bytes", 1024.0 * 1024.0),
        "GB" => ("bytes", 1024.0 * 1024.0 * 1024.0),
        "TB" => ("bytes", 1024f64.powi(4)),
        // Block-sized units: "8kB", "16MB", ...
        u => {
            let (digits, rest) =
                u.split_at(u.find(|c: char| !c.is_ascii_digit()).unwrap_or(u.len()));
            let n: f64 = digits
                .parse()
                .map_err(|_| SettingError::UnknownUnit(u.to_string()))?;
            let scale = match rest {
                "kB" => 1024.0,
                "MB" => 1024.0 * 1024.0,
                _ => return Err(SettingError::UnknownUnit(u.to_string())),
            };
            ("bytes", n * scale)
        }
    };
    // -1 conventionally means "disabled"; upstream keeps it unconverted.
    if value == -1.0 {
        return Ok((value, base));
    }
    Ok((value * factor, base))
}

/// One setting as a gauge family: (name, help, value).
pub(crate) fn setting_metric(
    name: &str,
    setting: &str,
    unit: &str,
    short_desc: &str,
    vartype: &str,
) -> Result<(String, String, f64), SettingError> {
    let mangled = name.replace('.', "_");
    match vartype {
        "bool" => Ok((
            format!("pg_settings_{mangled}"),
            short_desc.to_string(),
            if setting.trim() == "on" { 1.0 } else { 0.0 },
        )),
        "integer" | "real" => {
            let raw: f64 = setting
                .trim()
                .parse()
                .map_err(|_| SettingError::NotANumber(setting.to_string()))?;
            let (value, base) = normalise(raw, unit)?;
            if base.is_empty() {
                Ok((
                    format!("pg_settings_{mangled}"),
                    short_desc.to_string(),
                    value,
                ))
            } else {
                Ok((
                    format!("pg_settings_{mangled}_{base}"),
                    format!("{short_desc} [Units converted to {base}.]"),
                    value,
                ))
            }
        }
        other => Err(SettingError::UnknownType(other.to_string())),
    }
}

/// Rows: name, setting, unit, short_desc, vartype.
pub(crate) fn map(rows: &[Vec<Cell>], base: &[Label]) -> Vec<MetricFamily> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let [name, setting, unit, desc, vartype] = row.as_slice() else {
            continue;
        };
        let name = name.as_label();
        match setting_metric(
            &name,
            &setting.as_label(),
            &unit.as_label(),
            &desc.as_label(),
            &vartype.as_label(),
        ) {
            Ok((metric, help, value)) => {
                let mut f = MetricFamily::gauge(metric, help);
                f.push_labels(base.to_vec(), value);
                out.push(f);
            }
            Err(e) => tracing::debug!(setting = %name, err = ?e, "skipping setting"),
        }
    }
    out
}

/// (session id, configuration load time, in recovery): equal keys mean equal settings.
type ChangeKey = (u64, Option<f64>, Option<bool>);

fn change_key(session_id: u64, rows: &[Vec<Cell>]) -> ChangeKey {
    let row = rows.first();
    let loaded = row.and_then(|r| match r.first() {
        Some(Cell::Time(t)) => Some(*t),
        _ => None,
    });
    let recovery = row.and_then(|r| match r.get(1) {
        Some(Cell::Bool(b)) => Some(*b),
        _ => None,
    });
    (session_id, loaded, recovery)
}

/// The collector, with the last read per server (none when built).
#[derive(Default)]
pub(crate) struct Settings {
    /// Per server: the key of the last read and its families.
    last: PerServer<(ChangeKey, Vec<MetricFamily>)>,
}

impl PgCollector for Settings {
    fn collect<'a>(&'a self, inst: &'a Instance) -> PgFuture<'a> {
        Box::pin(async move {
            let session = inst.main.session().await?;
            let probe = decode(&inst.main.query(&session, CHANGE_SQL).await?);
            let key = change_key(session.id, &probe);
            let known = key.1.is_some() && key.2.is_some();
            if known {
                if let Some((k, fams)) = self.last.get(inst) {
                    if k == key {
                        return Ok(fams);
                    }
                }
            }
            let rows = inst.main.query(&session, SQL).await?;
            let fams = map(&decode(&rows), &inst.labels);
            if known {
                self.last.set(inst, (key, fams.clone()));
            }
            Ok(fams)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn names_units_and_values_as_upstream() {
        let m = |n, s, u, t| setting_metric(n, s, u, "Desc.", t).unwrap();
        assert_eq!(
            m("max_connections", "100", "", "integer"),
            ("pg_settings_max_connections".into(), "Desc.".into(), 100.0)
        );
        assert_eq!(
            m("shared_buffers", "16384", "8kB", "integer"),
            (
                "pg_settings_shared_buffers_bytes".into(),
                "Desc. [Units converted to bytes.]".into(),
                134_217_728.0
            )
        );
        assert_eq!(
            m("checkpoint_timeout", "300", "s", "integer").0,
            "pg_settings_checkpoint_timeout_seconds"
        );
        assert_eq!(m("statement_timeout", "1500", "ms", "integer").2, 1.5);
        assert_eq!(m("log_rotation_age", "1440", "min", "integer").2, 86_400.0);
        assert_eq!(
            m("wal_segment_size", "16777216", "B", "integer").2,
            16_777_216.0
        );
        assert_eq!(m("min_wal_size", "80", "MB", "integer").2, 83_886_080.0);
        assert_eq!(
            m("log_min_duration_statement", "-1", "ms", "integer").2,
            -1.0
        );
        assert_eq!(m("fsync", "on", "", "bool").2, 1.0);
        assert_eq!(m("jit", "off", "", "bool").2, 0.0);
        assert_eq!(
            m("auto_explain.log_min_duration", "5", "ms", "integer").0,
            "pg_settings_auto_explain_log_min_duration_seconds"
        );
        assert_eq!(m("seq_page_cost", "1", "", "real").2, 1.0);
        assert!(matches!(
            setting_metric("x", "1", "parsecs", "", "integer"),
            Err(SettingError::UnknownUnit(_))
        ));
        assert!(matches!(
            setting_metric("x", "abc", "", "", "integer"),
            Err(SettingError::NotANumber(_))
        ));
    }

    #[test]
    fn change_key_tells_reloads_promotions_and_reconnects_apart() {
        let rows = |t: f64, r: bool| vec![vec![Cell::Time(t), Cell::Bool(r)]];
        let k = change_key(1, &rows(100.25, false));
        assert_eq!(k, change_key(1, &rows(100.25, false)));
        assert_ne!(k, change_key(1, &rows(100.5, false)));
        assert_ne!(k, change_key(1, &rows(100.25, true)));
        assert_ne!(k, change_key(2, &rows(100.25, false)));
        assert_eq!(change_key(1, &[]).1, None);
    }

    #[test]
    fn one_family_per_setting_and_bad_ones_skipped() {
        let rows = vec![
            vec![
                text("max_connections"),
                text("100"),
                text(""),
                text("Max."),
                text("integer"),
            ],
            vec![
                text("weird"),
                text("1"),
                text("furlongs"),
                text("?"),
                text("integer"),
            ],
            vec![
                text("fsync"),
                text("on"),
                text(""),
                text("Sync."),
                text("bool"),
            ],
        ];
        let fams = map(&rows, &base());
        assert_eq!(fams.len(), 2);
        assert_eq!(
            first(&fams, "pg_settings_max_connections"),
            (on_server(&[]), 100.0)
        );
    }
}
