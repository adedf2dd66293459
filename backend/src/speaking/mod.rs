//! The IELTS speaking WebSocket API (seed 000): Maya the examiner on Gemini
//! Live. Routes `$connect`, `$disconnect`, `start_speaking`, `audio_chunk`,
//! `end_speaking` (and `$default` for anything else), all served by the
//! `speaking` function.
//!
//! - `start_speaking` validates, reads the GCP credentials, opens the Live
//!   session in the candidate's region, records the session, answers
//!   `session_ready`, and then **owns** the session ([`owner`]) until it ends;
//! - `audio_chunk` converts audio to 16 kHz PCM and relays it to the owner;
//! - `end_speaking` and `$disconnect` signal the owner through the relay.
//!
//! Modules: [`messages`] (both ways), [`regions`] (routing), [`assessment`]
//! (validation, banding), [`owner`] (the session's owner loop), [`storing`]
//! (session transitions and the assessment, stored durably and once).

pub(crate) mod assessment;
pub mod messages;
pub(crate) mod owner;
pub(crate) mod regions;
pub(crate) mod storing;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use lambda_runtime::{Error, LambdaEvent};

use crate::audio;
use crate::clock::now_epoch_s;
use crate::config::{ConfigError, EnvVars};
use crate::credentials::GcpCredentials;
use crate::management::ManagementError;
use crate::session_owner::relay::{RelayItem, RelaySettings};
use crate::session_owner::route::{Message, OwnerClients, route};
use crate::session_owner::session_item::{
    DEFAULT_TTL_SECONDS, Session, SessionError, SessionStatus,
};
use crate::vertex::live::{ContextCompression, LiveConfig, LiveSession};
use messages::{ClientMessage, StartSpeaking, errors};

/// The session kind in the sessions table.
pub const KIND: &str = "speaking";

/// The function's configuration, from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `SESSIONS_TABLE`.
    pub sessions_table: String,
    /// `RELAY_TABLE`.
    pub relay_table: String,
    /// `ASSESSMENTS_TABLE`.
    pub assessments_table: String,
    /// `GCP_CREDENTIALS_SECRET`: the Secrets Manager secret of the GCP
    /// service account.
    pub gcp_credentials_secret: String,
    /// `VERTEX_BASE_URL_TEMPLATE` (with `{region}`).
    pub vertex_base_url: String,
    /// `GEMINI_LIVE_MODEL`.
    pub live_model: String,
    /// `GEMINI_ASSESSMENT_MODEL`.
    pub assessment_model: String,
    /// `MAYA_VOICE`.
    pub voice: String,
    /// `TURN_SILENCE_MS`: silence that ends the candidate's turn.
    pub silence_ms: u32,
    /// `SESSION_TTL_SECONDS`: how long a session item lives.
    pub session_ttl_seconds: i64,
    /// `RELAY_POLL_MS` ([`RelaySettings::poll`]).
    pub relay_poll: Duration,
    /// `RELAY_SETTLE_MS` ([`RelaySettings::settle`]; the template sets 50 ms
    /// for this function).
    pub relay_settle: Duration,
    /// `LEAVE_GRACE_MS`: how long an owner whose client has gone waits for an
    /// `end_speaking` the client sent just before it left. API Gateway does
    /// not order a connection's last messages and its `$disconnect`, and the
    /// message's invocation can meet a cold start (100-300 ms on AWS; more on
    /// a loaded local machine), so a wait of two jitter-buffer periods (100
    /// ms) lost the assessment of a candidate who ended the test and closed
    /// the page at once (the chaos case socket-drop-after-end, 1 run in 12).
    pub leave_grace: Duration,
    /// `GEMINI_COMPRESSION_TRIGGER_TOKENS` (0: off) and
    /// `GEMINI_COMPRESSION_TARGET_TOKENS` (default: half the trigger).
    pub compression: Option<ContextCompression>,
}

/// The default compression trigger: every turn is billed for the whole
/// context, and a 14-minute assessment's last prompt holds about 30,200
/// tokens (2026-12-07, the full-assessment scenario, audio at 32 tokens a
/// second), growing about 2,270 a minute. 16,000 tokens keeps about the last
/// 7 minutes; the examiner's script needs less, and the assessment is written
/// from the stored transcript, not from the Live context.
pub const DEFAULT_COMPRESSION_TRIGGER_TOKENS: u64 = 16_000;

/// Compression from the two variables.
fn compression(trigger: Option<&str>, target: Option<&str>) -> Option<ContextCompression> {
    let trigger = trigger
        .and_then(|t| t.trim().parse::<u64>().ok())
        .unwrap_or(DEFAULT_COMPRESSION_TRIGGER_TOKENS);
    (trigger > 0).then(|| ContextCompression {
        trigger_tokens: trigger,
        target_tokens: target
            .and_then(|t| t.trim().parse::<u64>().ok())
            .filter(|t| *t > 0)
            .unwrap_or(trigger / 2),
    })
}

