//! `node_filefd_allocated` and `node_filefd_maximum` from /proc/sys/fs/file-nr.

use exporter_core::{CollectError, CollectResult, MetricFamily};

use crate::kept::proc_files_collector;
use crate::util::parse_field;

proc_files_collector!(
    "filefd",
    FilefdCollector {
        path: "sys/fs/file-nr",
    }
);

/// Parses file-nr (`allocated  free  maximum`) into `(allocated, maximum)`. The middle field has
/// been always 0 since Linux 2.6, so upstream does not export it.
pub fn parse_file_nr(text: &str) -> Result<(f64, f64), CollectError> {
    let mut fields = text.split_whitespace();
    let allocated = parse_field(fields.next(), "allocated")?;
    let _free: f64 = parse_field(fields.next(), "free")?;
    let maximum = parse_field(fields.next(), "maximum")?;
    Ok((allocated, maximum))
}

impl FilefdCollector {
    /// One scrape.
    fn scrape(&self) -> CollectResult {
        let (allocated, maximum) = parse_file_nr(&self.path.read()?)?;
        Ok(vec![
            MetricFamily::gauge(
                "node_filefd_allocated",
                "File descriptor statistics: allocated.",
            )
            .with(&[], allocated),
            MetricFamily::gauge(
                "node_filefd_maximum",
                "File descriptor statistics: maximum.",
            )
            .with(&[], maximum),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_rejects, scrape_procfs};

    #[test]
    fn parses_file_nr() {
        assert_eq!(
            parse_file_nr("294\t0\t2466174\n").unwrap(),
            (294.0, 2466174.0)
        );
        // 64-bit maximum as seen with fs.file-max = LONG_MAX.
        assert_eq!(
            parse_file_nr("1024 0 9223372036854775807").unwrap(),
            (1024.0, 9223372036854775807.0)
        );
    }

    #[test]
    fn truncated_or_garbage_is_an_error() {
        assert_rejects(parse_file_nr, &["", "294\t0", "a\t0\t5", "1\t0\tmax"]);
    }

    #[test]
    fn collects_from_a_fixture() {
        let fams = scrape_procfs(
            &[("sys/fs/file-nr", "142\t0\t2466174\n")],
            FilefdCollector::new,
        );
        assert_eq!(fams[0].samples[0].value, 142.0);
        assert_eq!(fams[1].name, "node_filefd_maximum");
        assert_eq!(fams[1].samples[0].value, 2466174.0);
    }
}
