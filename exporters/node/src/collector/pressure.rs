//! Pressure stall information (PSI) from /proc/pressure/{cpu,io,memory,irq}, as the cumulative stall
//! times: `node_pressure_<resource>_waiting_seconds_total` ("some" line) for cpu, io and memory,
//! `node_pressure_<resource>_stalled_seconds_total` ("full" line) for io, memory and irq.
//!
//! The irq file exists only on kernels since 6.1 built with IRQ time accounting; where it is
//! missing the irq family is left out and the collector still succeeds, as upstream 1.9.1 does.

use exporter_core::{CollectError, CollectResult, MetricFamily};

use crate::kept::{proc_files_collector, KeptFile};

proc_files_collector!(
    "pressure",
    PressureCollector {
        cpu: "pressure/cpu",
        io: "pressure/io",
        memory: "pressure/memory",
        irq: "pressure/irq",
    }
);

/// The `total=` stall times (microseconds) of one PSI file. A line absent from the file is None:
/// kernels before 5.13 have no "full" line for cpu.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct PsiTotals {
    /// `some total=`: microseconds in which at least one task stalled.
    pub some: Option<u64>,
    /// `full total=`: microseconds in which all non-idle tasks stalled.
    pub full: Option<u64>,
}

/// Parses a PSI file:
/// `some avg10=0.65 avg60=1.35 avg300=1.57 total=10818772` (and a `full ...` line).
/// Lines with another prefix are ignored, as upstream does; a some/full line without a valid
/// `total=` is an error.
pub fn parse_psi(text: &str) -> Result<PsiTotals, CollectError> {
    let mut out = PsiTotals::default();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let slot = match fields.next() {
            Some("some") => &mut out.some,
            Some("full") => &mut out.full,
            _ => continue,
        };
        let total = fields
            .find_map(|f| f.strip_prefix("total="))
            .ok_or_else(|| CollectError::Parse(format!("no total in PSI line {line:?}")))?;
        let total = total
            .parse()
            .map_err(|_| CollectError::Parse(format!("invalid PSI total {total:?}")))?;
        *slot = Some(total);
    }
    Ok(out)
}

/// Microseconds to seconds, with upstream's two divisions: a single division by 1e6 rounds some
/// values differently in the last bit (2934547 µs gives 2.9345470000000002 upstream).
fn micros_to_seconds(us: u64) -> f64 {
    us as f64 / 1000.0 / 1000.0
}

/// Reads one PSI file. PSI compiled in but disabled at boot (`psi=0`) makes reads fail with
/// EOPNOTSUPP: that is "not available" too, not a failure.
fn read_psi(file: &KeptFile) -> Result<PsiTotals, CollectError> {
    let mut text = String::new();
    let path = file.path().display();
    match file.read_into(&mut text) {
        Ok(()) => parse_psi(&text),
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Err(CollectError::NotAvailable(
            format!("{path}: PSI disabled (psi=0)"),
        )),
        Err(e) => Err(CollectError::io(path.to_string(), e)),
    }
}

