//! Helpers of the Nova Sonic integration tests: every message received is
//! checked against the API's AsyncAPI document (never the backend's types),
//! spoken utterances the Bedrock mock recognises, paced audio, and a scan
//! of DynamoDB proving that no audio was stored.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use harness::stack::LocalStack;
use mocks::speech::{self, Vad, VadConfig, VadEvent};
use serde_json::Value;

use harness::scenario::model::ChunkFormat;

use crate::support::{Client, next_json};

/// Buddy's API.
pub(crate) const BUDDY: &str = "BuddyWebSocketApi";
/// Seed 003's API.
pub(crate) const STREAM: &str = "NovaSonicStreamWebSocketApi";
/// The message API Gateway sends when the owner outlives the integration timeout.
pub(crate) const GATEWAY_TIMEOUT: &str = "Endpoint request timed out";

/// An AsyncAPI document's messages, compiled.
pub(crate) struct Spec {
    /// File name.
    pub file: String,
    /// (name, direction, validator).
    messages: Vec<(String, String, jsonschema::Validator)>,
}

impl Spec {
    /// Loads backend/spec/{file}.
    pub(crate) fn load(file: &str) -> Self {
        let path = crate::support::workspace().join("backend/spec").join(file);
        let text = std::fs::read_to_string(&path).expect("spec file");
        let document: Value = serde_yaml_ng::from_str(&text).expect("spec YAML");
        assert_eq!(document["asyncapi"], "3.0.0");
        let messages = document["components"]["messages"]
            .as_object()
            .expect("components.messages")
            .iter()
            .map(|(name, message)| {
                let direction = message["x-direction"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name} has x-direction"))
                    .to_owned();
                let validator = jsonschema::validator_for(&message["payload"])
                    .unwrap_or_else(|e| panic!("{name}'s payload is a JSON Schema: {e}"));
                (name.clone(), direction, validator)
            })
            .collect();
        Self {
            file: file.to_owned(),
            messages,
        }
    }

    /// The name of the `direction` message `value` conforms to.
    pub(crate) fn matches(&self, direction: &str, value: &Value) -> Option<&str> {
        self.messages
            .iter()
            .filter(|(_, d, _)| d == direction)
            .find(|(_, _, validator)| validator.is_valid(value))
            .map(|(name, _, _)| name.as_str())
    }

    /// Panics unless `value` is a server message of this document.
    pub(crate) fn server(&self, value: &Value) -> String {
        self.matches("server", value)
            .unwrap_or_else(|| panic!("{value} is no server message of {}", self.file))
            .to_owned()
    }

    /// The names of every message in a direction.
    pub(crate) fn names(&self, direction: &str) -> Vec<&str> {
        self.messages
            .iter()
            .filter(|(_, d, _)| d == direction)
            .map(|(n, _, _)| n.as_str())
            .collect()
    }
}

/// The next server message, checked against the spec; API Gateway's
/// integration timeout message is checked and skipped.
pub(crate) async fn next_checked(socket: &mut Client, spec: &Spec, limit: Duration) -> Value {
    loop {
        let message = next_json(socket, limit).await;
        spec.server(&message);
        if message["message"] == GATEWAY_TIMEOUT && message.get("type").is_none() {
            continue;
        }
        return message;
    }
}

/// Messages up to and including the first for which `done` holds.
pub(crate) async fn until(
    socket: &mut Client,
    spec: &Spec,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let message = next_checked(socket, spec, limit).await;
        let last = done(&message);
        seen.push(message);
        if last {
            return seen;
        }
    }
}

/// The first message of a `type`, and the messages before it.
pub(crate) async fn next_of_type(
    socket: &mut Client,
    spec: &Spec,
    kind: &str,
    limit: Duration,
) -> (Value, Vec<Value>) {
    let mut seen = until(socket, spec, limit, |m| m["type"] == kind).await;
    let last = seen.pop().expect("at least one");
    (last, seen)
}

