//! Switchable faults for demos and alert tests: a share of API requests fails with 500
//! (HighErrorRate), and a share of accepted simulations can be made slow (HighResponseTime).
//! Set at start (flags) and changed while serving through the admin listener, so a fault comes
//! and goes in one process, as a failing dependency would, and every series lives on.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::rng::SharedRng;
use super::routes::ApiError;

/// What the fault switch is set to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSettings {
    /// Share of `/api/*` requests that answer 500, `0..=1`.
    pub error_rate: f64,
    /// Extra latency of accepted `POST /api/simulate` requests (rejected input stays fast)...
    pub slow_ms: u64,
    /// ...for this share of them, `0..=1`.
    pub slow_share: f64,
}

impl Default for FaultSettings {
    /// No faults.
    fn default() -> Self {
        FaultSettings {
            error_rate: 0.0,
            slow_ms: 0,
            slow_share: 1.0,
        }
    }
}

impl FaultSettings {
    pub fn validate(&self) -> Result<(), String> {
        for (name, share) in [
            ("error_rate", self.error_rate),
            ("slow_share", self.slow_share),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(format!("{name} must be between 0 and 1, not {share}"));
            }
        }
        Ok(())
    }
}

/// The switch, read on every request: plain atomics, so changing it never blocks a request.
pub struct Faults {
    error_rate: AtomicU64,
    slow_ms: AtomicU64,
    slow_share: AtomicU64,
    rng: SharedRng,
}

impl Faults {
    pub fn new(settings: FaultSettings) -> Result<Self, String> {
        let faults = Faults {
            error_rate: AtomicU64::new(0),
            slow_ms: AtomicU64::new(0),
            slow_share: AtomicU64::new(0),
            rng: SharedRng::from_clock(),
        };
        faults.set(settings)?;
        Ok(faults)
    }

    pub fn set(&self, settings: FaultSettings) -> Result<(), String> {
        settings.validate()?;
        self.error_rate
            .store(settings.error_rate.to_bits(), Relaxed);
        self.slow_ms.store(settings.slow_ms, Relaxed);
        self.slow_share
            .store(settings.slow_share.to_bits(), Relaxed);
        Ok(())
    }

    pub fn get(&self) -> FaultSettings {
        FaultSettings {
            error_rate: f64::from_bits(self.error_rate.load(Relaxed)),
            slow_ms: self.slow_ms.load(Relaxed),
            slow_share: f64::from_bits(self.slow_share.load(Relaxed)),
        }
    }

    /// Decided per request, so the observed error ratio converges to `error_rate`.
    pub fn should_fail(&self) -> bool {
        let rate = f64::from_bits(self.error_rate.load(Relaxed));
        rate > 0.0 && self.rng.unit() < rate
    }

    /// The delay for this call: `slow_ms` for a `slow_share` of the calls. A share below 1 keeps
    /// the alert demo realistic (a slow tail, not a dead service).
    fn delay(&self) -> Option<Duration> {
        let ms = self.slow_ms.load(Relaxed);
        let share = f64::from_bits(self.slow_share.load(Relaxed));
        (ms > 0 && share > 0.0 && self.rng.unit() < share).then(|| Duration::from_millis(ms))
    }

    pub async fn slow_down(&self) {
        if let Some(delay) = self.delay() {
            tokio::time::sleep(delay).await;
        }
    }
}

/// The admin API, for its own listener (never the public one, and not instrumented):
/// `GET /faults` shows the settings, `PUT /faults` replaces them.
pub fn admin_app(faults: Arc<Faults>) -> Router {
    Router::new()
        .route("/faults", get(show).put(replace))
        .with_state(faults)
}

async fn show(State(faults): State<Arc<Faults>>) -> Json<FaultSettings> {
    Json(faults.get())
}

async fn replace(
    State(faults): State<Arc<Faults>>,
    body: Result<Json<FaultSettings>, JsonRejection>,
) -> Result<Json<FaultSettings>, ApiError> {
    let Json(settings) = body?;
    faults
        .set(settings)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    tracing::info!(?settings, "faults set");
    Ok(Json(settings))
}

/// Middleware on the `/api/*` routes. It runs after routing, so the failed request still carries
/// its route template and is counted under it.
pub async fn inject_errors(
    State(faults): State<Arc<Faults>>,
    req: Request,
    next: Next,
) -> Response {
    if faults.should_fail() {
        return ApiError::internal("injected fault (--error-rate)").into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(error_rate: f64, slow_ms: u64, slow_share: f64) -> Faults {
        Faults::new(FaultSettings {
            error_rate,
            slow_ms,
            slow_share,
        })
        .unwrap()
    }

    #[test]
    fn error_rate_extremes_are_exact() {
        let never = faults(0.0, 0, 1.0);
        let always = faults(1.0, 0, 1.0);
        for _ in 0..10_000 {
            assert!(!never.should_fail());
            assert!(always.should_fail());
        }
    }

    #[test]
    fn error_rate_is_a_share_of_requests() {
        let f = faults(0.2, 0, 1.0);
        let failed = (0..100_000).filter(|_| f.should_fail()).count();
        assert!((19_000..21_000).contains(&failed), "{failed}");
    }

    #[test]
    fn slow_share_is_a_share_of_requests() {
        let slowed = |f: Faults| (0..100_000).filter(|_| f.delay().is_some()).count();
        assert_eq!(slowed(faults(0.0, 1000, 1.0)), 100_000);
        assert_eq!(slowed(faults(0.0, 1000, 0.0)), 0);
        assert_eq!(slowed(faults(0.0, 0, 1.0)), 0);
        let some = slowed(faults(0.0, 1000, 0.2));
        assert!((19_000..21_000).contains(&some), "{some}");
    }

    #[test]
    fn settings_change_while_serving_and_bad_ones_are_refused() {
        let f = faults(0.0, 0, 1.0);
        let slow = FaultSettings {
            error_rate: 1.0,
            slow_ms: 3000,
            slow_share: 0.5,
        };
        f.set(slow).unwrap();
        assert_eq!(f.get(), slow);
        assert!(f.should_fail());
        for bad in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
            let e = f.set(FaultSettings {
                error_rate: bad,
                ..slow
            });
            assert!(e.unwrap_err().contains("error_rate"), "{bad}");
            assert!(Faults::new(FaultSettings {
                slow_share: bad,
                ..slow
            })
            .is_err());
        }
        assert_eq!(
            f.get(),
            slow,
            "a refused change leaves the settings as they were"
        );
    }
}
