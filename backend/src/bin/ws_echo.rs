//! `ws-echo`: the diagnostic echo API's Lambda function (see `backend::echo`).

use backend::echo::{EchoDeps, handle};
use backend::management::Connections;
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    backend::telemetry::init();
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let deps = EchoDeps {
        connections: Connections::new(config),
    };
    lambda_runtime::run(service_fn(|event| handle(&deps, event))).await
}
