//! `node_memory_<Field>[_bytes]` gauges, one per line of /proc/meminfo.
//!
//! Every field the kernel reports is exported (new kernels add fields; upstream picks them up
//! without a release, so do we). Fields in kB become bytes and get a `_bytes` suffix; unitless
//! ones (`HugePages_Total`) keep their name.

use exporter_core::{interned, CollectError, CollectResult, MetricFamily};

use crate::kept::proc_files_collector;

proc_files_collector!("meminfo", MeminfoCollector { path: "meminfo" });

/// Turns a meminfo key into its metric-name part the way upstream does: `Active(anon)` becomes
/// `Active_anon`. Characters that cannot appear in a metric name become `_`, so an odd kernel
/// field can never corrupt the exposition.
fn metric_key(raw: &str) -> String {
    let mut key = String::with_capacity(raw.len() + 7);
    let mut push = |part: &str| {
        key.extend(part.chars().map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        }))
    };
    match (raw.find('('), raw.rfind(')')) {
        (Some(open), Some(close)) if open < close => {
            push(&raw[..open]);
            push("_");
            push(&raw[open + 1..close]);
            push(&raw[close + 1..]);
        }
        _ => push(raw),
    }
    key
}

/// Parses /proc/meminfo into `(metric key, value)` pairs in file order, values already scaled
/// to bytes where the line has a unit. A repeated key keeps its last value (upstream stores
/// them in a map).
pub fn parse_meminfo(text: &str) -> Result<Vec<(String, f64)>, CollectError> {
    let mut out: Vec<(String, f64)> = Vec::with_capacity(64);
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        // Some CentOS 6 kernels emit empty lines.
        let Some(name) = parts.next() else { continue };
        let raw_value = parts
            .next()
            .ok_or_else(|| CollectError::Parse(format!("invalid line in meminfo: {line:?}")))?;
        let mut value: f64 = raw_value
            .parse()
            .map_err(|_| CollectError::Parse(format!("invalid value in meminfo: {raw_value:?}")))?;
        let mut key = metric_key(name.strip_suffix(':').unwrap_or(name));
        match (parts.next(), parts.next()) {
            (None, _) => {}
            // The only unit the kernel uses is kB.
            (Some(_unit), None) => {
                value *= 1024.0;
                key.push_str("_bytes");
            }
            _ => {
                return Err(CollectError::Parse(format!(
                    "invalid line in meminfo: {line:?}"
                )))
            }
        }
        // The kernel never repeats a key, but a repeated one must not become a duplicate series.
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some(dup) => dup.1 = value,
            None => out.push((key, value)),
        }
    }
    Ok(out)
}

impl MeminfoCollector {
    /// One scrape.
    fn scrape(&self) -> CollectResult {
        let fields = parse_meminfo(&self.path.read()?)?;
        Ok(fields
            .into_iter()
            .map(|(key, value)| {
                MetricFamily::gauge(
                    interned!("node_memory_{key}"),
                    interned!("Memory information field {key}."),
                )
                .with(&[], value)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_rejects, family, scrape_procfs};

    const SAMPLE: &str = "MemTotal:       24683656 kB
MemFree:        24182104 kB
MemAvailable:   24291416 kB
Buffers:          129128 kB
Active(anon):       1548 kB
Inactive(file):    49992 kB
NFS_Unstable:          0 kB
VmallocTotal:   34359738367 kB
HugePages_Total:       0
HugePages_Free:        3
Hugepagesize:       2048 kB
DirectMap1G:    25165824 kB
";

    fn get(fields: &[(String, f64)], key: &str) -> Option<f64> {
        fields.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    #[test]
    fn parses_this_machines_meminfo() {
        let f = parse_meminfo(SAMPLE).unwrap();
        assert_eq!(f.len(), 12);
        assert_eq!(get(&f, "MemTotal_bytes"), Some(24683656.0 * 1024.0));
        assert_eq!(get(&f, "Active_anon_bytes"), Some(1548.0 * 1024.0));
        assert_eq!(get(&f, "Inactive_file_bytes"), Some(49992.0 * 1024.0));
        assert_eq!(get(&f, "NFS_Unstable_bytes"), Some(0.0));
        assert_eq!(get(&f, "VmallocTotal_bytes"), Some(34359738367.0 * 1024.0));
        assert_eq!(get(&f, "HugePages_Total"), Some(0.0));
        assert_eq!(get(&f, "HugePages_Free"), Some(3.0));
        assert_eq!(get(&f, "Hugepagesize_bytes"), Some(2048.0 * 1024.0));
        assert_eq!(f[0].0, "MemTotal_bytes");
    }

    #[test]
    fn tolerates_empty_lines_and_keeps_the_last_duplicate() {
        let f = parse_meminfo("MemTotal: 1 kB\n\n   \nMemTotal: 2 kB\n").unwrap();
        assert_eq!(f, vec![("MemTotal_bytes".to_string(), 2048.0)]);
    }

    #[test]
    fn odd_names_become_valid_metric_names() {
        assert_eq!(metric_key("Active(anon)"), "Active_anon");
        assert_eq!(metric_key("Weird-Field.x"), "Weird_Field_x");
        assert_eq!(metric_key("Unbalanced(x"), "Unbalanced_x");
    }

    #[test]
    fn truncated_or_garbage_is_an_error() {
        assert_rejects(
            parse_meminfo,
            &[
                "MemTotal:\n",
                "MemTotal: lots kB\n",
                "MemTotal: 1 kB extra\n",
            ],
        );
        assert_eq!(parse_meminfo("").unwrap(), vec![]);
    }

    #[test]
    fn collects_from_a_fixture() {
        let fams = scrape_procfs(&[("meminfo", SAMPLE)], MeminfoCollector::new);
        let active = family(&fams, "node_memory_Active_anon_bytes");
        assert_eq!(active.help, "Memory information field Active_anon_bytes.");
        assert_eq!(active.samples[0].value, 1548.0 * 1024.0);
    }
}
