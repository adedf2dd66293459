//! Helpers of the HTTP API's security tests (`security_http`,
//! `security_http_limits`): the contract's operations read from
//! backend/spec/http.openapi.yaml (which are signed-in, which take a body),
//! and path templates filled in.

#![allow(dead_code)]

use serde_json::Value;

use crate::support::workspace;

/// The seed's CORS origins (seed 002).
pub(crate) const ALLOWED_ORIGINS: [&str; 2] =
    ["https://ieltsaiprep.com", "https://www.ieltsaiprep.com"];

/// The contract's operations as (method, path template, signed-in).
pub(crate) fn operations() -> Vec<(String, String, bool)> {
    contract_operations()
        .into_iter()
        .map(|(m, t, s, _)| (m, t, s))
        .collect()
}

/// The contract's operations as (method, path template, signed-in, takes a body).
pub(crate) fn contract_operations() -> Vec<(String, String, bool, bool)> {
    let path = workspace().join("backend/spec/http.openapi.yaml");
    let spec: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut operations = Vec::new();
    for (template, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            let secured = match &operation["security"] {
                Value::Array(list) => !list.is_empty(),
                _ => spec["security"].as_array().is_some_and(|l| !l.is_empty()),
            };
            let body = operation.get("requestBody").is_some();
            operations.push((method.to_uppercase(), template.clone(), secured, body));
        }
    }
    operations
}

/// A path template with every `{parameter}` filled in.
pub(crate) fn concrete(template: &str, id: &str) -> String {
    let mut path = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').unwrap() + open;
        path.push_str(&rest[..open]);
        path.push_str(id);
        rest = &rest[close + 1..];
    }
    path.push_str(rest);
    path
}
