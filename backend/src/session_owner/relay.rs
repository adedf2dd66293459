//! The session relay through DynamoDB, shared by the speaking and Nova Sonic
//! functions. API Gateway invokes the function once per WebSocket message, so
//! the invocation that starts a session becomes its owner (it holds the model
//! stream); later invocations hand their input to the owner as ordered items
//! in the relay table. The owner reads them in order and deletes what it
//! consumed; every item also carries a short TTL, so nothing (audio above all)
//! outlives its session even if an owner dies.
//!
//! Items are ordered by the gateway's receive time (`requestTimeEpoch`, ms) and
//! then the message id: sort key `{epoch_ms:013}#{message_id}`. The owner's
//! side ([`super::relay_inbox`]) reads every item not yet consumed, never "after the
//! last key seen": an invocation that commits late must not lose its item.
//! [`RelaySettings`] is how often the owner reads and how long audio waits.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};

use crate::config::EnvVars;
use crate::dynamo_query::query_all;

/// How long a relay item may live if nobody consumes it.
pub(crate) const ITEM_TTL_SECONDS: i64 = 15 * 60;

/// How an owner reads the relay, the same variables in every
/// session-owning function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RelaySettings {
    /// `RELAY_POLL_MS`: how often the owner reads the relay while input flows.
    pub poll: Duration,
    /// `RELAY_SETTLE_MS`: how long relayed audio waits for earlier chunks
    /// that concurrent invocations write late (the jitter buffer of
    /// [`super::relay_inbox`]). A function that wants another value sets the
    /// variable in backend/template.yaml (the speaking function: 50 ms).
    pub settle: Duration,
}

impl RelaySettings {
    /// `RELAY_POLL_MS` when unset.
    pub(crate) const DEFAULT_POLL: Duration = Duration::from_millis(25);
    /// `RELAY_SETTLE_MS` when unset: a cold start on AWS delays a write by
    /// 100-300 ms.
    pub(crate) const DEFAULT_SETTLE: Duration = Duration::from_millis(300);

    /// Reads `RELAY_POLL_MS` (at least 1 ms) and `RELAY_SETTLE_MS`.
    pub(crate) fn from_vars(vars: &EnvVars<'_>) -> Self {
        let millis = |name: &str, default: Duration| {
            Duration::from_millis(vars.parsed_or(name, default.as_millis() as u64))
        };
        Self {
            poll: millis("RELAY_POLL_MS", Self::DEFAULT_POLL).max(Duration::from_millis(1)),
            settle: millis("RELAY_SETTLE_MS", Self::DEFAULT_SETTLE),
        }
    }
}

/// What an invocation hands the owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayItem {
    /// Audio, 16 kHz mono 16-bit little-endian PCM.
    Audio(Vec<u8>),
    /// Text input.
    Text(String),
    /// The user ended the session (`end_speaking`): finish it properly.
    End,
    /// The connection is gone (`$disconnect`): stop now.
    Stop {
        /// Why (close code and reason).
        reason: String,
    },
}

impl RelayItem {
    fn kind(&self) -> &'static str {
        match self {
            RelayItem::Audio(_) => "audio",
            RelayItem::Text(_) => "text",
            RelayItem::End => "end",
            RelayItem::Stop { .. } => "stop",
        }
    }
}

/// Why a relay call failed.
#[derive(Debug, thiserror::Error)]
#[error("relay {operation} failed: {message}")]
pub struct RelayError {
    /// The DynamoDB operation.
    pub operation: &'static str,
    /// The SDK's error with context.
    pub message: String,
}

fn relay_error<E: std::error::Error + 'static>(operation: &'static str, error: E) -> RelayError {
    RelayError {
        operation,
        message: DisplayErrorContext(error).to_string(),
    }
}

/// The sort key of a message: receive time, then message id.
pub(crate) fn order_key(received_at_ms: i64, message_id: &str) -> String {
    format!("{:013}#{message_id}", received_at_ms.max(0))
}

/// The relay table.
#[derive(Debug, Clone)]
pub struct Relay {
    client: Client,
    table: String,
}

impl Relay {
    /// A relay over `table` (`RELAY_TABLE`).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Hands an item to the session's owner.
    pub async fn send(
        &self,
        session_id: &str,
        order: &str,
        item: &RelayItem,
        now_epoch_s: i64,
    ) -> Result<(), RelayError> {
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("session_id", AttributeValue::S(session_id.to_owned()))
            .item("seq", AttributeValue::S(order.to_owned()))
            .item("kind", AttributeValue::S(item.kind().to_owned()))
            .item(
                "expires_at",
                AttributeValue::N((now_epoch_s + ITEM_TTL_SECONDS).to_string()),
            );
        match item {
            RelayItem::Audio(bytes) => {
                request = request.item("payload", AttributeValue::B(Blob::new(bytes.clone())))
            }
            RelayItem::Text(text) => {
                request = request.item("text", AttributeValue::S(text.clone()))
            }
            RelayItem::Stop { reason } => {
                request = request.item("text", AttributeValue::S(reason.clone()))
            }
            RelayItem::End => {}
        }
        request
            .send()
            .await
            .map(|_| ())
            .map_err(|e| relay_error("PutItem", e))
    }

