//! What the suite's property tests share (feature `fuzz`): how many cases to run, and proptest's
//! configuration.

use proptest::test_runner::{Config, RngAlgorithm};

/// The cases per property: `FUZZ_CASES` (`1000000` or `1_000_000`), else `default`. The
/// bench-style run is `FUZZ_CASES=1000000 cargo test --release -p <crate> --test fuzz`.
pub fn fuzz_cases(default: u32) -> u32 {
    match std::env::var("FUZZ_CASES") {
        Ok(v) => v
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("FUZZ_CASES={v:?}: not a number of cases")),
        Err(_) => default,
    }
}

/// proptest's configuration for `cases` cases (at least one), with no failure files.
pub fn fuzz_config(cases: u32) -> Config {
    Config {
        cases: cases.max(1),
        failure_persistence: None,
        // ChaCha's output is what a debug build spends most of a case on; XorShift is cheap and
        // random enough to generate inputs.
        rng_algorithm: RngAlgorithm::XorShift,
        ..Config::default()
    }
}
