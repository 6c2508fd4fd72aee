//! Scraping one Redis instance: a kept connection, a pipelined batch of commands per scrape, the
//! parsers applied to the replies, and the exporter's own per-target metrics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use exporter_core::{BoxFuture, CollectResult, Collector, MetricFamily};
use tokio::sync::Mutex;

use crate::conn::{cmd, Cmd, ConnError, Connection, TlsSettings};
use crate::info::{cluster_info_metrics, command_usecs, info_metrics, parse_info, InfoContext};
use crate::keys::{is_glob, DbKey};
use crate::metrics::Out;
use crate::replies;
use crate::resp::Reply;
use crate::target::{Endpoint, Secret, Target};
use crate::tile38::{parse_tile38_stats, tile38_metrics};

/// Everything a scrape needs besides the target; shared by every target of one exporter.
pub struct ScrapeOptions {
    pub namespace: String,
    /// `--redis.user`, for targets whose address names no user.
    pub user: Option<String>,
    pub check_keys: Vec<DbKey>,
    pub check_single_keys: Vec<DbKey>,
    pub check_streams: Vec<DbKey>,
    pub check_single_streams: Vec<DbKey>,
    pub count_keys: Vec<DbKey>,
    /// SCAN's COUNT hint.
    pub scan_batch: u32,
    /// Lua scripts (`--script`), sent with EVAL on every scrape.
    pub scripts: Vec<Vec<u8>>,
    pub include_system_metrics: bool,
    pub ping_on_connect: bool,
    pub is_cluster: bool,
    pub export_client_list: bool,
    /// `--export-client-port`: a `port` label on `connected_clients_details`.
    pub export_client_port: bool,
    pub set_client_name: bool,
    /// `--is-tile38`: `SERVER EXT` in the main batch, its statistics as `tile38_*`.
    pub is_tile38: bool,
    /// `--config-command`: the name CONFIG is renamed to on the server; `None` (`-`) skips it.
    pub config_command: Option<String>,
    /// `--streams-exclude-consumer-metrics`: no `stream_group_consumer_*` series.
    pub streams_exclude_consumer_metrics: bool,
    /// `--disable-exporting-key-values`: `key_size` only, no `key_value(_as_string)`.
    pub disable_exporting_key_values: bool,
    /// `--skip-checkkeys-for-role-master`: no key checks on masters (they run on replicas).
    pub skip_checkkeys_for_role_master: bool,
    /// `--include-metrics-for-empty-databases`: zero `db_keys` for databases without keys.
    pub include_metrics_for_empty_databases: bool,
    /// `--exclude-latency-histogram-metrics`: no LATENCY HISTOGRAM (Redis 7's per-command
    /// latency histograms, some thousand samples on a busy server).
    pub exclude_latency_histogram_metrics: bool,
    /// `--include-config-metrics`: every CONFIG setting as `config_key_value` / `config_value`
    /// (secrets never: see `replies::config_setting_metrics`).
    pub include_config_metrics: bool,
    /// `--connection-timeout`: bounds connecting and every scrape.
    pub connection_timeout: Duration,
    pub tls: TlsSettings,
    /// `<ns>_target_scrape_request_errors_total`: bad `/scrape` requests.
    pub request_errors: Arc<AtomicU64>,
}

/// Most SCAN calls for one pattern: with COUNT 1000, ten million keys.
const MAX_SCAN_CALLS: usize = 10_000;

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

