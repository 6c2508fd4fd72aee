//! Randomness that needs no dependency: reconnect jitter and unique names (event queues, our
//! remote-control mailbox id).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn clock_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Up to +25%, so many exporters do not reconnect in lockstep after a broker restart.
pub(crate) fn jitter(d: Duration) -> Duration {
    d + d.mul_f64((clock_nanos() % 1000) as f64 / 4000.0)
}

/// 32 hex digits, unique per call and process (the shape of Celery's uuid-based names).
pub(crate) fn hex_id() -> String {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let calls = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut seed = clock_nanos() ^ u64::from(std::process::id()).rotate_left(32) ^ calls << 48;
    let mut hex = String::with_capacity(32);
    for _ in 0..2 {
        // splitmix64: unique enough for a name.
        seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        hex.push_str(&format!("{z:016x}"));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_hex() {
        let (a, b) = (hex_id(), hex_id());
        assert_ne!(a, b);
        assert!(
            a.len() == 32 && a.bytes().all(|c| c.is_ascii_hexdigit()),
            "{a}"
        );
    }

    #[test]
    fn jitter_adds_at_most_a_quarter() {
        let d = Duration::from_secs(4);
        let j = jitter(d);
        assert!(j >= d && j <= d + Duration::from_secs(1));
    }
}
