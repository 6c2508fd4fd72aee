//! `node_softnet_*{cpu}` from /proc/net/softnet_stat: packets processed, dropped and squeezed,
//! transmit lock collisions, RPS wake-ups, flow-limit hits and the backlog length, per CPU.
//!
//! Since 5.10 the kernel prints the CPU id as column 13 and that is the `cpu` label, as in current
//! node_exporter. Older kernels have no such column; their lines are labelled by position (the
//! kernel skips offline CPUs, so that is not always the CPU id), as node_exporter 1.5 did.

use exporter_core::{CollectError, CollectResult, MetricFamily};

use crate::kept::proc_files_collector;
use crate::util::keep_first_of_each;

/// Kernels since 2.6.23 print at least this many columns; fewer means a truncated line.
const MIN_COLUMNS: usize = 9;

/// Column positions, from `softnet_seq_show` in net/core/net-procfs.c. Columns 3-7 are always 0.
const PROCESSED: usize = 0;
const DROPPED: usize = 1;
const TIME_SQUEEZE: usize = 2;
const CPU_COLLISION: usize = 8;
/// Since 2.6.35.
const RECEIVED_RPS: usize = 9;
/// Since 3.11.
const FLOW_LIMIT_COUNT: usize = 10;
/// Since 5.10, with the CPU id after it.
const BACKLOG_LEN: usize = 11;
const CPU_ID: usize = 12;

proc_files_collector!(
    "softnet",
    SoftnetCollector {
        path: "net/softnet_stat",
    }
);

/// One CPU's line. A column the kernel does not print yet is 0, as upstream reports it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SoftnetLine {
    /// The CPU: the id column when the kernel prints one, else the line number.
    pub cpu: u32,
    /// Packets processed.
    pub processed: u32,
    /// Packets dropped (backlog full).
    pub dropped: u32,
    /// Times net_rx_action ran out of budget or time.
    pub time_squeezed: u32,
    /// Collisions taking the transmit lock.
    pub cpu_collision: u32,
    /// Times the CPU was woken by an inter-processor interrupt (RPS).
    pub received_rps: u32,
    /// Packets dropped by the flow limit.
    pub flow_limit_count: u32,
    /// Packets in the backlog queues.
    pub backlog_len: u32,
}

/// Parses /proc/net/softnet_stat: one line of 8-digit hex columns per online CPU. A CPU named
/// twice keeps its first line.
pub fn parse_softnet(text: &str) -> Result<Vec<SoftnetLine>, CollectError> {
    let mut out = Vec::new();
    for (position, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let position = u32::try_from(position).unwrap_or(u32::MAX);
        out.push(parse_line(line, position)?);
    }
    keep_first_of_each(&mut out, |l| &l.cpu);
    Ok(out)
}

fn parse_line(line: &str, position: u32) -> Result<SoftnetLine, CollectError> {
    let mut columns = [""; CPU_ID + 1];
    let mut width = 0;
    for (i, column) in line.split_whitespace().enumerate() {
        if let Some(slot) = columns.get_mut(i) {
            *slot = column;
        }
        width = i + 1;
    }
    if width < MIN_COLUMNS {
        return Err(CollectError::Parse(format!(
            "softnet_stat: {width} columns, at least {MIN_COLUMNS} expected"
        )));
    }
    let hex = |i: usize| -> Result<u32, CollectError> {
        if i >= width {
            return Ok(0);
        }
        let raw = columns[i];
        u32::from_str_radix(raw, 16)
            .map_err(|_| CollectError::Parse(format!("softnet_stat: invalid hex value {raw:?}")))
    };
    Ok(SoftnetLine {
        cpu: if width > CPU_ID {
            hex(CPU_ID)?
        } else {
            position
        },
        processed: hex(PROCESSED)?,
        dropped: hex(DROPPED)?,
        time_squeezed: hex(TIME_SQUEEZE)?,
        cpu_collision: hex(CPU_COLLISION)?,
        received_rps: hex(RECEIVED_RPS)?,
        flow_limit_count: hex(FLOW_LIMIT_COUNT)?,
        backlog_len: hex(BACKLOG_LEN)?,
    })
}

/// The families in upstream's order, each with the field of a line it reports.
type Field = fn(&SoftnetLine) -> u32;
const FAMILIES: [(&str, &str, bool, Field); 7] = [
    (
        "node_softnet_processed_total",
        "Number of processed packets",
        true,
        |l| l.processed,
    ),
    (
        "node_softnet_dropped_total",
        "Number of dropped packets",
        true,
        |l| l.dropped,
    ),
    (
        "node_softnet_times_squeezed_total",
        "Number of times processing packets ran out of quota",
        true,
        |l| l.time_squeezed,
    ),
    (
        "node_softnet_cpu_collision_total",
        "Number of collision occur while obtaining device lock while transmitting",
        true,
        |l| l.cpu_collision,
    ),
    (
        "node_softnet_received_rps_total",
        "Number of times cpu woken up received_rps",
        true,
        |l| l.received_rps,
    ),
    (
        "node_softnet_flow_limit_count_total",
        "Number of times flow limit has been reached",
        true,
        |l| l.flow_limit_count,
    ),
    (
        "node_softnet_backlog_len",
        "Softnet backlog status",
        false,
        |l| l.backlog_len,
    ),
];

