//! The conversation of one session as the client saw it: the model's turns
//! (grouped from server messages by the API's [`TurnProfile`]: first message
//! to the turn-end signal, or to a quiet gap where the API has none) with
//! their text, audio length and playout time, and the candidate's utterances
//! (speech streamed by the harness, or typed prompts). The reader task feeds
//! it received messages; the step runner feeds it what it sends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::profile::TurnProfile;
use crate::scenario::matching::lookup;

/// How a model turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TurnEnd {
    /// The API's turn-end message.
    Signal,
    /// A quiet gap (APIs without a turn-end message).
    Quiet,
    /// An interruption message (barge-in).
    Interrupted,
}

/// One model turn.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Turn {
    /// Its first message.
    pub start: Instant,
    /// Its first audio message.
    pub first_audio: Option<Instant>,
    /// Its latest message.
    pub last: Instant,
    /// When it ended (None: still open).
    pub end: Option<Instant>,
    /// How it ended.
    pub ended_by: Option<TurnEnd>,
    /// Transcript pieces joined.
    pub text: String,
    /// Audio received (audio time).
    pub audio: Duration,
    /// When its audio has played out at real-time pace (divided by the time scale).
    pub playout_end: Instant,
    /// Cut short by barge-in.
    pub interrupted: bool,
}

/// Speech or a typed prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UtteranceKind {
    /// Audio streamed by the harness.
    Speech,
    /// A typed prompt (a text message).
    Text,
}

/// One candidate utterance (what the scenario calls one answer).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Utterance {
    /// Speech or text.
    pub kind: UtteranceKind,
    /// First chunk (or the prompt) sent.
    pub start: Instant,
    /// Last chunk sent (None while streaming).
    pub end: Option<Instant>,
    /// When its last voiced audio was sent: [`Self::end`] less the quiet
    /// that ends its last clip (None while streaming). A model may answer
    /// in that quiet without talking over anyone.
    pub speech_end: Option<Instant>,
    /// The clips' transcripts joined (or the prompt's text).
    pub text: String,
    /// The clips streamed.
    pub clips: Vec<String>,
    /// Model turns this utterance should get (None: the scenario's default).
    pub replies: Option<u32>,
    /// The Part 2 long turn (pauses within it are not ends).
    pub long_turn: bool,
    /// The candidate waited for the model to finish before speaking (so no
    /// model turn can have been on its way when the speech began).
    pub waited: bool,
}

/// A reply that came before the request it answers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EarlyReply {
    /// The reply's type.
    pub kind: String,
    /// The action that must come first.
    pub after: String,
    /// When it arrived.
    pub at: Instant,
}

/// The conversation of one session.
#[derive(Debug, Clone)]
pub(crate) struct Tracker {
    profile: Arc<TurnProfile>,
    time_scale: f64,
    /// When the session's socket opened (turns before any prompt are openings).
    pub opened: Instant,
    /// Model turns in order.
    pub turns: Vec<Turn>,
    /// Candidate utterances in order.
    pub utterances: Vec<Utterance>,
    /// Replies that came before their request.
    pub early_replies: Vec<EarlyReply>,
    /// When the server sent an `error` message.
    pub errors: Vec<Instant>,
    /// Actions the client sent (`action` or `type` fields), with when.
    pub actions_sent: Vec<(String, Instant)>,
    /// The last clip's end and the end of its voiced audio.
    last_clip_end: Option<(Instant, Instant)>,
    /// Index of the utterance the last turn-latency sample answered.
    answered: Option<usize>,
}

impl Tracker {
    /// An empty conversation.
    pub(crate) fn new(profile: Arc<TurnProfile>, time_scale: f64, opened: Instant) -> Self {
        Self {
            profile,
            time_scale: time_scale.max(f64::MIN_POSITIVE),
            opened,
            turns: Vec::new(),
            utterances: Vec::new(),
            early_replies: Vec::new(),
            errors: Vec::new(),
            actions_sent: Vec::new(),
            last_clip_end: None,
            answered: None,
        }
    }

    pub(crate) fn profile(&self) -> &TurnProfile {
        &self.profile
    }

