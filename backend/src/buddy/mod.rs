//! Buddy (seed 001): a patient's voice companion on Amazon Nova Sonic behind
//! an API Gateway WebSocket API (`BuddyWebSocketApi`, function
//! `buddy-nova-sonic-websocket-{env}`, binary `buddy`). Routes `$connect`,
//! `$disconnect`, `initSession`, `textInput`, `audioInput`, `endSession` and
//! `$default` (anything else, with a precise error).
//!
//! - `initSession {patientId}` loads the patient's context ([`patients`]);
//!   an unknown patient gets "Patient context not found" and no session.
//!   Otherwise it opens the Nova Sonic stream with the context as facts in
//!   the system prompt, answers `{"status":"initialized","patientName":...}`
//!   and **owns** the session (the shared [`crate::nova_sonic::owner`]);
//! - `textInput {text}` and `audioInput {audio}` (base64 16 kHz PCM) are
//!   relayed to the owner; the client gets `textOutput` messages (ASSISTANT
//!   answers, USER transcripts of speech), `audioOutput` (24 kHz PCM) and
//!   `interrupted` on barge-in;
//! - `endSession` ends it (`sessionEnded`); `$disconnect` stops the owner.
//!
//! Only the transcript is stored (`CONVERSATIONS_TABLE`); SNS alerts go out
//! for model failures and for a patient who sounds in distress.

pub mod messages;
pub mod patients;

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
use crate::nova_sonic::session::{self, Start, client_error};
use crate::session_owner::peer::Peer;
use crate::session_owner::relay::RelayItem;
use crate::session_owner::route::{Message, OwnerClients, route};
use crate::session_owner::session_item::Session;
use messages::{BuddyPresenter, ClientMessage, errors};
use patients::{PatientError, PatientStore};

/// The session kind in the sessions table.
pub const KIND: &str = "buddy";
/// Buddy's voice when `NOVA_SONIC_VOICE` is unset.
pub const DEFAULT_VOICE: &str = "matthew";

/// The function's configuration, from the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct BuddyConfig {
    /// `SESSIONS_TABLE`.
    pub sessions_table: String,
    /// `RELAY_TABLE`.
    pub relay_table: String,
    /// `PATIENTS_TABLE`, `FAMILY_TABLE`, `ROUTINES_TABLE`.
    pub patient_tables: [String; 3],
    /// `CONVERSATIONS_TABLE`: transcripts.
    pub conversations_table: String,
    /// `ALERTS_TOPIC_ARN`, if set.
    pub alerts_topic_arn: Option<String>,
    /// Model, voice, polling, TTL (`NOVA_SONIC_VOICE` defaults to [`DEFAULT_VOICE`]).
    pub sonic: SonicSettings,
}

impl BuddyConfig {
    /// Reads the environment; names a missing table.
    pub fn from_env() -> Result<Self, ConfigError> {
        let vars = EnvVars::process();
        Ok(Self {
            sessions_table: vars.required("SESSIONS_TABLE")?,
            relay_table: vars.required("RELAY_TABLE")?,
            patient_tables: [
                vars.required("PATIENTS_TABLE")?,
                vars.required("FAMILY_TABLE")?,
                vars.required("ROUTINES_TABLE")?,
            ],
            conversations_table: vars.required("CONVERSATIONS_TABLE")?,
            alerts_topic_arn: vars.optional("ALERTS_TOPIC_ARN"),
            sonic: SonicSettings::from_vars(DEFAULT_VOICE, &vars),
        })
    }
}

/// The function's dependencies, built once per instance.
#[derive(Debug)]
pub struct BuddyDeps {
    /// Sessions table, relay table, management API.
    pub owner: OwnerClients,
    /// Patients, family and routines.
    pub patients: PatientStore,
    /// Bedrock Runtime.
    pub bedrock: aws_sdk_bedrockruntime::Client,
    /// The alerts topic (`ALERTS_TOPIC_ARN`), if set.
    pub alerts: Option<Alerts>,
    /// DynamoDB, for the conversations table.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// `CONVERSATIONS_TABLE`: transcripts.
    pub conversations_table: String,
    /// Model, voice, polling, TTL.
    pub settings: SonicSettings,
}

