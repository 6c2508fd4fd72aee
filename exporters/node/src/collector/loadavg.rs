//! `node_load1`, `node_load5`, `node_load15` from /proc/loadavg.

use exporter_core::{CollectError, CollectResult, MetricFamily};

use crate::kept::proc_files_collector;
use crate::util::parse_field;

proc_files_collector!("loadavg", LoadavgCollector { path: "loadavg" });

/// Parses the first three fields of /proc/loadavg (`0.52 0.58 0.59 1/389 12345`).
pub fn parse_loadavg(text: &str) -> Result<[f64; 3], CollectError> {
    let mut fields = text.split_whitespace();
    Ok([
        parse_field(fields.next(), "load1")?,
        parse_field(fields.next(), "load5")?,
        parse_field(fields.next(), "load15")?,
    ])
}

impl LoadavgCollector {
    /// One scrape.
    fn scrape(&self) -> CollectResult {
        let [l1, l5, l15] = parse_loadavg(&self.path.read()?)?;
        Ok(vec![
            MetricFamily::gauge("node_load1", "1m load average.").with(&[], l1),
            MetricFamily::gauge("node_load5", "5m load average.").with(&[], l5),
            MetricFamily::gauge("node_load15", "15m load average.").with(&[], l15),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::assert_rejects;

    #[test]
    fn parses_loadavg() {
        assert_eq!(
            parse_loadavg("0.52 0.58 0.59 1/389 12345\n").unwrap(),
            [0.52, 0.58, 0.59]
        );
    }

    #[test]
    fn truncated_or_garbage_is_an_error() {
        assert_rejects(parse_loadavg, &["", "0.5 0.1", "a b c"]);
    }
}
