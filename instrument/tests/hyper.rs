//! Plain hyper 1, no framework: the layer in a tower stack served by hyper over loopback, routes
//! from a `StaticRoutes` classifier, exclusions by prefix and regex.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use instrument::{HttpMetrics, HttpMetricsLayer, StaticRoutes};
use prometheus::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceBuilder;

async fn handler(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let status = if req.uri().path().ends_with("/missing") {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    let mut resp = Response::new(Full::new(Bytes::from_static(b"hello\n")));
    *resp.status_mut() = status;
    Ok(resp)
}

async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).await.unwrap();
    response
}

fn count(registry: &Registry, path: &str, status: &str) -> u64 {
    registry
        .gather()
        .iter()
        .filter(|f| f.name() == "flask_http_request_total")
        .flat_map(|f| f.get_metric().iter())
        .filter(|m| {
            let label = |k: &str| {
                m.get_label()
                    .iter()
                    .find(|l| l.name() == k)
                    .map(|l| l.value())
            };
            label("path") == Some(path) && label("status") == Some(status)
        })
        .map(|m| m.get_counter().get_value() as u64)
        .sum()
}

#[tokio::test]
async fn counts_requests_served_by_plain_hyper() {
    let registry = Registry::new();
    let metrics = HttpMetrics::builder()
        .registry(registry.clone())
        .exclude_prefix("/healthz")
        .exclude_regex(regex::Regex::new(r"^/internal/").unwrap())
        .build()
        .unwrap();
    let routes = StaticRoutes::new([
        "/items/{id}",
        "/items/{id}/missing",
        "/healthz",
        "/internal/{op}",
    ]);
    let service = ServiceBuilder::new()
        .layer(HttpMetricsLayer::new(metrics, routes))
        .service_fn(handler);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    for path in [
        "/items/1",
        "/items/2",
        "/items/3/missing",
        "/healthz",
        "/internal/gc",
        "/nope",
    ] {
        let response = get(addr, path).await;
        assert!(response.starts_with("HTTP/1.1 "), "{response}");
    }
    // The guard records when hyper drops the finished body: give it a moment.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    server.abort();

    assert_eq!(count(&registry, "/items/{id}", "200"), 2);
    assert_eq!(count(&registry, "/items/{id}/missing", "404"), 1);
    assert_eq!(count(&registry, "<unmatched>", "200"), 1);
    assert_eq!(count(&registry, "/healthz", "200"), 0, "excluded by prefix");
    assert_eq!(
        count(&registry, "/internal/{op}", "200"),
        0,
        "excluded by regex"
    );
}
