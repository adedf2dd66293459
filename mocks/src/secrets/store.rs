//! The secrets themselves: versions with staging labels (AWSCURRENT,
//! AWSPREVIOUS), names and ARNs, scheduled or forced deletion, and the five
//! operations over them, each answering the JSON the SDK expects or an
//! [`AwsError`].

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{ACCOUNT_ID, CONTENT_TYPE, REGION};

const NOT_FOUND: &str = "Secrets Manager can't find the specified secret.";

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

/// Every secret, by name.
#[derive(Debug, Default)]
pub(super) struct SecretStore {
    secrets: BTreeMap<String, Secret>,
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
    pub(super) fn new(kind: &'static str, message: impl Into<String>) -> Self {
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

impl SecretStore {
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

    /// Creates `name`, or stores `value` as its new current version.
    pub(super) fn put_string(&mut self, name: &str, value: &str) -> Result<String, AwsError> {
        if self.secrets.get(name).is_some_and(|s| s.deleted.is_some()) {
            self.secrets.remove(name);
        }
        let request = json!({ "SecretString": value });
        let secret = if self.secrets.contains_key(name) {
            self.find_live(name)?
        } else {
            self.create(name, None)?
        };
        add_version(secret, &request)
    }

    /// Runs one operation.
    pub(super) fn call(&mut self, operation: &str, request: &Value) -> Result<Value, AwsError> {
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
        let has_value =
            request.get("SecretString").is_some() || request.get("SecretBinary").is_some();
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
        Ok(
            json!({"ARN": secret.arn, "Name": secret.name, "VersionId": version, "VersionStages": stages}),
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    fn call(store: &mut SecretStore, operation: &str, request: &Value) -> Result<Value, AwsError> {
        store.call(operation, request)
    }

    #[test]
    fn versions_are_staged() {
        let mut store = SecretStore::default();
        let created = call(
            &mut store,
            "CreateSecret",
            &json!({"Name": "k", "SecretString": "v1"}),
        )
        .unwrap();
        let first = created["VersionId"].as_str().unwrap().to_owned();
        call(
            &mut store,
            "PutSecretValue",
            &json!({"SecretId": "k", "SecretString": "v2"}),
        )
        .unwrap();
        let current = call(&mut store, "GetSecretValue", &json!({"SecretId": "k"})).unwrap();
        assert_eq!(current["SecretString"], "v2");
        let previous = call(
            &mut store,
            "GetSecretValue",
            &json!({"SecretId": created["ARN"], "VersionStage": "AWSPREVIOUS"}),
        )
        .unwrap();
        assert_eq!(previous["SecretString"], "v1");
        assert_eq!(previous["VersionId"], first.as_str());
        let described = call(&mut store, "DescribeSecret", &json!({"SecretId": "k"})).unwrap();
        assert_eq!(
            described["VersionIdsToStages"].as_object().unwrap().len(),
            2
        );
    }

    #[test]
    fn errors_and_deletion() {
        let mut store = SecretStore::default();
        assert_eq!(
            call(&mut store, "GetSecretValue", &json!({"SecretId": "nope"})),
            Err(AwsError::not_found())
        );
        call(
            &mut store,
            "CreateSecret",
            &json!({"Name": "k", "SecretString": "v"}),
        )
        .unwrap();
        assert_eq!(
            call(&mut store, "CreateSecret", &json!({"Name": "k"}))
                .unwrap_err()
                .kind,
            "ResourceExistsException"
        );
        call(
            &mut store,
            "DeleteSecret",
            &json!({"SecretId": "k", "RecoveryWindowInDays": 7}),
        )
        .unwrap();
        assert_eq!(
            call(&mut store, "GetSecretValue", &json!({"SecretId": "k"}))
                .unwrap_err()
                .kind,
            "InvalidRequestException"
        );
        assert_eq!(
            call(&mut store, "Frobnicate", &json!({})).unwrap_err().kind,
            "UnknownOperationException"
        );
    }

    #[test]
    fn ids_are_deterministic() {
        assert_eq!(secret_arn("a"), secret_arn("a"));
        assert!(
            secret_arn("gemini")
                .starts_with("arn:aws:secretsmanager:us-east-1:123456789012:secret:gemini-")
        );
        assert_eq!(version_id("a", 0).len(), 36);
        assert_ne!(version_id("a", 0), version_id("a", 1));
    }
}
