//! `pg_stat_user_tables_table_size_bytes` and `_index_size_bytes`, read at most once per
//! `--collector.stat_user_tables.size-interval` and kept per table in between.
//!
//! `pg_table_size()` and `pg_indexes_size()` stat() every fork and segment file of a table, its
//! TOAST table and each index: at 1,000 tables they cost the server several times what all the
//! statistics of a scrape cost. Upstream reads them on every scrape; here they come from the same
//! functions (the same values) but are re-read only when the interval has passed. A table not
//! sized yet (created since) is sized on the scrape that first lists it, so every listed table
//! always has its sizes; a dropped table's are forgotten on the next scrape.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{database_key, DatabaseKey};
use crate::connection::{Connection, QueryError, Session};

/// Sizes of the given tables (`$1`: oids); a table dropped meanwhile gives NULLs.
const SQL: &str = "SELECT o, pg_indexes_size(o), pg_table_size(o) FROM unnest($1::oid[]) AS o";

/// A table's sizes in bytes: its indexes', and its own (with TOAST, free space and visibility
/// maps), as pg_indexes_size and pg_table_size give them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sizes {
    pub(crate) index_bytes: f64,
    pub(crate) table_bytes: f64,
}

/// The sizes held for the tables of one database.
#[derive(Debug, Default)]
pub(crate) struct DatabaseSizes {
    /// When every table was last sized.
    refreshed: Option<Instant>,
    by_table: HashMap<u32, Sizes>,
}

impl DatabaseSizes {
    /// Which of `tables` (the oids this scrape lists) to size now: all of them when none was
    /// sized yet or `interval` has passed since, otherwise those without sizes.
    pub(crate) fn due(&self, tables: &[u32], now: Instant, interval: Duration) -> Due {
        let stale = self
            .refreshed
            .is_none_or(|at| now.saturating_duration_since(at) >= interval);
        if stale {
            Due::All(tables.to_vec())
        } else {
            Due::New(
                tables
                    .iter()
                    .copied()
                    .filter(|t| !self.by_table.contains_key(t))
                    .collect(),
            )
        }
    }

    /// Takes in what the size query gave for `due` at `now`, and forgets tables not in `tables`
    /// (dropped ones).
    pub(crate) fn store(
        &mut self,
        due: Due,
        sized: impl IntoIterator<Item = (u32, Sizes)>,
        tables: &[u32],
        now: Instant,
    ) {
        if let Due::All(_) = due {
            self.by_table.clear();
            self.refreshed = Some(now);
        }
        self.by_table.extend(sized);
        if self.by_table.len() > tables.len() {
            let listed: std::collections::HashSet<u32> = tables.iter().copied().collect();
            self.by_table.retain(|t, _| listed.contains(t));
        }
    }

    /// The sizes held for `table`.
    pub(crate) fn get(&self, table: u32) -> Option<Sizes> {
        self.by_table.get(&table).copied()
    }
}

/// Tables to size on this scrape.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Due {
    /// Every listed table: the interval has passed.
    All(Vec<u32>),
    /// Only these, not sized before.
    New(Vec<u32>),
}

impl Due {
    fn tables(&self) -> &[u32] {
        match self {
            Due::All(t) | Due::New(t) => t,
        }
    }
}

/// The sizes of every database's tables, per server and database.
pub(crate) struct TableSizes {
    interval: Duration,
    held: Mutex<HashMap<DatabaseKey, Arc<tokio::sync::Mutex<DatabaseSizes>>>>,
}

impl TableSizes {
    /// Sizes re-read once `interval` has passed (zero: on every scrape).
    pub(crate) fn new(interval: Duration) -> Self {
        TableSizes {
            interval,
            held: Mutex::new(HashMap::new()),
        }
    }

    /// The sizes of `tables` on the database of `connection`, read now where due. The lock is
    /// per database: two scrapes at once do not both size the same tables.
    pub(crate) async fn of(
        &self,
        server: &str,
        connection: &Connection,
        session: &Arc<Session>,
        tables: &[u32],
    ) -> Result<Arc<tokio::sync::Mutex<DatabaseSizes>>, QueryError> {
        let database = match self.held.lock() {
            Ok(mut held) => Arc::clone(held.entry(database_key(server, connection)).or_default()),
            Err(_) => Arc::default(),
        };
        {
            let mut sizes = database.lock().await;
            let now = Instant::now();
            let due = sizes.due(tables, now, self.interval);
            let sized = if due.tables().is_empty() {
                Vec::new()
            } else {
                let oids = due.tables().to_vec();
                connection
                    .query_params(session, SQL, &[&oids])
                    .await?
                    .iter()
                    .filter_map(|row| {
                        Some((
                            row.try_get::<_, u32>(0).ok()?,
                            Sizes {
                                index_bytes: row.try_get::<_, Option<i64>>(1).ok()?? as f64,
                                table_bytes: row.try_get::<_, Option<i64>>(2).ok()?? as f64,
                            },
                        ))
                    })
                    .collect()
            };
            sizes.store(due, sized, tables, now);
        }
        Ok(database)
    }

    /// Forgets the databases not in `databases` (dropped, or no longer discovered) of `server`.
    pub(crate) fn keep_only(&self, server: &str, databases: &[String]) {
        if let Ok(mut held) = self.held.lock() {
            held.retain(|(s, db), _| s != server || databases.contains(db));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(n: f64) -> Sizes {
        Sizes {
            index_bytes: n,
            table_bytes: n * 10.0,
        }
    }

    #[test]
    fn everything_is_sized_first_then_only_new_tables_until_the_interval_passes() {
        let interval = Duration::from_secs(300);
        let t0 = Instant::now();
        let mut db = DatabaseSizes::default();
        let due = db.due(&[1, 2], t0, interval);
        assert_eq!(due, Due::All(vec![1, 2]));
        db.store(due, [(1, sizes(1.0)), (2, sizes(2.0))], &[1, 2], t0);
        assert_eq!(db.get(2), Some(sizes(2.0)));

        // Table 3 appears a minute later: only it is sized, the others keep their sizes.
        let t1 = t0 + Duration::from_secs(60);
        let due = db.due(&[1, 2, 3], t1, interval);
        assert_eq!(due, Due::New(vec![3]));
        db.store(due, [(3, sizes(3.0))], &[1, 2, 3], t1);
        assert_eq!(db.due(&[1, 2, 3], t1, interval), Due::New(vec![]));

        // Once the interval has passed since the full read, every table is read again.
        let t2 = t0 + interval;
        let due = db.due(&[1, 2, 3], t2, interval);
        assert_eq!(due, Due::All(vec![1, 2, 3]));
        db.store(due, [(1, sizes(5.0)), (2, sizes(6.0))], &[1, 2, 3], t2);
        assert_eq!(db.get(1), Some(sizes(5.0)));
        assert_eq!(db.get(3), None, "a full read replaces what was held");
    }

    #[test]
    fn dropped_tables_are_forgotten_and_zero_means_every_scrape() {
        let t0 = Instant::now();
        let mut db = DatabaseSizes::default();
        let due = db.due(&[1, 2], t0, Duration::ZERO);
        db.store(due, [(1, sizes(1.0)), (2, sizes(2.0))], &[1, 2], t0);
        let due = db.due(&[1], t0, Duration::from_secs(60));
        assert_eq!(due, Due::New(vec![]));
        db.store(due, [], &[1], t0);
        assert_eq!((db.get(1), db.get(2)), (Some(sizes(1.0)), None));
        assert_eq!(db.due(&[1], t0, Duration::ZERO), Due::All(vec![1]));
    }
}
