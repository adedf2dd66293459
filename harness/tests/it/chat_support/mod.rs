//! Helpers of the chat API's integration tests (`chat_api`, `chat_authorizer`):
//! the contract read from backend/spec/chat.asyncapi.yaml (every received
//! message is checked against it, never against the backend's types), a
//! handshake probe, connection ids from the invocation records, and the
//! connections table through the AWS SDK.

#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use harness::lambda::InvocationRecord;
use harness::replay::client::Handshake;
use harness::stack::LocalStack;
use serde_json::{Value, json};

use crate::support::{Client, connect, next_json, workspace};

/// The chat API's logical id.
pub(crate) const API: &str = "ChatWebSocketApi";
/// The connections table of the default `production` environment.
pub(crate) const TABLE: &str = "production-chatbot-connections";
/// Nova Micro, the template's default chat model.
pub(crate) const MODEL: &str = "amazon.nova-micro-v1:0";
/// How long a test waits for a message.
pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// The contract, read from the spec file.
pub(crate) struct Contract {
    spec: Value,
}

impl Contract {
    pub(crate) fn load() -> Self {
        let path = workspace().join("backend/spec/chat.asyncapi.yaml");
        let text = std::fs::read_to_string(path).expect("spec readable");
        Self {
            spec: serde_yaml_ng::from_str(&text).expect("spec is YAML"),
        }
    }

    /// Panics unless `message` is one of the spec's server messages.
    pub(crate) fn check(&self, message: &Value) {
        let name = message
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("gatewayMessage");
        let declared = &self.spec["components"]["messages"][name];
        assert_eq!(
            declared["x-direction"], "server",
            "{name} is not a server message of the spec: {message}"
        );
        let mut schema = self.spec.clone();
        schema["$ref"] = json!(format!("#/components/messages/{name}/payload"));
        let validator = jsonschema::validator_for(&schema).expect("schema compiles");
        let problems: Vec<String> = validator
            .iter_errors(message)
            .map(|e| e.to_string())
            .collect();
        assert!(
            problems.is_empty(),
            "{message} breaks the spec: {problems:?}"
        );
    }
}

/// The next message, checked against the contract.
pub(crate) async fn receive(socket: &mut Client, contract: &Contract) -> Value {
    let message = next_json(socket, WAIT).await;
    contract.check(&message);
    message
}

/// Whether nothing arrives for `quiet`.
pub(crate) async fn stays_silent(socket: &mut Client, quiet: Duration) -> bool {
    socket.stays_silent(quiet).await
}

/// A `chat_message` with this text and session.
pub(crate) fn chat(text: &str, session: &str) -> Value {
    json!({"action": "chat_message", "data": {"message": text, "sessionId": session}})
}

/// The chat API's URL, with `?token=` when given.
pub(crate) fn url(stack: &LocalStack, token: Option<&str>) -> String {
    let base = stack.websocket(API).expect("chat API").url();
    match token {
        Some(token) => format!("{base}?token={token}"),
        None => base,
    }
}

/// The handshake's HTTP status (101 when accepted).
pub(crate) async fn handshake(url: &str) -> u16 {
    handshake_with_headers(url, &[]).await
}

/// The handshake's HTTP status with these headers (101 when accepted).
pub(crate) async fn handshake_with_headers(url: &str, headers: &[(String, String)]) -> u16 {
    match Client::open(url, headers).await {
        Handshake::Failed(_, message) => panic!("handshake failed oddly: {message}"),
        handshake => handshake.status(),
    }
}

/// The invocation records of one function (logical id).
pub(crate) fn records(stack: &LocalStack, function: &str) -> Vec<InvocationRecord> {
    stack
        .lambda()
        .records()
        .into_iter()
        .filter(|r| r.function == function)
        .collect()
}

/// Connects with a token; returns the socket and its connection id.
pub(crate) async fn open(stack: &LocalStack, token: &str) -> (Client, String) {
    let socket = connect(&url(stack, Some(token))).await;
    let connect = records(stack, "ChatConnectFunction")
        .pop()
        .expect("$connect ran");
    let event = connect.event.expect("captured event");
    let id = event["requestContext"]["connectionId"]
        .as_str()
        .expect("connection id")
        .to_owned();
    (socket, id)
}

/// A DynamoDB client on the stack's DynamoDB Local.
pub(crate) async fn dynamodb(stack: &LocalStack) -> aws_sdk_dynamodb::Client {
    stack.dynamodb_client().await
}

/// A connection's item in the connections table.
pub(crate) async fn item(
    client: &aws_sdk_dynamodb::Client,
    connection_id: &str,
) -> Option<HashMap<String, AttributeValue>> {
    client
        .get_item()
        .table_name(TABLE)
        .key("connectionId", AttributeValue::S(connection_id.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem")
        .item
}

/// A number attribute of an item.
pub(crate) fn number(item: &HashMap<String, AttributeValue>, name: &str) -> i64 {
    item[name].as_n().unwrap().parse().unwrap()
}

/// Waits until `connection_id`'s item is gone.
pub(crate) async fn item_removed(client: &aws_sdk_dynamodb::Client, connection_id: &str) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if item(client, connection_id).await.is_none() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
