//! The start-up sequence every exporter binary shares.

use std::sync::Arc;

use crate::exporter::Exporter;
use crate::flags::{LogFlags, WebFlags};
use crate::server::{Server, ServerConfig};
use crate::web_config::WebConfig;
use crate::web_config_reload::ReloadingWebConfig;

/// What the binary knows about itself.
pub struct Program {
    /// Landing-page title, e.g. "Node Exporter".
    pub title: &'static str,
    /// Used when `--web.listen-address` is not given, e.g. ":9100".
    pub default_listen: &'static str,
}

/// Validates the web config, starts the runtime, binds and serves until SIGTERM/SIGINT.
/// `configure` may add routes (multi-target endpoints) before serving.
pub fn run(
    program: Program,
    web: WebFlags,
    log: LogFlags,
    exporter: Exporter,
    configure: impl FnOnce(Server) -> Server,
) -> Result<(), String> {
    crate::log::init(log.level, log.format);
    let web_config = match &web.config_file {
        Some(file) => ReloadingWebConfig::load(file).map_err(|e| e.to_string())?,
        None => WebConfig::default().into(),
    };
    let listen = if web.listen_address.is_empty() {
        vec![program.default_listen.to_string()]
    } else {
        web.listen_address.clone()
    };
    let tls = web_config.tls_enabled();
    let config = ServerConfig {
        listen,
        systemd_socket: web.systemd_socket,
        telemetry_path: web.telemetry_path.clone(),
        web: web_config,
        max_requests: web.max_requests,
        title: program.title.to_string(),
    };
    let exporter = Arc::new(exporter.with_exporter_metrics(!web.disable_exporter_metrics));

    let runtime = build_runtime()?;
    runtime.block_on(async move {
        let server = configure(Server::bind(config, Arc::clone(&exporter)).await?);
        for addr in server.local_addrs() {
            tracing::info!(address = %addr, tls, collectors = %exporter.collector_names().join(","), "Listening on");
        }
        server.serve().await;
        Ok(())
    })
}

/// One event-loop thread is plenty for an exporter and keeps memory small; blocking collectors get
/// a bounded pool so a stuck file system cannot spawn threads without limit.
pub fn build_runtime() -> Result<tokio::runtime::Runtime, String> {
    crate::memory::limit_malloc_arenas();
    crate::process::raise_open_file_limit();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(16)
        // Scrapes come every 10 s or more: a blocking thread idle for a second will not be
        // reused, and going away it frees its stack and malloc caches (see `memory`).
        .thread_keep_alive(crate::memory::BLOCKING_THREAD_KEEP_ALIVE)
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}
