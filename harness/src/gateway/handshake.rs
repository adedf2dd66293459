//! The WebSocket upgrade as API Gateway performs it: the stage must exist;
//! the connection quota applies; a REQUEST authorizer (identity sources first:
//! missing means 401 without invoking it) may refuse with 401 / 403 / 500;
//! `$connect`'s status code decides the handshake and the headers it returns
//! go into the 101 answer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::Utc;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::events::{self, ConnectionFacts};
use super::policy::{self, Decision};
use super::{ApiState, ConnectionHandle, connection};
use crate::lambda::Outcome;
use crate::template::IdentitySource;

fn json_status(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"message": message}))).into_response()
}

/// Any path that is not a stage or an @connections URL.
pub(super) async fn forbidden() -> Response {
    json_status(StatusCode::FORBIDDEN, "Forbidden")
}

/// A stage path reached without a WebSocket upgrade.
pub(super) async fn not_websocket() -> Response {
    json_status(
        StatusCode::UPGRADE_REQUIRED,
        "This endpoint accepts WebSocket upgrades only",
    )
}

/// Header names in the casing AWS shows them to the function.
fn aws_header_name(name: &HeaderName) -> String {
    const KNOWN: &[&str] = &[
        "Host",
        "Sec-WebSocket-Extensions",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Protocol",
        "User-Agent",
        "Origin",
        "Authorization",
        "Cookie",
    ];
    KNOWN
        .iter()
        .find(|known| known.eq_ignore_ascii_case(name.as_str()))
        .map(|known| (*known).to_owned())
        .unwrap_or_else(|| name.as_str().to_owned())
}

/// The headers the function sees: the client's, plus what AWS adds.
fn event_headers(
    headers: &HeaderMap,
    peer: SocketAddr,
    facts_trace: &str,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| *name != header::CONNECTION && *name != header::UPGRADE)
        .filter_map(|(name, value)| {
            value
                .to_str()
                .ok()
                .map(|v| (aws_header_name(name), v.to_owned()))
        })
        .collect();
    out.push(("X-Amzn-Trace-Id".to_owned(), facts_trace.to_owned()));
    out.push(("X-Forwarded-For".to_owned(), peer.ip().to_string()));
    out.push(("X-Forwarded-Port".to_owned(), peer.port().to_string()));
    out.push(("X-Forwarded-Proto".to_owned(), "http".to_owned()));
    out
}

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    let Some(query) = query else {
        return Vec::new();
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(name), decode(value))
        })
        .collect()
}

/// `GET /{stage}` with an upgrade.
pub(super) async fn upgrade(
    State(state): State<Arc<ApiState>>,
    Path(stage): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
) -> Response {
    if !state.api.stages.contains(&stage) {
        return forbidden().await;
    }
    let headers = request.headers().clone();
    let is_upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let Some(key) = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .cloned()
        .filter(|_| is_upgrade)
    else {
        return not_websocket().await;
    };
    if !state.admit_connection() {
        return json_status(
            StatusCode::TOO_MANY_REQUESTS,
            "LimitExceededException: new connections per second quota",
        );
    }
    let Some(on_upgrade) = request
        .extensions_mut()
        .remove::<hyper::upgrade::OnUpgrade>()
    else {
        return json_status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "connection cannot be upgraded",
        );
    };
    let now = Utc::now();
    let mut facts = ConnectionFacts {
        connection_id: events::new_connection_id(),
        connected_at_ms: now.timestamp_millis(),
        source_ip: peer.ip().to_string(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        api_id: state.api.api_id.clone(),
        stage: stage.clone(),
        domain_name: state.domain_name.clone(),
        authorizer: None,
    };
    let request_id = events::new_request_id();
    let trace = format!(
        "Root=1-{:08x}-{}",
        now.timestamp(),
        crate::lambda::uuid_like().replace('-', "")[..24].to_owned()
    );
    let event_headers = event_headers(&headers, peer, &trace);
    let query = query_pairs(request.uri().query());

    let connect_route = state.api.routes.get("$connect").cloned();
    if let Some(authorizer) = connect_route.as_ref().and_then(|r| r.authorizer.clone()) {
        match authorize(
            &state,
            &facts,
            &request_id,
            &authorizer,
            &headers,
            &event_headers,
            &query,
        )
        .await
        {
            Ok(context) => facts.authorizer = Some(context),
            Err(refusal) => return refusal,
        }
    }

    let mut reply_headers = HeaderMap::new();
    if let Some(route) = connect_route {
        let event = events::connect_event(&facts, &request_id, &event_headers, &query, now);
        match connection::invoke_route(&state, &route, event, "$connect").await {
            Err(_) => {
                return json_status(StatusCode::GATEWAY_TIMEOUT, "Endpoint request timed out");
            }
            Ok(Outcome::Success { body }) => match connect_answer(&body) {
                Ok((status, headers)) if status.is_success() => reply_headers = headers,
                Ok((status, _)) => return refusal_from_function(status, &body),
                Err(problem) => {
                    tracing::warn!(api = %state.api.logical_id, "$connect answered badly: {problem}");
                    return json_status(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
                }
            },
            Ok(other) => {
                tracing::warn!(api = %state.api.logical_id, outcome = other.label(), "$connect failed");
                return json_status(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
            }
        }
    }

    let (outbound, outbound_rx) = mpsc::unbounded_channel();
    let handle = Arc::new(ConnectionHandle {
        facts,
        outbound,
        last_active_ms: AtomicI64::new(now.timestamp_millis()),
        headers: event_headers,
    });
    let task_state = state.clone();
    state.tasks.spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => connection::run(task_state, handle, upgraded, outbound_rx).await,
            Err(e) => tracing::debug!("upgrade failed: {e}"),
        }
    });

    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let out = response.headers_mut();
    out.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    out.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        out.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    for (name, value) in &reply_headers {
        if name != header::CONNECTION
            && name != header::UPGRADE
            && name != header::SEC_WEBSOCKET_ACCEPT
        {
            out.append(name.clone(), value.clone());
        }
    }
    response
}

