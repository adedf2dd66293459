//! The mock upstreams of the local stack (Vertex AI, Secrets Manager, Bedrock
//! Runtime, SNS, the identity provider, app stores, e-mail): started with the
//! stack, seeded from the template, and named to the functions through
//! endpoint overrides.

use mocks::bedrock::BedrockConfig;
use mocks::upstreams::UpstreamsConfig;
use mocks::vertex::VertexConfig;

use super::*;

/// The mock upstreams the functions talk to: every mock, as the `mocks`
/// binary runs them.
pub use mocks::upstreams::Upstreams as Mocks;

/// Starts the mocks at the stack's time scale, with the scenario clips'
/// transcripts registered in both speech mocks.
pub(super) async fn start(options: &StackOptions) -> Result<Mocks, StackError> {
    let time_scale = options.time_scale.factor();
    let mocks = Mocks::start(UpstreamsConfig {
        vertex: VertexConfig {
            time_scale,
            ..VertexConfig::default()
        },
        bedrock: BedrockConfig {
            time_scale,
            ..BedrockConfig::default()
        },
        ..UpstreamsConfig::default()
    })
    .await
    .map_err(|e| StackError::Mock {
        mock: e.mock,
        source: e.source,
    })?;
    for (speech, text) in &options.transcripts {
        mocks.vertex.register_transcript(*speech, text.clone());
        mocks.bedrock.add_transcript(*speech, text.clone());
    }
    Ok(mocks)
}

/// Stores what the template's functions expect in Secrets Manager: the GCP
/// service account under every `GCP_CREDENTIALS_SECRET` and
/// `GOOGLE_PLAY_CREDENTIALS_SECRET` they name; and gives the App Store
/// mock the `APPLE_SHARED_SECRET` they send.
pub(super) fn seed_secrets(mocks: &Mocks, template: &Template) {
    let account = mocks.vertex.service_account_json();
    for function in template.functions.values() {
        for variable in ["GCP_CREDENTIALS_SECRET", "GOOGLE_PLAY_CREDENTIALS_SECRET"] {
            if let Some(name) = function.environment.get(variable) {
                mocks.secrets.put_secret(name, &account);
            }
        }
        if let Some(secret) = function.environment.get("APPLE_SHARED_SECRET") {
            mocks.stores.set_apple_shared_secret(secret);
        }
    }
}

/// Points the JWT authorizers at the identity mock: its HS256 secret
/// under every `JWT_SECRET_NAME`, and minted tokens carrying the
/// template's `JWT_ISSUER` / `JWT_AUDIENCE`.
pub(super) fn seed_identity(mocks: &Mocks, template: &Template) {
    for function in template.functions.values() {
        let env = &function.environment;
        if let Some(name) = env.get("JWT_SECRET_NAME").filter(|n| !n.is_empty()) {
            mocks
                .secrets
                .put_secret(name, &mocks.identity.hs256_secret());
        }
        if let (Some(issuer), Some(audience)) = (env.get("JWT_ISSUER"), env.get("JWT_AUDIENCE")) {
            mocks.identity.set_issuer_and_audience(issuer, audience);
        }
    }
}

/// Local URLs for the upstream variables a function declares (only those:
/// a function that does not call a store, send mail or verify JWTs from a
/// JWKS gets none of them).
pub(super) fn declared_overrides(
    mocks: &Mocks,
    declared: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    [
        ("JWKS_URL", mocks.identity.jwks_url()),
        ("APPLE_VERIFY_URL", mocks.stores.apple_verify_url()),
        (
            "APPLE_SANDBOX_VERIFY_URL",
            mocks.stores.apple_sandbox_verify_url(),
        ),
        ("GOOGLE_PLAY_API_URL", mocks.stores.base_url()),
        ("EMAIL_API_URL", mocks.email.base_url()),
    ]
    .into_iter()
    .filter(|(name, _)| declared.contains_key(*name))
    .map(|(name, url)| (name.to_owned(), url))
    .collect()
}