    /// Ends the open turn if the API has no turn-end signal and either it
    /// has been quiet (nothing came for the quiet gap after the audio
    /// received so far played out: a listener hears no gap while received
    /// audio still plays, so pieces a loaded backend posts in bursts stay one
    /// turn) or the client has begun an utterance since its last message
    /// (what the model sends after that is another turn).
    pub(crate) fn settle(&mut self, now: Instant) {
        if !self.profile.turn_end.is_empty() {
            return;
        }
        let gap = self.profile.quiet_gap.div_f64(self.time_scale);
        let last_utterance = self.utterances.last().map(|u| u.start);
        if let Some(turn) = self.turns.last_mut()
            && turn.end.is_none()
            && (now.saturating_duration_since(turn.last.max(turn.playout_end)) >= gap
                || last_utterance.is_some_and(|start| start > turn.last))
        {
            turn.end = Some(turn.last);
            turn.ended_by = Some(TurnEnd::Quiet);
        }
    }

    /// A server message arrived; returns the turn latency to record, if this
    /// message is the first audio of the first turn after an utterance.
    pub(crate) fn received(&mut self, at: Instant, value: &Value) -> Option<Duration> {
        let kind = value.get("type").and_then(Value::as_str)?.to_owned();
        if kind == "error" {
            self.errors.push(at);
        }
        for (reply, after) in &self.profile.only_after {
            if *reply == kind && !self.actions_sent.iter().any(|(a, _)| a == after) {
                self.early_replies.push(EarlyReply {
                    kind: kind.clone(),
                    after: after.clone(),
                    at,
                });
            }
        }
        self.settle(at);
        if self.profile.turn_end.contains(&kind) || self.profile.interrupt.contains(&kind) {
            let interrupted = self.profile.interrupt.contains(&kind)
                || value.get("interrupted").and_then(Value::as_bool) == Some(true);
            if let Some(turn) = self.turns.last_mut().filter(|t| t.end.is_none()) {
                turn.end = Some(at);
                turn.interrupted = interrupted;
                turn.ended_by = Some(if interrupted {
                    TurnEnd::Interrupted
                } else {
                    TurnEnd::Signal
                });
            }
            return None;
        }
        if !self.profile.is_model_message(&kind) {
            return None;
        }
        if let Some((path, echo)) = &self.profile.user_echo
            && lookup(value, path).and_then(Value::as_str) == Some(echo.as_str())
        {
            return None;
        }
        if self.turns.last().is_none_or(|t| t.end.is_some()) {
            self.turns.push(Turn {
                start: at,
                first_audio: None,
                last: at,
                end: None,
                ended_by: None,
                text: String::new(),
                audio: Duration::ZERO,
                playout_end: at,
                interrupted: false,
            });
        }
        let time_scale = self.time_scale;
        let profile = self.profile.clone();
        let turn = self.turns.last_mut().expect("a turn is open");
        turn.last = at;
        if let Some((_, field)) = profile.text.iter().find(|(t, _)| *t == kind)
            && let Some(piece) = value.get(field).and_then(Value::as_str)
        {
            turn.text.push_str(piece);
        }
        let audio = profile.audio.iter().find(|a| a.kind == kind)?;
        let bytes = value
            .get(&audio.data)
            .and_then(Value::as_str)
            .map_or(0, base64_len);
        let rate = audio
            .rate
            .as_deref()
            .and_then(|path| lookup(value, path))
            .and_then(Value::as_u64)
            .map_or(audio.default_rate, |r| r as u32)
            .max(1);
        let length = Duration::from_secs_f64(bytes as f64 / 2.0 / f64::from(rate));
        turn.audio += length;
        turn.playout_end = turn.playout_end.max(at) + length.div_f64(time_scale);
        if turn.first_audio.is_some() {
            return None;
        }
        turn.first_audio = Some(at);
        let start = turn.start;
        let (index, utterance) = self
            .utterances
            .iter()
            .enumerate()
            .rev()
            .find(|(_, u)| u.kind == UtteranceKind::Speech && u.end.is_some())?;
        let ended = utterance.end?;
        if self.answered == Some(index) || start < ended {
            return None;
        }
        self.answered = Some(index);
        Some(at.saturating_duration_since(ended))
    }

