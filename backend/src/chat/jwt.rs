//! JWT verification for the chat authorizer (seed 004: "All connections
//! require a valid JWT token").
//!
//! Accepted: `HS256` signed with the shared secret, and `RS256` signed by a
//! key of the identity provider's JWKS (the header's `kid` is required and
//! must name an RSA signing key whose JWK declares `RS256` or nothing).
//! Required claims: `sub` (the user id), `exp`, `iss` = `JWT_ISSUER`,
//! `aud` = `JWT_AUDIENCE`; `nbf` is checked when present. `exp` and `nbf`
//! allow a leeway for clock skew ([`DEFAULT_LEEWAY_SECONDS`], `JWT_LEEWAY_SECONDS`).
//!
//! Refused: `alg: none` and every other algorithm; algorithm confusion (the
//! key is chosen by the accepted algorithm, never by the token: an HS256
//! token is checked with the HS256 secret only, so one signed with the RSA
//! public key fails; an RS256 token is checked with JWKS keys only; a `kid`
//! naming a key of another algorithm is refused); tokens with `crit` header
//! parameters; tokens over [`MAX_TOKEN_BYTES`].
//!
//! A refusal ([`Refusal`]) becomes a 401 at the handshake; keys that cannot
//! be had ([`VerifyError::KeysUnavailable`]) are a server fault (500).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::keys::{HmacSecret, JwksCache, KeyError};

/// Clock skew allowed on `exp` and `nbf`, in seconds.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 30;
/// Longest token accepted (API Gateway's own request limits are larger).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Longest `sub` accepted.
pub const MAX_SUBJECT_LEN: usize = 128;

/// What a token must say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    /// `JWT_ISSUER`: the only accepted `iss`.
    pub issuer: String,
    /// `JWT_AUDIENCE`: the only accepted `aud`.
    pub audience: String,
    /// `JWT_LEEWAY_SECONDS`.
    pub leeway_seconds: u64,
}

/// Why a token was refused (logged; the client only sees 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No token.
    #[error("no token")]
    Missing,
    /// Over [`MAX_TOKEN_BYTES`].
    #[error("token over {MAX_TOKEN_BYTES} bytes")]
    TooLarge,
    /// Not a JWS compact serialization, or unreadable header or claims.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// An algorithm this authorizer does not accept (`none` included), or
    /// one it accepts but has no key for.
    #[error("algorithm {0:?} is not accepted")]
    AlgorithmNotAccepted(String),
    /// An RS256 token without `kid`.
    #[error("RS256 token without kid")]
    MissingKeyId,
    /// A `kid` the identity provider does not publish.
    #[error("kid {0:?} is not published by the identity provider")]
    UnknownKeyId(String),
    /// The `kid` names a key that is not an RS256 signing key.
    #[error("kid {0:?} is not an RS256 signing key")]
    KeyAlgorithmMismatch(String),
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// `exp` has passed.
    #[error("token expired")]
    Expired,
    /// `nbf` has not come yet.
    #[error("token not yet valid (nbf)")]
    NotYetValid,
    /// `iss` is not `JWT_ISSUER`.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` does not contain `JWT_AUDIENCE`.
    #[error("wrong audience")]
    WrongAudience,
    /// A required claim is missing.
    #[error("missing claim {0}")]
    MissingClaim(String),
    /// `sub` is empty, too long or has control characters.
    #[error("unusable sub claim")]
    BadSubject,
}

/// Why verification did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The token is not acceptable (401).
    #[error("token refused: {0}")]
    Refused(#[from] Refusal),
    /// Keys could not be had (500).
    #[error(transparent)]
    KeysUnavailable(#[from] KeyError),
}

/// A verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// `sub`: the user id.
    pub user_id: String,
    /// `exp`, epoch seconds.
    pub expires_at: i64,
    /// `HS256` or `RS256`.
    pub algorithm: &'static str,
}

/// The token header fields verification needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHeader {
    /// `alg`, as written.
    pub alg: String,
    /// `kid`.
    pub kid: Option<String>,
}

/// Reads a token's header without trusting it (it only picks the key).
pub fn read_header(token: &str) -> Result<TokenHeader, Refusal> {
    let segments: Vec<&str> = token.split('.').collect();
    if segments.len() != 3 {
        return Err(Refusal::Malformed(format!(
            "a JWT has 3 segments, this has {}",
            segments.len()
        )));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(segments[0])
        .map_err(|_| Refusal::Malformed("header is not base64url".to_owned()))?;
    let header: Value = serde_json::from_slice(&bytes)
        .map_err(|_| Refusal::Malformed("header is not JSON".to_owned()))?;
    let Value::Object(header) = header else {
        return Err(Refusal::Malformed("header is not an object".to_owned()));
    };
    if header.contains_key("crit") {
        return Err(Refusal::Malformed(
            "critical header parameters are not supported".to_owned(),
        ));
    }
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => alg.clone(),
        _ => return Err(Refusal::Malformed("header has no alg".to_owned())),
    };
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(Refusal::Malformed("kid is not a string".to_owned())),
    };
    Ok(TokenHeader { alg, kid })
}

