//! An identity provider for JWT authorizers (the chat API's, seed 004): it
//! publishes its RSA public keys as a JWKS document, shares an HS256 secret,
//! and mints tokens with any claims, `alg` and `kid` for tests ([`keys`]).
//!
//! | route | answer |
//! |---|---|
//! | `GET /.well-known/jwks.json` | the JWKS (`503` while [`IdentityMock::set_jwks_available`] is false) |
//! | `GET /_mock/identity/token?sub=alice&alg=RS256&lifetime=3600` | `{"token", "expires_at"}`: a valid token (`alg` `RS256` or `HS256`) for `wscat` and scenarios |
//! | `POST /_mock/identity/rotate` | `{"kid"}`: a new RS256 signing key (the old one stays published) |
//! | `GET /_mock/identity/stats` | `{"jwks_requests"}` |
//!
//! The local stack starts it, points every function whose template
//! environment declares `JWKS_URL` at [`IdentityMock::jwks_url`], stores the
//! HS256 secret under every `JWT_SECRET_NAME` in the Secrets Manager mock,
//! and takes the issuer and audience from the template's `JWT_ISSUER` and
//! `JWT_AUDIENCE`, so the tokens it mints are the ones the authorizer accepts.

pub mod keys;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

pub use self::keys::{
    DEFAULT_AUDIENCE, DEFAULT_ISSUER, IdentityError, IdentityKeys, LOCAL_HS256_SECRET, Signer,
    TokenSpec,
};
use crate::server::Server;

/// Where the JWKS document is served.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// How to start the mock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityConfig {
    /// Port on 127.0.0.1 (0 picks a free one).
    pub port: u16,
    /// `iss` of minted tokens.
    pub issuer: String,
    /// `aud` of minted tokens.
    pub audience: String,
    /// The HS256 shared secret.
    pub hs256_secret: String,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            port: 0,
            issuer: DEFAULT_ISSUER.to_owned(),
            audience: DEFAULT_AUDIENCE.to_owned(),
            hs256_secret: LOCAL_HS256_SECRET.to_owned(),
        }
    }
}

/// What the handlers share.
#[derive(Debug)]
struct Shared {
    keys: Mutex<IdentityKeys>,
    /// JWKS documents served (how well verifiers cache).
    jwks_requests: AtomicU64,
    /// False: the JWKS endpoint answers 503 (an identity provider outage).
    jwks_available: AtomicBool,
}

