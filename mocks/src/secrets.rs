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
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::server::Running;
use crate::vertex::FaultScope;

/// USD per API call (0.05 per 10,000).
pub const PRICE_PER_CALL_USD: f64 = 0.05 / 10_000.0;

const REGION: &str = "us-east-1";
const ACCOUNT_ID: &str = "123456789012";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const NOT_FOUND: &str = "Secrets Manager can't find the specified secret.";

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
}

#[derive(Debug, Clone)]
struct Version {
    id: String,
    string: Option<String>,
    binary: Option<String>,
    stages: Vec<String>,
    created: f64,
}

#[derive(Debug, Clone)]
struct Secret {
    arn: String,
    name: String,
    description: Option<String>,
    created: f64,
    last_changed: f64,
    last_accessed: Option<f64>,
    deleted: Option<f64>,
    versions: Vec<Version>,
}

#[derive(Debug, Default)]
struct Store {
    secrets: BTreeMap<String, Secret>,
    calls: SecretsCalls,
    faults: Vec<SecretsFault>,
}

/// An error answer: `__type` and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct AwsError {
    /// `__type`, e.g. `ResourceNotFoundException`.
    pub kind: &'static str,
    /// `message`.
    pub message: String,
}

impl AwsError {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    fn not_found() -> Self {
        Self::new("ResourceNotFoundException", NOT_FOUND)
    }

    fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterException", message)
    }
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let body = json!({"__type": self.kind, "message": self.message}).to_string();
        let mut response = (StatusCode::BAD_REQUEST, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if let Ok(kind) = HeaderValue::from_str(self.kind) {
            headers.insert("x-amzn-errortype", kind);
        }
        response
    }
}

fn now() -> f64 {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    millis as f64 / 1000.0
}

fn digest(input: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(input.as_bytes()).into()
}

