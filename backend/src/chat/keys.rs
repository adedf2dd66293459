//! Where the chat authorizer's verification keys come from, cached per
//! function instance:
//!
//! - the HS256 secret: `JWT_SECRET` (configuration) or the Secrets Manager
//!   secret named by `JWT_SECRET_NAME` (its `SecretString`, read once per
//!   instance through aws-sdk-secretsmanager; a failed read is not cached);
//! - the RS256 public keys: the JWKS document at `JWKS_URL`, fetched on first
//!   use, refetched when a token names an unknown `kid` (a key rotation) or
//!   when the cached copy is older than [`JWKS_MAX_AGE`], and never more than
//!   [`JWKS_MAX_FETCHES_PER_MINUTE`] times a minute (tokens with made-up
//!   `kid`s cannot turn the authorizer into a fetch amplifier).
//!
//! Key material never reaches the logs.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use tokio::sync::Mutex;

/// Refetch the JWKS when the cached copy is older than this.
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(3600);
/// At most this many JWKS fetches per minute and instance.
pub const JWKS_MAX_FETCHES_PER_MINUTE: usize = 10;
/// How long a JWKS fetch may take.
pub const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why keys could not be had (an infrastructure problem, not a bad token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Secrets Manager failed or the secret is unusable.
    #[error("HS256 secret {name} unavailable: {message}")]
    Secret {
        /// Secret name.
        name: String,
        /// What went wrong (never the value).
        message: String,
    },
    /// The JWKS document could not be fetched or parsed.
    #[error("JWKS {url} unavailable: {message}")]
    Jwks {
        /// Where it was fetched from.
        url: String,
        /// What went wrong.
        message: String,
    },
}

/// The HS256 shared secret.
#[derive(Debug)]
pub enum HmacSecret {
    /// Given in configuration (`JWT_SECRET`).
    Configured(Arc<[u8]>),
    /// Read from Secrets Manager once per instance.
    SecretsManager {
        /// The client.
        client: aws_sdk_secretsmanager::Client,
        /// `JWT_SECRET_NAME`.
        name: String,
        /// The value once read.
        cached: Mutex<Option<Arc<[u8]>>>,
    },
}

impl HmacSecret {
    /// A secret read from Secrets Manager on first use.
    pub fn from_secrets_manager(
        client: aws_sdk_secretsmanager::Client,
        name: impl Into<String>,
    ) -> Self {
        Self::SecretsManager {
            client,
            name: name.into(),
            cached: Mutex::new(None),
        }
    }

    /// A secret given directly.
    pub fn configured(secret: &[u8]) -> Self {
        Self::Configured(Arc::from(secret))
    }

    /// The secret's bytes.
    pub async fn bytes(&self) -> Result<Arc<[u8]>, KeyError> {
        let (client, name, cached) = match self {
            Self::Configured(secret) => return Ok(Arc::clone(secret)),
            Self::SecretsManager {
                client,
                name,
                cached,
            } => (client, name, cached),
        };
        let mut cached = cached.lock().await;
        if let Some(secret) = cached.as_ref() {
            return Ok(Arc::clone(secret));
        }
        let failed = |message: String| KeyError::Secret {
            name: name.clone(),
            message,
        };
        let answer = client
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .map_err(|e| {
                failed(aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string())
            })?;
        let value = answer
            .secret_string()
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| failed("the secret has no SecretString".to_owned()))?;
        if value.len() < 32 {
            tracing::warn!(
                secret = %name,
                "the HS256 secret is shorter than 32 bytes; use at least 256 bits"
            );
        }
        let secret: Arc<[u8]> = Arc::from(value.as_bytes());
        *cached = Some(Arc::clone(&secret));
        Ok(secret)
    }
}

/// What the cache holds.
#[derive(Debug, Default)]
struct JwksState {
    set: Option<JwkSet>,
    fetched_at: Option<Instant>,
    /// Start times of recent fetches (the rate limit).
    recent_fetches: VecDeque<Instant>,
}

/// The RS256 keys of the identity provider.
#[derive(Debug)]
pub struct JwksCache {
    http: reqwest::Client,
    /// `None`: the keys were given in configuration and never refetched.
    url: Option<String>,
    state: Mutex<JwksState>,
}

