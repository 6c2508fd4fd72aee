//! The `main` every exporter binary shares: flags, `--version`, start-up errors, exit codes, and
//! the serving runtime. An exporter brings its flags and a start-up hook; nothing else.

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

use crate::exporter::{version_text, Exporter};
use crate::flags::{LogFlags, RuntimeFlags, WebFlags};
use crate::server::{Server, ServerConfig};
use crate::web_config::WebConfig;
use crate::web_config_reload::ReloadingWebConfig;

/// What the binary knows about itself.
pub struct Program {
    /// The binary's name, which prefixes start-up errors: `node-exporter`.
    pub binary: &'static str,
    /// The upstream program's name, which `--version` shows: `node_exporter`.
    pub upstream_name: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
    /// Landing-page title: `Node Exporter`.
    pub title: &'static str,
    /// Used when `--web.listen-address` is not given: `:9100`.
    pub default_listen: &'static str,
    /// Accept long flags with one dash (`-redis.addr`), as Go's flag package does.
    pub single_dash_long_flags: bool,
}

/// What an exporter's start-up hook hands back.
pub struct Startup {
    pub(crate) web: WebFlags,
    pub(crate) log: LogFlags,
    pub(crate) exporter: Exporter,
    /// A web config the exporter made itself (from upstream's own web flags), used when
    /// `--web.config.file` is not given.
    web_config: Option<ReloadingWebConfig>,
    /// Runs inside the runtime once the listeners are bound: adds endpoints (`/scrape`,
    /// `/probe`), starts background tasks, logs what is monitored.
    on_bound: Box<dyn FnOnce(Server) -> Server>,
}

impl Startup {
    /// The least a start-up hook hands back: the shared flags as parsed, and the exporter to
    /// serve. [`web_config`](Self::web_config) and [`on_bound`](Self::on_bound) add to it.
    pub fn new(runtime: RuntimeFlags, exporter: Exporter) -> Self {
        Startup {
            web: runtime.web,
            log: runtime.log,
            exporter,
            web_config: None,
            on_bound: Box::new(|server| server),
        }
    }

    /// Serves with `config` (see [`ReloadingWebConfig::from_text`]); giving
    /// `--web.config.file` as well is a start-up error.
    pub fn web_config(mut self, config: ReloadingWebConfig) -> Self {
        self.web_config = Some(config);
        self
    }

    /// See [`Startup::on_bound`'s field](Startup).
    pub fn on_bound(mut self, hook: impl FnOnce(Server) -> Server + 'static) -> Self {
        self.on_bound = Box::new(hook);
        self
    }
}

/// The whole `main` of an exporter: parses `F` (plus `--version`, and whatever `customize` adds
/// to the command, such as collector switches), then calls `start` and serves what it returns
/// until SIGTERM/SIGINT. Bad flags exit 2 with clap's message; a start-up error is printed as
/// `<binary>: <error>` and exits 1.
pub fn main<F: Args + FromArgMatches>(
    program: Program,
    customize: impl FnOnce(Command) -> Command,
    start: impl FnOnce(F, &ArgMatches) -> Result<Startup, String>,
) -> ExitCode {
    let cmd = command::<F>(&program, customize);
    let args = std::env::args_os();
    let args = if program.single_dash_long_flags {
        crate::flags::go_style_args(&cmd, args)
    } else {
        args.collect()
    };
    let matches = cmd.get_matches_from(args);
    if matches.get_flag("version") {
        println!("{}", version_text(program.upstream_name));
        return ExitCode::SUCCESS;
    }
    let flags = F::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match start(flags, &matches).and_then(|startup| serve(&program, startup)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: {e}", program.binary);
            ExitCode::FAILURE
        }
    }
}

/// The command line of `program`: its flags `F`, `--version`, and `customize`'s additions.
/// The about text is set last: clap's derive makes a `///` comment on any flattened flag struct
/// the command's about, and `--help` must open with the program's own description.
pub fn command<F: Args>(program: &Program, customize: impl FnOnce(Command) -> Command) -> Command {
    let cmd = Command::new(program.binary).disable_version_flag(true).arg(
        Arg::new("version")
            .long("version")
            .action(ArgAction::SetTrue)
            .help("Show application version."),
    );
    customize(F::augment_args(cmd))
        .about(program.about)
        .long_about(None)
}

/// Validates the web config, starts the runtime, binds and serves until SIGTERM/SIGINT.
fn serve(program: &Program, startup: Startup) -> Result<(), String> {
    let Startup {
        web,
        log,
        exporter,
        web_config,
        on_bound,
    } = startup;
    crate::log::init(log.level, log.format);
    let web_config = match (&web.config_file, web_config) {
        (Some(_), Some(_)) => {
            return Err(
                "--web.config.file and the exporter's own web flags both configure the web \
                 server: use one"
                    .into(),
            )
        }
        (Some(file), None) => ReloadingWebConfig::load(file).map_err(|e| e.to_string())?,
        (None, Some(config)) => config,
        (None, None) => WebConfig::default().into(),
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
        let server = on_bound(Server::bind(config, Arc::clone(&exporter)).await?);
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

/// Parses `args` (the program name first) as `program` would; for the exporters' flag tests.
pub fn parse_args<F: Args + FromArgMatches>(
    program: &Program,
    customize: impl FnOnce(Command) -> Command,
    args: &[&str],
) -> Result<(F, ArgMatches), clap::Error> {
    let cmd = command::<F>(program, customize);
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    let args = if program.single_dash_long_flags {
        crate::flags::go_style_args(&cmd, args.into_iter())
    } else {
        args
    };
    let matches = cmd.try_get_matches_from(args)?;
    Ok((F::from_arg_matches(&matches)?, matches))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flag struct whose doc comment clap's derive would take as the command's about.
    ///
    /// With a second paragraph, which it would take as the long about.
    #[derive(Debug, Args)]
    struct DocumentedFlags {
        /// A flag.
        #[arg(long)]
        flag: bool,
    }

    #[test]
    fn help_opens_with_the_program_about_not_a_flag_struct_doc() {
        let program = Program {
            binary: "x",
            upstream_name: "x",
            about: "The program's own description.",
            title: "X",
            default_listen: ":1",
            single_dash_long_flags: false,
        };
        let help = command::<DocumentedFlags>(&program, |c| c)
            .render_long_help()
            .to_string();
        assert!(
            help.starts_with("The program's own description.\n"),
            "{help}"
        );
        assert!(!help.contains("clap's derive"), "{help}");
    }
}