/// A version id shaped like a UUID, derived from the secret and version number.
fn version_id(name: &str, number: usize) -> String {
    let hex: String = digest(&format!("{name}#{number}"))
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX`.
fn secret_arn(name: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let suffix: String = digest(name)
        .iter()
        .take(6)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{name}-{suffix}")
}

fn field<'a>(request: &'a Value, name: &str) -> Option<&'a str> {
    request.get(name).and_then(Value::as_str)
}

fn required<'a>(request: &'a Value, name: &str) -> Result<&'a str, AwsError> {
    field(request, name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| AwsError::new("ValidationException", format!("{name} is required.")))
}

impl Store {
    fn find(&mut self, id: &str) -> Result<&mut Secret, AwsError> {
        let name = match self.secrets.values().find(|s| s.arn == id) {
            Some(secret) => secret.name.clone(),
            None => id.to_owned(),
        };
        self.secrets.get_mut(&name).ok_or_else(AwsError::not_found)
    }

    fn find_live(&mut self, id: &str) -> Result<&mut Secret, AwsError> {
        let secret = self.find(id)?;
        if secret.deleted.is_some() {
            return Err(AwsError::new(
                "InvalidRequestException",
                "You can't perform this operation on the secret because it was marked for deletion.",
            ));
        }
        Ok(secret)
    }

    fn create(&mut self, name: &str, description: Option<String>) -> Result<&mut Secret, AwsError> {
        if self.secrets.contains_key(name) {
            return Err(AwsError::new(
                "ResourceExistsException",
                format!("The operation failed because the secret {name} already exists."),
            ));
        }
        let created = now();
        let secret = Secret {
            arn: secret_arn(name),
            name: name.to_owned(),
            description,
            created,
            last_changed: created,
            last_accessed: None,
            deleted: None,
            versions: Vec::new(),
        };
        Ok(self.secrets.entry(name.to_owned()).or_insert(secret))
    }

    fn take_fault(&mut self) -> Option<SecretsFaultKind> {
        let fault = *self.faults.first()?;
        if fault.applies_to == FaultScope::Next {
            self.faults.remove(0);
        }
        Some(fault.kind)
    }

    fn call(&mut self, operation: &str, request: &Value) -> Result<Value, AwsError> {
        match operation {
            "GetSecretValue" => self.get_secret_value(request),
            "CreateSecret" => self.create_secret(request),
            "PutSecretValue" => self.put_secret_value(request),
            "DescribeSecret" => self.describe_secret(request),
            "DeleteSecret" => self.delete_secret(request),
            _ => Err(AwsError::new(
                "UnknownOperationException",
                format!("Unknown operation {operation}."),
            )),
        }
    }

    fn get_secret_value(&mut self, request: &Value) -> Result<Value, AwsError> {
        let secret = self.find_live(required(request, "SecretId")?)?;
        let version = match (field(request, "VersionId"), field(request, "VersionStage")) {
            (Some(id), _) => secret.versions.iter().find(|v| v.id == id),
            (None, stage) => {
                let stage = stage.unwrap_or("AWSCURRENT");
                secret
                    .versions
                    .iter()
                    .find(|v| v.stages.iter().any(|s| s == stage))
            }
        }
        .ok_or_else(|| {
            AwsError::new(
                "ResourceNotFoundException",
                "Secrets Manager can't find the specified secret value for the requested version.",
            )
        })?;
        let mut answer = json!({
            "ARN": secret.arn,
            "Name": secret.name,
            "VersionId": version.id,
            "VersionStages": version.stages,
            "CreatedDate": version.created,
        });
        if let Some(string) = &version.string {
            answer["SecretString"] = json!(string);
        }
        if let Some(binary) = &version.binary {
            answer["SecretBinary"] = json!(binary);
        }
        secret.last_accessed = Some(now());
        Ok(answer)
    }

    fn create_secret(&mut self, request: &Value) -> Result<Value, AwsError> {
        let name = required(request, "Name")?;
        let description = field(request, "Description").map(str::to_owned);
        let has_value = request.get("SecretString").is_some() || request.get("SecretBinary").is_some();
        let secret = self.create(name, description)?;
        let mut answer = json!({"ARN": secret.arn, "Name": secret.name});
        if has_value {
            let version = add_version(secret, request)?;
            answer["VersionId"] = json!(version);
        }
        Ok(answer)
    }

    fn put_secret_value(&mut self, request: &Value) -> Result<Value, AwsError> {
        let secret = self.find_live(required(request, "SecretId")?)?;
        let version = add_version(secret, request)?;
        let stages = secret
            .versions
            .last()
            .map(|v| v.stages.clone())
            .unwrap_or_default();
        Ok(json!({"ARN": secret.arn, "Name": secret.name, "VersionId": version, "VersionStages": stages}))
    }

    fn describe_secret(&mut self, request: &Value) -> Result<Value, AwsError> {
        let secret = self.find(required(request, "SecretId")?)?;
        let stages: BTreeMap<&str, &Vec<String>> = secret
            .versions
            .iter()
            .filter(|v| !v.stages.is_empty())
            .map(|v| (v.id.as_str(), &v.stages))
            .collect();
        let mut answer = json!({
            "ARN": secret.arn,
            "Name": secret.name,
            "CreatedDate": secret.created,
            "LastChangedDate": secret.last_changed,
            "VersionIdsToStages": stages,
        });
        if let Some(description) = &secret.description {
            answer["Description"] = json!(description);
        }
        if let Some(accessed) = secret.last_accessed {
            answer["LastAccessedDate"] = json!(accessed);
        }
        if let Some(deleted) = secret.deleted {
            answer["DeletedDate"] = json!(deleted);
        }
        Ok(answer)
    }

    fn delete_secret(&mut self, request: &Value) -> Result<Value, AwsError> {
        let force = request
            .get("ForceDeleteWithoutRecovery")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let days = request
            .get("RecoveryWindowInDays")
            .and_then(Value::as_i64)
            .unwrap_or(30);
        if force && request.get("RecoveryWindowInDays").is_some() {
            return Err(AwsError::invalid_parameter(
                "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
            ));
        }
        if !force && !(7..=30).contains(&days) {
            return Err(AwsError::invalid_parameter(
                "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).",
            ));
        }
        let secret = self.find_live(required(request, "SecretId")?)?;
        let (arn, name) = (secret.arn.clone(), secret.name.clone());
        let deletion = if force {
            self.secrets.remove(&name);
            now()
        } else {
            secret.deleted = Some(now());
            now() + days as f64 * 86_400.0
        };
        Ok(json!({"ARN": arn, "Name": name, "DeletionDate": deletion}))
    }
}

/// Adds a version as AWSCURRENT (the previous one becomes AWSPREVIOUS).
fn add_version(secret: &mut Secret, request: &Value) -> Result<String, AwsError> {
    let string = field(request, "SecretString").map(str::to_owned);
    let binary = field(request, "SecretBinary").map(str::to_owned);
    if string.is_some() == binary.is_some() {
        return Err(AwsError::invalid_parameter(
            "You must provide either SecretString or SecretBinary, but not both.",
        ));
    }
    let id = field(request, "ClientRequestToken")
        .map(str::to_owned)
        .unwrap_or_else(|| version_id(&secret.name, secret.versions.len()));
    if secret.versions.iter().any(|v| v.id == id) {
        return Err(AwsError::new(
            "ResourceExistsException",
            "A resource with the ID you requested already exists.",
        ));
    }
    for version in &mut secret.versions {
        version.stages.retain(|s| s != "AWSPREVIOUS");
        if let Some(current) = version.stages.iter_mut().find(|s| *s == "AWSCURRENT") {
            *current = "AWSPREVIOUS".into();
        }
    }
    let created = now();
    secret.versions.push(Version {
        id: id.clone(),
        string,
        binary,
        stages: vec!["AWSCURRENT".into()],
        created,
    });
    secret.last_changed = created;
    Ok(id)
}

type Shared = Arc<Mutex<Store>>;

fn lock(store: &Shared) -> MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running Secrets Manager mock.
#[derive(Debug)]
pub struct SecretsMock {
    running: Running,
    store: Shared,
}

impl SecretsMock {
    /// Starts serving on `127.0.0.1:port` (0 picks a free port).
    pub async fn start(port: u16) -> std::io::Result<Self> {
        let store = Shared::default();
        let router = Router::new()
            .route("/", post(api))
            .route("/_mock/secrets/calls", get(calls))
            .route("/_mock/secrets/faults", post(add_fault).delete(clear_faults))
            .with_state(store.clone());
        let running = Running::start(router, port).await?;
        Ok(Self { running, store })
    }

    /// `http://127.0.0.1:PORT`: the endpoint override for the SDK.
    pub fn base_url(&self) -> String {
        self.running.base_url()
    }

    /// Creates the secret, or stores `value` as its new current version.
    pub fn put_secret(&self, name: &str, value: &str) {
        let mut store = lock(&self.store);
        let request = json!({"SecretString": value});
        let result = match store.find_live(name) {
            Ok(secret) => add_version(secret, &request),
            Err(_) => {
                store.secrets.remove(name);
                store
                    .create(name, None)
                    .and_then(|secret| add_version(secret, &request))
            }
        };
        if let Err(e) = result {
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
        .entry(if operation.is_empty() { "(none)".into() } else { operation.clone() })
        .or_default() += 1;
    let signed = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256"));
    if !signed {
        return AwsError::new("MissingAuthenticationTokenException", "Missing Authentication Token")
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
        Ok(value @ Value::Object(_)) => value,
        _ => {
            return AwsError::new("SerializationException", "The request body is not a JSON object.")
                .into_response();
        }
    };
    match store.call(&operation, &request) {
        Ok(answer) => (
            [(header::CONTENT_TYPE, CONTENT_TYPE)],
            answer.to_string(),
        )
            .into_response(),
        Err(error) => error.into_response(),
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
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({"error": e.to_string()}))).into_response(),
    }
}