impl Shared {
    fn keys(&self) -> MutexGuard<'_, IdentityKeys> {
        self.keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running identity provider.
#[derive(Debug)]
pub struct IdentityMock {
    running: Server,
    shared: Arc<Shared>,
}

impl IdentityMock {
    /// Generates a key pair and starts serving on `127.0.0.1:config.port`.
    pub async fn start(config: IdentityConfig) -> std::io::Result<Self> {
        let keys = IdentityKeys::generate(config.issuer, config.audience, config.hs256_secret)
            .map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            keys: Mutex::new(keys),
            jwks_requests: AtomicU64::new(0),
            jwks_available: AtomicBool::new(true),
        });
        let router = Router::new()
            .route(JWKS_PATH, get(jwks))
            .route("/_mock/identity/token", get(token))
            .route("/_mock/identity/rotate", post(rotate))
            .route("/_mock/identity/stats", get(stats))
            .with_state(Arc::clone(&shared));
        let running = Server::bind("identity mock", ("127.0.0.1", config.port), router).await?;
        Ok(Self { running, shared })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.running.base_url()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.running.local_addr()
    }

    /// The JWKS URL (what `JWKS_URL` is set to).
    pub fn jwks_url(&self) -> String {
        format!("{}{JWKS_PATH}", self.base_url())
    }

    /// The HS256 shared secret.
    pub fn hs256_secret(&self) -> String {
        self.shared.keys().hs256_secret().to_owned()
    }

    /// The issuer of minted tokens.
    pub fn issuer(&self) -> String {
        self.shared.keys().issuer().to_owned()
    }

    /// The audience of minted tokens.
    pub fn audience(&self) -> String {
        self.shared.keys().audience().to_owned()
    }

    /// Makes minted tokens carry this issuer and audience.
    pub fn set_issuer_and_audience(&self, issuer: &str, audience: &str) {
        self.shared.keys().set_issuer_and_audience(issuer, audience);
    }

    /// Standard claims for `subject` (see [`IdentityKeys::claims`]).
    pub fn claims(&self, subject: &str, lifetime_seconds: i64) -> serde_json::Value {
        self.shared.keys().claims(subject, lifetime_seconds)
    }

    /// The `kid` of the current RS256 signing key.
    pub fn current_kid(&self) -> String {
        self.shared.keys().current_kid().to_owned()
    }

    /// The PEM public key of a published key.
    pub fn public_key_pem(&self, kid: &str) -> Option<String> {
        self.shared.keys().public_key_pem(kid).map(str::to_owned)
    }

    /// A valid RS256 token for `subject`.
    pub fn rs256_token(&self, subject: &str) -> Result<String, IdentityError> {
        self.shared.keys().rs256_token(subject)
    }

    /// A valid HS256 token for `subject`.
    pub fn hs256_token(&self, subject: &str) -> Result<String, IdentityError> {
        self.shared.keys().hs256_token(subject)
    }

    /// Mints exactly the token `spec` describes.
    pub fn mint(&self, spec: &TokenSpec) -> Result<String, IdentityError> {
        self.shared.keys().mint(spec)
    }

    /// Publishes a new RSA key whose JWK declares `alg`; returns its `kid`.
    pub fn add_key(&self, alg: &str) -> Result<String, IdentityError> {
        self.shared.keys().add_key(alg)
    }

    /// Stops publishing a key.
    pub fn remove_key(&self, kid: &str) -> bool {
        self.shared.keys().remove_key(kid)
    }

    /// How many times the JWKS document was fetched.
    pub fn jwks_requests(&self) -> u64 {
        self.shared.jwks_requests.load(Ordering::Relaxed)
    }

    /// Takes the JWKS endpoint down (503) or brings it back.
    pub fn set_jwks_available(&self, available: bool) {
        self.shared
            .jwks_available
            .store(available, Ordering::Relaxed);
    }

    /// Stops serving.
    pub async fn stop(self) {
        self.running.stop().await;
    }
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    shared.jwks_requests.fetch_add(1, Ordering::Relaxed);
    if !shared.jwks_available.load(Ordering::Relaxed) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "temporarily_unavailable"})),
        )
            .into_response();
    }
    let document = shared.keys().jwks();
    Json(document).into_response()
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    sub: String,
    #[serde(default = "rs256")]
    alg: String,
    #[serde(default)]
    lifetime: Option<i64>,
}

fn rs256() -> String {
    "RS256".to_owned()
}

async fn token(State(shared): State<Arc<Shared>>, Query(query): Query<TokenQuery>) -> Response {
    let keys = shared.keys();
    let lifetime = query.lifetime.unwrap_or(keys::DEFAULT_LIFETIME_SECONDS);
    let claims = keys.claims(&query.sub, lifetime);
    let signer = match query.alg.as_str() {
        "RS256" => Signer::Rsa(keys.current_kid().to_owned()),
        "HS256" => Signer::Hmac(keys.hs256_secret().as_bytes().to_vec()),
        other => {
            let message = format!("alg {other} is not offered: use RS256 or HS256");
            return (StatusCode::BAD_REQUEST, Json(json!({"error": message}))).into_response();
        }
    };
    let kid = matches!(signer, Signer::Rsa(_)).then(|| keys.current_kid().to_owned());
    let spec = TokenSpec {
        alg: query.alg,
        kid,
        claims: claims.clone(),
        signer,
    };
    match keys.mint(&spec) {
        Ok(token) => Json(json!({"token": token, "expires_at": claims["exp"]})).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

async fn rotate(State(shared): State<Arc<Shared>>) -> Response {
    match shared.keys().add_key("RS256") {
        Ok(kid) => Json(json!({"kid": kid})).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

async fn stats(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    Json(json!({"jwks_requests": shared.jwks_requests.load(Ordering::Relaxed)}))
}
