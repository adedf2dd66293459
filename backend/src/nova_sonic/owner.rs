//! The owner of a Nova Sonic session, shared by Buddy (seed 001) and
//! `nova-sonic-stream` (seed 003): the invocation that opened the stream
//! keeps it, feeds it what later invocations relay (typed text, audio, end,
//! stop), posts what the model says to the client through `@connections`
//! (shaped by the API's [`Presenter`]), and keeps the transcript. It reopens
//! the stream with the conversation so far as history when Bedrock ends it at
//! its 8-minute limit (a question left unanswered is asked again), stops
//! before the Lambda deadline, raises SNS alerts for
//! model failures and (when asked) for a user in distress, and deletes every
//! relay item of the session at the end. Storing the transcript and the
//! final message are the API's job, from the returned [`Outcome`].

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::Endpointing;
use super::bidi_stream::{SonicError, SonicStream};
use super::output::{OutputEvent, TokenTotals};
use super::protocol::PromptSettings;
use super::turns::{Delivery, TranscriptLine, TurnTracker};
use crate::alerts::{Alert, AlertKind, Alerts, is_distress};
use crate::management::{Connections, ManagementError};
use crate::session_owner::deadline::{stop_margin, until_stop};
use crate::session_owner::relay::RelayItem;
use crate::session_owner::relay_inbox::RelayInbox;

/// Largest piece of PCM per audio message (far below API Gateway's 32 KB frames).
pub(crate) const AUDIO_PIECE_BYTES: usize = 16_000;
/// How long the model may take to finish its answer after the user ends.
const CLOSING_GRACE: Duration = Duration::from_secs(3);
/// Reopens in a row without an answered turn before the session fails.
const MAX_REOPEN_STREAK: u32 = 3;
/// How long `send()` may take when a stream opens.
pub(crate) const OPEN_TIMEOUT: Duration = Duration::from_secs(15);

/// How an API shows the model's output to its clients.
pub(crate) trait Presenter: Sync {
    /// The message for one delivery (audio arrives in pieces of at most
    /// [`AUDIO_PIECE_BYTES`]).
    fn present(&self, delivery: &Delivery) -> Value;
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The user ended it.
    Completed,
    /// The Lambda deadline approached.
    TimeLimit,
    /// `$disconnect` (close code and reason).
    Disconnected(String),
    /// A post answered 410 Gone.
    Gone,
    /// The model failed.
    Failed(SonicError),
}

impl Ending {
    /// The label stored with the transcript.
    pub fn label(&self) -> &'static str {
        match self {
            Ending::Completed => "completed",
            Ending::TimeLimit => "time_limit",
            Ending::Disconnected(_) | Ending::Gone => "disconnected",
            Ending::Failed(_) => "failed",
        }
    }
}

/// What a session leaves behind.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// How it ended.
    pub ending: Ending,
    /// The transcript (the only thing stored).
    pub lines: Vec<TranscriptLine>,
    /// Tokens over every stream.
    pub usage: TokenTotals,
    /// Streams opened (more than one after the 8-minute limit).
    pub streams: u32,
    /// How long the owner ran.
    pub duration: Duration,
}

/// Everything an owner needs.
pub(crate) struct OwnerSetup<'a> {
    /// Management API clients.
    pub connections: &'a Connections,
    /// The management endpoint of the client's API.
    pub endpoint: String,
    /// The client's connection.
    pub connection_id: String,
    /// Bedrock Runtime.
    pub bedrock: &'a aws_sdk_bedrockruntime::Client,
    /// `NOVA_SONIC_MODEL_ID`.
    pub model_id: String,
    /// The voice.
    pub voice_id: String,
    /// Turn detection, for models that take it.
    pub endpointing: Option<Endpointing>,
    /// The system prompt (kept for reopening).
    pub system_prompt: String,
    /// The session's relay items.
    pub inbox: RelayInbox,
    /// How often the relay is read.
    pub relay_poll: Duration,
    /// The invocation's deadline.
    pub deadline: Instant,
    /// Shapes the client's messages.
    pub presenter: &'a dyn Presenter,
    /// Where alerts go (none: no alerts).
    pub alerts: Option<&'a Alerts>,
    /// Who the alerts are about (`Buddy, patient John (pt-001)`).
    pub alert_label: String,
    /// Details every alert carries (session, patient, connection).
    pub alert_details: Map<String, Value>,
    /// Alert when what the user says sounds like distress.
    pub watch_distress: bool,
    /// A typed turn sent first and kept out of the transcript (makes the
    /// model speak first).
    pub opening_turn: Option<String>,
}

