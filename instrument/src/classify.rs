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
    templates: std::sync::Arc<[String]>,
}

impl StaticRoutes {
    pub fn new<I, S>(templates: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        StaticRoutes {
            templates: templates.into_iter().map(Into::into).collect(),
        }
    }
}

fn matches(template: &str, path: &str) -> bool {
    let mut t = template.trim_start_matches('/').split('/');
    let mut p = path.trim_start_matches('/').split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(seg), Some(_)) if seg.starts_with("{*") => return true,
            (Some(seg), Some(actual)) => {
                let is_param = seg.starts_with('{') && seg.ends_with('}');
                if !(is_param && !actual.is_empty() || seg == actual) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

impl ClassifyRoute for StaticRoutes {
    fn route<'a, B>(&'a self, req: &'a Request<B>) -> Option<&'a str> {
        let path = req.uri().path();
        self.templates
            .iter()
            .find(|t| matches(t, path))
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_params_and_wildcards() {
        assert!(matches("/", "/"));
        assert!(matches("/a/{id}", "/a/1"));
        assert!(!matches("/a/{id}", "/a/"));
        assert!(!matches("/a/{id}", "/a/1/2"));
        assert!(matches("/s/{*rest}", "/s/x/y/z"));
        assert!(!matches("/a/b", "/a/c"));
        assert!(!matches("/a", "/a/b"));
    }
}
