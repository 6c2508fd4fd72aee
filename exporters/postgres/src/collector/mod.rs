//! The collector table and how every collector runs.
//!
//! A collector is one file plus one row of [`COLLECTORS`]: its name, whether it is on by
//! default and its help (the binary turns them into `--collector.<name>` /
//! `--no-collector.<name>`). Most collectors are only SQL plus a column table, a
//! [`DeclarativeCollector`](declarative::DeclarativeCollector) that [`declarative`] interprets;
//! the few with logic of their own (caching, histograms, version-dependent column sets)
//! implement [`PgCollector`] by hand. Every collector runs once per scrape against every
//! configured server; one that fails reports `pg_scrape_collector_success{collector} 0` and the
//! rest of the scrape is unaffected.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use exporter_core::collector_table::CollectorTable;
use exporter_core::{BoxFuture, CollectError, CollectResult, Collector, MetricFamily};
use futures_util::stream::{self, StreamExt};

use crate::connection::{Connection, QueryError, Session};
use crate::instance::Instance;
use crate::value::{cells, Cell};

pub(crate) mod bgwriter;
pub(crate) mod database;
pub(crate) mod database_wraparound;
pub(crate) mod declarative;
pub(crate) mod locks;
pub(crate) mod long_running_transactions;
pub(crate) mod postmaster;
pub(crate) mod process_idle;
pub(crate) mod replication;
pub(crate) mod replication_slots;
pub(crate) mod roles;
pub(crate) mod settings;
pub(crate) mod stat_activity;
pub(crate) mod stat_activity_autovacuum;
pub(crate) mod stat_archiver;
pub(crate) mod stat_database;
pub(crate) mod stat_replication;
pub(crate) mod stat_statements;
pub(crate) mod stat_user_tables;
pub(crate) mod stat_wal_receiver;
pub(crate) mod statio_user_indexes;
pub(crate) mod statio_user_tables;
pub(crate) mod table_sizes;
pub(crate) mod user_tables;
pub(crate) mod wal;
pub(crate) mod xlog_location;

/// What a collector's `collect` returns.
pub(crate) type PgFuture<'a> = BoxFuture<'a, CollectResult>;

/// A collector of this exporter: gathers its families from one server.
pub(crate) trait PgCollector: Send + Sync + 'static {
    /// The families of `inst` for this scrape.
    fn collect<'a>(&'a self, inst: &'a Instance) -> PgFuture<'a>;
}

/// Options some collectors take.
#[derive(Debug, Clone)]
pub(crate) struct CollectorConfig {
    /// `--collector.stat_statements.limit`: how many of the most expensive statements to report.
    pub(crate) stat_statements_limit: u32,
    /// `--collector.stat_user_tables.size-interval`: how often table and index sizes are re-read.
    pub(crate) table_size_interval: std::time::Duration,
}

/// The default of `--collector.stat_user_tables.size-interval`: Prometheus' default scrape
/// interval is a minute, so anything shorter would re-read the sizes on nearly every scrape;
/// five minutes is finer than the hours over which disk growth is judged.
pub(crate) const DEFAULT_TABLE_SIZE_INTERVAL: std::time::Duration =
    std::time::Duration::from_secs(300);

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            stat_statements_limit: 100,
            table_size_interval: DEFAULT_TABLE_SIZE_INTERVAL,
        }
    }
}

/// What building the collectors of one exporter may use: the options, and the catalog pass
/// the two per-table collectors share.
pub(crate) struct Build {
    pub(crate) config: CollectorConfig,
    pub(crate) user_tables: Arc<user_tables::UserTables>,
}

impl Build {
    /// Nothing shared yet; each collector built turns on what it reads.
    pub(crate) fn new(config: CollectorConfig) -> Self {
        Build {
            config,
            user_tables: Arc::default(),
        }
    }
}

/// What this exporter keeps per row of its collector table.
pub(crate) struct PgBuild {
    /// The metric namespace; a user query (`--extend.query-path`) with this name replaces the
    /// collector, as a user map replaces a built-in one upstream.
    pub(crate) namespace: &'static str,
    /// One of upstream's built-in metric maps: off with `--disable-default-metrics`.
    pub(crate) builtin_map: bool,
    /// Makes the collector from the options and what it shares with others.
    pub(crate) new: fn(&Build) -> Arc<dyn PgCollector>,
}

/// One row of the collector table.
pub(crate) type CollectorSpec = exporter_core::collector_table::CollectorSpec<PgBuild>;

