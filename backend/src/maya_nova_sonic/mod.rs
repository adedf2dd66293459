//! Seed 003's `nova-sonic-stream` route: two-way speech with Maya, the IELTS
//! examiner, on Amazon Nova Sonic (`NovaSonicStreamWebSocketApi`, function
//! `{env}-ielts-nova-sonic-stream`, binary `nova-sonic-stream`). One route,
//! `nova-sonic-stream`, whose `type` says what the message does:
//!
//! - `start {user_id}` opens the stream (Maya speaks first), answers
//!   `session_ready` and **owns** the session (the shared
//!   [`crate::nova_sonic::owner`]);
//! - `audio {audio}` (base64 16 kHz PCM) and `text {text}` are relayed to
//!   the owner; the client gets `user_transcript`, `maya_transcript`,
//!   `maya_audio` (24 kHz) and `interrupted`;
//! - `end` finishes (`session_ended` with the stored transcript's id).
//!
//! Only transcripts are stored, never voice (seed 003): the transcript goes
//! to the assessments table (`ASSESSMENTS_TABLE`) as a `speaking_conversation`
//! item; relay items (the audio) are deleted as soon as they are consumed.

pub mod messages;

use std::collections::HashMap;
use std::time::Instant;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Map, Value, json};

use crate::alerts::Alerts;
use crate::audio;
use crate::clock::{now_epoch_s, now_rfc3339};
use crate::config::{ConfigError, EnvVars};
use crate::dynamo_json;
use crate::nova_sonic::SonicSettings;
use crate::nova_sonic::owner::{Ending, Outcome};
use crate::nova_sonic::protocol::Role;
use crate::nova_sonic::session::{self, Start, client_error};
use crate::session_owner::peer::Peer;
use crate::session_owner::relay::RelayItem;
use crate::session_owner::route::{Message, OwnerClients, route};
use crate::session_owner::session_item::Session;
use messages::{ClientMessage, MayaPresenter};

/// The session kind in the sessions table.
pub const KIND: &str = "nova_sonic_stream";
/// Maya's voice when `NOVA_SONIC_VOICE` is unset.
pub const DEFAULT_VOICE: &str = "tiffany";
/// The hidden cue that makes Maya open the test.
pub const OPENING_TURN: &str = crate::speaking::owner::OPENING_TURN;

/// The function's configuration, from the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamConfig {
    /// `SESSIONS_TABLE`.
    pub sessions_table: String,
    /// `RELAY_TABLE`.
    pub relay_table: String,
    /// `ASSESSMENTS_TABLE`: where transcripts go.
    pub assessments_table: String,
    /// `ALERTS_TOPIC_ARN`, if set.
    pub alerts_topic_arn: Option<String>,
    /// Model, voice, polling, TTL (`NOVA_SONIC_VOICE` defaults to [`DEFAULT_VOICE`]).
    pub sonic: SonicSettings,
}

impl StreamConfig {
    /// Reads the environment; names a missing table.
    pub fn from_env() -> Result<Self, ConfigError> {
        let vars = EnvVars::process();
        Ok(Self {
            sessions_table: vars.required("SESSIONS_TABLE")?,
            relay_table: vars.required("RELAY_TABLE")?,
            assessments_table: vars.required("ASSESSMENTS_TABLE")?,
            alerts_topic_arn: vars.optional("ALERTS_TOPIC_ARN"),
            sonic: SonicSettings::from_vars(DEFAULT_VOICE, &vars),
        })
    }
}

/// The function's dependencies, built once per instance.
#[derive(Debug)]
pub struct StreamDeps {
    /// Sessions table, relay table, management API.
    pub owner: OwnerClients,
    /// Bedrock Runtime.
    pub bedrock: aws_sdk_bedrockruntime::Client,
    /// The alerts topic (`ALERTS_TOPIC_ARN`), if set: model failures.
    pub alerts: Option<Alerts>,
    /// DynamoDB, for the assessments table.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// `ASSESSMENTS_TABLE`: where transcripts go.
    pub assessments_table: String,
    /// Model, voice, polling, TTL.
    pub settings: SonicSettings,
}