/// Checks that a JWK may verify RS256 signatures: an RSA key, for
/// signatures, declaring `RS256` or no algorithm.
pub fn check_rs256_key(jwk: &Jwk, kid: &str) -> Result<(), Refusal> {
    let mismatch = || Refusal::KeyAlgorithmMismatch(kid.to_owned());
    if !matches!(jwk.algorithm, AlgorithmParameters::RSA(_)) {
        return Err(mismatch());
    }
    if jwk
        .common
        .key_algorithm
        .is_some_and(|alg| alg != KeyAlgorithm::RS256)
    {
        return Err(mismatch());
    }
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|usage| *usage != PublicKeyUse::Signature)
    {
        return Err(mismatch());
    }
    Ok(())
}

/// The refusal for a `jsonwebtoken` error.
pub fn refusal_for(kind: &ErrorKind) -> Refusal {
    match kind {
        ErrorKind::InvalidSignature => Refusal::BadSignature,
        ErrorKind::ExpiredSignature => Refusal::Expired,
        ErrorKind::ImmatureSignature => Refusal::NotYetValid,
        ErrorKind::InvalidIssuer => Refusal::WrongIssuer,
        ErrorKind::InvalidAudience => Refusal::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) => Refusal::MissingClaim(claim.clone()),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            Refusal::AlgorithmNotAccepted("mismatch".to_owned())
        }
        other => Refusal::Malformed(format!("{other:?}")),
    }
}

/// Verifies tokens with the configured keys.
#[derive(Debug)]
pub struct Verifier {
    settings: JwtSettings,
    /// HS256 accepted when set.
    hmac: Option<HmacSecret>,
    /// RS256 accepted when set.
    jwks: Option<JwksCache>,
}

impl Verifier {
    /// A verifier; HS256 needs `hmac`, RS256 needs `jwks`.
    pub fn new(settings: JwtSettings, hmac: Option<HmacSecret>, jwks: Option<JwksCache>) -> Self {
        Self {
            settings,
            hmac,
            jwks,
        }
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.settings.leeway_seconds;
        validation
    }

