//! The collector table: one file per collector, each with a query (prepared once per connection)
//! and a pure row-to-metric mapping tested on literal rows.
//!
//! `COLLECTORS` lists every collector with whether it is on by default; the binary turns it into
//! `--collector.<name>` / `--no-collector.<name>`. Every collector runs once per scrape against
//! every configured server; one that fails reports `pg_scrape_collector_success{collector} 0`
//! and the rest of the scrape is unaffected.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use exporter_core::{
    BoxFuture, CollectError, CollectResult, Collector, Label, MetricFamily, MetricType,
};

use crate::instance::Instance;
use crate::target::{Session, Target};
use crate::value::{cells, Cell};

pub mod bgwriter;
pub mod database;
pub mod database_wraparound;
pub mod locks;
pub mod long_running_transactions;
pub mod postmaster;
pub mod process_idle;
pub mod replication;
pub mod replication_slots;
pub mod roles;
pub mod settings;
pub mod stat_activity;
pub mod stat_activity_autovacuum;
pub mod stat_archiver;
pub mod stat_database;
pub mod stat_replication;
pub mod stat_statements;
pub mod stat_user_tables;
pub mod stat_wal_receiver;
pub mod statio_user_indexes;
pub mod statio_user_tables;
pub mod wal;
pub mod xlog_location;

pub type PgFuture<'a> = BoxFuture<'a, CollectResult>;

/// A collector of this exporter: gathers its families from one server.
pub trait PgCollector: Send + Sync + 'static {
    fn collect<'a>(&'a self, inst: &'a Instance) -> PgFuture<'a>;
}

/// Options some collectors take.
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    /// `--collector.stat_statements.limit`: how many of the most expensive statements to report.
    pub stat_statements_limit: u32,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            stat_statements_limit: 100,
        }
    }
}

pub struct CollectorSpec {
    pub name: &'static str,
    pub default_enabled: bool,
    /// The metric namespace; a user query (`--extend.query-path`) with this name replaces the
    /// collector, as a user map replaces a built-in one upstream.
    pub namespace: &'static str,
    /// One of upstream's built-in metric maps: off with `--disable-default-metrics`.
    pub builtin_map: bool,
    pub help: &'static str,
    pub build: fn(&CollectorConfig) -> Arc<dyn PgCollector>,
}

macro_rules! spec {
    ($name:literal, $default:expr, $ns:literal, $builtin:expr, $help:literal, $ty:expr) => {
        CollectorSpec {
            name: $name,
            default_enabled: $default,
            namespace: $ns,
            builtin_map: $builtin,
            help: $help,
            build: |cfg| Arc::new($ty(cfg)),
        }
    };
}

