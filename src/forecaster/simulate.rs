//! The Monte Carlo throughput forecast: how many weeks until a backlog is done, if future weeks
//! look like past ones. Each trial draws weekly throughput uniformly from the history until the
//! backlog is used up; the spread of week counts over all trials gives the percentiles.

use serde::Serialize;

use super::rng::Rng;

/// Upper bound on trials per request: cost grows linearly with them.
pub const MAX_TRIALS: u32 = 100_000;
/// A trial gives up after this many weeks: a history of (almost) nothing but zeros would
/// otherwise never finish. Also bounds the work of one request to `MAX_TRIALS * MAX_WEEKS` steps.
pub const MAX_WEEKS: u32 = 10_000;
/// A longer history than ~190 years of weeks is not a history, it is a mistake or an attack.
pub const MAX_SAMPLES: usize = 10_000;

/// The simulation kinds the API accepts. The `simulation_type` label only ever takes these
/// values, so a client cannot create series by sending new names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SimulationType {
    MonteCarlo,
}

impl SimulationType {
    pub const ALL: [SimulationType; 1] = [SimulationType::MonteCarlo];

    pub fn label(self) -> &'static str {
        match self {
            SimulationType::MonteCarlo => "monte_carlo",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.label() == name)
    }
}

/// Why a forecast request cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidInput(pub String);

impl std::fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidInput {}

/// A validated forecast: holding one means it can run and will terminate.
#[derive(Debug, Clone)]
pub struct Forecast {
    throughput: Vec<f64>,
    backlog: u32,
    trials: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    pub p50: u32,
    pub p85: u32,
    pub p95: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub weeks: Percentiles,
    /// Trials that hit [`MAX_WEEKS`]; their week count is the cap, not a real finish.
    pub incomplete_trials: u32,
}

impl Forecast {
    pub fn new(throughput: Vec<f64>, backlog: u32, trials: u32) -> Result<Self, InvalidInput> {
        let invalid = |msg: String| Err(InvalidInput(msg));
        if throughput.is_empty() {
            return invalid("throughput must hold at least one weekly sample".into());
        }
        if throughput.len() > MAX_SAMPLES {
            return invalid(format!(
                "throughput holds {} samples; at most {MAX_SAMPLES} are allowed",
                throughput.len()
            ));
        }
        if let Some((i, v)) = throughput
            .iter()
            .enumerate()
            .find(|(_, v)| !v.is_finite() || **v < 0.0)
        {
            return invalid(format!("throughput[{i}] is {v}; samples must be >= 0"));
        }
        if throughput.iter().all(|v| *v == 0.0) {
            return invalid("throughput must have at least one week with completed items".into());
        }
        if backlog == 0 {
            return invalid("backlog must be at least 1".into());
        }
        if !(1..=MAX_TRIALS).contains(&trials) {
            return invalid(format!("trials must be between 1 and {MAX_TRIALS}"));
        }
        Ok(Forecast {
            throughput,
            backlog,
            trials,
        })
    }

    pub fn backlog(&self) -> u32 {
        self.backlog
    }

    pub fn trials(&self) -> u32 {
        self.trials
    }

    /// Runs every trial; the same seed gives the same outcome.
    pub fn run(&self, seed: u64) -> Outcome {
        let mut rng = Rng::new(seed);
        let mut weeks: Vec<u32> = (0..self.trials).map(|_| self.trial(&mut rng)).collect();
        let incomplete_trials = weeks.iter().filter(|w| **w >= MAX_WEEKS).count() as u32;
        weeks.sort_unstable();
        Outcome {
            weeks: Percentiles {
                p50: nearest_rank(&weeks, 50),
                p85: nearest_rank(&weeks, 85),
                p95: nearest_rank(&weeks, 95),
            },
            incomplete_trials,
        }
    }

    fn trial(&self, rng: &mut Rng) -> u32 {
        let mut remaining = f64::from(self.backlog);
        let mut weeks = 0;
        while remaining > 0.0 && weeks < MAX_WEEKS {
            remaining -= self.throughput[rng.below(self.throughput.len())];
            weeks += 1;
        }
        weeks
    }
}

/// The smallest value with at least `percent`% of the samples at or below it: always one of
/// the simulated week counts, never an interpolated fraction of a week.
fn nearest_rank(sorted: &[u32], percent: usize) -> u32 {
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forecast(throughput: &[f64], backlog: u32, trials: u32) -> Forecast {
        Forecast::new(throughput.to_vec(), backlog, trials).unwrap()
    }

    #[test]
    fn constant_throughput_finishes_in_exactly_backlog_over_rate_weeks() {
        let out = forecast(&[5.0], 20, 1000).run(1);
        let four = Percentiles {
            p50: 4,
            p85: 4,
            p95: 4,
        };
        assert_eq!(out.weeks, four);
        assert_eq!(out.incomplete_trials, 0);
        // A partial last week still counts as a week.
        assert_eq!(forecast(&[5.0], 21, 10).run(1).weeks.p50, 5);
    }

    #[test]
    fn fixed_seed_gives_a_fixed_forecast() {
        let history = [3.0, 0.0, 7.0, 5.0, 4.0, 9.0, 1.0, 6.0];
        let f = forecast(&history, 100, 20_000);
        let a = f.run(42);
        assert_eq!(a, f.run(42));
        assert!(a.weeks.p50 <= a.weeks.p85 && a.weeks.p85 <= a.weeks.p95);
        // Mean throughput is 4.375 a week: the median lands near 100 / 4.375 = 22.9 weeks.
        assert!((21..=25).contains(&a.weeks.p50), "{a:?}");
        assert!(a.weeks.p95 > a.weeks.p50, "{a:?}");
    }

    #[test]
    fn a_mostly_zero_history_stops_at_the_week_cap() {
        let out = forecast(&[0.0, 0.0, 0.0, 0.001], 1_000, 20).run(3);
        assert_eq!(out.incomplete_trials, 20);
        assert_eq!(out.weeks.p50, MAX_WEEKS);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(nearest_rank(&v, 50), 50);
        assert_eq!(nearest_rank(&v, 95), 95);
        assert_eq!(nearest_rank(&[7], 50), 7);
        assert_eq!(nearest_rank(&[1, 2], 50), 1);
        assert_eq!(nearest_rank(&[1, 2], 85), 2);
    }

    #[test]
    fn invalid_input_is_rejected_with_a_reason() {
        let err = |t: &[f64], b, n| Forecast::new(t.to_vec(), b, n).unwrap_err().0;
        assert!(err(&[], 10, 10).contains("at least one"));
        assert!(err(&[0.0, 0.0], 10, 10).contains("completed items"));
        assert!(err(&[1.0, -2.0], 10, 10).contains("throughput[1]"));
        assert!(err(&[f64::NAN], 10, 10).contains(">= 0"));
        assert!(err(&[1.0], 0, 10).contains("backlog"));
        assert!(err(&[1.0], 10, 0).contains("trials"));
        assert!(err(&[1.0], 10, MAX_TRIALS + 1).contains("trials"));
        assert!(err(&vec![1.0; MAX_SAMPLES + 1], 10, 10).contains("at most"));
    }

    #[test]
    fn only_known_simulation_types_parse() {
        assert_eq!(
            SimulationType::parse("monte_carlo"),
            Some(SimulationType::MonteCarlo)
        );
        assert_eq!(SimulationType::parse("Monte_Carlo"), None);
        assert_eq!(SimulationType::parse("x\"}"), None);
    }
}
