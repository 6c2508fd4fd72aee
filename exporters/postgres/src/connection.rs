//! One pooled connection to one database: connected on first use, reconnected after it breaks,
//! statements prepared once per connection and reused on every scrape.
//!
//! Concurrent collectors of one scrape share the connection (tokio-postgres pipelines their
//! queries) and share the outcome of one connection attempt: a server that is down costs one
//! connect timeout per scrape, not one per collector.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use exporter_core::CollectError;
use rustls::ClientConfig;
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, NoTls, Row, Socket, Statement};

use tokio_postgres_rustls::MakeRustlsConnect;

use crate::dsn::Dsn;

/// Why a query produced nothing.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum QueryError {
    /// The server could not be reached or refused us (down, wrong password, timeout).
    #[error("cannot connect to {target}: {reason}")]
    Connect { target: String, reason: String },
    /// What this role may not see, or what this server version does not have.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Failed(String),
}

impl From<QueryError> for CollectError {
    fn from(e: QueryError) -> CollectError {
        match e {
            // Reported once by the connection state; every collector just skips.
            QueryError::Connect { .. } | QueryError::Unavailable(_) => {
                CollectError::NotAvailable(e.to_string())
            }
            QueryError::Failed(msg) => CollectError::Other(msg),
        }
    }
}

/// Describes a tokio-postgres error without anything from the DSN.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        ),
        None => {
            let mut s = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(inner) = source {
                let inner_text = inner.to_string();
                if !s.contains(&inner_text) {
                    s.push_str(": ");
                    s.push_str(&inner_text);
                }
                source = inner.source();
            }
            s
        }
    }
}

fn classify(e: &tokio_postgres::Error, what: &str) -> QueryError {
    let text = format!("{what}: {}", describe(e));
    match e.code() {
        Some(c)
            if *c == SqlState::INSUFFICIENT_PRIVILEGE
                || *c == SqlState::UNDEFINED_TABLE
                || *c == SqlState::UNDEFINED_FUNCTION
                || *c == SqlState::UNDEFINED_COLUMN
                || *c == SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE
                || *c == SqlState::FEATURE_NOT_SUPPORTED =>
        {
            QueryError::Unavailable(text)
        }
        _ => QueryError::Failed(text),
    }
}

/// A live connection and what we learnt about the server when it was made.
pub(crate) struct Session {
    /// Unique per connection made by this process (tells a reconnect from the old session).
    pub(crate) id: u64,
    client: Client,
    statements: Mutex<HashMap<String, Statement>>,
    /// `server_version_num`, e.g. 150004.
    pub(crate) version_num: u32,
    /// `SELECT version()`.
    pub(crate) version: String,
}

impl Session {
    /// `15.4.0`, as upstream's `short_version` label (semver of the first numbers in version()).
    pub(crate) fn short_version(&self) -> String {
        short_version(&self.version)
    }
}

/// Upstream's short version: the first `N(.N)(.N)` after the product name, padded to three parts.
pub(crate) fn short_version(version: &str) -> String {
    let numbers = version.split_whitespace().nth(1).unwrap_or("");
    let mut parts: Vec<&str> = numbers
        .split('.')
        .map(|p| {
            let end = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
            &p[..end]
        })
        .take_while(|p| !p.is_empty())
        .take(3)
        .collect();
    if parts.is_empty() {
        return "0.0.0".into();
    }
    while parts.len() < 3 {
        parts.push("0");
    }
    parts.join(".")
}

#[derive(Default)]
struct State {
    session: Option<Arc<Session>>,
    /// When the last failed attempt finished, and why it failed.
    failure: Option<(Instant, QueryError)>,
    /// Whether the target was up at the last attempt (to log transitions once).
    was_up: Option<bool>,
}

/// One pooled connection to one database (the DSN's), shared by every collector.
pub(crate) struct Connection {
    dsn: Dsn,
    tls: Option<MakeRustlsConnect>,
    connect_timeout: Duration,
    state: tokio::sync::Mutex<State>,
}

impl Connection {
    /// Not connected yet; `connect_timeout` unless the DSN sets its own.
    pub(crate) fn new(
        dsn: Dsn,
        tls: Option<Arc<ClientConfig>>,
        connect_timeout: Duration,
    ) -> Connection {
        let connect_timeout = dsn.connect_timeout().unwrap_or(connect_timeout);
        Connection {
            dsn,
            tls: tls.map(|config| MakeRustlsConnect::new(ClientConfig::clone(&config))),
            connect_timeout,
            state: tokio::sync::Mutex::new(State::default()),
        }
    }

    /// The DSN it connects with.
    pub(crate) fn dsn(&self) -> &Dsn {
        &self.dsn
    }

