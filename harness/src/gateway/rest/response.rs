//! From a Lambda proxy response (payload format 1.0) to the HTTP answer, as
//! API Gateway maps it: `statusCode`, `headers` and `multiValueHeaders`
//! merged (a pair present in both appears once), `body`, and
//! `isBase64Encoded` bodies decoded when the request's `Accept` (or the
//! response's `Content-Type`) is one of the API's binary media types. Any
//! other shape is a malformed response (`Malformed Lambda proxy response`):
//! the client gets 502.

use base64::Engine as _;
use serde_json::{Map, Value};

/// The HTTP answer a function's response becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MappedResponse {
    /// Status code.
    pub status: u16,
    /// Headers in order (repeated names allowed).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Why a function's response could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Malformed Lambda proxy response: {0}")]
pub(crate) struct Malformed(pub String);

const KEYS: [&str; 5] = [
    "statusCode",
    "headers",
    "multiValueHeaders",
    "body",
    "isBase64Encoded",
];

/// A `Content-Type`'s media type, lower-case, without parameters.
pub(crate) fn media_type(content_type: &str) -> String {
    let media_type = content_type.split(';').next().unwrap_or_default();
    media_type.trim().to_ascii_lowercase()
}

/// A header value given as a string, number or boolean, as text.
pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Decodes an `isBase64Encoded` body; `fault` introduces the error.
pub(crate) fn base64_body(text: &str, fault: &str) -> Result<Vec<u8>, Malformed> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| Malformed(format!("{fault}: {e}")))
}

/// Whether a media type matches one of the binary media types (`*/*`, `image/*`, exact).
pub(crate) fn is_binary(media_type: &str, binary_types: &[String]) -> bool {
    let media_type = self::media_type(media_type);
    if media_type.is_empty() {
        return false;
    }
    binary_types.iter().any(|pattern| {
        let pattern = pattern.to_ascii_lowercase();
        pattern == "*/*"
            || pattern == media_type
            || pattern
                .strip_suffix("/*")
                .is_some_and(|family| media_type.split('/').next() == Some(family))
    })
}

fn string_map(value: Option<&Value>, key: &str) -> Result<Vec<(String, String)>, Malformed> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(name, value)| {
                let text = scalar_text(value)
                    .ok_or_else(|| Malformed(format!("{key}.{name} is {value}, not a string")))?;
                Ok((name.clone(), text))
            })
            .collect(),
        Some(other) => Err(Malformed(format!("{key} is {other}, not an object"))),
    }
}

fn multi_map(value: Option<&Value>) -> Result<Vec<(String, String)>, Malformed> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => {
            let mut pairs = Vec::new();
            for (name, values) in map {
                let Value::Array(values) = values else {
                    return Err(Malformed(format!("multiValueHeaders.{name} is not a list")));
                };
                for value in values {
                    let text = scalar_text(value).ok_or_else(|| {
                        Malformed(format!("multiValueHeaders.{name} holds {value}"))
                    })?;
                    pairs.push((name.clone(), text));
                }
            }
            Ok(pairs)
        }
        Some(other) => Err(Malformed(format!(
            "multiValueHeaders is {other}, not an object"
        ))),
    }
}

