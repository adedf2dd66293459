//! One Live connection: the setup handshake (model path, region, project,
//! resumption handle), then a loop over client messages, paced model-turn
//! frames, the session deadline (`goAway` before it, close 1011 at it) and
//! the session's faults; then the close (or a dropped socket) is recorded.
//! Written over any `Sink + Stream` of WebSocket messages.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde_json::Value;
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::listening::Listener;
use super::turn::{ModelTurn, OUTPUT_RATE, TurnFrame};
use crate::lifecycle;
use crate::vertex::client_messages::{ClientMessage, ParseError, Setup, parse_client_message};
use crate::vertex::faults::{FaultStage, Misbehaviour, VertexFault};
use crate::vertex::models;
use crate::vertex::server_messages as out;
use crate::vertex::state::{CloseRecord, VertexState};

/// How long the mock waits for the client's answer to its close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Vertex's reason when a session reaches its time limit.
const DEADLINE_REASON: &str = "Deadline expired before operation could complete.";

/// Why a connection ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum End {
    /// The mock closes with this code and reason.
    Close { code: u16, reason: String },
    /// The client closed (or vanished); `code` 1006 when without a close frame.
    Client { code: u16, reason: String },
    /// The mock drops the TCP connection without a close frame.
    Drop,
}

impl End {
    pub(crate) fn close(code: u16, reason: impl Into<String>) -> Self {
        Self::Close {
            code,
            reason: reason.into(),
        }
    }

    fn invalid(error: &ParseError) -> Self {
        Self::close(1007, error.to_string())
    }
}

/// The session's faults, taken when setup is accepted.
#[derive(Debug, Default, Clone)]
pub(crate) struct SessionFaults {
    pub(crate) latency: Duration,
    pub(crate) drop_after_turns: Option<u32>,
    pub(crate) close: Option<(u16, String)>,
    pub(crate) early_go_away: Option<(Duration, Duration)>,
    pub(crate) misbehave: Option<(Misbehaviour, u32)>,
}

impl SessionFaults {
    fn from_faults(faults: Vec<VertexFault>) -> Self {
        let mut taken = Self::default();
        for fault in faults {
            match fault {
                VertexFault::Latency { ms } => taken.latency += Duration::from_millis(ms),
                VertexFault::DropSocket { after_turns } => {
                    taken.drop_after_turns = Some(after_turns)
                }
                VertexFault::Close { code, reason } => taken.close = Some((code, reason)),
                VertexFault::EarlyGoAway {
                    after_ms,
                    time_left_ms,
                } => {
                    taken.early_go_away = Some((
                        Duration::from_millis(after_ms),
                        Duration::from_millis(time_left_ms),
                    ));
                }
                VertexFault::Misbehave { how, at_turn } => taken.misbehave = Some((how, at_turn)),
                _ => {}
            }
        }
        taken
    }
}

/// A connection past setup.
pub(crate) struct Connection<S> {
    pub(super) state: Arc<VertexState>,
    pub(super) ws: S,
    pub(super) session: usize,
    pub(super) setup: Setup,
    pub(super) faults: SessionFaults,
    pub(super) listener: Listener,
    pub(super) turn: Option<ModelTurn>,
    /// turnComplete messages sent on this connection.
    turns_sent: u32,
    go_away_at: Instant,
    go_away_left: Duration,
    go_away_sent: bool,
    deadline: Instant,
}

/// Serves one upgraded connection to the end and records how it ended.
pub(crate) async fn run<S>(state: Arc<VertexState>, region: String, mut ws: S)
where
    S: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin,
{
    let connected_at = Instant::now();
    match accept_setup(&state, &region, &mut ws, connected_at).await {
        Ok(mut connection) => {
            let end = connection.serve().await;
            // A turn cut short by the end of the connection is billed for
            // what it produced, as Vertex bills generated tokens.
            if let Some(turn) = connection.turn.take() {
                state.finish_model_turn(connection.session, &turn.planned, &turn.usage(), true);
            }
            // Recorded before the close handshake, so observers see it as soon as the client does.
            state.disconnect(connection.session, close_record(&end));
            tracing::debug!(%region, session = connection.session, ?end, "live connection ended");
            ws_finish(&mut connection.ws, &end).await;
        }
        Err(end) => {
            tracing::debug!(%region, ?end, "live connection refused at setup");
            ws_finish(&mut ws, &end).await;
        }
    }
}

