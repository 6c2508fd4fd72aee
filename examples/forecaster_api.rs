//! The instrumented example service: a Monte Carlo delivery forecaster that exposes the guide's
//! HTTP and simulation metrics on /metrics.
//!
//! ```sh
//! cargo run --release --example forecaster_api -- --listen 127.0.0.1:8000 [--error-rate 0.2] [--slow-ms 3000 [--slow-share 0.2]]
//! ```
//!
//! With `--admin-listen 127.0.0.1:8001`, the faults can be changed while it serves:
//! `curl -X PUT 127.0.0.1:8001/faults -H 'Content-Type: application/json'
//! -d '{"error_rate": 0.2, "slow_ms": 0, "slow_share": 1}'` (`GET /faults` shows them).

use std::sync::Arc;

use clap::Parser;
use exporter_core::log::{self, LogFormat, LogLevel};
use monitoring_suite::forecaster::{self, Config, FaultSettings, Faults, Metrics};

#[derive(Parser)]
#[command(about = "Monte Carlo delivery forecaster, instrumented for Prometheus")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: String,
    /// Share of /api/* requests that answer 500 (0 to 1), for the HighErrorRate alert demo.
    #[arg(long, default_value_t = 0.0, value_parser = share)]
    error_rate: f64,
    /// Extra latency of accepted POST /api/simulate requests, for the HighResponseTime alert demo.
    #[arg(long, default_value_t = 0)]
    slow_ms: u64,
    /// Share of accepted POST /api/simulate requests that --slow-ms delays (0 to 1).
    #[arg(long, default_value_t = 1.0, value_parser = share)]
    slow_share: f64,
    /// Where to serve the admin API (PUT/GET /faults); off when not given. Keep it on loopback.
    #[arg(long, value_name = "ADDRESS")]
    admin_listen: Option<String>,
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
        let faults = Arc::new(Faults::new(FaultSettings {
            error_rate: args.error_rate,
            slow_ms: args.slow_ms,
            slow_share: args.slow_share,
        })?);
        if let Some(address) = &args.admin_listen {
            let admin = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|e| format!("cannot listen on {address} (--admin-listen): {e}"))?;
            tracing::info!(address = %admin.local_addr()?, "admin API (PUT /faults) listening");
            let app = forecaster::admin_app(Arc::clone(&faults));
            tokio::spawn(async move { axum::serve(admin, app).await });
        }
        let config = Config {
            faults,
            history: args.history,
            ..Config::new(metrics)
        };
        tracing::info!(
            address = %listener.local_addr()?,
            error_rate = args.error_rate,
            slow_ms = args.slow_ms,
            slow_share = args.slow_share,
            "forecaster listening"
        );
        forecaster::serve(listener, config).await?;
        tracing::info!("shut down");
        Ok(())
    })
}
