//! Realistic mixed traffic against the example service, at a fixed rate for a fixed time; prints
//! what it sent per (method, path, status), to compare with the service's counters.
//!
//! ```sh
//! cargo run --release --example loadgen -- --target http://127.0.0.1:8000 --rate 50 --duration 60s [--concurrency 8]
//! ```

use std::time::Duration;

use clap::Parser;
use monitoring_suite::loadgen::{self, parse_duration, LoadConfig};

#[derive(Parser)]
#[command(about = "Drive mixed traffic at the forecaster example service")]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    target: String,
    /// Requests per second.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// How long to run: 60s, 2m, 500ms.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    /// Connections, each with one request in flight at a time.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Per-request limit.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
    /// Seed of the traffic mix; the same seed sends the same sequence.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let config = LoadConfig {
        concurrency: args.concurrency,
        timeout: args.timeout,
        seed: args.seed,
        ..LoadConfig::new(&args.target, args.rate, args.duration)?
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    eprintln!(
        "sending {} req/s to {} for {:?} over {} connections",
        config.rate, config.authority, config.duration, config.concurrency
    );
    let summary = runtime.block_on(loadgen::run(&config));
    print!("{summary}");
    if summary.total_sent() == 0 {
        return Err("no request was answered".into());
    }
    Ok(())
}
