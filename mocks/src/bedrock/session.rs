//! One Nova Sonic session's model side: consumes decoded input events, and
//! plays each assistant turn (USER transcript, SPECULATIVE text, paced audio,
//! FINAL text, usage), with barge-in, the stream's time limit and injected
//! faults. Frames go to the response body through a channel.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use super::answers::{Persona, Reply};
use super::conversation::{Conversation, Effect};
use super::events::{CompletionIds, InputEvent, SonicTokens, Stage};
use super::eventstream::{StreamException, encode_event, encode_exception};
use super::state::{BedrockFault, Shared, StreamState, TranscriptLine};
use crate::speech;
use crate::token_rules::{self, Provider};

/// How long a Nova Sonic stream may live (scenario time).
pub(crate) const STREAM_LIMIT: Duration = Duration::from_secs(8 * 60);

/// The message of the timeout exception.
pub(crate) const TIMEOUT_MESSAGE: &str =
    "Model has timed out in processing the request. Try your request again.";

/// The textOutput content that marks a barge-in.
pub(crate) const INTERRUPTED_MARKER: &str = "{ \"interrupted\" : true }";

/// Audio per `audioOutput` event.
const CHUNK: Duration = Duration::from_millis(100);

/// Why a session stopped.
#[derive(Debug)]
enum Stop {
    /// sessionEnd or end of input, all turns played.
    Finished,
    /// The client stopped reading.
    Gone,
    /// The stream's time limit.
    TimedOut,
    /// An exception frame ends the stream.
    Exception(StreamException, String),
}

#[derive(Debug)]
enum Phase {
    /// Waiting (injected latency) before the assistant starts.
    Waiting { until: Instant },
    /// Sending audio, paced at real time divided by the time scale.
    Speaking {
        audio_id: String,
        samples: Vec<i16>,
        sent: usize,
        started: Instant,
        next_at: Instant,
    },
}

#[derive(Debug)]
struct Turn {
    reply: Reply,
    phase: Phase,
}

impl Turn {
    fn wake_at(&self) -> Instant {
        match &self.phase {
            Phase::Waiting { until } => *until,
            Phase::Speaking { next_at, .. } => *next_at,
        }
    }
}

/// The model side of one stream.
pub(crate) struct Session {
    /// The mock's state: transcript catalog, stream records, usage.
    shared: Arc<Shared>,
    /// This stream's position in `shared`'s stream list.
    index: usize,
    /// The model id, for usage accounting.
    model: String,
    /// Sent as `sessionId` in every output event.
    session_id: String,
    /// Encoded frames to the response body; a send error means the client left.
    out: mpsc::Sender<Bytes>,
    /// The input side: protocol checks, VAD, user turns.
    conversation: Conversation,
    /// Decides the answers (from the system prompt once it arrives).
    persona: Persona,
    /// Set with `completionStart`, at the first output.
    ids: Option<CompletionIds>,
    /// Answers waiting for the assistant's voice to be free.
    queue: VecDeque<Reply>,
    /// The answer being played.
    active: Option<Turn>,
    /// Assistant audio sent so far (speech output tokens).
    output_audio: Duration,
    /// Assistant text tokens so far.
    output_text_tokens: u64,
    /// The totals at the last usageEvent (the next one reports the delta).
    reported: SonicTokens,
    /// Injected delay before each assistant turn (already scaled).
    latency: Duration,
    /// When the stream times out (8 minutes or the injected timeout, scaled).
    deadline: Instant,
    /// Injected: a validationException at the first input event.
    fail_first_event: bool,
    /// Injected: an exception when the first assistant turn starts.
    fail_first_turn: Option<StreamException>,
    /// Injected: a modelStreamErrorException after the first audio chunk.
    fail_mid_turn: bool,
}

