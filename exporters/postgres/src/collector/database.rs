//! `pg_database_size_bytes{datname}` and `pg_database_connection_limit{datname}`: one query for
//! every database. The size of a database the role may not connect to (and may not measure) is
//! left out instead of failing the query; its connection limit is reported all the same.
//!
//! pg_database_size() walks every file of a database, the dearest call of a scrape. A database
//! whose files have not changed need not be walked again. Files grow and shrink with writes: rows
//! inserted, updated or deleted (DDL too: it writes the catalogs), or a rolled-back transaction;
//! so the size is re-read when pg_stat_database shows any of those in that database since the
//! last read, and reused otherwise (template0, idle or read-only databases, and every database
//! the exporter's own read-only queries run in). What writes no row (VACUUM truncating a table,
//! creating its free-space and visibility maps) is caught by re-reading every size at least once
//! per [`MAX_AGE`]. A size can thus lag by the statistics flush interval (about a second) after
//! a write, and by up to [`MAX_AGE`] after a VACUUM.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::declarative::{gauge, label, Families, Null};
use super::{decode, PerServer, PgCollector, PgFuture};
use crate::instance::Instance;
use crate::value::Cell;

/// Rows after [`merge_known`]: datname, size (NULL: left out), connection limit.
const FAMILIES: Families<'static> = Families {
    prefix: "pg_database",
    null: Null::Skip,
    columns: &[
        label("datname"),
        gauge("size_bytes", "Disk space used by the database"),
        gauge("connection_limit", "Connection limit set for the database"),
    ],
};

/// How long a size is reused at most when no write shows in the statistics.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(300);

/// Rows: datname, size (NULL when not readable, or when unchanged since `$1`/`$2`: the oids
/// and write counts of the sizes we hold), oid, write count, connection limit.
pub(crate) fn sql(version: u32) -> String {
    let readable = if version >= 100000 {
        "(has_database_privilege(d.oid, 'CONNECT') OR pg_has_role('pg_read_all_stats', 'MEMBER'))"
    } else {
        "has_database_privilege(d.oid, 'CONNECT')"
    };
    format!(
        "SELECT datname, CASE WHEN {readable} AND ($2::int8[])[array_position($1::oid[], d.oid)] \
         IS DISTINCT FROM a.n THEN pg_database_size(d.oid) END, d.oid, a.n, d.datconnlimit \
         FROM pg_database d LEFT JOIN LATERAL (SELECT COALESCE(s.tup_inserted + s.tup_updated \
         + s.tup_deleted + s.xact_rollback, -1) AS n \
         FROM pg_stat_database s WHERE s.datid = d.oid) a ON true"
    )
}

/// Sizes read earlier, by database oid: (write count then, size, when read).
pub(crate) type Known = HashMap<u32, (i64, Cell, Instant)>;

/// What the query gets as `$1`/`$2`: the oids of the sizes held and their write counts; a size
/// read [`MAX_AGE`] ago or more gets a count no database has (-2), so it is read again.
pub(crate) fn held_counts(known: &Known, now: Instant) -> (Vec<u32>, Vec<i64>) {
    known
        .iter()
        .map(|(oid, (n, _, read))| {
            let fresh = now.saturating_duration_since(*read) < MAX_AGE;
            (*oid, if fresh { *n } else { -2 })
        })
        .unzip()
}

/// Fills in sizes the query did not re-read because the database saw no transaction since, and
/// records the ones it did read. Rows become (datname, size, connection limit); the size stays
/// NULL for a database whose size cannot be read.
pub(crate) fn merge_known(rows: Vec<Vec<Cell>>, known: &mut Known, now: Instant) -> Vec<Vec<Cell>> {
    let mut seen = Known::new();
    let out = rows
        .into_iter()
        .filter_map(|mut row| {
            if row.len() < 5 {
                return None;
            }
            let oid = row[2].as_f64()? as u32;
            let activity = row[3].as_f64().unwrap_or(-1.0) as i64;
            let mut read = now;
            if row[1].is_null() {
                if let Some((_, size, at)) = known.get(&oid).filter(|(n, ..)| *n == activity) {
                    row[1] = size.clone();
                    read = *at;
                }
            }
            if !row[1].is_null() {
                seen.insert(oid, (activity, row[1].clone(), read));
            }
            let connection_limit = row.swap_remove(4);
            row.truncate(2);
            row.push(connection_limit);
            Some(row)
        })
        .collect();
    *known = seen;
    out
}

