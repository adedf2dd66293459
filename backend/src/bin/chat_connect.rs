//! `chat-connect`: the chat API's `$connect` (`{env}-websocket-connect`;
//! see `backend::chat::connection`).

use backend::chat::connection::{ConnectionDeps, connect};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    backend::telemetry::init();
    let deps = ConnectionDeps::from_env().await?;
    lambda_runtime::run(service_fn(|event| connect(&deps, event))).await
}
