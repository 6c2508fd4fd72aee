//! Running one future per item with at most a few in flight, outputs in the items' order: how
//! the per-database collectors query many databases at once (each database has its own backend,
//! so their queries run in parallel on the server) without opening them all at once.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;

/// `make(item)` for every item, at most `limit` (at least one) running at a time; the outputs in
/// the order of `items`.
pub(crate) async fn at_most<T, F, Fut>(items: Vec<T>, limit: usize, make: F) -> Vec<Fut::Output>
where
    F: Fn(T) -> Fut,
    Fut: Future,
{
    let total = items.len();
    let mut items = items.into_iter().enumerate();
    let mut outputs: Vec<Option<Fut::Output>> = (0..total).map(|_| None).collect();
    let mut running: Vec<(usize, Pin<Box<Fut>>)> = Vec::with_capacity(limit.max(1));
    poll_fn(|cx| loop {
        while running.len() < limit.max(1) {
            match items.next() {
                Some((i, item)) => running.push((i, Box::pin(make(item)))),
                None => break,
            }
        }
        let before = running.len();
        running.retain_mut(|(i, future)| match future.as_mut().poll(cx) {
            Poll::Ready(output) => {
                outputs[*i] = Some(output);
                false
            }
            Poll::Pending => true,
        });
        if running.is_empty() && items.len() == 0 {
            return Poll::Ready(());
        }
        // Nothing finished: every running future has registered its wake-up.
        if running.len() == before {
            return Poll::Pending;
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[tokio::test]
    async fn outputs_in_order_with_at_most_the_limit_running() {
        let running = Cell::new(0);
        let most = Cell::new(0);
        let out = at_most((0..10u64).collect(), 3, |i| {
            let (running, most) = (&running, &most);
            async move {
                running.set(running.get() + 1);
                most.set(most.get().max(running.get()));
                // Later items finish first: the order must still be the items'.
                for _ in 0..(10 - i) {
                    tokio::task::yield_now().await;
                }
                running.set(running.get() - 1);
                i * 2
            }
        })
        .await;
        assert_eq!(out, (0..10).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(most.get(), 3);
        assert!(at_most(Vec::<u8>::new(), 3, |i| async move { i })
            .await
            .is_empty());
    }
}
