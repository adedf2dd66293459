//! The service account the mock issues and the bearer tokens it accepts.
//!
//! At start the mock generates an RSA 2048 key pair and describes it as a
//! complete Google service-account key JSON. Clients sign a self-signed JWT
//! with it (as Google's `google-cloud-auth` does: RS256, header `kid` =
//! `private_key_id`, claims `iss` = `sub` = `client_email`, `scope` with
//! cloud-platform or `aud` = the Vertex service, `iat`, `exp` at most an hour
//! later) and send it as `Authorization: Bearer <jwt>`. The mock verifies
//! the signature, key id, issuer, scope or audience, and lifetime.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// The OAuth scope that grants Vertex AI access.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Audiences accepted when a token carries no scope (self-signed JWT with audience).
const VERTEX_AUDIENCE_HOST: &str = "aiplatform.googleapis.com";

/// Longest lifetime Google accepts for a self-signed JWT.
const MAX_LIFETIME_SECS: u64 = 3600;

/// Clock skew tolerated for `iat` in the future.
const ALLOWED_SKEW_SECS: u64 = 60;

/// Why the key pair could not be made.
#[derive(Debug, thiserror::Error)]
#[error("generating the service account key failed: {0}")]
pub struct KeyGenerationError(String);

/// Why a request's credentials were refused (every variant is an HTTP 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("the request has no Authorization header")]
    Missing,
    /// The header is not `Bearer <token>`.
    #[error("the Authorization header is not a Bearer token")]
    NotBearer,
    /// The token is not a well-formed JWT, or lacks a required claim.
    #[error("the bearer token is malformed: {0}")]
    Malformed(String),
    /// The JWT is not RS256.
    #[error("the token algorithm must be RS256")]
    WrongAlgorithm,
    /// The header's `kid` is not this service account's `private_key_id`.
    #[error("the token's key id is not a key of this service account")]
    UnknownKeyId,
    /// The signature does not verify with the service account's public key.
    #[error("the token signature is invalid")]
    BadSignature,
    /// `iss` or `sub` is not this service account's `client_email`.
    #[error("the token issuer is not the service account")]
    WrongIssuer,
    /// Neither the cloud-platform scope nor the Vertex audience.
    #[error("the token has neither the cloud-platform scope nor the Vertex AI audience")]
    NoVertexAccess,
    /// `exp` is in the past.
    #[error("the token has expired")]
    Expired,
    /// `exp` is more than an hour after `iat`, or before it.
    #[error("the token lifetime must be at most one hour")]
    BadLifetime,
    /// `iat` is in the future.
    #[error("the token was issued in the future")]
    IssuedInFuture,
}

impl AuthError {
    /// The `google.rpc.ErrorInfo` reason Google reports for this refusal.
    pub fn google_reason(&self) -> &'static str {
        match self {
            Self::Missing => "CREDENTIALS_MISSING",
            Self::Expired => "ACCESS_TOKEN_EXPIRED",
            _ => "ACCESS_TOKEN_TYPE_UNSUPPORTED",
        }
    }
}

/// Who a verified token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The service account's e-mail (`iss`).
    pub client_email: String,
    /// Seconds since the epoch at which the token expires.
    pub expires_at: u64,
}

/// The claims of a self-signed service-account JWT.
#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    aud: Option<serde_json::Value>,
    iat: u64,
    exp: u64,
}

