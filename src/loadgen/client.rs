//! A minimal HTTP/1.1 client: one keep-alive connection, requests one after another (hyper's
//! low-level client, so no connection pool or TLS stack is pulled in). Reconnects by itself.

use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {authority}: {source}")]
    Connect {
        authority: String,
        source: std::io::Error,
    },
    #[error("HTTP handshake failed: {0}")]
    Handshake(hyper::Error),
    #[error("request failed: {0}")]
    Request(hyper::Error),
    #[error("no complete answer within {0:?}")]
    Timeout(Duration),
    #[error("invalid request: {0}")]
    Build(#[from] http::Error),
}

impl ClientError {
    /// A short, fixed name, to group errors in a summary.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientError::Connect { .. } => "connect",
            ClientError::Handshake(_) => "handshake",
            ClientError::Request(_) => "request",
            ClientError::Timeout(_) => "timeout",
            ClientError::Build(_) => "build",
        }
    }
}

/// A complete answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

pub struct Connection {
    authority: String,
    host: HeaderValue,
    timeout: Duration,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    /// `authority` is `host:port`. Nothing is connected until the first request.
    pub fn new(authority: impl Into<String>) -> Self {
        let authority = authority.into();
        let host = HeaderValue::from_str(&authority)
            .unwrap_or_else(|_| HeaderValue::from_static("localhost"));
        Connection {
            authority,
            host,
            timeout: Duration::from_secs(30),
            sender: None,
        }
    }

    /// Limit for a whole exchange: connecting, sending, and reading the complete answer.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub async fn get(&mut self, path: &str) -> Result<Reply, ClientError> {
        self.request(Method::GET, path, &[], Bytes::new()).await
    }

    pub async fn post_json(
        &mut self,
        path: &str,
        body: impl Into<Bytes>,
    ) -> Result<Reply, ClientError> {
        let json = [(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
        self.request(Method::POST, path, &json, body.into()).await
    }

    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(http::HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<Reply, ClientError> {
        let mut req = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let req = req.header(HOST, self.host.clone()).body(Full::new(body))?;
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.exchange(req)).await {
            Ok(result) => result,
            Err(_) => {
                // The connection may still carry the late answer: never reuse it.
                self.sender = None;
                Err(ClientError::Timeout(timeout))
            }
        }
    }

    async fn exchange(&mut self, mut req: Request<Full<Bytes>>) -> Result<Reply, ClientError> {
        // One retry, only for a request that provably never left (the server had closed the idle
        // connection): retrying anything else could make the server count it twice.
        for attempt in 0..2 {
            let sender = self.ready_sender().await?;
            match sender.try_send_request(req).await {
                Ok(response) => {
                    let (parts, body) = response.into_parts();
                    let body = match body.collect().await {
                        Ok(collected) => collected.to_bytes(),
                        Err(e) => {
                            self.sender = None;
                            return Err(ClientError::Request(e));
                        }
                    };
                    return Ok(Reply {
                        status: parts.status,
                        headers: parts.headers,
                        body,
                    });
                }
                Err(mut e) => {
                    self.sender = None;
                    match e.take_message() {
                        Some(unsent) if attempt == 0 => req = unsent,
                        _ => return Err(ClientError::Request(e.into_error())),
                    }
                }
            }
        }
        unreachable!("the second attempt returns")
    }

    async fn ready_sender(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, ClientError> {
        if let Some(sender) = &mut self.sender {
            if sender.ready().await.is_err() {
                self.sender = None;
            }
        }
        if self.sender.is_none() {
            self.sender = Some(self.connect().await?);
        }
        Ok(self.sender.as_mut().expect("connected above"))
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, ClientError> {
        let stream = TcpStream::connect(&self.authority)
            .await
            .map_err(|source| ClientError::Connect {
                authority: self.authority.clone(),
                source,
            })?;
        // Small requests one after another: waiting to coalesce them only adds latency.
        let _ = stream.set_nodelay(true);
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(ClientError::Handshake)?;
        // The connection task ends when the server closes or the sender is dropped; its error
        // also reaches the pending request, which reports it.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }
}
