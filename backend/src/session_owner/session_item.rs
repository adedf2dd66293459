//! Live sessions in the sessions table (`SESSIONS_TABLE`, seed 000's
//! `ielts-genai-prep-sessions`): one item per WebSocket connection and kind,
//! with `session_status` active / completed / failed / disconnected, guarded
//! transitions (conditional writes: only one start, only one end), and a TTL.
//! An active session past its `expires_at` counts as expired: nothing relies
//! on TTL deletion, which DynamoDB performs only eventually.

use std::collections::HashMap;
use std::fmt;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::clock::now_epoch_s;

/// `SESSION_TTL_SECONDS` when unset: how long a session item lives (2 h).
pub(crate) const DEFAULT_TTL_SECONDS: i64 = 7200;

/// What a session is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    /// Running: an owner holds the model stream.
    Active,
    /// Ended with a result.
    Completed,
    /// Ended by an error.
    Failed,
    /// The client left.
    Disconnected,
}

impl SessionStatus {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::Completed => "completed",
            SessionStatus::Failed => "failed",
            SessionStatus::Disconnected => "disconnected",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Self::Active,
            Self::Completed,
            Self::Failed,
            Self::Disconnected,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

impl fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A session item.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// `{kind}#{connectionId}`.
    pub session_id: String,
    /// `speaking`, `nova_sonic`, ...
    pub kind: String,
    /// The WebSocket connection.
    pub connection_id: String,
    /// Who.
    pub user_id: String,
    pub status: SessionStatus,
    /// Created, epoch seconds.
    pub created_at: i64,
    /// TTL, epoch seconds.
    pub expires_at: i64,
    /// Other attributes (region, model, assessment type, ...).
    pub details: HashMap<String, String>,
}

impl Session {
    /// A session of `kind` starting `now` on `connection_id`, active for
    /// `ttl_seconds`.
    pub fn active(
        kind: &str,
        connection_id: &str,
        user_id: &str,
        now_epoch_s: i64,
        ttl_seconds: i64,
        details: HashMap<String, String>,
    ) -> Self {
        Self {
            session_id: Self::id_for(kind, connection_id),
            kind: kind.to_owned(),
            connection_id: connection_id.to_owned(),
            user_id: user_id.to_owned(),
            status: SessionStatus::Active,
            created_at: now_epoch_s,
            expires_at: now_epoch_s + ttl_seconds,
            details,
        }
    }

    /// The session id for a connection and kind.
    pub fn id_for(kind: &str, connection_id: &str) -> String {
        format!("{kind}#{connection_id}")
    }

    /// Active and not past its TTL.
    pub fn is_live(&self, now_epoch_s: i64) -> bool {
        self.status == SessionStatus::Active && self.expires_at > now_epoch_s
    }
}

/// Why a session call failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// A live session already exists for this connection.
    #[error("Session already active")]
    AlreadyActive,
    /// The transition's precondition did not hold (someone else moved it).
    #[error("session is no longer {0}")]
    NotInState(SessionStatus),
    /// DynamoDB failed.
    #[error("sessions table {operation} failed: {message}")]
    Store {
        operation: &'static str,
        /// The SDK's error with context.
        message: String,
    },
}

fn store_error<E: std::error::Error + 'static>(operation: &'static str, error: E) -> SessionError {
    SessionError::Store {
        operation,
        message: DisplayErrorContext(error).to_string(),
    }
}

