//! One PostgreSQL server as the exporter sees it: the connection named by its DSN, the labels
//! that every series from it carries, and (with `--auto-discover-databases`) one connection per
//! further database for the per-database collectors and user queries.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use exporter_core::{Label, LabelValue};
use rustls::ClientConfig;

use crate::connection::{Connection, QueryError};
use crate::dsn::Dsn;

/// Which databases `--auto-discover-databases` adds.
#[derive(Debug, Clone, Default)]
pub(crate) struct DiscoveryFilter {
    /// `--include-databases`: only these, when not empty.
    pub(crate) include: Vec<String>,
    /// `--exclude-databases`: never these.
    pub(crate) exclude: Vec<String>,
}

impl DiscoveryFilter {
    /// Whether `db` is discovered.
    pub(crate) fn admits(&self, db: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|d| d == db))
            && !self.exclude.iter().any(|d| d == db)
    }
}

/// Parses upstream's `--constantLabels` (`a=b,c=d`).
pub(crate) fn parse_constant_labels(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("--constantLabels: {pair:?} is not label=value"))?;
        let k = k.trim();
        if !exporter_core::encode::is_valid_label_name(k) {
            return Err(format!("--constantLabels: {k:?} is not a valid label name"));
        }
        if k == "server" || out.iter().any(|(o, _)| o == k) {
            return Err(format!(
                "--constantLabels: label {k:?} given twice or reserved"
            ));
        }
        out.push((k.to_string(), v.trim().to_string()));
    }
    Ok(out)
}

/// One configured server.
pub(crate) struct Instance {
    /// The connection to the DSN's own database.
    pub(crate) main: Arc<Connection>,
    /// `server="host:port"` plus the constant labels, on every series of this server.
    pub(crate) labels: Vec<Label>,
    discovery: Option<DiscoveryFilter>,
    tls: Option<Arc<ClientConfig>>,
    connect_timeout: Duration,
    databases: Mutex<HashMap<String, Arc<Connection>>>,
}

impl Instance {
    /// A server with its labels; nothing connects before the first scrape.
    pub(crate) fn new(
        dsn: Dsn,
        tls: Option<Arc<ClientConfig>>,
        constant: &[(String, String)],
        discovery: Option<DiscoveryFilter>,
        connect_timeout: Duration,
    ) -> Instance {
        let mut labels: Vec<Label> = vec![(Cow::Borrowed("server"), dsn.fingerprint().into())];
        labels.extend(
            constant
                .iter()
                .map(|(k, v)| (Cow::Owned(k.clone()), LabelValue::new(v))),
        );
        Instance {
            main: Arc::new(Connection::new(dsn, tls.clone(), connect_timeout)),
            labels,
            discovery,
            tls,
            connect_timeout,
            databases: Mutex::new(HashMap::new()),
        }
    }

    /// The `server` label: `host:port` as written in the DSN.
    pub(crate) fn server(&self) -> &str {
        &self.labels[0].1
    }

    /// The connections per-database collectors run on: the DSN's own database, plus every
    /// database discovered right now when auto-discovery is on. Connections to databases that
    /// no longer exist are dropped.
    pub(crate) async fn database_connections(&self) -> Result<Vec<Arc<Connection>>, QueryError> {
        let Some(filter) = &self.discovery else {
            return Ok(vec![Arc::clone(&self.main)]);
        };
        let (_, rows) = self
            .main
            .session_query(|_| {
                "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1"
                    .to_string()
            })
            .await?;
        let own = self.main.dsn().effective_dbname().to_string();
        let names: Vec<String> = rows
            .iter()
            .filter_map(|r| r.try_get::<_, String>(0).ok())
            .filter(|d| *d != own && filter.admits(d))
            .collect();
        let mut out = vec![Arc::clone(&self.main)];
        let Ok(mut dbs) = self.databases.lock() else {
            return Ok(out);
        };
        dbs.retain(|name, _| names.contains(name));
        for name in names {
            let target = dbs.entry(name.clone()).or_insert_with(|| {
                Arc::new(Connection::new(
                    self.main.dsn().with_dbname(&name),
                    self.tls.clone(),
                    self.connect_timeout,
                ))
            });
            out.push(Arc::clone(target));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_labels() {
        assert_eq!(
            parse_constant_labels("env=prod, dc = eu1").unwrap(),
            vec![("env".into(), "prod".into()), ("dc".into(), "eu1".into())]
        );
        assert!(parse_constant_labels("").unwrap().is_empty());
        assert!(parse_constant_labels("nope").is_err());
        assert!(parse_constant_labels("1x=a").is_err());
        assert!(parse_constant_labels("server=a").is_err());
    }

    #[test]
    fn discovery_filter() {
        let f = DiscoveryFilter {
            include: vec![],
            exclude: vec!["b".into()],
        };
        assert!(f.admits("a") && !f.admits("b"));
        let f = DiscoveryFilter {
            include: vec!["a".into()],
            exclude: vec![],
        };
        assert!(f.admits("a") && !f.admits("c"));
    }
}
