//! The tower `Layer` and `Service`, and the response future.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::{InstrumentedBody, Tracking};
use crate::classify::ClassifyRoute;
use crate::metrics::{HttpMetrics, UNMATCHED_PATH};
use crate::series::method_slot;

/// Records request metrics for every request of the wrapped service.
#[derive(Clone)]
pub struct HttpMetricsLayer<C> {
    metrics: HttpMetrics,
    classify: C,
}

impl<C: ClassifyRoute> HttpMetricsLayer<C> {
    /// Records into `metrics`, labelling each request with the route `classify` finds.
    pub fn new(metrics: HttpMetrics, classify: C) -> Self {
        HttpMetricsLayer { metrics, classify }
    }
}

#[cfg(feature = "axum")]
impl HttpMetricsLayer<crate::classify::MatchedPathRoutes> {
    /// For an axum `Router`: add with `Router::layer` so route templates are known.
    pub fn axum(metrics: HttpMetrics) -> Self {
        HttpMetricsLayer::new(metrics, crate::classify::MatchedPathRoutes)
    }
}

impl<S, C: Clone> Layer<S> for HttpMetricsLayer<C> {
    type Service = HttpMetricsService<S, C>;

    fn layer(&self, service: S) -> Self::Service {
        HttpMetricsService {
            service,
            metrics: self.metrics,
            classify: self.classify.clone(),
        }
    }
}

/// The service [`HttpMetricsLayer`] produces.
#[derive(Clone)]
pub struct HttpMetricsService<S, C> {
    service: S,
    metrics: HttpMetrics,
    classify: C,
}

impl<S, C, ReqBody, ResBody> Service<Request<ReqBody>> for HttpMetricsService<S, C>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    C: ClassifyRoute,
{
    type Response = Response<InstrumentedBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.service.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let tracking = self.track(&req);
        ResponseFuture {
            inner: self.service.call(req),
            tracking,
        }
    }
}

impl<S, C: ClassifyRoute> HttpMetricsService<S, C> {
    /// Starts tracking a request (`None` for an excluded route).
    fn track<B>(&self, req: &Request<B>) -> Option<Tracking> {
        let inner = self.metrics.inner;
        let route = self.classify.route(req).unwrap_or(UNMATCHED_PATH);
        let entry = inner.routes.entry(inner, route);
        Tracking::start(entry, method_slot(req.method()))
    }
}

struct RecordPanic<'a>(&'a mut Option<Tracking>);

impl Drop for RecordPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Some(mut t) = self.0.take() {
                t.fail();
            }
        }
    }
}

pin_project! {
    /// Response future of [`HttpMetricsService`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        tracking: Option<Tracking>,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<InstrumentedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // A panic in the handler unwinds through this poll; a catch-panic layer further out then
        // drops us after the unwinding is over. Record it here, while it is still unwinding.
        let panic_guard = RecordPanic(this.tracking);
        let result = ready!(this.inner.poll(cx));
        let mut tracking = panic_guard.0.take();
        Poll::Ready(match result {
            Ok(response) => {
                if let Some(t) = &mut tracking {
                    t.respond(response.status().as_u16());
                }
                Ok(response.map(|body| InstrumentedBody::new(body, tracking)))
            }
            Err(e) => {
                if let Some(t) = &mut tracking {
                    t.fail();
                }
                Err(e)
            }
        })
    }
}
