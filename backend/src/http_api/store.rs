//! DynamoDB access shared by the HTTP API's handlers: the nine table names
//! (from the template's environment), item helpers, paginated queries,
//! pagination cursors, and the ids, tokens and clocks items carry.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::problem::{ApiError, ApiResult, internal};
use crate::config::{ConfigError, EnvVars};
use crate::dynamo_json;
use crate::dynamo_query;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// The nine tables of seed 002, by their template environment variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    /// `USERS_TABLE` (`ielts-genai-prep-users`, GSI `email-index`).
    pub users: String,
    /// `SESSIONS_TABLE` (`ielts-genai-prep-sessions`, GSI `user_id-index`, TTL `expires_at`).
    pub sessions: String,
    /// `ASSESSMENTS_TABLE` (`ielts-genai-prep-assessments`, GSI `user_id-index`).
    pub assessments: String,
    /// `QR_TOKENS_TABLE` (`ielts-genai-prep-qr-tokens`, TTL `expires_at`).
    pub qr_tokens: String,
    /// `ENTITLEMENTS_TABLE` (`ielts-genai-prep-entitlements`).
    pub entitlements: String,
    /// `QUESTIONS_TABLE` (`ielts-assessment-questions`).
    pub questions: String,
    /// `RUBRICS_TABLE` (`ielts-assessment-rubrics`).
    pub rubrics: String,
    /// `SAFETY_LOGS_TABLE` (`ielts-ai-safety-logs`).
    pub safety_logs: String,
    /// `CONTENT_REPORTS_TABLE` (`ielts-content-reports`).
    pub content_reports: String,
}

impl Tables {
    /// Reads the names from the environment; names the first missing variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        let vars = EnvVars::process();
        let var = |name: &str| vars.required(name);
        Ok(Self {
            users: var("USERS_TABLE")?,
            sessions: var("SESSIONS_TABLE")?,
            assessments: var("ASSESSMENTS_TABLE")?,
            qr_tokens: var("QR_TOKENS_TABLE")?,
            entitlements: var("ENTITLEMENTS_TABLE")?,
            questions: var("QUESTIONS_TABLE")?,
            rubrics: var("RUBRICS_TABLE")?,
            safety_logs: var("SAFETY_LOGS_TABLE")?,
            content_reports: var("CONTENT_REPORTS_TABLE")?,
        })
    }
}

/// A string attribute.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute.
pub fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A string attribute's value.
pub fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// A number attribute's value.
pub fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<f64>().ok())
        .map(|f| f as i64)
}

/// A boolean attribute's value.
pub fn get_bool(item: &Item, name: &str) -> Option<bool> {
    item.get(name).and_then(|v| v.as_bool().ok()).copied()
}

/// An item as a JSON object without the named attributes.
pub fn to_json(item: &Item, hidden: &[&str]) -> Map<String, Value> {
    let mut map = dynamo_json::from_item(item);
    for name in hidden {
        map.remove(*name);
    }
    map
}

/// Whether a call failed on its condition (`ConditionalCheckFailedException`).
pub fn conditional_failed<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

/// Logs a DynamoDB failure and hides it.
pub fn store_error<E: std::error::Error + 'static>(operation: &str, error: E) -> ApiError {
    internal(operation, DisplayErrorContext(error))
}

/// GetItem with a strongly consistent read.
pub async fn get_item(db: &Client, table: &str, key: &str, value: &str) -> ApiResult<Option<Item>> {
    db.get_item()
        .table_name(table)
        .key(key, s(value))
        .consistent_read(true)
        .send()
        .await
        .map(|out| out.item)
        .map_err(|e| store_error("get_item", e))
}

/// PutItem (unconditional).
pub async fn put_item(db: &Client, table: &str, item: Item) -> ApiResult<()> {
    db.put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| store_error("put_item", e))
}

/// DeleteItem by key.
pub async fn delete_item(db: &Client, table: &str, key: &str, value: &str) -> ApiResult<()> {
    db.delete_item()
        .table_name(table)
        .key(key, s(value))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| store_error("delete_item", e))
}

/// Every item of an index whose hash key `key` is `value` (all pages).
pub async fn query_all(
    db: &Client,
    table: &str,
    index: &str,
    key: &str,
    value: &str,
) -> ApiResult<Vec<Item>> {
    let query = db
        .query()
        .table_name(table)
        .index_name(index)
        .key_condition_expression("#k = :v")
        .expression_attribute_names("#k", key)
        .expression_attribute_values(":v", s(value));
    dynamo_query::query_all(query)
        .await
        .map_err(|e| store_error("query", e))
}

/// A pagination cursor: the string attributes of a `LastEvaluatedKey`.
pub fn encode_cursor(key: &Item) -> String {
    let map: Map<String, Value> = key
        .iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|s| (k.clone(), Value::String(s.clone()))))
        .collect();
    URL_SAFE_NO_PAD.encode(Value::Object(map).to_string())
}

/// The `ExclusiveStartKey` of a cursor, keeping only `allowed` attributes
/// (each must be present and short); a bad cursor is a 400.
pub fn decode_cursor(cursor: &str, allowed: &[&str]) -> ApiResult<Item> {
    let bad = || ApiError::field("cursor", "is not a cursor this API returned");
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| bad())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let object = value.as_object().ok_or_else(bad)?;
    let mut key = Item::new();
    for name in allowed {
        let text = object
            .get(*name)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty() && t.len() <= 256)
            .ok_or_else(bad)?;
        key.insert((*name).to_owned(), s(text));
    }
    Ok(key)
}

/// A random UUID (version 4).
pub fn new_id() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A secret token: 32 random bytes, base64url (43 characters).
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of `text` in hex (how secrets are stored).
pub fn digest(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether an id from a path or body can be a key (DynamoDB refuses empty
/// and over-long keys; such ids name nothing).
pub fn plausible_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && !id.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let mut key = Item::new();
        key.insert("user_id".into(), s("u1"));
        key.insert("timestamp".into(), s("2025-01-01T00:00:00.000Z"));
        let cursor = encode_cursor(&key);
        assert_eq!(
            decode_cursor(&cursor, &["user_id", "timestamp"]).unwrap(),
            key
        );
        assert!(decode_cursor(&cursor, &["assessment_id"]).is_err());
        assert!(decode_cursor("%%%", &["user_id"]).is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("[1]"), &["user_id"]).is_err());
    }

    #[test]
    fn ids_and_tokens() {
        let id = new_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(new_id(), id);
        assert_eq!(random_token().len(), 43);
        assert_eq!(digest("abc").len(), 64);
        assert!(plausible_id("abc") && !plausible_id("") && !plausible_id(&"x".repeat(129)));
    }
}
