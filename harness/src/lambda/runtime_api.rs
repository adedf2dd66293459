//! The Lambda Runtime API as `lambda_runtime` talks to it: `GET .../invocation/next`
//! (long poll; `Lambda-Runtime-*` headers, deadline in epoch ms), `POST
//! .../invocation/{id}/response`, `POST .../invocation/{id}/error` and `POST
//! .../init/error`, each answering 202 `{"status":"OK"}`.
//!
//! Every instance gets its own loopback port in `AWS_LAMBDA_RUNTIME_API`
//! (`127.0.0.1:PORT`, the form AWS uses; `lambda_runtime` accepts no base path
//! without a scheme), so each server knows which instance is calling.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mocks::server::Server;
use serde_json::json;

use super::instance::{Instance, RuntimeReply, Started, epoch_deadline_ms};

/// Serves one instance's Runtime API on its listener until `stop` is cancelled.
pub(super) fn serve(
    instance: Arc<Instance>,
    listener: tokio::net::TcpListener,
    stop: tokio_util::sync::CancellationToken,
) {
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{request}/response",
            post(response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{request}/error",
            post(error),
        )
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(instance);
    // Stopped through `stop` alone (the instance's kill): the handle may go.
    if let Err(e) = Server::serve_until("runtime API", listener, app, stop) {
        tracing::error!("runtime API server failed: {e}");
    }
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

fn problem(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"errorMessage": message, "errorType": "InvalidRequest"})),
    )
        .into_response()
}

async fn next(State(instance): State<Arc<Instance>>) -> Response {
    instance.mark_ready();
    let delivery = {
        let mut queue = instance.queue.lock().await;
        queue.recv().await
    };
    let Some(delivery) = delivery else {
        return problem(StatusCode::GONE, "instance is shutting down");
    };
    let deadline_ms = epoch_deadline_ms(delivery.timeout);
    let started = Started {
        at: std::time::Instant::now(),
        deadline: std::time::Instant::now() + delivery.timeout,
    };
    instance
        .in_flight
        .lock()
        .expect("in-flight lock")
        .insert(delivery.request_id.clone(), delivery.reply);
    if delivery.started.send(started).is_err() {
        // The invoker gave up (shutdown); the runtime still gets the event and its answer is dropped.
        tracing::debug!(request = %delivery.request_id, "invoker gone before the runtime took the event");
    }
    let mut headers = HeaderMap::new();
    let pairs = [
        ("lambda-runtime-aws-request-id", delivery.request_id),
        ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
        ("lambda-runtime-invoked-function-arn", delivery.function_arn),
        ("lambda-runtime-trace-id", delivery.trace_id),
        ("content-type", "application/json".to_owned()),
    ];
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    (StatusCode::OK, headers, delivery.payload).into_response()
}

fn complete(instance: &Instance, request: &str, reply: RuntimeReply) -> Response {
    let sender = instance
        .in_flight
        .lock()
        .expect("in-flight lock")
        .remove(request);
    match sender {
        Some(sender) => {
            // The invoker may have stopped waiting (timeout, shutdown): the answer is then dropped.
            let _ = sender.send(reply);
            accepted()
        }
        None => problem(
            StatusCode::BAD_REQUEST,
            "unknown or already answered request id",
        ),
    }
}

async fn response(
    State(instance): State<Arc<Instance>>,
    Path(request): Path<String>,
    body: Bytes,
) -> Response {
    complete(&instance, &request, RuntimeReply::Response(body))
}

/// Reads `{"errorType", "errorMessage"}`, falling back on the
/// `Lambda-Runtime-Function-Error-Type` header and the raw body.
fn parse_error(headers: &HeaderMap, body: &[u8]) -> (String, String) {
    let parsed: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let header_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let error_type = parsed
        .get("errorType")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .or(header_type)
        .unwrap_or_else(|| "Unhandled".to_owned());
    let error_message = parsed
        .get("errorMessage")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    (error_type, error_message)
}

async fn error(
    State(instance): State<Arc<Instance>>,
    Path(request): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (error_type, error_message) = parse_error(&headers, &body);
    complete(
        &instance,
        &request,
        RuntimeReply::Error {
            error_type,
            error_message,
        },
    )
}

async fn init_error(
    State(instance): State<Arc<Instance>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (error_type, error_message) = parse_error(&headers, &body);
    instance.mark_init_failed(format!("{error_type}: {error_message}"));
    accepted()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_or_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "lambda-runtime-function-error-type",
            HeaderValue::from_static("Runtime.Panic"),
        );
        assert_eq!(
            parse_error(
                &headers,
                br#"{"errorType":"MyError","errorMessage":"boom"}"#
            ),
            ("MyError".to_owned(), "boom".to_owned())
        );
        assert_eq!(
            parse_error(&headers, b"not json"),
            ("Runtime.Panic".to_owned(), "not json".to_owned())
        );
    }
}
