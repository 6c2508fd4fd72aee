//! Scraping one Redis instance: a kept connection, one pipelined batch of commands per scrape
//! ([`batch`]), the parsers applied to the replies, then the key checks ([`key_checks`], with
//! [`scan`]), the streams ([`streams`]) and the exporter's own per-target metrics
//! ([`self_metrics`]).

mod batch;
mod key_checks;
mod scan;
mod self_metrics;
mod streams;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use exporter_core::{BoxFuture, CollectResult, Collector, MetricFamily};
use resp::{cmd, ConnError, Connection, Connector, Reply};
use tokio::sync::Mutex;

use crate::info::{cluster_info_metrics, command_usecs, info_metrics, parse_info, InfoContext};
use crate::metrics::Out;
use crate::options::ScrapeOptions;
use crate::replies;
use crate::target::Target;
use crate::tile38::{parse_tile38_stats, tile38_metrics};

use batch::MainBatch;
use scan::scan;
pub use self_metrics::scrape_error_label;
use self_metrics::{self_metrics, Progress, PREVIOUS_SCRAPE_RUNNING};

/// One Redis instance with its connection, kept between scrapes.
pub struct Scraper {
    target: Target,
    opts: Arc<ScrapeOptions>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    conn: Option<Connection>,
    scrapes: u64,
    duration_sum: f64,
    /// The server said `cluster_enabled:1` last time: fetch CLUSTER INFO in the main batch.
    cluster: bool,
    /// The last scrape failed (log a recovery once).
    failing: bool,
    /// Connections to other cluster nodes, for key checks on keys they own.
    nodes: Vec<(String, Connection)>,
}

#[derive(Debug, thiserror::Error)]
enum ScrapeError {
    #[error("{0}")]
    Conn(#[from] ConnError),
    #[error("authentication failed: {0}")]
    Auth(String),
    #[error("INFO failed: {0}")]
    Info(String),
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Scraper {
    /// `target` carries the resolved credentials.
    pub fn new(target: Target, opts: Arc<ScrapeOptions>) -> Self {
        Scraper {
            target,
            opts,
            state: Mutex::new(State::default()),
        }
    }

    /// The instance this scraper scrapes.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Scrapes once within `budget` (further capped by `--connection-timeout`). Always returns
    /// the self-metrics, `<ns>_up` included: a dead or slow Redis is `up 0`, not an error.
    pub async fn scrape(&self, budget: Duration) -> Vec<MetricFamily> {
        let start = Instant::now();
        let budget = budget.min(self.opts.connection_timeout);
        let deadline = tokio::time::Instant::now() + budget;
        let mut out = Out::new(&self.opts.namespace);
        let mut progress = Progress::default();

        let Ok(mut st) = tokio::time::timeout_at(deadline, self.state.lock()).await else {
            tracing::error!(addr = %self.target, "scrape skipped: the previous scrape of this target is still running");
            let error = Some(PREVIOUS_SCRAPE_RUNNING.to_string());
            let took = start.elapsed().as_secs_f64();
            self.self_metrics(&mut out, &progress, took, None, error);
            return out.families;
        };
        let outcome = tokio::time::timeout_at(
            deadline,
            self.scrape_inner(&mut st, &mut out, &mut progress),
        )
        .await;
        let error = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("timed out after {:.3}s", budget.as_secs_f64())),
        };
        if let Some(e) = &error {
            // The connection is in an unknown state (replies may still be in flight): start over.
            st.conn = None;
            if progress.up {
                tracing::warn!(addr = %self.target, err = %e, "scrape incomplete");
            } else {
                tracing::error!(addr = %self.target, err = %e, "cannot scrape Redis");
            }
            st.failing = true;
        } else if st.failing {
            tracing::info!(addr = %self.target, "scraping Redis again");
            st.failing = false;
        }
        // Kept connections wait idle until the next scrape: without their read buffers, one per
        // target costs a socket, not ~40 KB of resident buffer (`/scrape?target=` keeps up to
        // 1,024 of them).
        if let Some(conn) = st.conn.as_mut() {
            conn.release_buffers();
        }
        for (_, conn) in &mut st.nodes {
            conn.release_buffers();
        }
        for p in &progress.problems {
            tracing::warn!(addr = %self.target, problem = %p, "scrape problem");
        }
        let error_label = scrape_error_label(
            error.as_deref(),
            &progress.problems,
            self.target.password.as_ref(),
        );
        let took = start.elapsed().as_secs_f64();
        st.scrapes += 1;
        st.duration_sum += took;
        let totals = Some((st.scrapes, st.duration_sum));
        self.self_metrics(&mut out, &progress, took, totals, error_label);
        out.families
    }

