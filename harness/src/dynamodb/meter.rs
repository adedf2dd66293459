//! The DynamoDB metering proxy: an HTTP reverse proxy the local stack puts
//! between the functions (`AWS_ENDPOINT_URL_DYNAMODB`) and DynamoDB Local.
//! For every JSON 1.0 request (`X-Amz-Target: DynamoDB_20120810.<Op>`) of an
//! operation that takes it, it asks for `ReturnConsumedCapacity: TOTAL`,
//! reads `ConsumedCapacity` from the answer, sums read and write request
//! units per table and operation, and hands the function the answer it would
//! have had: without the figure when it had not asked (with `Content-Length`
//! and the `x-amz-crc32` checksum the SDK verifies recomputed). Request
//! signatures are not re-made: DynamoDB Local does not check them.
//!
//! It also counts what DynamoDB Local does not report (see
//! [`super::capacity`]): Query / Scan calls that read nothing, and writes
//! refused by their condition. A [`FaultHook`] can answer requests with an
//! error instead of forwarding them (throttling, for reliability tests).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mocks::server::Server;
use serde::{Deserialize, Serialize};

use super::capacity::{
    Access, PreparedRequest, TARGET_PREFIX, error_type, prepare_request, read_answer,
};

/// The largest request body the proxy reads (DynamoDB's own limit is 16 MB).
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// What one request looks like to a [`FaultHook`].
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    /// The operation (`PutItem`, `Query`...).
    pub operation: &'a str,
    /// The table it names, when it names one.
    pub table: Option<&'a str>,
}

/// An error the proxy answers instead of DynamoDB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedFault {
    /// HTTP status.
    pub status: u16,
    /// The short error type (`ProvisionedThroughputExceededException`).
    pub error_type: String,
    /// The message.
    pub message: String,
}

impl InjectedFault {
    /// DynamoDB's throttling answer.
    pub fn throughput_exceeded() -> Self {
        Self {
            status: 400,
            error_type: "ProvisionedThroughputExceededException".to_owned(),
            message: "The level of configured provisioned throughput for the table was exceeded. \
                      Consider increasing your provisioning level with the UpdateTable API."
                .to_owned(),
        }
    }
}

/// Decides, request by request, whether the proxy answers with an injected
/// error instead of forwarding (reliability tests: throttling).
pub trait FaultHook: Send + Sync + std::fmt::Debug {
    /// `Some(fault)` answers this request with the fault.
    fn intercept(&self, request: &RequestFacts<'_>) -> Option<InjectedFault>;
}

/// What one table and operation consumed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TableOperationReading {
    /// The table.
    pub table: String,
    /// The operation.
    pub operation: String,
    /// Requests (answered or not).
    pub requests: u64,
    /// Read request units DynamoDB reported.
    pub read_units: f64,
    /// Write request units DynamoDB reported.
    pub write_units: f64,
    /// Strongly consistent Query / Scan calls that read nothing (reported as 0 units).
    pub empty_reads_strong: u64,
    /// Eventually consistent Query / Scan calls that read nothing (reported as 0 units).
    pub empty_reads_eventual: u64,
    /// Writes refused by their condition (no units reported).
    pub conditional_check_failures: u64,
    /// Error answers, the injected ones included.
    pub errors: u64,
    /// Answers injected by a [`FaultHook`].
    pub injected: u64,
}

/// What the proxy has seen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DynamoReading {
    /// By table and operation.
    pub tables: Vec<TableOperationReading>,
    /// The sum of every `CapacityUnits` figure in every answer.
    pub reported_capacity_units: f64,
    /// `ConsumedCapacity` entries read.
    pub reports: u64,
    /// Requests forwarded or answered.
    pub requests: u64,
}

#[derive(Debug, Default)]
struct Book {
    by_key: BTreeMap<(String, String), TableOperationReading>,
    reported_capacity_units: f64,
    reports: u64,
    requests: u64,
}

impl Book {
    fn entry(&mut self, table: &str, operation: &str) -> &mut TableOperationReading {
        self.by_key
            .entry((table.to_owned(), operation.to_owned()))
            .or_insert_with(|| TableOperationReading {
                table: table.to_owned(),
                operation: operation.to_owned(),
                ..TableOperationReading::default()
            })
    }

    fn reading(&self) -> DynamoReading {
        DynamoReading {
            tables: self.by_key.values().cloned().collect(),
            reported_capacity_units: self.reported_capacity_units,
            reports: self.reports,
            requests: self.requests,
        }
    }
}

#[derive(Debug)]
struct ProxyState {
    upstream: String,
    client: Client<HttpConnector, Full<Bytes>>,
    book: Mutex<Book>,
    hook: RwLock<Option<Arc<dyn FaultHook>>>,
}

/// A running metering proxy.
#[derive(Debug)]
pub struct MeteringProxy {
    state: Arc<ProxyState>,
    server: Server,
}

impl MeteringProxy {
    /// Serves on a free loopback port, forwarding to `upstream` (`http://HOST:PORT`).
    pub async fn start(upstream: &str) -> std::io::Result<Self> {
        let state = Arc::new(ProxyState {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            book: Mutex::new(Book::default()),
            hook: RwLock::new(None),
        });
        let app = Router::new().fallback(forward).with_state(state.clone());
        let server = Server::bind("DynamoDB metering proxy", ("127.0.0.1", 0), app).await?;
        Ok(Self { state, server })
    }

    /// The endpoint the functions use (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> String {
        self.server.base_url()
    }

    /// What it has metered so far.
    pub fn reading(&self) -> DynamoReading {
        self.state.book.lock().expect("book lock").reading()
    }

    /// Sets (or, with `None`, removes) the fault hook.
    pub fn set_fault_hook(&self, hook: Option<Arc<dyn FaultHook>>) {
        *self.state.hook.write().expect("hook lock") = hook;
    }

    /// Stops serving.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

