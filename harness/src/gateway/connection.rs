//! A live WebSocket connection: frame (32 KB) and message (128 KB) limits
//! closing with 1009, binary frames closing with 1003, the idle timeout
//! (traffic either way resets it; ping/pong does not) and the maximum
//! duration closing with 1001, each text message routed and its integration
//! invoked concurrently (as AWS does), gateway error messages, and exactly one
//! `$disconnect` once the connection is gone from the registry.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::events;
use super::routing::route_for;
use super::{ApiState, ConnectionHandle, Outbound};
use crate::lambda::Outcome;
use crate::template::Route;

/// The integration did not answer within its timeout (the invocation runs on).
#[derive(Debug)]
pub(super) struct IntegrationTimeout;

/// Invokes a route's function, waiting at most the (scaled) integration
/// timeout; past it the invocation keeps running in the background, as on AWS.
pub(super) async fn invoke_route(
    state: &Arc<ApiState>,
    route: &Route,
    event: Value,
    label: &str,
) -> Result<Outcome, IntegrationTimeout> {
    let lambda = state.lambda.clone();
    let function = route.function.clone();
    let label = label.to_owned();
    let payload = Bytes::from(event.to_string());
    let invocation = state
        .tasks
        .spawn(async move { lambda.invoke(&function, payload, Some(label)).await });
    match tokio::time::timeout(state.real(route.integration_timeout), invocation).await {
        Ok(Ok(Ok(outcome))) => Ok(outcome),
        Ok(Ok(Err(e))) => {
            tracing::error!("invoke: {e}");
            Ok(Outcome::Crash {
                status: e.to_string(),
            })
        }
        Ok(Err(join)) => Ok(Outcome::Crash {
            status: format!("invocation task failed: {join}"),
        }),
        Err(_) => Err(IntegrationTimeout),
    }
}

/// Standard reasons for the close codes the gateway reports in `$disconnect`.
fn standard_reason(code: u16) -> &'static str {
    match code {
        1000 => "Connection Closed Normally",
        1001 => "Going away",
        1003 => "Unsupported data",
        1005 => "Client-side close frame status not set",
        1006 => "Connection closed abnormally",
        1009 => "Message too big",
        _ => "",
    }
}

fn close_frame(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_owned().into(),
    }))
}

/// Serves one upgraded connection until it closes, then invokes `$disconnect`.
pub(super) async fn run(
    state: Arc<ApiState>,
    handle: Arc<ConnectionHandle>,
    upgraded: hyper::upgrade::Upgraded,
    mut outbound: mpsc::UnboundedReceiver<Outbound>,
) {
    let limits = &state.settings.limits;
    let config = WebSocketConfig::default()
        .max_frame_size(Some(limits.max_frame_bytes))
        .max_message_size(Some(limits.max_message_bytes));
    let socket =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    let (mut sink, mut stream) = socket.split();
    let connection_id = handle.facts.connection_id.clone();
    state
        .connections
        .lock()
        .expect("connections lock")
        .insert(connection_id.clone(), handle.clone());
    state.meters.connection_opened();

    let idle = state.real(limits.idle_timeout);
    let hard_stop = Instant::now() + state.real(limits.max_duration);
    // Milliseconds from `opened` to the last frame either way (shared by
    // the reading and the writing half).
    let opened = Instant::now();
    let last_activity_ms = AtomicU64::new(0);
    let last_activity = || opened + Duration::from_millis(last_activity_ms.load(Ordering::Relaxed));
    let touch = || {
        let since_open = u64::try_from(opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        last_activity_ms.store(since_open, Ordering::Relaxed);
        handle
            .last_active_ms
            .store(Utc::now().timestamp_millis(), Ordering::Relaxed);
    };

    // (code, reason) for $disconnect, and whether we must send the close frame.
    // The client's frames are read while a write to it waits, as on AWS: a
    // client that sends without reading must not stop the gateway reading it
    // (both sides would wait on the other's full buffer for ever).
    let (code, reason, send_close) = {
        let mut writer = std::pin::pin!(write_outbound(&mut sink, &mut outbound, &touch));
        loop {
            tokio::select! {
                incoming = stream.next() => match incoming {
                    Some(Ok(Message::Text(text))) => {
                        touch();
                        state.meters.message_in(text.len());
                        let task_state = state.clone();
                        let task_handle = handle.clone();
                        state.tasks.spawn(async move { dispatch(task_state, task_handle, text.to_string()).await });
                    }
                    Some(Ok(Message::Binary(_))) => break (1003, standard_reason(1003).to_owned(), true),
                    Some(Ok(Message::Close(frame))) => {
                        let (code, reason) = match frame {
                            Some(frame) => {
                                let code = u16::from(frame.code);
                                let reason = if frame.reason.is_empty() { standard_reason(code).to_owned() } else { frame.reason.to_string() };
                                (code, reason)
                            }
                            None => (1005, standard_reason(1005).to_owned()),
                        };
                        break (code, reason, false);
                    }
                    Some(Ok(_)) => {} // ping / pong: answered by tungstenite, not activity
                    Some(Err(WsError::Capacity(_))) => break (1009, standard_reason(1009).to_owned(), true),
                    Some(Err(e)) => {
                        tracing::debug!(connection = %connection_id, "socket error: {e}");
                        break (1006, standard_reason(1006).to_owned(), false);
                    }
                    None => break (1006, standard_reason(1006).to_owned(), false),
                },
                ended = &mut writer => match ended {
                    WriterEnd::Close(code, reason) => break (code, reason, true),
                    WriterEnd::Lost => break (1006, standard_reason(1006).to_owned(), false),
                },
                _ = tokio::time::sleep_until(last_activity() + idle) => break (1001, standard_reason(1001).to_owned(), true),
                _ = tokio::time::sleep_until(hard_stop) => break (1001, standard_reason(1001).to_owned(), true),
                _ = state.shutdown.cancelled() => break (1001, standard_reason(1001).to_owned(), true),
            }
        }
    };
    // Gone from the registry first: from here @connections answers 410.
    state
        .connections
        .lock()
        .expect("connections lock")
        .remove(&connection_id);
    state.departures.closed(&connection_id, code);
    let lasted_ms = Utc::now().timestamp_millis() - handle.facts.connected_at_ms;
    state
        .meters
        .connection_closed(u64::try_from(lasted_ms).unwrap_or(0));
    let closing = async {
        if send_close {
            let _ = sink.send(close_frame(code, &reason)).await;
        }
        let _ = sink.flush().await;
        // Let the client's close reply arrive, then drop the socket.
        while let Some(Ok(message)) = stream.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), closing).await;
    drop(sink);

    if let Some(route) = state.api.routes.get("$disconnect") {
        let request_id = events::new_request_id();
        let event = events::disconnect_event(
            &handle.facts,
            &request_id,
            code,
            &reason,
            &handle.headers,
            Utc::now(),
        );
        // Best effort: the result is ignored, as on AWS.
        state.departures.disconnect(&connection_id, false);
        let _ = invoke_route(&state, route, event, "$disconnect").await;
        state.departures.disconnect(&connection_id, true);
    }
}

