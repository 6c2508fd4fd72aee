//! Switchable faults for demos and alert tests: a share of API requests fails with 500
//! (HighErrorRate), and accepted simulations can be made slow (HighResponseTime).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::rng::SharedRng;
use super::routes::ApiError;

pub struct Faults {
    error_rate: f64,
    slow: Duration,
    rng: SharedRng,
}

impl Faults {
    /// `error_rate` is clamped to `0..=1` (NaN means no errors).
    pub fn new(error_rate: f64, slow: Duration) -> Self {
        Faults {
            error_rate: if error_rate.is_nan() {
                0.0
            } else {
                error_rate.clamp(0.0, 1.0)
            },
            slow,
            rng: SharedRng::from_clock(),
        }
    }

    /// Decided per request, so the observed error ratio converges to `error_rate`.
    pub fn should_fail(&self) -> bool {
        self.error_rate > 0.0 && self.rng.unit() < self.error_rate
    }

    pub async fn slow_down(&self) {
        if !self.slow.is_zero() {
            tokio::time::sleep(self.slow).await;
        }
    }
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

    #[test]
    fn error_rate_extremes_are_exact() {
        let never = Faults::new(0.0, Duration::ZERO);
        let always = Faults::new(1.0, Duration::ZERO);
        let clamped = Faults::new(7.0, Duration::ZERO);
        for _ in 0..10_000 {
            assert!(!never.should_fail());
            assert!(always.should_fail());
            assert!(clamped.should_fail());
        }
        assert!(!Faults::new(f64::NAN, Duration::ZERO).should_fail());
    }

    #[test]
    fn error_rate_is_a_share_of_requests() {
        let f = Faults::new(0.2, Duration::ZERO);
        let failed = (0..100_000).filter(|_| f.should_fail()).count();
        assert!((19_000..21_000).contains(&failed), "{failed}");
    }
}