/// Handles one event.
pub async fn handle(
    deps: &StreamDeps,
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error> {
    route(KIND, &deps.owner, event, async |message| {
        on_message(deps, message).await
    })
    .await
}

async fn on_message(deps: &StreamDeps, message: Message<'_>) -> Result<(), Error> {
    let item = match messages::parse(&message.body) {
        Err(problem) => {
            message.peer.tell(&messages::error(&problem)).await;
            return Ok(());
        }
        Ok(ClientMessage::Start { user_id }) => {
            return start(deps, &message.peer, &user_id, message.deadline).await;
        }
        Ok(ClientMessage::Audio { samples }) => RelayItem::Audio(audio::pcm_bytes(&samples)),
        Ok(ClientMessage::Text { text }) => RelayItem::Text(text),
        Ok(ClientMessage::End) => RelayItem::End,
    };
    Ok(message.hand_to_owner(&item, messages::error).await?)
}

async fn start(
    deps: &StreamDeps,
    peer: &Peer<'_>,
    user_id: &str,
    deadline: Instant,
) -> Result<(), Error> {
    let now = now_epoch_s();
    let session = Session::active(
        KIND,
        peer.connection_id,
        user_id,
        now,
        deps.settings.session_ttl_seconds,
        HashMap::from([("model".to_owned(), deps.settings.model_id.clone())]),
    );
    let mut alert_details = Map::new();
    alert_details.insert("userId".to_owned(), json!(user_id));
    alert_details.insert("sessionId".to_owned(), json!(session.session_id));
    alert_details.insert("connectionId".to_owned(), json!(peer.connection_id));
    let outcome = session::start(Start {
        clients: &deps.owner,
        bedrock: &deps.bedrock,
        settings: &deps.settings,
        alerts: deps.alerts.as_ref(),
        endpoint: peer.endpoint.to_owned(),
        session: session.clone(),
        system_prompt: crate::speaking::owner::EXAMINER_INSTRUCTIONS.to_owned(),
        ready: messages::session_ready(&session.session_id, &deps.settings.model_id),
        presenter: &MayaPresenter,
        alert_label: "IELTS nova-sonic-stream".to_owned(),
        alert_details,
        watch_distress: false,
        opening_turn: Some(OPENING_TURN.to_owned()),
        deadline,
        error_message: messages::error,
    })
    .await?;
    let Some(outcome) = outcome else {
        return Ok(());
    };
    let transcript_id = format!(
        "nova-sonic-{}-{}",
        peer.connection_id.trim_end_matches('='),
        session.created_at
    );
    let record = transcript_record(&transcript_id, &session, &deps.settings.model_id, &outcome);
    if let Err(e) = store(deps, &record).await {
        tracing::error!(session = %session.session_id, "storing the transcript failed: {e}");
    }
    session::conclude(
        &deps.owner.sessions,
        &session.session_id,
        &outcome,
        &[("transcript_id", transcript_id.clone())],
    )
    .await;
    match &outcome.ending {
        Ending::Completed | Ending::TimeLimit => {
            peer.tell(&messages::session_ended(&outcome.ending, &transcript_id))
                .await
        }
        Ending::Failed(error) => peer.tell(&messages::error(client_error(error))).await,
        Ending::Disconnected(_) | Ending::Gone => {}
    }
    Ok(())
}

/// The stored item: the transcript in seed 000's speaker terms (examiner,
/// candidate), with usage and how the session ended; never audio.
pub fn transcript_record(
    transcript_id: &str,
    session: &Session,
    model: &str,
    outcome: &Outcome,
) -> Value {
    let transcript: Vec<Value> = outcome
        .lines
        .iter()
        .map(|line| {
            let speaker = if line.role == Role::Assistant {
                "examiner"
            } else {
                "candidate"
            };
            let mut entry = json!({"speaker": speaker, "text": line.text});
            if line.interrupted {
                entry["interrupted"] = json!(true);
            }
            entry
        })
        .collect();
    json!({
        "assessment_id": transcript_id,
        "session_id": session.session_id,
        "user_id": session.user_id,
        "timestamp": now_rfc3339(),
        "type": "speaking_conversation",
        "model": model,
        "ended_by": outcome.ending.label(),
        "streams": outcome.streams,
        "duration_seconds": (outcome.duration.as_secs_f64() * 10.0).round() / 10.0,
        "usage": outcome.usage,
        "transcript": transcript,
    })
}

async fn store(deps: &StreamDeps, record: &Value) -> Result<(), String> {
    let item = dynamo_json::to_item(record.as_object().ok_or("a record is an object")?);
    deps.dynamodb
        .put_item()
        .table_name(&deps.assessments_table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(assessment_id)")
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nova_sonic::output::TokenTotals;
    use crate::nova_sonic::turns::TranscriptLine;
    use crate::session_owner::session_item::SessionStatus;

    #[test]
    fn transcripts_use_examiner_and_candidate() {
        let session = Session {
            session_id: "nova_sonic_stream#c=".into(),
            kind: KIND.into(),
            connection_id: "c=".into(),
            user_id: "cand-1".into(),
            status: SessionStatus::Completed,
            created_at: 5,
            expires_at: 6,
            details: HashMap::new(),
        };
        let outcome = Outcome {
            ending: Ending::TimeLimit,
            lines: vec![
                TranscriptLine {
                    role: Role::Assistant,
                    text: "Where do you live?".into(),
                    spoken: false,
                    interrupted: true,
                },
                TranscriptLine {
                    role: Role::User,
                    text: "In Porto.".into(),
                    spoken: true,
                    interrupted: false,
                },
            ],
            usage: TokenTotals::default(),
            streams: 2,
            duration: std::time::Duration::from_secs(3),
        };
        let record = transcript_record("t-1", &session, "amazon.nova-2-sonic-v1:0", &outcome);
        assert_eq!(record["type"], "speaking_conversation");
        assert_eq!(record["ended_by"], "time_limit");
        assert_eq!(
            record["transcript"],
            json!([
                {"speaker": "examiner", "text": "Where do you live?", "interrupted": true},
                {"speaker": "candidate", "text": "In Porto."}
            ])
        );
    }
}