    /// The current connection, connecting first if there is none. Callers that were waiting
    /// while another caller's attempt failed get that failure instead of trying again.
    pub(crate) async fn session(&self) -> Result<Arc<Session>, QueryError> {
        let asked = Instant::now();
        let mut state = self.state.lock().await;
        if let Some(s) = &state.session {
            if !s.client.is_closed() {
                return Ok(Arc::clone(s));
            }
            state.session = None;
        }
        if let Some((finished, err)) = &state.failure {
            if *finished >= asked {
                return Err(err.clone());
            }
        }
        // Within the scrape's own deadline too (most of it: the collectors still need to answer
        // `pg_up 0`), so a short Prometheus scrape timeout still gets an answer.
        let budget = exporter_core::scrape_deadline()
            .map(|d| d.saturating_duration_since(tokio::time::Instant::now()))
            .map_or(self.connect_timeout, |left| {
                self.connect_timeout.min(left.mul_f64(0.8))
            });
        let result = match tokio::time::timeout(budget, self.connect()).await {
            Ok(r) => r,
            Err(_) => Err(format!("timed out after {:.1}s", budget.as_secs_f64())),
        };
        match result {
            Ok(session) => {
                if state.was_up != Some(true) {
                    tracing::info!(target = %self.dsn.redacted(), version = %session.short_version(), "connected to PostgreSQL");
                }
                state.was_up = Some(true);
                state.failure = None;
                let session = Arc::new(session);
                state.session = Some(Arc::clone(&session));
                Ok(session)
            }
            Err(reason) => {
                let err = QueryError::Connect {
                    target: self.dsn.redacted(),
                    reason,
                };
                if state.was_up != Some(false) {
                    tracing::error!(err = %err, "PostgreSQL is unreachable");
                } else {
                    tracing::debug!(err = %err, "PostgreSQL is still unreachable");
                }
                state.was_up = Some(false);
                state.failure = Some((Instant::now(), err.clone()));
                Err(err)
            }
        }
    }

    async fn connect(&self) -> Result<Session, String> {
        let config = self.dsn.to_config();
        let client = match &self.tls {
            None => open(&config, NoTls).await,
            Some(tls) => open(&config, tls.clone()).await,
        }
        .map_err(|e| self.describe_connect_error(&e))?;
        let row = client
            .query_one(
                "SELECT current_setting('server_version_num')::int4, version()",
                &[],
            )
            .await
            .map_err(|e| describe(&e))?;
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Ok(Session {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            version_num: row.try_get::<_, i32>(0).map_err(|e| e.to_string())? as u32,
            version: row.try_get(1).map_err(|e| e.to_string())?,
            client,
            statements: Mutex::new(HashMap::new()),
        })
    }

    /// A failed connection attempt, with what `channel_binding=require` needs when that is why.
    fn describe_connect_error(&self, e: &tokio_postgres::Error) -> String {
        let text = describe(e);
        if self.dsn.requires_channel_binding() && text.contains("channel binding") {
            format!(
                "{text} (channel_binding=require: the server must authenticate with \
                 SCRAM-SHA-256 over TLS, and did not on this connection)"
            )
        } else {
            text
        }
    }

    /// Runs `sql` (prepared once per connection) on `session`.
    pub(crate) async fn query(
        &self,
        session: &Arc<Session>,
        sql: &str,
    ) -> Result<Vec<Row>, QueryError> {
        self.query_params(session, sql, &[]).await
    }

    /// [`query`](Self::query) with parameters.
    pub(crate) async fn query_params(
        &self,
        session: &Arc<Session>,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, QueryError> {
        let cached = session
            .statements
            .lock()
            .ok()
            .and_then(|m| m.get(sql).cloned());
        let statement = match cached {
            Some(s) => s,
            None => {
                let s = session
                    .client
                    .prepare(sql)
                    .await
                    .map_err(|e| self.failed(session, &e, "prepare"))?;
                if let Ok(mut m) = session.statements.lock() {
                    m.insert(sql.to_string(), s.clone());
                }
                s
            }
        };
        match session.client.query(&statement, params).await {
            Ok(rows) => Ok(rows),
            Err(e) => {
                // Re-prepare next time: the error may be a plan invalidated by DDL.
                if let Ok(mut m) = session.statements.lock() {
                    m.remove(sql);
                }
                Err(self.failed(session, &e, "query"))
            }
        }
    }

    /// Session plus query, for collectors that need nothing else.
    pub(crate) async fn session_query(
        &self,
        sql: impl FnOnce(&Session) -> String,
    ) -> Result<(Arc<Session>, Vec<Row>), QueryError> {
        let session = self.session().await?;
        let text = sql(&session);
        let rows = self.query(&session, &text).await?;
        Ok((session, rows))
    }

    fn failed(&self, session: &Arc<Session>, e: &tokio_postgres::Error, what: &str) -> QueryError {
        if session.client.is_closed() || e.is_closed() {
            // The connection broke: forget it so the next caller reconnects.
            if let Ok(mut state) = self.state.try_lock() {
                if state
                    .session
                    .as_ref()
                    .is_some_and(|s| Arc::ptr_eq(s, session))
                {
                    state.session = None;
                }
            }
            return QueryError::Connect {
                target: self.dsn.redacted(),
                reason: describe(e),
            };
        }
        classify(e, what)
    }
}

/// Connects and drives the connection in its own task until it closes.
async fn open<T>(config: &tokio_postgres::Config, tls: T) -> Result<Client, tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = config.connect(tls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(err = %describe(&e), "PostgreSQL connection closed");
        }
    });
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_versions_as_upstream() {
        assert_eq!(
            short_version("PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu"),
            "15.18.0"
        );
        assert_eq!(short_version("PostgreSQL 9.6.24 on x86_64"), "9.6.24");
        assert_eq!(short_version("PostgreSQL 17beta1 on x"), "17.0.0");
        assert_eq!(short_version("garbage"), "0.0.0");
    }

    #[test]
    fn connect_errors_become_not_available() {
        let e = QueryError::Connect {
            target: "postgresql://u:****@h:1/db?sslmode=disable".into(),
            reason: "refused".into(),
        };
        assert!(matches!(
            CollectError::from(e),
            CollectError::NotAvailable(_)
        ));
        assert!(matches!(
            CollectError::from(QueryError::Failed("x".into())),
            CollectError::Other(_)
        ));
    }
}
