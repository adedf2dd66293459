//! `Converse` (`POST /model/{modelId}/converse`) and `InvokeModel` with
//! Nova's native `messages-v1` body (`POST /model/{modelId}/invoke`) for the
//! Nova text models: validation as Bedrock does it, deterministic replies
//! (see [`super::replies`]), token usage, faults.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::errors::AwsError;
use super::models::{self, Family};
use super::replies;
use super::state::{BedrockFault, FaultTarget, Shared};
use crate::speech;

/// A parsed text request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextRequest {
    /// The system prompt blocks, joined.
    pub system: String,
    /// (role, text) per message, oldest first.
    pub messages: Vec<(String, String)>,
    /// The output limit.
    pub max_tokens: u32,
}

fn malformed(detail: impl std::fmt::Display) -> AwsError {
    AwsError::validation(format!(
        "Malformed input request: {detail}, please reformat your input and try again."
    ))
}

fn texts(blocks: Option<&Value>) -> Result<Vec<String>, AwsError> {
    let Some(blocks) = blocks else {
        return Ok(Vec::new());
    };
    let blocks = blocks
        .as_array()
        .ok_or_else(|| malformed("content must be an array"))?;
    Ok(blocks
        .iter()
        .filter_map(|block| block.get("text").and_then(Value::as_str))
        .map(str::to_owned)
        .collect())
}

/// Parses a Converse body or a native Nova InvokeModel body.
pub(crate) fn parse_request(body: &[u8], model_id: &str) -> Result<TextRequest, AwsError> {
    let value: Value = serde_json::from_slice(body).map_err(malformed)?;
    let object = value
        .as_object()
        .ok_or_else(|| malformed("expected a JSON object"))?;
    if let Some(version) = object.get("schemaVersion")
        && version != "messages-v1"
    {
        return Err(malformed(format!("unsupported schemaVersion {version}")));
    }
    let system = texts(object.get("system"))?.join("\n");
    let raw_messages = object
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("required key [messages] not found"))?;
    if raw_messages.is_empty() {
        return Err(AwsError::validation(
            "A conversation must start with a user message. Try again with a conversation that starts with a user message.",
        ));
    }
    let mut messages = Vec::with_capacity(raw_messages.len());
    for message in raw_messages {
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .filter(|role| matches!(*role, "user" | "assistant"))
            .ok_or_else(|| malformed("each message needs a role of user or assistant"))?;
        let text = texts(message.get("content"))?.join("\n");
        messages.push((role.to_owned(), text));
    }
    if messages[0].0 != "user" {
        return Err(AwsError::validation(
            "A conversation must start with a user message. Try again with a conversation that starts with a user message.",
        ));
    }
    let limit = models::max_output_tokens(model_id);
    let config = object.get("inferenceConfig");
    let requested = config
        .and_then(|c| c.get("maxTokens").or_else(|| c.get("max_new_tokens")))
        .map(|v| {
            v.as_i64()
                .ok_or_else(|| malformed("maxTokens must be an integer"))
        })
        .transpose()?;
    let max_tokens = match requested {
        None => limit,
        Some(n) if n >= 1 && n <= i64::from(limit) => n as u32,
        Some(n) => {
            return Err(AwsError::validation(format!(
                "The maximum tokens you requested ({n}) is outside the model's range of 1 to {limit}. Try again with a valid value."
            )));
        }
    };
    Ok(TextRequest {
        system,
        messages,
        max_tokens,
    })
}

/// The model's answer to a request: (text, stop reason, input tokens, output tokens).
pub(crate) fn answer(request: &TextRequest) -> (String, &'static str, u64, u64) {
    let mut text = replies::reply(&request.system, &request.messages);
    let input_tokens = speech::text_tokens(&request.system)
        + request
            .messages
            .iter()
            .map(|(_, text)| speech::text_tokens(text))
            .sum::<u64>();
    let mut stop = "end_turn";
    if speech::text_tokens(&text) > u64::from(request.max_tokens) {
        text = text.chars().take(request.max_tokens as usize * 4).collect();
        stop = "max_tokens";
    }
    let output_tokens = speech::text_tokens(&text);
    (text, stop, input_tokens, output_tokens)
}

/// Which API shape to answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Converse,
    Invoke,
}

