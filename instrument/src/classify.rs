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
    /// Compiled once here, so that a request costs a prefix comparison per literal run.
    routes: std::sync::Arc<[Route]>,
}

#[derive(Debug)]
struct Route {
    template: String,
    /// The template without its leading slashes, as runs of literal text (slashes included) and
    /// placeholders: `/api/items/{id}/tags` is `"api/items/"`, one segment, `"/tags"`.
    pieces: Vec<Piece>,
}

#[derive(Debug, PartialEq)]
enum Piece {
    Literal(String),
    /// `{name}`: one non-empty segment.
    Segment,
    /// `{*name}`: everything that follows.
    Rest,
}

impl Route {
    fn compile(template: String) -> Route {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        for (i, segment) in template.trim_start_matches('/').split('/').enumerate() {
            if i > 0 {
                literal.push('/');
            }
            let placeholder = if segment.starts_with("{*") {
                Piece::Rest
            } else if segment.starts_with('{') && segment.ends_with('}') {
                Piece::Segment
            } else {
                literal.push_str(segment);
                continue;
            };
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            let rest = placeholder == Piece::Rest;
            pieces.push(placeholder);
            if rest {
                break;
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Route { template, pieces }
    }

    /// Matched on bytes: a `/` byte is always a whole character in UTF-8, so segment bounds
    /// found bytewise are the same as found by characters, without the decoding.
    #[inline]
    fn matches(&self, path: &[u8]) -> bool {
        let mut rest = path;
        while let [b'/', tail @ ..] = rest {
            rest = tail;
        }
        for piece in &self.pieces {
            match piece {
                Piece::Literal(l) => match rest.strip_prefix(l.as_bytes()) {
                    Some(tail) => rest = tail,
                    None => return false,
                },
                Piece::Segment => {
                    let end = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
                    if end == 0 {
                        return false;
                    }
                    rest = &rest[end..];
                }
                Piece::Rest => return true,
            }
        }
        rest.is_empty()
    }
}

impl StaticRoutes {
    /// Compiles the route templates (`/api/items/{id}`) once; requests are matched against them.
    pub fn new<I, S>(templates: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        StaticRoutes {
            routes: templates
                .into_iter()
                .map(|t| Route::compile(t.into()))
                .collect(),
        }
    }
}

impl ClassifyRoute for StaticRoutes {
    #[inline]
    fn route<'a, B>(&'a self, req: &'a Request<B>) -> Option<&'a str> {
        let path = req.uri().path().as_bytes();
        self.routes
            .iter()
            .find(|r| r.matches(path))
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
        assert!(m("/a/{id}/b", "/a/1/b"));
        assert!(!m("/a/{id}/b", "/a/1/b/"));
        assert!(!m("/a/{id}/b", "/a//b"));
        assert!(m("/{x}/{y}", "/1/2"));
        assert!(!m("/{x}/{y}", "/1/"));
        assert!(m("/s/{*rest}", "/s/"));
        assert!(!m("/s/{*rest}", "/s"));
        assert!(m("/a", "//a"));
        assert!(!m("/", "/x"));
        assert!(!m("/items", "/itemsX"));
    }

    #[test]
    fn templates_compile_to_literal_runs_and_placeholders() {
        let pieces = |t: &str| Route::compile(t.to_string()).pieces;
        assert_eq!(
            pieces("/api/items/{id}/tags"),
            [
                Piece::Literal("api/items/".into()),
                Piece::Segment,
                Piece::Literal("/tags".into())
            ]
        );
        assert_eq!(
            pieces("/s/{*rest}/ignored"),
            [Piece::Literal("s/".into()), Piece::Rest]
        );
        assert_eq!(pieces("/"), []);
    }
}
