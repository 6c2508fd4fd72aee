//! `pg_stat_wal_receiver_*{upstream_host,slot_name}` (opt-in, current releases): a standby's WAL
//! receiver. Nothing on a primary, and nothing for a receiver without a slot, as upstream.

use super::declarative::{
    counter, gauge, label, DeclarativeCollector, Families, Null, RunsOn, Sql,
};

/// At most one row; NULLs are 0, as upstream reports them.
pub(crate) const COLLECTOR: DeclarativeCollector = DeclarativeCollector {
    sql: Sql::ByVersion(sql),
    runs_on: RunsOn::Server,
    families: &[Families {
        prefix: "pg_stat_wal_receiver",
        null: Null::Zero,
        columns: &[
            label("upstream_host"),
            label("slot_name"),
            gauge("status", "Activity status of the WAL receiver process"),
            counter("receive_start_lsn", "First write-ahead log location used when WAL receiver is started represented as a decimal"),
            gauge("receive_start_tli", "First timeline number used when WAL receiver is started"),
            counter("flushed_lsn", "Last write-ahead log location already received and flushed to disk, the initial value of this field being the first log location used when WAL receiver is started represented as a decimal"),
            gauge("received_tli", "Timeline number of last write-ahead log location received and flushed to disk"),
            counter("last_msg_send_time", "Send time of last message received from origin WAL sender"),
            counter("last_msg_receipt_time", "Send time of last message received from origin WAL sender"),
            counter("latest_end_lsn", "Last write-ahead log location reported to origin WAL sender as integer"),
            counter("latest_end_time", "Time of last write-ahead log location reported to origin WAL sender"),
            gauge("upstream_node", "Node ID of the upstream node"),
        ],
    }],
};

/// Upstream's status codes: stopped 0, starting 1, streaming 2, waiting 3, restarting 4,
/// stopping -1, anything else -2, none -3. LSNs are modulo 2^52; `flushed_lsn` is 13+ (before,
/// `received_lsn` has the same meaning). `upstream_node` is repmgr's node id in the slot name.
pub(crate) fn sql(version: u32) -> String {
    let flushed = if version >= 130000 {
        "flushed_lsn"
    } else {
        "received_lsn"
    };
    format!(
        "SELECT trim(both '''' FROM substring(conninfo FROM 'host=([^ ]*)')), slot_name, \
         CASE WHEN status IS NULL THEN -3 WHEN status = 'stopped' THEN 0 \
         WHEN status = 'starting' THEN 1 WHEN status = 'streaming' THEN 2 \
         WHEN status = 'waiting' THEN 3 WHEN status = 'restarting' THEN 4 \
         WHEN status = 'stopping' THEN -1 ELSE -2 END, \
         ((receive_start_lsn - '0/0') % (2^52)::bigint)::float8, receive_start_tli, \
         (({flushed} - '0/0') % (2^52)::bigint)::float8, received_tli, \
         extract(epoch FROM last_msg_send_time)::float8, \
         extract(epoch FROM last_msg_receipt_time)::float8, \
         ((latest_end_lsn - '0/0') % (2^52)::bigint)::float8, \
         extract(epoch FROM latest_end_time)::float8, \
         substring(slot_name FROM 'repmgr_slot_([0-9]*)')::int8 \
         FROM pg_stat_wal_receiver \
         WHERE slot_name IS NOT NULL AND conninfo ~ 'host='"
    )
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::value::Cell;

    #[test]
    fn a_streaming_receiver() {
        let mut row = vec![text("10.0.0.1"), text("standby1"), Cell::Int(2)];
        row.extend(numbers(9, |i| i == 8));
        let fams = COLLECTOR.map(&[row], &base());
        assert_eq!(fams.len(), 10);
        assert_eq!(
            first(&fams, "pg_stat_wal_receiver_status"),
            (
                on_server(&["upstream_host=10.0.0.1", "slot_name=standby1"]),
                2.0
            )
        );
        assert_eq!(value(&fams, "pg_stat_wal_receiver_upstream_node"), 0.0);
        assert!(sql(150000).contains("flushed_lsn") && sql(120000).contains("received_lsn"));
    }
}
