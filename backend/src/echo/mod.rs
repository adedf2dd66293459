//! The diagnostic echo API's function (`ws-echo`): a probe for a gateway,
//! local or deployed. HTTP API events (a top-level `version`) go to
//! [`http_probe`]. Every other event is checked to deserialize as
//! `aws_lambda_events`' `ApiGatewayWebsocketProxyRequest`; then, by route:
//!
//! | route | does |
//! |---|---|
//! | `$connect` | accepts; `?status=4xx/5xx` refuses with that status; `?protocol=P` answers `Sec-WebSocket-Protocol: P` |
//! | `$disconnect` | logs the close code and reason |
//! | `echo` (two-way) | returns the body, which the route response sends back |
//! | `inspect` | posts back the raw event it received |
//! | `info` | posts back GET @connections/{own id} |
//! | `kick` | DELETE @connections/{own id} |
//! | `send` `{connectionId, data}` | posts `data` to another connection, then reports the result |
//! | `sleep` `{ms}` | sleeps, then posts `{"type":"slept"}` (timeouts) |
//! | `fail` | returns an error ("Internal server error" at the client) |
//! | `crash` | aborts the process mid-invocation |
//! | `$default` | posts back `{"type":"default","body":...}` |

use std::time::Duration;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use http::HeaderMap;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

use crate::management::{Connections, ManagementError, endpoint_for};

pub(crate) mod http_probe;

/// The function's dependencies, built once per instance.
#[derive(Debug)]
pub struct EchoDeps {
    /// Management API clients.
    pub connections: Connections,
}

fn response(status: i64, body: Option<String>) -> ApiGatewayProxyResponse {
    let mut answer = ApiGatewayProxyResponse::default();
    answer.status_code = status;
    answer.body = body.map(Body::Text);
    answer
}

/// Handles one event: an HTTP API's, or a WebSocket API's.
pub async fn handle(deps: &EchoDeps, event: LambdaEvent<Value>) -> Result<Value, Error> {
    if event.payload.get("version").is_some() {
        return http_probe::handle(event.payload).await;
    }
    let answer = websocket(deps, event.payload).await?;
    Ok(serde_json::to_value(answer)?)
}

/// Handles one WebSocket API event.
async fn websocket(deps: &EchoDeps, raw: Value) -> Result<ApiGatewayProxyResponse, Error> {
    let request: ApiGatewayWebsocketProxyRequest =
        serde_json::from_value(raw.clone()).map_err(|e| {
            format!("event does not deserialize as ApiGatewayWebsocketProxyRequest: {e}")
        })?;
    let context = &request.request_context;
    let route = context.route_key.clone().unwrap_or_default();
    let connection_id = context.connection_id.clone().unwrap_or_default();
    tracing::info!(route = %route, connection = %connection_id, "event");
    match route.as_str() {
        "$connect" => Ok(connect(&request)),
        "$disconnect" => {
            tracing::info!(
                code = context.disconnect_status_code,
                reason = context.disconnect_reason.as_deref().unwrap_or_default(),
                "disconnected"
            );
            Ok(response(200, None))
        }
        "echo" => Ok(response(200, request.body.clone())),
        "fail" => Err("failing on request".into()),
        "crash" => {
            tracing::error!("crashing on request");
            std::process::abort();
        }
        _ => {
            let endpoint = endpoint_for(context)?;
            let body: Value = request
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str(b).ok())
                .unwrap_or_default();
            let reply = act(
                deps,
                &route,
                &endpoint,
                &connection_id,
                &request,
                &raw,
                &body,
            )
            .await?;
            if let Some(reply) = reply {
                match deps
                    .connections
                    .post_json(&endpoint, &connection_id, &reply)
                    .await
                {
                    Ok(()) | Err(ManagementError::Gone(_)) => {}
                    Err(other) => return Err(other.into()),
                }
            }
            Ok(response(200, None))
        }
    }
}

fn connect(request: &ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    let query = &request.query_string_parameters;
    if let Some(status) = query.first("status").and_then(|s| s.parse::<i64>().ok())
        && (400..=599).contains(&status)
    {
        return response(status, Some(format!("refused with {status} on request")));
    }
    let mut answer = response(200, None);
    if let Some(protocol) = query.first("protocol") {
        let mut headers = HeaderMap::new();
        if let Ok(value) = protocol.parse() {
            headers.insert("sec-websocket-protocol", value);
        }
        answer.headers = headers;
    }
    answer
}

/// The message-route actions; `Some` is posted back to the caller.
async fn act(
    deps: &EchoDeps,
    route: &str,
    endpoint: &str,
    connection_id: &str,
    request: &ApiGatewayWebsocketProxyRequest,
    raw: &Value,
    body: &Value,
) -> Result<Option<Value>, Error> {
    Ok(match route {
        "inspect" => Some(json!({"type": "event", "event": raw})),
        "info" => {
            let info = deps.connections.info(endpoint, connection_id).await?;
            Some(json!({"type": "info", "info": info}))
        }
        "kick" => {
            deps.connections.close(endpoint, connection_id).await?;
            None
        }
        "send" => {
            let target = body
                .get("connectionId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let data = match body.get("data") {
                Some(Value::String(text)) => text.clone().into_bytes(),
                Some(other) => other.to_string().into_bytes(),
                None => Vec::new(),
            };
            let status = match deps.connections.post(endpoint, target, data).await {
                Ok(()) => json!({"status": "delivered"}),
                Err(ManagementError::Gone(_)) => json!({"status": "gone"}),
                Err(ManagementError::TooLarge(_)) => json!({"status": "too_large"}),
                Err(other) => json!({"status": "error", "detail": other.to_string()}),
            };
            Some(json!({"type": "send_result", "connectionId": target, "result": status}))
        }
        "sleep" => {
            let ms = body.get("ms").and_then(Value::as_u64).unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Some(json!({"type": "slept", "ms": ms}))
        }
        _ => Some(json!({"type": "default", "route": route, "body": request.body})),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect_event(query: Value) -> ApiGatewayWebsocketProxyRequest {
        serde_json::from_value(json!({
            "queryStringParameters": query,
            "requestContext": {"routeKey": "$connect", "connectedAt": 1, "requestTimeEpoch": 1, "connectionId": "c="},
        }))
        .unwrap()
    }

    #[test]
    fn connect_refuses_on_request() {
        assert_eq!(
            connect(&connect_event(json!({"status": "401"}))).status_code,
            401
        );
        assert_eq!(
            connect(&connect_event(json!({"status": "200"}))).status_code,
            200
        );
        assert_eq!(
            connect(&connect_event(json!({"status": "abc"}))).status_code,
            200
        );
        let answer = connect(&connect_event(json!({"protocol": "chat"})));
        assert_eq!(answer.headers["sec-websocket-protocol"], "chat");
    }
}
