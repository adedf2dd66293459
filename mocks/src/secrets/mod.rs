//! An AWS Secrets Manager mock speaking the JSON 1.1 protocol as
//! `aws-sdk-secretsmanager` does: `POST /` with `X-Amz-Target:
//! secretsmanager.<Operation>` and `Content-Type: application/x-amz-json-1.1`.
//! Operations: `GetSecretValue` (by name or ARN, by version id or stage),
//! `CreateSecret`, `PutSecretValue` (staging AWSCURRENT / AWSPREVIOUS),
//! `DescribeSecret`, `DeleteSecret` (scheduled or forced). Errors are HTTP
//! 400 with `{"__type", "message"}` as the SDK parses them. Every API call is
//! counted (Secrets Manager bills $0.05 per 10,000), and `access_denied` /
//! `throttle` faults are taken on demand.
//!
//! Control API (JSON): `GET /_mock/secrets/calls`, `POST /_mock/secrets/faults`
//! (`{"kind": "throttle", "applies_to": "all"}`), `DELETE /_mock/secrets/faults`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::server::Server;
use crate::vertex::FaultScope;

mod store;

pub use self::store::AwsError;
use self::store::SecretStore;

/// USD per API call (0.05 per 10,000).
pub const PRICE_PER_CALL_USD: f64 = 0.05 / 10_000.0;

const REGION: &str = "us-east-1";
const ACCOUNT_ID: &str = "123456789012";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// A fault kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretsFaultKind {
    /// `AccessDeniedException`, as when the role lacks `secretsmanager:GetSecretValue`.
    AccessDenied,
    /// `ThrottlingException` ("Rate exceeded"); the SDK retries it.
    Throttle,
}

/// A fault with its scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretsFault {
    /// The fault.
    pub kind: SecretsFaultKind,
    /// The next call only, or every call until cleared.
    #[serde(default)]
    pub applies_to: FaultScope,
}

/// API calls received.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SecretsCalls {
    /// Every call (errors included: each request is billed).
    pub total: u64,
    /// Calls per operation name.
    pub by_operation: BTreeMap<String, u64>,
    /// Calls answered with an injected `ThrottlingException`.
    pub throttled: u64,
    /// Calls answered with an injected `AccessDeniedException`.
    pub denied: u64,
    /// `total` at $0.05 per 10,000 calls.
    pub cost_usd: f64,
    /// Calls per `SecretId` named (well-formed requests only): which secrets
    /// are in use, for the secret-month part of the bill.
    #[serde(default)]
    pub by_secret: BTreeMap<String, u64>,
}

/// The mock's state: the secrets, the calls counted, the faults set.
#[derive(Debug, Default)]
struct Store {
    secrets: SecretStore,
    calls: SecretsCalls,
    faults: Vec<SecretsFault>,
}

impl Store {
    fn take_fault(&mut self) -> Option<SecretsFaultKind> {
        let fault = *self.faults.first()?;
        if fault.applies_to == FaultScope::Next {
            self.faults.remove(0);
        }
        Some(fault.kind)
    }
}

type Shared = Arc<Mutex<Store>>;

fn lock(store: &Shared) -> MutexGuard<'_, Store> {
    store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running Secrets Manager mock.
#[derive(Debug)]
pub struct SecretsMock {
    running: Server,
    store: Shared,
}

impl SecretsMock {
    /// Starts serving on `127.0.0.1:port` (0 picks a free port).
    pub async fn start(port: u16) -> std::io::Result<Self> {
        let store = Shared::default();
        let router = Router::new()
            .route("/", post(api))
            .route("/_mock/secrets/calls", get(calls))
            .route(
                "/_mock/secrets/faults",
                post(add_fault).delete(clear_faults),
            )
            .with_state(store.clone());
        let running = Server::bind("Secrets Manager mock", ("127.0.0.1", port), router).await?;
        Ok(Self { running, store })
    }

    /// `http://127.0.0.1:PORT`: the endpoint override for the SDK.
    pub fn base_url(&self) -> String {
        self.running.base_url()
    }