impl Session {
    /// A session for stream `index` of `shared`, with the faults taken for it.
    pub(crate) fn new(
        shared: Arc<Shared>,
        index: usize,
        model: String,
        session_id: String,
        faults: &[BedrockFault],
        out: mpsc::Sender<Bytes>,
    ) -> Self {
        let now = Instant::now();
        let mut limit = shared.scaled(STREAM_LIMIT);
        let mut latency = Duration::ZERO;
        let mut fail_first_event = false;
        let mut fail_first_turn = None;
        let mut fail_mid_turn = false;
        for fault in faults {
            match fault {
                BedrockFault::ModelTimeout { after_ms } => {
                    limit = limit.min(shared.scaled(Duration::from_millis(*after_ms)));
                }
                BedrockFault::Latency { ms } => {
                    latency += shared.scaled(Duration::from_millis(*ms))
                }
                BedrockFault::Validation { .. } => fail_first_event = true,
                BedrockFault::Throttling { .. } => {
                    fail_first_turn = Some(StreamException::Throttling);
                }
                BedrockFault::InternalError { .. } => {
                    fail_first_turn = Some(StreamException::InternalServer);
                }
                BedrockFault::StreamError => fail_mid_turn = true,
                BedrockFault::AccessDenied => {}
            }
        }
        Self {
            shared,
            index,
            model,
            session_id,
            out,
            conversation: Conversation::new(),
            persona: Persona::from_system_prompt(""),
            ids: None,
            queue: VecDeque::new(),
            active: None,
            output_audio: Duration::ZERO,
            output_text_tokens: 0,
            reported: SonicTokens::default(),
            latency,
            deadline: now + limit,
            fail_first_event,
            fail_first_turn,
            fail_mid_turn,
        }
    }

    /// Runs until the session ends, then records how it ended.
    pub(crate) async fn run(mut self, mut events: mpsc::Receiver<Result<InputEvent, String>>) {
        let stop = self.drive(&mut events).await;
        drop(events);
        let (state, error) = match stop {
            Stop::Finished => (StreamState::Ended, None),
            Stop::Gone => (StreamState::Disconnected, None),
            Stop::TimedOut => {
                let _ = self
                    .out
                    .send(encode_exception(
                        StreamException::ModelTimeout,
                        TIMEOUT_MESSAGE,
                    ))
                    .await;
                (
                    StreamState::TimedOut,
                    Some(format!("modelTimeoutException: {TIMEOUT_MESSAGE}")),
                )
            }
            Stop::Exception(kind, message) => {
                let _ = self.out.send(encode_exception(kind, &message)).await;
                (
                    StreamState::Failed,
                    Some(format!("{}: {message}", kind.wire_name())),
                )
            }
        };
        let unreported = self.totals().since(&self.reported);
        let mut shared = self.shared.lock();
        shared.add_sonic_usage(&self.model, self.index, &unreported);
        let info = &mut shared.streams[self.index];
        info.state = state;
        info.error = error;
    }

    async fn drive(&mut self, events: &mut mpsc::Receiver<Result<InputEvent, String>>) -> Stop {
        let mut input_open = true;
        let mut completion_ended = false;
        loop {
            if self.active.is_none() && self.queue.is_empty() {
                let session_over = !input_open || self.conversation.ended();
                if !completion_ended && (session_over || self.conversation.prompt_ended()) {
                    if let Err(stop) = self.finish().await {
                        return stop;
                    }
                    completion_ended = true;
                }
                if session_over {
                    return Stop::Finished;
                }
            }
            let wake = self.active.as_ref().map(Turn::wake_at);
            let step = tokio::select! {
                biased;
                () = self.shared.shutdown.cancelled() => Err(Stop::Gone),
                () = sleep_until(self.deadline) => Err(Stop::TimedOut),
                () = sleep_until_some(wake) => self.advance().await,
                event = events.recv(), if input_open => match event {
                    None => {
                        input_open = false;
                        Ok(())
                    }
                    Some(Err(message)) => Err(Stop::Exception(StreamException::Validation, message)),
                    Some(Ok(event)) => self.on_input(event).await,
                },
            };
            if let Err(stop) = step {
                return stop;
            }
        }
    }

    async fn emit(&self, event: Value) -> Result<(), Stop> {
        self.out
            .send(encode_event(&event))
            .await
            .map_err(|_| Stop::Gone)
    }

    fn new_id(&self) -> String {
        self.shared.lock().new_id(2)
    }

    fn record(&self, line: TranscriptLine) {
        let mut shared = self.shared.lock();
        let info = &mut shared.streams[self.index];
        if line.role == "USER" {
            info.turns += 1;
        }
        info.transcripts.push(line);
    }

