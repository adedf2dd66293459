//! The identity provider's keys and its token minting: RSA 2048 key pairs
//! (made with aws-lc-rs, each with a `kid` and the algorithm its JWK
//! declares), an HS256 shared secret, the JWKS document that publishes the
//! public keys, and a minting function that writes any header and claims
//! with any signer, including the bad ones an authorizer must refuse
//! (`alg: none`, HS256 keyed with an RSA public key, a `kid` of another
//! algorithm's key). Minting is done here by hand (base64url segments signed
//! with aws-lc-rs), not with the `jsonwebtoken` crate the backend verifies
//! with, so the two check each other.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

/// The HS256 secret the local stack shares with the authorizer (through the
/// Secrets Manager mock). Local development only: scenario files carry tokens
/// signed with it.
pub const LOCAL_HS256_SECRET: &str = "speechgate-local-development-hs256-secret-never-deploy";
/// The issuer tokens carry unless configured otherwise.
pub const DEFAULT_ISSUER: &str = "https://identity.speechgate.local";
/// The audience tokens carry unless configured otherwise.
pub const DEFAULT_AUDIENCE: &str = "speechgate-chat";
/// Lifetime of the tokens the convenience minters make, in seconds.
pub const DEFAULT_LIFETIME_SECONDS: i64 = 3600;

/// Why keys could not be made or a token minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// aws-lc-rs could not generate or encode a key.
    #[error("key generation failed: {0}")]
    KeyGeneration(&'static str),
    /// The signer names a key the provider does not hold.
    #[error("no RSA key with kid {0}")]
    UnknownKey(String),
    /// Signing failed.
    #[error("signing failed")]
    Signing,
}

/// How a minted token is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// RSASSA-PKCS1-v1_5 with SHA-256 by the RSA key with this `kid`.
    Rsa(String),
    /// HMAC-SHA256 keyed with these bytes.
    Hmac(Vec<u8>),
    /// HMAC-SHA256 keyed with the PEM public key of the RSA key with this
    /// `kid`: the algorithm-confusion attack on verifiers that pick the
    /// algorithm from the token.
    HmacWithPublicKey(String),
    /// No signature at all (the third segment is empty), as `alg: none` tokens are.
    Unsigned,
}

/// A token to mint: the header's `alg` and `kid`, the claims, the signer.
/// The header says whatever `alg` says, whoever signs.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenSpec {
    /// The header's `alg` (`RS256`, `HS256`, `none`, anything).
    pub alg: String,
    /// The header's `kid`.
    pub kid: Option<String>,
    /// The claims object.
    pub claims: Value,
    /// Who signs.
    pub signer: Signer,
}

/// One RSA key pair with its JWK identity.
struct RsaKey {
    kid: String,
    /// The `alg` its JWK declares (`RS256` unless a test wants another).
    alg: String,
    pair: KeyPair,
    public_pem: String,
}

/// The provider's keys, issuer and audience; usable without a server.
pub struct IdentityKeys {
    issuer: String,
    audience: String,
    hs256_secret: String,
    /// Newest last; the newest `RS256` key signs the convenience tokens.
    keys: Vec<RsaKey>,
}

impl std::fmt::Debug for IdentityKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityKeys")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field(
                "kids",
                &self.keys.iter().map(|k| &k.kid).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