enum Step {
    Continue,
    End(Ending),
}

struct Owner<'a> {
    setup: OwnerSetup<'a>,
    stream: SonicStream,
    tracker: TurnTracker,
    streams: u32,
    /// Reopens since the last answered turn.
    reopen_streak: u32,
    answered_at_last_reopen: u32,
    margin: Duration,
}

/// Runs a session whose stream is open, to its end.
pub(crate) async fn run(setup: OwnerSetup<'_>, stream: SonicStream) -> Outcome {
    let began = Instant::now();
    let margin = stop_margin(setup.deadline);
    let mut owner = Owner {
        setup,
        stream,
        tracker: TurnTracker::new(),
        streams: 1,
        reopen_streak: 0,
        answered_at_last_reopen: 0,
        margin,
    };
    if let Some(text) = owner.setup.opening_turn.clone() {
        owner.tracker.hidden(&text);
        let _ = owner.stream.send_text_turn(&text);
    }
    let ending = owner.converse().await;
    tracing::info!(connection = %owner.setup.connection_id, ending = ?ending, streams = owner.streams, "Nova Sonic session ends");
    owner.finish(&ending).await;
    Outcome {
        ending,
        lines: owner.tracker.lines().to_vec(),
        usage: owner.tracker.usage(),
        streams: owner.streams,
        duration: began.elapsed(),
    }
}

