//! Redis metrics under the names, types and labels of oliver006/redis_exporter (Debian's 1.45
//! and the families current 1.6x releases added), on the suite's exporter runtime.
//!
//! From the command line in: [`flags`] (upstream's flags), [`options`] (flags to scrape options),
//! [`upstream_web`] (upstream's web flags to a web config). From the wire up: [`resp`] (the RESP2
//! codec and one Redis connection, shared with the Celery exporter), [`target`] (addresses and
//! passwords), [`scrape`] (a kept connection per target and one pipelined batch per scrape),
//! [`info`], [`replies`] and [`tile38`] (pure mappings from replies to metric families, built
//! with [`metrics`]), [`keys`] (the key-list syntax), [`multi_target`] (`/scrape?target=`).

pub mod flags;
pub mod info;
pub mod keys;
pub mod metrics;
pub mod multi_target;
pub mod options;
pub mod replies;
pub use resp;
pub mod scrape;
pub mod target;
pub mod tile38;
pub mod upstream_web;

pub use info::{parse_info, Info, InfoError};
pub use options::ScrapeOptions;
pub use resp::{parse_reply, ProtocolError, Reply};
pub use scrape::{RedisCollector, Scraper};
pub use target::{PasswordMap, Secret, Target};