    /// Creates the secret, or stores `value` as its new current version.
    pub fn put_secret(&self, name: &str, value: &str) {
        if let Err(e) = lock(&self.store).secrets.put_string(name, value) {
            tracing::warn!("put_secret({name}) failed: {e}");
        }
    }

    /// API calls received so far.
    pub fn calls(&self) -> SecretsCalls {
        lock(&self.store).calls.clone()
    }

    /// Sets a fault.
    pub fn set_fault(&self, fault: SecretsFault) {
        lock(&self.store).faults.push(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        lock(&self.store).faults.clear();
    }

    /// Stops serving.
    pub async fn stop(self) {
        self.running.stop().await;
    }
}

/// `POST /`: one API call.
async fn api(State(store): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|target| target.strip_prefix("secretsmanager."))
        .unwrap_or_default()
        .to_owned();
    let mut store = lock(&store);
    store.calls.total += 1;
    store.calls.cost_usd = store.calls.total as f64 * PRICE_PER_CALL_USD;
    *store
        .calls
        .by_operation
        .entry(if operation.is_empty() {
            "(none)".into()
        } else {
            operation.clone()
        })
        .or_default() += 1;
    let signed = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256"));
    if !signed {
        return AwsError::new(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        )
        .into_response();
    }
    match store.take_fault() {
        Some(SecretsFaultKind::Throttle) => {
            store.calls.throttled += 1;
            return AwsError::new("ThrottlingException", "Rate exceeded").into_response();
        }
        Some(SecretsFaultKind::AccessDenied) => {
            store.calls.denied += 1;
            return AwsError::new(
                "AccessDeniedException",
                format!(
                    "User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/speechgate/local is not authorized \
                     to perform: secretsmanager:{operation} because no identity-based policy allows it"
                ),
            )
            .into_response();
        }
        None => {}
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(value @ Value::Object(_)) => {
            if let Some(secret) = value.get("SecretId").and_then(Value::as_str) {
                *store
                    .calls
                    .by_secret
                    .entry(secret_name(secret).to_owned())
                    .or_default() += 1;
            }
            value
        }
        _ => {
            return AwsError::new(
                "SerializationException",
                "The request body is not a JSON object.",
            )
            .into_response();
        }
    };
    match store.secrets.call(&operation, &request) {
        Ok(answer) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], answer.to_string()).into_response(),
        Err(error) => error.into_response(),
    }
}

/// The secret a `SecretId` names: the name itself, or the name inside an ARN
/// (`arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf`, whose last
/// six characters are Secrets Manager's random suffix).
fn secret_name(secret_id: &str) -> &str {
    let Some((_, name)) = secret_id
        .strip_prefix("arn:")
        .and_then(|rest| rest.split_once(":secret:"))
    else {
        return secret_id;
    };
    match name.rsplit_once('-') {
        Some((base, suffix))
            if suffix.len() == 6 && suffix.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            base
        }
        _ => name,
    }
}

async fn calls(State(store): State<Shared>) -> Response {
    Json(lock(&store).calls.clone()).into_response()
}

async fn add_fault(State(store): State<Shared>, body: Bytes) -> Response {
    match serde_json::from_slice::<SecretsFault>(&body) {
        Ok(fault) => {
            let mut store = lock(&store);
            store.faults.push(fault);
            Json(store.faults.clone()).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

async fn clear_faults(State(store): State<Shared>) -> Response {
    lock(&store).faults.clear();
    Json(json!([])).into_response()
}

#[cfg(test)]
mod tests {
    use super::secret_name;

    #[test]
    fn secret_ids_name_their_secret() {
        assert_eq!(secret_name("app/config"), "app/config");
        assert_eq!(
            secret_name("arn:aws:secretsmanager:us-east-1:123456789012:secret:app/config-a1B2c3"),
            "app/config"
        );
        // Without the random suffix (a partial ARN) the name is kept whole.
        assert_eq!(
            secret_name("arn:aws:secretsmanager:us-east-1:123456789012:secret:my-key"),
            "my-key"
        );
    }
}
