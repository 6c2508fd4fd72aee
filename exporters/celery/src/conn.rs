//! One connection to the Redis broker: TCP or TLS, AUTH and SELECT, request/response and
//! pipelined commands, and the push frames of a subscribed connection. Errors never carry the
//! password.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use exporter_core::tls_client::{system_roots, SkipServerVerification};

use crate::config::{BrokerUrl, CertReqs, ConfigError, TlsOptions};
use crate::resp::{encode_command, parse, ProtocolError, Reply, Value};

#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: String, source: io::Error },
    #[error("TLS handshake with {addr} failed: {source}")]
    Tls { addr: String, source: io::Error },
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    #[error("the broker closed the connection")]
    Closed,
    #[error("{command} failed: {message}")]
    Server {
        command: &'static str,
        message: String,
    },
    #[error("{0} timed out")]
    Timeout(&'static str),
    #[error("unexpected reply to {0}")]
    Unexpected(&'static str),
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Everything needed to open a connection, built once at start-up.
pub struct Connector {
    host: String,
    port: u16,
    db: u32,
    username: Option<String>,
    password: Option<String>,
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    redacted: String,
}

impl Connector {
    /// `password` (from `--broker-password-file`) replaces the URL's.
    pub fn new(url: &BrokerUrl, password: Option<String>) -> Result<Connector, ConfigError> {
        let tls = match &url.tls {
            None => None,
            Some(opts) => {
                let name = ServerName::try_from(url.host.clone()).map_err(|_| {
                    ConfigError(format!(
                        "--broker-url: {:?} is not a valid TLS server name",
                        url.host
                    ))
                })?;
                Some((Arc::new(tls_config(opts)?), name))
            }
        };
        Ok(Connector {
            host: url.host.clone(),
            port: url.port,
            db: url.db,
            username: url.username.clone(),
            password: password.or_else(|| url.password.clone()),
            tls,
            redacted: url.redacted(),
        })
    }

    /// The broker URL without credentials.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    pub fn db(&self) -> u32 {
        self.db
    }

    /// Connects, logs in and selects the database, all within `timeout`.
    pub async fn connect(&self, timeout: Duration) -> Result<Connection, ConnError> {
        tokio::time::timeout(timeout, self.connect_inner())
            .await
            .map_err(|_| ConnError::Timeout("connecting to the broker"))?
    }

    async fn connect_inner(&self) -> Result<Connection, ConnError> {
        let addr = format!("{}:{}", self.host, self.port);
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|source| ConnError::Connect {
                addr: addr.clone(),
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Stream> = match &self.tls {
            None => Box::new(tcp),
            Some((config, name)) => {
                let tls = tokio_rustls::TlsConnector::from(Arc::clone(config))
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|source| ConnError::Tls { addr, source })?;
                Box::new(tls)
            }
        };
        let mut conn = Connection::new(io);
        let mut expected = Vec::new();
        if let Some(password) = &self.password {
            match &self.username {
                Some(user) => conn.queue(&[b"AUTH" as &[u8], user.as_bytes(), password.as_bytes()]),
                None => conn.queue(&[b"AUTH" as &[u8], password.as_bytes()]),
            }
            expected.push("AUTH");
        }
        if self.db != 0 {
            conn.queue(&[b"SELECT" as &[u8], self.db.to_string().as_bytes()]);
            expected.push("SELECT");
        }
        conn.flush().await?;
        for command in expected {
            if let Reply::Error(message) = conn.read_reply().await? {
                return Err(ConnError::Server { command, message });
            }
        }
        Ok(conn)
    }
}

/// CAs from `ssl_ca_certs` or the system bundle; a client certificate from `ssl_certfile` and
/// `ssl_keyfile`; `ssl_cert_reqs=none` accepts any server certificate.
fn tls_config(opts: &TlsOptions) -> Result<rustls::ClientConfig, ConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError(format!("TLS: {e}")))?;
    let builder = match opts.cert_reqs {
        CertReqs::None => builder
            .dangerous()
            .with_custom_certificate_verifier(SkipServerVerification::new(provider)),
        CertReqs::Required => {
            let roots = match &opts.ca_certs {
                Some(path) => {
                    let mut roots = rustls::RootCertStore::empty();
                    for c in load_certs("ssl_ca_certs", path)? {
                        roots.add(c).map_err(|e| {
                            ConfigError(format!(
                                "--broker-url ssl_ca_certs {}: {e}",
                                path.display()
                            ))
                        })?;
                    }
                    roots
                }
                None => system_roots(),
            };
            builder.with_root_certificates(roots)
        }
    };
    match (&opts.certfile, &opts.keyfile) {
        (Some(cert), Some(key)) => {
            let certs = load_certs("ssl_certfile", cert)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                ConfigError(format!("--broker-url ssl_keyfile {}: {e}", key.display()))
            })?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| ConfigError(format!("--broker-url ssl_certfile/ssl_keyfile: {e}")))
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        _ => Err(ConfigError(
            "--broker-url: ssl_certfile and ssl_keyfile go together".into(),
        )),
    }
}