async fn clear_faults(State(store): State<Shared>) -> Response {
    lock(&store).faults.clear();
    Json(json!([])).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(store: &mut Store, operation: &str, request: Value) -> Result<Value, AwsError> {
        store.call(operation, &request)
    }

    #[test]
    fn versions_are_staged() {
        let mut store = Store::default();
        let created = call(&mut store, "CreateSecret", json!({"Name": "k", "SecretString": "v1"})).unwrap();
        let first = created["VersionId"].as_str().unwrap().to_owned();
        call(&mut store, "PutSecretValue", json!({"SecretId": "k", "SecretString": "v2"})).unwrap();
        let current = call(&mut store, "GetSecretValue", json!({"SecretId": "k"})).unwrap();
        assert_eq!(current["SecretString"], "v2");
        let previous = call(
            &mut store,
            "GetSecretValue",
            json!({"SecretId": created["ARN"], "VersionStage": "AWSPREVIOUS"}),
        )
        .unwrap();
        assert_eq!(previous["SecretString"], "v1");
        assert_eq!(previous["VersionId"], first.as_str());
        let described = call(&mut store, "DescribeSecret", json!({"SecretId": "k"})).unwrap();
        assert_eq!(described["VersionIdsToStages"].as_object().unwrap().len(), 2);
    }

    #[test]
    fn errors_and_deletion() {
        let mut store = Store::default();
        assert_eq!(
            call(&mut store, "GetSecretValue", json!({"SecretId": "nope"})),
            Err(AwsError::not_found())
        );
        call(&mut store, "CreateSecret", json!({"Name": "k", "SecretString": "v"})).unwrap();
        assert_eq!(
            call(&mut store, "CreateSecret", json!({"Name": "k"})).unwrap_err().kind,
            "ResourceExistsException"
        );
        call(&mut store, "DeleteSecret", json!({"SecretId": "k", "RecoveryWindowInDays": 7})).unwrap();
        assert_eq!(
            call(&mut store, "GetSecretValue", json!({"SecretId": "k"})).unwrap_err().kind,
            "InvalidRequestException"
        );
        assert_eq!(
            call(&mut store, "Frobnicate", json!({})).unwrap_err().kind,
            "UnknownOperationException"
        );
    }

    #[test]
    fn ids_are_deterministic() {
        assert_eq!(secret_arn("a"), secret_arn("a"));
        assert!(secret_arn("gemini").starts_with("arn:aws:secretsmanager:us-east-1:123456789012:secret:gemini-"));
        assert_eq!(version_id("a", 0).len(), 36);
        assert_ne!(version_id("a", 0), version_id("a", 1));
    }
}
