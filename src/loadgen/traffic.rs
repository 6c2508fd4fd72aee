//! What a realistic client population sends: mostly forecasts and look-ups of their results,
//! health checks, and a tail of mistakes (unknown ids, scanners' URLs, broken or invalid JSON).

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderName, HeaderValue, Method};
use serde_json::json;

use crate::forecaster::rng::Rng;
use crate::forecaster::ROUTES;

/// One request to send, with the route template the server will count it under.
pub struct Planned {
    pub method: Method,
    pub path: String,
    pub route: &'static str,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

const SCANNER_PATHS: &[&str] = &[
    "/wp-login.php",
    "/.env",
    "/admin",
    "/api/v2/simulate",
    "/api/simulate/",
    "/favicon.ico",
    "/static/app.js",
];

pub fn next(rng: &mut Rng, known_ids: &[u64]) -> Planned {
    match rng.below(100) {
        0..=54 => simulate(rng),
        55..=69 if !known_ids.is_empty() => {
            let id = known_ids[rng.below(known_ids.len())];
            get(format!("/api/simulations/{id}"), ROUTES[1])
        }
        55..=69 => simulate(rng),
        70..=79 => get("/healthz".into(), ROUTES[2]),
        80..=86 => {
            // Far above any id the server has handed out: a 404 under the route template.
            let id = (1u64 << 40) + rng.next_u64() % (1 << 40);
            get(format!("/api/simulations/{id}"), ROUTES[1])
        }
        87..=93 => {
            let path = if rng.below(2) == 0 {
                SCANNER_PATHS[rng.below(SCANNER_PATHS.len())].to_string()
            } else {
                format!("/{:x}/{:x}", rng.next_u64(), rng.next_u64())
            };
            get(path, instrument::UNMATCHED_PATH)
        }
        94..=96 => post_json(Bytes::from_static(br#"{"throughput": [3, 4, "#)),
        _ => post_json(
            json!({"throughput": [], "backlog": 10, "trials": 100})
                .to_string()
                .into(),
        ),
    }
}

fn simulate(rng: &mut Rng) -> Planned {
    let weeks = 4 + rng.below(23);
    let mut throughput: Vec<u32> = (0..weeks).map(|_| rng.below(15) as u32).collect();
    // A history without a single productive week is rejected by the server: not this branch.
    throughput[0] = throughput[0].max(1);
    let body = json!({
        "throughput": throughput,
        "backlog": 10 + rng.below(190),
        "trials": 100 + rng.below(1900),
    });
    post_json(body.to_string().into())
}

fn get(path: String, route: &'static str) -> Planned {
    Planned {
        method: Method::GET,
        path,
        route,
        headers: Vec::new(),
        body: Bytes::new(),
    }
}

fn post_json(body: Bytes) -> Planned {
    Planned {
        method: Method::POST,
        path: ROUTES[0].into(),
        route: ROUTES[0],
        headers: vec![(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_contains_every_kind_of_request() {
        let mut rng = Rng::new(5);
        let mut routes = std::collections::BTreeMap::new();
        for _ in 0..2_000 {
            let p = next(&mut rng, &[1, 2, 3]);
            *routes.entry((p.method.to_string(), p.route)).or_insert(0) += 1;
        }
        assert_eq!(routes.len(), 4, "{routes:?}");
        assert!(routes[&("POST".to_string(), ROUTES[0])] > 1000);
    }
}
