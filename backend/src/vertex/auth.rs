//! Google service-account credentials for Vertex AI: the key JSON (read from
//! Secrets Manager) and the bearer token made from it, a self-signed JWT
//! (RS256; header `kid` = `private_key_id`; claims `iss` = `sub` =
//! `client_email`, `scope` cloud-platform, `iat`, `exp` one hour later), as
//! Google's own Rust auth crate does, with no token-endpoint round trip.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

/// How long a token lives.
pub(crate) const TOKEN_LIFETIME_SECONDS: i64 = 3600;
/// The OAuth scope Vertex AI needs.
pub(crate) const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Why credentials are unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// Not a service-account key JSON.
    #[error("the secret is not a service account key: {0}")]
    NotServiceAccount(String),
    /// The private key cannot sign.
    #[error("the service account's private key is unusable: {0}")]
    BadKey(String),
}

/// The fields of a service-account key the backend uses.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceAccount {
    /// `service_account`.
    #[serde(rename = "type")]
    pub kind: String,
    /// GCP project.
    pub project_id: String,
    /// Key id (the JWT's `kid`).
    pub private_key_id: String,
    /// PKCS#8 PEM.
    pub private_key: String,
    /// The account (`iss` and `sub`).
    pub client_email: String,
}

#[derive(Debug, Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    scope: &'a str,
    iat: i64,
    exp: i64,
}

impl ServiceAccount {
    /// Parses and checks a key JSON.
    pub fn from_json(json: &str) -> Result<Self, CredentialsError> {
        let account: ServiceAccount = serde_json::from_str(json)
            .map_err(|e| CredentialsError::NotServiceAccount(e.to_string()))?;
        if account.kind != "service_account" {
            return Err(CredentialsError::NotServiceAccount(format!(
                "type is {:?}",
                account.kind
            )));
        }
        if account.project_id.is_empty()
            || account.client_email.is_empty()
            || account.private_key_id.is_empty()
        {
            return Err(CredentialsError::NotServiceAccount(
                "project_id, client_email or private_key_id is empty".into(),
            ));
        }
        account.encoding_key()?;
        Ok(account)
    }

    fn encoding_key(&self) -> Result<EncodingKey, CredentialsError> {
        EncodingKey::from_rsa_pem(self.private_key.as_bytes())
            .map_err(|e| CredentialsError::BadKey(e.to_string()))
    }

    /// A bearer token valid from `now_epoch_s` for an hour.
    pub fn bearer_token(&self, now_epoch_s: i64) -> Result<String, CredentialsError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.private_key_id.clone());
        let claims = Claims {
            iss: &self.client_email,
            sub: &self.client_email,
            scope: CLOUD_PLATFORM_SCOPE,
            iat: now_epoch_s,
            exp: now_epoch_s + TOKEN_LIFETIME_SECONDS,
        };
        jsonwebtoken::encode(&header, &claims, &self.encoding_key()?)
            .map_err(|e| CredentialsError::BadKey(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_service_account() {
        assert!(matches!(
            ServiceAccount::from_json("{}"),
            Err(CredentialsError::NotServiceAccount(_))
        ));
        assert!(matches!(
            ServiceAccount::from_json("not json"),
            Err(CredentialsError::NotServiceAccount(_))
        ));
        let user = r#"{"type":"authorized_user","project_id":"p","private_key_id":"k","private_key":"x","client_email":"e"}"#;
        assert!(matches!(
            ServiceAccount::from_json(user),
            Err(CredentialsError::NotServiceAccount(_))
        ));
        let bad_key = r#"{"type":"service_account","project_id":"p","private_key_id":"k","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n","client_email":"e@p.iam.gserviceaccount.com"}"#;
        assert!(matches!(
            ServiceAccount::from_json(bad_key),
            Err(CredentialsError::BadKey(_))
        ));
    }
}
