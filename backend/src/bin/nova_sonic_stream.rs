//! `nova-sonic-stream`: seed 003's two-way speech with Maya on Nova Sonic
//! (see `backend::maya_nova_sonic`).

use backend::alerts::Alerts;
use backend::maya_nova_sonic::{StreamConfig, StreamDeps, handle};
use backend::session_owner::route::OwnerClients;
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    backend::telemetry::init();
    let settings = StreamConfig::from_env()?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let deps = StreamDeps {
        owner: OwnerClients::new(
            &config,
            &dynamodb,
            settings.sessions_table,
            settings.relay_table,
        ),
        bedrock: aws_sdk_bedrockruntime::Client::new(&config),
        alerts: (settings.alerts_topic_arn)
            .map(|arn| Alerts::new(aws_sdk_sns::Client::new(&config), arn)),
        assessments_table: settings.assessments_table,
        dynamodb,
        settings: settings.sonic,
    };
    lambda_runtime::run(service_fn(|event| handle(&deps, event))).await
}
