//! What the HTTP-metrics middleware adds per request, against the same router without it and
//! with axum-prometheus (measured in the same group), and what exposing 10,000 series costs.
//!
//! `cargo bench --bench middleware`

mod common;

use std::convert::Infallible;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion};
use http::{Request, Response};
use instrument::{HttpMetrics, HttpMetricsLayer, MetricsHandler, StaticRoutes};
use tower::service_fn;
use tower_layer::Layer;

use common::{added_time, current_thread_runtime, ours_metrics, serve};

fn router() -> Router {
    Router::new().route("/api/items/{id}", get(|| async { "ok" }))
}

/// Sends one request through the router and consumes the response body, as a server would.
fn request(svc: &mut Router) {
    serve(
        svc,
        Request::get("/api/items/42").body(Body::empty()).unwrap(),
    );
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
        b.iter(|| call(&mut |req| serve(&mut bare, req)))
    });
    let routes = StaticRoutes::new(["/api/items/{id}"]);
    let mut ours = HttpMetricsLayer::new(ours_metrics(), routes).layer(service_fn(minimal_handler));
    group.bench_function("instrument", |b| {
        b.iter(|| call(&mut |req| serve(&mut ours, req)))
    });
    bench_added(
        &mut group,
        "instrument added",
        || call(&mut |req| serve(&mut bare, req)),
        || call(&mut |req| serve(&mut ours, req)),
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
        || call(&mut |req| serve(&mut bare, req)),
        || call(&mut |req| serve(&mut excl, req)),
    );
    group.finish();
}

/// What `with` costs per call over `base`, both timed back to back in every sample
/// ([`added_time`]).
fn bench_added(
    group: &mut BenchmarkGroup<WallTime>,
    name: &str,
    mut base: impl FnMut(),
    mut with: impl FnMut(),
) {
    group.bench_function(name, |b| {
        b.iter_custom(|iters| added_time(iters, |_| base(), |_| with()))
    });
}

/// A whole axum router, with ours and with axum-prometheus, measured in one group.
fn axum_overhead(c: &mut Criterion) {
    let runtime = current_thread_runtime();
    let _entered = runtime.enter();
    let mut group = c.benchmark_group("axum");
    let mut bare = router();
    group.bench_function("bare", |b| b.iter(|| request(&mut bare)));

    let mut ours = router().layer(HttpMetricsLayer::axum(ours_metrics()));
    group.bench_function("instrument", |b| b.iter(|| request(&mut ours)));

    let (layer, _handle) = axum_prometheus::PrometheusMetricLayer::pair();
    let mut theirs = router().layer(layer);
    group.bench_function("axum-prometheus", |b| b.iter(|| request(&mut theirs)));

    for (name, with) in [
        ("instrument added", &mut ours),
        ("axum-prometheus added", &mut theirs),
    ] {
        let mut base = router();
        bench_added(&mut group, name, || request(&mut base), || request(with));
    }
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
