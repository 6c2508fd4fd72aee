//! `node_vmstat_<field>` (untyped) for the /proc/vmstat fields matching `--collector.vmstat.fields`.

use exporter_core::{interned, BlockingCollector, CollectError, CollectResult, MetricFamily};
use regex::Regex;

use crate::kept::KeptFile;
use crate::paths::HostPaths;
use crate::util::{keep_first_of_each, regex_flag, FieldFilter};

/// The fields upstream returns by default.
pub const DEFAULT_FIELDS: &str = "^(oom_kill|pgpg|pswp|pg.*fault).*";

regex_flag! {
    /// Regexp of fields to return for vmstat collector.
    VmstatFlags { fields: "collector.vmstat.fields" = DEFAULT_FIELDS }
}

/// The `vmstat` collector: what it reads and emits is in the module documentation.
pub struct VmstatCollector {
    path: KeptFile,
    fields: FieldFilter,
}

impl VmstatCollector {
    /// The collector reading under `cfg`, with its own options.
    pub fn new(cfg: &HostPaths, fields: &Regex) -> Self {
        VmstatCollector {
            path: KeptFile::new(cfg.proc_path("vmstat")),
            fields: FieldFilter::new(fields.clone()),
        }
    }
}

/// Parses /proc/vmstat (`name value` lines), keeping the fields `keep` matches, in file order
/// (a repeated name keeps its first value). Like upstream, any unparsable value fails the
/// scrape, selected or not: a malformed file is not trusted piecemeal.
pub fn parse_vmstat(
    text: &str,
    mut keep: impl FnMut(&str) -> bool,
) -> Result<Vec<(&str, f64)>, CollectError> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let Some(name) = parts.next() else { continue };
        let raw = parts
            .next()
            .ok_or_else(|| CollectError::Parse(format!("invalid line in vmstat: {line:?}")))?;
        let value: f64 = raw
            .parse()
            .map_err(|_| CollectError::Parse(format!("invalid value for {name}: {raw:?}")))?;
        if keep(name) {
            out.push((name, value));
        }
    }
    keep_first_of_each(&mut out, |(name, _)| *name);
    Ok(out)
}

/// A vmstat field name is used as a metric-name part; the kernel only uses `[a-z0-9_]`, but an
/// unexpected character must not corrupt the exposition.
fn valid_name_part(name: &str) -> bool {
    name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl BlockingCollector for VmstatCollector {
    fn name(&self) -> &'static str {
        "vmstat"
    }

    fn collect(&self) -> CollectResult {
        let text = self.path.read()?;
        let mut fields = self.fields.matcher();
        Ok(parse_vmstat(&text, |name| fields.is_match(name))?
            .into_iter()
            .filter(|(name, _)| valid_name_part(name))
            .map(|(name, value)| {
                MetricFamily::untyped(
                    interned!("node_vmstat_{name}"),
                    interned!("/proc/vmstat information field {name}."),
                )
                .with(&[], value)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::scrape_procfs;

    const SAMPLE: &str = "nr_free_pages 1208361
nr_zone_inactive_anon 3059
pgpgin 751961
pgpgout 593088
pswpin 0
pswpout 0
pgfault 983598
pgmajfault 659
pgrefill 0
oom_kill 0
thp_fault_alloc 0
";

    #[test]
    fn keeps_default_fields() {
        let re = Regex::new(DEFAULT_FIELDS).unwrap();
        let got = parse_vmstat(SAMPLE, |n| re.is_match(n)).unwrap();
        assert_eq!(
            got,
            vec![
                ("pgpgin", 751961.0),
                ("pgpgout", 593088.0),
                ("pswpin", 0.0),
                ("pswpout", 0.0),
                ("pgfault", 983598.0),
                ("pgmajfault", 659.0),
                ("oom_kill", 0.0),
            ]
        );
    }

    #[test]
    fn a_repeated_field_keeps_its_first_value() {
        // Found by tests/fuzz.rs: a repeated line gave two node_vmstat_pgfault families.
        let got = parse_vmstat("pgfault 1\npgpgin 2\npgfault 3\n", |_| true).unwrap();
        assert_eq!(got, vec![("pgfault", 1.0), ("pgpgin", 2.0)]);
    }

    #[test]
    fn truncated_or_garbage_is_an_error() {
        let all = Regex::new(".*").unwrap();
        assert!(parse_vmstat("pgfault\n", |n| all.is_match(n)).is_err());
        assert!(parse_vmstat("pgfault x\n", |n| all.is_match(n)).is_err());
        // Upstream parses the value before filtering.
        let none = Regex::new("^$").unwrap();
        assert!(parse_vmstat("nr_free_pages x\n", |n| none.is_match(n)).is_err());
        assert_eq!(parse_vmstat("\n\n", |n| all.is_match(n)).unwrap(), vec![]);
    }

    #[test]
    fn collects_from_a_fixture() {
        let fams = scrape_procfs(&[("vmstat", SAMPLE)], |cfg| {
            VmstatCollector::new(cfg, &Regex::new(DEFAULT_FIELDS).unwrap())
        });
        assert_eq!(fams.len(), 7);
        assert_eq!(fams[0].name, "node_vmstat_pgpgin");
        assert_eq!(fams[0].help, "/proc/vmstat information field pgpgin.");
        assert_eq!(fams[0].kind, exporter_core::MetricType::Untyped);
    }
}
