//! `node_softnet_{processed,dropped,times_squeezed}_total{cpu}` from /proc/net/softnet_stat.
//!
//! Upstream 1.5 exposes only these three columns and labels each line with its position in the
//! file (the kernel skips offline CPUs, so that is not always the CPU id).

use exporter_core::{BlockingCollector, CollectError, CollectResult, MetricFamily};

use crate::config::NodeConfig;
use crate::kept::KeptFile;

/// Kernels since 2.6.36 print at least this many columns; fewer means a truncated line.
const MIN_COLUMNS: usize = 9;

pub struct SoftnetCollector {
    path: KeptFile,
}

impl SoftnetCollector {
    pub fn new(cfg: &NodeConfig) -> Self {
        SoftnetCollector {
            path: KeptFile::new(cfg.proc_path("net/softnet_stat")),
        }
    }
}

/// Per-CPU line: processed, dropped, times squeezed.
pub type SoftnetLine = [u32; 3];

/// Parses /proc/net/softnet_stat: one line of 8-digit hex columns per online CPU.
pub fn parse_softnet(text: &str) -> Result<Vec<SoftnetLine>, CollectError> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        let mut f = line.split_whitespace();
        let raws = [f.next(), f.next(), f.next()];
        let width = raws.iter().flatten().count() + f.count();
        if width < MIN_COLUMNS {
            return Err(CollectError::Parse(format!(
                "softnet_stat: {width} columns, at least {MIN_COLUMNS} expected"
            )));
        }
        let mut row = [0u32; 3];
        for (slot, raw) in row.iter_mut().zip(raws) {
            let raw = raw.unwrap_or_default();
            *slot = u32::from_str_radix(raw, 16).map_err(|_| {
                CollectError::Parse(format!("softnet_stat: invalid hex value {raw:?}"))
            })?;
        }
        out.push(row);
    }
    Ok(out)
}

impl BlockingCollector for SoftnetCollector {
    fn name(&self) -> &'static str {
        "softnet"
    }

    fn collect(&self) -> CollectResult {
        let rows = parse_softnet(&self.path.read()?)?;
        let mut processed = MetricFamily::counter(
            "node_softnet_processed_total",
            "Number of processed packets",
        );
        let mut dropped =
            MetricFamily::counter("node_softnet_dropped_total", "Number of dropped packets");
        let mut squeezed = MetricFamily::counter(
            "node_softnet_times_squeezed_total",
            "Number of times processing packets ran out of quota",
        );
        for (i, [p, d, s]) in rows.into_iter().enumerate() {
            let cpu = i.to_string();
            processed.push(&[("cpu", &cpu)], p as f64);
            dropped.push(&[("cpu", &cpu)], d as f64);
            squeezed.push(&[("cpu", &cpu)], s as f64);
        }
        Ok(vec![processed, dropped, squeezed])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
00000030 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000
000010c4 00000002 0000000a 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001 00000000 00000000
";
    // 3.x kernels: 10 columns.
    const OLD: &str = "\
6dcad223 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000
";

    #[test]
    fn parses_hex_columns() {
        assert_eq!(
            parse_softnet(SAMPLE).unwrap(),
            vec![[0x30, 0, 0], [0x10c4, 2, 10]]
        );
        assert_eq!(parse_softnet(OLD).unwrap(), vec![[0x6dcad223, 0, 1]]);
        assert!(parse_softnet("").unwrap().is_empty());
    }

    #[test]
    fn truncated_or_garbage_is_an_error() {
        assert!(parse_softnet("00000030 00000000 00000000\n").is_err());
        assert!(parse_softnet("zz 0 0 0 0 0 0 0 0\n").is_err());
        assert!(parse_softnet("1ffffffff 0 0 0 0 0 0 0 0\n").is_err());
    }

    #[test]
    fn collects_per_cpu_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("net")).unwrap();
        std::fs::write(dir.path().join("net/softnet_stat"), SAMPLE).unwrap();
        let cfg = NodeConfig {
            procfs: dir.path().to_path_buf(),
            ..NodeConfig::default()
        };
        let fams = SoftnetCollector::new(&cfg).collect().unwrap();
        assert_eq!(fams.len(), 3);
        assert_eq!(fams[0].samples[1].labels[0].1, "1");
        assert_eq!(fams[0].samples[1].value, 4292.0);
        assert_eq!(fams[2].samples[1].value, 10.0);
    }
}
