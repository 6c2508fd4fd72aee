//! `INFO ALL`: [`parse`] reads the text, [`names`] says which fields become which metrics,
//! [`structured`] parses the fields whose value holds several numbers, and [`metrics`] maps a
//! whole reply (and CLUSTER INFO's) to metric families.

pub mod metrics;
pub mod names;
pub mod parse;
pub mod structured;

pub use metrics::{cluster_info_metrics, command_usecs, info_metrics, InfoContext};
pub use names::{emit_field, field_value, map_field};
pub use parse::{parse_info, Field, Info, InfoError};
pub use structured::{
    parse_command_stats, parse_connected_slave, parse_error_stats, parse_keyspace,
    parse_latency_stats, CommandStats, ConnectedSlave, Keyspace,
};