/// Speech of `text` cut to `speech_ms`, then `silence_ms` of silence, at
/// 16 kHz, and the speech time the mock's detector measures in it.
pub(crate) fn utterance(text: &str, speech_ms: usize, silence_ms: u64) -> (Vec<i16>, Duration) {
    let mut samples = speech::synthesize(text, 16_000);
    samples.truncate(16 * speech_ms);
    samples.extend(speech::silence(Duration::from_millis(silence_ms), 16_000));
    let speech = Vad::new(VadConfig::default())
        .push(&samples)
        .into_iter()
        .find_map(|event| match event {
            VadEvent::SpeechEnd { speech, .. } => Some(speech),
            VadEvent::SpeechStart { .. } => None,
        })
        .expect("an utterance");
    (samples, speech)
}

/// Streams samples in `chunk_ms` pieces of base64 PCM, paced at real time
/// divided by the time scale; `message` builds each message from the base64.
pub(crate) async fn speak(
    socket: &mut Client,
    samples: &[i16],
    chunk_ms: usize,
    time_scale: f64,
    message: impl Fn(String) -> Value,
) {
    socket
        .stream_audio(
            samples,
            16_000,
            chunk_ms as u32,
            ChunkFormat::Pcm,
            time_scale,
            |audio, _| message(audio),
        )
        .await
        .expect("send");
}

/// A DynamoDB client for the stack.
pub(crate) async fn dynamodb(stack: &LocalStack) -> aws_sdk_dynamodb::Client {
    stack.dynamodb_client().await
}

/// Every item of a table.
pub(crate) async fn scan(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    harness::dynamodb::scan::scan_all(client, table)
        .await
        .expect("scan")
}

fn audio_in(value: &AttributeValue, path: &str, found: &mut Vec<String>) {
    match value {
        AttributeValue::B(blob) => {
            found.push(format!("{path}: {} binary bytes", blob.as_ref().len()))
        }
        AttributeValue::Bs(_) => found.push(format!("{path}: a binary set")),
        // Base64 audio of 100 ms at 16 kHz is over 4,000 characters; no transcript line is.
        AttributeValue::S(text)
            if text.len() > 2_000
                && base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .is_ok() =>
        {
            found.push(format!("{path}: {} characters of base64", text.len()))
        }
        AttributeValue::L(items) => {
            for (index, item) in items.iter().enumerate() {
                audio_in(item, &format!("{path}[{index}]"), found);
            }
        }
        AttributeValue::M(map) => {
            for (key, item) in map {
                audio_in(item, &format!("{path}.{key}"), found);
            }
        }
        _ => {}
    }
}

/// What looks like audio anywhere in the stack's tables (binary attributes,
/// long base64 strings), as `table/attribute` descriptions.
pub(crate) async fn audio_anywhere(stack: &LocalStack) -> Vec<String> {
    let client = dynamodb(stack).await;
    let mut found = Vec::new();
    for table in stack.template().tables.values() {
        for item in scan(&client, &table.table_name).await {
            for (name, value) in &item {
                audio_in(value, &format!("{}/{name}", table.table_name), &mut found);
            }
        }
    }
    found
}

/// The physical name of a table by logical id.
pub(crate) fn table(stack: &LocalStack, logical_id: &str) -> String {
    stack.template().tables[logical_id].table_name.clone()
}

/// Audio bytes in `audioOutput` / `maya_audio` messages.
pub(crate) fn audio_bytes(messages: &[Value]) -> usize {
    messages
        .iter()
        .filter_map(|m| m["audio"].as_str())
        .map(|a| {
            base64::engine::general_purpose::STANDARD
                .decode(a)
                .expect("base64")
                .len()
        })
        .sum()
}

/// The scenarios directory.
pub(crate) fn scenarios() -> PathBuf {
    crate::support::workspace().join("scenarios")
}