impl Settings {
    /// Reads the environment, with defaults; names a missing table.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&EnvVars::process())
    }

    /// The same from `vars`.
    pub fn from_vars(vars: &EnvVars<'_>) -> Result<Self, ConfigError> {
        let relay = RelaySettings::from_vars(vars);
        Ok(Self {
            sessions_table: vars.required("SESSIONS_TABLE")?,
            relay_table: vars.required("RELAY_TABLE")?,
            assessments_table: vars.required("ASSESSMENTS_TABLE")?,
            gcp_credentials_secret: vars.required("GCP_CREDENTIALS_SECRET")?,
            vertex_base_url: vars.text("VERTEX_BASE_URL_TEMPLATE", crate::vertex::DEFAULT_BASE_URL),
            live_model: vars.text("GEMINI_LIVE_MODEL", "gemini-live-2.5-flash-native-audio"),
            assessment_model: vars.text("GEMINI_ASSESSMENT_MODEL", "gemini-2.5-flash"),
            voice: vars.text("MAYA_VOICE", "Aoede"),
            silence_ms: vars.parsed_or("TURN_SILENCE_MS", 800),
            session_ttl_seconds: vars.parsed_or("SESSION_TTL_SECONDS", DEFAULT_TTL_SECONDS),
            relay_poll: relay.poll,
            relay_settle: relay.settle,
            leave_grace: Duration::from_millis(vars.parsed_or("LEAVE_GRACE_MS", 3000)),
            compression: compression(
                vars.optional("GEMINI_COMPRESSION_TRIGGER_TOKENS")
                    .as_deref(),
                vars.optional("GEMINI_COMPRESSION_TARGET_TOKENS").as_deref(),
            ),
        })
    }
}

/// The function's dependencies, built once per instance.
#[derive(Debug)]
pub struct SpeakingDeps {
    /// Sessions table, relay table, management API.
    pub owner: OwnerClients,
    /// GCP credentials.
    pub credentials: GcpCredentials,
    /// HTTP client for generateContent.
    pub http: reqwest::Client,
    /// DynamoDB client for the assessments table.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// Configuration.
    pub settings: Settings,
}

/// What one invocation works with.
pub(crate) struct Call<'a> {
    pub deps: &'a SpeakingDeps,
    pub endpoint: String,
    pub connection_id: String,
    pub session_id: String,
}

impl Call<'_> {
    /// Posts a message; `Err(Gone)` when the client has left.
    pub(crate) async fn post(&self, message: &serde_json::Value) -> Result<(), ManagementError> {
        self.deps
            .owner
            .connections
            .post_json(&self.endpoint, &self.connection_id, message)
            .await
    }

    /// Posts an error message (the client may have left: then nothing to do).
    pub(crate) async fn post_error(&self, message: &str) {
        if let Err(e) = self.post(&messages::error(message)).await {
            tracing::info!(connection = %self.connection_id, "could not post error: {e}");
        }
    }
}