/// A row of [`COLLECTORS`]: name, on by default, namespace, built-in map, help, then the
/// collector: `declarative <const>`, `shared <new>` (a type built from [`Build`]), `default
/// <type>` (a type that takes no options) or a hand-written type's `new` taking the options.
macro_rules! row {
    ($name:literal, $default:expr, $ns:literal, $builtin:expr, $help:literal, declarative $c:expr) => {
        row!(@ $name, $default, $ns, $builtin, $help, |_: &Build| Arc::new($c))
    };
    ($name:literal, $default:expr, $ns:literal, $builtin:expr, $help:literal, default $t:ty) => {
        row!(@ $name, $default, $ns, $builtin, $help, |_: &Build| Arc::new(<$t>::default()))
    };
    ($name:literal, $default:expr, $ns:literal, $builtin:expr, $help:literal, shared $new:expr) => {
        row!(@ $name, $default, $ns, $builtin, $help, |build: &Build| Arc::new($new(build)))
    };
    ($name:literal, $default:expr, $ns:literal, $builtin:expr, $help:literal, $new:expr) => {
        row!(@ $name, $default, $ns, $builtin, $help, |build: &Build| Arc::new($new(&build.config)))
    };
    (@ $name:literal, $default:expr, $ns:literal, $builtin:expr, $help:literal, $build:expr) => {
        CollectorSpec {
            name: $name,
            default_enabled: $default,
            help: $help,
            build: PgBuild {
                namespace: $ns,
                builtin_map: $builtin,
                new: $build,
            },
        }
    };
}

/// Every collector, sorted by name.
pub(crate) const COLLECTORS: CollectorTable<PgBuild> = CollectorTable::new(ROWS);

#[rustfmt::skip]
static ROWS: &[CollectorSpec] = &[
    row!("bgwriter", true, "pg_stat_bgwriter", false, "pg_stat_bgwriter_*_total (pg_stat_checkpointer on 17+).", declarative bgwriter::COLLECTOR),
    row!("database", true, "pg_database", false, "pg_database_size_bytes and pg_database_connection_limit per database.", default database::Database),
    row!("database_wraparound", false, "pg_database_wraparound", false, "pg_database_wraparound_age_datfrozenxid_seconds and _age_datminmxid_seconds per database.", declarative database_wraparound::COLLECTOR),
    row!("locks", true, "pg_locks", true, "pg_locks_count per database and lock mode, zero-filled.", declarative locks::COLLECTOR),
    row!("long_running_transactions", false, "pg_long_running_transactions", false, "Count and age of the oldest open transactions.", declarative long_running_transactions::COLLECTOR),
    row!("postmaster", true, "pg_postmaster", false, "pg_postmaster_start_time_seconds.", declarative postmaster::COLLECTOR),
    row!("process_idle", false, "pg_process_idle", false, "pg_process_idle_seconds histogram per idle state and application.", default process_idle::ProcessIdle),
    row!("replication", true, "pg_replication", false, "pg_replication_lag_seconds, pg_replication_is_replica, pg_replication_last_replay_seconds.", declarative replication::COLLECTOR),
    row!("replication_slots", true, "pg_replication_slots", true, "pg_replication_slots_* (and 0.16-0.19's pg_replication_slot_*) per slot.", declarative replication_slots::COLLECTOR),
    row!("roles", true, "pg_roles", false, "pg_roles_connection_limit per role.", declarative roles::COLLECTOR),
    row!("settings", true, "pg_settings", false, "pg_settings_* for every bool, integer and real setting, in one query.", default settings::Settings),
    row!("stat_activity", true, "pg_stat_activity", true, "pg_stat_activity_count and _max_tx_duration per database and state, zero-filled.", declarative stat_activity::COLLECTOR),
    row!("stat_activity_autovacuum", false, "pg_stat_activity_autovacuum", false, "pg_stat_activity_autovacuum_timestamp_seconds per running autovacuum worker.", declarative stat_activity_autovacuum::COLLECTOR),
    row!("stat_archiver", true, "pg_stat_archiver", true, "pg_stat_archiver_* WAL archiving counters.", declarative stat_archiver::COLLECTOR),
    row!("stat_database", true, "pg_stat_database", true, "pg_stat_database_* and pg_stat_database_conflicts_* per database, in one query.", default stat_database::StatDatabase),
    row!("stat_replication", true, "pg_stat_replication", true, "pg_stat_replication_* per connected standby.", declarative stat_replication::COLLECTOR),
    row!("stat_statements", false, "pg_stat_statements", false, "pg_stat_statements_* for the most expensive statements, when the extension exists.", stat_statements::StatStatements::new),
    row!("stat_user_tables", true, "pg_stat_user_tables", false, "pg_stat_user_tables_* per table (per database with auto-discovery).", shared stat_user_tables::StatUserTables::new),
    row!("stat_wal_receiver", false, "pg_stat_wal_receiver", false, "pg_stat_wal_receiver_* on a standby.", declarative stat_wal_receiver::COLLECTOR),
    row!("statio_user_indexes", false, "pg_statio_user_indexes", false, "pg_statio_user_indexes_idx_blks_*_total block I/O per index.", declarative statio_user_indexes::COLLECTOR),
    row!("statio_user_tables", true, "pg_statio_user_tables", false, "pg_statio_user_tables_* block I/O per table.", shared statio_user_tables::StatioUserTables::new),
    row!("wal", true, "pg_wal", false, "pg_wal_segments and pg_wal_size_bytes (pg_ls_waldir).", declarative wal::COLLECTOR),
    row!("xlog_location", false, "pg_xlog_location", false, "pg_xlog_location_bytes, the current WAL position.", declarative xlog_location::COLLECTOR),
];

