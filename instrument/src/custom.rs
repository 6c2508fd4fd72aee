//! Custom application metrics, as in the guide's "Custom Metrics" section: the prometheus crate's
//! own types, registered in the default registry that [`crate::MetricsHandler`] serves.
//!
//! ```
//! use std::sync::LazyLock;
//! use instrument::custom::{counter_vec, gauge, histogram_vec, InProgressGuard};
//!
//! static SIMULATIONS: LazyLock<prometheus::IntCounterVec> = LazyLock::new(|| {
//!     counter_vec("doc_simulation_total", "Total simulations run", &["simulation_type"])
//! });
//! static SIMULATION_SECONDS: LazyLock<prometheus::HistogramVec> = LazyLock::new(|| {
//!     histogram_vec(
//!         "doc_simulation_duration_seconds",
//!         "Simulation execution time",
//!         &["simulation_type"],
//!         &[1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0],
//!     )
//! });
//! static ACTIVE: LazyLock<prometheus::IntGauge> =
//!     LazyLock::new(|| gauge("doc_simulation_active", "Currently running simulations"));
//!
//! SIMULATIONS.with_label_values(&["monte_carlo"]).inc();
//! let _active = InProgressGuard::new(&ACTIVE);          // decremented when dropped
//! let _timer = SIMULATION_SECONDS.with_label_values(&["monte_carlo"]).start_timer();
//! // ... run the simulation; the timer observes when it goes out of scope ...
//! ```
//!
//! The default-registry helpers panic on an invalid name or a duplicate registration: both are
//! programming errors that show at the first use, at start-up. The `register_*` forms take a
//! registry and return the error instead (several apps in one process, tests).

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};

pub use prometheus::HistogramTimer;

/// A counter family registered in `registry`.
pub fn register_counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, prometheus::Error> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

/// A histogram family registered in `registry`.
pub fn register_histogram_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> Result<HistogramVec, prometheus::Error> {
    let h = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )?;
    registry.register(Box::new(h.clone()))?;
    Ok(h)
}

/// A gauge registered in `registry`.
pub fn register_gauge(
    registry: &Registry,
    name: &str,
    help: &str,
) -> Result<IntGauge, prometheus::Error> {
    let g = IntGauge::new(name, help)?;
    registry.register(Box::new(g.clone()))?;
    Ok(g)
}

/// A counter family in the default registry (for `static` metrics).
pub fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register_counter_vec(prometheus::default_registry(), name, help, labels)
        .unwrap_or_else(|e| panic!("counter {name}: {e}"))
}

/// A histogram family in the default registry (for `static` metrics).
pub fn histogram_vec(name: &str, help: &str, labels: &[&str], buckets: &[f64]) -> HistogramVec {
    register_histogram_vec(prometheus::default_registry(), name, help, labels, buckets)
        .unwrap_or_else(|e| panic!("histogram {name}: {e}"))
}

/// A gauge in the default registry (for `static` metrics).
pub fn gauge(name: &str, help: &str) -> IntGauge {
    register_gauge(prometheus::default_registry(), name, help)
        .unwrap_or_else(|e| panic!("gauge {name}: {e}"))
}

/// Increments a gauge now and decrements it when dropped, however the scope ends (return, `?`,
/// panic).
#[must_use = "the gauge is decremented when the guard is dropped"]
pub struct InProgressGuard(IntGauge);

impl InProgressGuard {
    /// Increments `gauge` now; it is decremented when the guard is dropped.
    pub fn new(gauge: &IntGauge) -> Self {
        gauge.inc();
        InProgressGuard(gauge.clone())
    }
}

impl Drop for InProgressGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_decrements_even_on_panic() {
        let g = IntGauge::new("t_guard", "t").unwrap();
        {
            let _a = InProgressGuard::new(&g);
            assert_eq!(g.get(), 1);
        }
        assert_eq!(g.get(), 0);
        let g2 = g.clone();
        let _ = std::panic::catch_unwind(move || {
            let _a = InProgressGuard::new(&g2);
            panic!("boom");
        });
        assert_eq!(g.get(), 0);
    }
}
