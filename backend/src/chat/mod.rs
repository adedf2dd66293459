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
pub(crate) mod rate_limit;
pub(crate) mod registry;
pub(crate) mod sender;

use std::time::Duration;

use crate::config::{ConfigError, EnvVars};
use jwt::{DEFAULT_LEEWAY_SECONDS, JwtSettings};
use rate_limit::RateLimit;

/// A configuration problem (the function cannot start).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A variable is missing or does not parse.
    #[error(transparent)]
    Config(#[from] ConfigError),
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
        let vars = EnvVars::process();
        let settings = Self {
            jwt: JwtSettings {
                issuer: vars.required("JWT_ISSUER")?,
                audience: vars.required("JWT_AUDIENCE")?,
                leeway_seconds: vars.parsed("JWT_LEEWAY_SECONDS", DEFAULT_LEEWAY_SECONDS)?,
            },
            secret: vars.optional("JWT_SECRET"),
            secret_name: vars.optional("JWT_SECRET_NAME"),
            jwks_url: vars.optional("JWKS_URL"),
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
    /// The registry these settings describe.
    pub fn registry(self, config: &aws_config::SdkConfig) -> registry::Registry {
        registry::Registry::new(
            aws_sdk_dynamodb::Client::new(config),
            self.table,
            self.ttl_seconds,
        )
    }

    /// Reads the environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        let vars = EnvVars::process();
        Ok(Self {
            table: vars.required("CONNECTIONS_TABLE")?,
            ttl_seconds: vars.parsed("CONNECTION_TTL_SECONDS", registry::DEFAULT_TTL_SECONDS)?,
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
        let vars = EnvVars::process();
        let max_messages: u32 =
            vars.parsed("RATE_LIMIT_MESSAGES", rate_limit::DEFAULT_MAX_MESSAGES)?;
        let window: u64 = vars.parsed(
            "RATE_LIMIT_WINDOW_SECONDS",
            rate_limit::DEFAULT_WINDOW_SECONDS,
        )?;
        if max_messages == 0 || window == 0 {
            return Err(ConfigError::Invalid(
                "RATE_LIMIT_MESSAGES / RATE_LIMIT_WINDOW_SECONDS".to_owned(),
                "0".to_owned(),
            )
            .into());
        }
        Ok(Self {
            model_id: vars.text("CHAT_MODEL_ID", assistant::DEFAULT_MODEL_ID),
            max_tokens: vars.parsed("CHAT_MAX_TOKENS", assistant::DEFAULT_MAX_TOKENS)?,
            rate_limit: RateLimit {
                max_messages,
                window: Duration::from_secs(window),
            },
        })
    }
}