/// Maps a function's response; `accept` is the request's `Accept` header.
pub(crate) fn map_response(
    payload: &[u8],
    accept: Option<&str>,
    binary_types: &[String],
) -> Result<MappedResponse, Malformed> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| Malformed(format!("not JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err(Malformed(format!("{value} is not an object")));
    };
    check_keys(&object)?;
    let status = match object.get("statusCode") {
        Some(Value::Number(n)) => n
            .as_u64()
            .filter(|code| (100..=599).contains(code))
            .ok_or_else(|| Malformed(format!("statusCode {n} is not an HTTP status")))?,
        Some(other) => return Err(Malformed(format!("statusCode {other} is not an integer"))),
        None => return Err(Malformed("statusCode is missing".to_owned())),
    };
    let mut headers = multi_map(object.get("multiValueHeaders"))?;
    for pair in string_map(object.get("headers"), "headers")? {
        if !headers.contains(&pair) {
            headers.push(pair);
        }
    }
    let text = match object.get("body") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => return Err(Malformed(format!("body {other} is not a string"))),
    };
    let encoded = match object.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(Malformed(format!(
                "isBase64Encoded {other} is not a boolean"
            )));
        }
    };
    let content_type = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.as_str());
    let decode = encoded
        && (accept.is_some_and(|a| is_binary(a, binary_types))
            || content_type.is_some_and(|c| is_binary(c, binary_types)));
    let body = if decode {
        base64_body(&text, "body is not base64")?
    } else {
        text.into_bytes()
    };
    Ok(MappedResponse {
        status: u16::try_from(status).unwrap_or(502),
        headers,
        body,
    })
}

fn check_keys(object: &Map<String, Value>) -> Result<(), Malformed> {
    match object.keys().find(|key| !KEYS.contains(&key.as_str())) {
        Some(key) => Err(Malformed(format!("unexpected key {key}"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Result<MappedResponse, Malformed> {
        map_response(value.to_string().as_bytes(), None, &[])
    }

    #[test]
    fn lambda_http_responses_map() {
        let response = map(json!({
            "statusCode": 201,
            "headers": {},
            "multiValueHeaders": {"content-type": ["application/json"], "set-cookie": ["a=1", "b=2"]},
            "body": "{\"ok\":true}",
            "isBase64Encoded": false,
        }))
        .unwrap();
        assert_eq!(response.status, 201);
        assert_eq!(response.body, b"{\"ok\":true}");
        assert_eq!(
            response.headers,
            vec![
                ("content-type".into(), "application/json".into()),
                ("set-cookie".into(), "a=1".into()),
                ("set-cookie".into(), "b=2".into()),
            ]
        );
    }

    #[test]
    fn headers_and_multi_value_headers_merge_without_duplicates() {
        let response = map(json!({
            "statusCode": 200,
            "headers": {"x-a": "1", "x-b": "2"},
            "multiValueHeaders": {"x-a": ["1", "3"]},
        }))
        .unwrap();
        assert_eq!(
            response.headers,
            vec![
                ("x-a".into(), "1".into()),
                ("x-a".into(), "3".into()),
                ("x-b".into(), "2".into()),
            ]
        );
        assert!(response.body.is_empty());
    }

    #[test]
    fn base64_bodies_decode_only_for_binary_media_types() {
        let value = json!({"statusCode": 200, "headers": {"Content-Type": "image/png"}, "body": "/wA=", "isBase64Encoded": true});
        let bytes = value.to_string();
        let kept = map_response(bytes.as_bytes(), Some("image/png"), &[]).unwrap();
        assert_eq!(kept.body, b"/wA=");
        let decoded =
            map_response(bytes.as_bytes(), Some("image/png"), &["image/*".into()]).unwrap();
        assert_eq!(decoded.body, [0xff, 0x00]);
        assert!(is_binary("application/octet-stream; x=1", &["*/*".into()]));
        assert!(!is_binary("text/plain", &["image/png".into()]));
    }

    #[test]
    fn malformed_responses_are_refused() {
        for bad in [
            json!("just a string"),
            json!([1, 2]),
            json!({"statusCode": "200", "body": "x"}),
            json!({"body": "x"}),
            json!({"statusCode": 200, "body": {"a": 1}}),
            json!({"statusCode": 200, "headers": {"a": {"b": 1}}}),
            json!({"statusCode": 200, "multiValueHeaders": {"a": "b"}}),
            json!({"statusCode": 200, "extra": true}),
            json!({"statusCode": 99}),
            json!({"statusCode": 200, "isBase64Encoded": "yes"}),
        ] {
            assert!(map(bad.clone()).is_err(), "{bad}");
        }
        assert!(map_response(b"not json", None, &[]).is_err());
    }
}
