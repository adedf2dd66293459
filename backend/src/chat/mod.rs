//! The chat WebSocket API (seed 004): a JWT REQUEST authorizer on
//! `$connect`, the `{env}-chatbot-connections` registry with its
//! `userId-index` and a TTL refreshed by activity, and chat messages answered
//! by Bedrock Converse (Nova Micro) and delivered to every connection of the
//! user by a MessageSender that removes stale connections (410 Gone), with a
//! per-connection rate limit and a keep-alive `ping`.
//!
//! Four functions, as seed 004 names them, each a thin binary:
//!
//! | function | binary | handler |
//! |---|---|---|
//! | `{env}-websocket-authorizer` | `chat-authorizer` | [`authorizer::handle`] |
//! | `{env}-websocket-connect` | `chat-connect` | [`connection::connect`] |
//! | `{env}-websocket-disconnect` | `chat-disconnect` | [`connection::disconnect`] |
//! | `{env}-websocket-message` | `chat-message` | [`message::handle`] (`chat_message`, `ping`, `$default`) |
//!
//! Modules: [`jwt`] (token verification), [`keys`] (HS256 secret and JWKS,
//! cached), [`authorizer`] (policy and context), [`registry`] (the
//! connections table), [`rate_limit`] (the rule), [`sender`] (the
//! MessageSender), [`assistant`] (Converse), [`messages`] (both ways),
//! [`connection`] and [`message`] (the handlers). The contract is
//! backend/spec/chat.asyncapi.yaml.
//!
//! Environment: `JWT_ISSUER`, `JWT_AUDIENCE`, `JWT_SECRET` or
//! `JWT_SECRET_NAME`, `JWKS_URL`, `JWT_LEEWAY_SECONDS` (authorizer);
//! `CONNECTIONS_TABLE`, `CONNECTION_TTL_SECONDS` (connect, disconnect,
//! message); `APIGW_ENDPOINT`, `CHAT_MODEL_ID`, `CHAT_MAX_TOKENS`,
//! `RATE_LIMIT_MESSAGES`, `RATE_LIMIT_WINDOW_SECONDS` (message).

pub mod assistant;
pub mod authorizer;
pub mod connection;
pub mod jwt;
pub mod keys;
pub mod message;
pub mod messages;
pub mod rate_limit;
pub mod registry;
pub mod sender;

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jwt::{DEFAULT_LEEWAY_SECONDS, JwtSettings};
use rate_limit::RateLimit;

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// A required, non-empty environment variable.
pub fn required_env(name: &str) -> Result<String, SettingsError> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .ok_or_else(|| SettingsError::Missing(name.to_owned()))
}

fn optional_env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

fn parsed_env<T: FromStr>(name: &str, default: T) -> Result<T, SettingsError> {
    match optional_env(name) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| SettingsError::Invalid(name.to_owned(), text)),
    }
}

/// A configuration problem (the function cannot start).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A required variable is not set.
    #[error("environment variable {0} is required")]
    Missing(String),
    /// A variable does not parse.
    #[error("environment variable {0}={1:?} is not valid")]
    Invalid(String, String),
    /// No key to verify tokens with.
    #[error("set JWT_SECRET, JWT_SECRET_NAME or JWKS_URL: the authorizer has no key")]
    NoKeys,
}

/// The authorizer's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerSettings {
    /// Issuer, audience, leeway.
    pub jwt: JwtSettings,
    /// `JWT_SECRET`: the HS256 secret itself.
    pub secret: Option<String>,
    /// `JWT_SECRET_NAME`: the Secrets Manager secret holding it.
    pub secret_name: Option<String>,
    /// `JWKS_URL`: the RS256 keys.
    pub jwks_url: Option<String>,
}

impl AuthorizerSettings {
    /// Reads the environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        let settings = Self {
            jwt: JwtSettings {
                issuer: required_env("JWT_ISSUER")?,
                audience: required_env("JWT_AUDIENCE")?,
                leeway_seconds: parsed_env("JWT_LEEWAY_SECONDS", DEFAULT_LEEWAY_SECONDS)?,
            },
            secret: optional_env("JWT_SECRET"),
            secret_name: optional_env("JWT_SECRET_NAME"),
            jwks_url: optional_env("JWKS_URL"),
        };
        if settings.secret.is_none()
            && settings.secret_name.is_none()
            && settings.jwks_url.is_none()
        {
            return Err(SettingsError::NoKeys);
        }
        Ok(settings)
    }
}

/// The connections table's configuration (every function but the authorizer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrySettings {
    /// `CONNECTIONS_TABLE`.
    pub table: String,
    /// `CONNECTION_TTL_SECONDS` (default 600).
    pub ttl_seconds: i64,
}

impl RegistrySettings {
    /// Reads the environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Ok(Self {
            table: required_env("CONNECTIONS_TABLE")?,
            ttl_seconds: parsed_env("CONNECTION_TTL_SECONDS", registry::DEFAULT_TTL_SECONDS)?,
        })
    }
}

/// The message function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSettings {
    /// `CHAT_MODEL_ID`.
    pub model_id: String,
    /// `CHAT_MAX_TOKENS`.
    pub max_tokens: i32,
    /// `RATE_LIMIT_MESSAGES` per `RATE_LIMIT_WINDOW_SECONDS`.
    pub rate_limit: RateLimit,
}

impl MessageSettings {
    /// Reads the environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        let max_messages: u32 =
            parsed_env("RATE_LIMIT_MESSAGES", rate_limit::DEFAULT_MAX_MESSAGES)?;
        let window: u64 = parsed_env(
            "RATE_LIMIT_WINDOW_SECONDS",
            rate_limit::DEFAULT_WINDOW_SECONDS,
        )?;
        if max_messages == 0 || window == 0 {
            return Err(SettingsError::Invalid(
                "RATE_LIMIT_MESSAGES / RATE_LIMIT_WINDOW_SECONDS".to_owned(),
                "0".to_owned(),
            ));
        }
        Ok(Self {
            model_id: optional_env("CHAT_MODEL_ID")
                .unwrap_or_else(|| assistant::DEFAULT_MODEL_ID.to_owned()),
            max_tokens: parsed_env("CHAT_MAX_TOKENS", assistant::DEFAULT_MAX_TOKENS)?,
            rate_limit: RateLimit {
                max_messages,
                window: Duration::from_secs(window),
            },
        })
    }
}
