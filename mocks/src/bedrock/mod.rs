//! A Bedrock Runtime mock on one port, speaking the real wire protocols so
//! `aws-sdk-bedrockruntime` runs against it unchanged (endpoint override
//! `http://127.0.0.1:PORT`):
//!
//! - Nova Sonic `InvokeModelWithBidirectionalStream` (event-stream frames,
//!   full duplex over HTTP/1.1): [`stream`] and [`session`], with the input state machine in
//!   [`conversation`], event JSON in [`events`], framing in [`eventstream`]
//!   and the model's grounded answers in [`answers`];
//! - Nova text models through `Converse` and `InvokeModel`: [`converse`], with
//!   deterministic replies (IELTS writing assessment JSON, feedback, chat) in
//!   [`replies`];
//! - a control API under `/_mock/bedrock/` ([`control`]) and the same as Rust
//!   methods on [`BedrockMock`]: streams, usage, transcripts, faults.
//!
//! Conventions the backend follows: facts as `- ` lines in the system prompt;
//! `IELTS` in the prompt makes the model an examiner; `TASK:` / `TASK_TYPE:` /
//! `ESSAY:` marker lines select the text models' replies. Every time limit is
//! divided by [`BedrockConfig::time_scale`].

pub mod answers;
pub(crate) mod control;
pub(crate) mod conversation;
pub(crate) mod converse;
pub(crate) mod errors;
pub(crate) mod events;
pub mod eventstream;
pub mod models;
pub(crate) mod replies;
pub(crate) mod session;
pub mod state;
pub(crate) mod stream;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::post;

pub use self::control::TranscriptEntry;
use self::state::Shared;
pub use self::state::{
    BedrockFault, FaultRule, FaultScope, FaultTarget, ModelUsage, StreamInfo, StreamState,
    TranscriptLine,
};
use crate::server::Server;

/// How to start the mock.
#[derive(Debug, Clone, PartialEq)]
pub struct BedrockConfig {
    /// Port on 127.0.0.1 (0 picks a free one).
    pub port: u16,
    /// Divides every time limit (the 8-minute stream limit, injected
    /// latencies and timeouts, audio pacing); at least 1.
    pub time_scale: f64,
    /// Model ids whose access is not granted (AccessDeniedException, the
    /// seeds' "Model not available").
    pub denied_models: Vec<String>,
}

impl Default for BedrockConfig {
    fn default() -> Self {
        Self {
            port: 0,
            time_scale: 1.0,
            denied_models: Vec::new(),
        }
    }
}

/// A running Bedrock Runtime mock.
#[derive(Debug)]
pub struct BedrockMock {
    running: Server,
    shared: Arc<Shared>,
}

/// The mock's routes (model APIs and control API) over `shared`.
fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/model/{model_id}/invoke-with-bidirectional-stream",
            post(stream::invoke),
        )
        .route("/model/{model_id}/converse", post(converse::converse))
        .route("/model/{model_id}/invoke", post(converse::invoke))
        .merge(control::router())
        .with_state(shared)
}

impl BedrockMock {
    /// Starts serving on `127.0.0.1:config.port`.
    pub async fn start(config: BedrockConfig) -> std::io::Result<Self> {
        if !(config.time_scale.is_finite() && config.time_scale >= 1.0) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("time_scale must be >= 1, got {}", config.time_scale),
            ));
        }
        let shared = Arc::new(Shared::new(
            config.time_scale,
            config.denied_models.into_iter().collect(),
        ));
        let running = Server::bind(
            "Bedrock mock",
            ("127.0.0.1", config.port),
            router(Arc::clone(&shared)),
        )
        .await?;
        Ok(Self { running, shared })
    }

    /// `http://127.0.0.1:PORT`, the SDK's endpoint override.
    pub fn base_url(&self) -> String {
        self.running.base_url()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.running.local_addr()
    }

    /// The time scale in force.
    pub fn time_scale(&self) -> f64 {
        self.shared.time_scale
    }

    /// Every Nova Sonic stream served, oldest first.
    pub fn streams(&self) -> Vec<StreamInfo> {
        self.shared.lock().streams.clone()
    }

    /// Billed usage per model id.
    pub fn usage(&self) -> BTreeMap<String, ModelUsage> {
        self.shared.lock().usage.clone()
    }

    /// Teaches the "speech recognition" an utterance with `speech` of speech.
    pub fn add_transcript(&self, speech: Duration, text: impl Into<String>) {
        self.shared.lock().catalog.add(speech, text);
    }

    /// Arms a fault.
    pub fn add_fault(&self, rule: FaultRule) {
        self.shared.lock().faults.push(rule);
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Grants or revokes access to `model_id`.
    pub fn set_model_access(&self, model_id: &str, granted: bool) {
        let mut state = self.shared.lock();
        if granted {
            state.denied_models.remove(model_id);
        } else {
            state.denied_models.insert(model_id.to_owned());
        }
    }

    /// Ends every open stream, then stops serving.
    pub async fn stop(self) {
        self.shared.shutdown.cancel();
        self.running.stop().await;
    }
}
