//! One connection to a Redis server: TCP, TLS over TCP or a unix socket; logging in (AUTH) and
//! selecting the database in the first round trip; pipelined commands; and the push frames of a
//! subscribed connection, read without copying. Errors never carry the password.
//!
//! A [`Connector`] is built once (address, TLS, credentials, database, timeout) and opens as
//! many [`Connection`]s as needed. The codec speaks RESP2, so the login is `AUTH [user] password`,
//! never `HELLO 3`.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::codec::{encode_command, parse, ProtocolError, Reply, Value};
use crate::secret::Secret;
use crate::tls::TlsClient;

/// A command: its arguments as bytes.
pub type Cmd = Vec<Vec<u8>>;

/// Builds a [`Cmd`] from string-like arguments: `cmd(&["CLIENT", "SETNAME", "x"])`.
pub fn cmd<A: AsRef<[u8]>>(args: &[A]) -> Cmd {
    args.iter().map(|a| a.as_ref().to_vec()).collect()
}

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A host name or IP address and a port.
    Tcp {
        /// Host name or IP address (IPv6 without brackets).
        host: String,
        /// TCP port.
        port: u16,
    },
    /// The path of a unix socket.
    Unix(PathBuf),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Address::Tcp { host, port } => write!(f, "{host}:{port}"),
            Address::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Why a connection failed or broke.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// The TCP or unix-socket connect failed.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address dialled (never with credentials).
        addr: String,
        /// What the system said.
        source: io::Error,
    },
    /// The TLS handshake failed, or the server name is unusable.
    #[error("TLS with {addr}: {message}")]
    Tls {
        /// The address dialled.
        addr: String,
        /// What went wrong.
        message: String,
    },
    /// The server refused the login.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The server refused a command of the login round trip (SELECT).
    #[error("{command} failed: {message}")]
    Server {
        /// The command refused.
        command: &'static str,
        /// The server's error reply.
        message: String,
    },
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The server closed the connection.
    #[error("connection closed by the server")]
    Closed,
    /// The server sent bytes that are not RESP2.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// Something took longer than allowed: `connecting to <addr>` for the connector's own
    /// timeout, or whatever the caller names.
    #[error("{0} timed out")]
    Timeout(String),
    /// A reply of the wrong shape to the named command.
    #[error("unexpected reply to {0}")]
    Unexpected(&'static str),
}

impl ConnError {
    /// True when a kept connection may simply have gone stale (server restarted, idle timeout), so
    /// a fresh connection is worth one more try.
    pub fn is_stale_connection(&self) -> bool {
        matches!(self, ConnError::Closed | ConnError::Io(_))
    }
}

/// Everything needed to open a connection, built once.
#[derive(Debug, Clone)]
pub struct Connector {
    address: Address,
    tls: Option<TlsClient>,
    user: Option<String>,
    password: Option<Secret>,
    db: u32,
    timeout: Option<Duration>,
}

impl Connector {
    /// A connector for `address`: plain, no login, database 0, no timeout of its own.
    pub fn new(address: Address) -> Self {
        Connector {
            address,
            tls: None,
            user: None,
            password: None,
            db: 0,
            timeout: None,
        }
    }

    /// Speaks TLS over TCP with `tls` (ignored for unix sockets).
    pub fn tls(mut self, tls: TlsClient) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Logs in with `AUTH [user] password`; no password (or an empty one): no AUTH, and the user
    /// is not used.
    pub fn login(mut self, user: Option<String>, password: Option<Secret>) -> Self {
        self.user = user;
        self.password = password.filter(|p| !p.is_empty());
        self
    }

    /// Selects database `db` after logging in (0: no SELECT).
    pub fn db(mut self, db: u32) -> Self {
        self.db = db;
        self
    }

    /// Bounds connecting, the TLS handshake and the login round trip together.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Where this connector dials.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The database selected on connect.
    pub fn database(&self) -> u32 {
        self.db
    }