/// Handles one event.
pub async fn handle(
    deps: &BuddyDeps,
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error> {
    route(KIND, &deps.owner, event, async |message| {
        on_message(deps, message).await
    })
    .await
}

async fn on_message(deps: &BuddyDeps, message: Message<'_>) -> Result<(), Error> {
    let item = match messages::parse(&message.body) {
        Err(problem) => {
            message.peer.tell(&messages::error(&problem)).await;
            return Ok(());
        }
        Ok(ClientMessage::InitSession { patient_id }) => {
            return init_session(deps, &message.peer, &patient_id, message.deadline).await;
        }
        Ok(ClientMessage::TextInput { text }) => RelayItem::Text(text),
        Ok(ClientMessage::AudioInput { samples }) => RelayItem::Audio(audio::pcm_bytes(&samples)),
        Ok(ClientMessage::EndSession) => RelayItem::End,
    };
    Ok(message.hand_to_owner(&item, messages::error).await?)
}

async fn init_session(
    deps: &BuddyDeps,
    peer: &Peer<'_>,
    patient_id: &str,
    deadline: Instant,
) -> Result<(), Error> {
    let context = match deps.patients.load(patient_id).await {
        Ok(Some(context)) => context,
        Ok(None) => {
            tracing::info!(patient = %patient_id, "no such patient");
            peer.tell(&messages::error(errors::PATIENT_NOT_FOUND)).await;
            return Ok(());
        }
        Err(PatientError::Malformed { table, message }) => {
            tracing::error!(patient = %patient_id, table = %table, "patient data is malformed: {message}");
            peer.tell(&messages::error(errors::PATIENT_NOT_FOUND)).await;
            return Ok(());
        }
        Err(other) => return Err(other.into()),
    };
    let patient = &context.patient;
    let now = now_epoch_s();
    let session = Session::active(
        KIND,
        peer.connection_id,
        &patient.patient_id,
        now,
        deps.settings.session_ttl_seconds,
        HashMap::from([
            ("patient_name".to_owned(), patient.name.clone()),
            ("model".to_owned(), deps.settings.model_id.clone()),
        ]),
    );
    let mut alert_details = Map::new();
    alert_details.insert("patientId".to_owned(), json!(patient.patient_id));
    alert_details.insert("patientName".to_owned(), json!(patient.name));
    alert_details.insert("sessionId".to_owned(), json!(session.session_id));
    alert_details.insert("connectionId".to_owned(), json!(peer.connection_id));
    let started_at = now_rfc3339();
    let outcome = session::start(Start {
        clients: &deps.owner,
        bedrock: &deps.bedrock,
        settings: &deps.settings,
        alerts: deps.alerts.as_ref(),
        endpoint: peer.endpoint.to_owned(),
        session: session.clone(),
        system_prompt: patients::system_prompt(&context),
        ready: messages::initialized(&patient.name),
        presenter: &BuddyPresenter,
        alert_label: format!("Buddy, patient {} ({})", patient.name, patient.patient_id),
        alert_details,
        watch_distress: true,
        opening_turn: None,
        deadline,
        error_message: messages::error,
    })
    .await?;
    let Some(outcome) = outcome else {
        return Ok(());
    };
    let conversation_id = format!(
        "{}-{}",
        peer.connection_id.trim_end_matches('='),
        session.created_at
    );
    let record = conversation_record(
        &conversation_id,
        &session,
        &patient.name,
        &started_at,
        &deps.settings.model_id,
        &outcome,
    );
    if let Err(e) = store(deps, &record).await {
        tracing::error!(session = %session.session_id, "storing the conversation failed: {e}");
    }
    session::conclude(
        &deps.owner.sessions,
        &session.session_id,
        &outcome,
        &[("conversation_id", conversation_id)],
    )
    .await;
    match &outcome.ending {
        Ending::Completed | Ending::TimeLimit => {
            peer.tell(&messages::session_ended(&outcome.ending)).await
        }
        Ending::Failed(error) => peer.tell(&messages::error(client_error(error))).await,
        Ending::Disconnected(_) | Ending::Gone => {}
    }
    Ok(())
}

/// The stored conversation: who, when, how it ended, usage and the
/// transcript (never audio).
pub fn conversation_record(
    conversation_id: &str,
    session: &Session,
    patient_name: &str,
    started_at: &str,
    model: &str,
    outcome: &Outcome,
) -> Value {
    json!({
        "conversationId": conversation_id,
        "sessionId": session.session_id,
        "patientId": session.user_id,
        "patientName": patient_name,
        "startedAt": started_at,
        "endedAt": now_rfc3339(),
        "endedBy": outcome.ending.label(),
        "model": model,
        "streams": outcome.streams,
        "durationSeconds": (outcome.duration.as_secs_f64() * 10.0).round() / 10.0,
        "usage": outcome.usage,
        "transcript": outcome.lines,
    })
}

async fn store(deps: &BuddyDeps, record: &Value) -> Result<(), String> {
    let item = dynamo_json::to_item(record.as_object().ok_or("a record is an object")?);
    deps.dynamodb
        .put_item()
        .table_name(&deps.conversations_table)
        .set_item(Some(item))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nova_sonic::output::TokenTotals;
    use crate::nova_sonic::protocol::Role;
    use crate::nova_sonic::turns::TranscriptLine;
    use crate::session_owner::session_item::SessionStatus;

    #[test]
    fn the_record_holds_the_transcript_and_no_audio() {
        let session = Session {
            session_id: "buddy#abc=".into(),
            kind: KIND.into(),
            connection_id: "abc=".into(),
            user_id: "pt-001".into(),
            status: SessionStatus::Completed,
            created_at: 1,
            expires_at: 2,
            details: HashMap::new(),
        };
        let outcome = Outcome {
            ending: Ending::Completed,
            lines: vec![TranscriptLine {
                role: Role::User,
                text: "Who is Sarah?".into(),
                spoken: true,
                interrupted: false,
            }],
            usage: TokenTotals::default(),
            streams: 1,
            duration: std::time::Duration::from_millis(1234),
        };
        let record = conversation_record(
            "abc-1",
            &session,
            "John",
            "2025-01-01T00:00:00Z",
            "amazon.nova-2-sonic-v1:0",
            &outcome,
        );
        assert_eq!(record["patientId"], "pt-001");
        assert_eq!(record["endedBy"], "completed");
        assert_eq!(record["durationSeconds"], 1.2);
        assert_eq!(
            record["transcript"],
            json!([{"role": "USER", "text": "Who is Sarah?", "spoken": true}])
        );
    }
}