    fn self_metrics(
        &self,
        out: &mut Out<'_>,
        progress: &Progress,
        took: f64,
        totals: Option<(u64, f64)>,
        error: Option<String>,
    ) {
        let request_errors = self
            .opts
            .request_errors
            .load(std::sync::atomic::Ordering::Relaxed);
        self_metrics(
            out,
            progress,
            took,
            totals,
            request_errors,
            error.as_deref(),
        );
    }

    async fn scrape_inner(
        &self,
        st: &mut State,
        out: &mut Out<'_>,
        progress: &mut Progress,
    ) -> Result<(), ScrapeError> {
        // A kept connection may have died since the last scrape (Redis restarted): then one fresh
        // connection gets a second chance before the scrape counts as failed.
        for attempt in 0..2 {
            let fresh = st.conn.is_none();
            if fresh {
                let t0 = Instant::now();
                let result = self.connect().await;
                progress.connect_seconds = t0.elapsed().as_secs_f64();
                st.conn = Some(result?);
            }
            let Some(conn) = st.conn.as_mut() else {
                continue;
            };
            if self.opts.ping_on_connect {
                let t0 = Instant::now();
                match conn.pipeline(&[cmd(&["PING"])]).await {
                    Ok(r) if r[0].error().is_none() => {
                        progress.ping_seconds = Some(t0.elapsed().as_secs_f64())
                    }
                    Ok(r) => progress
                        .problems
                        .push(format!("PING: {}", r[0].error().unwrap_or_default())),
                    Err(e) if !fresh && attempt == 0 && e.is_stale_connection() => {
                        st.conn = None;
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let batch = MainBatch::new(&self.opts, st.cluster);
            match conn.pipeline(&batch.cmds).await {
                Ok(replies) => {
                    return self.process(st, replies, batch, out, progress).await;
                }
                Err(e) if !fresh && attempt == 0 && e.is_stale_connection() => {
                    tracing::debug!(addr = %self.target, err = %e, "kept connection went stale; reconnecting");
                    st.conn = None;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ScrapeError::Conn(ConnError::Closed))
    }

    /// Opens the transport and logs in (AUTH, CLIENT SETNAME) in one round trip.
    async fn connect(&self) -> Result<Connection, ScrapeError> {
        self.connect_to(&self.target).await
    }

    async fn connect_to(&self, target: &Target) -> Result<Connection, ScrapeError> {
        let connector = connector_for(target, &self.opts);
        let set_name = [cmd(&["CLIENT", "SETNAME", "redis_exporter"])];
        let first: &[resp::Cmd] = if self.opts.set_client_name {
            &set_name
        } else {
            &[]
        };
        let (conn, replies) = connector.connect_with(first).await?;
        if let Some(e) = replies.first().and_then(Reply::error) {
            tracing::debug!(addr = %target, err = %e, "CLIENT SETNAME refused");
        }
        Ok(conn)
    }

    async fn process(
        &self,
        st: &mut State,
        replies: Vec<Reply>,
        batch: MainBatch,
        out: &mut Out<'_>,
        progress: &mut Progress,
    ) -> Result<(), ScrapeError> {
        let State { conn, nodes, .. } = st;
        let conn = conn.as_mut().ok_or(ConnError::Closed)?;
        let mut info_reply = replies[batch.info].clone();
        if let Some(e) = info_reply.error() {
            if e.starts_with("NOAUTH") {
                return Err(ScrapeError::Auth(format!(
                    "{e} (set --redis.password or an entry in --redis.password-file)"
                )));
            }
            // Servers that refuse INFO ALL (old or restricted ones) may still answer plain INFO.
            info_reply = conn
                .pipeline(&[cmd(&["INFO"])])
                .await?
                .pop()
                .unwrap_or(Reply::Bulk(None));
            if let Some(e) = info_reply.error() {
                return Err(ScrapeError::Info(e.to_string()));
            }
        }
        let info_text = info_reply
            .as_text()
            .ok_or_else(|| ScrapeError::Info("INFO returned no text".into()))?;
        let info = parse_info(&info_text).map_err(|e| ScrapeError::Info(e.to_string()))?;

        let config: Vec<&Reply> = batch.config.iter().map(|&i| &replies[i]).collect();
        let databases = replies::config_metrics(&config, out);
        let cluster = info.get("cluster_enabled") == Some("1");
        st.cluster = cluster;
        if cluster {
            let cluster_info = match batch.cluster_info {
                Some(i) => replies[i].clone(),
                None => conn
                    .pipeline(&[cmd(&["CLUSTER", "INFO"])])
                    .await?
                    .pop()
                    .unwrap_or(Reply::Bulk(None)),
            };
            match (cluster_info.error(), cluster_info.as_text()) {
                (None, Some(text)) => cluster_info_metrics(&text, out),
                (e, _) => progress
                    .problems
                    .push(format!("CLUSTER INFO: {}", e.unwrap_or("no reply"))),
            }
        }
        let now = now_unix();
        info_metrics(
            &info,
            &InfoContext {
                include_system_metrics: self.opts.include_system_metrics,
                db_count: if cluster { 1 } else { databases.unwrap_or(16) },
                include_empty_databases: self.opts.include_metrics_for_empty_databases,
                now_unix: now,
            },
            out,
        );
        replies::slowlog_metrics(
            &replies[batch.slowlog_len],
            &replies[batch.slowlog_get],
            out,
        );
        replies::latency_metrics(&replies[batch.latency], out);
        // Redis < 7 has no LATENCY HISTOGRAM: its error reply gives no series and is no problem.
        if let Some(i) = batch.latency_histogram {
            replies::latency_histogram_metrics(&replies[i], &command_usecs(&info), out);
        }
        if let Some(i) = batch.config_all {
            replies::config_setting_metrics(&replies[i], out);
        }
        if let Some(i) = batch.client_list {
            match (replies[i].error(), replies[i].as_text()) {
                (None, Some(text)) => replies::client_list_metrics(
                    &text,
                    now as i64,
                    self.opts.export_client_port,
                    out,
                ),
                (e, _) => progress
                    .problems
                    .push(format!("CLIENT LIST: {}", e.unwrap_or("no reply"))),
            }
        }
        for &i in &batch.scripts {
            if let Err(e) = replies::script_metrics(&replies[i], out) {
                progress.problems.push(format!("script: {e}"));
            }
        }
        if let Some(i) = batch.tile38 {
            match parse_tile38_stats(&replies[i]) {
                Ok(stats) => tile38_metrics(&stats, out),
                Err(e) => progress.problems.push(format!("tile38: {e}")),
            }
        }
        progress.up = true;

        let skip_key_checks =
            self.opts.skip_checkkeys_for_role_master && info.get("role") == Some("master");
        let wants_key_checks =
            !self.opts.check_keys.is_empty() || !self.opts.check_single_keys.is_empty();
        if wants_key_checks && !skip_key_checks {
            if let Err(e) = self.check_keys(conn, nodes, out).await {
                progress.problems.push(format!("check-keys: {e}"));
            }
        }
        if !self.opts.check_streams.is_empty() || !self.opts.check_single_streams.is_empty() {
            if let Err(e) = self.check_streams(conn, out).await {
                progress.problems.push(format!("check-streams: {e}"));
            }
        }
        for k in &self.opts.count_keys {
            match scan(conn, k.db, &k.key, self.opts.scan_batch, None).await {
                Ok((n, _)) => {
                    let db = format!("db{}", k.db);
                    out.gauge(
                        "keys_count",
                        "Count of keys",
                        &[("db", &db), ("key", &k.key)],
                        n as f64,
                    );
                }
                Err(e) => progress.problems.push(format!("count-keys {}: {e}", k.key)),
            }
        }
        Ok(())
    }
}

/// How to reach `target`: its address, TLS when its scheme asks for it, its credentials (the
/// user falling back to `--redis.user`) and `--connection-timeout`.
pub(crate) fn connector_for(target: &Target, opts: &ScrapeOptions) -> Connector {
    let connector = Connector::new(target.address())
        .login(
            target.user.clone().or_else(|| opts.user.clone()),
            target.password.clone(),
        )
        .timeout(opts.connection_timeout);
    if target.uses_tls() {
        connector.tls(opts.tls.clone())
    } else {
        connector
    }
}

/// The `--redis.addr` target as a collector of the runtime (`/metrics`).
pub struct RedisCollector {
    /// The target's scraper (and kept connection).
    pub scraper: Arc<Scraper>,
    /// The runtime does not tell collectors the scrape deadline; this cap keeps a hung Redis
    /// within Prometheus' default 10 s scrape timeout so `up 0` still gets out.
    pub budget: Duration,
}

impl Collector for RedisCollector {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn collect(&self) -> BoxFuture<'_, CollectResult> {
        // Leave a little of Prometheus' announced timeout for the runtime to encode the answer,
        // so `redis_up 0` gets out even when Redis hangs.
        let budget = exporter_core::scrape_deadline()
            .map(|d| d.saturating_duration_since(tokio::time::Instant::now()))
            .map_or(self.budget, |left| self.budget.min(left.mul_f64(0.9)));
        Box::pin(async move { Ok(self.scraper.scrape(budget).await) })
    }
}
