//! Small, fast pseudo-random numbers. Simulations need speed and reproducibility (a fixed seed
//! gives a fixed forecast in tests), not cryptographic quality, so no `rand` dependency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output function: turns consecutive (or poor) seeds into well-mixed values.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// xorshift64*: one multiply and three shifts per number.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // xorshift never leaves the all-zero state; mixing makes a zero seed usable too.
        let state = mix(seed.wrapping_add(GOLDEN_GAMMA));
        Rng(if state == 0 { GOLDEN_GAMMA } else { state })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below 2^-32 for any n we use).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        unit(self.next_u64())
    }
}

fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// A random stream many requests draw from at once, without a lock: SplitMix64 over an atomic
/// counter.
#[derive(Debug)]
pub struct SharedRng(AtomicU64);

impl SharedRng {
    pub fn new(seed: u64) -> Self {
        SharedRng(AtomicU64::new(seed))
    }

    /// Seeded from the clock, so two runs of the service make different choices.
    pub fn from_clock() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        SharedRng::new(nanos ^ u64::from(std::process::id()).rotate_left(32))
    }

    pub fn next_u64(&self) -> u64 {
        mix(self.0.fetch_add(GOLDEN_GAMMA, Ordering::Relaxed))
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&self) -> f64 {
        unit(self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_covers_the_range_evenly() {
        let mut rng = Rng::new(7);
        let mut counts = [0u32; 5];
        for _ in 0..50_000 {
            counts[rng.below(5)] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn zero_seed_is_usable_and_streams_are_reproducible() {
        let mut a = Rng::new(0);
        let mut b = Rng::new(0);
        let first = a.next_u64();
        assert_ne!(first, 0);
        assert_eq!(first, b.next_u64());
        let shared = SharedRng::new(1);
        assert_ne!(shared.next_u64(), shared.next_u64());
        assert!((0.0..1.0).contains(&shared.unit()));
    }
}
