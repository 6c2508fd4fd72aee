//! `celery-exporter`: the program's names and a start-up hook on the shared runtime; the flags
//! and the configuration they build are the library's (`flags.rs`).

use std::process::ExitCode;

use celery_exporter::flags::Flags;
use celery_exporter::Celery;
use exporter_core::run::{Program, Startup};

const PROGRAM: Program = Program {
    binary: "celery-exporter",
    upstream_name: "celery_exporter",
    about: "Prometheus exporter for Celery on Redis and RabbitMQ: task and worker metrics from the broker's \
            event stream, queue depth at scrape time.",
    title: "Celery Exporter",
    default_listen: ":9808",
    single_dash_long_flags: false,
};

fn main() -> ExitCode {
    exporter_core::run::main(
        PROGRAM,
        |cmd| cmd,
        |flags: Flags, _| {
            let cfg = flags.config()?;
            let broker = cfg.broker.redacted();
            let (exporter, start_background) =
                Celery::new(cfg).map_err(|e| e.to_string())?.into_parts();
            Ok(
                Startup::new(flags.runtime, exporter).on_bound(move |server| {
                    tracing::info!(%broker, "reading Celery events");
                    start_background();
                    server
                }),
            )
        },
    )
}