/// The collector, with the sizes it holds per server (none when built).
#[derive(Default)]
pub(crate) struct Database {
    /// Per server: (session id, sizes read on that connection).
    known: PerServer<(u64, Known)>,
}

impl PgCollector for Database {
    fn collect<'a>(&'a self, inst: &'a Instance) -> PgFuture<'a> {
        Box::pin(async move {
            let session = inst.main.session().await?;
            let mut known = self
                .known
                .get(inst)
                .filter(|(id, _)| *id == session.id)
                .map(|(_, k)| k)
                .unwrap_or_default();
            let now = Instant::now();
            let (oids, counts) = held_counts(&known, now);
            let text = sql(session.version_num);
            let rows = inst
                .main
                .query_params(&session, &text, &[&oids, &counts])
                .await?;
            let rows = merge_known(decode(&rows), &mut known, now);
            self.known.set(inst, (session.id, known));
            Ok(FAMILIES.map(&rows, &inst.labels))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn sizes_per_database_and_unreadable_ones_skipped() {
        let rows = vec![
            vec![text("postgres"), Cell::Int(7_634_279), Cell::Int(-1)],
            vec![text("secret"), Cell::Null, Cell::Int(5)],
        ];
        let fams = FAMILIES.map(&rows, &base());
        assert_eq!(
            series(family(&fams, "pg_database_size_bytes")),
            vec![(on_server(&["datname=postgres"]), 7_634_279.0)]
        );
        assert_eq!(
            series(family(&fams, "pg_database_connection_limit")),
            vec![
                (on_server(&["datname=postgres"]), -1.0),
                (on_server(&["datname=secret"]), 5.0)
            ]
        );
    }

    #[test]
    fn unchanged_databases_reuse_their_size() {
        let t0 = Instant::now();
        let mut known = Known::new();
        let row = |name: &str, size: Cell, oid: i64, n: i64| {
            vec![
                text(name),
                size,
                Cell::Int(oid),
                Cell::Int(n),
                Cell::Int(-1),
            ]
        };
        let first = merge_known(
            vec![
                row("postgres", Cell::Int(10), 5, 3),
                row("template0", Cell::Int(7), 4, 0),
                row("secret", Cell::Null, 9, 1),
            ],
            &mut known,
            t0,
        );
        assert_eq!(first[2], vec![text("secret"), Cell::Null, Cell::Int(-1)]);
        assert_eq!(known.len(), 2, "no size held for an unreadable database");
        // template0 unchanged (size not re-read), postgres re-read.
        let later = merge_known(
            vec![
                row("postgres", Cell::Int(11), 5, 4),
                row("template0", Cell::Null, 4, 0),
            ],
            &mut known,
            t0 + Duration::from_secs(60),
        );
        assert_eq!(
            later,
            vec![
                vec![text("postgres"), Cell::Int(11), Cell::Int(-1)],
                vec![text("template0"), Cell::Int(7), Cell::Int(-1)]
            ]
        );
        // A NULL size for a database whose activity changed is unreadable now: no size.
        let gone = merge_known(vec![row("template0", Cell::Null, 4, 1)], &mut known, t0);
        assert!(gone[0][1].is_null() && known.is_empty());
        assert!(
            sql(150000).contains("array_position") && !sql(90600).contains("pg_read_all_stats")
        );
        assert!(sql(150000).contains("tup_inserted") && !sql(150000).contains("xact_commit"));
    }

    #[test]
    fn a_size_held_for_max_age_is_read_again() {
        let t0 = Instant::now();
        let mut known = Known::new();
        let row = |size: Cell| vec![text("app"), size, Cell::Int(5), Cell::Int(3), Cell::Int(-1)];
        merge_known(vec![row(Cell::Int(10))], &mut known, t0);
        // Reused without a write: it keeps the time it was read.
        let later = t0 + MAX_AGE / 2;
        assert_eq!(held_counts(&known, later), (vec![5], vec![3]));
        merge_known(vec![row(Cell::Null)], &mut known, later);
        assert_eq!(known[&5].2, t0);
        assert_eq!(held_counts(&known, t0 + MAX_AGE), (vec![5], vec![-2]));
    }
}
