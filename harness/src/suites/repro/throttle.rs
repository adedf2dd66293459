//! A DynamoDB proxy that plays a table with provisioned capacity: it
//! forwards every JSON 1.0 request to DynamoDB Local, except writes to one
//! table past its write units a second, which it answers as DynamoDB does
//! (HTTP 400, `ProvisionedThroughputExceededException`). With no limit it is
//! an on-demand table: everything goes through.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// What DynamoDB answers past the provisioned capacity.
const EXCEEDED: &str = "The level of configured provisioned throughput for the table was \
                        exceeded. Consider increasing your provisioning level with the \
                        UpdateTable API.";

const WRITES: [&str; 5] = [
    "DynamoDB_20120810.PutItem",
    "DynamoDB_20120810.UpdateItem",
    "DynamoDB_20120810.DeleteItem",
    "DynamoDB_20120810.BatchWriteItem",
    "DynamoDB_20120810.TransactWriteItems",
];

#[derive(Debug)]
struct Bucket {
    /// Write units a second; `None`: on demand.
    per_second: Option<f64>,
    tokens: f64,
    refilled: Instant,
    throttled: u64,
}

#[derive(Debug)]
struct ProxyState {
    upstream: String,
    table: String,
    http: reqwest::Client,
    bucket: Mutex<Bucket>,
}

/// The running proxy.
#[derive(Debug)]
pub struct ThrottlingProxy {
    addr: SocketAddr,
    state: Arc<ProxyState>,
    task: tokio::task::JoinHandle<()>,
}

impl ThrottlingProxy {
    /// Starts a proxy to `upstream` that limits writes to `table`.
    pub async fn start(upstream: &str, table: &str) -> std::io::Result<Self> {
        let state = Arc::new(ProxyState {
            upstream: upstream.trim_end_matches('/').to_owned(),
            table: table.to_owned(),
            http: reqwest::Client::new(),
            bucket: Mutex::new(Bucket {
                per_second: None,
                tokens: 0.0,
                refilled: Instant::now(),
                throttled: 0,
            }),
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, state, task })
    }

    /// The endpoint the stack's functions use.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Provisioned write units a second (`None`: on demand).
    pub fn set_write_capacity(&self, per_second: Option<f64>) {
        let mut bucket = self.state.bucket.lock().expect("bucket lock");
        bucket.per_second = per_second;
        bucket.tokens = per_second.unwrap_or(0.0);
        bucket.refilled = Instant::now();
    }

    /// Writes answered with ProvisionedThroughputExceededException.
    pub fn throttled(&self) -> u64 {
        self.state.bucket.lock().expect("bucket lock").throttled
    }

    /// Stops it.
    pub fn stop(self) {
        self.task.abort();
    }
}

/// Whether a write to the limited table may go through now.
fn admit(state: &ProxyState, target: &str, body: &[u8]) -> bool {
    if !WRITES.contains(&target) {
        return true;
    }
    let names_table = serde_json::from_slice::<serde_json::Value>(body)
        .map(|v| v.to_string().contains(&format!("\"{}\"", state.table)))
        .unwrap_or(false);
    if !names_table {
        return true;
    }
    let mut bucket = state.bucket.lock().expect("bucket lock");
    let Some(rate) = bucket.per_second else {
        return true;
    };
    let elapsed = bucket.refilled.elapsed().as_secs_f64();
    bucket.tokens = (bucket.tokens + elapsed * rate).min(rate);
    bucket.refilled = Instant::now();
    if bucket.tokens >= 1.0 {
        bucket.tokens -= 1.0;
        true
    } else {
        bucket.throttled += 1;
        false
    }
}

async fn forward(
    State(state): State<Arc<ProxyState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !admit(&state, &target, &body) {
        let answer = serde_json::json!({
            "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "message": EXCEEDED,
        });
        return (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/x-amz-json-1.0")],
            answer.to_string(),
        )
            .into_response();
    }
    let mut request = state.http.post(format!("{}/", state.upstream)).body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    match request.timeout(Duration::from_secs(30)).send().await {
        Ok(answer) => {
            let status =
                StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let mut out = HeaderMap::new();
            for (name, value) in answer.headers() {
                if name != "content-length" && name != "transfer-encoding" {
                    out.insert(name.clone(), value.clone());
                }
            }
            let bytes = answer.bytes().await.unwrap_or_default();
            (status, out, bytes).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}
