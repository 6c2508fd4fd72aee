//! The request's tracking state, and the response body wrapper that carries it until the body
//! ends.

use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{ready, Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::series::{RouteEntry, METHOD_LABELS};

/// The clock requests are timed with. quanta reads the TSC where it is stable: ~12 ns on the VMs
/// we measured, where `std::time::Instant` is a ~31 ns `clock_gettime`, and a request reads the
/// clock twice. Raw readings are scaled once, for the difference.
struct Clock {
    quanta: quanta::Clock,
    /// quanta scales raw readings by a fixed ratio; as a float, a duration is one multiplication.
    seconds_per_tick: f64,
}

impl Clock {
    fn get() -> &'static Clock {
        static CLOCK: OnceLock<Clock> = OnceLock::new();
        CLOCK.get_or_init(|| {
            let quanta = quanta::Clock::new();
            let ticks = 1u64 << 40;
            let seconds_per_tick = quanta.delta_as_nanos(0, ticks) as f64 * 1e-9 / ticks as f64;
            Clock {
                quanta,
                seconds_per_tick,
            }
        })
    }

    #[inline]
    fn raw(&self) -> u64 {
        self.quanta.raw()
    }

    /// Seconds from `start` to now; 0 if the clock appears to have gone back (readings taken on
    /// CPUs whose counters disagree).
    #[inline]
    fn seconds_since(&self, start: u64) -> f64 {
        self.raw().saturating_sub(start) as f64 * self.seconds_per_tick
    }
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
    /// The response status once it is known; 0 until then.
    status: u16,
    method: u8,
}

impl Tracking {
    /// Starts tracking a request of this route and method, unless the route is excluded:
    /// increments the in-progress gauge.
    #[inline]
    pub(crate) fn start(entry: &'static RouteEntry, method: usize) -> Option<Self> {
        if entry.excluded {
            return None;
        }
        entry.in_progress(method).inc();
        Some(Tracking {
            entry,
            start: Clock::get().raw(),
            status: 0,
            method: method as u8,
        })
    }

    /// The response has this status: the request will count under it when it ends.
    #[inline]
    pub(crate) fn respond(&mut self, status: u16) {
        self.status = status;
    }

    /// A handler error or panic: status 500 plus the exceptions counter.
    pub(crate) fn fail(&mut self) {
        self.respond(500);
        self.entry
            .families
            .exceptions
            .with_label_values(&[METHOD_LABELS[usize::from(self.method)], "500"])
            .inc();
    }
}

impl Drop for Tracking {
    fn drop(&mut self) {
        // Unwinding through the handler (a catch-panic layer further out turns it into a 500).
        if self.status == 0 && std::thread::panicking() {
            self.fail();
        }
        let method = usize::from(self.method);
        if self.status != 0 {
            let seconds = Clock::get().seconds_since(self.start);
            self.entry.record(method, self.status, seconds);
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
    fn clock_measures_seconds() {
        let clock = Clock::get();
        let start = clock.raw();
        let wall = std::time::Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(50));
        // Wall time read just before and just after, so a preemption cannot fail the test.
        let before = wall.elapsed().as_secs_f64();
        let measured = clock.seconds_since(start);
        let after = wall.elapsed().as_secs_f64();
        assert!(
            before * 0.99 <= measured && measured <= after * 1.01 + 1e-4,
            "{measured} s measured, {before}-{after} s passed"
        );
        assert_eq!(clock.seconds_since(u64::MAX), 0.0);
    }

    #[test]
    fn tracking_stays_small_enough_to_ride_in_the_body() {
        assert_eq!(std::mem::size_of::<Option<Tracking>>(), 24);
    }
}