fn close_record(end: &End) -> CloseRecord {
    match end {
        End::Close { code, reason } => CloseRecord {
            code: *code,
            reason: reason.clone(),
            by_server: true,
        },
        End::Client { code, reason } => CloseRecord {
            code: *code,
            reason: reason.clone(),
            by_server: false,
        },
        End::Drop => CloseRecord {
            code: 1006,
            reason: "dropped without a close frame".into(),
            by_server: true,
        },
    }
}

/// Sends the close frame (or drops the socket) as `end` says.
async fn ws_finish<S>(ws: &mut S, end: &End)
where
    S: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin,
{
    match end {
        End::Close { code, reason } => {
            let frame = CloseFrame {
                code: CloseCode::from(*code),
                reason: truncate_reason(reason).into(),
            };
            if ws.send(Message::Close(Some(frame))).await.is_ok() {
                // Wait for the client's close frame, then let the socket go.
                let _ = tokio::time::timeout(CLOSE_GRACE, async {
                    while let Some(Ok(message)) = ws.next().await {
                        if message.is_close() {
                            break;
                        }
                    }
                })
                .await;
            }
        }
        // tungstenite answers a received close frame on the next flush.
        End::Client { .. } => {
            let _ = ws.flush().await;
        }
        End::Drop => {}
    }
}

/// Close reasons are at most 123 bytes.
fn truncate_reason(reason: &str) -> String {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}

/// `projects/{P}/locations/{L}/publishers/google/models/{MODEL}`.
pub(crate) fn parse_model_path(model: &str) -> Option<(&str, &str, &str)> {
    let parts: Vec<&str> = model.split('/').collect();
    match parts.as_slice() {
        [
            "projects",
            project,
            "locations",
            location,
            "publishers",
            "google",
            "models",
            name,
        ] if !project.is_empty() && !location.is_empty() && !name.is_empty() => {
            Some((project, location, name))
        }
        _ => None,
    }
}

fn client_end(frame: Option<CloseFrame>) -> End {
    match frame {
        Some(frame) => End::Client {
            code: u16::from(frame.code),
            reason: frame.reason.to_string(),
        },
        None => End::Client {
            code: 1005,
            reason: String::new(),
        },
    }
}

async fn send_json<S>(ws: &mut S, value: &Value) -> Result<(), End>
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    ws.send(Message::text(value.to_string()))
        .await
        .map_err(|_| End::Client {
            code: 1006,
            reason: "connection lost".into(),
        })
}