fn random_kid() -> Result<String, IdentityError> {
    let mut random = [0u8; 8];
    aws_lc_rs::rand::fill(&mut random).map_err(|_| IdentityError::KeyGeneration("random"))?;
    Ok(random.iter().map(|b| format!("{b:02x}")).collect())
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Seconds since the epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

impl IdentityKeys {
    /// A provider with one fresh RS256 key.
    pub fn generate(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        hs256_secret: impl Into<String>,
    ) -> Result<Self, IdentityError> {
        let mut keys = Self {
            issuer: issuer.into(),
            audience: audience.into(),
            hs256_secret: hs256_secret.into(),
            keys: Vec::new(),
        };
        keys.add_key("RS256")?;
        Ok(keys)
    }

    /// The issuer (`iss`) of the tokens it mints.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audience (`aud`) of the tokens it mints.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The HS256 shared secret.
    pub fn hs256_secret(&self) -> &str {
        &self.hs256_secret
    }

    /// Changes the issuer and audience of the tokens minted from now on.
    pub fn set_issuer_and_audience(&mut self, issuer: &str, audience: &str) {
        self.issuer = issuer.to_owned();
        self.audience = audience.to_owned();
    }

    /// The `kid` of the newest RS256 key (the one convenience tokens use).
    pub fn current_kid(&self) -> &str {
        self.keys
            .iter()
            .rev()
            .find(|k| k.alg == "RS256")
            .map(|k| k.kid.as_str())
            .unwrap_or_default()
    }

    /// Every published `kid`, oldest first.
    pub fn kids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.kid.clone()).collect()
    }

    /// Adds an RSA key whose JWK declares `alg` (`RS256` for a rotation;
    /// `RS512` and friends for keys an RS256 token must not use); returns its `kid`.
    pub fn add_key(&mut self, alg: &str) -> Result<String, IdentityError> {
        let pair = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| IdentityError::KeyGeneration("RSA keygen"))?;
        let der = pair
            .public_key()
            .as_der()
            .map_err(|_| IdentityError::KeyGeneration("public key encoding"))?;
        let public_pem = pem("PUBLIC KEY", der.as_ref());
        let kid = random_kid()?;
        self.keys.push(RsaKey {
            kid: kid.clone(),
            alg: alg.to_owned(),
            pair,
            public_pem,
        });
        Ok(kid)
    }

    /// Stops publishing a key; false when there was none.
    pub fn remove_key(&mut self, kid: &str) -> bool {
        let before = self.keys.len();
        self.keys.retain(|k| k.kid != kid);
        self.keys.len() != before
    }

    /// The PEM (SubjectPublicKeyInfo) public key of a key.
    pub fn public_key_pem(&self, kid: &str) -> Option<&str> {
        self.key(kid).ok().map(|k| k.public_pem.as_str())
    }

    fn key(&self, kid: &str) -> Result<&RsaKey, IdentityError> {
        self.keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| IdentityError::UnknownKey(kid.to_owned()))
    }

    /// The JWKS document: `{"keys": [{kty, use, alg, kid, n, e}]}`.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|key| {
                let public = key.pair.public_key();
                json!({
                    "kty": "RSA",
                    "use": "sig",
                    "alg": key.alg,
                    "kid": key.kid,
                    "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                    "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
                })
            })
            .collect();
        json!({ "keys": keys })
    }

    /// Standard claims for `subject`: this provider's `iss` and `aud`, `iat`
    /// now and `exp` after `lifetime_seconds` (negative: already expired).
    pub fn claims(&self, subject: &str, lifetime_seconds: i64) -> Value {
        let now = unix_now();
        json!({
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "exp": now + lifetime_seconds,
        })
    }

    /// A valid RS256 token for `subject`, signed by the current key.
    pub fn rs256_token(&self, subject: &str) -> Result<String, IdentityError> {
        let kid = self.current_kid().to_owned();
        self.mint(&TokenSpec {
            alg: "RS256".into(),
            kid: Some(kid.clone()),
            claims: self.claims(subject, DEFAULT_LIFETIME_SECONDS),
            signer: Signer::Rsa(kid),
        })
    }

    /// A valid HS256 token for `subject`, signed with the shared secret.
    pub fn hs256_token(&self, subject: &str) -> Result<String, IdentityError> {
        self.mint(&TokenSpec {
            alg: "HS256".into(),
            kid: None,
            claims: self.claims(subject, DEFAULT_LIFETIME_SECONDS),
            signer: Signer::Hmac(self.hs256_secret.as_bytes().to_vec()),
        })
    }

    /// Mints a token exactly as `spec` says.
    pub fn mint(&self, spec: &TokenSpec) -> Result<String, IdentityError> {
        let mut header = json!({"alg": spec.alg, "typ": "JWT"});
        if let Some(kid) = &spec.kid {
            header["kid"] = json!(kid);
        }
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(spec.claims.to_string())
        );
        let signature = match &spec.signer {
            Signer::Unsigned => Vec::new(),
            Signer::Hmac(secret) => hmac_sha256(secret, signing_input.as_bytes()),
            Signer::HmacWithPublicKey(kid) => hmac_sha256(
                self.key(kid)?.public_pem.as_bytes(),
                signing_input.as_bytes(),
            ),
            Signer::Rsa(kid) => {
                let key = self.key(kid)?;
                let mut signature = vec![0u8; key.pair.public_modulus_len()];
                key.pair
                    .sign(
                        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                        &aws_lc_rs::rand::SystemRandom::new(),
                        signing_input.as_bytes(),
                        &mut signature,
                    )
                    .map_err(|_| IdentityError::Signing)?;
                signature
            }
        };
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

