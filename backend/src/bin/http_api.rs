//! `http-api`: the IELTS HTTP API's Lambda function (see `backend::http_api`).

use backend::credentials::GcpCredentials;
use backend::http_api::store::Tables;
use backend::http_api::{HttpDeps, Settings, handle};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    backend::telemetry::init();
    let settings = Settings::from_env();
    let tables = Tables::from_env()?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let deps = HttpDeps {
        db: aws_sdk_dynamodb::Client::new(&config),
        bedrock: aws_sdk_bedrockruntime::Client::new(&config),
        google_credentials: GcpCredentials::new(
            aws_sdk_secretsmanager::Client::new(&config),
            settings.google.credentials_secret.clone(),
        ),
        http: reqwest::Client::new(),
        tables,
        settings,
    };
    lambda_http::run(service_fn(|event| handle(&deps, event))).await
}
