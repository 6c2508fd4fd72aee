//! `node_timex_*`: the kernel clock discipline state from adjtimex(2), read-only (`modes = 0`).
#![allow(unsafe_code, reason = "adjtimex(2) through libc")]

use exporter_core::{interned, BlockingCollector, CollectError, CollectResult, MetricFamily};

use crate::paths::HostPaths;

/// adjtimex's return value when the clock is not synchronised (TIME_ERROR).
const TIME_ERROR: i32 = 5;
/// Status bit: `offset` and `jitter` are in nanoseconds rather than microseconds.
const STA_NANO: i32 = 0x2000;
/// Frequencies are in ppm with a 16-bit binary fraction (see NOTES in adjtimex(2)).
const PPM16FRAC: f64 = 1_000_000.0 * 65536.0;
const MICROS: f64 = 1_000_000.0;
const NANOS: f64 = 1_000_000_000.0;

/// The `timex` collector: what it reads and emits is in the module documentation.
pub struct TimexCollector;

impl TimexCollector {
    /// The collector reading under `cfg`.
    pub fn new(_cfg: &HostPaths) -> Self {
        TimexCollector
    }
}

/// The adjtimex result: the clock state it returned and the `struct timex` fields upstream
/// exports, widened to f64 (exact for every value the kernel produces) so the unit conversions can
/// be tested without the syscall.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Timex {
    /// The clock state adjtimex returned (`TIME_OK`, ...).
    pub state: i32,
    /// `status` flags.
    pub status: i32,
    /// Time offset, microseconds (nanoseconds with `STA_NANO`).
    pub offset: f64,
    /// Frequency offset, ppm scaled by 2^16.
    pub freq: f64,
    /// Maximum error, microseconds.
    pub maxerror: f64,
    /// Estimated error, microseconds.
    pub esterror: f64,
    /// PLL time constant.
    pub constant: f64,
    /// Microseconds between clock ticks.
    pub tick: f64,
    /// PPS frequency, ppm scaled by 2^16.
    pub ppsfreq: f64,
    /// PPS jitter, microseconds (nanoseconds with `STA_NANO`).
    pub jitter: f64,
    /// PPS interval duration, log2 seconds.
    pub shift: f64,
    /// PPS stability, ppm scaled by 2^16.
    pub stabil: f64,
    /// PPS jitter limit exceeded count.
    pub jitcnt: f64,
    /// PPS calibration intervals.
    pub calcnt: f64,
    /// PPS calibration errors.
    pub errcnt: f64,
    /// PPS stability limit exceeded count.
    pub stbcnt: f64,
    /// TAI offset, seconds.
    pub tai: f64,
}

/// Queries the kernel without changing anything.
#[cfg(target_os = "linux")]
pub fn read_timex() -> Result<Timex, CollectError> {
    // SAFETY: `timex` is plain integers; all-zero is valid and sets `modes = 0`, which makes the
    // call read-only.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer is to our own properly sized, initialised struct, valid for the call.
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state == -1 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EPERM) {
            // Seccomp profiles deny adjtimex in some containers: like upstream, no data, no error.
            return Err(CollectError::NotAvailable(format!("adjtimex: {err}")));
        }
        return Err(CollectError::io("adjtimex", err));
    }
    Ok(Timex {
        state,
        status: tx.status,
        offset: tx.offset as f64,
        freq: tx.freq as f64,
        maxerror: tx.maxerror as f64,
        esterror: tx.esterror as f64,
        constant: tx.constant as f64,
        tick: tx.tick as f64,
        ppsfreq: tx.ppsfreq as f64,
        jitter: tx.jitter as f64,
        shift: f64::from(tx.shift),
        stabil: tx.stabil as f64,
        jitcnt: tx.jitcnt as f64,
        calcnt: tx.calcnt as f64,
        errcnt: tx.errcnt as f64,
        stbcnt: tx.stbcnt as f64,
        tai: f64::from(tx.tai),
    })
}

#[cfg(not(target_os = "linux"))]
pub fn read_timex() -> Result<Timex, CollectError> {
    Err(CollectError::NotAvailable("adjtimex is Linux-only".into()))
}

