//! The HTTP side: hyper 1 on tokio, optional TLS and basic auth, the telemetry path, a landing
//! page, health endpoints, and graceful shutdown on SIGTERM/SIGINT.

use std::convert::Infallible;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::collector::{AnyCollector, BoxFuture};
use crate::encode::TEXT_CONTENT_TYPE;
use crate::exporter::{Exporter, VERSION};
use crate::memory::ScrapesInFlight;
use crate::web_config::WebConfig;
use crate::web_config_reload::ReloadingWebConfig;

/// What the server and every extra endpoint answer: the whole body built before it is sent.
pub type HttpResponse = Response<Full<Bytes>>;

/// Prometheus' default scrape timeout, used when a request does not say its own.
const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);
/// Slowest a client may be to send its request headers or finish a TLS handshake.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long in-flight requests may finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// An extra endpoint (e.g. `/scrape?target=` for multi-target exporters).
pub trait RouteHandler: Send + Sync + 'static {
    /// Answers one GET or HEAD of the endpoint's path. It runs after basic auth and within
    /// `--web.max-requests` (counted as a scrape), and should be done by `req.deadline`.
    fn handle(&self, req: RouteRequest) -> BoxFuture<'_, HttpResponse>;
}

/// What an extra endpoint gets from a request.
pub struct RouteRequest {
    pub(crate) query: Option<String>,
    pub(crate) headers: HeaderMap,
    /// The scrape deadline derived from `X-Prometheus-Scrape-Timeout-Seconds`.
    pub deadline: Duration,
}

impl RouteRequest {
    /// The first value of a query parameter, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.as_deref().and_then(|q| query_param(q, name))
    }

    /// Whether the client takes a gzip body (`Accept-Encoding`, where `q=0` refuses): what
    /// [`metrics_response`] needs to know.
    pub fn accepts_gzip(&self) -> bool {
        accepts_gzip(&self.headers)
    }
}

/// What [`Server::bind`] listens on and serves: made by `run::main` from the `--web.*` flags, or
/// by a test.
pub struct ServerConfig {
    /// Go-style listen addresses (`:9100`, `127.0.0.1:9100`).
    pub listen: Vec<String>,
    /// Listen on the sockets systemd passes instead of `listen`.
    pub systemd_socket: bool,
    /// Where the exposition is served (`--web.telemetry-path`).
    pub telemetry_path: String,
    /// TLS, basic auth and response headers, as they are when each request or handshake comes.
    pub web: ReloadingWebConfig,
    /// Concurrent scrapes beyond this get 503; 0 means unlimited.
    pub max_requests: usize,
    /// Shown on the landing page, e.g. "Node Exporter".
    pub title: String,
}

struct App {
    exporter: Arc<Exporter>,
    telemetry_path: String,
    web: ReloadingWebConfig,
    scrape_permits: Option<Arc<Semaphore>>,
    in_flight: Arc<ScrapesInFlight>,
    title: String,
    routes: Vec<(String, String, Arc<dyn RouteHandler>)>,
}

/// Listeners bound and what they serve: [`bind`](Self::bind), add endpoints with
/// [`route`](Self::route), then [`serve`](Self::serve).
pub struct Server {
    listeners: Vec<TcpListener>,
    app: App,
}

impl Server {
    /// Binds every listen address; fails with the address in the message.
    pub async fn bind(config: ServerConfig, exporter: Arc<Exporter>) -> Result<Server, String> {
        let mut listeners = Vec::new();
        if config.systemd_socket {
            for listener in crate::systemd::inherited_listeners()? {
                listeners.push(
                    TcpListener::from_std(listener)
                        .map_err(|e| format!("--web.systemd-socket: {e}"))?,
                );
            }
        }
        for addr in config.listen.iter().filter(|_| !config.systemd_socket) {
            let sock = crate::flags::resolve_listen_address(addr)?;
            let listener = TcpListener::bind(sock)
                .await
                .map_err(|e| format!("--web.listen-address {addr}: cannot listen: {e}"))?;
            listeners.push(listener);
        }
        Ok(Server {
            listeners,
            app: App {
                exporter,
                telemetry_path: config.telemetry_path,
                web: config.web,
                scrape_permits: (config.max_requests > 0)
                    .then(|| Arc::new(Semaphore::new(config.max_requests))),
                in_flight: Arc::default(),
                title: config.title,
                routes: Vec::new(),
            },
        })
    }

    /// Adds an endpoint, listed on the landing page with `description`.
    pub fn route(mut self, path: &str, description: &str, handler: Arc<dyn RouteHandler>) -> Self {
        self.app
            .routes
            .push((path.to_string(), description.to_string(), handler));
        self
    }