/// A service account: its key pair and the identity fields of its key file.
pub struct ServiceAccount {
    project_id: String,
    private_key_id: String,
    client_email: String,
    client_id: String,
    private_key_pem: String,
    public_key: DecodingKey,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("project_id", &self.project_id)
            .field("private_key_id", &self.private_key_id)
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    /// Generates a fresh RSA 2048 key pair for a service account of `project_id`.
    pub fn generate(project_id: &str) -> Result<Self, KeyGenerationError> {
        let failed = |what: &str| KeyGenerationError(what.to_owned());
        let key_pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| failed("RSA keygen"))?;
        let pkcs8 = key_pair.as_der().map_err(|_| failed("PKCS#8 encoding"))?;
        let public_key = DecodingKey::from_rsa_der(key_pair.public_key().as_ref());
        let mut random = [0u8; 29];
        aws_lc_rs::rand::fill(&mut random).map_err(|_| failed("random bytes"))?;
        let private_key_id = hex(&random[..20]);
        let client_id = random[20..]
            .iter()
            .fold(String::from("1"), |digits, byte| {
                format!("{digits}{:02}", u32::from(*byte) % 100)
            })
            .chars()
            .chain(std::iter::repeat('0'))
            .take(21)
            .collect();
        Ok(Self {
            project_id: project_id.to_owned(),
            private_key_id,
            client_email: format!("speechgate-mock@{project_id}.iam.gserviceaccount.com"),
            client_id,
            private_key_pem: pem("PRIVATE KEY", pkcs8.as_ref()),
            public_key,
        })
    }

    /// The project the account belongs to.
    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// `private_key_id`, the `kid` of the tokens it signs.
    pub fn private_key_id(&self) -> &str {
        &self.private_key_id
    }

    /// `client_email`, the issuer of the tokens it signs.
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// The PKCS#8 PEM private key.
    pub fn private_key_pem(&self) -> &str {
        &self.private_key_pem
    }

    /// The complete key file, as the Google Cloud console downloads it, with
    /// `token_uri` naming the token endpoint to use.
    pub fn key_json(&self, token_uri: &str) -> String {
        let email = &self.client_email;
        let json = serde_json::json!({
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.private_key_id,
            "private_key": self.private_key_pem,
            "client_email": email,
            "client_id": self.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": format!(
                "https://www.googleapis.com/robot/v1/metadata/x509/{}",
                email.replace('@', "%40")
            ),
            "universe_domain": "googleapis.com",
        });
        serde_json::to_string_pretty(&json).unwrap_or_default()
    }

    /// Verifies a self-signed JWT used as a bearer token at `now` (seconds
    /// since the epoch): it must grant Vertex AI access.
    pub fn verify(&self, token: &str, now: u64) -> Result<Caller, AuthError> {
        self.verify_jwt(token, now, grants_vertex_access)
    }

    /// Verifies the assertion of an OAuth 2.0 JWT-bearer grant: its audience
    /// must be `token_uri`, and it must ask for the cloud-platform scope.
    pub fn verify_assertion(
        &self,
        assertion: &str,
        token_uri: &str,
        now: u64,
    ) -> Result<Caller, AuthError> {
        self.verify_jwt(assertion, now, |claims| {
            audiences(claims).any(|aud| aud == token_uri) && has_cloud_platform_scope(claims)
        })
    }

    fn verify_jwt(
        &self,
        token: &str,
        now: u64,
        grants_access: impl FnOnce(&Claims) -> bool,
    ) -> Result<Caller, AuthError> {
        let jwt_header =
            jsonwebtoken::decode_header(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
        if jwt_header.alg != Algorithm::RS256 {
            return Err(AuthError::WrongAlgorithm);
        }
        if jwt_header.kid.as_deref() != Some(self.private_key_id.as_str()) {
            return Err(AuthError::UnknownKeyId);
        }
        let mut validation = Validation::new(Algorithm::RS256);
        // Time and audience are checked below, against `now` and Google's rules.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<Claims>(token, &self.public_key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthError::BadSignature,
                _ => AuthError::Malformed(e.to_string()),
            })?
            .claims;
        let subject_ok = claims
            .sub
            .as_deref()
            .is_none_or(|sub| sub == self.client_email);
        if claims.iss != self.client_email || !subject_ok {
            return Err(AuthError::WrongIssuer);
        }
        if !grants_access(&claims) {
            return Err(AuthError::NoVertexAccess);
        }
        if claims.exp < claims.iat || claims.exp - claims.iat > MAX_LIFETIME_SECS {
            return Err(AuthError::BadLifetime);
        }
        if claims.iat > now + ALLOWED_SKEW_SECS {
            return Err(AuthError::IssuedInFuture);
        }
        if claims.exp <= now {
            return Err(AuthError::Expired);
        }
        Ok(Caller {
            client_email: claims.iss,
            expires_at: claims.exp,
        })
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(authorization: Option<&str>) -> Result<&str, AuthError> {
    let header = authorization.ok_or(AuthError::Missing)?.trim();
    let (scheme, token) = header.split_once(' ').ok_or(AuthError::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::NotBearer);
    }
    Ok(token.trim())
}

fn audiences(claims: &Claims) -> impl Iterator<Item = &str> {
    let (single, many) = match &claims.aud {
        Some(serde_json::Value::String(aud)) => (Some(aud.as_str()), None),
        Some(serde_json::Value::Array(auds)) => (None, Some(auds)),
        _ => (None, None),
    };
    single.into_iter().chain(
        many.into_iter()
            .flatten()
            .filter_map(serde_json::Value::as_str),
    )
}

fn has_cloud_platform_scope(claims: &Claims) -> bool {
    claims
        .scope
        .as_deref()
        .is_some_and(|scope| scope.split_whitespace().any(|s| s == CLOUD_PLATFORM_SCOPE))
}

/// A cloud-platform scope, or an audience naming the Vertex AI service.
fn grants_vertex_access(claims: &Claims) -> bool {
    let vertex_audience = |aud: &str| {
        aud.strip_prefix("https://")
            .map(|rest| rest.trim_end_matches('/'))
            .is_some_and(|host| host.ends_with(VERTEX_AUDIENCE_HOST))
    };
    has_cloud_platform_scope(claims) || audiences(claims).any(vertex_audience)
}

