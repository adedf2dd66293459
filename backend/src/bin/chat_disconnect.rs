//! `chat-disconnect`: the chat API's `$disconnect`
//! (`{env}-websocket-disconnect`; see `backend::chat::connection`).

use backend::chat::RegistrySettings;
use backend::chat::connection::{ConnectionDeps, disconnect};
use backend::chat::registry::Registry;
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    backend::telemetry::init();
    let settings = RegistrySettings::from_env()?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let deps = ConnectionDeps {
        registry: Registry::new(
            aws_sdk_dynamodb::Client::new(&config),
            settings.table,
            settings.ttl_seconds,
        ),
    };
    lambda_runtime::run(service_fn(|event| disconnect(&deps, event))).await
}