    /// The addresses actually bound, for the start-up log and for tests that listen on port 0.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Serves until SIGTERM or SIGINT.
    pub async fn serve(self) {
        self.serve_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish (bounded).
    pub async fn serve_until(self, shutdown: impl Future<Output = ()>) {
        let app = Arc::new(self.app);
        let tls = app.web.tls_enabled();
        let graceful = GracefulShutdown::new();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(TcpStream, SocketAddr)>(64);
        let mut acceptors = Vec::new();
        for listener in self.listeners {
            let tx = tx.clone();
            acceptors.push(tokio::spawn(async move {
                loop {
                    match listener.accept().await {
                        Ok(conn) => {
                            if tx.send(conn).await.is_err() {
                                return;
                            }
                        }
                        // Out of file descriptors and the like: back off instead of spinning.
                        Err(e) => {
                            tracing::warn!(err = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            }));
        }
        drop(tx);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                conn = rx.recv() => {
                    let Some((stream, peer)) = conn else { break };
                    // The certificate in force now: a rotated one serves the next handshake.
                    let acceptor = app.web.current().tls.clone().filter(|_| tls).map(TlsAcceptor::from);
                    spawn_connection(stream, peer, Arc::clone(&app), acceptor, &graceful);
                }
                _ = &mut shutdown => break,
            }
        }
        for a in acceptors {
            a.abort();
        }
        tracing::info!("shutting down");
        if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("in-flight requests did not finish within the grace period");
        }
    }
}

fn spawn_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Arc<App>,
    tls: Option<TlsAcceptor>,
    graceful: &GracefulShutdown,
) {
    let _ = stream.set_nodelay(true);
    let watcher = graceful.watcher();
    tokio::spawn(async move {
        let service = hyper::service::service_fn(move |req| {
            let app = Arc::clone(&app);
            async move { Ok::<_, Infallible>(app.handle(req).await) }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(CLIENT_TIMEOUT);
        let result = match tls {
            None => {
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                watcher.watch(conn).await
            }
            Some(acceptor) => {
                match tokio::time::timeout(CLIENT_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(tls_stream)) => {
                        let conn = builder.serve_connection(TokioIo::new(tls_stream), service);
                        watcher.watch(conn).await
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, err = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                }
            }
        };
        if let Err(e) = result {
            tracing::debug!(%peer, err = %e, "connection error");
        }
    });
}

impl App {
    async fn handle(&self, req: Request<Incoming>) -> HttpResponse {
        let web = self.web.current();
        let mut resp = self.route(req, &web).await;
        for (k, v) in &web.headers {
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                resp.headers_mut().insert(k, v);
            }
        }
        resp
    }

    async fn route(&self, req: Request<Incoming>, web: &WebConfig) -> HttpResponse {
        if let Some(auth) = &web.basic_auth {
            let header = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            if !auth.check(header).await {
                let mut r = text_response(StatusCode::UNAUTHORIZED, "Unauthorized\n");
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"exporter\""),
                );
                return r;
            }
        }
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return text_response(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n");
        }
        let path = req.uri().path();
        if path == self.telemetry_path {
            return self.metrics(req.uri().query(), req.headers()).await;
        }
        match path {
            "/" => self.landing_page(),
            "/-/healthy" => text_response(StatusCode::OK, "Healthy\n"),
            "/-/ready" => text_response(StatusCode::OK, "Ready\n"),
            _ => match self.routes.iter().find(|(p, _, _)| p == path) {
                Some((_, _, handler)) => {
                    let permit = match self.try_permit() {
                        Ok(p) => p,
                        Err(resp) => return resp,
                    };
                    let _scrape = self.in_flight.enter();
                    let resp = handler
                        .handle(RouteRequest {
                            query: req.uri().query().map(str::to_string),
                            deadline: scrape_deadline(req.headers()),
                            headers: req.headers().clone(),
                        })
                        .await;
                    drop(permit);
                    resp
                }
                None => text_response(StatusCode::NOT_FOUND, "404 page not found\n"),
            },
        }
    }

    #[allow(clippy::result_large_err)]
    fn try_permit(&self) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, HttpResponse> {
        match &self.scrape_permits {
            None => Ok(None),
            Some(sem) => Arc::clone(sem).try_acquire_owned().map(Some).map_err(|_| {
                text_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Limit of concurrent requests reached, try again later.\n",
                )
            }),
        }
    }

    async fn metrics(&self, query: Option<&str>, headers: &HeaderMap) -> HttpResponse {
        let selected = match self.selected_collectors(query) {
            Ok(selected) => selected,
            Err(message) => return owned_text_response(StatusCode::BAD_REQUEST, message),
        };
        let _permit = match self.try_permit() {
            Ok(p) => p,
            Err(resp) => return resp,
        };
        let _scrape = self.in_flight.enter();
        let deadline = scrape_deadline(headers);
        let text = match selected {
            None => self.exporter.render(deadline).await,
            Some(collectors) => self.exporter.render_from(&collectors, deadline).await,
        };
        metrics_response(text, accepts_gzip(headers))
    }

    /// node_exporter's `collect[]=cpu&collect[]=meminfo` (only these) and `exclude[]=...` (all
    /// but these), for exporters that take them; `None`: every collector.
    fn selected_collectors(
        &self,
        query: Option<&str>,
    ) -> Result<Option<Vec<AnyCollector>>, String> {
        let Some(query) = query.filter(|_| self.exporter.takes_collector_selection()) else {
            return Ok(None);
        };
        let collect = query_params(query, "collect[]");
        let exclude = query_params(query, "exclude[]");
        if collect.is_empty() && exclude.is_empty() {
            return Ok(None);
        }
        self.exporter.select(&collect, &exclude).map(Some)
    }

    fn landing_page(&self) -> HttpResponse {
        let mut links = format!(
            "<li><a href=\"{0}\">{0}</a>: metrics</li>\n",
            html_escape(&self.telemetry_path)
        );
        for (path, description, _) in &self.routes {
            links.push_str(&format!(
                "<li><code>{}</code>: {}</li>\n",
                html_escape(path),
                html_escape(description)
            ));
        }
        links.push_str("<li><a href=\"/-/healthy\">/-/healthy</a></li>\n");
        let body = format!(
            "<!DOCTYPE html>\n<html>\n<head><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<p>Version: {VERSION}</p>\n<ul>\n{links}</ul>\n</body>\n</html>\n",
            title = html_escape(&self.title),
        );
        let mut r = Response::new(Full::new(Bytes::from(body)));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        r
    }
}

