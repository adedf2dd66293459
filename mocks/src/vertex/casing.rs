//! Key casing: Google's JSON APIs accept both `snake_case` (the proto field
//! names, used by Google's own samples) and `lowerCamelCase` (what the SDKs
//! send). Requests are normalised to camelCase before parsing; free-form
//! payloads (function arguments and responses, schemas) keep their keys.

use serde_json::Value;

/// Keys whose values are free-form JSON, never renamed.
pub(crate) const FREE_FORM_KEYS: &[&str] = &[
    "response",
    "args",
    "responseSchema",
    "responseJsonSchema",
    "parameters",
    "parametersJsonSchema",
];

/// `snake_case` to `camelCase` (already camelCase names are unchanged).
pub(crate) fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper_next = false;
    for c in name.chars() {
        if c == '_' && !out.is_empty() {
            upper_next = true;
        } else if upper_next {
            out.extend(c.to_uppercase());
            upper_next = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Renames every key to camelCase, except inside free-form payloads.
pub(crate) fn normalize_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, inner)| {
                    let key = camel_case(&key);
                    let inner = if FREE_FORM_KEYS.contains(&key.as_str()) {
                        inner
                    } else {
                        normalize_keys(inner)
                    };
                    (key, inner)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize_keys).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn free_form_payloads_keep_their_keys() {
        let value = serde_json::json!({"tool_response": {"function_responses": [{"response": {"snake_key": 1}}]}});
        let normalized = normalize_keys(value);
        assert_eq!(
            normalized["toolResponse"]["functionResponses"][0]["response"]["snake_key"],
            1
        );
    }

    proptest! {
        #[test]
        fn camel_case_is_idempotent(name in "[a-z]{1,5}(_[a-z]{1,5}){0,3}") {
            let once = camel_case(&name);
            prop_assert_eq!(camel_case(&once), once.as_str());
            prop_assert!(!once.contains('_'));
        }
    }
}
