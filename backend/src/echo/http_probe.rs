//! The echo function behind an HTTP API: a probe for payload formats 1.0
//! and 2.0, Lambda authorizers and the gateway's handling of answers.
//!
//! | event | answer |
//! |---|---|
//! | a Lambda authorizer's (`type: REQUEST`) | a simple response: authorized when the first identity source starts with `allow` (context `{caller, probe}`); `fail` errors |
//! | `…/sleep?ms=N` | sleeps, then `{"slept": N}` |
//! | `…/fail` | an error (the gateway answers 500) |
//! | `…/crash` | aborts the process mid-invocation |
//! | `…/bare` | `{"probe": "bare"}` without `statusCode` (format 2.0 infers a 200) |
//! | `…/text` | the JSON string `"plain words"` |
//! | `…/malformed` | `{"statusCode": "200"}` (a malformed answer) |
//! | `…/cookies` | two `cookies` and a 201 |
//! | `…/empty` | a 204 without headers or body |
//! | anything else | 200 with the raw event as the body, and an `access-control-allow-origin` the gateway must drop when the API configures CORS |

use std::time::Duration;

use lambda_runtime::Error;
use serde_json::{Value, json};

/// The last segment of the request's path (`rawPath`, or `path` in format 1.0).
fn action(event: &Value) -> &str {
    event
        .get("rawPath")
        .or_else(|| event.get("path"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default()
}

fn query_ms(event: &Value) -> u64 {
    event
        .get("queryStringParameters")
        .and_then(|q| q.get("ms"))
        .and_then(Value::as_str)
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(0)
}

/// A Lambda authorizer's simple response.
fn authorize(event: &Value) -> Result<Value, Error> {
    let identity = match event.get("identitySource") {
        Some(Value::Array(values)) => values.first().and_then(Value::as_str),
        Some(Value::String(joined)) => joined.split(',').next(),
        _ => None,
    }
    .unwrap_or_default();
    if identity == "fail" {
        return Err("authorizer failing on request".into());
    }
    if identity.starts_with("allow") {
        Ok(json!({"isAuthorized": true, "context": {"caller": identity, "probe": "ws-echo"}}))
    } else {
        Ok(json!({"isAuthorized": false}))
    }
}

/// Handles one HTTP API event (request or authorizer).
pub(crate) async fn handle(event: Value) -> Result<Value, Error> {
    if event.get("type").and_then(Value::as_str) == Some("REQUEST") {
        return authorize(&event);
    }
    tracing::info!(route = %event["routeKey"], "http event");
    Ok(match action(&event) {
        "sleep" => {
            let ms = query_ms(&event);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            json!({"statusCode": 200, "body": json!({"slept": ms}).to_string()})
        }
        "fail" => return Err("failing on request".into()),
        "crash" => {
            tracing::error!("crashing on request");
            std::process::abort();
        }
        "bare" => json!({"probe": "bare"}),
        "text" => json!("plain words"),
        "malformed" => json!({"statusCode": "200"}),
        "empty" => json!({"statusCode": 204}),
        "cookies" => json!({
            "statusCode": 201,
            "cookies": ["a=1; Path=/", "b=2"],
            "body": "",
        }),
        _ => json!({
            "statusCode": 200,
            "headers": {
                "content-type": "application/json",
                "access-control-allow-origin": "https://evil.example",
            },
            "body": event.to_string(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorizer_allows_keys_that_start_with_allow() {
        let event = |key: &str| json!({"type": "REQUEST", "identitySource": [key]});
        assert_eq!(authorize(&event("allow-1")).unwrap()["isAuthorized"], true);
        assert_eq!(
            authorize(&event("allow-1")).unwrap()["context"]["caller"],
            "allow-1"
        );
        assert_eq!(authorize(&event("deny")).unwrap()["isAuthorized"], false);
        assert!(authorize(&event("fail")).is_err());
        let v1 = json!({"type": "REQUEST", "identitySource": "allow-2,x"});
        assert_eq!(authorize(&v1).unwrap()["isAuthorized"], true);
    }

    #[test]
    fn the_action_is_the_last_path_segment() {
        assert_eq!(
            action(&json!({"rawPath": "/production/short/sleep"})),
            "sleep"
        );
        assert_eq!(action(&json!({"path": "/v1/bare"})), "bare");
        assert_eq!(action(&json!({})), "");
    }
}