fn load_certs(param: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let err = |m: String| ConfigError(format!("--broker-url {param} {}: {m}", path.display()));
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no PEM certificate found".into()));
    }
    Ok(certs)
}

/// Read buffer size; grows only for a frame larger than this.
const READ_CHUNK: usize = 64 * 1024;

pub struct Connection {
    io: Box<dyn Stream>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    out: Vec<u8>,
}

impl Connection {
    fn new(io: Box<dyn Stream>) -> Connection {
        Connection {
            io,
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            out: Vec::with_capacity(256),
        }
    }

    /// Adds a command to the write buffer.
    pub fn queue<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        encode_command(args, &mut self.out);
    }

    /// Writes the queued commands.
    pub async fn flush(&mut self) -> Result<(), ConnError> {
        if !self.out.is_empty() {
            self.io.write_all(&self.out).await?;
            self.io.flush().await?;
            self.out.clear();
        }
        Ok(())
    }

    /// Sends one command and reads its reply.
    pub async fn request<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, ConnError> {
        self.queue(args);
        self.flush().await?;
        self.read_reply().await
    }

    /// Sends every queued command and reads `n` replies (error replies included, in order).
    pub async fn pipeline(&mut self, n: usize) -> Result<Vec<Reply>, ConnError> {
        self.flush().await?;
        let mut replies = Vec::with_capacity(n);
        loop {
            if replies.len() < n {
                self.drain(|v| {
                    replies.push(v.to_owned_value());
                    replies.len() < n
                })?;
            }
            if replies.len() >= n {
                break;
            }
            self.fill().await?;
        }
        Ok(replies)
    }

    /// Reads until one complete reply is buffered and returns it.
    pub async fn read_reply(&mut self) -> Result<Reply, ConnError> {
        loop {
            let mut reply = None;
            self.drain(|v| {
                reply = Some(v.to_owned_value());
                false
            })?;
            if let Some(r) = reply {
                return Ok(r);
            }
            self.fill().await?;
        }
    }

    /// Waits for more bytes from the broker (cancel-safe: nothing is lost if the future is
    /// dropped).
    pub async fn fill(&mut self) -> Result<(), ConnError> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.len() > 16 * READ_CHUNK {
                // A rare large frame grew the buffer: give the memory back.
                self.buf = vec![0; READ_CHUNK];
            }
        }
        if self.buf.len() - self.end < READ_CHUNK / 4 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.buf.len() - self.end < READ_CHUNK / 4 {
                let len = self.buf.len() * 2;
                self.buf.resize(len, 0);
            }
        }
        let n = self.io.read(&mut self.buf[self.end..]).await?;
        if n == 0 {
            return Err(ConnError::Closed);
        }
        self.end += n;
        Ok(())
    }

    /// Hands every complete buffered frame to `f` until it returns false. Frames stay borrowed
    /// from the read buffer: no copy on the hot path.
    pub fn drain(&mut self, mut f: impl FnMut(Value<'_>) -> bool) -> Result<usize, ConnError> {
        let mut n = 0;
        while self.start < self.end {
            match parse(&self.buf[self.start..self.end])? {
                Some((v, used)) => {
                    self.start += used;
                    n += 1;
                    if !f(v) {
                        break;
                    }
                }
                None => break,
            }
        }
        Ok(n)
    }
}
