//! `postgres-exporter`: upstream's flags ([`postgres_exporter::flags`]) on the shared runtime; the
//! start-up hook reads the `DATA_SOURCE_*` environment, builds the exporter and adds
//! `/probe?target=`.

use std::process::ExitCode;
use std::sync::Arc;

use clap::ArgMatches;
use exporter_core::run::{Program, Startup};
use postgres_exporter::build_exporter;
use postgres_exporter::data_source::data_sources;
use postgres_exporter::flags::{customize, Flags};
use postgres_exporter::multi_target::ProbeHandler;

const PROGRAM: Program = Program {
    binary: "postgres-exporter",
    upstream_name: "postgres_exporter",
    about: "Prometheus exporter for PostgreSQL server metrics, drop-in for postgres_exporter.",
    title: "Postgres Exporter",
    default_listen: ":9187",
    single_dash_long_flags: false,
};

fn main() -> ExitCode {
    exporter_core::run::main(PROGRAM, customize, start)
}

fn start(flags: Flags, matches: &ArgMatches) -> Result<Startup, String> {
    let opts = Arc::new(flags.options(matches)?);
    let auth_modules = flags.auth_modules()?;
    let dsns = data_sources(&|k| std::env::var(k).ok(), &|p| std::fs::read_to_string(p))?;
    if dsns.is_empty() && auth_modules.is_none() {
        return Err(
            "no data source: set DATA_SOURCE_NAME (or DATA_SOURCE_NAME_FILE, or \
                    DATA_SOURCE_URI with DATA_SOURCE_USER and DATA_SOURCE_PASS), or give \
                    --config.file for /probe"
                .to_string(),
        );
    }
    let redacted: Vec<String> = dsns.iter().map(|d| d.redacted()).collect();
    let exporter = build_exporter(dsns, &opts)?;
    let probe = Arc::new(ProbeHandler::new(auth_modules.unwrap_or_default(), opts));
    Ok(
        Startup::new(flags.runtime, exporter).on_bound(move |server| {
            for r in &redacted {
                tracing::info!(target = %r, "monitoring PostgreSQL");
            }
            server.route(
                "/probe",
                "metrics of another PostgreSQL server: ?target=host:port/dbname&auth_module=NAME",
                probe,
            )
        }),
    )
}
