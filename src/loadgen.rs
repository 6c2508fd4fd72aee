//! Drives realistic traffic at the example service (see [`traffic`]) at a fixed rate for a fixed
//! time, and reports what it sent, keyed like the server's `flask_http_request_total`, so the two
//! can be compared.

pub mod client;
mod traffic;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

use crate::forecaster::rng::Rng;
use crate::forecaster::ROUTES;
use client::Connection;

pub struct LoadConfig {
    /// `host:port` of the service.
    pub authority: String,
    /// Requests per second, over all connections.
    pub rate: f64,
    pub duration: Duration,
    /// Keep-alive connections, each sending one request at a time.
    pub concurrency: usize,
    /// Limit for one request; a slower answer counts as an error.
    pub timeout: Duration,
    pub seed: u64,
}

impl LoadConfig {
    pub fn new(target: &str, rate: f64, duration: Duration) -> Result<Self, String> {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(format!("rate must be a positive number, not {rate}"));
        }
        Ok(LoadConfig {
            authority: parse_target(target)?,
            rate,
            duration,
            concurrency: 8,
            timeout: Duration::from_secs(10),
            seed: 1,
        })
    }
}

/// `http://host:port[/]` (or just `host:port`) to `host:port`.
pub fn parse_target(target: &str) -> Result<String, String> {
    let rest = match target.split_once("://") {
        Some(("http", rest)) => rest,
        Some((scheme, _)) => return Err(format!("unsupported scheme {scheme:?}: only http")),
        None => target,
    };
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') {
        return Err(format!("target {target:?} must be http://host:port"));
    }
    Ok(
        if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_string()
        } else {
            format!("{authority}:80")
        },
    )
}

/// `60s`, `2m`, `500ms`, `1h`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {s:?}"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("invalid duration unit in {s:?} (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("invalid duration {s:?}"))
}

/// What the server counts a request under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestKey {
    pub method: String,
    pub route: &'static str,
    pub status: u16,
}

#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Requests answered, by (method, route template, status).
    pub sent: BTreeMap<RequestKey, u64>,
    /// Requests without a complete answer, by `METHOD route: kind`. The server may or may not
    /// have counted these.
    pub errors: BTreeMap<String, u64>,
    pub elapsed: Duration,
}

impl Summary {
    pub fn total_sent(&self) -> u64 {
        self.sent.values().sum()
    }

    pub fn total_errors(&self) -> u64 {
        self.errors.values().sum()
    }

    fn merge(&mut self, other: Summary) {
        for (k, n) in other.sent {
            *self.sent.entry(k).or_default() += n;
        }
        for (k, n) in other.errors {
            *self.errors.entry(k).or_default() += n;
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        writeln!(
            f,
            "{} requests answered, {} errors in {secs:.1}s ({:.1} req/s)",
            self.total_sent(),
            self.total_errors(),
            self.total_sent() as f64 / secs.max(1e-9)
        )?;
        writeln!(
            f,
            "{:<7} {:<24} {:>6} {:>8}",
            "method", "path", "status", "count"
        )?;
        for (k, n) in &self.sent {
            writeln!(f, "{:<7} {:<24} {:>6} {n:>8}", k.method, k.route, k.status)?;
        }
        for (what, n) in &self.errors {
            writeln!(f, "error   {what}: {n}")?;
        }
        Ok(())
    }
}

/// Runs for `config.duration`, then waits for the requests still in flight (at most
/// `config.timeout` each) and returns what was sent.
pub async fn run(config: &LoadConfig) -> Summary {
    let concurrency = config.concurrency.max(1);
    // Beyond what the clock can represent means "never" (a rate near zero, an endless run).
    const NEVER: Duration = Duration::from_secs(100 * 365 * 86_400);
    // Each connection takes an even share of the rate, its ticks offset from the others'.
    let period = Duration::try_from_secs_f64(concurrency as f64 / config.rate)
        .unwrap_or(NEVER)
        .clamp(Duration::from_nanos(1), NEVER);
    let start = Instant::now();
    let far_future = start + NEVER;
    let deadline = start.checked_add(config.duration).unwrap_or(far_future);
    let workers: Vec<_> = (0..concurrency)
        .map(|i| {
            let first = start + period.mul_f64(i as f64 / concurrency as f64);
            let mut rng = Rng::new(config.seed.wrapping_add(i as u64));
            let mut conn = Connection::new(config.authority.clone()).with_timeout(config.timeout);
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval_at(first, period);
                // A slow server lowers the rate instead of getting a burst afterwards.
                ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
                let mut summary = Summary::default();
                let mut ids = Vec::new();
                while ticks.tick().await < deadline {
                    send_one(&mut conn, &mut rng, &mut ids, &mut summary).await;
                }
                summary
            })
        })
        .collect();
    let mut total = Summary::default();
    for w in workers {
        match w.await {
            Ok(s) => total.merge(s),
            Err(e) => *total.errors.entry(format!("worker: {e}")).or_default() += 1,
        }
    }
    total.elapsed = start.elapsed();
    total
}

/// Ids returned by the server, for realistic look-ups; the oldest are forgotten.
const KEEP_IDS: usize = 64;

async fn send_one(conn: &mut Connection, rng: &mut Rng, ids: &mut Vec<u64>, summary: &mut Summary) {
    let plan = traffic::next(rng, ids);
    let method = plan.method.to_string();
    match conn
        .request(plan.method, &plan.path, &plan.headers, plan.body)
        .await
    {
        Ok(reply) => {
            let key = RequestKey {
                method,
                route: plan.route,
                status: reply.status.as_u16(),
            };
            *summary.sent.entry(key).or_default() += 1;
            if plan.route == ROUTES[0] && reply.status.is_success() {
                if let Some(id) = reply.json().and_then(|v| v["id"].as_u64()) {
                    if ids.len() == KEEP_IDS {
                        ids.remove(0);
                    }
                    ids.push(id);
                }
            }
        }
        Err(e) => {
            let what = format!("{method} {}: {}", plan.route, e.kind());
            *summary.errors.entry(what).or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_durations_parse() {
        assert_eq!(
            parse_target("http://127.0.0.1:8000").unwrap(),
            "127.0.0.1:8000"
        );
        assert_eq!(parse_target("http://localhost/").unwrap(), "localhost:80");
        assert_eq!(parse_target("127.0.0.1:9").unwrap(), "127.0.0.1:9");
        assert!(parse_target("https://x:1").is_err());
        assert!(parse_target("http://x:1/api").is_err());
        assert_eq!(parse_duration("60s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("10 years").is_err());
        assert!(parse_duration("").is_err());
        assert!(LoadConfig::new("http://x:1", 0.0, Duration::ZERO).is_err());
    }
}
