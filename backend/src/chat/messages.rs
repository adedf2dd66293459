//! The chat API's messages (seed 004), both ways. Client messages are parsed
//! with errors that say exactly what is wrong and what to send instead;
//! server messages are built here and nowhere else. The contract is
//! backend/spec/chat.asyncapi.yaml.
//!
//! Client: `chat_message` `{action, data: {message, sessionId}}` (the
//! seed's example) and `ping`. Server: `message_received` (the message was
//! accepted; it carries the `messageId` every later reply or error about it
//! repeats), `chat_reply` (the assistant's answer, to every connection of the
//! user), `pong`, and `error` with a machine-readable `code`, a sentence for
//! people, and when it applies `retryAfterSeconds` and `reconnect`.

use serde_json::{Map, Value, json};

/// Longest chat message accepted, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4_000;
/// Longest `sessionId` accepted.
pub const MAX_SESSION_ID_LEN: usize = 128;

/// What to send, quoted in errors.
const CHAT_MESSAGE_EXAMPLE: &str =
    r#"{"action": "chat_message", "data": {"message": "Hello", "sessionId": "my-session"}}"#;

/// `chat_message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// What the user wrote.
    pub message: String,
    /// The conversation it belongs to (the client's id).
    pub session_id: String,
}

/// A message a client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// A chat message for the assistant.
    Chat(ChatMessage),
    /// Keep-alive.
    Ping,
}

/// Why a client message was refused (the text the client sees).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Not JSON.
    #[error("Invalid message: not valid JSON; send {CHAT_MESSAGE_EXAMPLE}")]
    NotJson,
    /// JSON but not an object.
    #[error("Invalid message: expected a JSON object like {CHAT_MESSAGE_EXAMPLE}")]
    NotObject,
    /// No `action`.
    #[error("Invalid message: missing \"action\"; use chat_message or ping")]
    NoAction,
    /// An action the API does not have.
    #[error("Unknown action: {0}; use chat_message or ping")]
    UnknownAction(String),
    /// A required field is missing.
    #[error("Invalid message: missing field \"{0}\"; send {CHAT_MESSAGE_EXAMPLE}")]
    Missing(&'static str),
    /// A field has the wrong type or value.
    #[error("Invalid message: field \"{field}\" {problem}")]
    BadField {
        /// Dotted path of the field.
        field: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
}

impl MessageError {
    /// The error code clients see.
    pub fn code(&self) -> ErrorCode {
        match self {
            MessageError::UnknownAction(_) => ErrorCode::UnknownAction,
            _ => ErrorCode::InvalidMessage,
        }
    }
}

fn string_field(
    object: &Map<String, Value>,
    key: &str,
    field: &'static str,
) -> Result<String, MessageError> {
    match object.get(key) {
        None | Some(Value::Null) => Err(MessageError::Missing(field)),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(MessageError::BadField {
            field,
            problem: "must be a string",
        }),
    }
}

fn valid_session_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_SESSION_ID_LEN
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@'))
}

/// Parses a message body.
pub fn parse(body: &str) -> Result<ClientMessage, MessageError> {
    let value: Value = serde_json::from_str(body).map_err(|_| MessageError::NotJson)?;
    let Value::Object(object) = value else {
        return Err(MessageError::NotObject);
    };
    let action = match object.get("action") {
        None | Some(Value::Null) => return Err(MessageError::NoAction),
        Some(Value::String(action)) => action.clone(),
        Some(other) => return Err(MessageError::UnknownAction(other.to_string())),
    };
    match action.as_str() {
        "ping" => Ok(ClientMessage::Ping),
        "chat_message" => {
            let data = match object.get("data") {
                None | Some(Value::Null) => return Err(MessageError::Missing("data")),
                Some(Value::Object(data)) => data,
                Some(_) => {
                    return Err(MessageError::BadField {
                        field: "data",
                        problem: "must be an object with message and sessionId",
                    });
                }
            };
            let message = string_field(data, "message", "data.message")?;
            if message.trim().is_empty() {
                return Err(MessageError::BadField {
                    field: "data.message",
                    problem: "must not be empty",
                });
            }
            if message.chars().count() > MAX_MESSAGE_CHARS {
                return Err(MessageError::BadField {
                    field: "data.message",
                    problem: "must be at most 4000 characters",
                });
            }
            let session_id = string_field(data, "sessionId", "data.sessionId")?;
            if !valid_session_id(&session_id) {
                return Err(MessageError::BadField {
                    field: "data.sessionId",
                    problem: "must be 1 to 128 characters of letters, digits and - _ . : @",
                });
            }
            Ok(ClientMessage::Chat(ChatMessage {
                message,
                session_id,
            }))
        }
        other => Err(MessageError::UnknownAction(other.to_owned())),
    }
}

