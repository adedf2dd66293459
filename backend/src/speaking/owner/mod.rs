//! The session owner: the `start_speaking` invocation that holds the Gemini
//! Live session. It forwards relayed audio to the model, posts Maya's
//! transcript and audio to the client through `@connections`, keeps the
//! transcript of both sides, resumes the Live session across `goAway`, and
//! ends the session: on `end_speaking` (assessment), near its Lambda deadline
//! (assessment, with the reason told to the client), on `$disconnect` or a
//! 410 from the gateway (marked disconnected), or on a model failure.
//! Whatever happens, the relay items of the session are deleted at the end.
//! [`ending`] holds the end: the closing grace, the assessment, the outcome.

mod ending;

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

use super::Call;
use super::assessment::{Speaker, TranscriptLine};
use super::messages::{self, StartSpeaking};
use crate::clock::now_epoch_s;
use crate::management::ManagementError;
use crate::session_owner::deadline::{stop_margin, until_stop};
use crate::session_owner::relay::RelayItem;
use crate::session_owner::relay_inbox::RelayInbox;
use crate::session_owner::session_item::Session;
use crate::vertex::auth::ServiceAccount;
use crate::vertex::generate::GenerateUsage;
use crate::vertex::live::{LiveConfig, LiveEvent, LiveSession, LiveUsage};

/// Maya's instructions for the Live session.
pub(crate) const EXAMINER_INSTRUCTIONS: &str = "You are Maya, a warm and professional IELTS speaking \
examiner. Run a complete IELTS Speaking test of about 14 minutes: greet the candidate and check \
their name; Part 1 (4-5 minutes) asks about familiar topics such as home, work or studies; Part 2 \
gives a cue card, one minute to prepare and up to two minutes to speak; Part 3 (4-5 minutes) \
discusses more abstract questions linked to Part 2. Ask one question at a time, wait for the \
candidate to finish, never give scores or feedback during the test, and close the test politely.";

/// The turn that makes Maya start.
pub(crate) const OPENING_TURN: &str =
    "The candidate is ready. Please begin the IELTS speaking test now.";
/// Largest PCM piece per `maya_audio` message (keeps messages far below 128 KB).
const AUDIO_PIECE_BYTES: usize = 16_000;
/// How long to let Maya finish after the candidate ends.
const CLOSING_GRACE: Duration = Duration::from_secs(2);
/// A pause in the model's events that means it has nothing more to say.
const QUIET_ENOUGH: Duration = Duration::from_millis(250);
/// How a session ended.
#[derive(Debug, Clone, PartialEq)]
enum Ending {
    /// `end_speaking`.
    Completed,
    /// The Lambda deadline approached.
    TimeLimit,
    /// `$disconnect` (with its close code and reason).
    Disconnected(String),
    /// A post answered 410.
    Gone,
    /// The model failed.
    Failed(String),
}

enum Step {
    Continue,
    End(Ending),
}

/// Token totals of a session.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
struct Usage {
    live: LiveUsage,
    assessment: GenerateUsage,
}

/// The owner of one session.
pub(crate) struct Owner<'a> {
    call: &'a Call<'a>,
    session: Session,
    start: StartSpeaking,
    config: LiveConfig,
    account: ServiceAccount,
    deadline: Instant,
    margin: Duration,
    began: Instant,
    transcript: Vec<TranscriptLine>,
    examiner_buffer: String,
    candidate_buffer: String,
    usage: Usage,
    inbox: RelayInbox,
    resumptions: u32,
    /// A `goAway` came before any resumption handle: resume as soon as one arrives.
    resume_pending: bool,
    /// Whether the model turn in progress produced output.
    turn_ends: messages::TurnEnds,
}

impl<'a> Owner<'a> {
    /// An owner for a session whose Live connection is open.
    pub(crate) fn new(
        call: &'a Call<'a>,
        session: Session,
        start: StartSpeaking,
        config: LiveConfig,
        account: ServiceAccount,
        deadline: Instant,
    ) -> Self {
        // Room to assess and answer before the function's deadline.
        let margin = stop_margin(deadline);
        let inbox = RelayInbox::new(call.deps.owner.relay.clone(), session.session_id.clone())
            .with_settle(call.deps.settings.relay_settle);
        Self {
            call,
            session,
            start,
            config,
            account,
            deadline,
            margin,
            began: Instant::now(),
            transcript: Vec::new(),
            examiner_buffer: String::new(),
            candidate_buffer: String::new(),
            usage: Usage::default(),
            inbox,
            resumptions: 0,
            resume_pending: false,
            turn_ends: messages::TurnEnds::default(),
        }
    }

    /// Runs the session to its end.
    pub(crate) async fn run(mut self, live: LiveSession) {
        let mut live = live;
        let ending = match live.send_text_turn(OPENING_TURN).await {
            Err(e) => Ending::Failed(e.to_string()),
            Ok(()) => self.converse(&mut live).await,
        };
        tracing::info!(session = %self.session.session_id, ending = ?ending, "session ends");
        self.finish(live, ending).await;
    }

    async fn converse(&mut self, live: &mut LiveSession) -> Ending {
        let mut poll = tokio::time::interval(self.call.deps.settings.relay_poll);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stop_at = self
            .deadline
            .checked_sub(self.margin)
            .unwrap_or(self.deadline);
        let time_limit = || Step::End(Ending::TimeLimit);
        loop {
            let step = tokio::select! {
                biased;
                _ = tokio::time::sleep_until(stop_at.into()) => time_limit(),
                events = live.next_events() => {
                    let handled = async {
                        match events {
                            None => self.resume(live).await,
                            Some(events) => self.on_events(events, live).await,
                        }
                    };
                    until_stop(stop_at, handled, time_limit).await
                }
                _ = poll.tick() => until_stop(stop_at, self.drain_relay(live), time_limit).await,
            };
            if let Step::End(ending) = step {
                return ending;
            }
        }
    }