    /// Items after `after` (exclusive), in order, with their keys.
    pub async fn receive(
        &self,
        session_id: &str,
        after: Option<&str>,
    ) -> Result<Vec<(String, RelayItem)>, RelayError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .expression_attribute_values(":s", AttributeValue::S(session_id.to_owned()));
        let query = match after {
            Some(after) => query
                .key_condition_expression("session_id = :s AND seq > :after")
                .expression_attribute_values(":after", AttributeValue::S(after.to_owned())),
            None => query.key_condition_expression("session_id = :s"),
        };
        let items = query_all(query)
            .await
            .map_err(|e| relay_error("Query", e))?;
        Ok(items.iter().filter_map(parse_item).collect())
    }

    /// Deletes consumed items (audio must not outlive its use).
    pub async fn acknowledge(&self, session_id: &str, keys: &[String]) -> Result<(), RelayError> {
        for batch in keys.chunks(25) {
            let mut pending: Vec<WriteRequest> = batch
                .iter()
                .map(|key| {
                    let delete = DeleteRequest::builder()
                        .key("session_id", AttributeValue::S(session_id.to_owned()))
                        .key("seq", AttributeValue::S(key.clone()))
                        .build()
                        .expect("key set");
                    WriteRequest::builder().delete_request(delete).build()
                })
                .collect();
            for _attempt in 0..5 {
                if pending.is_empty() {
                    break;
                }
                let answer = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending.clone())
                    .send()
                    .await
                    .map_err(|e| relay_error("BatchWriteItem", e))?;
                pending = answer
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
            }
            if !pending.is_empty() {
                return Err(RelayError {
                    operation: "BatchWriteItem",
                    message: format!("{} deletes left unprocessed", pending.len()),
                });
            }
        }
        Ok(())
    }

    /// Deletes everything left for a session (after it ended).
    pub async fn purge(&self, session_id: &str) -> Result<usize, RelayError> {
        let keys: Vec<String> = self
            .receive(session_id, None)
            .await?
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        self.acknowledge(session_id, &keys).await?;
        Ok(keys.len())
    }
}

fn parse_item(item: &HashMap<String, AttributeValue>) -> Option<(String, RelayItem)> {
    let key = item.get("seq")?.as_s().ok()?.clone();
    let text = || {
        item.get("text")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    let parsed = match item.get("kind")?.as_s().ok()?.as_str() {
        "audio" => RelayItem::Audio(item.get("payload")?.as_b().ok()?.as_ref().to_vec()),
        "text" => RelayItem::Text(text()),
        "end" => RelayItem::End,
        "stop" => RelayItem::Stop { reason: text() },
        _ => return None,
    };
    Some((key, parsed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn order_keys_sort_by_time_then_message() {
        let a = order_key(1_700_000_000_001, "b");
        let b = order_key(1_700_000_000_002, "a");
        let c = order_key(1_700_000_000_002, "b");
        assert!(a < b && b < c);
    }

    #[test]
    fn items_parse_back() {
        let mut item = HashMap::new();
        item.insert("seq".to_owned(), AttributeValue::S("k".into()));
        item.insert("kind".to_owned(), AttributeValue::S("audio".into()));
        item.insert(
            "payload".to_owned(),
            AttributeValue::B(Blob::new(vec![1, 2])),
        );
        assert_eq!(
            parse_item(&item),
            Some(("k".to_owned(), RelayItem::Audio(vec![1, 2])))
        );
        item.insert("kind".to_owned(), AttributeValue::S("stop".into()));
        item.insert("text".to_owned(), AttributeValue::S("1001".into()));
        assert_eq!(
            parse_item(&item),
            Some((
                "k".to_owned(),
                RelayItem::Stop {
                    reason: "1001".into()
                }
            ))
        );
        item.insert("kind".to_owned(), AttributeValue::S("bogus".into()));
        assert_eq!(parse_item(&item), None);
    }

    proptest! {
        #[test]
        fn order_is_numeric_order(a in 0i64..10_000_000_000_000, b in 0i64..10_000_000_000_000) {
            prop_assert_eq!(order_key(a, "m").cmp(&order_key(b, "m")), a.cmp(&b));
        }
    }
}
