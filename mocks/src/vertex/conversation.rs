//! A session's conversation state, which outlives any one connection (session
//! resumption continues it): the script position, the context the model has
//! seen (so each turn's prompt re-counts the whole context, as Vertex bills
//! it), the transcript, the Part 2 long-turn progress, and usage so far.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::script::{ExaminerPart, LongTurnRule, script_line};
use super::server_messages::TurnUsage;
use crate::speech::{audio_tokens, text_tokens};

/// Who said a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    /// Maya.
    Examiner,
    /// The candidate's speech (recognised from audio).
    Candidate,
    /// Text the client sent (`clientContent`, `realtimeInput.text`).
    Client,
}

/// One line of the session transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptEntry {
    /// Who said it.
    pub speaker: Speaker,
    /// What was said.
    pub text: String,
    /// An examiner line cut short by barge-in.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

/// Token totals, by direction and modality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TokenTotals {
    /// Audio tokens billed as input (prompt).
    pub audio_tokens_in: u64,
    /// Text tokens billed as input (prompt).
    pub text_tokens_in: u64,
    /// Audio tokens billed as output (candidates).
    pub audio_tokens_out: u64,
    /// Text tokens billed as output (candidates).
    pub text_tokens_out: u64,
}

impl TokenTotals {
    /// Adds one turn's usage.
    pub fn add_turn(&mut self, usage: &TurnUsage) {
        self.audio_tokens_in += usage.prompt_audio;
        self.text_tokens_in += usage.prompt_text;
        self.audio_tokens_out += usage.candidates_audio;
        self.text_tokens_out += usage.candidates_text;
    }

    /// Adds another total.
    pub fn add(&mut self, other: &TokenTotals) {
        self.audio_tokens_in += other.audio_tokens_in;
        self.text_tokens_in += other.text_tokens_in;
        self.audio_tokens_out += other.audio_tokens_out;
        self.text_tokens_out += other.text_tokens_out;
    }
}

/// A model turn about to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTurn {
    /// The examiner's line.
    pub text: &'static str,
    /// The part it belongs to.
    pub part: ExaminerPart,
    /// The prompt side of the usage (the whole context so far).
    pub usage: TurnUsage,
}

/// The conversation of one session.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    /// Index of the next script line.
    next_line: usize,
    /// Part of the last line Maya started.
    part: ExaminerPart,
    /// Whether the candidate's next turn is the Part 2 long turn.
    long_turn_pending: bool,
    /// Speech accumulated in the long turn so far.
    long_turn_speech: Duration,
    /// Recognised pieces of the long turn so far.
    long_turn_pieces: Vec<String>,
    system_text_tokens: u64,
    user_text_tokens: u64,
    /// All audio received, silence included (a continuous stream is billed).
    audio_in: Duration,
    /// Audio tokens of everything the model said (part of the context).
    model_audio_tokens: u64,
    /// Text tokens of everything the model wrote (part of the context).
    model_text_tokens: u64,
    transcript: Vec<TranscriptEntry>,
    user_turns: u32,
    model_turns: u32,
    usage: TokenTotals,
}

impl Conversation {
    /// The system instruction (counted once, whatever the number of connections).
    pub fn set_system_instruction(&mut self, text: &str) {
        self.system_text_tokens = text_tokens(text);
    }

    /// Audio received (speech or silence).
    pub fn add_audio(&mut self, duration: Duration) {
        self.audio_in += duration;
    }

    /// Text the client sent.
    pub fn add_client_text(&mut self, text: &str) {
        self.user_text_tokens += text_tokens(text);
        if !text.trim().is_empty() {
            self.push(Speaker::Client, text.to_owned(), false);
        }
    }

    /// A completed turn of candidate speech.
    pub fn add_candidate_speech(&mut self, text: String) {
        self.push(Speaker::Candidate, text, false);
    }

    fn push(&mut self, speaker: Speaker, text: String, interrupted: bool) {
        self.transcript.push(TranscriptEntry {
            speaker,
            text,
            interrupted,
        });
    }

    /// Counts a completed user turn (speech or text).
    pub fn count_user_turn(&mut self) {
        self.user_turns += 1;
    }

    /// Whether the candidate is in (or about to start) the Part 2 long turn.
    pub fn in_long_turn(&self) -> bool {
        self.long_turn_pending
    }

    /// Speech accumulated in the long turn.
    pub fn long_turn_speech(&self) -> Duration {
        self.long_turn_speech
    }

