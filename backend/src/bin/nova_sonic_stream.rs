//! `nova-sonic-stream`: seed 003's two-way speech with Maya on Nova Sonic
//! (see `backend::nova_stream`).

use backend::alerts::Alerts;
use backend::management::Connections;
use backend::nova_sonic::SonicSettings;
use backend::nova_stream::{DEFAULT_VOICE, StreamDeps, handle};
use backend::relay::Relay;
use backend::sessions::Sessions;
use lambda_runtime::{Error, service_fn};

fn required(name: &str) -> Result<String, Error> {
    std::env::var(name).map_err(|_| format!("environment variable {name} is required").into())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    backend::telemetry::init();
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let alerts = std::env::var("ALERTS_TOPIC_ARN")
        .ok()
        .filter(|arn| !arn.is_empty())
        .map(|arn| Alerts::new(aws_sdk_sns::Client::new(&config), arn));
    let deps = StreamDeps {
        sessions: Sessions::new(dynamodb.clone(), required("SESSIONS_TABLE")?),
        relay: Relay::new(dynamodb.clone(), required("RELAY_TABLE")?),
        connections: Connections::new(config.clone()),
        bedrock: aws_sdk_bedrockruntime::Client::new(&config),
        alerts,
        assessments_table: required("ASSESSMENTS_TABLE")?,
        dynamodb,
        settings: SonicSettings::from_env(DEFAULT_VOICE),
    };
    lambda_runtime::run(service_fn(|event| handle(&deps, event))).await
}
