//! The GCP service account for Vertex AI, read from Secrets Manager (the
//! secret named by `GCP_CREDENTIALS_SECRET`, seed 000's
//! `gemini-vertex-ai-credentials`) with aws-sdk-secretsmanager and cached for
//! the life of the function instance. Failures are not cached: the next
//! session tries again.

use tokio::sync::Mutex;

use crate::vertex::auth::{CredentialsError, ServiceAccount};

/// Why the credentials could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Secrets Manager failed or has no such secret.
    #[error("cannot read secret {name}: {message}")]
    Read {
        /// Secret name.
        name: String,
        /// The SDK's error.
        message: String,
    },
    /// The secret has no string value.
    #[error("secret {0} has no SecretString")]
    NoString(String),
    /// The value is not usable.
    #[error(transparent)]
    Invalid(#[from] CredentialsError),
}

/// A cached service account.
#[derive(Debug)]
pub struct GcpCredentials {
    client: aws_sdk_secretsmanager::Client,
    secret_name: String,
    cached: Mutex<Option<ServiceAccount>>,
}

impl GcpCredentials {
    /// Credentials from `secret_name`.
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_name: impl Into<String>) -> Self {
        Self {
            client,
            secret_name: secret_name.into(),
            cached: Mutex::new(None),
        }
    }

    /// The service account (one Secrets Manager call per instance when it works).
    pub async fn service_account(&self) -> Result<ServiceAccount, SecretError> {
        let mut cached = self.cached.lock().await;
        if let Some(account) = cached.as_ref() {
            return Ok(account.clone());
        }
        let answer = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_name)
            .send()
            .await
            .map_err(|e| SecretError::Read {
                name: self.secret_name.clone(),
                message: aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
            })?;
        let text = answer
            .secret_string()
            .ok_or_else(|| SecretError::NoString(self.secret_name.clone()))?;
        let account = ServiceAccount::from_json(text)?;
        *cached = Some(account.clone());
        Ok(account)
    }

    /// Forgets the cached account (after Vertex refused it).
    pub async fn forget(&self) {
        *self.cached.lock().await = None;
    }
}
