//! A Vertex AI mock: the Gemini Live API (`BidiGenerateContent` over
//! WebSocket) running a deterministic IELTS examiner, "Maya", and the REST
//! `generateContent` method producing deterministic assessments, both behind
//! service-account JWT auth, on per-region paths of one port:
//! `http://127.0.0.1:PORT/regions/{region}` stands for
//! `https://{region}-aiplatform.googleapis.com`.
//!
//! - [`auth`]: the generated service account and bearer-token verification;
//! - [`client_messages`] / [`server_messages`]: the Live wire format;
//!   [`casing`]: snake_case and camelCase keys alike;
//! - [`script`]: Maya's script and the Part 2 long-turn rule;
//!   [`misbehave`]: the deliberate mistakes of the `misbehave` fault;
//! - [`conversation`]: a session's state across connections (usage, turns);
//!   [`context`]: the context window each prompt bills, and its compression;
//! - `live`: the WebSocket endpoint, session loop, listening, model turns;
//! - `rest`: generateContent; [`assessment`]: the transcript scoring;
//! - [`faults`]: injectable faults; [`control`]: the `/_mock/vertex/` API;
//! - `oauth`: the token endpoint the key file's `token_uri` names;
//! - [`models`]: the Gemini models served, with their lifecycle;
//! - [`errors`]: Google's error shape; `state`: what connections share.

pub(crate) mod assessment;
pub mod auth;
pub(crate) mod casing;
pub(crate) mod client_messages;
pub(crate) mod context;
pub(crate) mod control;
pub(crate) mod conversation;
pub(crate) mod errors;
pub mod faults;
mod live;
pub(crate) mod misbehave;
pub mod models;
mod oauth;
mod rest;
pub mod script;
pub(crate) mod server_messages;
mod state;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use self::conversation::{Speaker, TokenTotals, TranscriptEntry, TurnRecord};
pub use self::faults::{
    FaultRule, FaultScope, InvalidAssessmentVariant, Misbehaviour, VertexFault,
};
pub use self::script::ExaminerPart;
use self::state::VertexState;
pub use self::state::{CloseRecord, SessionInfo, UsageTotals};
use crate::server::Server;

/// How long `stop` waits for live sessions to close.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// How to run the mock.
#[derive(Debug, Clone, PartialEq)]
pub struct VertexConfig {
    /// Port on 127.0.0.1 (0 picks a free one).
    pub port: u16,
    /// Divides every session time limit (and fault delays, and model audio
    /// pacing); at least 1. A 14-minute test replays in a minute at 14.
    pub time_scale: f64,
    /// The Google Cloud project of the service account and model paths.
    pub project: String,
    /// How long a Live connection may last (Vertex: 10 minutes).
    pub session_limit: Duration,
    /// How long before the limit `goAway` is sent (Vertex: about 60 s).
    pub go_away_notice: Duration,
    /// How much audio a session without `contextWindowCompression` may take
    /// in, across its resumed connections (Vertex: audio-only sessions are
    /// limited to 15 minutes; compression lifts the limit). Audio time, as
    /// the samples count it: the time scale does not divide it.
    pub audio_session_limit: Duration,
}

/// Vertex's limit on an audio-only session without context compression
/// ("start and manage sessions": 15 minutes; with a sliding window there is
/// no limit).
pub const AUDIO_SESSION_LIMIT: Duration = Duration::from_secs(15 * 60);

impl Default for VertexConfig {
    fn default() -> Self {
        Self {
            port: 0,
            time_scale: 1.0,
            project: "speechgate-local".into(),
            session_limit: Duration::from_secs(600),
            go_away_notice: Duration::from_secs(60),
            audio_session_limit: AUDIO_SESSION_LIMIT,
        }
    }
}

/// A running Vertex AI mock.
///
/// # Example
/// Start it, point a client at it as a function's environment would, and
/// read what it billed:
/// ```
/// use mocks::vertex::{VertexConfig, VertexMock};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let vertex = VertexMock::start(VertexConfig::default()).await?;
/// // Stands for https://{region}-aiplatform.googleapis.com (the backend reads
/// // it from VERTEX_BASE_URL_TEMPLATE).
/// let template = vertex.base_url_template();
/// assert!(template.ends_with("/regions/{region}"));
/// // The service-account key file a client loads; its token_uri is the mock's.
/// let key: serde_json::Value = serde_json::from_str(&vertex.service_account_json())?;
/// assert!(key["token_uri"].as_str().unwrap().starts_with(&vertex.base_url()));
/// // Nothing was asked of it yet.
/// assert_eq!(vertex.usage().sessions, 0);
/// vertex.stop().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct VertexMock {
    running: Server,
    state: Arc<VertexState>,
}

impl VertexMock {
    /// Generates the service account and starts serving.
    pub async fn start(config: VertexConfig) -> std::io::Result<Self> {
        if !(config.time_scale.is_finite() && config.time_scale >= 1.0) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "time_scale must be a number >= 1, not {}",
                    config.time_scale
                ),
            ));
        }
        let project = config.project.clone();
        let account = tokio::task::spawn_blocking(move || auth::ServiceAccount::generate(&project))
            .await
            .map_err(std::io::Error::other)?
            .map_err(std::io::Error::other)?;
        let port = config.port;
        let state = Arc::new(VertexState::new(config, account));
        let running =
            Server::bind("Vertex mock", ("127.0.0.1", port), router(state.clone())).await?;
        state.set_base_url(&running.base_url());
        Ok(Self { running, state })
    }

    /// `http://127.0.0.1:PORT/regions/{region}`, with the literal `{region}`
    /// placeholder: the stand-in for `https://{region}-aiplatform.googleapis.com`.
    pub fn base_url_template(&self) -> String {
        format!("{}/regions/{{region}}", self.running.base_url())
    }

    /// `http://127.0.0.1:PORT` (the control API is under `/_mock/vertex/`).
    pub fn base_url(&self) -> String {
        self.running.base_url()
    }

    /// The address it listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.running.local_addr()
    }

    /// The service-account key file whose key the mock trusts (its
    /// `token_uri` is this mock's `/token`).
    pub fn service_account_json(&self) -> String {
        self.state.key_json()
    }

    /// Sets a fault.
    pub fn set_fault(&self, rule: FaultRule) {
        self.state.faults().add(rule);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.state.faults().clear();
    }

    /// Every session so far.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.state.sessions()
    }

    /// Usage totals.
    pub fn usage(&self) -> UsageTotals {
        self.state.usage()
    }

    /// Teaches the "recogniser" an utterance whose speech lasts `speech`.
    pub fn register_transcript(&self, speech: Duration, text: impl Into<String>) {
        self.state.catalog().add(speech, text);
    }

    /// Closes live sessions (1001), then stops serving.
    pub async fn stop(self) {
        self.state.shutdown.cancel();
        self.state.tasks.close();
        let _ = tokio::time::timeout(STOP_GRACE, self.state.tasks.wait()).await;
        self.running.stop().await;
    }
}

fn router(state: Arc<VertexState>) -> Router {
    Router::new()
        .route(
            "/regions/{region}/ws/{service}/BidiGenerateContent",
            get(live::upgrade),
        )
        .route(
            "/regions/{region}/{version}/projects/{project}/locations/{location}/publishers/google/models/{model_action}",
            post(rest::generate_content),
        )
        .route("/token", post(oauth::token))
        .nest("/_mock/vertex", control::router())
        .fallback(not_found)
        .with_state(state)
}

async fn not_found(uri: Uri) -> Response {
    errors::GoogleError::not_found(format!(
        "The requested URL {} was not found on this server.",
        uri.path()
    ))
    .into_response()
}