/// Converts a reading to upstream's families and units, in upstream's order.
pub fn timex_families(t: &Timex) -> Vec<MetricFamily> {
    let divisor = if t.status & STA_NANO != 0 {
        NANOS
    } else {
        MICROS
    };
    let sync = if t.state == TIME_ERROR { 0.0 } else { 1.0 };
    let g = |name: &str, help: &'static str, v: f64| {
        MetricFamily::gauge(interned!("node_timex_{name}"), help).with(&[], v)
    };
    let c = |name: &str, help: &'static str, v: f64| {
        MetricFamily::counter(interned!("node_timex_{name}"), help).with(&[], v)
    };
    vec![
        g(
            "sync_status",
            "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
            sync,
        ),
        g(
            "offset_seconds",
            "Time offset in between local system and reference clock.",
            t.offset / divisor,
        ),
        g(
            "frequency_adjustment_ratio",
            "Local clock frequency adjustment.",
            1.0 + t.freq / PPM16FRAC,
        ),
        g(
            "maxerror_seconds",
            "Maximum error in seconds.",
            t.maxerror / MICROS,
        ),
        g(
            "estimated_error_seconds",
            "Estimated error in seconds.",
            t.esterror / MICROS,
        ),
        g(
            "status",
            "Value of the status array bits.",
            f64::from(t.status),
        ),
        g(
            "loop_time_constant",
            "Phase-locked loop time constant.",
            t.constant,
        ),
        g(
            "tick_seconds",
            "Seconds between clock ticks.",
            t.tick / MICROS,
        ),
        g(
            "pps_frequency_hertz",
            "Pulse per second frequency.",
            t.ppsfreq / PPM16FRAC,
        ),
        g(
            "pps_jitter_seconds",
            "Pulse per second jitter.",
            t.jitter / divisor,
        ),
        g(
            "pps_shift_seconds",
            "Pulse per second interval duration.",
            t.shift,
        ),
        g(
            "pps_stability_hertz",
            "Pulse per second stability, average of recent frequency changes.",
            t.stabil / PPM16FRAC,
        ),
        c(
            "pps_jitter_total",
            "Pulse per second count of jitter limit exceeded events.",
            t.jitcnt,
        ),
        c(
            "pps_calibration_total",
            "Pulse per second count of calibration intervals.",
            t.calcnt,
        ),
        c(
            "pps_error_total",
            "Pulse per second count of calibration errors.",
            t.errcnt,
        ),
        c(
            "pps_stability_exceeded_total",
            "Pulse per second count of stability limit exceeded events.",
            t.stbcnt,
        ),
        g(
            "tai_offset_seconds",
            "International Atomic Time (TAI) offset.",
            t.tai,
        ),
    ]
}

impl BlockingCollector for TimexCollector {
    fn name(&self) -> &'static str {
        "timex"
    }

    fn collect(&self) -> CollectResult {
        Ok(timex_families(&read_timex()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(fams: &[MetricFamily], name: &str) -> f64 {
        fams.iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .samples[0]
            .value
    }

    #[test]
    fn unsynchronised_clock_like_this_vm() {
        // adjtimex on a fresh VM: STA_UNSYNC, maxerror/esterror 16 s, 100 Hz tick.
        let t = Timex {
            state: TIME_ERROR,
            status: 0x40,
            maxerror: 16_000_000.0,
            esterror: 16_000_000.0,
            constant: 2.0,
            tick: 10_000.0,
            ..Timex::default()
        };
        let fams = timex_families(&t);
        assert_eq!(fams.len(), 17);
        assert_eq!(value(&fams, "node_timex_sync_status"), 0.0);
        assert_eq!(value(&fams, "node_timex_status"), 64.0);
        assert_eq!(value(&fams, "node_timex_maxerror_seconds"), 16.0);
        assert_eq!(value(&fams, "node_timex_estimated_error_seconds"), 16.0);
        assert_eq!(value(&fams, "node_timex_tick_seconds"), 0.01);
        assert_eq!(value(&fams, "node_timex_frequency_adjustment_ratio"), 1.0);
        assert_eq!(value(&fams, "node_timex_loop_time_constant"), 2.0);
    }

    #[test]
    fn synchronised_clock_with_nano_offsets_and_ppm_scaling() {
        let t = Timex {
            state: 0,       // TIME_OK
            status: 0x2001, // STA_NANO | STA_PLL
            offset: -250_000.0,
            jitter: 1_000.0,
            freq: -1_234_567.0,
            ppsfreq: 65536.0,
            stabil: 131072.0,
            jitcnt: 3.0,
            tai: 37.0,
            ..Timex::default()
        };
        let fams = timex_families(&t);
        assert_eq!(value(&fams, "node_timex_sync_status"), 1.0);
        assert_eq!(value(&fams, "node_timex_offset_seconds"), -0.00025);
        assert_eq!(value(&fams, "node_timex_pps_jitter_seconds"), 1e-6);
        assert_eq!(
            value(&fams, "node_timex_frequency_adjustment_ratio"),
            1.0 - 1_234_567.0 / PPM16FRAC
        );
        assert_eq!(value(&fams, "node_timex_pps_frequency_hertz"), 1e-6);
        assert_eq!(value(&fams, "node_timex_pps_stability_hertz"), 2e-6);
        assert_eq!(value(&fams, "node_timex_pps_jitter_total"), 3.0);
        assert_eq!(value(&fams, "node_timex_tai_offset_seconds"), 37.0);
    }

    #[test]
    fn microsecond_offsets_without_sta_nano() {
        let t = Timex {
            state: 1,
            offset: 1500.0,
            ..Timex::default()
        };
        assert_eq!(
            value(&timex_families(&t), "node_timex_offset_seconds"),
            0.0015
        );
    }

    #[test]
    fn counters_are_counters() {
        let fams = timex_families(&Timex::default());
        let counters: Vec<&str> = fams
            .iter()
            .filter(|f| f.kind == exporter_core::MetricType::Counter)
            .map(|f| f.name.as_ref())
            .collect();
        assert_eq!(
            counters,
            vec![
                "node_timex_pps_jitter_total",
                "node_timex_pps_calibration_total",
                "node_timex_pps_error_total",
                "node_timex_pps_stability_exceeded_total"
            ]
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_the_real_clock() {
        match read_timex() {
            Ok(t) => assert!(t.tick > 0.0),
            Err(CollectError::NotAvailable(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
}