/// What a collector keeps from one scrape to the next, per server (its `server` label).
pub(crate) struct PerServer<T>(Mutex<HashMap<String, T>>);

impl<T> Default for PerServer<T> {
    /// Nothing kept yet.
    fn default() -> Self {
        PerServer(Mutex::new(HashMap::new()))
    }
}

impl<T: Clone> PerServer<T> {
    /// What was kept for `inst`'s server.
    pub(crate) fn get(&self, inst: &Instance) -> Option<T> {
        self.0.lock().ok()?.get(inst.server()).cloned()
    }

    /// Keeps `value` for `inst`'s server.
    pub(crate) fn set(&self, inst: &Instance, value: T) {
        if let Ok(mut kept) = self.0.lock() {
            kept.insert(inst.server().to_string(), value);
        }
    }
}

/// What the self-metrics report about whole scrapes: each collector records its end, the
/// `exporter` collector turns the previous scrape into `pg_exporter_last_scrape_*`.
#[derive(Default)]
pub(crate) struct ScrapeStats {
    inner: Mutex<StatsInner>,
}

#[derive(Default)]
struct StatsInner {
    scrapes: u64,
    start: Option<Instant>,
    end: Option<Instant>,
    error: bool,
    last_duration: f64,
    last_error: bool,
}

impl ScrapeStats {
    /// Starts a scrape; returns (scrapes so far including this one, last duration, last error).
    pub(crate) fn begin(&self) -> (u64, f64, bool) {
        let Ok(mut s) = self.inner.lock() else {
            return (0, 0.0, false);
        };
        if let (Some(start), Some(end)) = (s.start, s.end) {
            s.last_duration = end.saturating_duration_since(start).as_secs_f64();
            s.last_error = s.error;
        }
        s.scrapes += 1;
        s.start = Some(Instant::now());
        s.end = s.start;
        s.error = false;
        (s.scrapes, s.last_duration, s.last_error)
    }

    /// Records that one collector (or the connection check) finished, `error` if it failed.
    pub(crate) fn finish(&self, error: bool) {
        if let Ok(mut s) = self.inner.lock() {
            s.end = Some(Instant::now());
            s.error |= error;
        }
    }
}

/// A [`PgCollector`] run against every configured server, as the runtime sees it.
pub(crate) struct Running {
    /// The collector's name in the table (or the user query's).
    pub(crate) name: &'static str,
    /// The collector.
    pub(crate) inner: Arc<dyn PgCollector>,
    /// Every configured server.
    pub(crate) instances: Arc<[Arc<Instance>]>,
    /// Where the end of the scrape is recorded.
    pub(crate) stats: Arc<ScrapeStats>,
}

impl Collector for Running {
    fn name(&self) -> &'static str {
        self.name
    }

    fn collect(&self) -> BoxFuture<'_, CollectResult> {
        Box::pin(async move {
            let mut families = Vec::new();
            let mut failure: Option<CollectError> = None;
            let mut any_ok = false;
            for inst in self.instances.iter() {
                match self.inner.collect(inst).await {
                    Ok(f) => {
                        any_ok = true;
                        families.extend(f);
                    }
                    Err(e) => {
                        if self.instances.len() > 1 {
                            tracing::debug!(collector = self.name, server = inst.server(), err = %e, "collector failed for one server");
                        }
                        failure.get_or_insert(e);
                    }
                }
            }
            self.stats
                .finish(matches!(failure, Some(CollectError::Other(_))));
            match failure {
                Some(e) if !any_ok => Err(e),
                _ => Ok(families),
            }
        })
    }
}

/// Decodes every row.
pub(crate) fn decode(rows: &[tokio_postgres::Row]) -> Vec<Vec<Cell>> {
    rows.iter().map(cells).collect()
}

/// The common shape of a collector: one query on the server's own database, one pure mapping.
pub(crate) fn on_main<'a>(
    inst: &'a Instance,
    sql: impl FnOnce(&Session) -> String + Send + 'a,
    map: impl FnOnce(&[Vec<Cell>], &Instance, &Session) -> Vec<MetricFamily> + Send + 'a,
) -> PgFuture<'a> {
    Box::pin(async move {
        let (session, rows) = inst.main.session_query(sql).await?;
        Ok(map(&decode(&rows), inst, &session))
    })
}

