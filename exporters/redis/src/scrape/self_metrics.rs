//! The exporter's own per-target metrics (`up`, `exporter_last_scrape_*`, `exporter_scrapes_total`,
//! ...), and the `err` label of `exporter_last_scrape_error`, which never holds the password.

use crate::metrics::Out;
use crate::target::Secret;

/// What a scrape got done, for the self-metrics.
#[derive(Debug, Default)]
pub(super) struct Progress {
    /// INFO was read: the instance is up.
    pub(super) up: bool,
    pub(super) connect_seconds: f64,
    /// Set when `--ping-on-connect` timed a PING.
    pub(super) ping_seconds: Option<f64>,
    /// Problems that did not stop the scrape (a failing script, a key check over time).
    pub(super) problems: Vec<String>,
}

/// Appends the self-metrics of one scrape: `took` seconds; `totals` is (scrapes, their summed
/// duration) so far, `None` when the scrape could not even start; `request_errors` counts bad
/// `/scrape` requests; `error` is the `err` label (see [`scrape_error_label`]).
pub(super) fn self_metrics(
    out: &mut Out<'_>,
    progress: &Progress,
    took: f64,
    totals: Option<(u64, f64)>,
    request_errors: u64,
    error: Option<&str>,
) {
    out.gauge(
        "up",
        "Information about the Redis instance",
        &[],
        if progress.up { 1.0 } else { 0.0 },
    );
    // As upstream: 1 with the message in `err` after a failed scrape, 0 with `err=""` after
    // a good one. The message never holds a password (see `scrape_error_label`).
    out.gauge(
        "exporter_last_scrape_error",
        "The last scrape error status.",
        &[("err", error.unwrap_or(""))],
        if error.is_some() { 1.0 } else { 0.0 },
    );
    out.gauge(
        "exporter_last_scrape_duration_seconds",
        "exporter_last_scrape_duration_seconds metric",
        &[],
        took,
    );
    out.gauge(
        "exporter_last_scrape_connect_time_seconds",
        "exporter_last_scrape_connect_time_seconds metric",
        &[],
        progress.connect_seconds,
    );
    if let Some(ping) = progress.ping_seconds {
        out.gauge(
            "exporter_last_scrape_ping_time_seconds",
            "exporter_last_scrape_ping_time_seconds metric",
            &[],
            ping,
        );
    }
    if progress.up {
        out.gauge(
            "last_key_groups_scrape_duration_milliseconds",
            "Duration of the last key group metrics scrape in milliseconds",
            &[],
            0.0,
        );
    }
    let (scrapes, sum) = totals.unwrap_or((0, 0.0));
    if scrapes > 0 {
        out.summary(
            "exporter_scrape_duration_seconds",
            "Durations of scrapes by the exporter",
            &[],
            &[],
            sum,
            scrapes as f64,
        );
    }
    out.counter(
        "exporter_scrapes_total",
        "Current total redis scrapes.",
        &[],
        scrapes as f64,
    );
    out.counter(
        "target_scrape_request_errors_total",
        "Errors in requests to the exporter",
        &[],
        request_errors as f64,
    );
}

pub(super) const PREVIOUS_SCRAPE_RUNNING: &str =
    "the previous scrape of this target is still running";

/// Longest `err` label value: a label is not a log, and Prometheus keeps every distinct value.
const MAX_ERROR_LABEL_CHARS: usize = 300;

/// The `err` label of `exporter_last_scrape_error`: the scrape's error, else the problems that
/// did not stop it (a failing script, a refused CLUSTER INFO), else `None` for a good scrape.
/// The target's password is masked should any server or library message ever echo it.
pub fn scrape_error_label(
    error: Option<&str>,
    problems: &[String],
    password: Option<&Secret>,
) -> Option<String> {
    let mut text = match error {
        Some(e) => e.to_string(),
        None if problems.is_empty() => return None,
        None => problems.join("; "),
    };
    if let Some(p) = password.filter(|p| !p.is_empty()) {
        text = text.replace(p.expose(), "***");
    }
    if let Some((cut, _)) = text.char_indices().nth(MAX_ERROR_LABEL_CHARS) {
        text.truncate(cut);
        text.push_str("...");
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(progress: &Progress, totals: Option<(u64, f64)>, error: Option<&str>) -> String {
        let mut out = Out::new("redis");
        self_metrics(&mut out, progress, 0.25, totals, 2, error);
        out.render()
    }

    #[test]
    fn a_good_scrape_and_a_failed_one() {
        use exporter_core::testkit::{assert_maps, sample_value};
        let good = Progress {
            up: true,
            connect_seconds: 0.5,
            ping_seconds: Some(0.001),
            problems: Vec::new(),
        };
        let text = render(&good, Some((3, 1.5)), None);
        let v = |text: &str, name: &str| sample_value(text, name, &[]);
        assert_maps(
            |name| v(&text, name),
            &[
                ("redis_up", Some(1.0)),
                ("redis_exporter_last_scrape_duration_seconds", Some(0.25)),
                ("redis_exporter_last_scrape_connect_time_seconds", Some(0.5)),
                ("redis_exporter_last_scrape_ping_time_seconds", Some(0.001)),
                ("redis_exporter_scrape_duration_seconds_count", Some(3.0)),
                ("redis_exporter_scrape_duration_seconds_sum", Some(1.5)),
                ("redis_exporter_scrapes_total", Some(3.0)),
                ("redis_target_scrape_request_errors_total", Some(2.0)),
                (
                    "redis_last_key_groups_scrape_duration_milliseconds",
                    Some(0.0),
                ),
            ],
        );
        assert_eq!(
            sample_value(&text, "redis_exporter_last_scrape_error", &[("err", "")]),
            Some(0.0)
        );

        let text = render(&Progress::default(), None, Some(PREVIOUS_SCRAPE_RUNNING));
        assert_eq!(v(&text, "redis_up"), Some(0.0));
        assert_eq!(
            sample_value(
                &text,
                "redis_exporter_last_scrape_error",
                &[("err", PREVIOUS_SCRAPE_RUNNING)]
            ),
            Some(1.0)
        );
        assert_eq!(v(&text, "redis_exporter_scrapes_total"), Some(0.0));
        assert!(
            !text.contains("ping_time") && !text.contains("key_groups"),
            "{text}"
        );
        assert!(
            !text.contains("redis_exporter_scrape_duration_seconds"),
            "{text}"
        );
    }

    #[test]
    fn error_label_carries_the_message_but_never_the_password() {
        assert_eq!(scrape_error_label(None, &[], None), None);
        assert_eq!(
            scrape_error_label(
                Some("cannot connect: Connection refused (os error 111)"),
                &["ignored".to_string()],
                None
            )
            .as_deref(),
            Some("cannot connect: Connection refused (os error 111)")
        );
        assert_eq!(
            scrape_error_label(None, &["script: boom".into(), "tile38: x".into()], None).as_deref(),
            Some("script: boom; tile38: x")
        );
        let pw = Secret::new("hunter2");
        let label = scrape_error_label(
            Some("authentication failed: server said hunter2 is wrong"),
            &[],
            Some(&pw),
        )
        .unwrap();
        assert!(!label.contains("hunter2"), "{label}");
        assert!(label.contains("***"), "{label}");
        let long = "é".repeat(1000);
        let label = scrape_error_label(Some(&long), &[], None).unwrap();
        assert_eq!(label.chars().count(), MAX_ERROR_LABEL_CHARS + 3);
    }
}
