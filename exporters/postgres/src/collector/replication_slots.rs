//! Replication slots, in one query:
//! - `pg_replication_slots_active` and `pg_replication_slots_pg_wal_lsn_diff{slot_name,database}`
//!   (0.11's built-in map, still in current releases): WAL retained by each slot, in bytes;
//! - `pg_replication_slots_{slot_current_wal_lsn,slot_confirmed_flush_lsn,slot_is_active,
//!   safe_wal_size_bytes}{slot_name,slot_type}` and `pg_replication_slots_wal_status{slot_name,
//!   slot_type,wal_status}` (current releases, 0.20+), also under the `pg_replication_slot_`
//!   prefix that releases 0.16 to 0.19 used, so dashboards written for either keep working.

use super::declarative::{
    gauge, info, label, Column, DeclarativeCollector, Families, Null, RunsOn, Sql,
};

/// Columns 0-3: 0.11's map; 4-9: the per-slot families of current releases (not read before 10).
pub(crate) const COLLECTOR: DeclarativeCollector = DeclarativeCollector {
    sql: Sql::ByVersion(sql),
    runs_on: RunsOn::Server,
    families: &[
        Families {
            prefix: "pg_replication_slots",
            null: Null::NaN,
            columns: &[
                label("slot_name"),
                label("database"),
                gauge("active", "Flag indicating if the slot is active"),
                gauge("pg_wal_lsn_diff", "Replication lag in bytes"),
            ],
        },
        Families {
            prefix: "pg_replication_slots",
            null: Null::Skip,
            columns: SLOT_COLUMNS,
        },
        // Releases 0.16 to 0.19.
        Families {
            prefix: "pg_replication_slot",
            null: Null::Skip,
            columns: SLOT_COLUMNS,
        },
    ],
};

const SLOT_COLUMNS: &[Column] = &[
    label("slot_name"),
    Column::Skip,
    Column::Skip,
    Column::Skip,
    label("slot_type"),
    gauge("slot_current_wal_lsn", "current wal lsn value"),
    gauge(
        "slot_confirmed_flush_lsn",
        "last lsn confirmed flushed to the replication slot",
    ),
    gauge(
        "slot_is_active",
        "whether the replication slot is active or not",
    ),
    gauge(
        "safe_wal_size_bytes",
        "number of bytes that can be written to WAL such that this slot is not in danger of getting in state lost",
    ),
    info(
        "wal_status",
        "availability of WAL files claimed by this slot",
    ),
];

/// Rows: slot_name, database, active, retained bytes (the 0.11 map), then slot_type, current
/// WAL position, confirmed flush position (only while active, as upstream), active, safe WAL
/// size and WAL status (the latter two from 13 on).
pub(crate) fn sql(version: u32) -> String {
    if version < 100000 {
        return "SELECT slot_name, database, active, CASE WHEN pg_is_in_recovery() THEN NULL \
             ELSE pg_xlog_location_diff(pg_current_xlog_location(), restart_lsn)::float8 END \
             FROM pg_replication_slots"
            .into();
    }
    let (safe_wal_size, wal_status) = if version >= 130000 {
        ("safe_wal_size", "wal_status")
    } else {
        ("NULL::int8", "NULL::text")
    };
    format!(
        "SELECT slot_name, database, active, CASE WHEN pg_is_in_recovery() THEN NULL \
         ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 END, \
         COALESCE(slot_type, 'unknown'), \
         (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END \
          - '0/0')::float8, \
         CASE WHEN active THEN (COALESCE(confirmed_flush_lsn, '0/0') - '0/0')::float8 END, \
         active::int, {safe_wal_size}, {wal_status} FROM pg_replication_slots"
    )
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::value::Cell;

    fn physical_slot() -> Vec<Cell> {
        vec![
            text("standby1"),
            Cell::Null,
            Cell::Bool(true),
            num(1024.0),
            text("physical"),
            num(50_000_000.0),
            num(0.0),
            Cell::Int(1),
            Cell::Null,
            text("reserved"),
        ]
    }

    #[test]
    fn physical_slot_has_empty_database() {
        let fams = COLLECTOR.map(&[physical_slot()], &base());
        assert_eq!(
            first(&fams, "pg_replication_slots_active"),
            (on_server(&["slot_name=standby1", "database="]), 1.0)
        );
        assert_eq!(value(&fams, "pg_replication_slots_pg_wal_lsn_diff"), 1024.0);
    }

    #[test]
    fn per_slot_families_under_both_prefixes() {
        let fams = COLLECTOR.map(&[physical_slot()], &base());
        for prefix in ["pg_replication_slots", "pg_replication_slot"] {
            let lsn = family(&fams, &format!("{prefix}_slot_current_wal_lsn"));
            assert_eq!(
                series(lsn)[0],
                (
                    on_server(&["slot_name=standby1", "slot_type=physical"]),
                    50_000_000.0
                )
            );
            assert_eq!(value(&fams, &format!("{prefix}_slot_is_active")), 1.0);
            assert_eq!(
                first(&fams, &format!("{prefix}_wal_status")),
                (
                    on_server(&[
                        "slot_name=standby1",
                        "slot_type=physical",
                        "wal_status=reserved"
                    ]),
                    1.0
                )
            );
            // No safe_wal_size without max_slot_wal_keep_size: no sample, as upstream.
            assert!(!fams
                .iter()
                .any(|f| f.name == format!("{prefix}_safe_wal_size_bytes")));
        }
        assert!(sql(150000).contains("wal_status") && !sql(120000).contains("safe_wal_size,"));
        assert!(sql(90600).contains("pg_xlog_location_diff"));
    }

    #[test]
    fn before_10_only_the_old_map() {
        let row = vec![text("s"), text("db"), Cell::Bool(false), Cell::Null];
        let names: Vec<_> = COLLECTOR
            .map(&[row], &base())
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(
            names,
            [
                "pg_replication_slots_active",
                "pg_replication_slots_pg_wal_lsn_diff"
            ]
        );
    }
}