/// PEM armour with 64-character lines.
fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use std::sync::OnceLock;

    fn account() -> &'static ServiceAccount {
        static ACCOUNT: OnceLock<ServiceAccount> = OnceLock::new();
        ACCOUNT.get_or_init(|| ServiceAccount::generate("demo-project").unwrap())
    }

    fn sign(kid: Option<&str>, claims: &serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = kid.map(str::to_owned);
        let key = EncodingKey::from_rsa_pem(account().private_key_pem().as_bytes()).unwrap();
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }

    fn claims(now: u64) -> serde_json::Value {
        let email = account().client_email();
        serde_json::json!({
            "iss": email, "sub": email, "scope": CLOUD_PLATFORM_SCOPE,
            "iat": now, "exp": now + 3600,
        })
    }

    fn verify(token: &str, now: u64) -> Result<Caller, AuthError> {
        account().verify(token, now)
    }

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn key_json_is_a_complete_service_account_key() {
        let json: serde_json::Value =
            serde_json::from_str(&account().key_json("http://127.0.0.1:1/token")).unwrap();
        for field in [
            "type",
            "project_id",
            "private_key_id",
            "private_key",
            "client_email",
            "client_id",
            "auth_uri",
            "token_uri",
            "auth_provider_x509_cert_url",
            "client_x509_cert_url",
        ] {
            assert!(
                json[field].as_str().is_some_and(|v| !v.is_empty()),
                "{field}"
            );
        }
        assert_eq!(json["type"], "service_account");
        assert_eq!(json["project_id"], "demo-project");
        assert!(
            json["private_key"]
                .as_str()
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----\n")
        );
        assert_eq!(json["client_id"].as_str().unwrap().len(), 21);
        assert_eq!(json["private_key_id"].as_str().unwrap().len(), 40);
    }

    #[test]
    fn accepts_a_well_signed_token() {
        let kid = account().private_key_id();
        let caller = verify(&sign(Some(kid), &claims(NOW)), NOW + 10).unwrap();
        assert_eq!(caller.client_email, account().client_email());
        let mut with_audience = claims(NOW);
        with_audience["scope"] = serde_json::Value::Null;
        with_audience["aud"] = "https://aiplatform.googleapis.com/".into();
        verify(&sign(Some(kid), &with_audience), NOW).unwrap();
    }

    #[test]
    fn refuses_bad_tokens() {
        let kid = account().private_key_id();
        assert_eq!(bearer_token(None), Err(AuthError::Missing));
        assert_eq!(bearer_token(Some("Basic abc")), Err(AuthError::NotBearer));
        assert_eq!(bearer_token(Some("Bearer  t ")), Ok("t"));
        assert!(matches!(
            verify("not.a.jwt", NOW),
            Err(AuthError::Malformed(_))
        ));
        assert_eq!(
            verify(&sign(Some("other"), &claims(NOW)), NOW),
            Err(AuthError::UnknownKeyId)
        );
        assert_eq!(
            verify(&sign(Some(kid), &claims(NOW)), NOW + 3600),
            Err(AuthError::Expired)
        );
        let mut long = claims(NOW);
        long["exp"] = (NOW + 7200).into();
        assert_eq!(
            verify(&sign(Some(kid), &long), NOW),
            Err(AuthError::BadLifetime)
        );
        let mut stranger = claims(NOW);
        stranger["iss"] = "someone@else.iam.gserviceaccount.com".into();
        assert_eq!(
            verify(&sign(Some(kid), &stranger), NOW),
            Err(AuthError::WrongIssuer)
        );
        let mut unscoped = claims(NOW);
        unscoped["scope"] = "https://www.googleapis.com/auth/devstorage.read_only".into();
        assert_eq!(
            verify(&sign(Some(kid), &unscoped), NOW),
            Err(AuthError::NoVertexAccess)
        );
        let mut assertion = claims(NOW);
        assertion["aud"] = "http://127.0.0.1:1/token".into();
        let assertion = sign(Some(kid), &assertion);
        let uri = "http://127.0.0.1:1/token";
        account().verify_assertion(&assertion, uri, NOW).unwrap();
        assert_eq!(
            account().verify_assertion(&assertion, "http://elsewhere/token", NOW),
            Err(AuthError::NoVertexAccess)
        );
        let token = sign(Some(kid), &claims(NOW));
        let (rest, signature) = token.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { "B" } else { "A" };
        let tampered = format!("{rest}.{flipped}{}", &signature[1..]);
        assert_eq!(verify(&tampered, NOW), Err(AuthError::BadSignature));
    }
}
