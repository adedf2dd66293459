//! `buddy`: seed 001's Buddy WebSocket API on Nova Sonic (see `backend::buddy`).

use backend::alerts::Alerts;
use backend::buddy::patients::PatientStore;
use backend::buddy::{BuddyConfig, BuddyDeps, handle};
use backend::session_owner::route::OwnerClients;
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    backend::telemetry::init();
    let settings = BuddyConfig::from_env()?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let [patients, family, routines] = settings.patient_tables;
    let deps = BuddyDeps {
        owner: OwnerClients::new(
            &config,
            &dynamodb,
            settings.sessions_table,
            settings.relay_table,
        ),
        patients: PatientStore::new(dynamodb.clone(), patients, family, routines),
        bedrock: aws_sdk_bedrockruntime::Client::new(&config),
        alerts: (settings.alerts_topic_arn)
            .map(|arn| Alerts::new(aws_sdk_sns::Client::new(&config), arn)),
        conversations_table: settings.conversations_table,
        dynamodb,
        settings: settings.sonic,
    };
    lambda_runtime::run(service_fn(|event| handle(&deps, event))).await
}
