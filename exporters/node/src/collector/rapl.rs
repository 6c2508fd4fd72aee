//! `node_rapl_<zone>_joules_total{index,path}` per RAPL power zone from
//! /sys/class/powercap/<zone>/{name,energy_uj,max_energy_range_uj}
//! (Documentation/power/powercap/powercap.rst).
//!
//! As upstream 1.5: zones are the entries with a `name` file, in directory order; a name ending in
//! `-<n>` (`package-0`) gives the family `package` and index `n`, any other name (`core`, `dram`)
//! is indexed by how many zones of that name came before. `path` is the zone's directory under
//! `--path.sysfs`. A host without powercap, or a zone without `max_energy_range_uj`, reports
//! `node_scrape_collector_success 0`; so does an `energy_uj` only root may read (kernels since
//! 5.10 restrict it), as upstream.

use std::collections::HashMap;
use std::path::Path;

use exporter_core::{CollectError, CollectResult, MetricFamily};

use crate::absent::{gated_collector, GatedDir};
use crate::paths::HostPaths;
use crate::util::{bool_flag, read_file, sorted_dir_names};

/// The `rapl` collector: what it reads and emits is in the module documentation.
pub struct RaplCollector {
    powercap_dir: GatedDir,
    zone_label: bool,
}

bool_flag! {
    /// Enables RAPL zone labels: every zone in node_rapl_joules_total{rapl_zone}.
    RaplFlags { enable_zone_label: "collector.rapl.enable-zone-label" }
}

impl RaplCollector {
    /// The collector reading under `paths`; with `zone_label`, every zone goes into
    /// `node_rapl_joules_total{rapl_zone}` instead of a family per zone name.
    pub fn new(paths: &HostPaths, zone_label: &bool) -> Self {
        RaplCollector {
            powercap_dir: GatedDir::new(paths.sys_path("class/powercap")),
            zone_label: *zone_label,
        }
    }
}

/// The family part of a zone name and its index, given the counts of index-less names seen so far.
pub fn zone_index(name: &str, seen: &HashMap<String, i64>) -> (String, i64) {
    let parts: Vec<&str> = name.split('-').collect();
    // Go's strconv.Atoi, like i64's parser, takes decimal digits with an optional sign.
    if let [family, index] = parts[..] {
        if let Ok(index) = index.parse::<i64>() {
            return (family.to_string(), index);
        }
    }
    (name.to_string(), seen.get(name).copied().unwrap_or(0))
}

/// A metric-name part from a zone name: every character outside `[a-zA-Z0-9_]` becomes `_`.
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Parses a one-number attribute (`energy_uj`, `max_energy_range_uj`): an unsigned integer.
pub fn parse_uint(text: &str) -> Result<u64, CollectError> {
    let raw = text.trim();
    raw.parse()
        .map_err(|_| CollectError::Parse(format!("invalid unsigned integer {raw:?}")))
}

fn read_uint(path: &Path) -> Result<u64, CollectError> {
    let text = read_file(path).map_err(permission_is_no_data)?;
    parse_uint(&text).map_err(|e| CollectError::Parse(format!("{}: {e}", path.display())))
}

/// A file only root may read is, for upstream, a platform without the data.
fn permission_is_no_data(e: CollectError) -> CollectError {
    match e {
        CollectError::Io { context, source }
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            CollectError::NotAvailable(format!("{context}: {source}"))
        }
        other => other,
    }
}

/// One zone's reading.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// The zone name without its index (`package`, `core`, `dram`).
    pub name: String,
    /// The zone's index among zones of its name.
    pub index: i64,
    /// The zone's directory under `--path.sysfs`.
    pub path: String,
    /// `energy_uj`.
    pub microjoules: u64,
}

/// The families for every zone: one `node_rapl_<zone>_joules_total` per zone name, or with
/// `zone_label` all in `node_rapl_joules_total{rapl_zone}`.
pub fn rapl_families(zones: &[Zone], zone_label: bool) -> Vec<MetricFamily> {
    if zone_label {
        let mut family =
            MetricFamily::counter("node_rapl_joules_total", "Current RAPL value in joules");
        for zone in zones {
            let index = zone.index.to_string();
            family.push(
                &[
                    ("index", &index),
                    ("path", &zone.path),
                    ("rapl_zone", &zone.name),
                ],
                zone.microjoules as f64 / 1_000_000.0,
            );
        }
        return vec![family];
    }
    let mut families: Vec<MetricFamily> = Vec::new();
    for zone in zones {
        let name = format!(
            "node_rapl_{}",
            sanitize(&format!("{}_joules_total", zone.name))
        );
        let at = match families.iter().position(|f| f.name == name) {
            Some(at) => at,
            None => {
                families.push(MetricFamily::counter(
                    name,
                    format!("Current RAPL {} value in joules", zone.name),
                ));
                families.len() - 1
            }
        };
        let index = zone.index.to_string();
        let family = &mut families[at];
        // Two zones with one name, index and path cannot exist in one directory; a second one of
        // a name and index (intel-rapl and intel-rapl-mmio) has another path.
        family.push(
            &[("index", &index), ("path", &zone.path)],
            zone.microjoules as f64 / 1_000_000.0,
        );
    }
    families
}

