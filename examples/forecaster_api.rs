//! The instrumented example service: a Monte Carlo delivery forecaster that exposes the guide's
//! HTTP and simulation metrics on /metrics.
//!
//! ```sh
//! cargo run --release --example forecaster_api -- --listen 127.0.0.1:8000 [--error-rate 0.2] [--slow-ms 3000]
//! ```

use std::time::Duration;

use clap::Parser;
use exporter_core::log::{self, LogFormat, LogLevel};
use monitoring_suite::forecaster::{self, Config, Metrics};

#[derive(Parser)]
#[command(about = "Monte Carlo delivery forecaster, instrumented for Prometheus")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: String,
    /// Share of /api/* requests that answer 500 (0 to 1), for the HighErrorRate alert demo.
    #[arg(long, default_value_t = 0.0, value_parser = share)]
    error_rate: f64,
    /// Extra latency of every accepted POST /api/simulate, for the HighResponseTime alert demo.
    #[arg(long, default_value_t = 0)]
    slow_ms: u64,
    /// Results kept for GET /api/simulations/{id}.
    #[arg(long, default_value_t = 1000)]
    history: usize,
    #[arg(long, value_enum, default_value = "info")]
    log_level: LogLevel,
    #[arg(long, value_enum, default_value = "logfmt")]
    log_format: LogFormat,
}

fn share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a number between 0 and 1")),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    log::init(args.log_level, args.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        // The default registry: where instrument's static custom-metric helpers register too.
        let metrics = Metrics::register(prometheus::default_registry())?;
        let config = Config {
            error_rate: args.error_rate,
            slow: Duration::from_millis(args.slow_ms),
            history: args.history,
            ..Config::new(metrics)
        };
        tracing::info!(
            address = %listener.local_addr()?,
            error_rate = args.error_rate,
            slow_ms = args.slow_ms,
            "forecaster listening"
        );
        forecaster::serve(listener, config).await?;
        tracing::info!("shut down");
        Ok(())
    })
}