impl SoftnetCollector {
    /// One scrape.
    fn scrape(&self) -> CollectResult {
        let lines = parse_softnet(&self.path.read()?)?;
        let cpus: Vec<String> = lines.iter().map(|l| l.cpu.to_string()).collect();
        let families = FAMILIES
            .iter()
            .map(|&(name, help, counter, field)| {
                let mut fam = if counter {
                    MetricFamily::counter(name, help)
                } else {
                    MetricFamily::gauge(name, help)
                };
                for (line, cpu) in lines.iter().zip(&cpus) {
                    fam.push(&[("cpu", cpu)], field(line) as f64);
                }
                fam
            })
            .collect();
        Ok(families)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_rejects, family_names, scrape_procfs};

    // 6.x kernels: 15 columns (input_qlen and process_qlen after the CPU id).
    const SAMPLE: &str = "\
00000030 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000
000010c4 00000002 0000000a 00000000 00000000 00000000 00000000 00000000 00000003 00000004 00000005 00000006 00000001 00000000 00000000
";
    // A CPU offline: the kernel skips its line, the id column says which CPU each line is.
    const CPU1_OFFLINE: &str = "\
00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000
00000002 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000002
";
    // 3.x kernels: 10 columns, no flow limit, no backlog, no CPU id.
    const OLD: &str = "\
6dcad223 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000007 00000008
6dcad224 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000
";

    #[test]
    fn parses_every_column_of_current_kernels() {
        assert_eq!(
            parse_softnet(SAMPLE).unwrap(),
            vec![
                SoftnetLine {
                    processed: 0x30,
                    ..SoftnetLine::default()
                },
                SoftnetLine {
                    cpu: 1,
                    processed: 0x10c4,
                    dropped: 2,
                    time_squeezed: 10,
                    cpu_collision: 3,
                    received_rps: 4,
                    flow_limit_count: 5,
                    backlog_len: 6,
                }
            ]
        );
        assert!(parse_softnet("").unwrap().is_empty());
    }

    #[test]
    fn labels_by_the_kernels_cpu_id_when_it_prints_one() {
        let cpus: Vec<u32> = parse_softnet(CPU1_OFFLINE)
            .unwrap()
            .iter()
            .map(|l| l.cpu)
            .collect();
        assert_eq!(cpus, [0, 2]);
    }

    #[test]
    fn old_kernels_get_positions_and_zero_for_columns_they_lack() {
        let lines = parse_softnet(OLD).unwrap();
        assert_eq!(
            lines[0],
            SoftnetLine {
                cpu: 0,
                processed: 0x6dcad223,
                dropped: 0,
                time_squeezed: 1,
                cpu_collision: 7,
                received_rps: 8,
                flow_limit_count: 0,
                backlog_len: 0,
            }
        );
        assert_eq!(lines[1].cpu, 1);
    }

    #[test]
    fn a_repeated_cpu_keeps_its_first_line() {
        // Found by tests/fuzz.rs: a repeated line gave two series for cpu="0".
        let first = SAMPLE.lines().next().unwrap();
        let text = format!("{first}\n{first}\n{}", SAMPLE.lines().nth(1).unwrap());
        let cpus: Vec<u32> = parse_softnet(&text)
            .unwrap()
            .iter()
            .map(|l| l.cpu)
            .collect();
        assert_eq!(cpus, [0, 1]);
    }

    #[test]
    fn truncated_or_garbage_is_an_error() {
        assert_rejects(
            parse_softnet,
            &[
                "00000030 00000000 00000000\n",
                "zz 0 0 0 0 0 0 0 0\n",
                "1ffffffff 0 0 0 0 0 0 0 0\n",
                "0 0 0 0 0 0 0 0 0 0 0 0 -1\n",
            ],
        );
    }

    #[test]
    fn collects_seven_families_per_cpu() {
        let fams = scrape_procfs(&[("net/softnet_stat", SAMPLE)], SoftnetCollector::new);
        let names = family_names(&fams);
        assert_eq!(
            names,
            [
                "node_softnet_processed_total",
                "node_softnet_dropped_total",
                "node_softnet_times_squeezed_total",
                "node_softnet_cpu_collision_total",
                "node_softnet_received_rps_total",
                "node_softnet_flow_limit_count_total",
                "node_softnet_backlog_len",
            ]
        );
        assert_eq!(fams[0].samples[1].labels[0].1, "1");
        assert_eq!(fams[0].samples[1].value, 4292.0);
        assert_eq!(fams[2].samples[1].value, 10.0);
        assert_eq!(fams[6].samples[1].value, 6.0);
        assert_eq!(fams[6].kind, exporter_core::MetricType::Gauge);
    }
}
