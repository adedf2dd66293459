//! The connection registry: seed 004's `{env}-chatbot-connections` table
//! (`CONNECTIONS_TABLE`). One item per open connection, keyed by
//! `connectionId`, with `userId` (GSI `userId-index`, for fan-out to every
//! connection of a user), `connectedAt` / `lastActiveAt` (epoch ms), the
//! rate limiter's state (`recentMessages`, a list of epoch ms, and
//! `rateVersion`, the optimistic-concurrency counter), and `ttl` (epoch
//! seconds, [`DEFAULT_TTL_SECONDS`] after the last activity: every accepted
//! message, keep-alive ping and delivery near expiry pushes it forward).
//! DynamoDB deletes expired items only eventually, so an item past its `ttl`
//! counts as gone.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::rate_limit::{Decision, RateLimit};
use crate::dynamo_query::query_all;

/// Seed 004: "TTL enabled for automatic cleanup after 10 minutes".
pub(crate) const DEFAULT_TTL_SECONDS: i64 = 600;
/// The GSI that finds a user's connections.
pub(crate) const USER_INDEX: &str = "userId-index";
/// How many times an admission retries after losing a race, on top of the
/// rate limit itself: a race is lost only to a message that was accepted,
/// and at most `max_messages` are accepted per window, so a burst of any
/// size settles within `max_messages + ADMIT_ATTEMPTS` rounds (each message
/// accepted or refused by the limit, none failed as contended).
const ADMIT_ATTEMPTS: u32 = 8;

/// The longest pause between two admission attempts, ms.
const MAX_ADMIT_PAUSE_MS: u64 = 50;

/// One connection's item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRecord {
    /// API Gateway's connection id.
    pub connection_id: String,
    /// The authorizer's user id.
    pub user_id: String,
    /// When it connected, epoch ms.
    pub connected_at_ms: i64,
    /// Expiry, epoch seconds.
    pub ttl: i64,
    /// Accepted messages within the rate window, epoch ms.
    pub recent_messages: Vec<i64>,
    /// Optimistic-concurrency counter of `recent_messages` (absent on items
    /// written by older code).
    pub rate_version: Option<i64>,
}

impl ConnectionRecord {
    /// Registered and not past its TTL.
    pub fn is_live(&self, now_ms: i64) -> bool {
        self.ttl * 1000 > now_ms
    }
}

/// A connection found by user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserConnection {
    pub connection_id: String,
    /// Its expiry, epoch seconds.
    pub ttl: i64,
}

/// What the rate limiter decided for a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Accepted: process it.
    Accepted {
        /// Whose connection it is.
        user_id: String,
        /// The connection's new expiry, epoch seconds.
        ttl: i64,
    },
    /// Over the limit: do not process it.
    Limited {
        /// When a slot frees up.
        retry_after_ms: i64,
    },
    /// No live item for this connection.
    NotRegistered,
}

/// Why a registry call failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// DynamoDB failed (a missing table lands here: ResourceNotFoundException).
    #[error("connections table {operation} failed: {message}")]
    Store {
        operation: &'static str,
        /// The SDK's error with context.
        message: String,
    },
    /// Every admission attempt lost a race with a concurrent message.
    #[error("rate limiter state kept changing under every admission attempt")]
    Contended,
}

fn store_error<E, R>(operation: &'static str, error: SdkError<E, R>) -> RegistryError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    RegistryError::Store {
        operation,
        message: DisplayErrorContext(error).to_string(),
    }
}

fn conditional_failed<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

