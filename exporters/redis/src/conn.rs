//! One connection to Redis over TCP, a unix socket or TLS, with pipelined commands.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use exporter_core::tls_client::{system_roots, SkipServerVerification};

use crate::target::{Endpoint, Target};
use resp::{encode_command, parse_reply, ProtocolError, Reply};

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("connection closed by the server")]
    Closed,
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
}

impl ConnError {
    /// True when the connection may simply have gone stale (server restarted, idle timeout), so a
    /// fresh connection is worth one more try.
    pub fn is_stale_connection(&self) -> bool {
        matches!(self, ConnError::Closed | ConnError::Io(_))
    }
}

/// A command: its arguments as bytes.
pub type Cmd = Vec<Vec<u8>>;

/// Builds a command from string-like arguments.
pub fn cmd<A: AsRef<[u8]>>(args: &[A]) -> Cmd {
    args.iter().map(|a| a.as_ref().to_vec()).collect()
}

pub struct Connection {
    io: Box<dyn Io>,
    buf: Vec<u8>,
    /// Start of unparsed bytes in `buf`.
    start: usize,
    out: Vec<u8>,
}

const READ_CHUNK: usize = 64 * 1024;

impl Connection {
    /// Opens the transport (no AUTH: that is pipelined with the first commands).
    pub async fn open(target: &Target, tls: &TlsSettings) -> Result<Connection, ConnError> {
        let io: Box<dyn Io> = match &target.endpoint {
            Endpoint::Unix(path) => {
                #[cfg(unix)]
                {
                    Box::new(
                        tokio::net::UnixStream::connect(path)
                            .await
                            .map_err(ConnError::Connect)?,
                    )
                }
                #[cfg(not(unix))]
                {
                    let _ = path;
                    return Err(ConnError::Connect(std::io::Error::other(
                        "unix sockets are not supported on this platform",
                    )));
                }
            }
            Endpoint::Tcp {
                host,
                port,
                tls: use_tls,
            } => {
                let stream = tokio::net::TcpStream::connect((host.as_str(), *port))
                    .await
                    .map_err(ConnError::Connect)?;
                let _ = stream.set_nodelay(true);
                if *use_tls {
                    let name = tls.server_name_for(host)?;
                    let connector = tokio_rustls::TlsConnector::from(Arc::clone(&tls.config));
                    let s = connector
                        .connect(name, stream)
                        .await
                        .map_err(|e| ConnError::Tls(e.to_string()))?;
                    Box::new(s)
                } else {
                    Box::new(stream)
                }
            }
        };
        Ok(Connection {
            io,
            buf: Vec::with_capacity(READ_CHUNK),
            start: 0,
            out: Vec::with_capacity(1024),
        })
    }

    /// Sends every command in one write and reads as many replies. Error replies are replies, not
    /// errors: the caller decides what a failed command means.
    pub async fn pipeline(&mut self, cmds: &[Cmd]) -> Result<Vec<Reply>, ConnError> {
        self.out.clear();
        for c in cmds {
            encode_command(c, &mut self.out);
        }
        self.io.write_all(&self.out).await?;
        self.io.flush().await?;
        let mut replies = Vec::with_capacity(cmds.len());
        while replies.len() < cmds.len() {
            match parse_reply(&self.buf[self.start..])? {
                Some((reply, used)) => {
                    self.start += used;
                    replies.push(reply);
                }
                None => {
                    self.compact();
                    if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
                        self.buf.reserve(READ_CHUNK);
                    }
                    if self.io.read_buf(&mut self.buf).await? == 0 {
                        return Err(ConnError::Closed);
                    }
                }
            }
        }
        self.compact();
        // Do not keep a huge buffer around after one big reply (CLIENT LIST on a busy server).
        if self.buf.capacity() > 4 * READ_CHUNK && self.buf.is_empty() {
            self.buf = Vec::with_capacity(READ_CHUNK);
        }
        Ok(replies)
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }
}

/// The client side of TLS, built once at start-up from the `--tls-*` flags.
#[derive(Clone)]
pub struct TlsSettings {
    pub config: Arc<rustls::ClientConfig>,
    /// `--tls-server-name`: the name the server's certificate is verified against (and sent as
    /// SNI) instead of the host dialled, for servers reached by IP or through an alias whose
    /// name the certificate does not carry.
    pub server_name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("--{flag} {path}: {message}")]
    File {
        flag: &'static str,
        path: String,
        message: String,
    },
    #[error("--tls-client-cert-file and --tls-client-key-file go together")]
    HalfClientAuth,
    #[error("TLS client configuration: {0}")]
    Config(String),
    #[error("--tls-server-name {name:?}: not a valid DNS name or IP address")]
    ServerName { name: String },
}

impl TlsSettings {
    /// The name to verify a server's certificate against when dialling `host`.
    pub fn server_name_for(&self, host: &str) -> Result<ServerName<'static>, ConnError> {
        let name = self.server_name.as_deref().unwrap_or(host);
        ServerName::try_from(name.to_string())
            .map_err(|e| ConnError::Tls(format!("invalid server name {name:?}: {e}")))
    }

    /// Verifies certificates against `name` instead of the host dialled (`--tls-server-name`).
    pub fn with_server_name(mut self, name: Option<&str>) -> Result<Self, TlsSetupError> {
        let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
            return Ok(self);
        };
        if ServerName::try_from(name.to_string()).is_err() {
            return Err(TlsSetupError::ServerName {
                name: name.to_string(),
            });
        }
        self.server_name = Some(name.to_string());
        Ok(self)
    }

    /// `ca_file`: trusted CAs (default: the system bundle); `client`: certificate and key for
    /// servers that require client authentication; `skip_verify`: accept any server certificate.
    pub fn new(
        ca_file: Option<&Path>,
        client_cert: Option<&Path>,
        client_key: Option<&Path>,
        skip_verify: bool,
    ) -> Result<TlsSettings, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError::Config(e.to_string()))?;
        let builder = if skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(SkipServerVerification::new(provider))
        } else {
            let roots = match ca_file {
                Some(path) => {
                    let mut roots = rustls::RootCertStore::empty();
                    for c in load_certs("tls-ca-cert-file", path)? {
                        roots.add(c).map_err(|e| TlsSetupError::File {
                            flag: "tls-ca-cert-file",
                            path: path.display().to_string(),
                            message: e.to_string(),
                        })?;
                    }
                    roots
                }
                None => system_roots(),
            };
            builder.with_root_certificates(roots)
        };
        let config = match (client_cert, client_key) {
            (Some(cert), Some(key)) => {
                let certs = load_certs("tls-client-cert-file", cert)?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsSetupError::File {
                    flag: "tls-client-key-file",
                    path: key.display().to_string(),
                    message: e.to_string(),
                })?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| TlsSetupError::Config(e.to_string()))?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => return Err(TlsSetupError::HalfClientAuth),
        };
        Ok(TlsSettings {
            config: Arc::new(config),
            server_name: None,
        })
    }
}

fn load_certs(
    flag: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let err = |message: String| TlsSetupError::File {
        flag,
        path: path.display().to_string(),
        message,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no PEM certificate found".into()));
    }
    Ok(certs)
}
