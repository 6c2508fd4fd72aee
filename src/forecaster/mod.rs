//! The example service the suite monitors: a Monte Carlo delivery forecaster, instrumented with
//! the `instrument` crate and the guide's custom simulation metrics.
//!
//! | route | answer |
//! |---|---|
//! | `POST /api/simulate` | run a forecast: `{"throughput": [..], "backlog": n, "trials": n}` |
//! | `GET /api/simulations/{id}` | a stored result (the last [`Config::history`] are kept) |
//! | `GET /healthz` | `{"status":"ok"}` |
//! | `GET /metrics` | HTTP and simulation metrics, Prometheus text format |

mod faults;
mod metrics;
pub mod rng;
mod routes;
pub mod simulate;
mod store;

use std::future::Future;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use instrument::MetricsHandler;
use tokio::net::TcpListener;

pub use faults::{admin_app, FaultSettings, Faults};
pub use metrics::{Metrics, SimulationMetrics, SIMULATION_BUCKETS};
pub use routes::{SimulateRequest, SimulationResult};

use routes::AppState;
use store::Store;

/// The route templates: the only `path` label values besides `<unmatched>`.
pub const ROUTES: [&str; 4] = [
    "/api/simulate",
    "/api/simulations/{id}",
    "/healthz",
    "/metrics",
];

pub struct Config {
    pub metrics: Metrics,
    /// The fault switch; keep a clone to change it while serving (see [`admin_app`]).
    pub faults: Arc<Faults>,
    /// How many results `GET /api/simulations/{id}` can still find.
    pub history: usize,
}

impl Config {
    /// No faults, the last 1000 results kept.
    pub fn new(metrics: Metrics) -> Self {
        Config {
            metrics,
            faults: Arc::new(Faults::new(FaultSettings::default()).expect("no faults is valid")),
            history: 1000,
        }
    }
}

pub fn app(config: Config) -> Router {
    let state = AppState {
        simulation: config.metrics.simulation.clone(),
        store: Arc::new(Store::new(config.history)),
        faults: Arc::clone(&config.faults),
        seeds: Arc::new(rng::SharedRng::from_clock()),
    };
    let api = Router::new()
        .route(ROUTES[0], post(routes::simulate))
        .route(ROUTES[1], get(routes::get_simulation))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state.faults),
            faults::inject_errors,
        ));
    Router::new()
        .merge(api)
        .route(ROUTES[2], get(routes::healthz))
        .route_service(
            ROUTES[3],
            MetricsHandler::new(config.metrics.registry().clone()),
        )
        .fallback(routes::not_found)
        .with_state(state)
        // `Router::layer` runs after routing, so the layer sees the matched route template.
        .layer(config.metrics.layer())
}

/// Serves until Ctrl-C or SIGTERM, then lets in-flight requests finish.
pub async fn serve(listener: TcpListener, config: Config) -> std::io::Result<()> {
    serve_until(listener, config, shutdown_signal()).await
}

/// Serves until `shutdown` completes, then lets in-flight requests finish.
pub async fn serve_until(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(config))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Completes on Ctrl-C or (on Unix) SIGTERM, what `docker stop` and systemd send.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
