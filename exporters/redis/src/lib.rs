//! Redis metrics under the names, types and labels of oliver006/redis_exporter (Debian's 1.45
//! and the families current 1.6x releases added), on the suite's exporter runtime.
//!
//! Layers, from the wire up: [`resp`] (a pure RESP2 parser, shared with the Celery exporter), [`conn`] (one connection over TCP, a
//! unix socket or TLS, with pipelining), [`info`] and [`replies`] (pure mappings from replies to
//! metric families), [`scrape`] (a kept connection per target and one pipelined batch per
//! scrape), [`multi`] (`/scrape?target=`), [`tile38`] (`--is-tile38`).

pub mod conn;
pub mod info;
pub mod keys;
pub mod metrics;
pub mod multi;
pub mod replies;
pub use resp;
pub mod scrape;
pub mod target;
pub mod tile38;

pub use info::{parse_info, Info, InfoError};
pub use resp::{parse_reply, ProtocolError, Reply};
pub use scrape::{RedisCollector, ScrapeOptions, Scraper};
pub use target::{PasswordMap, Secret, Target};
