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
use chrono::Utc;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Map, Value, json};

use crate::alerts::Alerts;
use crate::audio;
use crate::dynamo_json;
use crate::management::{Connections, endpoint_for};
use crate::nova_sonic::SonicSettings;
use crate::nova_sonic::owner::{Ending, Outcome};
use crate::nova_sonic::protocol::Role;
use crate::nova_sonic::session::{self, Start, client_error};
use crate::ownership::{
    Peer, deadline_instant, disconnect_reason, hand_off_disconnect, now_epoch_s, ok_response,
};
use crate::relay::{Relay, RelayItem, order_key};
use crate::sessions::{Session, SessionStatus, Sessions};
use messages::{ClientMessage, MayaPresenter};

/// The session kind in the sessions table.
pub const KIND: &str = "nova_sonic_stream";
/// Maya's voice when `NOVA_SONIC_VOICE` is unset.
pub const DEFAULT_VOICE: &str = "tiffany";
/// The hidden cue that makes Maya open the test.
pub const OPENING_TURN: &str = "The candidate is ready. Please begin the IELTS speaking test now.";

/// The function's dependencies, built once per instance.
#[derive(Debug)]
pub struct StreamDeps {
    /// Sessions table.
    pub sessions: Sessions,
    /// Relay table.
    pub relay: Relay,
    /// Management API.
    pub connections: Connections,
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
    let deadline = deadline_instant(event.context.deadline);
    let request = event.payload;
    let context = &request.request_context;
    let route = context.route_key.clone().unwrap_or_default();
    let connection_id = context.connection_id.clone().unwrap_or_default();
    if route == "$connect" {
        return Ok(ok_response());
    }
    let endpoint = endpoint_for(context)?;
    let session_id = Session::id_for(KIND, &connection_id);
    if route == "$disconnect" {
        let order = order_key(context.request_time_epoch, "disconnect");
        let reason = disconnect_reason(context);
        hand_off_disconnect(&deps.sessions, &deps.relay, &session_id, &order, &reason).await?;
        return Ok(ok_response());
    }
    let peer = Peer {
        connections: &deps.connections,
        endpoint: &endpoint,
        connection_id: &connection_id,
    };
    let order = order_key(
        context.request_time_epoch,
        context.message_id.as_deref().unwrap_or_default(),
    );
    let relayed = match messages::parse(request.body.as_deref().unwrap_or_default()) {
        Err(problem) => {
            peer.tell(&messages::error(&problem)).await;
            None
        }
        Ok(ClientMessage::Start { user_id }) => {
            start(deps, &peer, &user_id, deadline).await?;
            None
        }
        Ok(ClientMessage::Audio { samples }) => Some(RelayItem::Audio(audio::pcm_bytes(&samples))),
        Ok(ClientMessage::Text { text }) => Some(RelayItem::Text(text)),
        Ok(ClientMessage::End) => Some(RelayItem::End),
    };
    if let Some(item) = relayed {
        session::hand_to_owner(
            &deps.sessions,
            &deps.relay,
            &peer,
            &session_id,
            &order,
            &item,
            messages::error,
        )
        .await?;
    }
    Ok(ok_response())
}

async fn start(
    deps: &StreamDeps,
    peer: &Peer<'_>,
    user_id: &str,
    deadline: Instant,
) -> Result<(), Error> {
    let now = now_epoch_s();
    let session = Session {
        session_id: Session::id_for(KIND, peer.connection_id),
        kind: KIND.to_owned(),
        connection_id: peer.connection_id.to_owned(),
        user_id: user_id.to_owned(),
        status: SessionStatus::Active,
        created_at: now,
        expires_at: now + deps.settings.session_ttl_seconds,
        details: HashMap::from([("model".to_owned(), deps.settings.model_id.clone())]),
    };
    let mut alert_details = Map::new();
    alert_details.insert("userId".to_owned(), json!(user_id));
    alert_details.insert("sessionId".to_owned(), json!(session.session_id));
    alert_details.insert("connectionId".to_owned(), json!(peer.connection_id));
    let outcome = session::start(Start {
        sessions: &deps.sessions,
        relay: &deps.relay,
        connections: &deps.connections,
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
        &deps.sessions,
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
        "timestamp": Utc::now().to_rfc3339(),
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