    async fn on_input(&mut self, event: InputEvent) -> Result<(), Stop> {
        if self.fail_first_event {
            return Err(Stop::Exception(
                StreamException::Validation,
                "Invalid input request (injected fault).".into(),
            ));
        }
        let shared = Arc::clone(&self.shared);
        let recognize = move |speech: Duration| shared.lock().catalog.recognize(speech);
        let effects = self
            .conversation
            .apply(event, &recognize)
            .map_err(|e| Stop::Exception(StreamException::Validation, e.0))?;
        for effect in effects {
            match effect {
                Effect::SystemPrompt(prompt) => {
                    self.persona = Persona::from_system_prompt(&prompt);
                    self.shared.lock().streams[self.index].system_prompt = prompt;
                }
                Effect::SpeechStarted => {
                    if matches!(
                        self.active,
                        Some(Turn {
                            phase: Phase::Speaking { .. },
                            ..
                        })
                    ) {
                        self.complete_turn(true).await?;
                    }
                }
                Effect::UserTurn { text, .. } => self.user_turn(text).await?,
                Effect::SessionEnded => {}
            }
        }
        Ok(())
    }

    async fn ids(&mut self) -> Result<CompletionIds, Stop> {
        if let Some(ids) = &self.ids {
            return Ok(ids.clone());
        }
        let ids = CompletionIds {
            session_id: self.session_id.clone(),
            prompt_name: self
                .conversation
                .prompt_name()
                .unwrap_or_default()
                .to_owned(),
            completion_id: self.new_id(),
        };
        self.ids = Some(ids.clone());
        self.emit(ids.completion_start()).await?;
        Ok(ids)
    }

    async fn user_turn(&mut self, text: String) -> Result<(), Stop> {
        let ids = self.ids().await?;
        let content = self.new_id();
        self.emit(ids.text_start(&content, "USER", Stage::Final))
            .await?;
        self.emit(ids.text_output(&content, "USER", &text)).await?;
        self.emit(ids.content_end(&content, "TEXT", "END_TURN"))
            .await?;
        let reply = self.persona.reply(&text);
        self.record(TranscriptLine {
            role: "USER".into(),
            text,
            interrupted: false,
            line: None,
            part: None,
        });
        let reply = match reply {
            Ok(reply) => reply,
            Err(overrun) => {
                self.shared.lock().streams[self.index].script_overruns += 1;
                return Err(Stop::Exception(
                    StreamException::ModelStreamError,
                    overrun.to_string(),
                ));
            }
        };
        self.queue.push_back(reply);
        if self.active.is_none() {
            self.start_next();
        }
        Ok(())
    }

    fn start_next(&mut self) {
        self.active = self.queue.pop_front().map(|reply| Turn {
            reply,
            phase: Phase::Waiting {
                until: Instant::now() + self.latency,
            },
        });
    }

    async fn advance(&mut self) -> Result<(), Stop> {
        let ids = self.ids().await?;
        match self.active.as_ref().map(|turn| &turn.phase) {
            None => Ok(()),
            Some(Phase::Waiting { .. }) => self.begin_speaking(&ids).await,
            Some(Phase::Speaking { .. }) => self.send_audio_chunk(&ids).await,
        }
    }

    /// SPECULATIVE text, then the AUDIO block opens.
    async fn begin_speaking(&mut self, ids: &CompletionIds) -> Result<(), Stop> {
        if let Some(kind) = self.fail_first_turn.take() {
            return Err(Stop::Exception(kind, exception_message(kind).into()));
        }
        let answer = match &self.active {
            Some(turn) => turn.reply.text.clone(),
            None => return Ok(()),
        };
        let text_id = self.new_id();
        let audio_id = self.new_id();
        self.emit(ids.text_start(&text_id, "ASSISTANT", Stage::Speculative))
            .await?;
        self.emit(ids.text_output(&text_id, "ASSISTANT", &answer))
            .await?;
        self.emit(ids.content_end(&text_id, "TEXT", "PARTIAL_TURN"))
            .await?;
        let rate = self.conversation.output_sample_rate();
        self.emit(ids.audio_start(&audio_id, rate)).await?;
        let now = Instant::now();
        if let Some(turn) = self.active.as_mut() {
            turn.phase = Phase::Speaking {
                audio_id,
                samples: speech::synthesize(&answer, rate),
                sent: 0,
                started: now,
                next_at: now,
            };
        }
        Ok(())
    }