/// Every collector, sorted by name.
pub static COLLECTORS: &[CollectorSpec] = &[
    spec!("bgwriter", true, "pg_stat_bgwriter", false, "pg_stat_bgwriter_*_total (pg_stat_checkpointer on 17+).", bgwriter::Bgwriter::new),
    spec!("database", true, "pg_database", false, "pg_database_size_bytes and pg_database_connection_limit per database.", database::Database::new),
    spec!("database_wraparound", false, "pg_database_wraparound", false, "pg_database_wraparound_age_datfrozenxid_seconds and _age_datminmxid_seconds per database.", database_wraparound::DatabaseWraparound::new),
    spec!("locks", true, "pg_locks", true, "pg_locks_count per database and lock mode, zero-filled.", locks::Locks::new),
    spec!("long_running_transactions", false, "pg_long_running_transactions", false, "Count and age of the oldest open transactions.", long_running_transactions::LongRunningTransactions::new),
    spec!("postmaster", true, "pg_postmaster", false, "pg_postmaster_start_time_seconds.", postmaster::Postmaster::new),
    spec!("process_idle", false, "pg_process_idle", false, "pg_process_idle_seconds histogram per idle state and application.", process_idle::ProcessIdle::new),
    spec!("replication", true, "pg_replication", false, "pg_replication_lag_seconds, pg_replication_is_replica, pg_replication_last_replay_seconds.", replication::Replication::new),
    spec!("replication_slots", true, "pg_replication_slots", true, "pg_replication_slots_* (and 0.16-0.19's pg_replication_slot_*) per slot.", replication_slots::ReplicationSlots::new),
    spec!("roles", true, "pg_roles", false, "pg_roles_connection_limit per role.", roles::Roles::new),
    spec!("settings", true, "pg_settings", false, "pg_settings_* for every bool, integer and real setting, in one query.", settings::Settings::new),
    spec!("stat_activity", true, "pg_stat_activity", true, "pg_stat_activity_count and _max_tx_duration per database and state, zero-filled.", stat_activity::StatActivity::new),
    spec!("stat_activity_autovacuum", false, "pg_stat_activity_autovacuum", false, "pg_stat_activity_autovacuum_timestamp_seconds per running autovacuum worker.", stat_activity_autovacuum::StatActivityAutovacuum::new),
    spec!("stat_archiver", true, "pg_stat_archiver", true, "pg_stat_archiver_* WAL archiving counters.", stat_archiver::StatArchiver::new),
    spec!("stat_database", true, "pg_stat_database", true, "pg_stat_database_* and pg_stat_database_conflicts_* per database, in one query.", stat_database::StatDatabase::new),
    spec!("stat_replication", true, "pg_stat_replication", true, "pg_stat_replication_* per connected standby.", stat_replication::StatReplication::new),
    spec!("stat_statements", false, "pg_stat_statements", false, "pg_stat_statements_* for the most expensive statements, when the extension exists.", stat_statements::StatStatements::new),
    spec!("stat_user_tables", true, "pg_stat_user_tables", false, "pg_stat_user_tables_* per table (per database with auto-discovery).", stat_user_tables::StatUserTables::new),
    spec!("stat_wal_receiver", false, "pg_stat_wal_receiver", false, "pg_stat_wal_receiver_* on a standby.", stat_wal_receiver::StatWalReceiver::new),
    spec!("statio_user_indexes", false, "pg_statio_user_indexes", false, "pg_statio_user_indexes_idx_blks_*_total block I/O per index.", statio_user_indexes::StatioUserIndexes::new),
    spec!("statio_user_tables", true, "pg_statio_user_tables", false, "pg_statio_user_tables_* block I/O per table.", statio_user_tables::StatioUserTables::new),
    spec!("wal", true, "pg_wal", false, "pg_wal_segments and pg_wal_size_bytes (pg_ls_waldir).", wal::Wal::new),
    spec!("xlog_location", false, "pg_xlog_location", false, "pg_xlog_location_bytes, the current WAL position.", xlog_location::XlogLocation::new),
];

/// Looks up a collector by name.
pub fn find(name: &str) -> Option<&'static CollectorSpec> {
    COLLECTORS.iter().find(|c| c.name == name)
}

/// What the self-metrics report about whole scrapes: each collector records its end, the
/// `exporter` collector turns the previous scrape into `pg_exporter_last_scrape_*`.
#[derive(Default)]
pub struct ScrapeStats {
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
    pub fn begin(&self) -> (u64, f64, bool) {
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

    pub fn finish(&self, error: bool) {
        if let Ok(mut s) = self.inner.lock() {
            s.end = Some(Instant::now());
            s.error |= error;
        }
    }
}

/// A [`PgCollector`] run against every configured server, as the runtime sees it.
pub struct Running {
    pub name: &'static str,
    pub inner: Arc<dyn PgCollector>,
    pub instances: Arc<[Arc<Instance>]>,
    pub stats: Arc<ScrapeStats>,
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

/// How a NULL cell becomes a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Null {
    /// NaN, as upstream's built-in maps report it.
    NaN,
    /// 0, as upstream's newer collectors report it.
    Zero,
    /// No sample.
    Skip,
}

/// A value column of a query.
#[derive(Debug, Clone, Copy)]
pub struct Col {
    pub name: &'static str,
    pub kind: MetricType,
    pub help: &'static str,
}

pub const fn counter(name: &'static str, help: &'static str) -> Col {
    Col {
        name,
        kind: MetricType::Counter,
        help,
    }
}

pub const fn gauge(name: &'static str, help: &'static str) -> Col {
    Col {
        name,
        kind: MetricType::Gauge,
        help,
    }
}

pub const fn untyped(name: &'static str, help: &'static str) -> Col {
    Col {
        name,
        kind: MetricType::Untyped,
        help,
    }
}

/// Maps rows whose first `label_names.len()` cells are labels and whose remaining cells are the
/// `cols` values into one family per column, named `<prefix>_<col>`. `base` (server and constant
/// labels) goes on every series.
pub fn map_rows(
    prefix: &str,
    label_names: &[&'static str],
    cols: &[Col],
    rows: &[Vec<Cell>],
    base: &[Label],
    null: Null,
) -> Vec<MetricFamily> {
    let mut families: Vec<MetricFamily> = cols
        .iter()
        .map(|c| {
            let mut f = MetricFamily::new(format!("{prefix}_{}", c.name), c.help, c.kind);
            f.samples.reserve(rows.len());
            f
        })
        .collect();
    let n = label_names.len();
    for row in rows {
        let mut labels: Vec<Label> = label_names
            .iter()
            .zip(row.iter())
            .map(|(name, cell)| (std::borrow::Cow::Borrowed(*name), cell.as_label()))
            .collect();
        labels.extend(base.iter().cloned());
        for (i, fam) in families.iter_mut().enumerate() {
            let cell = row.get(n + i).unwrap_or(&Cell::Null);
            let value = match (cell.as_f64(), null) {
                (Some(v), _) => v,
                (None, Null::NaN) => f64::NAN,
                (None, Null::Zero) => 0.0,
                (None, Null::Skip) => continue,
            };
            fam.push_labels(labels.clone(), value);
        }
    }
    families.retain(|f| !f.is_empty());
    families
}

/// Decodes every row.
pub fn decode(rows: &[tokio_postgres::Row]) -> Vec<Vec<Cell>> {
    rows.iter().map(cells).collect()
}

/// The common shape of a collector: one query on the server's own database, one pure mapping.
pub fn on_main<'a>(
    inst: &'a Instance,
    sql: impl FnOnce(&Session) -> String + Send + 'a,
    map: fn(&[Vec<Cell>], &Instance, &Session) -> Vec<MetricFamily>,
) -> PgFuture<'a> {
    Box::pin(async move {
        let (session, rows) = inst.main.session_query(sql).await?;
        Ok(map(&decode(&rows), inst, &session))
    })
}

