//! Every metric the service exposes, built against one registry. The example binary passes the
//! default registry; tests pass a fresh one each, so several apps can live in one process (the
//! `static` style of `instrument::custom` would register twice there).

use instrument::custom::{register_counter_vec, register_gauge, register_histogram_vec};
use instrument::{HttpMetrics, HttpMetricsLayer, MatchedPathRoutes};
use prometheus::{HistogramVec, IntCounterVec, IntGauge, Registry};

use super::simulate::SimulationType;

/// The guide's buckets: simulations take seconds to minutes, not milliseconds.
pub const SIMULATION_BUCKETS: &[f64] = &[1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];

/// The guide's custom metrics ("Custom Metrics" section), names and labels unchanged.
#[derive(Clone)]
pub struct SimulationMetrics {
    pub total: IntCounterVec,
    pub duration: HistogramVec,
    pub active: IntGauge,
}

/// HTTP request metrics plus the simulation metrics, all in the same registry.
#[derive(Clone)]
pub struct Metrics {
    pub http: HttpMetrics,
    pub simulation: SimulationMetrics,
}

impl Metrics {
    /// Registers everything in `registry`; fails if the names are already registered there.
    pub fn register(registry: &Registry) -> Result<Metrics, instrument::Error> {
        let http = HttpMetrics::builder().registry(registry.clone()).build()?;
        let total = register_counter_vec(
            registry,
            "simulation_total",
            "Total simulations run",
            &["simulation_type"],
        )?;
        let duration = register_histogram_vec(
            registry,
            "simulation_duration_seconds",
            "Simulation execution time",
            &["simulation_type"],
            SIMULATION_BUCKETS,
        )?;
        let active = register_gauge(
            registry,
            "simulation_active",
            "Currently running simulations",
        )?;
        // Series that exist from the start (at 0) let rate() and increase() see the first run.
        for kind in SimulationType::ALL {
            total.with_label_values(&[kind.label()]);
            duration.with_label_values(&[kind.label()]);
        }
        Ok(Metrics {
            http,
            simulation: SimulationMetrics {
                total,
                duration,
                active,
            },
        })
    }

    /// The registry `/metrics` serves.
    pub fn registry(&self) -> &Registry {
        self.http.registry()
    }

    pub(crate) fn layer(&self) -> HttpMetricsLayer<MatchedPathRoutes> {
        HttpMetricsLayer::axum(self.http)
    }
}
