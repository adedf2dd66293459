//! Starting and concluding a Nova Sonic session, the same for both APIs:
//! refuse a second live session on the connection, open the stream (nothing
//! is recorded unless it opens), record the session, clear leftovers in the
//! relay, answer the API's ready message, then own the session
//! ([`super::owner`]); at the end, move the session item to its final status.

use std::time::Instant;

use serde_json::{Map, Value, json};

use super::SonicSettings;
use super::bidi_stream::{SonicError, SonicStream};
use super::owner::{self, Ending, OPEN_TIMEOUT, Outcome, OwnerSetup, Presenter};
use crate::alerts::{Alert, AlertKind, Alerts};
use crate::clock::now_epoch_s;
use crate::session_owner::TableError;
use crate::session_owner::peer::Peer;
use crate::session_owner::relay_inbox::RelayInbox;
use crate::session_owner::route::OwnerClients;
use crate::session_owner::session_item::{Session, SessionError, SessionStatus, Sessions};

/// The errors both Nova Sonic APIs send, verbatim.
pub(crate) mod errors {
    /// Seed 001's "Nova Sonic Errors": model access not granted or a wrong model id.
    pub const MODEL_NOT_AVAILABLE: &str = "Model not available";
    /// Bedrock throttled the stream.
    pub const MODEL_BUSY: &str =
        "Nova Sonic invocation failed: too many requests; please try again in a moment";
    /// Any other Nova Sonic failure.
    pub const MODEL_FAILED: &str = "Nova Sonic invocation failed; please start a new session";
    /// Input before the session starts (the speaking API's wording).
    pub const NO_ACTIVE_SESSION: &str = crate::session_owner::hand_off::NO_ACTIVE_SESSION;
    /// A second start on the same connection.
    pub const ALREADY_ACTIVE: &str = "Session already active";
}

/// What the client is told for a model failure.
pub(crate) fn client_error(error: &SonicError) -> &'static str {
    match error {
        SonicError::ModelNotAvailable(_) => errors::MODEL_NOT_AVAILABLE,
        SonicError::Throttled(_) => errors::MODEL_BUSY,
        _ => errors::MODEL_FAILED,
    }
}

/// Everything a start needs.
pub(crate) struct Start<'a> {
    /// Sessions table, relay table, management API.
    pub clients: &'a OwnerClients,
    /// Bedrock Runtime.
    pub bedrock: &'a aws_sdk_bedrockruntime::Client,
    /// Model, voice, polling, TTL.
    pub settings: &'a SonicSettings,
    /// Alerts topic, if any.
    pub alerts: Option<&'a Alerts>,
    /// The API's management endpoint.
    pub endpoint: String,
    /// The session to record (active, with its TTL).
    pub session: Session,
    pub system_prompt: String,
    /// The message that tells the client the session is ready.
    pub ready: Value,
    /// Shapes the model's output for the client.
    pub presenter: &'a dyn Presenter,
    /// Who alerts are about.
    pub alert_label: String,
    /// Details every alert carries.
    pub alert_details: Map<String, Value>,
    /// Alert on distress in what the user says.
    pub watch_distress: bool,
    /// A hidden typed turn that makes the model speak first.
    pub opening_turn: Option<String>,
    /// The invocation's deadline.
    pub deadline: Instant,
    /// How errors look to this API's clients.
    pub error_message: fn(&str) -> Value,
}