fn conditional_failed<E, R>(error: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    error.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

/// The sessions table.
#[derive(Debug, Clone)]
pub struct Sessions {
    client: Client,
    table: String,
}

impl Sessions {
    /// Sessions in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Creates an active session unless a live one exists for the connection.
    pub async fn create(&self, session: &Session, now_epoch_s: i64) -> Result<(), SessionError> {
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .condition_expression("attribute_not_exists(session_id) OR session_status <> :active OR expires_at <= :now")
            .expression_attribute_values(":active", AttributeValue::S("active".into()))
            .expression_attribute_values(":now", AttributeValue::N(now_epoch_s.to_string()))
            .item("session_id", AttributeValue::S(session.session_id.clone()))
            .item("kind", AttributeValue::S(session.kind.clone()))
            .item("connection_id", AttributeValue::S(session.connection_id.clone()))
            .item("user_id", AttributeValue::S(session.user_id.clone()))
            .item("session_status", AttributeValue::S(session.status.as_str().into()))
            .item("created_at", AttributeValue::N(session.created_at.to_string()))
            .item("updated_at", AttributeValue::N(now_epoch_s.to_string()))
            .item("expires_at", AttributeValue::N(session.expires_at.to_string()));
        for (name, value) in &session.details {
            request = request.item(name, AttributeValue::S(value.clone()));
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if conditional_failed(&e) => Err(SessionError::AlreadyActive),
            Err(e) => Err(store_error("PutItem", e)),
        }
    }

    /// Reads a session (strongly consistent).
    pub async fn get(&self, session_id: &str) -> Result<Option<Session>, SessionError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("session_id", AttributeValue::S(session_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        Ok(answer.item.as_ref().and_then(parse))
    }

    /// Moves a session from `from` to `to`; fails if it is not in `from`.
    pub async fn transition(
        &self,
        session_id: &str,
        from: SessionStatus,
        to: SessionStatus,
        now_epoch_s: i64,
        extra: &[(&str, String)],
    ) -> Result<(), SessionError> {
        let mut update = String::from("SET session_status = :to, updated_at = :now");
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("session_id", AttributeValue::S(session_id.to_owned()))
            .condition_expression("session_status = :from")
            .expression_attribute_values(":from", AttributeValue::S(from.as_str().into()))
            .expression_attribute_values(":to", AttributeValue::S(to.as_str().into()))
            .expression_attribute_values(":now", AttributeValue::N(now_epoch_s.to_string()));
        for (index, (name, value)) in extra.iter().enumerate() {
            update.push_str(&format!(", #x{index} = :x{index}"));
            request = request
                .expression_attribute_names(format!("#x{index}"), *name)
                .expression_attribute_values(
                    format!(":x{index}"),
                    AttributeValue::S(value.clone()),
                );
        }
        match request.update_expression(update).send().await {
            Ok(_) => Ok(()),
            Err(e) if conditional_failed(&e) => Err(SessionError::NotInState(from)),
            Err(e) => Err(store_error("UpdateItem", e)),
        }
    }
}

/// The session if it is live (active and not past its TTL).
pub(crate) async fn live_session(
    sessions: &Sessions,
    session_id: &str,
) -> Result<Option<Session>, SessionError> {
    Ok(sessions
        .get(session_id)
        .await?
        .filter(|s| s.is_live(now_epoch_s())))
}

fn parse(item: &HashMap<String, AttributeValue>) -> Option<Session> {
    let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let n = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
    };
    const FIXED: &[&str] = &[
        "session_id",
        "kind",
        "connection_id",
        "user_id",
        "session_status",
        "created_at",
        "updated_at",
        "expires_at",
    ];
    let details = item
        .iter()
        .filter(|(name, _)| !FIXED.contains(&name.as_str()))
        .filter_map(|(name, value)| value.as_s().ok().map(|v| (name.clone(), v.clone())))
        .collect();
    Some(Session {
        session_id: s("session_id")?,
        kind: s("kind").unwrap_or_default(),
        connection_id: s("connection_id").unwrap_or_default(),
        user_id: s("user_id").unwrap_or_default(),
        status: SessionStatus::parse(&s("session_status")?)?,
        created_at: n("created_at").unwrap_or_default(),
        expires_at: n("expires_at").unwrap_or_default(),
        details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_needs_active_and_unexpired() {
        let mut session = Session {
            session_id: Session::id_for("speaking", "abc="),
            kind: "speaking".into(),
            connection_id: "abc=".into(),
            user_id: "u".into(),
            status: SessionStatus::Active,
            created_at: 100,
            expires_at: 200,
            details: HashMap::new(),
        };
        assert_eq!(session.session_id, "speaking#abc=");
        assert!(session.is_live(150));
        assert!(
            !session.is_live(200),
            "expired sessions are not live even if TTL deletion has not run"
        );
        session.status = SessionStatus::Completed;
        assert!(!session.is_live(150));
    }

    #[test]
    fn items_parse_with_details() {
        let mut item = HashMap::new();
        for (k, v) in [
            ("session_id", "speaking#c"),
            ("session_status", "disconnected"),
            ("region", "europe-west1"),
        ] {
            item.insert(k.to_owned(), AttributeValue::S(v.to_owned()));
        }
        item.insert("expires_at".into(), AttributeValue::N("42".into()));
        let session = parse(&item).unwrap();
        assert_eq!(session.status, SessionStatus::Disconnected);
        assert_eq!(session.expires_at, 42);
        assert_eq!(session.details["region"], "europe-west1");
        item.insert("session_status".into(), AttributeValue::S("weird".into()));
        assert!(parse(&item).is_none());
    }
}
