//! The middleware's accounting, driven through tower directly: what is counted for completed,
//! failed, panicking, cancelled and excluded requests, and that the hot path does not allocate.
#![allow(
    unsafe_code,
    reason = "a counting global allocator proves the hot path allocates nothing"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use http::{Request, Response, StatusCode};
use http_body::Body;
use instrument::{HttpMetrics, HttpMetricsLayer, StaticRoutes};
use prometheus::Registry;
use tower::{Layer, Service, ServiceExt};

/// Counts allocations made by the thread that switched counting on.
struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarding the caller's contract to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarding the caller's contract to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn metrics() -> (HttpMetrics, Registry) {
    let registry = Registry::new();
    let m = HttpMetrics::builder()
        .registry(registry.clone())
        .build()
        .unwrap();
    (m, registry)
}

fn routes() -> StaticRoutes {
    StaticRoutes::new(["/api/items/{id}", "/fail", "/metrics"])
}

/// Value of a sample in the registry, by metric name and label values.
fn value(registry: &Registry, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    registry
        .gather()
        .into_iter()
        .find(|f| f.name() == name)
        .and_then(|f| {
            f.get_metric()
                .iter()
                .find(|m| {
                    labels.iter().all(|(k, v)| {
                        m.get_label()
                            .iter()
                            .any(|l| l.name() == *k && l.value() == *v)
                    })
                })
                .map(|m| {
                    if m.get_histogram().get_sample_count() > 0 {
                        m.get_histogram().get_sample_count() as f64
                    } else if m.get_counter().get_value() != 0.0 {
                        m.get_counter().get_value()
                    } else {
                        m.get_gauge().get_value()
                    }
                })
        })
}

fn poll_now<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("future was expected to be ready"),
    }
}

fn drain<B: Body + Unpin>(mut body: B) {
    let mut cx = Context::from_waker(Waker::noop());
    while let Poll::Ready(Some(_)) = std::pin::Pin::new(&mut body).poll_frame(&mut cx) {}
}

async fn ok_handler(_req: Request<()>) -> Result<Response<String>, Infallible> {
    Ok(Response::new(String::new()))
}

#[test]
fn completed_requests_are_counted_once_with_route_template() {
    let (m, reg) = metrics();
    let mut svc = HttpMetricsLayer::new(m, routes()).layer(tower::service_fn(ok_handler));
    for id in ["1", "2", "3"] {
        let req = Request::get(format!("/api/items/{id}")).body(()).unwrap();
        let resp = poll_now(svc.call(req)).unwrap();
        drain(resp.into_body());
    }
    let req = Request::get("/no/such/thing").body(()).unwrap();
    drain(poll_now(svc.call(req)).unwrap().into_body());

    let labels = [
        ("method", "GET"),
        ("status", "200"),
        ("path", "/api/items/{id}"),
    ];
    assert_eq!(value(&reg, "flask_http_request_total", &labels), Some(3.0));
    assert_eq!(
        value(&reg, "flask_http_request_duration_seconds", &labels),
        Some(3.0)
    );
    assert_eq!(
        value(&reg, "flask_http_request_total", &[("path", "<unmatched>")]),
        Some(1.0)
    );
    assert_eq!(
        value(
            &reg,
            "flask_http_requests_in_progress",
            &[("path", "/api/items/{id}")]
        ),
        Some(0.0)
    );
}

#[test]
fn prefix_and_const_labels_reach_every_family() {
    let registry = Registry::new();
    let m = HttpMetrics::builder()
        .prefix("forecaster")
        .const_label("service", "api")
        .registry(registry.clone())
        .build()
        .unwrap();
    let mut svc = HttpMetricsLayer::new(m, routes()).layer(tower::service_fn(ok_handler));
    for _ in 0..2 {
        let req = Request::get("/api/items/7").body(()).unwrap();
        drain(poll_now(svc.call(req)).unwrap().into_body());
    }
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&registry.gather())
        .unwrap();
    let series = r#"{method="GET",path="/api/items/{id}",service="api",status="200"}"#;
    for line in [
        "# TYPE forecaster_http_request_total counter".to_string(),
        format!("forecaster_http_request_total{series} 2"),
        format!("forecaster_http_request_duration_seconds_count{series} 2"),
        r#"forecaster_http_requests_in_progress{method="GET",path="/api/items/{id}",service="api"} 0"#
            .to_string(),
        r#"forecaster_exporter_info{service="api",version=""#.to_string(),
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(&line)),
            "{line:?} missing from:\n{text}"
        );
    }
}

