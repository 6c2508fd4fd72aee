//! A ready `/metrics` endpoint: a tower `Service` (usable as an axum route service).

use std::convert::Infallible;
use std::io::Write;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use prometheus::{Encoder, Registry, TextEncoder};
use tower_service::Service;

/// The text-format Content-Type Prometheus expects (Prometheus 3 rejects a missing one).
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

type AuthCheck = Arc<dyn Fn(&HeaderMap) -> bool + Send + Sync>;

/// Serves a registry in the text exposition format, gzip-compressed when the client accepts it.
///
/// ```
/// # #[cfg(feature = "axum")] {
/// let handler = instrument::MetricsHandler::new(prometheus::default_registry().clone());
/// let app: axum::Router = axum::Router::new().route_service("/metrics", handler);
/// # }
/// ```
#[derive(Clone)]
pub struct MetricsHandler {
    registry: Registry,
    auth: Option<AuthCheck>,
}

impl MetricsHandler {
    /// Serves the text exposition of `registry`.
    pub fn new(registry: Registry) -> Self {
        MetricsHandler {
            registry,
            auth: None,
        }
    }

    /// Only answer requests for which `check` returns true (e.g. compare a basic-auth header with
    /// a secret); others get 401.
    pub fn with_auth(mut self, check: impl Fn(&HeaderMap) -> bool + Send + Sync + 'static) -> Self {
        self.auth = Some(Arc::new(check));
        self
    }

    /// Renders the response for a request with these headers.
    pub fn respond(&self, headers: &HeaderMap) -> Response<Full<Bytes>> {
        if let Some(check) = &self.auth {
            if !check(headers) {
                let mut r = Response::new(Full::new(Bytes::from_static(b"Unauthorized\n")));
                *r.status_mut() = StatusCode::UNAUTHORIZED;
                r.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"metrics\""),
                );
                return r;
            }
        }
        let mut text = Vec::with_capacity(16 * 1024);
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut text) {
            let mut r = Response::new(Full::new(Bytes::from(format!("encoding failed: {e}\n"))));
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return r;
        }
        let gzip = accepts_gzip(headers);
        let body = if gzip { gzip_bytes(&text) } else { None };
        let mut r = match body {
            Some(compressed) => {
                let mut r = Response::new(Full::new(Bytes::from(compressed)));
                r.headers_mut()
                    .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                r
            }
            None => Response::new(Full::new(Bytes::from(text))),
        };
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_TEXT));
        r
    }
}

fn gzip_bytes(data: &[u8]) -> Option<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4),
        flate2::Compression::fast(),
    );
    enc.write_all(data).ok()?;
    enc.finish().ok()
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT_ENCODING)
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

impl<B> Service<Request<B>> for MetricsHandler {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        std::future::ready(Ok(self.respond(req.headers())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_negotiation_honours_q_zero() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(ACCEPT_ENCODING, HeaderValue::from_static(v));
            accepts_gzip(&h)
        };
        assert!(with("gzip"));
        assert!(with("br, gzip;q=0.5"));
        assert!(!with("gzip;q=0"));
        assert!(!with("gzip;q=0.00"));
        assert!(!with("identity"));
    }

    #[test]
    fn auth_hook_rejects_with_401() {
        let h = MetricsHandler::new(Registry::new()).with_auth(|h| h.contains_key("x-ok"));
        let r = h.respond(&HeaderMap::new());
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let mut ok = HeaderMap::new();
        ok.insert("x-ok", HeaderValue::from_static("1"));
        let r = h.respond(&ok);
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[CONTENT_TYPE], CONTENT_TYPE_TEXT);
    }
}
