//! The request's tracking state, and the response body wrapper that carries it until the body
//! ends.

use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{ready, Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::series::{RouteEntry, SeriesRef, METHOD_LABELS};

/// The clock requests are timed with. quanta reads the TSC where it is stable: ~12 ns on the VMs
/// we measured, where `std::time::Instant` is a ~31 ns `clock_gettime`, and a request reads the
/// clock twice. Raw readings are scaled once, for the difference.
fn clock() -> &'static quanta::Clock {
    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

/// A tracked request, from the moment the service was called to the end of its response body.
///
/// Dropping it ends the request however it ends: it decrements the in-progress gauge (so the
/// gauge cannot leak), and counts the request and its duration if a status is known. A request
/// dropped before it had a response is a client that went away, or a cancellation: only
/// in-progress ends. One unwound by a panic counts as a 500 and an exception.
///
/// It travels inside the response body, so it is kept to 24 bytes.
pub(crate) struct Tracking {
    entry: &'static RouteEntry,
    /// Raw clock reading at the start.
    start: u64,
    /// Set once the response status is known.
    series: Option<SeriesRef>,
    method: u8,
}

impl Tracking {
    /// Starts tracking: increments the route's in-progress gauge.
    #[inline]
    pub fn start(entry: &'static RouteEntry, method: usize) -> Self {
        entry.in_progress(method).inc();
        Tracking {
            entry,
            start: clock().raw(),
            series: None,
            method: method as u8,
        }
    }

    /// The response has this status: the request will count under it when it ends.
    #[inline]
    pub fn respond(&mut self, status: u16) {
        self.series = Some(self.entry.series(self.method.into(), status));
    }

    /// A handler error or panic: status 500 plus the exceptions counter.
    pub fn fail(&mut self) {
        self.respond(500);
        self.entry
            .families
            .exceptions
            .with_label_values(&[METHOD_LABELS[usize::from(self.method)], "500"])
            .inc();
    }
}

impl Drop for Tracking {
    #[inline]
    fn drop(&mut self) {
        // Unwinding through the handler (a catch-panic layer further out turns it into a 500).
        if self.series.is_none() && std::thread::panicking() {
            self.fail();
        }
        let method = usize::from(self.method);
        if let Some(series) = self.series {
            let clock = clock();
            let nanos = clock.delta_as_nanos(self.start, clock.raw());
            self.entry.record(method, series, nanos as f64 * 1e-9);
        }
        self.entry.in_progress(method).dec();
    }
}

pin_project! {
    /// Response body of an instrumented service. Duration and in-progress end when the body has
    /// been sent completely or is dropped.
    pub struct InstrumentedBody<B> {
        #[pin]
        inner: B,
        tracking: Option<Tracking>,
    }
}

impl<B> InstrumentedBody<B> {
    pub(crate) fn new(inner: B, tracking: Option<Tracking>) -> Self {
        InstrumentedBody { inner, tracking }
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
            this.tracking.take();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_stays_small_enough_to_ride_in_the_body() {
        assert_eq!(std::mem::size_of::<Option<Tracking>>(), 24);
    }
}
