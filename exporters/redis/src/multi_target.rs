//! `/scrape?target=redis://host:port`: one exporter serving many Redis instances. Credentials come
//! from `--redis.password-file` (or `--redis.password`), never from the query.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use exporter_core::encode::encode_text;
use exporter_core::exporter::{REVISION, RUST_VERSION, VERSION};
use exporter_core::kept_targets::KeptTargets;
use exporter_core::metric::merge_and_sort;
use exporter_core::server::{
    metrics_response, text_response, HttpResponse, RouteHandler, RouteRequest,
};
use exporter_core::{BoxFuture, MetricFamily};
use http::StatusCode;

use crate::options::ScrapeOptions;
use crate::scrape::Scraper;
use crate::target::{PasswordMap, Secret, Target};

/// Targets whose connection is kept; beyond this the least recently scraped is closed.
const MAX_KEPT_TARGETS: usize = 1024;

/// The `/scrape` route: one [`Scraper`] (and its connection) kept per target address.
pub struct ScrapeHandler {
    opts: Arc<ScrapeOptions>,
    /// `--redis.password`, for targets without an entry in the password file.
    default_password: Option<Secret>,
    passwords: PasswordMap,
    build_info: bool,
    targets: KeptTargets<String, Scraper>,
}

impl ScrapeHandler {
    /// `default_password` is `--redis.password`; `build_info` adds `<ns>_exporter_build_info`
    /// to every answer, as on `/metrics`.
    pub fn new(
        opts: Arc<ScrapeOptions>,
        default_password: Option<Secret>,
        passwords: PasswordMap,
        build_info: bool,
    ) -> Self {
        ScrapeHandler {
            opts,
            default_password,
            passwords,
            build_info,
            targets: KeptTargets::new(MAX_KEPT_TARGETS),
        }
    }

    fn bad_request(&self, body: &'static str) -> HttpResponse {
        self.opts.request_errors.fetch_add(1, Ordering::Relaxed);
        text_response(StatusCode::BAD_REQUEST, body)
    }

    fn scraper_for(&self, addr: &str, mut target: Target) -> Arc<Scraper> {
        self.targets.get_or_insert_with(addr, || {
            target.password = self
                .passwords
                .lookup(addr)
                .or(self.default_password.as_ref())
                .cloned();
            Scraper::new(target, Arc::clone(&self.opts))
        })
    }
}

/// `<ns>_exporter_build_info`, as the runtime writes it on `/metrics`.
pub fn build_info(ns: &str) -> MetricFamily {
    MetricFamily::gauge(
        format!("{ns}_exporter_build_info"),
        format!("A metric with a constant '1' value labeled by version, revision, and rustversion from which {ns}_exporter was built."),
    )
    .with(
        &[
            ("revision", REVISION),
            ("rustversion", RUST_VERSION),
            ("version", VERSION),
        ],
        1.0,
    )
}

impl RouteHandler for ScrapeHandler {
    fn handle(&self, req: RouteRequest) -> BoxFuture<'_, HttpResponse> {
        Box::pin(async move {
            let Some(addr) = req.query_param("target").filter(|t| !t.trim().is_empty()) else {
                return self.bad_request("'target' parameter must be specified\n");
            };
            let Ok(target) = Target::parse(&addr) else {
                return self.bad_request(
                    "invalid 'target': use redis://host:port, rediss://host:port or unix:///path\n",
                );
            };
            if target.password.is_some() {
                return self.bad_request(
                    "passwords are not accepted in 'target': put them in --redis.password-file\n",
                );
            }
            let scraper = self.scraper_for(&addr, target);
            let mut families = scraper.scrape(req.deadline).await;
            if self.build_info {
                families.push(build_info(&self.opts.namespace));
            }
            let (families, _) = merge_and_sort(families);
            let mut text = String::with_capacity(32 * 1024);
            encode_text(&families, &mut text);
            metrics_response(text, req.accepts_gzip())
        })
    }
}
