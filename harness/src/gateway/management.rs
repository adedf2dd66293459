//! The management API at `/{stage}/@connections/{connectionId}` as
//! aws-sdk-apigatewaymanagement calls it: POST (raw body, at most 128 KB:
//! 413), GET (connectedAt, identity, lastActiveAt), DELETE (204; the socket
//! closes and `$disconnect` gets 1000). A connection that is gone, or still in
//! `$connect`, answers 410 GoneException; an unsigned request 403.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

use super::{ApiState, Outbound};

fn aws_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let mut response = (status, axum::Json(json!({"message": message}))).into_response();
    if let Ok(value) = HeaderValue::from_str(error_type) {
        response.headers_mut().insert("x-amzn-errortype", value);
    }
    response
}

fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Whether the request is SigV4-signed for execute-api (the SDK always signs).
fn signed(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.starts_with("AWS4-HMAC-SHA256") && v.contains("/execute-api/aws4_request")
        })
}

/// `POST|GET|DELETE /{stage}/@connections/{id}`.
pub(super) async fn connections(
    State(state): State<Arc<ApiState>>,
    Path((stage, connection_id)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !state.api.stages.contains(&stage) {
        return aws_error(StatusCode::FORBIDDEN, "ForbiddenException", "Forbidden");
    }
    if !signed(&headers) {
        return aws_error(
            StatusCode::FORBIDDEN,
            "ForbiddenException",
            "Missing Authentication Token",
        );
    }
    let Some(connection) = state.connection(&connection_id) else {
        state
            .departures
            .late(&connection_id, method.as_str(), body.len());
        return aws_error(StatusCode::GONE, "GoneException", "");
    };
    match method {
        Method::POST => {
            if body.len() > state.settings.limits.max_message_bytes {
                return aws_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PayloadTooLargeException",
                    "Message payload exceeds the 128 KB limit",
                );
            }
            let bytes = body.len();
            let message = match String::from_utf8(body.to_vec()) {
                Ok(text) => Outbound::Text(text),
                Err(e) => Outbound::Binary(e.into_bytes()),
            };
            if connection.outbound.send(message).is_err() {
                state.departures.late(&connection_id, "POST", bytes);
                return aws_error(StatusCode::GONE, "GoneException", "");
            }
            state.meters.message_out(bytes);
            StatusCode::OK.into_response()
        }
        Method::GET => {
            let facts = &connection.facts;
            let mut identity = serde_json::Map::new();
            identity.insert("sourceIp".into(), json!(facts.source_ip));
            if let Some(agent) = &facts.user_agent {
                identity.insert("userAgent".into(), json!(agent));
            }
            axum::Json(json!({
                "connectedAt": iso(facts.connected_at_ms),
                "identity": identity,
                "lastActiveAt": iso(connection.last_active_ms.load(Ordering::Relaxed)),
            }))
            .into_response()
        }
        Method::DELETE => {
            if connection
                .outbound
                .send(Outbound::Close(
                    1000,
                    "Connection Closed Normally".to_owned(),
                ))
                .is_err()
            {
                return aws_error(StatusCode::GONE, "GoneException", "");
            }
            StatusCode::NO_CONTENT.into_response()
        }
        _ => aws_error(
            StatusCode::FORBIDDEN,
            "ForbiddenException",
            "Missing Authentication Token",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_has_millis_and_z() {
        assert_eq!(iso(1_707_503_007_396), "2024-02-09T18:23:27.396Z");
    }

    #[test]
    fn signature_required() {
        let mut headers = HeaderMap::new();
        assert!(!signed(&headers));
        headers.insert(
            "authorization",
            HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=x"),
        );
        assert!(signed(&headers));
    }
}
