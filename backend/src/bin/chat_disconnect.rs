//! `chat-disconnect`: the chat API's `$disconnect`
//! (`{env}-websocket-disconnect`; see `backend::chat::connection`).

use backend::chat::connection::{ConnectionDeps, disconnect};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    backend::telemetry::init();
    let deps = ConnectionDeps::from_env().await?;
    lambda_runtime::run(service_fn(|event| disconnect(&deps, event))).await
}