/// Waits for the setup message and accepts or refuses it.
async fn accept_setup<'ws, S>(
    state: &Arc<VertexState>,
    region: &str,
    ws: &'ws mut S,
    connected_at: Instant,
) -> Result<Connection<&'ws mut S>, End>
where
    S: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin,
{
    let limit = connected_at + state.scaled(state.config.session_limit);
    let first = tokio::select! {
        message = next_payload(ws) => message?,
        _ = sleep_until(limit) => return Err(End::close(1011, DEADLINE_REASON)),
        _ = state.shutdown.cancelled() => return Err(End::close(1001, "server shutting down")),
    };
    let setup = match parse_client_message(&first) {
        Ok(ClientMessage::Setup(setup)) => setup,
        Ok(_) => {
            return Err(End::close(
                1007,
                "Invalid request: the first message must be a setup message.",
            ));
        }
        Err(error) => return Err(End::invalid(&error)),
    };
    let Some((project, location, model)) = parse_model_path(&setup.model) else {
        return Err(End::close(
            1007,
            format!(
                "Invalid model name \"{}\": expected projects/{{project}}/locations/{{location}}/publishers/google/models/{{model}}.",
                setup.model
            ),
        ));
    };
    if location != region {
        return Err(End::close(
            1007,
            format!(
                "Location \"{location}\" in the model name does not match the endpoint location \"{region}\"."
            ),
        ));
    }
    if project != state.config.project && project != state.account.project_id() {
        return Err(End::close(
            1008,
            format!("Permission denied on resource project {project}."),
        ));
    }
    match models::admit(model, models::Family::Live, lifecycle::today()) {
        Ok(()) => {}
        Err(models::Refusal::Retired { .. }) => {
            return Err(End::close(
                1007,
                format!("{model} is not supported in the live api."),
            ));
        }
        Err(models::Refusal::Unknown) => {
            return Err(End::close(
                1008,
                format!(
                    "Publisher Model `{}` was not found or your project does not have access to it.",
                    setup.model
                ),
            ));
        }
    }
    let session = match &setup.resume_handle {
        Some(handle) => state
            .resume_session(handle, region)
            .ok_or_else(|| End::close(1007, "Invalid session resumption handle."))?,
        None => state.create_session(region, &setup.model),
    };
    if let Some(text) = &setup.system_instruction {
        state.with_conversation(session, |c| c.set_system_instruction(text));
    }
    state.with_conversation(session, |c| c.set_compression(setup.compression));
    send_json(ws, &out::setup_complete()).await?;
    let faults = SessionFaults::from_faults(state.faults().take(FaultStage::Session, region));
    if let Some((how, at_turn)) = faults.misbehave {
        state.with_conversation(session, |c| c.set_misbehaviour(how, at_turn));
    }
    let mut go_away_left = state.config.go_away_notice.min(state.config.session_limit);
    let mut go_away_at =
        connected_at + state.scaled(state.config.session_limit.saturating_sub(go_away_left));
    let mut deadline = limit;
    if let Some((after, time_left)) = faults.early_go_away {
        let early_go_away_at = connected_at + state.scaled(after);
        if early_go_away_at < go_away_at {
            go_away_at = early_go_away_at;
            go_away_left = time_left;
            deadline = deadline.min(early_go_away_at + state.scaled(time_left));
        }
    }
    Ok(Connection {
        state: state.clone(),
        listener: Listener::new(&setup),
        ws,
        session,
        setup,
        faults,
        turn: None,
        turns_sent: 0,
        go_away_at,
        go_away_left,
        go_away_sent: false,
        deadline,
    })
}

/// The next text or binary payload (pings are answered by tungstenite).
async fn next_payload<S>(ws: &mut S) -> Result<Vec<u8>, End>
where
    S: Stream<Item = Result<Message, WsError>> + Unpin,
{
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return Ok(text.as_bytes().to_vec()),
            Some(Ok(Message::Binary(bytes))) => return Ok(bytes.to_vec()),
            Some(Ok(Message::Close(frame))) => return Err(client_end(frame)),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => {
                return Err(End::Client {
                    code: 1006,
                    reason: "connection lost".into(),
                });
            }
        }
    }
}