/// Starts and owns a session. `Ok(None)`: refused (the client was told
/// why); `Err`: a table failed (the client has been told nothing).
pub(crate) async fn start(start: Start<'_>) -> Result<Option<Outcome>, TableError> {
    let peer = Peer {
        connections: &start.clients.connections,
        endpoint: &start.endpoint,
        connection_id: &start.session.connection_id,
    };
    let session_id = start.session.session_id.clone();
    let now = now_epoch_s();
    if let Some(existing) = start.clients.sessions.get(&session_id).await?
        && existing.is_live(now)
    {
        peer.tell(&(start.error_message)(errors::ALREADY_ACTIVE))
            .await;
        return Ok(None);
    }
    let settings = start.settings.prompt("prompt-1");
    let stream = match SonicStream::open(
        start.bedrock,
        &start.settings.model_id,
        settings,
        &start.system_prompt,
        &[],
        OPEN_TIMEOUT,
    )
    .await
    {
        Ok(stream) => stream,
        Err(error) => {
            tracing::error!(session = %session_id, model = %start.settings.model_id, "Nova Sonic did not open: {error}");
            if let Some(alerts) = start.alerts {
                let mut details = start.alert_details.clone();
                details.insert("model".to_owned(), json!(start.settings.model_id));
                details.insert("error".to_owned(), json!(error.to_string()));
                alerts
                    .send(&Alert {
                        kind: AlertKind::ModelFailure,
                        subject: format!("{}: Nova Sonic failed", start.alert_label),
                        details,
                    })
                    .await;
            }
            peer.tell(&(start.error_message)(client_error(&error)))
                .await;
            return Ok(None);
        }
    };
    match start.clients.sessions.create(&start.session, now).await {
        Ok(()) => {}
        Err(SessionError::AlreadyActive) => {
            stream.close();
            peer.tell(&(start.error_message)(errors::ALREADY_ACTIVE))
                .await;
            return Ok(None);
        }
        Err(other) => {
            stream.close();
            return Err(other.into());
        }
    }
    // Leftovers of an earlier session on this connection must not leak in.
    start.clients.relay.purge(&session_id).await?;
    if peer.post(&start.ready).await.is_err() {
        stream.close();
        let _ = start
            .clients
            .sessions
            .transition(
                &session_id,
                SessionStatus::Active,
                SessionStatus::Disconnected,
                now,
                &[],
            )
            .await;
        return Ok(None);
    }
    let setup = OwnerSetup {
        connections: &start.clients.connections,
        endpoint: start.endpoint.clone(),
        connection_id: start.session.connection_id.clone(),
        bedrock: start.bedrock,
        model_id: start.settings.model_id.clone(),
        voice_id: start.settings.voice_id.clone(),
        endpointing: start.settings.endpointing,
        system_prompt: start.system_prompt,
        inbox: RelayInbox::new(start.clients.relay.clone(), session_id)
            .with_settle(start.settings.relay_settle),
        relay_poll: start.settings.relay_poll,
        deadline: start.deadline,
        presenter: start.presenter,
        alerts: start.alerts,
        alert_label: start.alert_label,
        alert_details: start.alert_details,
        watch_distress: start.watch_distress,
        opening_turn: start.opening_turn,
    };
    Ok(Some(owner::run(setup, stream).await))
}

/// Moves the session item to the status its ending calls for, with `extra`
/// attributes (the stored transcript's id). A session `$disconnect` already
/// moved is left as it is.
pub(crate) async fn conclude(
    sessions: &Sessions,
    session_id: &str,
    outcome: &Outcome,
    extra: &[(&str, String)],
) {
    let to = match &outcome.ending {
        Ending::Completed | Ending::TimeLimit => SessionStatus::Completed,
        Ending::Failed(_) => SessionStatus::Failed,
        Ending::Disconnected(_) | Ending::Gone => SessionStatus::Disconnected,
    };
    let mut attributes = vec![("ended_by", outcome.ending.label().to_owned())];
    attributes.extend(extra.iter().map(|(k, v)| (*k, v.clone())));
    match sessions
        .transition(
            session_id,
            SessionStatus::Active,
            to,
            now_epoch_s(),
            &attributes,
        )
        .await
    {
        Ok(()) | Err(SessionError::NotInState(_)) => {}
        Err(e) => tracing::warn!(session = %session_id, "final session status not stored: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_failures_map_to_the_seed_messages() {
        assert_eq!(
            client_error(&SonicError::ModelNotAvailable("403".into())),
            "Model not available"
        );
        assert_eq!(
            client_error(&SonicError::Throttled("429".into())),
            errors::MODEL_BUSY
        );
        assert_eq!(client_error(&SonicError::Closed), errors::MODEL_FAILED);
    }
}
