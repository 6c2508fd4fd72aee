//! `node_entropy_available_bits` and `node_entropy_pool_size_bits` from
//! /proc/sys/kernel/random/{entropy_avail,poolsize}.

use exporter_core::{CollectError, CollectResult, MetricFamily};

use crate::kept::proc_files_collector;
use crate::util::parse_field;

proc_files_collector!(
    "entropy",
    EntropyCollector {
        entropy_avail: "sys/kernel/random/entropy_avail",
        poolsize: "sys/kernel/random/poolsize",
    }
);

/// Parses a one-number sysctl file (`256\n`). Upstream reads these as unsigned integers.
pub fn parse_sysctl_uint(text: &str, what: &str) -> Result<f64, CollectError> {
    let mut fields = text.split_whitespace();
    let v: u64 = parse_field(fields.next(), what)?;
    Ok(v as f64)
}

impl EntropyCollector {
    /// One scrape.
    fn scrape(&self) -> CollectResult {
        let avail = parse_sysctl_uint(&self.entropy_avail.read()?, "entropy_avail")?;
        let pool = parse_sysctl_uint(&self.poolsize.read()?, "poolsize")?;
        Ok(vec![
            MetricFamily::gauge("node_entropy_available_bits", "Bits of available entropy.")
                .with(&[], avail),
            MetricFamily::gauge("node_entropy_pool_size_bits", "Bits of entropy pool.")
                .with(&[], pool),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_not_available, procfs_at, write};
    use exporter_core::BlockingCollector;

    #[test]
    fn parses_values() {
        assert_eq!(parse_sysctl_uint("256\n", "x").unwrap(), 256.0);
        // Pre-5.18 kernels: 4096-bit pool with a varying estimate.
        assert_eq!(parse_sysctl_uint("3742", "x").unwrap(), 3742.0);
    }

    #[test]
    fn truncated_or_garbage_is_an_error() {
        assert!(parse_sysctl_uint("", "x").is_err());
        assert!(parse_sysctl_uint("\n", "x").is_err());
        assert!(parse_sysctl_uint("-1", "x").is_err());
        assert!(parse_sysctl_uint("abc", "x").is_err());
    }

    #[test]
    fn collects_from_a_fixture_and_needs_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let random = dir.path().join("sys/kernel/random");
        std::fs::create_dir_all(&random).unwrap();
        write(&random.join("entropy_avail"), "256\n");
        let cfg = procfs_at(dir.path());
        let c = EntropyCollector::new(&cfg);
        assert_not_available(c.collect());

        write(&random.join("poolsize"), "4096\n");
        let fams = c.collect().unwrap();
        assert_eq!(fams[0].samples[0].value, 256.0);
        assert_eq!(fams[1].name, "node_entropy_pool_size_bits");
        assert_eq!(fams[1].samples[0].value, 4096.0);
    }
}
