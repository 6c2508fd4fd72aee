//! What the HTTP-metrics middleware adds per request, against the same router without it and
//! with axum-prometheus (measured in the same group), and what exposing 10,000 series costs.
//!
//! `cargo bench --bench middleware`

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion};
use std::convert::Infallible;

use http::{Request, Response};
use instrument::{HttpMetrics, HttpMetricsLayer, MetricsHandler, StaticRoutes};
use tower::service_fn;
use tower_layer::Layer;
use tower_service::Service;

fn poll_now<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("handler was expected to be ready"),
    }
}

fn router() -> Router {
    Router::new().route("/api/items/{id}", get(|| async { "ok" }))
}

/// Sends one request through the router and consumes the response body, as a server would.
fn request(svc: &mut Router) {
    let req = Request::get("/api/items/42").body(Body::empty()).unwrap();
    drain(poll_now(svc.call(req)).unwrap().into_body());
}

async fn minimal_handler(_req: Request<()>) -> Result<Response<String>, Infallible> {
    Ok(Response::new(String::new()))
}

/// The middleware alone around the smallest possible service: the cost it adds per request.
fn tower_overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("tower");
    let call = |svc: &mut dyn FnMut(Request<()>)| {
        let req = Request::get("/api/items/42").body(()).unwrap();
        svc(req)
    };
    let mut bare = service_fn(minimal_handler);
    group.bench_function("bare", |b| {
        b.iter(|| call(&mut |req| drain(poll_now(bare.call(req)).unwrap().into_body())))
    });
    let metrics = HttpMetrics::builder()
        .registry(prometheus::Registry::new())
        .build()
        .unwrap();
    let routes = StaticRoutes::new(["/api/items/{id}"]);
    let mut ours = HttpMetricsLayer::new(metrics, routes).layer(service_fn(minimal_handler));
    group.bench_function("instrument", |b| {
        b.iter(|| call(&mut |req| drain(poll_now(ours.call(req)).unwrap().into_body())))
    });
    bench_added(
        &mut group,
        "instrument added",
        || call(&mut |req| drain(poll_now(bare.call(req)).unwrap().into_body())),
        || call(&mut |req| drain(poll_now(ours.call(req)).unwrap().into_body())),
    );
    // The same layer on a route it excludes: what classifying the request and wrapping its
    // future and body cost, with nothing recorded.
    let excluding = HttpMetrics::builder()
        .registry(prometheus::Registry::new())
        .exclude_prefix("/api")
        .build()
        .unwrap();
    let mut excl = HttpMetricsLayer::new(excluding, StaticRoutes::new(["/api/items/{id}"]))
        .layer(service_fn(minimal_handler));
    bench_added(
        &mut group,
        "excluded route added",
        || call(&mut |req| drain(poll_now(bare.call(req)).unwrap().into_body())),
        || call(&mut |req| drain(poll_now(excl.call(req)).unwrap().into_body())),
    );
    group.finish();
}

/// What `with` costs per call over `base`. On a shared VM, separate runs of the two drift apart by
/// tens of ns from one run to the next; here each sample times both back to back and reports the
/// difference, so slow drift cancels.
fn bench_added(
    group: &mut BenchmarkGroup<WallTime>,
    name: &str,
    mut base: impl FnMut(),
    mut with: impl FnMut(),
) {
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                base();
            }
            let base_time = start.elapsed();
            let start = Instant::now();
            for _ in 0..iters {
                with();
            }
            start.elapsed().saturating_sub(base_time)
        })
    });
}

fn drain<B: http_body::Body + Unpin>(mut body: B) {
    let mut cx = Context::from_waker(Waker::noop());
    while let Poll::Ready(Some(_)) = std::pin::Pin::new(&mut body).poll_frame(&mut cx) {}
}

/// A whole axum router, with ours and with axum-prometheus, measured in one group.
fn axum_overhead(c: &mut Criterion) {
    // axum-prometheus spawns an upkeep task when its recorder is installed.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _entered = runtime.enter();
    let mut group = c.benchmark_group("axum");
    let mut bare = router();
    group.bench_function("bare", |b| b.iter(|| request(&mut bare)));

    let metrics = HttpMetrics::builder()
        .registry(prometheus::Registry::new())
        .build()
        .unwrap();
    let mut ours = router().layer(HttpMetricsLayer::axum(metrics));
    group.bench_function("instrument", |b| b.iter(|| request(&mut ours)));

    let (layer, _handle) = axum_prometheus::PrometheusMetricLayer::pair();
    let mut theirs = router().layer(layer);
    group.bench_function("axum-prometheus", |b| b.iter(|| request(&mut theirs)));

    let mut base = router();
    bench_added(
        &mut group,
        "instrument added",
        || request(&mut base),
        || request(&mut ours),
    );
    let mut base = router();
    bench_added(
        &mut group,
        "axum-prometheus added",
        || request(&mut base),
        || request(&mut theirs),
    );
    group.finish();
}

fn exposition(c: &mut Criterion) {
    let registry = prometheus::Registry::new();
    let counter = prometheus::IntCounterVec::new(
        prometheus::Opts::new("bench_requests_total", "Requests."),
        &["route", "status"],
    )
    .unwrap();
    registry.register(Box::new(counter.clone())).unwrap();
    for route in 0..1000 {
        for status in 0..10 {
            counter
                .with_label_values(&[&format!("/route/{route}"), &format!("{}", 200 + status)])
                .inc();
        }
    }
    let handler = MetricsHandler::new(registry);
    let mut group = c.benchmark_group("exposition_10k_series");
    group.bench_function("text", |b| {
        b.iter_batched(
            http::HeaderMap::new,
            |h| handler.respond(&h),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("text+gzip", |b| {
        b.iter_batched(
            || {
                let mut h = http::HeaderMap::new();
                h.insert(http::header::ACCEPT_ENCODING, "gzip".parse().unwrap());
                h
            },
            |h| handler.respond(&h),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, tower_overhead, axum_overhead, exposition);
criterion_main!(benches);