/// Runs the authorizer; `Err` is the refusal to send.
async fn authorize(
    state: &ApiState,
    facts: &ConnectionFacts,
    request_id: &str,
    authorizer: &crate::template::Authorizer,
    headers: &HeaderMap,
    event_headers: &[(String, String)],
    query: &[(String, String)],
) -> Result<Map<String, Value>, Response> {
    let present = authorizer
        .identity_sources
        .iter()
        .all(|source| match source {
            IdentitySource::QueryString(name) => {
                query.iter().any(|(n, v)| n == name && !v.is_empty())
            }
            IdentitySource::Header(name) => {
                headers.get(name.as_str()).is_some_and(|v| !v.is_empty())
            }
        });
    if !present {
        return Err(json_status(StatusCode::UNAUTHORIZED, "Unauthorized"));
    }
    let settings = &state.settings;
    let event = events::authorizer_request(
        facts,
        request_id,
        &settings.region,
        &settings.account_id,
        event_headers,
        query,
        Utc::now(),
    );
    let method_arn = event["methodArn"].as_str().unwrap_or_default().to_owned();
    let payload = Bytes::from(event.to_string());
    let outcome = state
        .lambda
        .invoke(&authorizer.function, payload, Some("authorizer".to_owned()))
        .await;
    match outcome {
        Ok(Outcome::Success { body }) => match policy::evaluate(&body, &method_arn) {
            Decision::Allow(context) => Ok(context),
            Decision::Deny => Err(json_status(StatusCode::FORBIDDEN, "Forbidden")),
            Decision::Invalid(problem) => {
                tracing::warn!(api = %state.api.logical_id, "authorizer answer refused: {problem}");
                Err(json_status(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal server error",
                ))
            }
        },
        Ok(Outcome::FunctionError { error_message, .. }) if error_message == "Unauthorized" => {
            Err(json_status(StatusCode::UNAUTHORIZED, "Unauthorized"))
        }
        Ok(other) => {
            tracing::warn!(api = %state.api.logical_id, outcome = other.label(), "authorizer failed");
            Err(json_status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
            ))
        }
        Err(e) => {
            tracing::error!("authorizer: {e}");
            Err(json_status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
            ))
        }
    }
}

/// Reads `$connect`'s proxy answer: its status (200 when absent) and headers.
fn connect_answer(body: &[u8]) -> Result<(StatusCode, HeaderMap), String> {
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) || body == b"null" {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?
    };
    let Value::Object(answer) = value else {
        return Err("not a JSON object".to_owned());
    };
    let status = match answer.get("statusCode") {
        None => StatusCode::OK,
        Some(code) => code
            .as_u64()
            .and_then(|c| u16::try_from(c).ok())
            .and_then(|c| StatusCode::from_u16(c).ok())
            .ok_or_else(|| format!("statusCode {code} is not an HTTP status"))?,
    };
    let mut headers = HeaderMap::new();
    let single = answer
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten();
    for (name, value) in single {
        if let (Ok(name), Some(Ok(value))) = (
            HeaderName::try_from(name.as_str()),
            value.as_str().map(HeaderValue::from_str),
        ) {
            headers.insert(name, value);
        }
    }
    let multi = answer
        .get("multiValueHeaders")
        .and_then(Value::as_object)
        .into_iter()
        .flatten();
    for (name, values) in multi {
        for value in values
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if let (Ok(name), Ok(value)) = (
                HeaderName::try_from(name.as_str()),
                HeaderValue::from_str(value),
            ) {
                headers.append(name, value);
            }
        }
    }
    Ok((status, headers))
}

/// A refusal decided by `$connect`: its status, with its body when it gave one.
fn refusal_from_function(status: StatusCode, body: &[u8]) -> Response {
    let text = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("body").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    if text.is_empty() {
        let reason = status.canonical_reason().unwrap_or("Refused");
        return json_status(status, reason);
    }
    (status, text).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_answers() {
        assert_eq!(connect_answer(b"").unwrap().0, StatusCode::OK);
        assert_eq!(
            connect_answer(br#"{"statusCode":401}"#).unwrap().0,
            StatusCode::UNAUTHORIZED
        );
        let (status, headers) =
            connect_answer(br#"{"statusCode":200,"headers":{"Sec-WebSocket-Protocol":"chat"}}"#)
                .unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["sec-websocket-protocol"], "chat");
        assert!(connect_answer(b"[1]").is_err());
        assert!(connect_answer(br#"{"statusCode":"x"}"#).is_err());
    }

    #[test]
    fn query_is_decoded() {
        assert_eq!(
            query_pairs(Some("token=a%2Bb&x=1+2&flag")),
            vec![
                ("token".into(), "a+b".into()),
                ("x".into(), "1 2".into()),
                ("flag".into(), String::new())
            ]
        );
    }
}