#[test]
fn handler_errors_count_as_500_and_exceptions() {
    let (m, reg) = metrics();
    let failing = tower::service_fn(|_req: Request<()>| async {
        Err::<Response<String>, _>(std::io::Error::other("database down"))
    });
    let svc = HttpMetricsLayer::new(m, routes()).layer(failing);
    let result = poll_now(svc.oneshot(Request::post("/fail").body(()).unwrap()));
    assert!(result.is_err());
    assert_eq!(
        value(
            &reg,
            "flask_http_request_total",
            &[("method", "POST"), ("status", "500"), ("path", "/fail")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &reg,
            "flask_http_request_exceptions_total",
            &[("method", "POST"), ("status", "500")]
        ),
        Some(1.0)
    );
}

#[test]
fn cancelled_requests_release_in_progress_without_counting() {
    let (m, reg) = metrics();
    let pending = tower::service_fn(|_req: Request<()>| {
        std::future::pending::<Result<Response<String>, Infallible>>()
    });
    let mut svc = HttpMetricsLayer::new(m, routes()).layer(pending);
    let fut = svc.call(Request::get("/api/items/7").body(()).unwrap());
    let in_progress = || {
        value(
            &reg,
            "flask_http_requests_in_progress",
            &[("path", "/api/items/{id}")],
        )
    };
    assert_eq!(in_progress(), Some(1.0));
    drop(fut);
    assert_eq!(in_progress(), Some(0.0));
    assert_eq!(
        value(
            &reg,
            "flask_http_request_total",
            &[("path", "/api/items/{id}")]
        ),
        None
    );
}

#[test]
fn body_dropped_mid_stream_still_counts_once() {
    let (m, reg) = metrics();
    let mut svc = HttpMetricsLayer::new(m, routes()).layer(tower::service_fn(ok_handler));
    let resp = poll_now(svc.call(Request::get("/api/items/1").body(()).unwrap())).unwrap();
    drop(resp);
    assert_eq!(
        value(&reg, "flask_http_request_total", &[("status", "200")]),
        Some(1.0)
    );
}

#[test]
fn metrics_endpoint_is_not_tracked() {
    let (m, reg) = metrics();
    let mut svc = HttpMetricsLayer::new(m, routes()).layer(tower::service_fn(ok_handler));
    drain(
        poll_now(svc.call(Request::get("/metrics").body(()).unwrap()))
            .unwrap()
            .into_body(),
    );
    assert_eq!(
        value(&reg, "flask_http_request_total", &[("path", "/metrics")]),
        None
    );
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn panics_behind_a_catch_panic_layer_count_as_500_and_exceptions() {
    use axum::{routing::get, Router};
    let (m, reg) = metrics();
    let app: Router = Router::new()
        .route(
            "/boom",
            get(|| async {
                if true {
                    panic!("handler bug");
                }
                "unreachable"
            }),
        )
        .layer(HttpMetricsLayer::axum(m))
        .layer(tower_http::catch_panic::CatchPanicLayer::new());
    let resp = app
        .oneshot(
            Request::get("/boom")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        value(
            &reg,
            "flask_http_request_total",
            &[("status", "500"), ("path", "/boom")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &reg,
            "flask_http_request_exceptions_total",
            &[("status", "500")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &reg,
            "flask_http_requests_in_progress",
            &[("path", "/boom")]
        ),
        Some(0.0)
    );
}

#[test]
fn no_allocation_per_request_once_the_series_exist() {
    let (m, _reg) = metrics();
    let mut svc = HttpMetricsLayer::new(m, routes()).layer(tower::service_fn(ok_handler));
    let requests: Vec<_> = (0..1000)
        .map(|i| Request::get(format!("/api/items/{i}")).body(()).unwrap())
        .collect();
    // The first request of a (method, route, status) creates its series.
    drain(
        poll_now(svc.call(Request::get("/api/items/0").body(()).unwrap()))
            .unwrap()
            .into_body(),
    );

    let mut responses = Vec::with_capacity(requests.len());
    ALLOCATIONS.store(0, Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    for req in requests {
        let resp = poll_now(svc.call(req)).unwrap();
        let (parts, body) = resp.into_parts();
        drain(body);
        responses.push(parts.status);
    }
    COUNTING.with(|c| c.set(false));
    let allocations = ALLOCATIONS.load(Ordering::Relaxed);
    assert!(responses.iter().all(|s| *s == StatusCode::OK));
    assert_eq!(
        allocations, 0,
        "allocations on the hot path for 1000 requests"
    );
}