/// A metrics exposition response: the text-format Content-Type, gzip when the client accepts it.
pub fn metrics_response(text: String, gzip: bool) -> HttpResponse {
    let mut resp = if gzip {
        // Fast level: scrapes are frequent and the text compresses well anyway.
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(text.len() / 4),
            flate2::Compression::fast(),
        );
        let compressed = enc.write_all(text.as_bytes()).and_then(|_| enc.finish());
        match compressed {
            Ok(bytes) => {
                let mut r = Response::new(Full::new(Bytes::from(bytes)));
                r.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                r
            }
            Err(_) => Response::new(Full::new(Bytes::from(text))),
        }
    } else {
        Response::new(Full::new(Bytes::from(text)))
    };
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(TEXT_CONTENT_TYPE),
    );
    resp
}

/// A plain-text response with a fixed body, sent as given: end it with `\n`
/// ([`owned_text_response`] adds one).
pub fn text_response(status: StatusCode, body: &'static str) -> HttpResponse {
    plain_text(status, Bytes::from_static(body.as_bytes()))
}

/// A plain-text response whose body is made per request (an error naming what was wrong).
pub fn owned_text_response(status: StatusCode, mut body: String) -> HttpResponse {
    body.push('\n');
    plain_text(status, Bytes::from(body))
}

fn plain_text(status: StatusCode, body: Bytes) -> HttpResponse {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|enc| {
            let mut parts = enc.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f64>().ok())
                    == Some(0.0)
            });
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

/// The time collectors get: Prometheus' announced timeout less a margin for encoding and the
/// network (10%, at most half a second).
pub fn scrape_deadline(headers: &HeaderMap) -> Duration {
    let announced = headers
        .get("x-prometheus-scrape-timeout-seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|t| t.is_finite() && *t > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_SCRAPE_TIMEOUT);
    announced - (announced / 10).min(Duration::from_millis(500))
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query_pairs(query).find_map(|(k, v)| (k == name).then_some(v))
}

/// Every value of a repeated parameter (`collect[]=a&collect[]=b`), percent-decoded.
fn query_params(query: &str, name: &str) -> Vec<String> {
    query_pairs(query)
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v)
        .collect()
}

fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        // Form encoding: `+` is a space, and `%2B` a plus.
        let decode = |s: &str| crate::percent::decode_lenient(&s.replace('+', " "));
        (decode(k), decode(v))
    })
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_leaves_a_margin() {
        let mut h = HeaderMap::new();
        assert_eq!(scrape_deadline(&h), Duration::from_millis(9500));
        h.insert(
            "x-prometheus-scrape-timeout-seconds",
            HeaderValue::from_static("2"),
        );
        assert_eq!(scrape_deadline(&h), Duration::from_millis(1800));
        h.insert(
            "x-prometheus-scrape-timeout-seconds",
            HeaderValue::from_static("garbage"),
        );
        assert_eq!(scrape_deadline(&h), Duration::from_millis(9500));
    }

    #[test]
    fn gzip_negotiation() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
            accepts_gzip(&h)
        };
        assert!(with("gzip"));
        assert!(with("deflate, gzip;q=0.8"));
        assert!(!with("gzip;q=0"));
        assert!(!with("identity"));
    }

    #[test]
    fn query_params_are_decoded() {
        assert_eq!(
            query_param("target=redis%3A%2F%2Fh%3A6379&x=1", "target").as_deref(),
            Some("redis://h:6379")
        );
        assert_eq!(query_param("a=1", "target"), None);
        assert_eq!(
            query_params(
                "collect%5B%5D=cpu&x=1&collect[]=meminfo&&collect[]",
                "collect[]"
            ),
            ["cpu", "meminfo", ""]
        );
        assert_eq!(query_param("a=100%&b=%zz", "a").as_deref(), Some("100%"));
        assert_eq!(query_param("a=100%&b=%zz", "b").as_deref(), Some("%zz"));
        assert_eq!(query_param("a=x+y%2B", "a").as_deref(), Some("x y+"));
    }
}
