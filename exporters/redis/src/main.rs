//! `redis-exporter`: upstream's flags ([`redis_exporter::flags`]) on the shared runtime; the
//! start-up hook wires the scrape options, the `--redis.addr` collector and `/scrape?target=`.

use std::process::ExitCode;
use std::sync::Arc;

use clap::ArgMatches;
use exporter_core::run::{Program, Startup};
use exporter_core::web_config_reload::ReloadingWebConfig;
use exporter_core::{asynchronous, Exporter};
use redis_exporter::flags::{customize, resolve_logging, warn_about_flags_without_effect, Flags};
use redis_exporter::multi_target::ScrapeHandler;
use redis_exporter::options::{passwords, redis_addr_target};
use redis_exporter::upstream_web::upstream_web_config;
use redis_exporter::{RedisCollector, ScrapeOptions, Scraper};

const PROGRAM: Program = Program {
    binary: "redis-exporter",
    upstream_name: "redis_exporter",
    about: "Prometheus exporter for Redis metrics, drop-in for oliver006/redis_exporter.",
    title: "Redis Exporter",
    default_listen: ":9121",
    single_dash_long_flags: true,
};

fn main() -> ExitCode {
    exporter_core::run::main(PROGRAM, customize, start)
}

fn start(mut flags: Flags, matches: &ArgMatches) -> Result<Startup, String> {
    resolve_logging(&mut flags, matches);
    let opts = Arc::new(ScrapeOptions::from_flags(&flags)?);
    let (passwords, default_password) = passwords(&flags)?;
    // Logging first, so the warning below reaches the configured format (the runtime's own
    // initialisation then keeps this subscriber).
    exporter_core::log::init(flags.runtime.log.level, flags.runtime.log.format);
    warn_about_flags_without_effect(&flags.not_implemented);
    let web_config = upstream_web_config(&flags.upstream_web)?
        .map(|config| {
            ReloadingWebConfig::from_text("--tls-server-*/--basic-auth-* flags", config.to_string())
        })
        .transpose()
        .map_err(|e| e.to_string())?;

    let target = redis_addr_target(&flags.redis_addr, &passwords, default_password.as_ref())?;
    let collectors = target
        .map(|target| {
            asynchronous(RedisCollector {
                scraper: Arc::new(Scraper::new(target, Arc::clone(&opts))),
                budget: flags.connection_timeout,
            })
        })
        .into_iter()
        .collect();
    if flags.redis_only_metrics {
        flags.runtime.web.disable_exporter_metrics = true;
    }
    let handler = Arc::new(ScrapeHandler::new(
        Arc::clone(&opts),
        default_password,
        passwords,
        !flags.runtime.web.disable_exporter_metrics,
    ));
    let namespace: &'static str = Box::leak(opts.namespace.clone().into_boxed_str());
    let exporter = Exporter::new(namespace, collectors);
    let mut startup = Startup::new(flags.runtime, exporter).on_bound(move |server| {
        server.route(
            "/scrape",
            "metrics of any Redis instance: /scrape?target=redis://host:port",
            handler,
        )
    });
    if let Some(config) = web_config {
        startup = startup.web_config(config);
    }
    Ok(startup)
}
