//! The Bedrock mock's control API under `/_mock/bedrock/` (JSON):
//!
//! | route | body / answer |
//! |---|---|
//! | `GET streams` | `[{"id", "model", "system_prompt", "turns", "transcripts": [{"role", "text", "interrupted", "line"?, "part"?}], "script_overruns", "state": "open"\|"ended"\|"timed_out"\|"failed"\|"disconnected", "error", "usage"}]` |
//! | `GET usage` | `{"<model id>": {"requests", "input_tokens", "output_tokens", "speech_input_tokens", "speech_output_tokens", "text_input_tokens", "text_output_tokens"}}` |
//! | `POST transcripts` | `[{"speech_ms": 3000, "text": "..."}]` → 204 |
//! | `POST faults` | one rule or a list, e.g. `{"fault": "throttling", "before_stream": true, "scope": "next", "target": "stream"}` → 204 |
//! | `DELETE faults` | → 204 |
//!
//! Fault names: `access_denied`, `validation`, `throttling`, `model_timeout`
//! (`after_ms`), `latency` (`ms`), `stream_error`, `internal_error`; `scope`
//! is `next` or `all` (default), `target` is `stream`, `converse` or `any`
//! (default). See [`super::state::BedrockFault`].
//!
//! `transcripts` is the conversation log: each USER turn and each ASSISTANT
//! turn in order; with the IELTS examiner persona an ASSISTANT line also
//! names its script `line` and `part` (`part1`, `part2`, `part3`, `closing`).
//! A user turn after the closing line fails the stream with a
//! `modelStreamErrorException` ("mock examiner script exhausted: ...") and
//! counts in `script_overruns`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::state::{FaultRule, Shared};

/// A transcript catalog entry: an utterance with `speech_ms` of speech is
/// recognised as `text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptEntry {
    /// Speech time of the utterance.
    pub speech_ms: u64,
    /// What it says.
    pub text: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(FaultRule),
    Many(Vec<FaultRule>),
}

/// The control routes.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_mock/bedrock/streams", get(streams))
        .route("/_mock/bedrock/usage", get(usage))
        .route("/_mock/bedrock/transcripts", post(add_transcripts))
        .route(
            "/_mock/bedrock/faults",
            post(add_faults).delete(clear_faults),
        )
}

async fn streams(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    Json(serde_json::json!(shared.lock().streams))
}

async fn usage(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    Json(serde_json::json!(shared.lock().usage))
}

async fn add_transcripts(
    State(shared): State<Arc<Shared>>,
    Json(entries): Json<Vec<TranscriptEntry>>,
) -> StatusCode {
    let mut state = shared.lock();
    for entry in entries {
        state
            .catalog
            .add(Duration::from_millis(entry.speech_ms), entry.text);
    }
    StatusCode::NO_CONTENT
}

async fn add_faults(State(shared): State<Arc<Shared>>, Json(rules): Json<OneOrMany>) -> StatusCode {
    let rules = match rules {
        OneOrMany::One(rule) => vec![rule],
        OneOrMany::Many(rules) => rules,
    };
    shared.lock().faults.extend(rules);
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.lock().faults.clear();
    StatusCode::NO_CONTENT
}
