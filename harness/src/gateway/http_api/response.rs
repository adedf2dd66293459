//! From a Lambda response (payload format 2.0) to the HTTP answer, as HTTP
//! APIs map it:
//!
//! - an object with `statusCode`: `headers` (values joined by commas),
//!   `cookies` (one `set-cookie` header each), `body`, `isBase64Encoded`;
//! - any other valid JSON (an object without `statusCode`, a string, a
//!   number): status 200, `content-type: application/json`, and the JSON as
//!   the body (a string's text without its quotes);
//! - anything else (not JSON, a `statusCode` that is not a number, a header
//!   that is an object): a malformed response, 500 at the client.
//!
//! Format 1.0 responses are mapped as REST APIs map them
//! ([`crate::gateway::rest::response`]).

use serde_json::Value;

use crate::gateway::rest::response::{Malformed, MappedResponse, base64_body, scalar_text};

fn header_value(name: &str, value: &Value) -> Result<String, Malformed> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|item| header_value(name, item))
            .collect::<Result<Vec<_>, _>>()
            .map(|values| values.join(",")),
        other => scalar_text(other).ok_or_else(|| Malformed(format!("headers.{name} is {other}"))),
    }
}

/// Maps a format 2.0 response.
pub(crate) fn map_v2(body: &[u8]) -> Result<MappedResponse, Malformed> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Malformed(format!(
            "the function's answer is not JSON ({e}): {}",
            String::from_utf8_lossy(&body[..body.len().min(120)])
        ))
    })?;
    let structured = match &value {
        Value::Object(map) if map.contains_key("statusCode") => map,
        Value::String(text) => return Ok(inferred(text.clone().into_bytes())),
        other => return Ok(inferred(other.to_string().into_bytes())),
    };
    let status = structured
        .get("statusCode")
        .and_then(Value::as_u64)
        .filter(|s| (100..=599).contains(s))
        .ok_or_else(|| Malformed(format!("statusCode is {}", structured["statusCode"])))?;
    let mut headers = Vec::new();
    match structured.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, value) in map {
                headers.push((name.to_ascii_lowercase(), header_value(name, value)?));
            }
        }
        Some(other) => return Err(Malformed(format!("headers is {other}, not an object"))),
    }
    match structured.get("cookies") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                let cookie = item
                    .as_str()
                    .ok_or_else(|| Malformed(format!("cookies holds {item}, not a string")))?;
                headers.push(("set-cookie".to_owned(), cookie.to_owned()));
            }
        }
        Some(other) => return Err(Malformed(format!("cookies is {other}, not a list"))),
    }
    let text = match structured.get("body") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    let base64 = structured
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let body = if base64 {
        base64_body(&text, "isBase64Encoded, but the body is not base64")?
    } else {
        text.into_bytes()
    };
    Ok(MappedResponse {
        status: u16::try_from(status).unwrap_or(500),
        headers,
        body,
    })
}

fn inferred(body: Vec<u8>) -> MappedResponse {
    MappedResponse {
        status: 200,
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Result<MappedResponse, Malformed> {
        map_v2(value.to_string().as_bytes())
    }

    #[test]
    fn a_structured_answer_keeps_status_headers_cookies_and_body() {
        let mapped = map(json!({
            "statusCode": 201,
            "headers": {"Content-Type": "text/plain", "X-Multi": ["a", "b"], "X-N": 3},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": "made",
        }))
        .unwrap();
        assert_eq!(mapped.status, 201);
        assert_eq!(mapped.body, b"made");
        assert!(
            mapped
                .headers
                .contains(&("content-type".into(), "text/plain".into()))
        );
        assert!(mapped.headers.contains(&("x-multi".into(), "a,b".into())));
        assert!(mapped.headers.contains(&("x-n".into(), "3".into())));
        let cookies: Vec<&str> = mapped
            .headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(cookies, ["a=1; Path=/", "b=2"]);
    }

    #[test]
    fn json_without_a_status_code_is_a_200_json_answer() {
        let object = map(json!({"message": "hi"})).unwrap();
        assert_eq!(object.status, 200);
        assert_eq!(object.body, br#"{"message":"hi"}"#);
        assert_eq!(
            object.headers,
            [("content-type".to_owned(), "application/json".to_owned())]
        );
        let text = map(json!("Hello from Lambda!")).unwrap();
        assert_eq!(text.body, b"Hello from Lambda!");
        assert_eq!(map(json!(42)).unwrap().body, b"42");
    }

    #[test]
    fn base64_bodies_are_decoded() {
        let mapped = map(json!({"statusCode": 200, "body": "/wA=", "isBase64Encoded": true}));
        assert_eq!(mapped.unwrap().body, [0xff, 0x00]);
        assert!(map(json!({"statusCode": 200, "body": "@@", "isBase64Encoded": true})).is_err());
    }

    #[test]
    fn malformed_answers_name_their_fault() {
        let not_json = map_v2(b"not json").unwrap_err();
        assert!(not_json.0.contains("not JSON"), "{not_json}");
        for (value, fault) in [
            (json!({"statusCode": "200"}), "statusCode"),
            (json!({"statusCode": 99}), "statusCode"),
            (json!({"statusCode": 200, "headers": []}), "headers"),
            (
                json!({"statusCode": 200, "headers": {"x": {"a": 1}}}),
                "headers.x",
            ),
            (json!({"statusCode": 200, "cookies": "a=1"}), "cookies"),
        ] {
            let error = map(value.clone()).unwrap_err();
            assert!(error.0.contains(fault), "{value}: {error}");
        }
    }
}