/// HMAC-SHA256 of `message` keyed with `secret`.
pub fn hmac_sha256(secret: &[u8], message: &[u8]) -> Vec<u8> {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    aws_lc_rs::hmac::sign(&key, message).as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, jwk::JwkSet};

    fn keys() -> IdentityKeys {
        IdentityKeys::generate(DEFAULT_ISSUER, DEFAULT_AUDIENCE, LOCAL_HS256_SECRET).unwrap()
    }

    fn validation(alg: Algorithm) -> Validation {
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[DEFAULT_ISSUER]);
        validation.set_audience(&[DEFAULT_AUDIENCE]);
        validation
    }

    #[test]
    fn rs256_tokens_verify_with_the_published_jwk() {
        let keys = keys();
        let token = keys.rs256_token("alice").unwrap();
        let set: JwkSet = serde_json::from_value(keys.jwks()).unwrap();
        let jwk = set.find(keys.current_kid()).unwrap();
        let key = DecodingKey::from_jwk(jwk).unwrap();
        let data = decode::<Value>(&token, &key, &validation(Algorithm::RS256)).unwrap();
        assert_eq!(data.claims["sub"], "alice");
        assert_eq!(data.header.kid.as_deref(), Some(keys.current_kid()));
    }

    #[test]
    fn hs256_tokens_verify_with_the_secret() {
        let keys = keys();
        let token = keys.hs256_token("bob").unwrap();
        let key = DecodingKey::from_secret(LOCAL_HS256_SECRET.as_bytes());
        let data = decode::<Value>(&token, &key, &validation(Algorithm::HS256)).unwrap();
        assert_eq!(data.claims["sub"], "bob");
    }

    #[test]
    fn bad_tokens_are_what_they_claim_to_be() {
        let mut keys = keys();
        let unsigned = keys
            .mint(&TokenSpec {
                alg: "none".into(),
                kid: None,
                claims: keys.claims("eve", 60),
                signer: Signer::Unsigned,
            })
            .unwrap();
        assert!(unsigned.ends_with('.'), "empty signature segment");
        // HS256 keyed with the public PEM verifies as HMAC with that PEM.
        let kid = keys.current_kid().to_owned();
        let confused = keys
            .mint(&TokenSpec {
                alg: "HS256".into(),
                kid: Some(kid.clone()),
                claims: keys.claims("eve", 60),
                signer: Signer::HmacWithPublicKey(kid.clone()),
            })
            .unwrap();
        let pem_key = DecodingKey::from_secret(keys.public_key_pem(&kid).unwrap().as_bytes());
        assert!(decode::<Value>(&confused, &pem_key, &validation(Algorithm::HS256)).is_ok());
        // Rotation keeps the old key published; removal drops it.
        let new_kid = keys.add_key("RS256").unwrap();
        assert_eq!(keys.current_kid(), new_kid);
        assert_eq!(keys.kids().len(), 2);
        assert!(keys.remove_key(&kid));
        assert_eq!(keys.jwks()["keys"].as_array().unwrap().len(), 1);
        assert_eq!(
            keys.mint(&TokenSpec {
                alg: "RS256".into(),
                kid: None,
                claims: json!({}),
                signer: Signer::Rsa(kid.clone()),
            }),
            Err(IdentityError::UnknownKey(kid))
        );
    }
}