    /// Verifies a token; the user id is its `sub`.
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, VerifyError> {
        if token.is_empty() {
            return Err(Refusal::Missing.into());
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Refusal::TooLarge.into());
        }
        let header = read_header(token)?;
        let (algorithm, name, key) = match header.alg.as_str() {
            "HS256" => {
                let Some(hmac) = &self.hmac else {
                    return Err(Refusal::AlgorithmNotAccepted(header.alg).into());
                };
                let secret = hmac.bytes().await?;
                (Algorithm::HS256, "HS256", DecodingKey::from_secret(&secret))
            }
            "RS256" => {
                let Some(jwks) = &self.jwks else {
                    return Err(Refusal::AlgorithmNotAccepted(header.alg).into());
                };
                let kid = header.kid.ok_or(Refusal::MissingKeyId)?;
                let jwk = jwks
                    .key(&kid)
                    .await?
                    .ok_or_else(|| Refusal::UnknownKeyId(kid.clone()))?;
                check_rs256_key(&jwk, &kid)?;
                let key = DecodingKey::from_jwk(&jwk)
                    .map_err(|_| Refusal::KeyAlgorithmMismatch(kid.clone()))?;
                (Algorithm::RS256, "RS256", key)
            }
            _ => return Err(Refusal::AlgorithmNotAccepted(header.alg).into()),
        };
        let data = jsonwebtoken::decode::<Value>(token, &key, &self.validation(algorithm))
            .map_err(|e| refusal_for(e.kind()))?;
        let user_id = data
            .claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|sub| {
                !sub.trim().is_empty()
                    && sub.len() <= MAX_SUBJECT_LEN
                    && !sub.chars().any(char::is_control)
            })
            .ok_or(Refusal::BadSubject)?
            .to_owned();
        let expires_at = data
            .claims
            .get("exp")
            .and_then(Value::as_f64)
            .map(|exp| exp as i64)
            .ok_or_else(|| Refusal::MissingClaim("exp".to_owned()))?;
        Ok(VerifiedToken {
            user_id,
            expires_at,
            algorithm: name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::jwk::JwkSet;
    use mocks::identity::{
        DEFAULT_AUDIENCE, DEFAULT_ISSUER, IdentityKeys, LOCAL_HS256_SECRET, Signer, TokenSpec,
    };
    use proptest::prelude::*;
    use serde_json::json;

    fn provider() -> IdentityKeys {
        IdentityKeys::generate(DEFAULT_ISSUER, DEFAULT_AUDIENCE, LOCAL_HS256_SECRET).unwrap()
    }

    fn verifier(keys: &IdentityKeys) -> Verifier {
        let set: JwkSet = serde_json::from_value(keys.jwks()).unwrap();
        Verifier::new(
            JwtSettings {
                issuer: DEFAULT_ISSUER.into(),
                audience: DEFAULT_AUDIENCE.into(),
                leeway_seconds: DEFAULT_LEEWAY_SECONDS,
            },
            Some(HmacSecret::configured(LOCAL_HS256_SECRET.as_bytes())),
            Some(JwksCache::fixed(set)),
        )
    }

    fn refusal(result: Result<VerifiedToken, VerifyError>) -> Refusal {
        match result {
            Err(VerifyError::Refused(refusal)) => refusal,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn rs256(keys: &IdentityKeys, claims: Value) -> String {
        let kid = keys.current_kid().to_owned();
        keys.mint(&TokenSpec {
            alg: "RS256".into(),
            kid: Some(kid.clone()),
            claims,
            signer: Signer::Rsa(kid),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn valid_tokens_of_both_algorithms() {
        let keys = provider();
        let verifier = verifier(&keys);
        let rs = verifier.verify(&keys.rs256_token("alice").unwrap()).await;
        assert_eq!(rs.as_ref().unwrap().user_id, "alice");
        assert_eq!(rs.unwrap().algorithm, "RS256");
        let hs = verifier.verify(&keys.hs256_token("bob").unwrap()).await;
        assert_eq!(hs.unwrap().algorithm, "HS256");
    }

    #[tokio::test]
    async fn time_audience_issuer_and_signature() {
        let keys = provider();
        let verifier = verifier(&keys);
        let now = mocks::identity::keys::unix_now();
        let expired = rs256(&keys, keys.claims("u", -3600));
        assert_eq!(refusal(verifier.verify(&expired).await), Refusal::Expired);
        // Within the leeway an expired token still passes.
        let just_expired = rs256(&keys, keys.claims("u", -5));
        assert!(verifier.verify(&just_expired).await.is_ok());
        let mut early = keys.claims("u", 3600);
        early["nbf"] = json!(now + 3600);
        let early = rs256(&keys, early);
        assert_eq!(refusal(verifier.verify(&early).await), Refusal::NotYetValid);
        let mut other_audience = keys.claims("u", 3600);
        other_audience["aud"] = json!("someone-else");
        let token = rs256(&keys, other_audience);
        assert_eq!(
            refusal(verifier.verify(&token).await),
            Refusal::WrongAudience
        );
        let mut other_issuer = keys.claims("u", 3600);
        other_issuer["iss"] = json!("https://evil.example");
        let token = rs256(&keys, other_issuer);
        assert_eq!(refusal(verifier.verify(&token).await), Refusal::WrongIssuer);
        let mut no_audience = keys.claims("u", 3600);
        no_audience.as_object_mut().unwrap().remove("aud");
        let token = rs256(&keys, no_audience);
        assert_eq!(
            refusal(verifier.verify(&token).await),
            Refusal::MissingClaim("aud".into())
        );
        let mut empty_subject = keys.claims("u", 3600);
        empty_subject["sub"] = json!(" ");
        let token = rs256(&keys, empty_subject);
        assert_eq!(refusal(verifier.verify(&token).await), Refusal::BadSubject);
        let wrong_secret = keys
            .mint(&TokenSpec {
                alg: "HS256".into(),
                kid: None,
                claims: keys.claims("u", 3600),
                signer: Signer::Hmac(b"not-the-secret-not-the-secret-not!".to_vec()),
            })
            .unwrap();
        assert_eq!(
            refusal(verifier.verify(&wrong_secret).await),
            Refusal::BadSignature
        );
        // A tampered payload breaks the signature.
        let token = keys.rs256_token("alice").unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut claims = keys.claims("admin", 3600);
        claims["iat"] = json!(now);
        parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
        assert_eq!(
            refusal(verifier.verify(&parts.join(".")).await),
            Refusal::BadSignature
        );
    }

    #[tokio::test]
    async fn none_and_algorithm_confusion() {
        let mut keys = provider();
        let verifier = verifier(&keys);
        let kid = keys.current_kid().to_owned();
        let claims = keys.claims("eve", 3600);
        let mint = |alg: &str, kid: Option<&str>, signer: Signer| {
            keys.mint(&TokenSpec {
                alg: alg.into(),
                kid: kid.map(str::to_owned),
                claims: claims.clone(),
                signer,
            })
            .unwrap()
        };
        let none = mint("none", None, Signer::Unsigned);
        assert_eq!(
            refusal(verifier.verify(&none).await),
            Refusal::AlgorithmNotAccepted("none".into())
        );
        let none_upper = mint("NONE", None, Signer::Unsigned);
        assert!(matches!(
            refusal(verifier.verify(&none_upper).await),
            Refusal::AlgorithmNotAccepted(_)
        ));
        // HS256 keyed with the RSA public key: checked with the HS256 secret only.
        let confused = mint("HS256", Some(&kid), Signer::HmacWithPublicKey(kid.clone()));
        assert_eq!(
            refusal(verifier.verify(&confused).await),
            Refusal::BadSignature
        );
        // RS256 header, HMAC signature with the shared secret.
        let rs_header = mint(
            "RS256",
            Some(&kid),
            Signer::Hmac(LOCAL_HS256_SECRET.as_bytes().to_vec()),
        );
        assert_eq!(
            refusal(verifier.verify(&rs_header).await),
            Refusal::BadSignature
        );
        let no_kid = mint("RS256", None, Signer::Rsa(kid.clone()));
        assert_eq!(
            refusal(verifier.verify(&no_kid).await),
            Refusal::MissingKeyId
        );
        let unknown = mint("RS256", Some("nobody"), Signer::Rsa(kid.clone()));
        assert_eq!(
            refusal(verifier.verify(&unknown).await),
            Refusal::UnknownKeyId("nobody".into())
        );
        // A kid naming a key published for another algorithm.
        let rs512_kid = keys.add_key("RS512").unwrap();
        let verifier = self::verifier(&keys);
        let token = keys
            .mint(&TokenSpec {
                alg: "RS256".into(),
                kid: Some(rs512_kid.clone()),
                claims: keys.claims("eve", 3600),
                signer: Signer::Rsa(rs512_kid.clone()),
            })
            .unwrap();
        assert_eq!(
            refusal(verifier.verify(&token).await),
            Refusal::KeyAlgorithmMismatch(rs512_kid)
        );
        for alg in ["HS512", "RS512", "ES256", "PS256"] {
            let token = keys
                .mint(&TokenSpec {
                    alg: alg.into(),
                    kid: Some(kid.clone()),
                    claims: keys.claims("eve", 3600),
                    signer: Signer::Rsa(kid.clone()),
                })
                .unwrap();
            assert_eq!(
                refusal(verifier.verify(&token).await),
                Refusal::AlgorithmNotAccepted(alg.into())
            );
        }
    }

    #[tokio::test]
    async fn an_algorithm_without_keys_is_not_accepted() {
        let keys = provider();
        let hs_only = Verifier::new(
            JwtSettings {
                issuer: DEFAULT_ISSUER.into(),
                audience: DEFAULT_AUDIENCE.into(),
                leeway_seconds: 0,
            },
            Some(HmacSecret::configured(LOCAL_HS256_SECRET.as_bytes())),
            None,
        );
        assert_eq!(
            refusal(hs_only.verify(&keys.rs256_token("u").unwrap()).await),
            Refusal::AlgorithmNotAccepted("RS256".into())
        );
        assert_eq!(refusal(hs_only.verify("").await), Refusal::Missing);
        let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(refusal(hs_only.verify(&huge).await), Refusal::TooLarge);
    }

    #[test]
    fn headers() {
        let encode = |value: Value| URL_SAFE_NO_PAD.encode(value.to_string());
        let token = |header: Value| format!("{}.e30.sig", encode(header));
        assert_eq!(
            read_header(&token(json!({"alg": "RS256", "kid": "k1"}))).unwrap(),
            TokenHeader {
                alg: "RS256".into(),
                kid: Some("k1".into())
            }
        );
        assert!(read_header("a.b").is_err());
        assert!(read_header("!!.e30.x").is_err());
        assert!(read_header(&token(json!({"kid": "k"}))).is_err());
        assert!(read_header(&token(json!({"alg": "RS256", "kid": 5}))).is_err());
        assert!(read_header(&token(json!({"alg": "RS256", "crit": ["exp"]}))).is_err());
        assert!(read_header(&token(json!(["alg"]))).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_tokens_never_panic(token in "\\PC{0,200}") {
            let _ = read_header(&token);
        }

        #[test]
        fn arbitrary_headers_never_panic(header in "\\PC{0,80}") {
            let _ = read_header(&format!("{}.e30.x", URL_SAFE_NO_PAD.encode(header)));
        }
    }
}