impl JwksCache {
    /// Keys fetched from `url` (`JWKS_URL`).
    pub fn new(http: reqwest::Client, url: impl Into<String>) -> Self {
        Self {
            http,
            url: Some(url.into()),
            state: Mutex::new(JwksState::default()),
        }
    }

    /// Keys given as a document (never refetched).
    pub fn fixed(set: JwkSet) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: None,
            state: Mutex::new(JwksState {
                set: Some(set),
                ..JwksState::default()
            }),
        }
    }

    /// The key with this `kid`: from the cache, else after a refetch (when
    /// the rate limit allows one); `None` when the provider does not publish it.
    pub async fn key(&self, kid: &str) -> Result<Option<Jwk>, KeyError> {
        let mut state = self.state.lock().await;
        let Some(url) = self.url.as_deref() else {
            return Ok(state.set.as_ref().and_then(|set| set.find(kid)).cloned());
        };
        let fresh = state
            .fetched_at
            .is_some_and(|at| at.elapsed() < JWKS_MAX_AGE);
        if fresh && let Some(jwk) = state.set.as_ref().and_then(|set| set.find(kid)) {
            return Ok(Some(jwk.clone()));
        }
        let now = Instant::now();
        while state
            .recent_fetches
            .front()
            .is_some_and(|at| now.duration_since(*at) >= Duration::from_secs(60))
        {
            state.recent_fetches.pop_front();
        }
        if state.recent_fetches.len() >= JWKS_MAX_FETCHES_PER_MINUTE {
            tracing::warn!(kid = %kid, "JWKS refetch skipped: rate limit reached");
            return Ok(state.set.as_ref().and_then(|set| set.find(kid)).cloned());
        }
        state.recent_fetches.push_back(now);
        let set = self.fetch(url).await?;
        let found = set.find(kid).cloned();
        tracing::info!(keys = set.keys.len(), "JWKS fetched");
        state.set = Some(set);
        state.fetched_at = Some(now);
        Ok(found)
    }

    async fn fetch(&self, url: &str) -> Result<JwkSet, KeyError> {
        let failed = |message: String| KeyError::Jwks {
            url: url.to_owned(),
            message,
        };
        let response = self
            .http
            .get(url)
            .timeout(JWKS_FETCH_TIMEOUT)
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(failed(format!("HTTP {status}")));
        }
        let body = response.bytes().await.map_err(|e| failed(e.to_string()))?;
        serde_json::from_slice(&body).map_err(|e| failed(format!("not a JWKS document: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mocks::identity::{IdentityConfig, IdentityMock};

    #[tokio::test]
    async fn unknown_kids_refetch_within_the_rate_limit() {
        let mock = IdentityMock::start(IdentityConfig::default())
            .await
            .unwrap();
        let cache = JwksCache::new(reqwest::Client::new(), mock.jwks_url());
        let first = mock.current_kid();
        assert!(cache.key(&first).await.unwrap().is_some());
        assert!(cache.key(&first).await.unwrap().is_some(), "cached");
        assert_eq!(mock.jwks_requests(), 1);
        // A rotation: the new kid is unknown, so the cache refetches once.
        let rotated = mock.add_key("RS256").unwrap();
        assert!(cache.key(&rotated).await.unwrap().is_some());
        assert_eq!(mock.jwks_requests(), 2);
        // Made-up kids: refetches stop at the per-minute limit.
        for n in 0..2 * JWKS_MAX_FETCHES_PER_MINUTE {
            assert!(cache.key(&format!("made-up-{n}")).await.unwrap().is_none());
        }
        assert_eq!(mock.jwks_requests(), JWKS_MAX_FETCHES_PER_MINUTE as u64);
        // Known keys still verify from the cache.
        assert!(cache.key(&first).await.unwrap().is_some());
        mock.stop().await;
    }

    #[tokio::test]
    async fn an_unreachable_provider_is_an_error_not_a_missing_key() {
        let mock = IdentityMock::start(IdentityConfig::default())
            .await
            .unwrap();
        mock.set_jwks_available(false);
        let cache = JwksCache::new(reqwest::Client::new(), mock.jwks_url());
        let error = cache.key(&mock.current_kid()).await.unwrap_err();
        assert!(matches!(error, KeyError::Jwks { .. }), "{error}");
        assert!(error.to_string().contains("503"), "{error}");
        mock.set_jwks_available(true);
        assert!(cache.key(&mock.current_kid()).await.unwrap().is_some());
        mock.stop().await;
    }
}
