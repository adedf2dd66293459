//! Which route of a REST or HTTP API serves a request: resource paths with
//! literal segments, `{name}` variables and a greedy last `{name+}`, matched
//! as API Gateway matches them (a literal segment beats a variable, a
//! variable beats a greedy one; a route for the method beats `ANY`), with the
//! path parameters the match binds. An HTTP API's `$default` route is not a
//! path: it never matches here, and serves what nothing else does.

use std::collections::BTreeMap;

use crate::template::{HttpRoute, RestRoute};

/// A route with a method and a resource path.
pub(crate) trait Resource {
    /// HTTP method or `ANY`.
    fn method(&self) -> &str;
    /// Resource path (`/items/{id}`).
    fn path(&self) -> &str;
}

impl Resource for RestRoute {
    fn method(&self) -> &str {
        &self.method
    }
    fn path(&self) -> &str {
        &self.path
    }
}

impl Resource for HttpRoute {
    fn method(&self) -> &str {
        &self.method
    }
    fn path(&self) -> &str {
        &self.path
    }
}

/// A matched route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RouteMatch<'a, R = RestRoute> {
    pub route: &'a R,
    /// Path parameters by name (`proxy` for `/{proxy+}`).
    pub parameters: BTreeMap<String, String>,
}

/// How specific one resource segment is (higher wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Specificity {
    Greedy,
    Variable,
    Literal,
}

/// Matches `path` (stage removed, percent-decoded, starting with `/`) against
/// one resource path; the specificity of each segment and the parameters.
fn match_resource(
    resource: &str,
    path: &str,
) -> Option<(Vec<Specificity>, BTreeMap<String, String>)> {
    if !resource.starts_with('/') {
        return None;
    }
    let wanted: Vec<&str> = resource
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let given: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let given: Vec<&str> = if given == [""] { Vec::new() } else { given };
    let mut specificity = Vec::with_capacity(wanted.len());
    let mut parameters = BTreeMap::new();
    for (index, segment) in wanted.iter().enumerate() {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
            let rest = &given[index.min(given.len())..];
            if rest.is_empty() || rest.iter().all(|s| s.is_empty()) {
                return None;
            }
            parameters.insert(name.to_owned(), rest.join("/"));
            specificity.push(Specificity::Greedy);
            return Some((specificity, parameters));
        }
        let actual = given.get(index).filter(|s| !s.is_empty())?;
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            parameters.insert(name.to_owned(), (*actual).to_owned());
            specificity.push(Specificity::Variable);
        } else if segment == actual {
            specificity.push(Specificity::Literal);
        } else {
            return None;
        }
    }
    (given.len() == wanted.len()).then_some((specificity, parameters))
}

/// The route that serves `method path`, if any.
pub(crate) fn route_for<'a, R: Resource>(
    routes: &'a [R],
    method: &str,
    path: &str,
) -> Option<RouteMatch<'a, R>> {
    routes
        .iter()
        .filter(|route| route.method() == "ANY" || route.method() == method)
        .filter_map(|route| {
            let (specificity, parameters) = match_resource(route.path(), path)?;
            let exact_method = route.method() != "ANY";
            Some((
                (specificity, exact_method),
                RouteMatch { route, parameters },
            ))
        })
        .max_by(|(a, _), (b, _)| a.cmp(b))
        .map(|(_, found)| found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn route(method: &str, path: &str, function: &str) -> RestRoute {
        RestRoute {
            method: method.into(),
            path: path.into(),
            function: function.into(),
        }
    }

    fn seed_routes() -> Vec<RestRoute> {
        vec![
            route("ANY", "/", "Root"),
            route("ANY", "/{proxy+}", "Proxy"),
        ]
    }

    #[test]
    fn root_and_greedy_proxy() {
        let routes = seed_routes();
        let root = route_for(&routes, "GET", "/").unwrap();
        assert_eq!(root.route.function, "Root");
        assert!(root.parameters.is_empty());
        let proxy = route_for(&routes, "POST", "/api/auth/login").unwrap();
        assert_eq!(proxy.route.function, "Proxy");
        assert_eq!(proxy.parameters["proxy"], "api/auth/login");
        assert_eq!(
            route_for(&routes, "GET", "/a/").unwrap().parameters["proxy"],
            "a/"
        );
    }

    #[test]
    fn literal_beats_variable_beats_greedy_and_methods_beat_any() {
        let routes = vec![
            route("ANY", "/{proxy+}", "Greedy"),
            route("GET", "/users/{id}", "Variable"),
            route("GET", "/users/me", "Literal"),
            route("ANY", "/users/me", "AnyLiteral"),
        ];
        assert_eq!(
            route_for(&routes, "GET", "/users/me")
                .unwrap()
                .route
                .function,
            "Literal"
        );
        assert_eq!(
            route_for(&routes, "POST", "/users/me")
                .unwrap()
                .route
                .function,
            "AnyLiteral"
        );
        let variable = route_for(&routes, "GET", "/users/42").unwrap();
        assert_eq!(variable.route.function, "Variable");
        assert_eq!(variable.parameters["id"], "42");
        assert_eq!(
            route_for(&routes, "DELETE", "/users/42")
                .unwrap()
                .route
                .function,
            "Greedy"
        );
        assert!(route_for(&[route("GET", "/users/{id}", "V")], "GET", "/users").is_none());
        assert!(route_for(&[route("GET", "/users/{id}", "V")], "GET", "/users/1/2").is_none());
        assert!(route_for(&[route("GET", "/{proxy+}", "G")], "GET", "/").is_none());
    }

    proptest! {
        #[test]
        fn the_proxy_parameter_is_the_whole_path(segments in proptest::collection::vec("[a-zA-Z0-9._~-]{1,8}", 1..6)) {
            let path = format!("/{}", segments.join("/"));
            let routes = seed_routes();
            let found = route_for(&routes, "GET", &path).unwrap();
            prop_assert_eq!(&found.parameters["proxy"], &segments.join("/"));
        }
    }
}