    /// The client sent a message (for typed prompts and request order).
    pub(crate) fn sent(&mut self, at: Instant, value: &Value) {
        for field in ["action", "type"] {
            if let Some(action) = value.get(field).and_then(Value::as_str) {
                self.actions_sent.push((action.to_owned(), at));
            }
        }
        let typed = self
            .profile
            .text_prompts
            .iter()
            .any(|(path, wanted)| lookup(value, path).and_then(Value::as_str) == Some(wanted));
        if typed {
            let text = ["text", "data.text", "message"]
                .iter()
                .find_map(|path| lookup(value, path).and_then(Value::as_str))
                .unwrap_or_default()
                .to_owned();
            self.utterances.push(Utterance {
                kind: UtteranceKind::Text,
                start: at,
                end: Some(at),
                speech_end: Some(at),
                text,
                clips: Vec::new(),
                replies: None,
                long_turn: false,
                waited: false,
            });
        }
    }

    /// Speech begins (its first chunk is about to leave); `waited`: the
    /// candidate let the model finish first.
    pub(crate) fn begin_speech(
        &mut self,
        at: Instant,
        replies: Option<u32>,
        long_turn: bool,
        waited: bool,
    ) {
        self.utterances.push(Utterance {
            kind: UtteranceKind::Speech,
            start: at,
            end: None,
            speech_end: None,
            text: String::new(),
            clips: Vec::new(),
            replies,
            long_turn,
            waited,
        });
    }

    /// A clip of the open utterance was streamed: its last chunk left at
    /// `at`, and it ended with `trailing_quiet` (real time) of quiet.
    pub(crate) fn add_clip(
        &mut self,
        at: Instant,
        trailing_quiet: Duration,
        clip: &str,
        text: Option<&str>,
    ) {
        let Some(utterance) = self.open_utterance() else {
            return;
        };
        utterance.clips.push(clip.to_owned());
        if let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) {
            if !utterance.text.is_empty() {
                utterance.text.push(' ');
            }
            utterance.text.push_str(text);
        }
        let speech_end = at
            .checked_sub(trailing_quiet)
            .unwrap_or(at)
            .max(utterance.start);
        self.last_clip_end = Some((at, speech_end));
    }

    /// Ends the open utterance at its last clip's end.
    pub(crate) fn end_speech(&mut self) {
        let ends = self.last_clip_end.take();
        if let Some(utterance) = self.open_utterance() {
            let (end, speech_end) = ends.unwrap_or((utterance.start, utterance.start));
            utterance.end = Some(end);
            utterance.speech_end = Some(speech_end);
        }
    }

    fn open_utterance(&mut self) -> Option<&mut Utterance> {
        self.utterances
            .last_mut()
            .filter(|u| u.kind == UtteranceKind::Speech && u.end.is_none())
    }

    /// Whether the server sent an `error` in `[from, to)` (a refused request).
    pub(crate) fn refused_between(&self, from: Instant, to: Instant) -> bool {
        self.errors.iter().any(|at| *at >= from && *at < to)
    }

    /// When the last utterance ended (the socket's opening if none has).
    pub(crate) fn last_prompt_end(&self) -> Instant {
        self.utterances
            .iter()
            .rev()
            .find_map(|u| u.end)
            .unwrap_or(self.opened)
    }

    /// The first turn that started at or after `since` and has ended (and,
    /// with `played_out`, whose audio has played out by `now`): its index.
    pub(crate) fn ended_turn_since(
        &mut self,
        since: Instant,
        now: Instant,
        played_out: bool,
    ) -> Option<usize> {
        self.settle(now);
        let (index, turn) = self
            .turns
            .iter()
            .enumerate()
            .find(|(_, t)| t.start >= since)?;
        let done = turn.end.is_some() && (!played_out || turn.playout_end <= now);
        done.then_some(index)
    }

    /// Whether a model turn started at or after `since`.
    pub(crate) fn turn_started_since(&self, since: Instant) -> bool {
        self.turns.iter().any(|t| t.start >= since)
    }

    /// Whether the model is quiet: every turn that started after `since` has
    /// ended and played out (and at least one did).
    pub(crate) fn model_done_since(&mut self, since: Instant, now: Instant) -> bool {
        self.settle(now);
        let mut after = self.turns.iter().filter(|t| t.start >= since).peekable();
        after.peek().is_some() && after.all(|t| t.end.is_some() && t.playout_end <= now)
    }
}

/// Decoded length of base64 text (standard or URL-safe, padded or not).
fn base64_len(text: &str) -> usize {
    text.trim_end_matches('=').len() * 3 / 4
}