#[derive(Default)]
struct Progress {
    up: bool,
    connect_seconds: f64,
    ping_seconds: Option<f64>,
    /// Problems that did not stop the scrape (a failing script, a key check over time).
    problems: Vec<String>,
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
            self.self_metrics(&mut out, &progress, start, None, error);
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
        for p in &progress.problems {
            tracing::warn!(addr = %self.target, problem = %p, "scrape problem");
        }
        let error_label = scrape_error_label(
            error.as_deref(),
            &progress.problems,
            self.target.password.as_ref(),
        );
        self.self_metrics(&mut out, &progress, start, Some(&mut st), error_label);
        out.families
    }

    fn self_metrics(
        &self,
        out: &mut Out<'_>,
        progress: &Progress,
        start: Instant,
        st: Option<&mut State>,
        error: Option<String>,
    ) {
        let took = start.elapsed().as_secs_f64();
        out.gauge(
            "up",
            "Information about the Redis instance",
            &[],
            if progress.up { 1.0 } else { 0.0 },
        );
        // As upstream: 1 with the message in `err` after a failed scrape, 0 with `err=""` after
        // a good one. The message never holds a password (see `scrape_error_label`).
        out.gauge(
            "exporter_last_scrape_error",
            "The last scrape error status.",
            &[("err", error.as_deref().unwrap_or(""))],
            if error.is_some() { 1.0 } else { 0.0 },
        );
        out.gauge(
            "exporter_last_scrape_duration_seconds",
            "exporter_last_scrape_duration_seconds metric",
            &[],
            took,
        );
        out.gauge(
            "exporter_last_scrape_connect_time_seconds",
            "exporter_last_scrape_connect_time_seconds metric",
            &[],
            progress.connect_seconds,
        );
        if let Some(ping) = progress.ping_seconds {
            out.gauge(
                "exporter_last_scrape_ping_time_seconds",
                "exporter_last_scrape_ping_time_seconds metric",
                &[],
                ping,
            );
        }
        if progress.up {
            out.gauge(
                "last_key_groups_scrape_duration_milliseconds",
                "Duration of the last key group metrics scrape in milliseconds",
                &[],
                0.0,
            );
        }
        let (scrapes, sum) = match st {
            Some(st) => {
                st.scrapes += 1;
                st.duration_sum += took;
                (st.scrapes, st.duration_sum)
            }
            None => (0, 0.0),
        };
        if scrapes > 0 {
            out.summary(
                "exporter_scrape_duration_seconds",
                "Durations of scrapes by the exporter",
                &[],
                &[],
                sum,
                scrapes as f64,
            );
        }
        out.counter(
            "exporter_scrapes_total",
            "Current total redis scrapes.",
            &[],
            scrapes as f64,
        );
        out.counter(
            "target_scrape_request_errors_total",
            "Errors in requests to the exporter",
            &[],
            self.opts.request_errors.load(Ordering::Relaxed) as f64,
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
        let mut conn = Connection::open(target, &self.opts.tls).await?;
        let user = target.user.as_ref().or(self.opts.user.as_ref());
        let mut cmds: Vec<Cmd> = Vec::new();
        let auth = target.password.as_ref().filter(|p| !p.is_empty());
        if let Some(pass) = auth {
            cmds.push(auth_cmd(user.map(String::as_str), pass));
        }
        if self.opts.set_client_name {
            cmds.push(cmd(&["CLIENT", "SETNAME", "redis_exporter"]));
        }
        if cmds.is_empty() {
            return Ok(conn);
        }
        let replies = conn.pipeline(&cmds).await?;
        if auth.is_some() {
            if let Some(e) = replies[0].error() {
                return Err(ScrapeError::Auth(e.to_string()));
            }
        }
        if let Some(e) = replies.last().and_then(Reply::error) {
            if self.opts.set_client_name {
                tracing::debug!(addr = %target, err = %e, "CLIENT SETNAME refused");
            }
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

    /// Expands patterns with SCAN, then asks each key's type and size in two round trips per
    /// database (three for HyperLogLogs).
    async fn check_keys(
        &self,
        conn: &mut Connection,
        nodes: &mut Vec<(String, Connection)>,
        out: &mut Out<'_>,
    ) -> Result<(), String> {
        let keys = expand(
            conn,
            &self.opts.check_single_keys,
            &self.opts.check_keys,
            self.opts.scan_batch,
        )
        .await?;
        for (db, keys) in group_by_db(keys) {
            let mut outcomes = inspect_keys(conn, db, &keys).await?;
            // On a cluster, keys of other nodes' slots come back as MOVED: ask those nodes.
            let mut moved: Vec<(String, Vec<usize>)> = Vec::new();
            for (i, o) in outcomes.iter().enumerate() {
                if let KeyOutcome::Moved(addr) = o {
                    match moved.iter_mut().find(|(a, _)| a == addr) {
                        Some((_, idx)) => idx.push(i),
                        None => moved.push((addr.clone(), vec![i])),
                    }
                }
            }
            for (addr, idx) in moved {
                if !self.opts.is_cluster {
                    tracing::debug!(node = %addr, "key check: key lives on another cluster node (use --is-cluster)");
                    continue;
                }
                let subset: Vec<Vec<u8>> = idx.iter().map(|&i| keys[i].clone()).collect();
                match self.on_node(nodes, &addr, db, &subset).await {
                    Ok(found) => {
                        for (&i, o) in idx.iter().zip(found) {
                            outcomes[i] = o;
                        }
                    }
                    Err(e) => {
                        nodes.retain(|(a, _)| a != &addr);
                        tracing::warn!(node = %addr, err = %e, "key check on cluster node failed");
                    }
                }
            }
            let db_label = format!("db{db}");
            for (key, outcome) in keys.iter().zip(&outcomes) {
                let key_label = String::from_utf8_lossy(key);
                let labels = [("db", db_label.as_str()), ("key", key_label.as_ref())];
                match outcome {
                    // Upstream's convention: a missing key has size 0.
                    KeyOutcome::Missing => {
                        out.gauge("key_size", "The length or size of \"key\"", &labels, 0.0)
                    }
                    KeyOutcome::Sized { size, value } => {
                        out.gauge("key_size", "The length or size of \"key\"", &labels, *size);
                        // Binary values (HyperLogLogs...) cannot be label values.
                        let text = value
                            .as_deref()
                            .filter(|_| !self.opts.disable_exporting_key_values)
                            .and_then(|v| std::str::from_utf8(v).ok());
                        if let Some(text) = text {
                            if let Ok(v) = text.trim().parse::<f64>() {
                                out.gauge("key_value", "The value of \"key\"", &labels, v);
                            } else if !text.is_empty() {
                                out.gauge(
                                    "key_value_as_string",
                                    "The value of \"key\" as a string",
                                    &[labels[0], labels[1], ("val", text)],
                                    1.0,
                                );
                            }
                        }
                    }
                    KeyOutcome::Unsupported(what) => {
                        tracing::debug!(key = %key_label, %what, "key check skipped")
                    }
                    KeyOutcome::Moved(node) => {
                        tracing::debug!(key = %key_label, %node, "key check: key on another node")
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs a key inspection on another cluster node, over a connection kept for it.
    async fn on_node(
        &self,
        nodes: &mut Vec<(String, Connection)>,
        addr: &str,
        db: u32,
        keys: &[Vec<u8>],
    ) -> Result<Vec<KeyOutcome>, String> {
        if !nodes.iter().any(|(a, _)| a == addr) {
            let (host, port) = addr
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse::<u16>().ok()?)))
                .ok_or_else(|| format!("invalid node address {addr:?}"))?;
            let target = Target {
                endpoint: Endpoint::Tcp {
                    host: host.to_string(),
                    port,
                    tls: self.target.uses_tls(),
                },
                user: self.target.user.clone(),
                password: self.target.password.clone(),
            };
            let conn = self.connect_to(&target).await.map_err(|e| e.to_string())?;
            nodes.push((addr.to_string(), conn));
        }
        let conn = nodes
            .iter_mut()
            .find(|(a, _)| a == addr)
            .map(|(_, c)| c)
            .ok_or("node connection lost")?;
        inspect_keys(conn, db, keys).await
    }

    async fn check_streams(&self, conn: &mut Connection, out: &mut Out<'_>) -> Result<(), String> {
        let streams = expand(
            conn,
            &self.opts.check_single_streams,
            &self.opts.check_streams,
            self.opts.scan_batch,
        )
        .await?;
        for (db, keys) in group_by_db(streams) {
            let db_label = format!("db{db}");
            let mut cmds = vec![cmd(&["SELECT".as_bytes(), db.to_string().as_bytes()])];
            for k in &keys {
                cmds.push(cmd(&[b"XINFO".as_slice(), b"STREAM", k]));
                cmds.push(cmd(&[b"XINFO".as_slice(), b"GROUPS", k]));
            }
            let replies = conn.pipeline(&cmds).await.map_err(|e| e.to_string())?;
            if let Some(e) = replies[0].error() {
                return Err(format!("SELECT {db}: {e}"));
            }
            let mut consumer_cmds = Vec::new();
            let mut consumer_keys = Vec::new();
            for (i, k) in keys.iter().enumerate() {
                let (info, groups) = (&replies[1 + 2 * i], &replies[2 + 2 * i]);
                let name = String::from_utf8_lossy(k);
                if let Some(e) = info.error() {
                    tracing::debug!(stream = %name, err = %e, "XINFO STREAM failed");
                    continue;
                }
                replies::stream_metrics(&db_label, &name, info, groups, out);
                if self.opts.streams_exclude_consumer_metrics {
                    continue;
                }
                for g in replies::group_names(groups) {
                    consumer_cmds.push(cmd(&[b"XINFO".as_slice(), b"CONSUMERS", k, g.as_bytes()]));
                    consumer_keys.push((name.to_string(), g));
                }
            }
            if !consumer_cmds.is_empty() {
                let replies = conn
                    .pipeline(&consumer_cmds)
                    .await
                    .map_err(|e| e.to_string())?;
                for ((stream, group), r) in consumer_keys.iter().zip(&replies) {
                    replies::consumer_metrics(&db_label, stream, group, r, out);
                }
            }
        }
        Ok(())
    }
}

/// What a key check found for one key.
#[derive(Debug, Clone)]
enum KeyOutcome {
    Missing,
    Sized {
        size: f64,
        value: Option<Vec<u8>>,
    },
    Unsupported(String),
    /// `MOVED <slot> <host:port>` (or `ASK`): the key lives on another cluster node.
    Moved(String),
}

/// Type, size and (strings) value of `keys` in `db`: two round trips, three with HyperLogLogs.
async fn inspect_keys(
    conn: &mut Connection,
    db: u32,
    keys: &[Vec<u8>],
) -> Result<Vec<KeyOutcome>, String> {
    let mut cmds = vec![cmd(&["SELECT".as_bytes(), db.to_string().as_bytes()])];
    cmds.extend(keys.iter().map(|k| cmd(&[b"TYPE".as_slice(), k])));
    let replies = conn.pipeline(&cmds).await.map_err(|e| e.to_string())?;
    if let Some(e) = replies[0].error() {
        return Err(format!("SELECT {db}: {e}"));
    }
    let mut outcomes = Vec::with_capacity(keys.len());
    let mut size_cmds: Vec<Cmd> = Vec::new();
    let mut plan: Vec<(usize, usize, bool)> = Vec::new(); // (key, first reply, is string)
    for (i, (key, r)) in keys.iter().zip(&replies[1..]).enumerate() {
        if let Some(e) = r.error() {
            let mut parts = e.split(' ');
            outcomes.push(match (parts.next(), parts.next(), parts.next()) {
                (Some("MOVED" | "ASK"), Some(_slot), Some(node)) => {
                    KeyOutcome::Moved(node.to_string())
                }
                _ => KeyOutcome::Unsupported(e.to_string()),
            });
            continue;
        }
        let t = r.as_text().unwrap_or_default();
        let size_cmd: &[u8] = match t.as_ref() {
            "none" => {
                outcomes.push(KeyOutcome::Missing);
                continue;
            }
            "string" => b"STRLEN",
            "list" => b"LLEN",
            "set" => b"SCARD",
            "zset" => b"ZCARD",
            "hash" => b"HLEN",
            "stream" => b"XLEN",
            other => {
                outcomes.push(KeyOutcome::Unsupported(format!("type {other}")));
                continue;
            }
        };
        let is_string = t == "string";
        plan.push((i, size_cmds.len(), is_string));
        outcomes.push(KeyOutcome::Unsupported("no size".into()));
        size_cmds.push(cmd(&[size_cmd, key]));
        if is_string {
            size_cmds.push(cmd(&[b"GET".as_slice(), key]));
        }
    }
    if size_cmds.is_empty() {
        return Ok(outcomes);
    }
    let sizes = conn.pipeline(&size_cmds).await.map_err(|e| e.to_string())?;
    let mut hll: Vec<usize> = Vec::new();
    for &(i, at, is_string) in &plan {
        let Some(size) = sizes[at].as_int() else {
            continue;
        };
        let value = match (is_string, &sizes.get(at + 1)) {
            (true, Some(Reply::Bulk(Some(v)))) => Some(v.clone()),
            _ => None,
        };
        // A HyperLogLog is a string starting with this magic; its size is its count, and its
        // (binary) value is not exported.
        let is_hll = value.as_deref().is_some_and(|v| v.starts_with(b"HYLL"));
        if is_hll {
            hll.push(i);
        }
        outcomes[i] = KeyOutcome::Sized {
            size: size as f64,
            value: if is_hll { None } else { value },
        };
    }
    if !hll.is_empty() {
        let cmds: Vec<Cmd> = hll
            .iter()
            .map(|&i| cmd(&[b"PFCOUNT".as_slice(), &keys[i]]))
            .collect();
        let counts = conn.pipeline(&cmds).await.map_err(|e| e.to_string())?;
        for (&i, r) in hll.iter().zip(&counts) {
            if let (Some(n), KeyOutcome::Sized { size, .. }) = (r.as_int(), &mut outcomes[i]) {
                *size = n as f64;
            }
        }
    }
    Ok(outcomes)
}

fn auth_cmd(user: Option<&str>, pass: &Secret) -> Cmd {
    match user {
        Some(u) => cmd(&["AUTH", u, pass.expose()]),
        None => cmd(&["AUTH", pass.expose()]),
    }
}

/// The main batch of a scrape, sent as one pipeline; fields are reply positions.
struct MainBatch {
    cmds: Vec<Cmd>,
    info: usize,
    config: Vec<usize>,
    slowlog_len: usize,
    slowlog_get: usize,
    latency: usize,
    latency_histogram: Option<usize>,
    config_all: Option<usize>,
    cluster_info: Option<usize>,
    client_list: Option<usize>,
    scripts: Vec<usize>,
    tile38: Option<usize>,
}

impl MainBatch {
    fn new(opts: &ScrapeOptions, cluster: bool) -> Self {
        let mut cmds = Vec::with_capacity(12);
        let mut push = |c: Cmd| {
            cmds.push(c);
            cmds.len() - 1
        };
        let info = push(cmd(&["INFO", "ALL"]));
        // One parameter per CONFIG GET: several per call need Redis 7. Any of them may be refused
        // (managed Redis disables or renames CONFIG); that only drops its metric.
        let config = match opts.config_command.as_deref() {
            Some(config) => CONFIG_PARAMETERS
                .iter()
                .map(|p| push(cmd(&[config, "GET", p])))
                .collect(),
            None => Vec::new(),
        };
        let slowlog_len = push(cmd(&["SLOWLOG", "LEN"]));
        let slowlog_get = push(cmd(&["SLOWLOG", "GET", "1"]));
        let latency = push(cmd(&["LATENCY", "LATEST"]));
        let latency_histogram =
            (!opts.exclude_latency_histogram_metrics).then(|| push(cmd(&["LATENCY", "HISTOGRAM"])));
        let config_all = match (&opts.config_command, opts.include_config_metrics) {
            (Some(config), true) => Some(push(cmd(&[config.as_str(), "GET", "*"]))),
            _ => None,
        };
        let cluster_info = (cluster || opts.is_cluster).then(|| push(cmd(&["CLUSTER", "INFO"])));
        let client_list = opts
            .export_client_list
            .then(|| push(cmd(&["CLIENT", "LIST"])));
        let scripts = opts
            .scripts
            .iter()
            .map(|s| push(cmd(&[b"EVAL".as_slice(), s, b"0"])))
            .collect();
        let tile38 = opts.is_tile38.then(|| push(cmd(&["SERVER", "EXT"])));
        MainBatch {
            cmds,
            info,
            config,
            slowlog_len,
            slowlog_get,
            latency,
            latency_histogram,
            config_all,
            cluster_info,
            client_list,
            scripts,
            tile38,
        }
    }
}

/// The CONFIG parameters the scrape asks for: the `config_*` families and the database count.
const CONFIG_PARAMETERS: [&str; 5] = [
    "maxmemory",
    "maxclients",
    "io-threads",
    "databases",
    "client-output-buffer-limit",
];

const PREVIOUS_SCRAPE_RUNNING: &str = "the previous scrape of this target is still running";

/// Longest `err` label value: a label is not a log, and Prometheus keeps every distinct value.
const MAX_ERROR_LABEL_CHARS: usize = 300;

/// The `err` label of `exporter_last_scrape_error`: the scrape's error, else the problems that
/// did not stop it (a failing script, a refused CLUSTER INFO), else `None` for a good scrape.
/// The target's password is masked should any server or library message ever echo it.
pub fn scrape_error_label(
    error: Option<&str>,
    problems: &[String],
    password: Option<&Secret>,
) -> Option<String> {
    let mut text = match error {
        Some(e) => e.to_string(),
        None if problems.is_empty() => return None,
        None => problems.join("; "),
    };
    if let Some(p) = password.filter(|p| !p.is_empty()) {
        text = text.replace(p.expose(), "***");
    }
    if let Some((cut, _)) = text.char_indices().nth(MAX_ERROR_LABEL_CHARS) {
        text.truncate(cut);
        text.push_str("...");
    }
    Some(text)
}

/// SCANs `db` for `pattern`: the number of matching keys, and the keys when `collect` is given.
async fn scan(
    conn: &mut Connection,
    db: u32,
    pattern: &str,
    batch: u32,
    mut collect: Option<&mut Vec<Vec<u8>>>,
) -> Result<(usize, bool), String> {
    let select = conn
        .pipeline(&[cmd(&["SELECT".to_string(), db.to_string()])])
        .await
        .map_err(|e| e.to_string())?;
    if let Some(e) = select[0].error() {
        return Err(format!("SELECT {db}: {e}"));
    }
    let mut cursor = b"0".to_vec();
    let mut count = 0;
    let count_arg = batch.to_string();
    for _ in 0..MAX_SCAN_CALLS {
        let r = conn
            .pipeline(&[cmd(&[
                b"SCAN".as_slice(),
                &cursor,
                b"MATCH",
                pattern.as_bytes(),
                b"COUNT",
                count_arg.as_bytes(),
            ])])
            .await
            .map_err(|e| e.to_string())?;
        if let Some(e) = r[0].error() {
            return Err(e.to_string());
        }
        let (Some(Reply::Bulk(Some(next))), Some(keys)) = (
            r[0].as_array().and_then(|a| a.first()),
            r[0].as_array()
                .and_then(|a| a.get(1))
                .and_then(Reply::as_array),
        ) else {
            return Err("unexpected SCAN reply".into());
        };
        count += keys.len();
        if let Some(c) = collect.as_deref_mut() {
            c.extend(keys.iter().filter_map(|k| match k {
                Reply::Bulk(Some(b)) => Some(b.clone()),
                _ => None,
            }));
        }
        if next.as_slice() == b"0" {
            return Ok((count, true));
        }
        cursor = next.clone();
    }
    tracing::warn!(
        pattern,
        "SCAN stopped after {MAX_SCAN_CALLS} calls; the result is partial"
    );
    Ok((count, false))
}

/// Single keys as given, plus every key matching each pattern (plain keys in the pattern list
/// are taken as they are).
async fn expand(
    conn: &mut Connection,
    single: &[DbKey],
    patterns: &[DbKey],
    batch: u32,
) -> Result<Vec<(u32, Vec<u8>)>, String> {
    let mut all: Vec<(u32, Vec<u8>)> = single
        .iter()
        .map(|k| (k.db, k.key.as_bytes().to_vec()))
        .collect();
    for p in patterns {
        if is_glob(&p.key) {
            let mut found = Vec::new();
            scan(conn, p.db, &p.key, batch, Some(&mut found)).await?;
            all.extend(found.into_iter().map(|k| (p.db, k)));
        } else {
            all.push((p.db, p.key.as_bytes().to_vec()));
        }
    }
    Ok(all)
}

fn group_by_db(keys: Vec<(u32, Vec<u8>)>) -> Vec<(u32, Vec<Vec<u8>>)> {
    let mut groups: Vec<(u32, Vec<Vec<u8>>)> = Vec::new();
    for (db, key) in keys {
        match groups.iter_mut().find(|(d, _)| *d == db) {
            Some((_, ks)) => {
                if !ks.contains(&key) {
                    ks.push(key)
                }
            }
            None => groups.push((db, vec![key])),
        }
    }
    groups
}

/// The `--redis.addr` target as a collector of the runtime (`/metrics`).
pub struct RedisCollector {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_label_carries_the_message_but_never_the_password() {
        assert_eq!(scrape_error_label(None, &[], None), None);
        assert_eq!(
            scrape_error_label(
                Some("cannot connect: Connection refused (os error 111)"),
                &["ignored".to_string()],
                None
            )
            .as_deref(),
            Some("cannot connect: Connection refused (os error 111)")
        );
        assert_eq!(
            scrape_error_label(None, &["script: boom".into(), "tile38: x".into()], None).as_deref(),
            Some("script: boom; tile38: x")
        );
        let pw = Secret::new("hunter2");
        let label = scrape_error_label(
            Some("authentication failed: server said hunter2 is wrong"),
            &[],
            Some(&pw),
        )
        .unwrap();
        assert!(!label.contains("hunter2"), "{label}");
        assert!(label.contains("***"), "{label}");
        let long = "é".repeat(1000);
        let label = scrape_error_label(Some(&long), &[], None).unwrap();
        assert_eq!(label.chars().count(), MAX_ERROR_LABEL_CHARS + 3);
    }
}
