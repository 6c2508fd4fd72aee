//! The response body wrapper that holds the request's guard until the body ends.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::series::{RouteEntry, SeriesRef, METHOD_LABELS};

/// A tracked request from the moment the service was called. Dropping it decrements the
/// in-progress gauge, however the request ends: completed, dropped (client abort,
/// cancellation) or unwound by a panic. The gauge cannot leak.
pub(crate) struct Tracking {
    entry: Arc<RouteEntry>,
    method: usize,
    /// quanta reads the TSC: a few ns, where `std::time::Instant` is a ~45 ns clock_gettime on
    /// the VMs we measured, and a request reads the clock twice.
    start: quanta::Instant,
    recorded: bool,
}

impl Tracking {
    /// Starts tracking: increments the route's in-progress gauge.
    pub fn start(entry: Arc<RouteEntry>, method: usize) -> Self {
        entry.in_progress(method).inc();
        Tracking {
            entry,
            method,
            start: quanta::Instant::now(),
            recorded: false,
        }
    }

    pub fn series_for(&self, status: u16) -> SeriesRef {
        self.entry.series(self.method, status)
    }

    pub fn record(&mut self, series: &SeriesRef) {
        if let Some(s) = self.entry.resolve(self.method, series) {
            s.requests.inc();
            s.duration.observe(self.start.elapsed().as_secs_f64());
        }
        self.recorded = true;
    }

    /// A handler error or panic: status 500 plus the exceptions counter.
    pub fn record_exception(&mut self) {
        let series = self.series_for(500);
        self.record(&series);
        self.entry
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
        self.entry.in_progress(self.method).dec();
    }
}

/// Records the request's count and duration when dropped: at the end of the body.
pub(crate) struct RequestGuard {
    pub tracking: Tracking,
    pub series: SeriesRef,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.tracking.record(&self.series);
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