fn number(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The connections table.
#[derive(Debug, Clone)]
pub struct Registry {
    client: Client,
    table: String,
    ttl_seconds: i64,
}

impl Registry {
    /// The registry in `table`, items living `ttl_seconds` after their last activity.
    pub fn new(client: Client, table: impl Into<String>, ttl_seconds: i64) -> Self {
        Self {
            client,
            table: table.into(),
            ttl_seconds,
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// How long an item lives after its last activity, seconds.
    pub fn ttl_seconds(&self) -> i64 {
        self.ttl_seconds
    }

    fn expiry(&self, now_ms: i64) -> i64 {
        now_ms / 1000 + self.ttl_seconds
    }

    /// Registers a new connection (`$connect`).
    pub async fn register(
        &self,
        connection_id: &str,
        user_id: &str,
        now_ms: i64,
    ) -> Result<i64, RegistryError> {
        let ttl = self.expiry(now_ms);
        self.client
            .put_item()
            .table_name(&self.table)
            .item("connectionId", AttributeValue::S(connection_id.to_owned()))
            .item("userId", AttributeValue::S(user_id.to_owned()))
            .item("connectedAt", number(now_ms))
            .item("lastActiveAt", number(now_ms))
            .item("recentMessages", AttributeValue::L(Vec::new()))
            .item("rateVersion", number(0))
            .item("ttl", number(ttl))
            .send()
            .await
            .map_err(|e| store_error("PutItem", e))?;
        Ok(ttl)
    }

    /// Removes a connection; true when it was registered.
    pub async fn remove(&self, connection_id: &str) -> Result<bool, RegistryError> {
        let answer = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("connectionId", AttributeValue::S(connection_id.to_owned()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| store_error("DeleteItem", e))?;
        Ok(answer.attributes.is_some_and(|a| !a.is_empty()))
    }

    /// Reads a connection's item (strongly consistent).
    pub async fn get(
        &self,
        connection_id: &str,
    ) -> Result<Option<ConnectionRecord>, RegistryError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("connectionId", AttributeValue::S(connection_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        Ok(answer.item.as_ref().and_then(parse))
    }

    /// Refreshes a live connection's TTL (keep-alive, deliveries); its new
    /// expiry, or `None` when it is not registered (or already expired).
    pub async fn touch(
        &self,
        connection_id: &str,
        now_ms: i64,
    ) -> Result<Option<i64>, RegistryError> {
        let ttl = self.expiry(now_ms);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("connectionId", AttributeValue::S(connection_id.to_owned()))
            .update_expression("SET #ttl = :ttl, lastActiveAt = :now")
            .condition_expression("attribute_exists(connectionId) AND #ttl > :now_s")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":ttl", number(ttl))
            .expression_attribute_values(":now", number(now_ms))
            .expression_attribute_values(":now_s", number(now_ms / 1000))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(ttl)),
            Err(e) if conditional_failed(&e) => Ok(None),
            Err(e) => Err(store_error("UpdateItem", e)),
        }
    }

    /// Every registered connection of a user (the GSI, all pages).
    pub async fn connections_of(
        &self,
        user_id: &str,
    ) -> Result<Vec<UserConnection>, RegistryError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(USER_INDEX)
            .key_condition_expression("userId = :user")
            .expression_attribute_values(":user", AttributeValue::S(user_id.to_owned()));
        let items = query_all(query)
            .await
            .map_err(|e| store_error("Query", e))?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let id = item.get("connectionId").and_then(|v| v.as_s().ok())?;
                let ttl = item
                    .get("ttl")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse().ok());
                Some(UserConnection {
                    connection_id: id.clone(),
                    ttl: ttl.unwrap_or_default(),
                })
            })
            .collect())
    }

    /// Applies the rate limit to a message arriving now (`clock` gives epoch
    /// ms, read afresh on every attempt) and, when it is accepted, records it
    /// and refreshes the TTL in the same conditional write (a concurrent
    /// message that changed the state first makes this one read again and
    /// decide again).
    pub async fn admit(
        &self,
        connection_id: &str,
        limit: &RateLimit,
        clock: impl Fn() -> i64,
    ) -> Result<Admission, RegistryError> {
        let attempts = limit.max_messages.saturating_add(ADMIT_ATTEMPTS);
        for attempt in 0..attempts {
            let now_ms = clock();
            let Some(record) = self.get(connection_id).await?.filter(|r| r.is_live(now_ms)) else {
                return Ok(Admission::NotRegistered);
            };
            let recent = match limit.decide(&record.recent_messages, now_ms) {
                Decision::Refuse { retry_after_ms } => {
                    return Ok(Admission::Limited { retry_after_ms });
                }
                Decision::Accept { recent } => recent,
            };
            let ttl = self.expiry(now_ms);
            let version = record.rate_version.unwrap_or(0);
            let guard = if record.rate_version.is_some() {
                "attribute_exists(connectionId) AND rateVersion = :version"
            } else {
                "attribute_exists(connectionId) AND attribute_not_exists(rateVersion)"
            };
            let mut request = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("connectionId", AttributeValue::S(connection_id.to_owned()))
                .update_expression(
                    "SET recentMessages = :recent, rateVersion = :next, #ttl = :ttl, lastActiveAt = :now",
                )
                .condition_expression(guard)
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(
                    ":recent",
                    AttributeValue::L(recent.into_iter().map(number).collect()),
                )
                .expression_attribute_values(":next", number(version + 1))
                .expression_attribute_values(":ttl", number(ttl))
                .expression_attribute_values(":now", number(now_ms));
            if record.rate_version.is_some() {
                request = request.expression_attribute_values(":version", number(version));
            }
            match request.send().await {
                Ok(_) => {
                    return Ok(Admission::Accepted {
                        user_id: record.user_id,
                        ttl,
                    });
                }
                Err(e) if conditional_failed(&e) => {
                    let spread = (10 * u64::from(attempt + 1)).min(MAX_ADMIT_PAUSE_MS);
                    let pause = 5 + rand::random::<u64>() % spread;
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                Err(e) => return Err(store_error("UpdateItem", e)),
            }
        }
        Err(RegistryError::Contended)
    }
}

/// Reads an item; `None` when it lacks the key or the user.
fn parse(item: &HashMap<String, AttributeValue>) -> Option<ConnectionRecord> {
    let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let n = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
    };
    let recent_messages = item
        .get("recentMessages")
        .and_then(|v| v.as_l().ok())
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_n().ok().and_then(|n| n.parse().ok()))
                .collect()
        })
        .unwrap_or_default();
    Some(ConnectionRecord {
        connection_id: s("connectionId")?,
        user_id: s("userId")?,
        connected_at_ms: n("connectedAt").unwrap_or_default(),
        ttl: n("ttl").unwrap_or_default(),
        recent_messages,
        rate_version: n("rateVersion"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_parse() {
        let mut item: HashMap<String, AttributeValue> = HashMap::new();
        item.insert("connectionId".into(), AttributeValue::S("c=".into()));
        item.insert("userId".into(), AttributeValue::S("u".into()));
        item.insert("ttl".into(), number(1_000));
        item.insert(
            "recentMessages".into(),
            AttributeValue::L(vec![number(5), number(7)]),
        );
        let record = parse(&item).unwrap();
        assert_eq!(record.recent_messages, vec![5, 7]);
        assert_eq!(record.rate_version, None);
        assert!(record.is_live(999_999));
        assert!(
            !record.is_live(1_000_000),
            "past its ttl counts as gone before DynamoDB deletes it"
        );
        item.remove("userId");
        assert!(parse(&item).is_none());
    }
}