gated_collector!(RaplCollector, "rapl", powercap_dir);

impl RaplCollector {
    fn collect_present(&self) -> CollectResult {
        let entries = sorted_dir_names(&self.powercap_dir).map_err(permission_is_no_data)?;
        let mut seen: HashMap<String, i64> = HashMap::new();
        let mut zones = Vec::new();
        for entry in entries {
            let dir = self.powercap_dir.join(&entry);
            // Only zones have a name (the `intel-rapl` control type directory has none).
            let Ok(name) = read_file(&dir.join("name")) else {
                continue;
            };
            let (name, index) = zone_index(name.trim(), &seen);
            read_uint(&dir.join("max_energy_range_uj"))?;
            seen.insert(name.clone(), index + 1);
            zones.push(Zone {
                name,
                index,
                path: dir.to_string_lossy().into_owned(),
                microjoules: 0,
            });
        }
        for zone in &mut zones {
            zone.microjoules = read_uint(&Path::new(&zone.path).join("energy_uj"))?;
        }
        Ok(rapl_families(&zones, self.zone_label))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        assert_not_available, assert_rejects, not_available_then_fresh, sysfs_at, write,
    };
    use exporter_core::BlockingCollector;

    #[test]
    fn zone_names_and_indexes() {
        let mut seen = HashMap::new();
        assert_eq!(zone_index("package-0", &seen), ("package".into(), 0));
        assert_eq!(zone_index("package-12", &seen), ("package".into(), 12));
        assert_eq!(zone_index("dram", &seen), ("dram".into(), 0));
        seen.insert("dram".to_string(), 1);
        assert_eq!(zone_index("dram", &seen), ("dram".into(), 1));
        // Not `<name>-<number>`: the whole name, indexed by count.
        assert_eq!(zone_index("a-b-1", &seen), ("a-b-1".into(), 0));
        assert_eq!(zone_index("psys-x", &seen), ("psys-x".into(), 0));
        assert_eq!(zone_index("core-", &seen), ("core-".into(), 0));
        assert_eq!(zone_index("odd--2", &seen), ("odd--2".into(), 0));
        assert_eq!(sanitize("psys-x_joules_total"), "psys_x_joules_total");
    }

    #[test]
    fn numbers_are_unsigned_integers() {
        assert_eq!(parse_uint("123456789012\n").unwrap(), 123456789012);
        assert_rejects(parse_uint, &["", "-1", "1.5"]);
    }

    #[test]
    fn reads_zones_in_directory_order() {
        let dir = tempfile::tempdir().unwrap();
        let c = not_available_then_fresh(|| RaplCollector::new(&sysfs_at(dir.path()), &false));
        let cap = dir.path().join("class/powercap");
        write(&cap.join("intel-rapl/enabled"), "1\n");
        for (zone, name, uj) in [
            ("intel-rapl:0", "package-0", "2500000"),
            ("intel-rapl:0:0", "core", "1"),
            ("intel-rapl:0:1", "core", "2"),
        ] {
            write(&cap.join(zone).join("name"), name);
            write(&cap.join(zone).join("energy_uj"), uj);
        }
        // Without max_energy_range_uj the zone is not trusted, as upstream.
        assert_not_available(c.collect());
        for zone in ["intel-rapl:0", "intel-rapl:0:0", "intel-rapl:0:1"] {
            write(
                &cap.join(zone).join("max_energy_range_uj"),
                "262143328850\n",
            );
        }
        let fams = c.collect().unwrap();
        assert_eq!(fams[0].name, "node_rapl_package_joules_total");
        assert_eq!(fams[0].samples[0].value, 2.5);
        assert_eq!(fams[1].name, "node_rapl_core_joules_total");
        let indexes: Vec<&str> = fams[1]
            .samples
            .iter()
            .map(|s| s.labels[0].1.as_str())
            .collect();
        assert_eq!(indexes, ["0", "1"]);
        assert!(fams[1].samples[1].labels[1]
            .1
            .ends_with("class/powercap/intel-rapl:0:1"));
    }
}
