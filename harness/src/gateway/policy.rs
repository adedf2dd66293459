//! The REQUEST authorizer's answer: `{principalId, policyDocument, context}`,
//! evaluated as API Gateway does for `$connect` (an explicit Deny or no Allow
//! for the method ARN refuses with 403; context values must be strings,
//! numbers or booleans; the answer must fit in 8 KB).

use serde_json::{Map, Value};

/// The largest authorizer answer API Gateway accepts.
pub const MAX_AUTHORIZER_RESPONSE: usize = 8 * 1024;

/// What the authorizer decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Allowed: `principalId` and context become `requestContext.authorizer`.
    Allow(Map<String, Value>),
    /// Denied (403).
    Deny,
    /// A malformed answer (500).
    Invalid(String),
}

/// Evaluates an authorizer's response body for `method_arn`.
pub fn evaluate(body: &[u8], method_arn: &str) -> Decision {
    if body.len() > MAX_AUTHORIZER_RESPONSE {
        return Decision::Invalid(format!(
            "authorizer response of {} bytes exceeds 8 KB",
            body.len()
        ));
    }
    let Ok(Value::Object(response)) = serde_json::from_slice::<Value>(body) else {
        return Decision::Invalid("authorizer response is not a JSON object".to_owned());
    };
    let Some(principal) = response.get("principalId").and_then(Value::as_str) else {
        return Decision::Invalid("authorizer response has no principalId".to_owned());
    };
    let Some(document) = response.get("policyDocument").and_then(Value::as_object) else {
        return Decision::Invalid("authorizer response has no policyDocument".to_owned());
    };
    let statements: Vec<&Value> = match document.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => return Decision::Invalid("policyDocument has no Statement".to_owned()),
    };
    let mut allowed = false;
    for statement in statements {
        if !covers(statement.get("Action"), "execute-api:Invoke")
            || !covers(statement.get("Resource"), method_arn)
        {
            continue;
        }
        match statement.get("Effect").and_then(Value::as_str) {
            Some("Deny") => return Decision::Deny,
            Some("Allow") => allowed = true,
            other => return Decision::Invalid(format!("statement Effect {other:?}")),
        }
    }
    if !allowed {
        return Decision::Deny;
    }
    let mut authorizer = Map::new();
    authorizer.insert(
        "principalId".to_owned(),
        Value::String(principal.to_owned()),
    );
    if let Some(context) = response.get("context") {
        let Value::Object(context) = context else {
            return Decision::Invalid("context is not an object".to_owned());
        };
        for (key, value) in context {
            if !matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
                return Decision::Invalid(format!(
                    "context value {key} is not a string, number or boolean"
                ));
            }
            authorizer.insert(key.clone(), value.clone());
        }
    }
    Decision::Allow(authorizer)
}

/// Whether a policy field (a string or list of patterns) covers `target`.
fn covers(field: Option<&Value>, target: &str) -> bool {
    match field {
        Some(Value::String(pattern)) => glob(pattern, target),
        Some(Value::Array(patterns)) => patterns
            .iter()
            .filter_map(Value::as_str)
            .any(|p| glob(p, target)),
        _ => false,
    }
}

/// IAM-style wildcard match: `*` any run of characters, `?` any one.
pub fn glob(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc/production/$connect";

    fn answer(effect: &str, resource: &str) -> Vec<u8> {
        json!({
            "principalId": "user-1",
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
            ]},
            "context": {"userId": "user-1", "tier": 2, "admin": false}
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn allow_carries_principal_and_context() {
        let Decision::Allow(ctx) = evaluate(&answer("Allow", ARN), ARN) else {
            panic!("not allowed")
        };
        assert_eq!(ctx["principalId"], "user-1");
        assert_eq!(ctx["tier"], 2);
    }

    #[test]
    fn deny_and_wildcards() {
        assert_eq!(evaluate(&answer("Deny", "*"), ARN), Decision::Deny);
        assert!(matches!(
            evaluate(&answer("Allow", "arn:aws:execute-api:*:*:abc/*"), ARN),
            Decision::Allow(_)
        ));
        assert_eq!(
            evaluate(&answer("Allow", "arn:aws:execute-api:*:*:other/*"), ARN),
            Decision::Deny
        );
    }

    #[test]
    fn malformed_answers() {
        assert!(matches!(evaluate(b"nope", ARN), Decision::Invalid(_)));
        assert!(matches!(
            evaluate(br#"{"policyDocument":{}}"#, ARN),
            Decision::Invalid(_)
        ));
        let nested = json!({"principalId": "u", "policyDocument": {"Statement": [{"Action": "*", "Effect": "Allow", "Resource": "*"}]}, "context": {"x": {"y": 1}}});
        assert!(matches!(
            evaluate(nested.to_string().as_bytes(), ARN),
            Decision::Invalid(_)
        ));
        let big = vec![b' '; MAX_AUTHORIZER_RESPONSE + 1];
        assert!(matches!(evaluate(&big, ARN), Decision::Invalid(_)));
    }

    proptest! {
        #[test]
        fn star_matches_everything(text in "\\PC*") {
            prop_assert!(glob("*", &text));
            prop_assert!(glob(&text.replace(['*', '?'], ""), &text.replace(['*', '?'], "")));
        }
    }
}