/// Per-database collectors: the same query on every database connection of the server.
/// A database that cannot be reached is skipped (debug log); the first database decides
/// success.
pub fn on_each_database<'a>(
    inst: &'a Instance,
    sql: fn(&Session) -> String,
    map: fn(&[Vec<Cell>], &Instance, &Session) -> Vec<MetricFamily>,
) -> PgFuture<'a> {
    Box::pin(async move {
        let targets: Vec<Arc<Target>> = inst.database_targets().await?;
        let mut families = Vec::new();
        for (i, target) in targets.iter().enumerate() {
            match target.session_query(sql).await {
                Ok((session, rows)) => families.extend(map(&decode(&rows), inst, &session)),
                Err(e) if i == 0 => return Err(e.into()),
                Err(e) => {
                    tracing::debug!(database = target.dsn().effective_dbname(), err = %e, "skipping database");
                }
            }
        }
        Ok(families)
    })
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;

    pub fn base() -> Vec<Label> {
        vec![(std::borrow::Cow::Borrowed("server"), "h:5432".to_string())]
    }

    pub fn text(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }

    pub fn num(v: f64) -> Cell {
        Cell::Float(v)
    }

    pub fn family<'a>(fams: &'a [MetricFamily], name: &str) -> &'a MetricFamily {
        fams.iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no family {name}"))
    }

    /// (label pairs, value) of every sample of a family, labels as `k=v` strings.
    pub fn series(f: &MetricFamily) -> Vec<(Vec<String>, f64)> {
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
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        let names: Vec<_> = COLLECTORS.iter().map(|c| c.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted);
    }

    #[test]
    fn map_rows_labels_values_and_nulls() {
        let cols = [counter("a", "A."), gauge("b", "B.")];
        let rows = vec![
            vec![text("x"), num(1.0), num(2.0)],
            vec![Cell::Null, Cell::Null, num(3.0)],
        ];
        let fams = map_rows("p", &["l"], &cols, &rows, &base(), Null::NaN);
        assert_eq!(fams.len(), 2);
        assert_eq!(fams[0].name, "p_a");
        assert_eq!(fams[0].kind, MetricType::Counter);
        let a = series(&fams[0]);
        assert_eq!(a[0], (vec!["l=x".into(), "server=h:5432".into()], 1.0));
        assert_eq!(a[1].0, vec!["l=".to_string(), "server=h:5432".into()]);
        assert!(a[1].1.is_nan());
        let skipped = map_rows("p", &["l"], &cols, &rows, &base(), Null::Skip);
        assert_eq!(skipped[0].samples.len(), 1);
        assert!(map_rows("p", &["l"], &cols, &[], &base(), Null::NaN).is_empty());
    }

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
