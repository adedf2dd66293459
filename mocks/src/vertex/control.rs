//! The control API under `/_mock/vertex/` (JSON): sessions, usage totals,
//! transcript registration, faults, and the service-account key file.
//!
//! | method | path | body / answer |
//! |---|---|---|
//! | GET | `sessions` | `[SessionInfo]` |
//! | GET | `usage` | `UsageTotals` |
//! | POST | `transcripts` | `[{"speech_ms": 3000, "text": "..."}]` -> `{"registered", "catalog_size"}` |
//! | GET | `faults` | `[FaultRule]` |
//! | POST | `faults` | a `FaultRule` or an array of them -> `[FaultRule]` (all set) |
//! | DELETE | `faults` | -> `[]` |
//! | GET | `service-account` | the service-account key JSON |

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;

use super::faults::FaultRule;
use super::state::VertexState;

/// One transcript to register.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct TranscriptRegistration {
    /// Speech duration of the utterance, in milliseconds.
    pub speech_ms: u64,
    /// What the candidate says in it.
    pub text: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<FaultRule>),
    One(FaultRule),
}

pub(super) fn router() -> Router<Arc<VertexState>> {
    Router::new()
        .route("/sessions", get(sessions))
        .route("/usage", get(usage))
        .route("/transcripts", axum::routing::post(transcripts))
        .route("/faults", get(faults).post(add_faults).delete(clear_faults))
        .route("/service-account", get(service_account))
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": message}))).into_response()
}

async fn sessions(State(state): State<Arc<VertexState>>) -> Response {
    Json(state.sessions()).into_response()
}

async fn usage(State(state): State<Arc<VertexState>>) -> Response {
    Json(state.usage()).into_response()
}

async fn transcripts(State(state): State<Arc<VertexState>>, body: Bytes) -> Response {
    let entries: Vec<TranscriptRegistration> = match serde_json::from_slice(&body) {
        Ok(entries) => entries,
        Err(e) => return bad_request(&format!("expected [{{speech_ms, text}}]: {e}")),
    };
    let mut catalog = state.catalog();
    for entry in &entries {
        catalog.add(Duration::from_millis(entry.speech_ms), entry.text.clone());
    }
    Json(json!({"registered": entries.len(), "catalog_size": catalog.len()})).into_response()
}

async fn faults(State(state): State<Arc<VertexState>>) -> Response {
    Json(state.faults().rules().to_vec()).into_response()
}

async fn add_faults(State(state): State<Arc<VertexState>>, body: Bytes) -> Response {
    let rules = match serde_json::from_slice::<OneOrMany>(&body) {
        Ok(OneOrMany::Many(rules)) => rules,
        Ok(OneOrMany::One(rule)) => vec![rule],
        Err(e) => return bad_request(&format!("expected a fault rule or an array of them: {e}")),
    };
    let mut book = state.faults();
    for rule in rules {
        book.add(rule);
    }
    Json(book.rules().to_vec()).into_response()
}

async fn clear_faults(State(state): State<Arc<VertexState>>) -> Response {
    state.faults().clear();
    Json(json!([])).into_response()
}

async fn service_account(State(state): State<Arc<VertexState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.key_json(),
    )
        .into_response()
}