    /// True when connections speak TLS.
    pub fn uses_tls(&self) -> bool {
        self.tls.is_some() && matches!(self.address, Address::Tcp { .. })
    }

    /// Connects, logs in and selects the database.
    pub async fn connect(&self) -> Result<Connection, ConnError> {
        Ok(self.connect_with(&[]).await?.0)
    }

    /// [`Connector::connect`] within `timeout` instead of the connector's own.
    pub async fn connect_within(&self, timeout: Duration) -> Result<Connection, ConnError> {
        self.clone().timeout(timeout).connect().await
    }

    /// Connects, and sends `first` in the same round trip as the login and SELECT (such as
    /// `CLIENT SETNAME`); returns the connection and the replies to `first`, error replies
    /// included.
    pub async fn connect_with(&self, first: &[Cmd]) -> Result<(Connection, Vec<Reply>), ConnError> {
        match self.timeout {
            Some(limit) => tokio::time::timeout(limit, self.open_and_login(first))
                .await
                .map_err(|_| ConnError::Timeout(format!("connecting to {}", self.address)))?,
            None => self.open_and_login(first).await,
        }
    }

    async fn open_and_login(&self, first: &[Cmd]) -> Result<(Connection, Vec<Reply>), ConnError> {
        let mut conn = Connection::new(self.open().await?);
        let mut login = 0;
        if let Some(password) = &self.password {
            match &self.user {
                Some(user) => conn.queue(&[
                    b"AUTH" as &[u8],
                    user.as_bytes(),
                    password.expose().as_bytes(),
                ]),
                None => conn.queue(&[b"AUTH" as &[u8], password.expose().as_bytes()]),
            }
            login += 1;
        }
        if self.db != 0 {
            conn.queue(&[b"SELECT" as &[u8], self.db.to_string().as_bytes()]);
            login += 1;
        }
        if login == 0 && first.is_empty() {
            return Ok((conn, Vec::new()));
        }
        for c in first {
            conn.queue(c);
        }
        let mut replies = conn.read_replies(login + first.len()).await?;
        let rest = replies.split_off(login);
        let mut login_replies = replies.into_iter();
        if self.password.is_some() {
            if let Some(Reply::Error(message)) = login_replies.next() {
                return Err(ConnError::Auth(message));
            }
        }
        if self.db != 0 {
            if let Some(Reply::Error(message)) = login_replies.next() {
                return Err(ConnError::Server {
                    command: "SELECT",
                    message,
                });
            }
        }
        Ok((conn, rest))
    }

