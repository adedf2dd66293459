//! What the mock does with realtime input: received PCM is billed (silence
//! included) and fed to an energy-based voice activity detector timed in
//! samples; a finished utterance is "recognised" through the transcript
//! catalog, answered with `inputTranscription` and Maya's next line. Speech
//! that starts while Maya is talking interrupts her (barge-in). With manual
//! activity detection, `activityStart` / `activityEnd` delimit the turn
//! instead. During the Part 2 long turn utterances accumulate until the
//! [`LongTurnRule`] ends it; their transcription pieces are sent one
//! utterance late, so the last piece can carry `finished: true`. With the
//! `speak_over` misbehaviour one reply starts at the candidate's speech
//! start instead, and that utterance neither interrupts nor gets a reply.

use std::time::Duration;

use futures_util::{Sink, Stream};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::session::{Connection, End};
use crate::speech::{Vad, VadConfig, VadEvent, duration_of, pcm16_from_bytes};
use crate::vertex::client_messages::{AudioChunk, RealtimeInput, Setup};
use crate::vertex::script::LongTurnRule;
use crate::vertex::server_messages as out;

/// The close reason when a session without compression passes its audio
/// limit (kept under the 123 bytes a close reason may hold).
fn audio_limit_reason(limit: Duration) -> String {
    let seconds = limit.as_secs();
    let limit = if seconds.is_multiple_of(60) {
        format!("{} min", seconds / 60)
    } else {
        format!("{seconds} s")
    };
    format!("Session audio limit ({limit}) reached without contextWindowCompression.")
}

/// Voice activity and turn-taking state of one connection.
#[derive(Debug)]
pub(crate) struct Listener {
    /// Created at the first audio chunk, at its sample rate.
    vad: Option<Vad>,
    /// Silence that ends an utterance (`silenceDurationMs`, default 800 ms).
    silence_ms: u32,
    /// `automaticActivityDetection.disabled`.
    manual: bool,
    /// Between `activityStart` and `activityEnd`.
    activity_open: bool,
    /// Speech heard in the open activity.
    activity_speech: Duration,
    /// Audio received in the open activity.
    activity_audio: Duration,
    /// Audio-clock end of the last utterance (for the long-turn pause).
    last_speech_end: Option<Duration>,
    /// Long-turn transcription piece not sent yet.
    held_piece: Option<String>,
    /// Long-turn pieces sent so far.
    pieces_sent: usize,
    /// The reply to the current utterance already started at its speech
    /// start (the `speak_over` misbehaviour).
    spoken_over: bool,
    rule: LongTurnRule,
}

impl Listener {
    pub(crate) fn new(setup: &Setup) -> Self {
        Self {
            vad: None,
            silence_ms: setup
                .silence_duration_ms
                .unwrap_or(VadConfig::default().silence_ms)
                .max(1),
            manual: setup.manual_activity,
            activity_open: false,
            activity_speech: Duration::ZERO,
            activity_audio: Duration::ZERO,
            last_speech_end: None,
            held_piece: None,
            pieces_sent: 0,
            spoken_over: false,
            rule: LongTurnRule::default(),
        }
    }

    /// The detector for `sample_rate` (a new one if the rate changed).
    fn vad_for(&mut self, sample_rate: u32) -> &mut Vad {
        let stale = self
            .vad
            .as_ref()
            .is_none_or(|vad| vad.config().sample_rate != sample_rate);
        if stale {
            self.last_speech_end = None;
        }
        let silence_ms = self.silence_ms;
        let vad = self.vad.take().filter(|_| !stale).unwrap_or_else(|| {
            Vad::new(VadConfig {
                sample_rate,
                silence_ms,
                ..VadConfig::default()
            })
        });
        self.vad.insert(vad)
    }
}

