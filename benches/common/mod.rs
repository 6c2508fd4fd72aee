//! What the middleware benches share (`mod common;` in `middleware.rs` and
//! `middleware_scaling.rs`): driving a ready service to its drained response, the runtime
//! axum-prometheus needs, and timing what one service adds over another.

use std::fmt::Debug;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use instrument::HttpMetrics;
use tower_service::Service;

fn poll_now<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("handler was expected to be ready"),
    }
}

fn drain<B: http_body::Body + Unpin>(mut body: B) {
    let mut cx = Context::from_waker(Waker::noop());
    while let Poll::Ready(Some(_)) = std::pin::Pin::new(&mut body).poll_frame(&mut cx) {}
}

/// One request through `svc`, its response body consumed, as a server would.
pub fn serve<S, R, B>(svc: &mut S, req: R)
where
    S: Service<R, Response = http::Response<B>>,
    S::Error: Debug,
    B: http_body::Body + Unpin,
{
    drain(poll_now(svc.call(req)).unwrap().into_body());
}

/// axum-prometheus spawns an upkeep task when its recorder is installed: the benches run inside
/// this runtime (`runtime.enter()`).
pub fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Our middleware's metrics, in a registry of their own.
pub fn ours_metrics() -> HttpMetrics {
    HttpMetrics::builder()
        .registry(prometheus::Registry::new())
        .build()
        .unwrap()
}

/// What `with` costs over `base` for `iters` calls (each given the call's index). On a shared VM,
/// separate runs of the two drift apart by tens of ns from one run to the next; here a sample
/// times both back to back and reports the difference, so slow drift cancels.
pub fn added_time(
    iters: u64,
    mut base: impl FnMut(usize),
    mut with: impl FnMut(usize),
) -> Duration {
    let start = Instant::now();
    for i in 0..iters as usize {
        base(i);
    }
    let base_time = start.elapsed();
    let start = Instant::now();
    for i in 0..iters as usize {
        with(i);
    }
    start.elapsed().saturating_sub(base_time)
}
