//! Route templates: the `path` label is the route a request matched (`/api/simulations/{id}`),
//! never the raw URI, so label cardinality is bounded by the application's routes.

use http::Request;

/// Tells which route template a request matched.
pub trait ClassifyRoute: Clone + Send + Sync + 'static {
    /// The template, or `None` when no route matched (all such requests share one series).
    fn route<'a, B>(&'a self, req: &'a Request<B>) -> Option<&'a str>;
}

/// axum: the template from `MatchedPath`, which the router sets before layers added with
/// `Router::layer` run.
#[cfg(feature = "axum")]
#[derive(Clone, Copy, Debug, Default)]
pub struct MatchedPathRoutes;

#[cfg(feature = "axum")]
impl ClassifyRoute for MatchedPathRoutes {
    fn route<'a, B>(&'a self, req: &'a Request<B>) -> Option<&'a str> {
        req.extensions()
            .get::<axum::extract::MatchedPath>()
            .map(|m| m.as_str())
    }
}

/// For services without a router that records its match (plain hyper, any tower stack): a list
/// of templates matched segment by segment. `{name}` matches one segment, `{*name}` the rest.
///
/// ```
/// use instrument::{ClassifyRoute, StaticRoutes};
/// let routes = StaticRoutes::new(["/api/simulate", "/api/simulations/{id}", "/static/{*file}"]);
/// let req = http::Request::get("/api/simulations/42").body(()).unwrap();
/// assert_eq!(routes.route(&req), Some("/api/simulations/{id}"));
/// let req = http::Request::get("/wp-login.php").body(()).unwrap();
/// assert_eq!(routes.route(&req), None);
/// ```
#[derive(Clone, Debug)]
pub struct StaticRoutes {
    /// Split once here: per request, matching walks the path's segments once per template.
    routes: std::sync::Arc<[Route]>,
}

#[derive(Debug)]
struct Route {
    template: String,
    segments: Vec<Segment>,
}

#[derive(Debug, PartialEq)]
enum Segment {
    Literal(String),
    /// `{name}`: any one non-empty segment.
    Param,
    /// `{*name}`: everything that follows.
    Rest,
}

impl StaticRoutes {
    pub fn new<I, S>(templates: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        StaticRoutes {
            routes: templates
                .into_iter()
                .map(|t| {
                    let template: String = t.into();
                    let segments = template
                        .trim_start_matches('/')
                        .split('/')
                        .map(|seg| match seg {
                            s if s.starts_with("{*") => Segment::Rest,
                            s if s.starts_with('{') && s.ends_with('}') => Segment::Param,
                            s => Segment::Literal(s.to_string()),
                        })
                        .collect();
                    Route { template, segments }
                })
                .collect(),
        }
    }
}

fn matches(segments: &[Segment], path: &str) -> bool {
    let mut actual = path.trim_start_matches('/').split('/');
    for segment in segments {
        match (segment, actual.next()) {
            (Segment::Rest, Some(_)) => return true,
            (Segment::Param, Some(a)) if !a.is_empty() => {}
            (Segment::Literal(l), Some(a)) if l == a => {}
            _ => return false,
        }
    }
    actual.next().is_none()
}

impl ClassifyRoute for StaticRoutes {
    fn route<'a, B>(&'a self, req: &'a Request<B>) -> Option<&'a str> {
        let path = req.uri().path();
        self.routes
            .iter()
            .find(|r| matches(&r.segments, path))
            .map(|r| r.template.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route_of(templates: &[&str], path: &str) -> Option<String> {
        let routes = StaticRoutes::new(templates.iter().copied());
        let req = Request::get(path).body(()).unwrap();
        routes.route(&req).map(str::to_string)
    }

    #[test]
    fn segments_params_and_wildcards() {
        let m = |t: &str, p: &str| route_of(&[t], p).is_some();
        assert!(m("/", "/"));
        assert!(m("/a/{id}", "/a/1"));
        assert!(!m("/a/{id}", "/a/"));
        assert!(!m("/a/{id}", "/a/1/2"));
        assert!(m("/s/{*rest}", "/s/x/y/z"));
        assert!(!m("/a/b", "/a/c"));
        assert!(!m("/a", "/a/b"));
        assert!(!m("/a/b", "/a"));
        assert_eq!(
            route_of(&["/a/{id}", "/a/{id}/b"], "/a/1/b").as_deref(),
            Some("/a/{id}/b")
        );
    }
}
