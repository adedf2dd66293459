//! `chat-authorizer`: the chat API's REQUEST authorizer on `$connect`
//! (`{env}-websocket-authorizer`; see `backend::chat::authorizer`).

use backend::chat::AuthorizerSettings;
use backend::chat::authorizer::{AuthorizerDeps, handle};
use backend::chat::jwt::Verifier;
use backend::chat::keys::{HmacSecret, JwksCache};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    backend::telemetry::init();
    let settings = AuthorizerSettings::from_env()?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let hmac = match (&settings.secret, &settings.secret_name) {
        (Some(secret), _) => Some(HmacSecret::configured(secret.as_bytes())),
        (None, Some(name)) => Some(HmacSecret::from_secrets_manager(
            aws_sdk_secretsmanager::Client::new(&config),
            name,
        )),
        (None, None) => None,
    };
    let jwks = settings
        .jwks_url
        .as_deref()
        .map(|url| JwksCache::new(reqwest::Client::new(), url));
    let deps = AuthorizerDeps {
        verifier: Verifier::new(settings.jwt, hmac, jwks),
    };
    lambda_runtime::run(service_fn(|event| handle(&deps, event))).await
}
