//! The HTTP API: request and response shapes, handlers, and JSON errors.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use instrument::custom::InProgressGuard;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::faults::Faults;
use super::metrics::SimulationMetrics;
use super::rng::SharedRng;
use super::simulate::{Forecast, Percentiles, SimulationType};
use super::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub simulation: SimulationMetrics,
    pub store: Arc<Store>,
    pub faults: Arc<Faults>,
    pub seeds: Arc<SharedRng>,
}

#[derive(Debug, Deserialize)]
pub struct SimulateRequest {
    /// Items completed per past week.
    pub throughput: Vec<f64>,
    pub backlog: u32,
    pub trials: u32,
    pub simulation_type: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SimulationResult {
    pub id: u64,
    pub simulation_type: SimulationType,
    pub backlog: u32,
    pub trials: u32,
    pub weeks: Percentiles,
    pub incomplete_trials: u32,
}

/// Every error answer: a status and `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

/// axum's own statuses: 400 for malformed JSON, 415 for a missing or wrong Content-Type, 422 for
/// JSON of the wrong shape, 413 for an oversized body. Only the body becomes JSON.
impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        ApiError::new(r.status(), r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::new(r.status(), r.body_text())
    }
}

pub async fn simulate(
    State(state): State<AppState>,
    payload: Result<Json<SimulateRequest>, JsonRejection>,
) -> Result<Json<SimulationResult>, ApiError> {
    let Json(req) = payload?;
    let unprocessable = |msg: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, msg);
    let kind = match req.simulation_type.as_deref() {
        None => SimulationType::MonteCarlo,
        Some(name) => SimulationType::parse(name).ok_or_else(|| {
            let known: Vec<&str> = SimulationType::ALL.iter().map(|t| t.label()).collect();
            unprocessable(format!(
                "unknown simulation_type {name:?}; known: {}",
                known.join(", ")
            ))
        })?,
    };
    let forecast = Forecast::new(req.throughput, req.backlog, req.trials)
        .map_err(|e| unprocessable(e.to_string()))?;
    // Only accepted work is slow, as a struggling backend would be; rejections stay fast.
    state.faults.slow_down().await;

    let label = kind.label();
    state.simulation.total.with_label_values(&[label]).inc();
    let metrics = state.simulation.clone();
    let seed = state.seeds.next_u64();
    // CPU-bound for up to seconds: off the async workers. The guard and timer live inside the
    // task, so `simulation_active` counts running simulations even if the client has gone.
    let outcome = tokio::task::spawn_blocking(move || {
        let _active = InProgressGuard::new(&metrics.active);
        let _timer = metrics.duration.with_label_values(&[label]).start_timer();
        forecast.run(seed)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "simulation task failed");
        ApiError::internal("simulation failed")
    })?;

    let result = SimulationResult {
        id: state.store.next_id(),
        simulation_type: kind,
        backlog: req.backlog,
        trials: req.trials,
        weeks: outcome.weeks,
        incomplete_trials: outcome.incomplete_trials,
    };
    state.store.insert(result.clone());
    Ok(Json(result))
}

pub async fn get_simulation(
    State(state): State<AppState>,
    id: Result<Path<u64>, PathRejection>,
) -> Result<Json<SimulationResult>, ApiError> {
    let Path(id) = id?;
    state.store.get(id).map(Json).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no simulation {id} (only the most recent results are kept)"),
        )
    })
}

pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not found")
}