    /// Adds an utterance to the long turn; `true` when the rule ends it.
    pub fn add_long_turn_utterance(
        &mut self,
        rule: &LongTurnRule,
        speech: Duration,
        text: String,
    ) -> bool {
        self.long_turn_speech += speech;
        self.long_turn_pieces.push(text);
        rule.complete_after_utterance(self.long_turn_speech)
    }

    /// Ends the long turn; returns its whole transcript.
    pub fn finish_long_turn(&mut self) -> String {
        self.long_turn_pending = false;
        self.long_turn_speech = Duration::ZERO;
        let text = std::mem::take(&mut self.long_turn_pieces).join(" ");
        self.add_candidate_speech(text.clone());
        text
    }

    /// Starts Maya's next line: advances the script and prices the prompt.
    pub fn begin_model_turn(&mut self) -> PlannedTurn {
        let line = script_line(self.next_line);
        self.next_line += 1;
        self.part = line.part;
        self.long_turn_pending = line.starts_long_turn;
        PlannedTurn {
            text: line.text,
            part: line.part,
            usage: TurnUsage {
                prompt_audio: audio_tokens(self.audio_in) + self.model_audio_tokens,
                prompt_text: self.system_text_tokens
                    + self.user_text_tokens
                    + self.model_text_tokens,
                candidates_audio: 0,
                candidates_text: 0,
            },
        }
    }

    /// Ends Maya's line: what was actually produced joins the context and usage.
    pub fn finish_model_turn(&mut self, text: &str, usage: &TurnUsage, interrupted: bool) {
        self.model_audio_tokens += usage.candidates_audio;
        self.model_text_tokens += usage.candidates_text;
        self.model_turns += 1;
        self.usage.add_turn(usage);
        self.push(Speaker::Examiner, text.to_owned(), interrupted);
    }

    /// Part of the last line Maya started.
    pub fn part(&self) -> ExaminerPart {
        self.part
    }

    /// Index of the next script line.
    pub fn next_line(&self) -> usize {
        self.next_line
    }

    /// The transcript so far.
    pub fn transcript(&self) -> &[TranscriptEntry] {
        &self.transcript
    }

    /// Completed candidate/client turns.
    pub fn user_turns(&self) -> u32 {
        self.user_turns
    }

    /// Completed (or interrupted) model turns.
    pub fn model_turns(&self) -> u32 {
        self.model_turns
    }

    /// Tokens billed so far.
    pub fn usage(&self) -> TokenTotals {
        self.usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vertex::script::SCRIPT;

    #[test]
    fn each_prompt_recounts_the_whole_context() {
        let mut conversation = Conversation::default();
        conversation.set_system_instruction("abcdefgh"); // 2 tokens
        conversation.add_client_text("Start"); // 2 tokens
        let first = conversation.begin_model_turn();
        assert_eq!(first.part, ExaminerPart::Part1);
        assert_eq!((first.usage.prompt_audio, first.usage.prompt_text), (0, 4));
        let produced = TurnUsage {
            candidates_audio: 100,
            ..first.usage
        };
        conversation.finish_model_turn(first.text, &produced, false);
        conversation.add_audio(Duration::from_secs(4));
        let second = conversation.begin_model_turn();
        assert_eq!(
            second.usage.prompt_audio,
            100 + 100,
            "4 s in + the model's own audio"
        );
        assert_eq!(second.usage.prompt_text, 4);
        assert_eq!(conversation.usage().audio_tokens_out, 100);
        assert_eq!(conversation.model_turns(), 1);
    }

    #[test]
    fn the_long_turn_follows_the_cue_card() {
        let mut conversation = Conversation::default();
        let rule = LongTurnRule::default();
        while !conversation.in_long_turn() {
            let turn = conversation.begin_model_turn();
            conversation.finish_model_turn(turn.text, &turn.usage, false);
        }
        assert_eq!(conversation.part(), ExaminerPart::Part2);
        assert!(SCRIPT[conversation.next_line() - 1].starts_long_turn);
        assert!(!conversation.add_long_turn_utterance(&rule, Duration::from_secs(60), "a".into()));
        assert!(conversation.add_long_turn_utterance(&rule, Duration::from_secs(61), "b".into()));
        assert_eq!(conversation.finish_long_turn(), "a b");
        assert!(!conversation.in_long_turn());
        assert_eq!(
            conversation.transcript().last().unwrap().speaker,
            Speaker::Candidate
        );
    }
}
