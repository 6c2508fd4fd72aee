//! Support code shared by the suite's integration tests, examples and benchmarks.

pub mod forecaster;
pub mod loadgen;