async fn serve(shared: Arc<Shared>, model_id: String, body: Bytes, api: Api) -> Response {
    let started = Instant::now();
    match handle(&shared, &model_id, &body, api, started).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn handle(
    shared: &Shared,
    model_id: &str,
    body: &[u8],
    api: Api,
    started: Instant,
) -> Result<Response, AwsError> {
    models::admit(model_id, Family::Text, models::today())?;
    let (faults, request_id) = {
        let mut state = shared.lock();
        state.count_request(model_id);
        if state.denied_models.contains(model_id) {
            return Err(AwsError::access_denied());
        }
        (state.take_faults(FaultTarget::Converse), state.new_id(0))
    };
    let latency: Duration = faults
        .iter()
        .filter_map(|fault| match fault {
            BedrockFault::Latency { ms } => Some(shared.scaled(Duration::from_millis(*ms))),
            _ => None,
        })
        .sum();
    tokio::time::sleep(latency).await;
    if let Some(error) = faults.iter().find_map(AwsError::for_call) {
        return Err(error);
    }
    let request = parse_request(body, model_id)?;
    let (text, stop, input_tokens, output_tokens) = answer(&request);
    {
        let mut state = shared.lock();
        let usage = state.usage.entry(model_id.to_owned()).or_default();
        usage.input_tokens += input_tokens;
        usage.output_tokens += output_tokens;
        usage.text_input_tokens += input_tokens;
        usage.text_output_tokens += output_tokens;
    }
    let latency_ms = started.elapsed().as_millis() as u64;
    let mut payload = json!({
        "output": { "message": { "role": "assistant", "content": [{ "text": text }] } },
        "stopReason": stop,
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
    });
    if api == Api::Converse {
        payload["metrics"] = json!({ "latencyMs": latency_ms });
    }
    let mut response = payload.to_string().into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("x-amzn-requestid", request_id);
    if api == Api::Invoke {
        set("x-amzn-bedrock-input-token-count", input_tokens.to_string());
        set(
            "x-amzn-bedrock-output-token-count",
            output_tokens.to_string(),
        );
        set("x-amzn-bedrock-invocation-latency", latency_ms.to_string());
    }
    Ok(response)
}

/// `POST /model/{modelId}/converse`.
pub(crate) async fn converse(
    State(shared): State<Arc<Shared>>,
    Path(model_id): Path<String>,
    body: Bytes,
) -> Response {
    serve(shared, model_id, body, Api::Converse).await
}

/// `POST /model/{modelId}/invoke`.
pub(crate) async fn invoke(
    State(shared): State<Arc<Shared>>,
    Path(model_id): Path<String>,
    body: Bytes,
) -> Response {
    serve(shared, model_id, body, Api::Invoke).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const MICRO: &str = "amazon.nova-micro-v1:0";

    #[test]
    fn parses_converse_and_native_bodies() {
        let converse = br#"{"messages":[{"role":"user","content":[{"text":"Hi"}]}],
            "system":[{"text":"Be kind"}],"inferenceConfig":{"maxTokens":100}}"#;
        let request = parse_request(converse, MICRO).unwrap();
        assert_eq!(request.system, "Be kind");
        assert_eq!(request.messages, vec![("user".into(), "Hi".into())]);
        assert_eq!(request.max_tokens, 100);
        let native = br#"{"schemaVersion":"messages-v1","messages":[{"role":"user","content":[{"text":"Hi"}]}],
            "inferenceConfig":{"max_new_tokens":50}}"#;
        assert_eq!(parse_request(native, MICRO).unwrap().max_tokens, 50);
    }

    #[test]
    fn validation_errors() {
        for body in [
            &b"not json"[..],
            br#"{"messages":[]}"#,
            br#"{"messages":[{"role":"assistant","content":[{"text":"x"}]}]}"#,
            br#"{"messages":[{"role":"user","content":[]}],"inferenceConfig":{"maxTokens":0}}"#,
            br#"{"messages":[{"role":"user","content":[]}],"inferenceConfig":{"maxTokens":10001}}"#,
            br#"{"schemaVersion":"v9","messages":[{"role":"user","content":[]}]}"#,
        ] {
            let error = parse_request(body, MICRO).unwrap_err();
            assert_eq!(error.error_type, "ValidationException");
        }
    }

    #[test]
    fn long_answers_stop_at_max_tokens() {
        let request = TextRequest {
            system: String::new(),
            messages: vec![("user".into(), "Tell me a story".into())],
            max_tokens: 3,
        };
        let (text, stop, _, output) = answer(&request);
        assert_eq!(stop, "max_tokens");
        assert_eq!(output, 3);
        assert_eq!(text.chars().count(), 12);
    }
}
