//! `buddy`: seed 001's Buddy WebSocket API on Nova Sonic (see `backend::buddy`).

use backend::alerts::Alerts;
use backend::buddy::patients::PatientStore;
use backend::buddy::{BuddyDeps, DEFAULT_VOICE, handle};
use backend::management::Connections;
use backend::nova_sonic::SonicSettings;
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
    let deps = BuddyDeps {
        sessions: Sessions::new(dynamodb.clone(), required("SESSIONS_TABLE")?),
        relay: Relay::new(dynamodb.clone(), required("RELAY_TABLE")?),
        connections: Connections::new(config.clone()),
        patients: PatientStore::new(
            dynamodb.clone(),
            required("PATIENTS_TABLE")?,
            required("FAMILY_TABLE")?,
            required("ROUTINES_TABLE")?,
        ),
        bedrock: aws_sdk_bedrockruntime::Client::new(&config),
        alerts,
        conversations_table: required("CONVERSATIONS_TABLE")?,
        dynamodb,
        settings: SonicSettings::from_env(DEFAULT_VOICE),
    };
    lambda_runtime::run(service_fn(|event| handle(&deps, event))).await
}
