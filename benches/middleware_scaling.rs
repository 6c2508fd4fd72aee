//! How what the HTTP-metrics middleware adds per request grows with the number of route templates
//! and with threads sharing one registry, against axum-prometheus in the same run.
//!
//! `cargo bench --bench middleware_scaling` (or `python3 benches/scaling/middleware.py`, which runs
//! it and prints the table and plot).
//!
//! * `routes/<impl>/<N>`: an axum router with N templates (`/r{i}/items/{id}`); the requests
//!   cycle over all N routes, so every route's series is live. What is added per request is
//!   measured as in `benches/middleware.rs`: every sample times the bare router and the
//!   instrumented one back to back on the same request sequence and reports the difference.
//! * `threads/<impl>/<T>`: T threads (1 to 16, on however many cores there are), each with its
//!   own clone of one router (10 routes) and all recording into one registry; a sample's requests
//!   are split over the threads. Each thread runs the bare and then the instrumented router (a
//!   barrier between the phases) and the figure is the difference of the CPU time the threads
//!   spent (`/proc/thread-self/schedstat`), per request: contention on shared cache lines shows
//!   up as CPU, whatever the core count.

mod common;

use std::sync::{Barrier, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion};
use http::{Request, Uri};
use instrument::HttpMetricsLayer;

use common::{added_time, current_thread_runtime, ours_metrics, serve};

const ROUTES: [usize; 4] = [1, 10, 100, 1000];
const THREADS: [usize; 5] = [1, 2, 4, 8, 16];
const THREAD_ROUTES: usize = 10;

fn router(routes: usize) -> Router {
    (0..routes).fold(Router::new(), |r, i| {
        r.route(&format!("/r{i}/items/{{id}}"), get(|| async { "ok" }))
    })
}

fn uris(routes: usize) -> Vec<Uri> {
    (0..routes)
        .map(|i| format!("/r{i}/items/{}", 40 + i % 7).parse().unwrap())
        .collect()
}

fn request(svc: &mut Router, uri: &Uri) {
    serve(svc, Request::get(uri.clone()).body(Body::empty()).unwrap());
}

/// axum-prometheus installs a process-wide recorder: one layer for the whole run, cloned.
fn axum_prometheus_layer() -> axum_prometheus::PrometheusMetricLayer<'static> {
    static LAYER: OnceLock<axum_prometheus::PrometheusMetricLayer<'static>> = OnceLock::new();
    LAYER
        .get_or_init(|| axum_prometheus::PrometheusMetricLayer::pair().0)
        .clone()
}

fn instrumented(which: &str, routes: usize) -> Router {
    match which {
        "instrument" => router(routes).layer(HttpMetricsLayer::axum(ours_metrics())),
        _ => router(routes).layer(axum_prometheus_layer()),
    }
}

/// Nanoseconds this thread has run (scheduler clock).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A group of short samples: half a second of warm-up, one second of measurement.
fn short_group<'a>(
    c: &'a mut Criterion,
    name: &str,
    samples: usize,
) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(samples)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1));
    group
}

fn routes(c: &mut Criterion) {
    let runtime = current_thread_runtime();
    let _entered = runtime.enter();
    let mut group = short_group(c, "routes", 20);
    for which in ["instrument", "axum-prometheus"] {
        for n in ROUTES {
            let uris = uris(n);
            let mut base = router(n);
            let mut with = instrumented(which, n);
            // Every route seen once, so the first-request work is not in the figures.
            for u in &uris {
                request(&mut with, u);
            }
            group.bench_function(BenchmarkId::new(which, n), |b| {
                b.iter_custom(|iters| {
                    added_time(
                        iters,
                        |i| request(&mut base, &uris[i % n]),
                        |i| request(&mut with, &uris[i % n]),
                    )
                })
            });
        }
    }
    group.finish();
}

fn threads(c: &mut Criterion) {
    let runtime = current_thread_runtime();
    let _entered = runtime.enter();
    let mut group = short_group(c, "threads", 15);
    let uris = uris(THREAD_ROUTES);
    for which in ["instrument", "axum-prometheus"] {
        // One router, one registry: every thread works on a clone of it.
        let with = instrumented(which, THREAD_ROUTES);
        let base = router(THREAD_ROUTES);
        for u in &uris {
            request(&mut with.clone(), u);
        }
        for t in THREADS {
            group.bench_function(BenchmarkId::new(which, t), |b| {
                b.iter_custom(|iters| {
                    // `iters` requests in all, split over the threads.
                    let per_thread = (iters as usize).div_ceil(t);
                    let barrier = Barrier::new(t);
                    let added: u64 = std::thread::scope(|s| {
                        let handles: Vec<_> = (0..t)
                            .map(|k| {
                                let (mut base, mut with) = (base.clone(), with.clone());
                                let (uris, barrier) = (&uris, &barrier);
                                let handle = runtime.handle().clone();
                                s.spawn(move || {
                                    let _entered = handle.enter();
                                    barrier.wait();
                                    let c0 = thread_cpu_ns();
                                    for i in 0..per_thread {
                                        request(&mut base, &uris[(i + k) % THREAD_ROUTES]);
                                    }
                                    let c1 = thread_cpu_ns();
                                    barrier.wait();
                                    let c2 = thread_cpu_ns();
                                    for i in 0..per_thread {
                                        request(&mut with, &uris[(i + k) % THREAD_ROUTES]);
                                    }
                                    let c3 = thread_cpu_ns();
                                    (c3 - c2).saturating_sub(c1 - c0)
                                })
                            })
                            .collect();
                        handles.into_iter().map(|h| h.join().unwrap()).sum()
                    });
                    // CPU added per request, whichever thread ran it.
                    Duration::from_nanos(added * iters / (per_thread * t) as u64)
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, routes, threads);
criterion_main!(benches);
