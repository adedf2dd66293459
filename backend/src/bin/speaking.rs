//! `speaking`: the IELTS speaking WebSocket API's Lambda function (see `backend::speaking`).

use backend::credentials::GcpCredentials;
use backend::session_owner::route::OwnerClients;
use backend::speaking::{Settings, SpeakingDeps, handle};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    backend::telemetry::init();
    let settings = Settings::from_env()?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let deps = SpeakingDeps {
        owner: OwnerClients::new(
            &config,
            &dynamodb,
            &settings.sessions_table,
            &settings.relay_table,
        ),
        credentials: GcpCredentials::new(
            aws_sdk_secretsmanager::Client::new(&config),
            settings.gcp_credentials_secret.clone(),
        ),
        http: reqwest::Client::new(),
        dynamodb,
        settings,
    };
    lambda_runtime::run(service_fn(|event| handle(&deps, event))).await
}