fn text_response(status: StatusCode, text: &str) -> Response {
    (status, text.to_owned()).into_response()
}

fn injected_response(fault: &InjectedFault) -> Response {
    let body = serde_json::json!({
        "__type": format!("com.amazonaws.dynamodb.v20120810#{}", fault.error_type),
        "message": fault.message,
    })
    .to_string();
    let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        [(header::CONTENT_TYPE, "application/x-amz-json-1.0")],
        body,
    )
        .into_response()
}

/// Headers that describe the body as sent, rewritten by the proxy.
fn hop_by_hop(name: &header::HeaderName) -> bool {
    name == header::HOST
        || name == header::CONTENT_LENGTH
        || name == header::TRANSFER_ENCODING
        || name == header::CONNECTION
}

async fn forward(State(state): State<Arc<ProxyState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY_BYTES).await else {
        return text_response(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
    };
    let operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .map(str::to_owned);
    let compressed = parts.headers.contains_key(header::CONTENT_ENCODING);
    let prepared = match &operation {
        Some(op) if !compressed => prepare_request(op, &body),
        _ => PreparedRequest {
            body: body.to_vec(),
            changed: false,
            caller_asked: false,
            access: Access::Control,
            consistent_read: false,
            table: None,
        },
    };
    let operation = operation.unwrap_or_else(|| "(none)".to_owned());
    state.book.lock().expect("book lock").requests += 1;

    let hook = state.hook.read().expect("hook lock").clone();
    if let Some(fault) = hook.and_then(|hook| {
        hook.intercept(&RequestFacts {
            operation: &operation,
            table: prepared.table.as_deref(),
        })
    }) {
        let mut book = state.book.lock().expect("book lock");
        let entry = book.entry(prepared.table.as_deref().unwrap_or("(none)"), &operation);
        entry.requests += 1;
        entry.errors += 1;
        entry.injected += 1;
        return injected_response(&fault);
    }

    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut upstream = hyper::Request::builder()
        .method(parts.method.clone())
        .uri(format!("{}{path}", state.upstream));
    for (name, value) in &parts.headers {
        if !hop_by_hop(name) {
            upstream = upstream.header(name, value);
        }
    }
    let Ok(upstream) = upstream.body(Full::new(Bytes::from(prepared.body.clone()))) else {
        return text_response(StatusCode::BAD_REQUEST, "request cannot be forwarded");
    };
    let answer = match state.client.request(upstream).await {
        Ok(answer) => answer,
        Err(e) => {
            tracing::warn!("DynamoDB metering proxy: upstream unreachable: {e}");
            return text_response(StatusCode::BAD_GATEWAY, "DynamoDB Local unreachable");
        }
    };
    let (answer_parts, answer_body) = answer.into_parts();
    let Ok(answer_body) = answer_body.collect().await.map(|b| b.to_bytes()) else {
        return text_response(StatusCode::BAD_GATEWAY, "DynamoDB Local answer cut short");
    };
    let readable = !answer_parts.headers.contains_key(header::CONTENT_ENCODING);
    let mut body_out = answer_body.clone();
    let mut headers = answer_parts.headers.clone();
    if prepared.access != Access::Control && readable {
        let rewritten = account(
            &state,
            &prepared,
            &operation,
            answer_parts.status,
            &answer_body,
        );
        if let Some(rewritten) = rewritten {
            body_out = Bytes::from(rewritten);
            if headers.contains_key("x-amz-crc32") {
                let crc = crc32fast::hash(&body_out);
                headers.insert("x-amz-crc32", HeaderValue::from(crc));
            }
        }
    }
    respond(answer_parts.status, &headers, body_out)
}

/// Records an answer; returns the body to hand back when it must change.
fn account(
    state: &ProxyState,
    prepared: &PreparedRequest,
    operation: &str,
    status: StatusCode,
    body: &[u8],
) -> Option<Vec<u8>> {
    let table = prepared
        .table
        .clone()
        .unwrap_or_else(|| "(none)".to_owned());
    let mut book = state.book.lock().expect("book lock");
    if !status.is_success() {
        let entry = book.entry(&table, operation);
        entry.requests += 1;
        entry.errors += 1;
        if error_type(body) == "ConditionalCheckFailedException" {
            entry.conditional_check_failures += 1;
        }
        return None;
    }
    let answer = read_answer(body, !prepared.caller_asked);
    book.entry(&table, operation).requests += 1;
    let mut total = 0.0;
    for consumed in &answer.consumed {
        let (read, write) = match (consumed.read_units, consumed.write_units) {
            (None, None) if prepared.access == Access::Read => (consumed.capacity_units, 0.0),
            (None, None) => (0.0, consumed.capacity_units),
            (read, write) => (read.unwrap_or(0.0), write.unwrap_or(0.0)),
        };
        let name = if consumed.table.is_empty() {
            &table
        } else {
            &consumed.table
        };
        let entry = book.entry(name, operation);
        entry.read_units += read;
        entry.write_units += write;
        book.reported_capacity_units += consumed.capacity_units;
        book.reports += 1;
        total += consumed.capacity_units;
    }
    let scanning = matches!(operation, "Query" | "Scan");
    if scanning && !answer.consumed.is_empty() && total == 0.0 {
        let entry = book.entry(&table, operation);
        if prepared.consistent_read {
            entry.empty_reads_strong += 1;
        } else {
            entry.empty_reads_eventual += 1;
        }
    }
    answer.rewritten
}

fn respond(status: StatusCode, headers: &HeaderMap, body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    for (name, value) in headers {
        if !hop_by_hop(name) {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}