/// Per-database collectors: the same query on every database connection of the server.
pub(crate) fn on_each_database<'a>(
    inst: &'a Instance,
    sql: impl Fn(&Session) -> String + Send + Sync + 'a,
    map: impl Fn(&[Vec<Cell>], &Instance, &Session) -> Vec<MetricFamily> + Send + Sync + 'a,
) -> PgFuture<'a> {
    Box::pin(async move {
        let (sql, map) = (&sql, &map);
        each_database(
            inst.database_connections().await?,
            |connection| async move {
                let (session, rows) = connection.session_query(sql).await?;
                Ok(map(&decode(&rows), inst, &session))
            },
        )
        .await
    })
}

/// How many databases a per-database collector queries at once. Each database has its own
/// backend, so their queries run in parallel on the server: with thousands of databases a
/// scrape takes a fraction of the time one at a time would, and opening their connections
/// after a start does too, without opening them all at once.
const DATABASES_AT_ONCE: usize = 4;

/// `per_database` on every connection of `connections` (from `database_connections`),
/// [`DATABASES_AT_ONCE`] at a time; the families in the order of the databases. A database that
/// cannot be reached is skipped (debug log); the first one (the DSN's own) decides success.
pub(crate) async fn each_database<F, Fut>(
    connections: Vec<Arc<Connection>>,
    per_database: F,
) -> CollectResult
where
    F: Fn(Arc<Connection>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<MetricFamily>, QueryError>>,
{
    let outcomes: Vec<_> = stream::iter(connections.clone())
        .map(per_database)
        .buffered(DATABASES_AT_ONCE)
        .collect()
        .await;
    let mut families = Vec::new();
    for (i, (connection, outcome)) in connections.iter().zip(outcomes).enumerate() {
        match outcome {
            Ok(f) => families.extend(f),
            Err(e) if i == 0 => return Err(e.into()),
            Err(e) => {
                tracing::debug!(database = connection.dsn().effective_dbname(), err = %e, "skipping database");
            }
        }
    }
    Ok(families)
}

/// One database of one server: its `server` label and name, for what collectors keep per
/// database.
pub(crate) type DatabaseKey = (String, String);

/// The key of the database `connection` is on.
pub(crate) fn database_key(inst_server: &str, connection: &Connection) -> DatabaseKey {
    (
        inst_server.to_string(),
        connection.dsn().effective_dbname().to_string(),
    )
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;
    use exporter_core::Label;

    pub(crate) fn base() -> Vec<Label> {
        vec![(std::borrow::Cow::Borrowed("server"), "h:5432".into())]
    }

    pub(crate) fn text(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }

    pub(crate) fn num(v: f64) -> Cell {
        Cell::Float(v)
    }

    pub(crate) use exporter_core::testkit::family;

    /// (label pairs, value) of every sample of a family, labels as `k=v` strings.
    pub(crate) fn series(f: &MetricFamily) -> Vec<(Vec<String>, f64)> {
        f.samples
            .iter()
            .map(|s| {
                (
                    s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                    s.value,
                )
            })
            .collect()
    }

    /// Cells 0.0, 1.0, ... for `n` columns, NULL where `null(i)`.
    pub(crate) fn numbers(n: usize, null: impl Fn(usize) -> bool) -> impl Iterator<Item = Cell> {
        (0..n).map(move |i| if null(i) { Cell::Null } else { num(i as f64) })
    }

    /// A row of a per-table view: datname `app`, schemaname `public`, `relname`, then `values`.
    pub(crate) fn table_row(relname: &str, values: impl Iterator<Item = Cell>) -> Vec<Cell> {
        [text("app"), text("public"), text(relname)]
            .into_iter()
            .chain(values)
            .collect()
    }

    /// The first sample of family `name`: (label pairs, value).
    pub(crate) fn first(fams: &[MetricFamily], name: &str) -> (Vec<String>, f64) {
        series(family(fams, name)).swap_remove(0)
    }

    /// The value of the first sample of family `name`.
    pub(crate) fn value(fams: &[MetricFamily], name: &str) -> f64 {
        first(fams, name).1
    }

    /// `k=v` label pairs followed by the server label [`base`] puts on every series.
    pub(crate) fn on_server(pairs: &[&str]) -> Vec<String> {
        pairs
            .iter()
            .map(|p| p.to_string())
            .chain(["server=h:5432".to_string()])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrape_stats_report_the_previous_scrape() {
        let s = ScrapeStats::default();
        assert_eq!(s.begin(), (1, 0.0, false));
        s.finish(true);
        let (n, _, err) = s.begin();
        assert_eq!((n, err), (2, true));
        s.finish(false);
        assert!(!s.begin().2);
    }
}