/// Handles one event.
pub async fn handle(
    deps: &SpeakingDeps,
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error> {
    route(KIND, &deps.owner, event, async |message| {
        on_message(deps, message).await
    })
    .await
}

async fn on_message(deps: &SpeakingDeps, message: Message<'_>) -> Result<(), Error> {
    let call = Call {
        deps,
        endpoint: message.peer.endpoint.to_owned(),
        connection_id: message.peer.connection_id.to_owned(),
        session_id: message.session_id,
    };
    let order = message.order;
    match messages::parse(&message.body) {
        Err(problem) => call.post_error(&problem.to_string()).await,
        Ok(ClientMessage::Start(start)) => self::start(&call, start, message.deadline).await?,
        Ok(ClientMessage::Audio(chunk)) => {
            if let Some(session) = live_session(&call).await? {
                match audio::decode_chunk(&chunk.audio, chunk.mime_type.as_deref()) {
                    Ok(pcm) => {
                        let item = RelayItem::Audio(audio::pcm_bytes(&pcm));
                        deps.owner
                            .relay
                            .send(&session.session_id, &order, &item, now_epoch_s())
                            .await?;
                    }
                    Err(problem) => call.post_error(&problem.to_string()).await,
                }
            }
        }
        Ok(ClientMessage::End) => {
            if let Some(session) = ending_session(&call).await? {
                deps.owner
                    .relay
                    .send(&session.session_id, &order, &RelayItem::End, now_epoch_s())
                    .await?;
            }
        }
    }
    Ok(())
}

/// The live session of this connection, or "No active session" to the client.
async fn live_session(call: &Call<'_>) -> Result<Option<Session>, Error> {
    let session = call.deps.owner.sessions.get(&call.session_id).await?;
    match session.filter(|s| s.is_live(now_epoch_s())) {
        Some(session) => Ok(Some(session)),
        None => {
            call.post_error(errors::NO_ACTIVE_SESSION).await;
            Ok(None)
        }
    }
}

/// The session `end_speaking` ends: the live one, or one `$disconnect` has
/// just marked disconnected (the client pressed "end" and left at once, and
/// its `$disconnect` overtook the `end_speaking`): its owner may still
/// assess it. Otherwise "No active session" to the client.
async fn ending_session(call: &Call<'_>) -> Result<Option<Session>, Error> {
    let session = call.deps.owner.sessions.get(&call.session_id).await?;
    let now = now_epoch_s();
    match session {
        Some(s) if s.is_live(now) => Ok(Some(s)),
        Some(s) if s.status == SessionStatus::Disconnected && s.expires_at > now => Ok(Some(s)),
        _ => {
            call.post_error(errors::NO_ACTIVE_SESSION).await;
            Ok(None)
        }
    }
}

async fn start(call: &Call<'_>, start: StartSpeaking, deadline: Instant) -> Result<(), Error> {
    let deps = call.deps;
    let region =
        match regions::choose_region(&start.country_code, start.preferred_region.as_deref()) {
            Ok(region) => region,
            Err(problem) => {
                call.post_error(&format!("Invalid message: {problem}"))
                    .await;
                return Ok(());
            }
        };
    if let Some(existing) = deps.owner.sessions.get(&call.session_id).await?
        && existing.is_live(now_epoch_s())
    {
        call.post_error(errors::ALREADY_ACTIVE).await;
        return Ok(());
    }
    // Credentials and the Live session first: nothing is recorded unless both work.
    let opened = async {
        let account = deps
            .credentials
            .service_account()
            .await
            .map_err(|e| e.to_string())?;
        let bearer = account
            .bearer_token(now_epoch_s())
            .map_err(|e| e.to_string())?;
        let config = LiveConfig {
            base_url_template: deps.settings.vertex_base_url.clone(),
            region: region.as_str().to_owned(),
            project: account.project_id.clone(),
            model: deps.settings.live_model.clone(),
            system_instruction: owner::EXAMINER_INSTRUCTIONS.to_owned(),
            voice: deps.settings.voice.clone(),
            silence_ms: deps.settings.silence_ms,
            resumption_handle: None,
            compression: deps.settings.compression,
        };
        let live = LiveSession::connect(&config, &bearer)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((account, config, live))
    };
    let (account, config, live) = match opened.await {
        Ok(opened) => opened,
        Err(problem) => {
            tracing::error!(region = %region, "Vertex AI initialisation failed: {problem}");
            deps.credentials.forget().await;
            call.post_error(errors::VERTEX_INIT_FAILED).await;
            return Ok(());
        }
    };
    let now = now_epoch_s();
    let details: HashMap<String, String> = [
        ("region", region.as_str().to_owned()),
        ("country_code", start.country_code.to_ascii_uppercase()),
        ("assessment_type", start.assessment_type.clone()),
        ("model", deps.settings.live_model.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let session = Session::active(
        KIND,
        &call.connection_id,
        &start.user_id,
        now,
        deps.settings.session_ttl_seconds,
        details,
    );
    match deps.owner.sessions.create(&session, now).await {
        Ok(()) => {}
        Err(SessionError::AlreadyActive) => {
            live.close().await;
            call.post_error(errors::ALREADY_ACTIVE).await;
            return Ok(());
        }
        Err(other) => {
            live.close().await;
            return Err(other.into());
        }
    }
    // Leftovers of an earlier session on this connection must not leak in.
    deps.owner.relay.purge(&call.session_id).await?;
    let ready =
        messages::session_ready(region.as_str(), &call.session_id, &deps.settings.live_model);
    if call.post(&ready).await.is_err() {
        let _ = deps
            .owner
            .sessions
            .transition(
                &call.session_id,
                SessionStatus::Active,
                SessionStatus::Disconnected,
                now,
                &[],
            )
            .await;
        live.close().await;
        return Ok(());
    }
    let owner = owner::Owner::new(call, session, start, config, account, deadline);
    owner.run(live).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_is_on_by_default_and_zero_turns_it_off() {
        let default = compression(None, None).unwrap();
        assert_eq!(
            (default.trigger_tokens, default.target_tokens),
            (16_000, 8_000)
        );
        let set = compression(Some("20000"), Some("5000")).unwrap();
        assert_eq!((set.trigger_tokens, set.target_tokens), (20_000, 5_000));
        assert!(compression(Some("0"), None).is_none());
        assert_eq!(compression(Some("x"), None), compression(None, None));
    }
}