    /// The next paced `audioOutput`; the turn completes after the last one.
    async fn send_audio_chunk(&mut self, ids: &CompletionIds) -> Result<(), Stop> {
        let rate = self.conversation.output_sample_rate();
        let chunk = (rate as usize * CHUNK.as_millis() as usize / 1000).max(1);
        let (event, done) = {
            let Some(Turn {
                phase:
                    Phase::Speaking {
                        audio_id,
                        samples,
                        sent,
                        started,
                        next_at,
                    },
                ..
            }) = self.active.as_mut()
            else {
                return Ok(());
            };
            let end = (*sent + chunk).min(samples.len());
            let event = ids.audio_output(audio_id, &samples[*sent..end]);
            *sent = end;
            *next_at = *started + self.shared.scaled(speech::duration_of(end, rate));
            (event, end >= samples.len())
        };
        self.emit(event).await?;
        if self.fail_mid_turn {
            return Err(Stop::Exception(
                StreamException::ModelStreamError,
                exception_message(StreamException::ModelStreamError).into(),
            ));
        }
        if done {
            self.complete_turn(false).await?;
        }
        Ok(())
    }

    /// Ends the speaking turn, normally or by barge-in, and reports usage.
    async fn complete_turn(&mut self, interrupted: bool) -> Result<(), Stop> {
        let Some(turn) = self.active.take() else {
            return Ok(());
        };
        let Phase::Speaking { audio_id, sent, .. } = turn.phase else {
            self.active = Some(turn);
            return Ok(());
        };
        let ids = self.ids().await?;
        let rate = self.conversation.output_sample_rate();
        self.output_audio += speech::duration_of(sent, rate);
        self.output_text_tokens += speech::text_tokens(&turn.reply.text);
        let stop_reason = if interrupted {
            "INTERRUPTED"
        } else {
            "END_TURN"
        };
        self.emit(ids.content_end(&audio_id, "AUDIO", stop_reason))
            .await?;
        let text_id = self.new_id();
        let final_text = if interrupted {
            INTERRUPTED_MARKER
        } else {
            turn.reply.text.as_str()
        };
        self.emit(ids.text_start(&text_id, "ASSISTANT", Stage::Final))
            .await?;
        self.emit(ids.text_output(&text_id, "ASSISTANT", final_text))
            .await?;
        self.emit(ids.content_end(&text_id, "TEXT", stop_reason))
            .await?;
        self.record(TranscriptLine {
            role: "ASSISTANT".into(),
            text: turn.reply.text,
            interrupted,
            line: turn.reply.line,
            part: turn.reply.part,
        });
        self.report_usage(&ids).await?;
        self.start_next();
        Ok(())
    }

    fn totals(&self) -> SonicTokens {
        let rules = token_rules::built_in(Provider::Bedrock);
        SonicTokens {
            speech_in: rules.audio_in_tokens(self.conversation.input_audio()),
            text_in: self.conversation.input_text_tokens(),
            speech_out: rules.audio_out_tokens(self.output_audio),
            text_out: self.output_text_tokens,
        }
    }

    async fn report_usage(&mut self, ids: &CompletionIds) -> Result<(), Stop> {
        let total = self.totals();
        let delta = total.since(&self.reported);
        self.shared
            .lock()
            .add_sonic_usage(&self.model, self.index, &delta);
        self.reported = total;
        self.emit(ids.usage(&delta, &total)).await
    }

    async fn finish(&mut self) -> Result<(), Stop> {
        let Some(ids) = self.ids.clone() else {
            return Ok(());
        };
        if self.totals() != self.reported {
            self.report_usage(&ids).await?;
        }
        self.emit(ids.completion_end("END_TURN")).await
    }
}

fn exception_message(kind: StreamException) -> &'static str {
    match kind {
        StreamException::Throttling => "Too many requests, please wait before trying again.",
        StreamException::InternalServer => {
            "The system encountered an unexpected error during processing. Try your request again."
        }
        StreamException::ModelStreamError => {
            "The model encountered an error while processing the stream. Try your request again."
        }
        StreamException::ServiceUnavailable => "Service unavailable. Try your request again.",
        StreamException::ModelTimeout => TIMEOUT_MESSAGE,
        StreamException::Validation => "Invalid input request.",
    }
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}