/// The irq file, which only some kernels have: absent or disabled is `None`, not an error.
fn read_optional_psi(file: &KeptFile) -> Result<Option<PsiTotals>, CollectError> {
    match read_psi(file) {
        Ok(totals) => Ok(Some(totals)),
        Err(CollectError::NotAvailable(why)) => {
            tracing::debug!(%why, "PSI resource not available");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn required(v: Option<u64>, what: &str) -> Result<f64, CollectError> {
    v.map(micros_to_seconds)
        .ok_or_else(|| CollectError::Parse(format!("PSI {what} line missing")))
}

impl PressureCollector {
    /// One scrape.
    fn scrape(&self) -> CollectResult {
        let cpu = read_psi(&self.cpu)?;
        let io = read_psi(&self.io)?;
        let memory = read_psi(&self.memory)?;
        let irq = read_optional_psi(&self.irq)?;
        let counter = |name: &'static str, help: &'static str, v: f64| {
            MetricFamily::counter(name, help).with(&[], v)
        };
        let mut families = vec![
            counter(
                "node_pressure_cpu_waiting_seconds_total",
                "Total time in seconds that processes have waited for CPU time",
                required(cpu.some, "cpu some")?,
            ),
            counter(
                "node_pressure_io_waiting_seconds_total",
                "Total time in seconds that processes have waited due to IO congestion",
                required(io.some, "io some")?,
            ),
            counter(
                "node_pressure_io_stalled_seconds_total",
                "Total time in seconds no process could make progress due to IO congestion",
                required(io.full, "io full")?,
            ),
            counter(
                "node_pressure_memory_waiting_seconds_total",
                "Total time in seconds that processes have waited for memory",
                required(memory.some, "memory some")?,
            ),
            counter(
                "node_pressure_memory_stalled_seconds_total",
                "Total time in seconds no process could make progress due to memory congestion",
                required(memory.full, "memory full")?,
            ),
        ];
        // IRQ pressure has only a "full" line: an interrupt stalls the whole CPU.
        if let Some(full) = irq.and_then(|t| t.full) {
            families.push(counter(
                "node_pressure_irq_stalled_seconds_total",
                "Total time in seconds no process could make progress due to IRQ congestion",
                micros_to_seconds(full),
            ));
        }
        Ok(families)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_not_available, assert_rejects, procfs_at, write};
    use exporter_core::BlockingCollector;

    const IO: &str = "some avg10=8.73 avg60=6.26 avg300=2.01 total=9307764
full avg10=8.66 avg60=6.20 avg300=1.96 total=8938718
";

    #[test]
    fn parses_some_and_full() {
        assert_eq!(
            parse_psi(IO).unwrap(),
            PsiTotals {
                some: Some(9307764),
                full: Some(8938718)
            }
        );
        // Kernels before 5.13 have no "full" line in the cpu file.
        assert_eq!(
            parse_psi("some avg10=0.00 avg60=0.00 avg300=0.00 total=42\n").unwrap(),
            PsiTotals {
                some: Some(42),
                full: None
            }
        );
    }

    #[test]
    fn seconds_match_upstream_rounding() {
        assert_eq!(micros_to_seconds(2934547), 2.9345470000000002);
        assert_eq!(micros_to_seconds(3948241), 3.948241);
    }

    #[test]
    fn truncated_or_garbage_is_an_error() {
        assert_rejects(
            parse_psi,
            &[
                "some avg10=0.00 avg60=0.00\n",
                "some avg10=0.00 total=abc\n",
                "full total=-1\n",
            ],
        );
        // Unknown prefixes are skipped.
        assert_eq!(parse_psi("junk\n\n").unwrap(), PsiTotals::default());
    }

    #[test]
    fn collects_from_a_fixture() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pressure");
        std::fs::create_dir_all(&p).unwrap();
        let cfg = procfs_at(dir.path());
        let c = PressureCollector::new(&cfg);
        write(&p.join("cpu"), "some avg10=0.65 avg60=1.35 avg300=1.57 total=3948241\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
        write(&p.join("io"), "some avg10=0 avg60=0 avg300=0 total=3076346\nfull avg10=0 avg60=0 avg300=0 total=2934547\n");
        assert_not_available(c.collect());

        write(&p.join("memory"), "some avg10=0 avg60=0 avg300=0 total=0\n");
        assert!(matches!(c.collect(), Err(CollectError::Parse(_))));

        write(
            &p.join("memory"),
            "some avg10=0 avg60=0 avg300=0 total=0\nfull avg10=0 avg60=0 avg300=0 total=0\n",
        );
        let fams = c.collect().unwrap();
        let values: Vec<_> = fams
            .iter()
            .map(|f| (f.name.as_ref(), f.samples[0].value))
            .collect();
        assert_eq!(
            values,
            [
                ("node_pressure_cpu_waiting_seconds_total", 3.948241),
                ("node_pressure_io_waiting_seconds_total", 3.076346),
                ("node_pressure_io_stalled_seconds_total", 2.9345470000000002),
                ("node_pressure_memory_waiting_seconds_total", 0.0),
                ("node_pressure_memory_stalled_seconds_total", 0.0),
            ]
        );

        // Kernels since 6.1 with IRQ time accounting: a "full" line only.
        write(
            &p.join("irq"),
            "full avg10=0.00 avg60=0.00 avg300=0.00 total=62500\n",
        );
        let fams = c.collect().unwrap();
        let irq = fams.last().unwrap();
        assert_eq!(irq.name, "node_pressure_irq_stalled_seconds_total");
        assert_eq!(irq.samples[0].value, 0.0625);

        write(&p.join("irq"), "full avg10=0.00 total=junk\n");
        assert!(matches!(c.collect(), Err(CollectError::Parse(_))));
    }
}