impl Owner<'_> {
    async fn converse(&mut self) -> Ending {
        let mut poll = tokio::time::interval(self.setup.relay_poll);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stop_at = self
            .setup
            .deadline
            .checked_sub(self.margin)
            .unwrap_or(self.setup.deadline);
        let time_limit = || Step::End(Ending::TimeLimit);
        loop {
            let step = tokio::select! {
                biased;
                _ = tokio::time::sleep_until(stop_at.into()) => time_limit(),
                event = self.stream.next_event() => {
                    let handled = async {
                        match event {
                            Some(Ok(event)) => self.deliver(event).await,
                            Some(Err(SonicError::StreamLimit(message))) => self.reopen(SonicError::StreamLimit(message)).await,
                            Some(Err(error)) => Step::End(Ending::Failed(error)),
                            None => self.reopen(SonicError::Failed("the stream ended unexpectedly".to_owned())).await,
                        }
                    };
                    until_stop(stop_at, handled, time_limit).await
                }
                _ = poll.tick() => until_stop(stop_at, self.drain_relay(), time_limit).await,
            };
            if let Step::End(ending) = step {
                return ending;
            }
        }
    }

    async fn deliver(&mut self, event: OutputEvent) -> Step {
        for delivery in self.tracker.on_event(event) {
            if let Delivery::UserTranscript(text) = &delivery {
                self.watch(text).await;
            }
            let step = match delivery {
                Delivery::AssistantAudio(pcm) => {
                    let mut step = Step::Continue;
                    for piece in pcm.chunks(AUDIO_PIECE_BYTES) {
                        let message = self
                            .setup
                            .presenter
                            .present(&Delivery::AssistantAudio(piece.to_vec()));
                        step = self.post(&message).await;
                        if matches!(step, Step::End(_)) {
                            break;
                        }
                    }
                    step
                }
                other => {
                    let message = self.setup.presenter.present(&other);
                    self.post(&message).await
                }
            };
            if let Step::End(ending) = step {
                return Step::End(ending);
            }
        }
        Step::Continue
    }

    async fn drain_relay(&mut self) -> Step {
        let items = match self.setup.inbox.take().await {
            Ok(items) => items,
            Err(e) => {
                tracing::warn!(connection = %self.setup.connection_id, "relay read failed: {e}");
                return Step::Continue;
            }
        };
        for item in items {
            match item {
                RelayItem::Audio(pcm) => {
                    if let Err(e) = self.stream.send_audio(&pcm) {
                        tracing::warn!("audio to Nova Sonic failed: {e}");
                    }
                }
                RelayItem::Text(text) => {
                    self.tracker.typed(&text);
                    self.watch(&text).await;
                    if let Err(e) = self.stream.send_text_turn(&text) {
                        tracing::warn!("text to Nova Sonic failed: {e}");
                    }
                }
                RelayItem::End => return Step::End(Ending::Completed),
                RelayItem::Stop { reason } => return Step::End(Ending::Disconnected(reason)),
            }
        }
        Step::Continue
    }

    /// A new stream with the conversation so far, after the old one hit its limit.
    async fn reopen(&mut self, cause: SonicError) -> Step {
        let answered = self.tracker.answered_turns();
        if answered == self.answered_at_last_reopen && self.streams > 1 {
            self.reopen_streak += 1;
        } else {
            self.reopen_streak = 1;
        }
        self.answered_at_last_reopen = answered;
        if self.reopen_streak > MAX_REOPEN_STREAK {
            return Step::End(Ending::Failed(cause));
        }
        tracing::info!(connection = %self.setup.connection_id, "reopening the Nova Sonic stream ({cause})");
        let settings = PromptSettings::new(
            format!("prompt-{}", self.streams + 1),
            self.setup.voice_id.clone(),
        )
        .with_turn_detection(&self.setup.model_id, self.setup.endpointing);
        self.tracker.stream_reopened();
        let (history, unanswered) = self.tracker.resume();
        match SonicStream::open(
            self.setup.bedrock,
            &self.setup.model_id,
            settings,
            &self.setup.system_prompt,
            &history,
            OPEN_TIMEOUT,
        )
        .await
        {
            Ok(fresh) => {
                let old = std::mem::replace(&mut self.stream, fresh);
                old.close();
                self.streams += 1;
                for text in unanswered {
                    if let Err(e) = self.stream.send_text_turn(&text) {
                        tracing::warn!("text to Nova Sonic failed: {e}");
                    }
                }
                Step::Continue
            }
            Err(error) => Step::End(Ending::Failed(error)),
        }
    }

    async fn post(&self, message: &Value) -> Step {
        match self
            .setup
            .connections
            .post_json(&self.setup.endpoint, &self.setup.connection_id, message)
            .await
        {
            Ok(()) => Step::Continue,
            Err(ManagementError::Gone(_)) => Step::End(Ending::Gone),
            Err(e) => {
                tracing::warn!(connection = %self.setup.connection_id, "post failed: {e}");
                Step::Continue
            }
        }
    }

    /// A distress alert when the user's words call for one.
    async fn watch(&self, said: &str) {
        let Some(alerts) = self.setup.alerts else {
            return;
        };
        if !self.setup.watch_distress || !is_distress(said) {
            return;
        }
        let mut details = self.setup.alert_details.clone();
        details.insert("said".to_owned(), json!(said));
        alerts
            .send(&Alert {
                kind: AlertKind::PatientDistress,
                subject: format!("{}: may be in distress", self.setup.alert_label),
                details,
            })
            .await;
    }

    /// Lets the model finish its answer (its output keeps going to the client).
    async fn closing_grace(&mut self) {
        self.stream.end_input();
        let until = tokio::time::Instant::now() + CLOSING_GRACE.min(self.margin / 2);
        while let Ok(Some(Ok(event))) =
            tokio::time::timeout_at(until, self.stream.next_event()).await
        {
            let done = event == OutputEvent::CompletionEnd;
            if let Step::End(_) = self.deliver(event).await {
                break;
            }
            if done {
                break;
            }
        }
    }

    async fn finish(&mut self, ending: &Ending) {
        match ending {
            Ending::Completed | Ending::TimeLimit => self.closing_grace().await,
            Ending::Failed(error) => {
                tracing::error!(connection = %self.setup.connection_id, "Nova Sonic failed: {error}");
                if let Some(alerts) = self.setup.alerts {
                    let mut details = self.setup.alert_details.clone();
                    details.insert("model".to_owned(), json!(self.setup.model_id));
                    details.insert("error".to_owned(), json!(error.to_string()));
                    alerts
                        .send(&Alert {
                            kind: AlertKind::ModelFailure,
                            subject: format!("{}: Nova Sonic failed", self.setup.alert_label),
                            details,
                        })
                        .await;
                }
            }
            Ending::Disconnected(_) | Ending::Gone => {}
        }
        self.stream.end_input();
        // No audio outlives the session.
        self.setup.inbox.purge().await;
    }
}
