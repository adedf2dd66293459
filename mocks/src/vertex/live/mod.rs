//! The Live API endpoint: `GET /regions/{region}/ws/google.cloud.aiplatform.
//! {v1|v1beta1}.LlmBidiService/BidiGenerateContent`. The upgrade is refused
//! with a Google-style 401 when the bearer token does not verify (or the
//! `reject_auth` fault is set); once upgraded, [`session`] runs the protocol.
//!
//! - [`session`]: setup, the connection loop, timers, model turns, closing;
//! - [`listening`]: received audio and text: voice activity, transcripts,
//!   barge-in, the Part 2 long turn;
//! - [`turn`]: a model turn as paced frames.

mod listening;
pub(crate) mod session;
pub(crate) mod turn;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::errors::GoogleError;
use super::faults::{FaultStage, VertexFault};
use super::state::VertexState;

/// The service names the endpoint answers to.
const SERVICES: &[&str] = &[
    "google.cloud.aiplatform.v1.LlmBidiService",
    "google.cloud.aiplatform.v1beta1.LlmBidiService",
];

/// Largest client message accepted (Vertex takes large audio chunks).
const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// `GET /regions/{region}/ws/{service}/BidiGenerateContent`.
pub(super) async fn upgrade(
    State(state): State<Arc<VertexState>>,
    Path((region, service)): Path<(String, String)>,
    mut request: Request,
) -> Response {
    if !SERVICES.contains(&service.as_str()) {
        return GoogleError::not_found(format!("Service {service} is not served here.")).into();
    }
    let rejected = state
        .faults()
        .take(FaultStage::Upgrade, &region)
        .contains(&VertexFault::RejectAuth);
    if rejected {
        return GoogleError::unauthenticated("ACCESS_TOKEN_TYPE_UNSUPPORTED").into();
    }
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Err(refusal) = state.authorize(authorization) {
        tracing::debug!(%region, "live upgrade refused: {refusal}");
        return GoogleError::unauthenticated(refusal.google_reason()).into();
    }
    let headers = request.headers();
    let is_upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let key = headers.get(header::SEC_WEBSOCKET_KEY).cloned();
    let on_upgrade = request
        .extensions_mut()
        .remove::<hyper::upgrade::OnUpgrade>();
    let (Some(key), Some(on_upgrade), true) = (key, on_upgrade, is_upgrade) else {
        return GoogleError::invalid_argument("This endpoint accepts WebSocket upgrades only.")
            .into();
    };
    let task_state = state.clone();
    state.tasks.spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let config = WebSocketConfig::default()
                    .max_message_size(Some(MAX_MESSAGE_BYTES))
                    .max_frame_size(Some(MAX_MESSAGE_BYTES));
                let ws = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(config),
                )
                .await;
                session::run(task_state, region, ws).await;
            }
            Err(e) => tracing::debug!("live upgrade failed: {e}"),
        }
    });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let out = response.headers_mut();
    out.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    out.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        out.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}