    async fn on_events(&mut self, events: Vec<LiveEvent>, live: &mut LiveSession) -> Step {
        for event in events {
            let step = match event {
                LiveEvent::InputTranscription(text) => {
                    self.candidate_buffer.push_str(&text);
                    Step::Continue
                }
                LiveEvent::OutputTranscription(text) => {
                    self.turn_ends.output();
                    self.flush_candidate();
                    self.examiner_buffer.push_str(&text);
                    self.post(&messages::maya_transcript(&text)).await
                }
                LiveEvent::Audio { pcm, rate } => {
                    self.turn_ends.output();
                    self.flush_candidate();
                    let mut step = Step::Continue;
                    for piece in pcm.chunks(AUDIO_PIECE_BYTES) {
                        let audio = base64::engine::general_purpose::STANDARD.encode(piece);
                        step = self.post(&messages::maya_audio(&audio, rate)).await;
                        if matches!(step, Step::End(_)) {
                            break;
                        }
                    }
                    step
                }
                LiveEvent::TurnComplete(usage) => {
                    self.flush_examiner();
                    if let Some(usage) = usage {
                        let total = &mut self.usage.live;
                        total.input_audio += usage.input_audio;
                        total.input_text += usage.input_text;
                        total.output_audio += usage.output_audio;
                        total.output_text += usage.output_text;
                    }
                    self.end_of_turn(false).await
                }
                LiveEvent::Interrupted => {
                    self.flush_examiner();
                    self.end_of_turn(true).await
                }
                LiveEvent::GenerationComplete => Step::Continue,
                LiveEvent::ResumptionHandle(handle) => {
                    self.config.resumption_handle = Some(handle);
                    if std::mem::take(&mut self.resume_pending) {
                        self.resume(live).await
                    } else {
                        Step::Continue
                    }
                }
                LiveEvent::GoAway(left) if self.config.resumption_handle.is_none() => {
                    // Nothing to resume with yet: go on until the model hands
                    // over a handle (at the end of its turn), then resume.
                    tracing::info!(session = %self.session.session_id, "goAway, {left:?} left: resuming at the next handle");
                    self.resume_pending = true;
                    Step::Continue
                }
                LiveEvent::GoAway(left) => {
                    tracing::info!(session = %self.session.session_id, "goAway, {left:?} left: resuming");
                    self.resume(live).await
                }
                LiveEvent::Closed { code, reason } => {
                    tracing::warn!(session = %self.session.session_id, code, reason = %reason, "Live socket closed");
                    self.resume(live).await
                }
            };
            if let Step::End(ending) = step {
                return Step::End(ending);
            }
        }
        Step::Continue
    }

    /// Opens a new Live connection with the last resumption handle.
    async fn resume(&mut self, live: &mut LiveSession) -> Step {
        if self.config.resumption_handle.is_none() {
            return Step::End(Ending::Failed(
                "the Live session ended and cannot be resumed".to_owned(),
            ));
        }
        let bearer = match self.account.bearer_token(now_epoch_s()) {
            Ok(bearer) => bearer,
            Err(e) => return Step::End(Ending::Failed(e.to_string())),
        };
        match LiveSession::connect(&self.config, &bearer).await {
            Ok(fresh) => {
                self.resumptions += 1;
                let old = std::mem::replace(live, fresh);
                old.close().await;
                Step::Continue
            }
            Err(e) => Step::End(Ending::Failed(format!("resumption failed: {e}"))),
        }
    }

    async fn drain_relay(&mut self, live: &mut LiveSession) -> Step {
        let items = match self.inbox.take().await {
            Ok(items) => items,
            Err(e) => {
                tracing::warn!(session = %self.session.session_id, "relay read failed: {e}");
                return Step::Continue;
            }
        };
        for item in items {
            match item {
                RelayItem::Audio(pcm) => {
                    if let Err(e) = live.send_audio(&pcm).await {
                        tracing::warn!("audio to Live failed: {e}");
                        if let Step::End(end) = self.resume(live).await {
                            return Step::End(end);
                        }
                    }
                }
                RelayItem::Text(text) => {
                    let _ = live.send_text_turn(&text).await;
                }
                RelayItem::End => return Step::End(Ending::Completed),
                RelayItem::Stop { reason } => return Step::End(Ending::Disconnected(reason)),
            }
        }
        Step::Continue
    }

    async fn post(&self, message: &Value) -> Step {
        match self.call.post(message).await {
            Ok(()) => Step::Continue,
            Err(ManagementError::Gone(_)) => Step::End(Ending::Gone),
            Err(e) => {
                tracing::warn!(session = %self.session.session_id, "post failed: {e}");
                Step::Continue
            }
        }
    }

    /// Tells the client a model turn that produced output is over
    /// (`maya_turn_complete`; `interrupted` when cut by barge-in).
    async fn end_of_turn(&mut self, interrupted: bool) -> Step {
        match self.turn_ends.end(interrupted) {
            Some(message) => self.post(&message).await,
            None => Step::Continue,
        }
    }

    fn flush_candidate(&mut self) {
        let text = std::mem::take(&mut self.candidate_buffer);
        if !text.trim().is_empty() {
            self.transcript.push(TranscriptLine {
                speaker: Speaker::Candidate,
                text: text.trim().to_owned(),
            });
        }
    }

    fn flush_examiner(&mut self) {
        self.flush_candidate();
        let text = std::mem::take(&mut self.examiner_buffer);
        if !text.trim().is_empty() {
            self.transcript.push(TranscriptLine {
                speaker: Speaker::Examiner,
                text: text.trim().to_owned(),
            });
        }
    }
}
