//! Route selection as API Gateway does it: evaluate the API's
//! `routeSelectionExpression` (`$request.body.action`, or templated forms such
//! as `${request.body.service}/${request.body.action}`) against the message
//! body; values are stringified; a non-JSON body, a missing value or a key
//! with no route goes to `$default`.

use serde_json::Value;

/// A compiled route selection expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSelector {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// A JSON path into the body (`["action"]`, `["data", "kind"]`).
    Body(Vec<String>),
}

/// Why an expression was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unsupported route selection expression {0:?}: use $request.body.NAME or ${{request.body.NAME}} parts"
)]
pub struct BadExpression(pub String);

impl RouteSelector {
    /// Compiles an expression.
    pub fn parse(expression: &str) -> Result<Self, BadExpression> {
        let bad = || BadExpression(expression.to_owned());
        let mut parts = Vec::new();
        if let Some(path) = expression.strip_prefix("$request.body.") {
            parts.push(Part::Body(body_path(path).ok_or_else(bad)?));
            return Ok(Self { parts });
        }
        let mut rest = expression;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(bad)?;
            let path = after[..end].strip_prefix("request.body.").ok_or_else(bad)?;
            parts.push(Part::Body(body_path(path).ok_or_else(bad)?));
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        if !parts.iter().any(|p| matches!(p, Part::Body(_))) {
            return Err(bad());
        }
        Ok(Self { parts })
    }

    /// The route key a message selects, or `None` when it selects nothing
    /// (not JSON, or a referenced value missing or not a scalar).
    pub fn select(&self, body: &str) -> Option<String> {
        let json: Value = serde_json::from_str(body).ok()?;
        let mut key = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => key.push_str(text),
                Part::Body(path) => {
                    let value = path.iter().try_fold(&json, |node, name| node.get(name))?;
                    match value {
                        Value::String(s) => key.push_str(s),
                        Value::Number(n) => key.push_str(&n.to_string()),
                        Value::Bool(b) => key.push_str(&b.to_string()),
                        _ => return None,
                    }
                }
            }
        }
        Some(key)
    }
}

fn body_path(path: &str) -> Option<Vec<String>> {
    let names: Vec<String> = path.split('.').map(str::to_owned).collect();
    names
        .iter()
        .all(|n| !n.is_empty() && !n.contains(['$', '{', '}']))
        .then_some(names)
}

/// Picks the route key for a message: the selected key when a route exists
/// for it, else `$default` when that exists, else `None` (the client then gets
/// API Gateway's "Forbidden" message).
pub fn route_for<'a>(
    selector: &RouteSelector,
    body: &str,
    has_route: impl Fn(&str) -> bool,
    default_key: &'a str,
) -> Option<std::borrow::Cow<'a, str>> {
    if let Some(key) = selector.select(body)
        && key != "$connect"
        && key != "$disconnect"
        && has_route(&key)
    {
        return Some(std::borrow::Cow::Owned(key));
    }
    has_route(default_key).then_some(std::borrow::Cow::Borrowed(default_key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_action() {
        let s = RouteSelector::parse("$request.body.action").unwrap();
        assert_eq!(
            s.select(r#"{"action":"start_speaking"}"#).as_deref(),
            Some("start_speaking")
        );
        assert_eq!(s.select(r#"{"action":3}"#).as_deref(), Some("3"));
        assert_eq!(s.select(r#"{"action":true}"#).as_deref(), Some("true"));
        assert_eq!(s.select(r#"{"other":1}"#), None);
        assert_eq!(s.select(r#"{"action":{"x":1}}"#), None);
        assert_eq!(s.select("not json"), None);
        assert_eq!(s.select(r#"["action"]"#), None);
    }

    #[test]
    fn nested_and_templated() {
        let s = RouteSelector::parse("$request.body.data.kind").unwrap();
        assert_eq!(s.select(r#"{"data":{"kind":"x"}}"#).as_deref(), Some("x"));
        let t = RouteSelector::parse("${request.body.service}/${request.body.action}").unwrap();
        assert_eq!(
            t.select(r#"{"service":"chat","action":"send"}"#).as_deref(),
            Some("chat/send")
        );
        assert_eq!(t.select(r#"{"service":"chat"}"#), None);
    }

    #[test]
    fn bad_expressions() {
        for bad in [
            "action",
            "$request.header.x",
            "${request.body.}",
            "$request.body.",
            "${oops",
        ] {
            assert!(RouteSelector::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn default_fallback() {
        let s = RouteSelector::parse("$request.body.action").unwrap();
        let routes = ["echo", "$default"];
        let has = |k: &str| routes.contains(&k);
        assert_eq!(
            route_for(&s, r#"{"action":"echo"}"#, has, "$default").as_deref(),
            Some("echo")
        );
        assert_eq!(
            route_for(&s, r#"{"action":"nope"}"#, has, "$default").as_deref(),
            Some("$default")
        );
        assert_eq!(
            route_for(&s, "garbage", has, "$default").as_deref(),
            Some("$default")
        );
        let only_echo = |k: &str| k == "echo";
        assert_eq!(route_for(&s, "garbage", only_echo, "$default"), None);
        // $connect / $disconnect can never be selected by a message.
        let all = |_: &str| true;
        assert_eq!(
            route_for(&s, r#"{"action":"$connect"}"#, all, "$default").as_deref(),
            Some("$default")
        );
    }

    proptest! {
        #[test]
        fn any_string_action_selects_itself(action in "\\PC*") {
            let s = RouteSelector::parse("$request.body.action").unwrap();
            let body = serde_json::json!({"action": action.as_str()}).to_string();
            prop_assert_eq!(s.select(&body), Some(action));
        }

        #[test]
        fn arbitrary_bodies_never_panic(body in "\\PC*") {
            let s = RouteSelector::parse("${request.body.a}-${request.body.b.c}").unwrap();
            let _ = s.select(&body);
        }
    }
}
