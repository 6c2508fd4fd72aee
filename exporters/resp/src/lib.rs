//! RESP2, the Redis wire protocol, and one connection to a Redis server, shared by the Redis and
//! Celery exporters.
//!
//! - [`codec`]: an incremental parser that borrows from the read buffer (no copy of pub/sub
//!   payloads on the hot path), owned replies for request/response commands, and a command
//!   encoder. The parser never trusts a length it reads: sizes are checked against limits before
//!   anything is allocated, nesting is bounded, truncated input asks for more bytes (`Ok(None)`),
//!   and garbage is an error, never a panic.
//! - [`conn`]: connecting over TCP, TLS or a unix socket, logging in (AUTH), selecting the
//!   database, pipelined commands and the push frames of a subscribed connection.
//! - [`tls`]: the client side of TLS (trusted CAs, client certificate, server-name override),
//!   built once at start-up.
//! - [`secret`]: a password that never formats itself.

pub mod codec;
pub mod conn;
pub mod secret;
pub mod tls;

pub use codec::{
    encode_command, glob_escape, parse, parse_reply, ProtocolError, Reply, Value, MAX_ARRAY,
    MAX_BULK,
};
pub use conn::{cmd, Address, Cmd, ConnError, Connection, Connector};
pub use secret::Secret;
pub use tls::{TlsClient, TlsFile, TlsOptions, TlsSetupError};