/// The `code` of an `error` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Malformed JSON, missing or bad fields.
    InvalidMessage,
    /// An action the API does not have.
    UnknownAction,
    /// Over the per-connection rate limit; the message was not processed.
    RateLimited,
    /// The connection has no registry item (expired or cleaned up): reconnect.
    ConnectionNotRegistered,
    /// Bedrock throttled the model call; retry the message.
    ModelThrottled,
    /// Bedrock refused the request (validation).
    ModelRejected,
    /// The model is not enabled for the account (AccessDenied).
    ModelNotAvailable,
    /// The model failed or timed out; retry the message.
    ModelUnavailable,
    /// A server fault (the table, the management API); the message was not accepted.
    InternalError,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 9] = [
        ErrorCode::InvalidMessage,
        ErrorCode::UnknownAction,
        ErrorCode::RateLimited,
        ErrorCode::ConnectionNotRegistered,
        ErrorCode::ModelThrottled,
        ErrorCode::ModelRejected,
        ErrorCode::ModelNotAvailable,
        ErrorCode::ModelUnavailable,
        ErrorCode::InternalError,
    ];

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidMessage => "invalid_message",
            ErrorCode::UnknownAction => "unknown_action",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ConnectionNotRegistered => "connection_not_registered",
            ErrorCode::ModelThrottled => "model_throttled",
            ErrorCode::ModelRejected => "model_rejected",
            ErrorCode::ModelNotAvailable => "model_not_available",
            ErrorCode::ModelUnavailable => "model_unavailable",
            ErrorCode::InternalError => "internal_error",
        }
    }
}

/// The sentences of the errors this API sends besides [`MessageError`]s.
pub mod errors {
    /// The connection's registry item is gone.
    pub const NOT_REGISTERED: &str = "This connection is no longer registered (it expired or was cleaned up), so replies cannot reach it; reconnect with a fresh token and send the message again";
    /// A server fault before the message was accepted.
    pub const NOT_ACCEPTED: &str = "The message could not be accepted because of a temporary server problem; send it again, and reconnect if this keeps happening";
    /// Bedrock throttling.
    pub const MODEL_THROTTLED: &str = "The assistant is busy right now (model throttled); send the message again in a few seconds";
    /// Bedrock validation.
    pub const MODEL_REJECTED: &str = "The assistant could not process this message (the model rejected the request); rephrase or shorten it and send it again";
    /// Bedrock access denied.
    pub const MODEL_NOT_AVAILABLE: &str = "Model not available: the assistant's model is not enabled for this account; retrying will not help until it is";
    /// Any other model failure.
    pub const MODEL_UNAVAILABLE: &str = "The assistant is unavailable (the model call failed); send the message again in a moment, and reconnect if this keeps happening";
}

/// `{"type":"error","code","message"}` with the optional fields that apply.
pub fn error(
    code: ErrorCode,
    message: &str,
    message_id: Option<&str>,
    retry_after_seconds: Option<i64>,
) -> Value {
    let mut error = json!({"type": "error", "code": code.as_str(), "message": message});
    if let Some(id) = message_id {
        error["messageId"] = json!(id);
    }
    if let Some(seconds) = retry_after_seconds {
        error["retryAfterSeconds"] = json!(seconds);
    }
    if matches!(
        code,
        ErrorCode::ConnectionNotRegistered | ErrorCode::InternalError
    ) {
        error["reconnect"] = json!(true);
    }
    error
}

/// The rate-limit error.
pub fn rate_limited(max_messages: u32, window_seconds: u64, message_id: &str, retry: i64) -> Value {
    let sentence = format!(
        "Rate limit exceeded: at most {max_messages} messages per {window_seconds} seconds per connection; this message was not processed, send it again in {retry} s"
    );
    error(
        ErrorCode::RateLimited,
        &sentence,
        Some(message_id),
        Some(retry),
    )
}

/// `{"type":"message_received"}`: the message was accepted.
pub fn message_received(message_id: &str, session_id: &str, received_at_ms: i64) -> Value {
    json!({
        "type": "message_received",
        "messageId": message_id,
        "sessionId": session_id,
        "receivedAt": received_at_ms,
    })
}

/// The assistant's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The text.
    pub text: String,
    /// The model id.
    pub model: String,
    /// Input tokens billed.
    pub input_tokens: i64,
    /// Output tokens billed.
    pub output_tokens: i64,
}