    async fn open(&self) -> Result<Box<dyn Stream>, ConnError> {
        let addr = || self.address.to_string();
        let connect_error = |source| ConnError::Connect {
            addr: addr(),
            source,
        };
        match &self.address {
            Address::Unix(path) => {
                #[cfg(unix)]
                {
                    let stream = tokio::net::UnixStream::connect(path)
                        .await
                        .map_err(connect_error)?;
                    Ok(Box::new(stream))
                }
                #[cfg(not(unix))]
                {
                    let _ = path;
                    Err(connect_error(io::Error::other(
                        "unix sockets are not supported on this platform",
                    )))
                }
            }
            Address::Tcp { host, port } => {
                let tcp = tokio::net::TcpStream::connect((host.as_str(), *port))
                    .await
                    .map_err(connect_error)?;
                let _ = tcp.set_nodelay(true);
                let Some(tls) = &self.tls else {
                    return Ok(Box::new(tcp));
                };
                let tls_error = |message: String| ConnError::Tls {
                    addr: addr(),
                    message,
                };
                let name = tls
                    .server_name_for(host)
                    .map_err(|e| tls_error(e.to_string()))?;
                let stream = tokio_rustls::TlsConnector::from(Arc::clone(tls.config()))
                    .connect(name, tcp)
                    .await
                    .map_err(|e| tls_error(e.to_string()))?;
                Ok(Box::new(stream))
            }
        }
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Read buffer size; the buffer grows only for a frame larger than this.
const READ_CHUNK: usize = 64 * 1024;
/// A buffer grown past this by one large reply (CLIENT LIST on a busy server) is given back once
/// it is empty again.
const KEEP_AT_MOST: usize = 4 * READ_CHUNK;

/// One open connection. Commands are queued, then flushed in one write; replies are read in
/// order, as owned [`Reply`]s or borrowed [`Value`]s.
pub struct Connection {
    io: Box<dyn Stream>,
    buf: Vec<u8>,
    /// Unparsed bytes are `buf[start..]`; reads append to `buf` in its spare capacity, so no
    /// memory is touched before a reply needs it.
    start: usize,
    out: Vec<u8>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("buffered", &(self.buf.len() - self.start))
            .finish_non_exhaustive()
    }
}

impl Connection {
    fn new(io: Box<dyn Stream>) -> Connection {
        Connection {
            io,
            buf: Vec::with_capacity(READ_CHUNK),
            start: 0,
            out: Vec::with_capacity(1024),
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

    /// Sends every command in one write and reads as many replies. Error replies are replies,
    /// not errors: the caller decides what a refused command means.
    pub async fn pipeline(&mut self, cmds: &[Cmd]) -> Result<Vec<Reply>, ConnError> {
        for c in cmds {
            self.queue(c);
        }
        self.read_replies(cmds.len()).await
    }

    /// Flushes the queued commands and reads `n` replies (error replies included, in order).
    pub async fn read_replies(&mut self, n: usize) -> Result<Vec<Reply>, ConnError> {
        self.flush().await?;
        let mut replies = Vec::with_capacity(n);
        while replies.len() < n {
            self.drain(|v| {
                replies.push(v.to_owned_value());
                replies.len() < n
            })?;
            if replies.len() < n {
                self.fill().await?;
            }
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

    /// Waits for more bytes from the server (cancel-safe: nothing is lost if the future is
    /// dropped). The server closing the connection is [`ConnError::Closed`].
    pub async fn fill(&mut self) -> Result<(), ConnError> {
        if self.start == self.buf.len() {
            self.start = 0;
            self.buf.clear();
            if self.buf.capacity() > KEEP_AT_MOST {
                self.buf = Vec::with_capacity(READ_CHUNK);
            }
        }
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.drain(..self.start);
            self.start = 0;
            if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
                self.buf.reserve(self.buf.capacity().max(READ_CHUNK));
            }
        }
        if self.io.read_buf(&mut self.buf).await? == 0 {
            return Err(ConnError::Closed);
        }
        Ok(())
    }

    /// Gives back the read buffer's memory while the connection is kept idle (between scrapes):
    /// a kept connection then costs its socket, not a 64 KiB buffer whose touched pages stay
    /// resident. Bytes not parsed yet are kept. The next [`Connection::fill`] allocates again
    /// (one allocation).
    pub fn release_buffers(&mut self) {
        if self.start == self.buf.len() {
            self.buf = Vec::new();
        } else {
            self.buf.drain(..self.start);
            self.buf.shrink_to_fit();
        }
        self.start = 0;
    }

    /// Hands every complete buffered frame to `f` until it returns false; returns how many it
    /// was given. Frames stay borrowed from the read buffer: no copy on the hot path.
    pub fn drain(&mut self, mut f: impl FnMut(Value<'_>) -> bool) -> Result<usize, ConnError> {
        let mut n = 0;
        while self.start < self.buf.len() {
            match parse(&self.buf[self.start..])? {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    use exporter_core::testkit::{free_port, wait_for, ChildGuard};
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// A listener that reads one request and answers `reply`, one byte per write.
    async fn fake_server(reply: &'static [u8]) -> u16 {
        fake_server_chunked(reply.to_vec(), 1).await
    }

    /// A listener that reads one request and answers `reply` in writes of `chunk` bytes.
    async fn fake_server_chunked(reply: Vec<u8>, chunk: usize) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            for part in reply.chunks(chunk) {
                let _ = s.write_all(part).await;
                let _ = s.flush().await;
            }
        });
        port
    }

    fn tcp(port: u16) -> Connector {
        Connector::new(Address::Tcp {
            host: "127.0.0.1".into(),
            port,
        })
    }

    #[test]
    fn replies_split_across_reads_are_put_together() {
        runtime().block_on(async {
            let port = fake_server(b"+OK\r\n$5\r\nhello\r\n*2\r\n:1\r\n-ERR no\r\n").await;
            let (mut conn, first) = tcp(port)
                .login(None, Some(Secret::new("pw")))
                .connect_with(&[cmd(&["PING"])])
                .await
                .unwrap();
            assert_eq!(first, [Reply::Bulk(Some(b"hello".to_vec()))]);
            let r = conn.read_reply().await.unwrap();
            assert_eq!(r.as_array().unwrap()[1].error(), Some("ERR no"));
            assert!(matches!(conn.read_reply().await, Err(ConnError::Closed)));
        });
    }

    #[test]
    fn a_reply_larger_than_the_buffer_grows_it_then_gives_it_back() {
        runtime().block_on(async {
            let big = vec![b'x'; 5 * READ_CHUNK];
            let mut reply = format!("${}\r\n", big.len()).into_bytes();
            reply.extend_from_slice(&big);
            reply.extend_from_slice(b"\r\n:7\r\n");
            let port = fake_server_chunked(reply, 4096).await;
            let mut conn = tcp(port).connect().await.unwrap();
            let replies = conn
                .pipeline(&[cmd(&["GET", "k"]), cmd(&["INCR", "n"])])
                .await
                .unwrap();
            assert_eq!(replies[0].as_bytes().map(<[u8]>::len), Some(big.len()));
            assert_eq!(replies[1], Reply::Integer(7));
            assert!(conn.buf.capacity() > KEEP_AT_MOST);
            assert!(matches!(conn.fill().await, Err(ConnError::Closed)));
            assert!(
                conn.buf.capacity() <= KEEP_AT_MOST,
                "{}",
                conn.buf.capacity()
            );
        });
    }

    #[test]
    fn released_buffers_are_given_back_and_come_again() {
        runtime().block_on(async {
            // Answers every request with a 40 KB bulk string, then an integer in the same write.
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            tokio::spawn(async move {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut reply = format!("${}\r\n", 40_000).into_bytes();
                reply.extend_from_slice(&[b'x'; 40_000]);
                reply.extend_from_slice(b"\r\n:7\r\n");
                let mut buf = [0u8; 1024];
                while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {
                    let _ = s.write_all(&reply).await;
                }
            });
            let mut conn = tcp(port).connect().await.unwrap();
            for _ in 0..3 {
                let replies = conn
                    .pipeline(&[cmd(&["GET", "k"]), cmd(&["INCR", "n"])])
                    .await
                    .unwrap();
                assert_eq!(replies[0].as_bytes().map(<[u8]>::len), Some(40_000));
                assert_eq!(replies[1], Reply::Integer(7));
                assert!(conn.buf.capacity() >= READ_CHUNK);
                conn.release_buffers();
                assert_eq!(conn.buf.capacity(), 0);
                assert_eq!(conn.start, 0);
            }
            // Bytes not parsed yet survive a release.
            conn.queue(&["GET", "k"]);
            conn.flush().await.unwrap();
            let big = conn.read_reply().await.unwrap();
            assert_eq!(big.as_bytes().map(<[u8]>::len), Some(40_000));
            // The integer may still be on its way: wait until it is buffered.
            while conn.buf.len() - conn.start < 4 {
                conn.fill().await.unwrap();
            }
            conn.release_buffers();
            assert_eq!(conn.buf.len(), 4);
            assert!(conn.buf.capacity() < READ_CHUNK);
            assert_eq!(conn.read_reply().await.unwrap(), Reply::Integer(7));
        });
    }

    #[test]
    fn refused_login_and_select_are_errors() {
        runtime().block_on(async {
            let port = fake_server(b"-WRONGPASS invalid username-password pair\r\n+OK\r\n").await;
            let err = tcp(port)
                .login(Some("u".into()), Some(Secret::new("hunter2")))
                .db(3)
                .connect()
                .await
                .unwrap_err();
            assert!(
                matches!(&err, ConnError::Auth(m) if m.starts_with("WRONGPASS")),
                "{err}"
            );
            assert!(!format!("{err} {err:?}").contains("hunter2"));
            let port = fake_server(b"-ERR DB index is out of range\r\n").await;
            let err = tcp(port).db(99).connect().await.unwrap_err();
            assert_eq!(
                err.to_string(),
                "SELECT failed: ERR DB index is out of range"
            );
        });
    }

    #[test]
    fn connect_failures_name_the_address_and_time_out() {
        runtime().block_on(async {
            let err = tcp(free_port()).connect().await.unwrap_err();
            assert!(
                err.to_string().starts_with("cannot connect to 127.0.0.1:"),
                "{err}"
            );
            // A server that accepts but never answers the login.
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let err = tcp(port)
                .login(None, Some(Secret::new("pw")))
                .timeout(Duration::from_millis(100))
                .connect()
                .await
                .unwrap_err();
            assert!(matches!(err, ConnError::Timeout(_)), "{err}");
            assert!(
                err.to_string().starts_with("connecting to 127.0.0.1:"),
                "{err}"
            );
            let err = tcp(port)
                .login(None, Some(Secret::new("pw")))
                .connect_within(Duration::from_millis(50))
                .await
                .unwrap_err();
            assert!(err.to_string().ends_with("timed out"), "{err}");
            drop(listener);
            assert_eq!(
                Address::Tcp {
                    host: "::1".into(),
                    port: 1
                }
                .to_string(),
                "[::1]:1"
            );
        });
    }

    /// Against a real redis-server: AUTH with ACL user, SELECT, pipelining, a unix socket.
    #[test]
    fn real_redis_login_select_and_pipeline() {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let socket = dir.path().join("redis.sock");
        let mut server = Command::new("redis-server");
        server
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--requirepass", "pw"])
            .arg("--unixsocket")
            .arg(&socket)
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _guard = ChildGuard::spawn("redis-server", &mut server);
        wait_for("redis-server", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        runtime().block_on(async {
            let connector = tcp(port)
                .login(Some("default".into()), Some(Secret::new("pw")))
                .db(2)
                .timeout(Duration::from_secs(5));
            let (mut conn, first) = connector
                .connect_with(&[cmd(&["CLIENT", "SETNAME", "resp-test"])])
                .await
                .unwrap();
            assert_eq!(first, [Reply::Simple(b"OK".to_vec())]);
            let replies = conn
                .pipeline(&[
                    cmd(&["SET", "k", "v"]),
                    cmd(&["CLIENT", "INFO"]),
                    cmd(&["NOPE"]),
                ])
                .await
                .unwrap();
            let info = replies[1].as_text().unwrap();
            assert!(
                info.contains("db=2") && info.contains("name=resp-test"),
                "{info}"
            );
            assert!(replies[2].error().is_some());
            let err = tcp(port)
                .login(None, Some(Secret::new("wrong")))
                .connect()
                .await
                .unwrap_err();
            assert!(matches!(err, ConnError::Auth(_)), "{err}");
            let mut unix = Connector::new(Address::Unix(socket.clone()))
                .login(None, Some(Secret::new("pw")))
                .db(2)
                .connect()
                .await
                .unwrap();
            let v = unix.request(&["GET", "k"]).await.unwrap();
            assert_eq!(v.as_bytes(), Some(&b"v"[..]));
        });
    }
}
