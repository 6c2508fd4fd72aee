//! The response body wrapper that holds the request's guard until the body ends.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use prometheus::IntGauge;

use crate::metrics::Inner;
use crate::series::{RouteEntry, Series, METHOD_LABELS};

/// Decrements the in-progress gauge however the request ends: completed, dropped (client abort,
/// cancellation) or unwound by a panic. The gauge cannot leak.
pub(crate) struct InProgress(pub IntGauge);

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A tracked request from the moment the service was called.
pub(crate) struct Tracking {
    pub inner: Arc<Inner>,
    pub entry: Arc<RouteEntry>,
    pub method: usize,
    pub start: Instant,
    pub recorded: bool,
    pub _in_progress: InProgress,
}

impl Tracking {
    pub fn record(&mut self, series: &Series) {
        series.requests.inc();
        series.duration.observe(self.start.elapsed().as_secs_f64());
        self.recorded = true;
    }

    /// A handler error or panic: status 500 plus the exceptions counter.
    pub fn record_exception(&mut self) {
        let series = self.entry.series(&self.inner.families, self.method, 500);
        self.record(&series);
        self.inner
            .families
            .exceptions
            .with_label_values(&[METHOD_LABELS[self.method], "500"])
            .inc();
    }
}

impl Drop for Tracking {
    fn drop(&mut self) {
        // Unwinding through the handler (a catch-panic layer further out turns it into a 500).
        // A future dropped without a panic is a client that went away: only in-progress ends.
        if !self.recorded && std::thread::panicking() {
            self.record_exception();
        }
    }
}

/// Records the request's count and duration when dropped: at the end of the body.
pub(crate) struct RequestGuard {
    pub tracking: Tracking,
    pub series: Arc<Series>,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let series = Arc::clone(&self.series);
        self.tracking.record(&series);
    }
}

pin_project! {
    /// Response body of an instrumented service. Duration and in-progress end when the body has
    /// been sent completely or is dropped.
    pub struct InstrumentedBody<B> {
        #[pin]
        inner: B,
        guard: Option<RequestGuard>,
    }
}

impl<B> InstrumentedBody<B> {
    pub(crate) fn new(inner: B, guard: Option<RequestGuard>) -> Self {
        InstrumentedBody { inner, guard }
    }
}

impl<B: Body> Body for InstrumentedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if frame.is_none() {
            this.guard.take();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