impl<S> Connection<S>
where
    S: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin,
{
    pub(super) async fn realtime_input(&mut self, input: RealtimeInput) -> Result<(), End> {
        if input.activity_start {
            self.activity_start().await?;
        }
        for chunk in input.audio {
            self.audio(chunk).await?;
        }
        if let Some(text) = input.text {
            self.state
                .with_conversation(self.session, |c| c.add_client_text(&text));
            self.user_text_turn_complete().await?;
        }
        if input.activity_end {
            self.activity_end().await?;
        }
        if input.audio_stream_end {
            self.audio_stream_end().await?;
        }
        Ok(())
    }

    /// A typed turn is complete (`clientContent.turnComplete`, `realtimeInput.text`).
    pub(super) async fn user_text_turn_complete(&mut self) -> Result<(), End> {
        if self.in_long_turn() {
            return self.complete_long_turn().await;
        }
        self.state
            .with_conversation(self.session, |c| c.count_user_turn());
        self.start_model_turn().await
    }

    fn in_long_turn(&self) -> bool {
        self.state
            .with_conversation(self.session, |c| c.in_long_turn())
            .unwrap_or(false)
    }

    async fn audio(&mut self, chunk: AudioChunk) -> Result<(), End> {
        let samples = pcm16_from_bytes(&chunk.pcm);
        let duration = duration_of(samples.len(), chunk.sample_rate);
        let limit = self.state.config.audio_session_limit;
        let over_limit = self.state.with_conversation(self.session, |c| {
            c.add_audio(duration);
            c.compression().is_none() && c.audio_in() > limit
        });
        if over_limit == Some(true) {
            return Err(End::close(1011, audio_limit_reason(limit)));
        }
        if self.listener.activity_open {
            self.listener.activity_audio += duration;
        }
        let events = self.listener.vad_for(chunk.sample_rate).push(&samples);
        for event in events {
            match event {
                VadEvent::SpeechStart { .. } if !self.listener.manual => {
                    self.flush_held_piece(false).await?;
                    let speak_over = self
                        .state
                        .with_conversation(self.session, |c| c.speaks_over())
                        .unwrap_or(false);
                    if speak_over {
                        self.listener.spoken_over = true;
                        self.start_model_turn().await?;
                    } else {
                        self.interrupt().await?;
                    }
                }
                VadEvent::SpeechEnd { at, speech } => {
                    if self.listener.manual {
                        if self.listener.activity_open {
                            self.listener.activity_speech += speech;
                        }
                    } else {
                        self.listener.last_speech_end = Some(at);
                        self.utterance(speech).await?;
                    }
                }
                VadEvent::SpeechStart { .. } => {}
            }
        }
        self.check_long_turn_pause().await
    }

    /// A pause long enough (after enough speech) ends the long turn.
    async fn check_long_turn_pause(&mut self) -> Result<(), End> {
        if self.listener.manual {
            return Ok(());
        }
        let Some((true, speech)) = self
            .state
            .with_conversation(self.session, |c| (c.in_long_turn(), c.long_turn_speech()))
        else {
            return Ok(());
        };
        let (Some(vad), Some(end)) = (&self.listener.vad, self.listener.last_speech_end) else {
            return Ok(());
        };
        if vad.in_speech() {
            return Ok(());
        }
        let silence = vad.elapsed().saturating_sub(end);
        if self.listener.rule.complete_after_pause(speech, silence) {
            self.complete_long_turn().await?;
        }
        Ok(())
    }

    /// An utterance of `speech` ended.
    async fn utterance(&mut self, speech: Duration) -> Result<(), End> {
        let text = self.state.catalog().recognize(speech);
        if self.in_long_turn() {
            self.flush_held_piece(false).await?;
            let rule = self.listener.rule;
            let complete = self
                .state
                .with_conversation(self.session, |c| {
                    c.add_long_turn_utterance(&rule, speech, text.clone())
                })
                .unwrap_or(false);
            self.listener.held_piece = Some(text);
            if complete {
                self.complete_long_turn().await?;
            }
            return Ok(());
        }
        if self.setup.input_transcription {
            self.send(&out::input_transcription(&text, true)).await?;
        }
        self.state.with_conversation(self.session, |c| {
            c.add_candidate_speech(text);
            c.count_user_turn();
        });
        if std::mem::take(&mut self.listener.spoken_over) {
            // Maya is already talking over this utterance: no second reply.
            return Ok(());
        }
        self.start_model_turn().await
    }

    /// Sends the held long-turn piece, if any; `true` if one was sent.
    async fn flush_held_piece(&mut self, finished: bool) -> Result<bool, End> {
        let Some(piece) = self.listener.held_piece.take() else {
            return Ok(false);
        };
        let text = if self.listener.pieces_sent > 0 {
            format!(" {piece}")
        } else {
            piece
        };
        self.listener.pieces_sent += 1;
        if self.setup.input_transcription {
            self.send(&out::input_transcription(&text, finished))
                .await?;
        }
        Ok(true)
    }

    async fn complete_long_turn(&mut self) -> Result<(), End> {
        if !self.flush_held_piece(true).await? && self.setup.input_transcription {
            self.send(&out::input_transcription("", true)).await?;
        }
        self.state.with_conversation(self.session, |c| {
            c.finish_long_turn();
            c.count_user_turn();
        });
        self.listener.pieces_sent = 0;
        self.listener.last_speech_end = None;
        self.start_model_turn().await
    }

    async fn activity_start(&mut self) -> Result<(), End> {
        if !self.listener.manual {
            return Err(End::close(
                1007,
                "Invalid request: activityStart requires automaticActivityDetection.disabled.",
            ));
        }
        self.listener.activity_open = true;
        self.listener.activity_speech = Duration::ZERO;
        self.listener.activity_audio = Duration::ZERO;
        self.interrupt().await
    }

    async fn activity_end(&mut self) -> Result<(), End> {
        if !self.listener.manual {
            return Err(End::close(
                1007,
                "Invalid request: activityEnd requires automaticActivityDetection.disabled.",
            ));
        }
        if !std::mem::take(&mut self.listener.activity_open) {
            return Ok(());
        }
        let tail = match self.listener.vad.as_mut().and_then(Vad::finish) {
            Some(VadEvent::SpeechEnd { speech, .. }) => speech,
            _ => Duration::ZERO,
        };
        let mut speech = self.listener.activity_speech + tail;
        if speech.is_zero() {
            speech = self.listener.activity_audio;
        }
        if self.in_long_turn() {
            let text = self.state.catalog().recognize(speech);
            let rule = self.listener.rule;
            self.state.with_conversation(self.session, |c| {
                c.add_long_turn_utterance(&rule, speech, text.clone())
            });
            self.listener.held_piece = Some(text);
            return self.complete_long_turn().await;
        }
        self.utterance(speech).await
    }

    async fn audio_stream_end(&mut self) -> Result<(), End> {
        if self.listener.manual {
            return Ok(());
        }
        if let Some(VadEvent::SpeechEnd { at, speech }) =
            self.listener.vad.as_mut().and_then(Vad::finish)
        {
            self.listener.last_speech_end = Some(at);
            self.utterance(speech).await?;
        }
        let long_turn_speech = self
            .state
            .with_conversation(self.session, |c| {
                c.in_long_turn().then(|| c.long_turn_speech())
            })
            .flatten();
        if long_turn_speech.is_some_and(|speech| !speech.is_zero()) {
            self.complete_long_turn().await?;
        }
        Ok(())
    }
}