/// `{"type":"chat_reply"}`: the assistant's answer to message `message_id`.
pub fn chat_reply(message_id: &str, session_id: &str, reply: &Reply) -> Value {
    json!({
        "type": "chat_reply",
        "messageId": message_id,
        "sessionId": session_id,
        "role": "assistant",
        "message": reply.text,
        "model": reply.model,
        "usage": {"inputTokens": reply.input_tokens, "outputTokens": reply.output_tokens},
    })
}

/// `{"type":"pong"}`.
pub fn pong(now_ms: i64, expires_at: i64) -> Value {
    json!({"type": "pong", "timestamp": now_ms, "connectionExpiresAt": expires_at})
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_seed_message_parses() {
        let seed = r#"{"action": "chat_message", "data": {"message": "Hello", "sessionId": "test-session"}}"#;
        assert_eq!(
            parse(seed),
            Ok(ClientMessage::Chat(ChatMessage {
                message: "Hello".into(),
                session_id: "test-session".into()
            }))
        );
        assert_eq!(parse(r#"{"action":"ping"}"#), Ok(ClientMessage::Ping));
    }

    #[test]
    fn bad_messages() {
        assert_eq!(parse("{nope"), Err(MessageError::NotJson));
        assert_eq!(parse("[1]"), Err(MessageError::NotObject));
        assert_eq!(parse(r#"{"data":{}}"#), Err(MessageError::NoAction));
        assert_eq!(
            parse(r#"{"action":"dance"}"#),
            Err(MessageError::UnknownAction("dance".into()))
        );
        assert_eq!(
            parse(r#"{"action":7}"#),
            Err(MessageError::UnknownAction("7".into()))
        );
        assert_eq!(
            parse(r#"{"action":"chat_message"}"#),
            Err(MessageError::Missing("data"))
        );
        assert_eq!(
            parse(r#"{"action":"chat_message","data":{"sessionId":"s"}}"#),
            Err(MessageError::Missing("data.message"))
        );
        assert_eq!(
            parse(r#"{"action":"chat_message","data":{"message":"hi"}}"#),
            Err(MessageError::Missing("data.sessionId"))
        );
        for bad in [
            r#"{"action":"chat_message","data":"hi"}"#,
            r#"{"action":"chat_message","data":{"message":5,"sessionId":"s"}}"#,
            r#"{"action":"chat_message","data":{"message":"  ","sessionId":"s"}}"#,
            r#"{"action":"chat_message","data":{"message":"hi","sessionId":""}}"#,
            r#"{"action":"chat_message","data":{"message":"hi","sessionId":"a b"}}"#,
            r#"{"action":"chat_message","data":{"message":"hi","sessionId":["s"]}}"#,
        ] {
            assert!(
                matches!(parse(bad), Err(MessageError::BadField { .. })),
                "{bad}"
            );
        }
        let long = json!({"action": "chat_message", "data": {"message": "x".repeat(4001), "sessionId": "s"}});
        assert!(matches!(
            parse(&long.to_string()),
            Err(MessageError::BadField {
                field: "data.message",
                ..
            })
        ));
        assert_eq!(
            MessageError::UnknownAction("x".into()).code(),
            ErrorCode::UnknownAction
        );
        assert_eq!(MessageError::NotJson.code(), ErrorCode::InvalidMessage);
    }

    #[test]
    fn errors_carry_guidance() {
        let limited = rate_limited(20, 60, "m1", 7);
        assert_eq!(limited["code"], "rate_limited");
        assert_eq!(limited["retryAfterSeconds"], 7);
        assert_eq!(limited["messageId"], "m1");
        assert!(
            limited["message"]
                .as_str()
                .unwrap()
                .contains("not processed")
        );
        assert!(limited.get("reconnect").is_none());
        let gone = error(
            ErrorCode::ConnectionNotRegistered,
            errors::NOT_REGISTERED,
            None,
            None,
        );
        assert_eq!(gone["reconnect"], true);
        assert!(gone.get("messageId").is_none());
        assert!(errors::MODEL_NOT_AVAILABLE.starts_with("Model not available"));
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in "\\PC*") {
            let _ = parse(&body);
        }

        #[test]
        fn any_valid_chat_message_round_trips(
            message in "[^\\x00-\\x1f]{1,200}".prop_filter("not blank", |m| !m.trim().is_empty()),
            session in "[A-Za-z0-9._:@-]{1,128}",
        ) {
            let body = json!({"action": "chat_message", "data": {"message": message, "sessionId": session}});
            prop_assert_eq!(
                parse(&body.to_string()),
                Ok(ClientMessage::Chat(ChatMessage { message, session_id: session }))
            );
        }
    }
}
