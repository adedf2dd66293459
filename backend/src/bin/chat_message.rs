//! `chat-message`: the chat API's `chat_message`, `ping` and `$default`
//! routes (`{env}-websocket-message`; see `backend::chat::message`).

use backend::chat::assistant::Assistant;
use backend::chat::message::{MessageDeps, handle};
use backend::chat::{MessageSettings, RegistrySettings};
use backend::management::Connections;
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    backend::telemetry::init();
    let registry = RegistrySettings::from_env()?;
    let settings = MessageSettings::from_env()?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let deps = MessageDeps {
        registry: registry.registry(&config),
        connections: Connections::new(config.clone()),
        assistant: Assistant::new(
            aws_sdk_bedrockruntime::Client::new(&config),
            settings.model_id,
            settings.max_tokens,
        ),
        rate_limit: settings.rate_limit,
    };
    lambda_runtime::run(service_fn(|event| handle(&deps, event))).await
}