impl<S> Connection<S>
where
    S: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin,
{
    /// Runs the connection until it ends.
    async fn serve(&mut self) -> End {
        if let Some((code, reason)) = self.faults.close.take() {
            return End::close(code, reason);
        }
        loop {
            if let Err(end) = self.step().await {
                return end;
            }
        }
    }

    async fn step(&mut self) -> Result<(), End> {
        let turn_due = self.turn.as_ref().and_then(ModelTurn::next_due);
        let far = Instant::now() + Duration::from_secs(86_400);
        tokio::select! {
            biased;
            _ = self.state.shutdown.cancelled() => Err(End::close(1001, "server shutting down")),
            _ = sleep_until(self.deadline) => Err(End::close(1011, DEADLINE_REASON)),
            _ = sleep_until(self.go_away_at), if !self.go_away_sent => {
                self.go_away_sent = true;
                let left = self.state.scaled(self.go_away_left);
                self.send(&out::go_away(left)).await
            }
            _ = sleep_until(turn_due.unwrap_or(far)), if turn_due.is_some() => {
                self.send_next_frame().await
            }
            payload = next_payload(&mut self.ws) => self.handle(&payload?).await,
        }
    }

    pub(super) async fn send(&mut self, value: &Value) -> Result<(), End> {
        send_json(&mut self.ws, value).await
    }

    async fn handle(&mut self, payload: &[u8]) -> Result<(), End> {
        match parse_client_message(payload).map_err(|e| End::invalid(&e))? {
            ClientMessage::Setup(_) => Err(End::close(
                1007,
                "Invalid request: setup must be sent once, as the first message.",
            )),
            ClientMessage::ClientContent(content) => {
                for text in &content.turns {
                    self.state
                        .with_conversation(self.session, |c| c.add_client_text(text));
                }
                if content.turn_complete {
                    self.user_text_turn_complete().await?;
                }
                Ok(())
            }
            ClientMessage::RealtimeInput(input) => self.realtime_input(input).await,
            ClientMessage::ToolResponse => Ok(()),
        }
    }

    /// Starts Maya's next line (cutting short one still being sent). Past
    /// the end of the script the connection closes with 1011 and a reason
    /// naming the cause: the mock never invents a line.
    pub(super) async fn start_model_turn(&mut self) -> Result<(), End> {
        if self.turn.is_some() {
            self.interrupt().await?;
        }
        let planned = match self.state.begin_model_turn(self.session) {
            None => return Ok(()),
            Some(Ok(planned)) => planned,
            Some(Err(overrun)) => {
                tracing::warn!(session = self.session, "{overrun}");
                return Err(End::close(1011, overrun.to_string()));
            }
        };
        let start_at = Instant::now() + self.state.scaled(self.faults.latency);
        self.turn = Some(ModelTurn::new(
            planned,
            self.setup.text_responses(),
            self.setup.output_transcription,
            start_at,
            self.state.config.time_scale,
        ));
        Ok(())
    }

    /// Barge-in: stop the turn, `interrupted`, then `turnComplete`.
    pub(super) async fn interrupt(&mut self) -> Result<(), End> {
        let Some(turn) = self.turn.take() else {
            return Ok(());
        };
        self.send(&out::interrupted()).await?;
        self.complete_turn(&turn, true).await
    }

    async fn send_next_frame(&mut self) -> Result<(), End> {
        let Some(turn) = self.turn.as_mut() else {
            return Ok(());
        };
        let message = match turn.pop() {
            Some(TurnFrame::Audio { base64, .. }) => out::model_audio(&base64, OUTPUT_RATE),
            Some(TurnFrame::Transcription(piece)) => out::output_transcription(&piece),
            Some(TurnFrame::Text(text)) => out::model_text(&text),
            None => return Ok(()),
        };
        let finished = turn.next_due().is_none();
        self.send(&message).await?;
        let Some(turn) = self.turn.take_if(|_| finished) else {
            return Ok(());
        };
        self.send(&out::generation_complete()).await?;
        self.complete_turn(&turn, false).await?;
        // A misbehaviour may start another turn at once (no user turn between).
        let follow_up = self
            .state
            .with_conversation(self.session, |c| c.follow_up(turn.planned.index))
            .unwrap_or(false);
        if follow_up {
            self.start_model_turn().await?;
        }
        Ok(())
    }

    /// `turnComplete` with usage, the resumption handle, the drop fault.
    async fn complete_turn(&mut self, turn: &ModelTurn, interrupted: bool) -> Result<(), End> {
        let usage = turn.usage();
        // Billed whether or not the client is still there to read turnComplete.
        self.state
            .finish_model_turn(self.session, &turn.planned, &usage, interrupted);
        self.send(&out::turn_complete(&usage)).await?;
        self.turns_sent += 1;
        if self.setup.session_resumption {
            let handle = self.state.new_handle(self.session);
            self.send(&out::session_resumption_update(&handle)).await?;
        }
        if self
            .faults
            .drop_after_turns
            .is_some_and(|after| self.turns_sent >= after)
        {
            return Err(End::Drop);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_paths() {
        assert_eq!(
            parse_model_path("projects/p/locations/us-central1/publishers/google/models/m"),
            Some(("p", "us-central1", "m"))
        );
        assert_eq!(parse_model_path("publishers/google/models/m"), None);
        assert_eq!(
            parse_model_path("projects//locations/l/publishers/google/models/m"),
            None
        );
    }

    #[test]
    fn reasons_fit_a_close_frame() {
        let long = "é".repeat(100);
        let cut = truncate_reason(&long);
        assert!(cut.len() <= 123 && long.starts_with(&cut));
    }
}
