//! `speaking`: the IELTS speaking WebSocket API's Lambda function (see `backend::speaking`).

use backend::credentials::GcpCredentials;
use backend::management::Connections;
use backend::relay::Relay;
use backend::sessions::Sessions;
use backend::speaking::{Settings, SpeakingDeps, handle};
use lambda_runtime::{Error, service_fn};

fn required(name: &str) -> Result<String, Error> {
    std::env::var(name).map_err(|_| format!("environment variable {name} is required").into())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    backend::telemetry::init();
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let deps = SpeakingDeps {
        sessions: Sessions::new(dynamodb.clone(), required("SESSIONS_TABLE")?),
        relay: Relay::new(dynamodb.clone(), required("RELAY_TABLE")?),
        connections: Connections::new(config.clone()),
        credentials: GcpCredentials::new(
            aws_sdk_secretsmanager::Client::new(&config),
            required("GCP_CREDENTIALS_SECRET")?,
        ),
        http: reqwest::Client::new(),
        assessments_table: required("ASSESSMENTS_TABLE")?,
        dynamodb,
        settings: Settings::from_env(),
    };
    lambda_runtime::run(service_fn(|event| handle(&deps, event))).await
}