/// Why the writing half of a connection stopped.
enum WriterEnd {
    /// An `Outbound::Close` (the gateway closes with this code and reason).
    Close(u16, String),
    /// The socket failed, or the connection's handle is gone.
    Lost,
}

/// Writes the connection's outbound frames in order until a close is asked
/// for or the socket fails; `touch` marks each as activity.
async fn write_outbound<S>(
    sink: &mut S,
    outbound: &mut mpsc::UnboundedReceiver<Outbound>,
    touch: &impl Fn(),
) -> WriterEnd
where
    S: futures_util::Sink<Message> + Unpin,
{
    loop {
        let frame = match outbound.recv().await {
            Some(Outbound::Text(text)) => Message::text(text),
            Some(Outbound::Binary(data)) => Message::binary(data),
            Some(Outbound::Close(code, reason)) => return WriterEnd::Close(code, reason),
            None => return WriterEnd::Lost,
        };
        touch();
        if sink.send(frame).await.is_err() {
            return WriterEnd::Lost;
        }
    }
}

/// Routes one text message and handles the integration's answer.
async fn dispatch(state: Arc<ApiState>, handle: Arc<ConnectionHandle>, body: String) {
    let request_id = events::new_request_id();
    let connection_id = &handle.facts.connection_id;
    // The connection may be gone; then the message is dropped (and not
    // billed), as AWS does.
    let send = |text: String| {
        let bytes = text.len();
        if handle.outbound.send(Outbound::Text(text)).is_ok() {
            state.meters.message_out(bytes);
        }
    };
    let send_own = |text: String| {
        let bytes = text.len();
        if handle.outbound.send(Outbound::Text(text)).is_ok() {
            state.meters.gateway_message(bytes);
        }
    };
    let routes = &state.api.routes;
    let Some(route_key) = route_for(
        &state.selector,
        &body,
        |key| routes.contains_key(key),
        "$default",
    ) else {
        send_own(events::gateway_message(
            "Forbidden",
            connection_id,
            &request_id,
        ));
        return;
    };
    let route = &routes[route_key.as_ref()];
    let message_id = events::new_request_id();
    let event = events::message_event(
        &handle.facts,
        &route_key,
        &request_id,
        &message_id,
        &body,
        Utc::now(),
    );
    match invoke_route(&state, route, event, &route_key).await {
        Err(IntegrationTimeout) => send_own(events::gateway_message(
            "Endpoint request timed out",
            connection_id,
            &request_id,
        )),
        Ok(Outcome::Success { body }) => {
            if route.two_way
                && let Some(reply) = route_response_body(&body)
            {
                send(reply);
            }
        }
        Ok(other) => {
            tracing::debug!(route = %route_key, outcome = other.label(), "integration failed");
            send_own(events::gateway_message(
                "Internal server error",
                connection_id,
                &request_id,
            ));
        }
    }
}

/// The body a two-way route sends back: the proxy answer's `body`, or the
/// whole answer when it is not a proxy answer.
fn route_response_body(answer: &[u8]) -> Option<String> {
    match serde_json::from_slice::<Value>(answer) {
        Ok(Value::Null) => None,
        Ok(Value::Object(object))
            if object.contains_key("statusCode") || object.contains_key("body") =>
        {
            match object.get("body") {
                Some(Value::String(body)) if !body.is_empty() => Some(body.clone()),
                Some(Value::Null) | None => None,
                Some(Value::String(_)) => None,
                Some(other) => Some(other.to_string()),
            }
        }
        Ok(other) => Some(other.to_string()),
        Err(_) => (!answer.is_empty()).then(|| String::from_utf8_lossy(answer).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_response_bodies() {
        assert_eq!(
            route_response_body(br#"{"statusCode":200,"body":"hi"}"#).as_deref(),
            Some("hi")
        );
        assert_eq!(route_response_body(br#"{"statusCode":200}"#), None);
        assert_eq!(route_response_body(b"null"), None);
        assert_eq!(
            route_response_body(br#"{"a":1}"#).as_deref(),
            Some(r#"{"a":1}"#)
        );
    }
}
