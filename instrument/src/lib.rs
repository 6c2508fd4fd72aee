//! HTTP request metrics for tower, axum and hyper services, in prometheus_flask_exporter's
//! schema so the monitoring guide's PromQL and dashboards work unchanged:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `flask_http_request_total` | counter | `method`, `status`, `path` |
//! | `flask_http_request_duration_seconds` | histogram | `method`, `path`, `status` |
//! | `flask_http_request_exceptions_total` | counter | `method`, `status` |
//! | `flask_http_requests_in_progress` | gauge | `method`, `path` |
//! | `flask_exporter_info` | gauge | `version` |
//!
//! `path` is the route template, never the raw URI. Requests that match no route share the
//! value `<unmatched>`; non-standard methods share `OTHER`; `/metrics` is not tracked.
//!
//! ## When a request counts
//! The count and the duration are recorded when the response body has been sent completely or
//! is dropped (client abort mid-body). A handler error (`Err` from the service) counts as status
//! 500 and in the exceptions counter; so does a panic unwinding through this layer (put a
//! catch-panic layer outside it to turn the panic into a 500 response). A request whose handler
//! future is dropped before it produced a response (the client went away) is not counted; but a
//! client that disconnects while its request body is being read usually is, because the body
//! extractor's error becomes a response (e.g. 400) first. In every case `in_progress` is
//! decremented: it cannot leak.
//!
//! ```
//! # #[cfg(feature = "axum")] {
//! use axum::{routing::get, Router};
//! use instrument::{HttpMetrics, HttpMetricsLayer, MetricsHandler};
//!
//! let metrics = HttpMetrics::builder().registry(prometheus::Registry::new()).build().unwrap();
//! let app: Router = Router::new()
//!     .route("/api/simulations/{id}", get(|| async { "ok" }))
//!     .route_service("/metrics", MetricsHandler::new(metrics.registry().clone()))
//!     .layer(HttpMetricsLayer::axum(metrics));
//! # }
//! ```

mod body;
mod classify;
pub mod custom;
mod handler;
mod layer;
mod metrics;
mod request_total;
mod series;

pub use body::InstrumentedBody;
#[cfg(feature = "axum")]
pub use classify::MatchedPathRoutes;
pub use classify::{ClassifyRoute, StaticRoutes};
pub use handler::{MetricsHandler, CONTENT_TYPE_TEXT};
pub use layer::{HttpMetricsLayer, HttpMetricsService, ResponseFuture};
pub use metrics::{Error, HttpMetrics, HttpMetricsBuilder, DEFAULT_BUCKETS, UNMATCHED_PATH};
