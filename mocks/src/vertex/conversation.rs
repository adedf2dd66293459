//! A session's conversation state, which outlives any one connection (session
//! resumption continues it): the script position, the context the model has
//! seen ([`super::context`]: each turn's prompt re-counts the whole context,
//! as Vertex bills it, less what compression discarded), the transcript, the Part 2 long-turn progress, usage so far, the
//! log of model turns (which script line, which part, answering which user
//! turn), script overruns, and the session's misbehaviour, if one was asked.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::context::{Compression, ContextWindow};
use super::faults::Misbehaviour;
use super::misbehave::{FollowUp, LineChoice, MisbehaviourPlan};
use super::script::{ExaminerPart, LongTurnRule, SCRIPT, ScriptOverrun, script_line};
use super::server_messages::TurnUsage;
use crate::speech::text_tokens;
use crate::token_rules::{self, Provider};

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
    /// Thinking tokens (`thoughtsTokenCount`).
    #[serde(default)]
    pub thinking_tokens: u64,
}

impl TokenTotals {
    /// Adds one turn's usage.
    pub fn add_turn(&mut self, usage: &TurnUsage) {
        self.audio_tokens_in += usage.prompt_audio;
        self.text_tokens_in += usage.prompt_text;
        self.audio_tokens_out += usage.candidates_audio;
        self.text_tokens_out += usage.candidates_text;
        self.thinking_tokens += usage.thoughts;
    }

    /// Adds another total.
    pub fn add(&mut self, other: &TokenTotals) {
        self.audio_tokens_in += other.audio_tokens_in;
        self.text_tokens_in += other.text_tokens_in;
        self.audio_tokens_out += other.audio_tokens_out;
        self.text_tokens_out += other.text_tokens_out;
        self.thinking_tokens += other.thinking_tokens;
    }
}

/// One model turn in the session's conversation log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnRecord {
    /// Model turns before it in the session (0: the greeting).
    pub index: u32,
    /// The script line it says (`null`: not a script line).
    pub line: Option<usize>,
    /// The part of that line.
    pub part: ExaminerPart,
    /// The line's text.
    pub text: String,
    /// Cut short by barge-in (or by the end of the connection).
    pub interrupted: bool,
    /// User turns completed when it began.
    pub answers_user_turn: u32,
    /// Audio tokens of its prompt (the whole context so far).
    pub prompt_audio_tokens: u64,
    /// Text tokens of its prompt.
    pub prompt_text_tokens: u64,
    /// Audio tokens it produced (set when it ends).
    #[serde(default)]
    pub output_audio_tokens: u64,
    /// Text tokens it produced (set when it ends).
    #[serde(default)]
    pub output_text_tokens: u64,
    /// Audio the session had received when it began, in milliseconds: the
    /// session's clock in scenario time (the stream is continuous, silence
    /// included), whatever the time scale.
    #[serde(default)]
    pub audio_in_ms: u64,
    /// The sliding window discarded the context's oldest turns before it.
    #[serde(default)]
    pub context_trimmed: bool,
}

/// A model turn about to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlannedTurn {
    /// Its index in the session's model turns.
    pub index: u32,
    /// Its script line.
    pub line: usize,
    /// The examiner's line.
    pub text: &'static str,
    /// The part it belongs to.
    pub part: ExaminerPart,
    /// The prompt side of the usage (the whole context so far).
    pub usage: TurnUsage,
}

/// The conversation of one session.
#[derive(Debug, Clone, Default)]
pub(crate) struct Conversation {
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
    /// What each model turn's prompt holds (and what compression discards).
    context: ContextWindow,
    /// All audio received, silence included (a continuous stream is billed).
    audio_in: Duration,
    transcript: Vec<TranscriptEntry>,
    user_turns: u32,
    model_turns: u32,
    usage: TokenTotals,
    /// Every model turn begun, in order.
    turns: Vec<TurnRecord>,
    /// Model turns asked for after the closing line.
    script_overruns: u32,
    /// The session's misbehaviour (the `misbehave` fault).
    misbehaviour: Option<MisbehaviourPlan>,
    /// A line to say again at the next model turn (`repeat_turn`).
    repeat_line: Option<usize>,
}

impl Conversation {
    /// The system instruction (counted once, whatever the number of connections).
    pub(crate) fn set_system_instruction(&mut self, text: &str) {
        self.context.set_system_text(text_tokens(text));
    }

    /// `contextWindowCompression` (kept across connections, as the session is).
    pub(crate) fn set_compression(&mut self, compression: Option<Compression>) {
        self.context.set_compression(compression);
    }

    /// The compression in force.
    pub(crate) fn compression(&self) -> Option<Compression> {
        self.context.compression()
    }

    /// Times the sliding window discarded the context's oldest turns.
    pub(crate) fn context_trims(&self) -> u32 {
        self.context.trims()
    }

    /// The audio the session has taken in, over all its connections.
    pub(crate) fn audio_in(&self) -> Duration {
        self.audio_in
    }

    /// Audio received (speech or silence).
    pub(crate) fn add_audio(&mut self, duration: Duration) {
        self.audio_in += duration;
    }

    /// Text the client sent.
    pub(crate) fn add_client_text(&mut self, text: &str) {
        self.context.add_user_text(text_tokens(text));
        if !text.trim().is_empty() {
            self.push(Speaker::Client, text.to_owned(), false);
        }
    }

    /// A completed turn of candidate speech.
    pub(crate) fn add_candidate_speech(&mut self, text: String) {
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
    pub(crate) fn count_user_turn(&mut self) {
        self.user_turns += 1;
    }

    /// Whether the candidate is in (or about to start) the Part 2 long turn.
    pub(crate) fn in_long_turn(&self) -> bool {
        self.long_turn_pending
    }

    /// Speech accumulated in the long turn.
    pub(crate) fn long_turn_speech(&self) -> Duration {
        self.long_turn_speech
    }

    /// Adds an utterance to the long turn; `true` when the rule ends it.
    pub(crate) fn add_long_turn_utterance(
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
    pub(crate) fn finish_long_turn(&mut self) -> String {
        self.long_turn_pending = false;
        self.long_turn_speech = Duration::ZERO;
        let text = std::mem::take(&mut self.long_turn_pieces).join(" ");
        self.add_candidate_speech(text.clone());
        text
    }

    /// Makes the examiner misbehave once (a session keeps the first one set).
    pub(crate) fn set_misbehaviour(&mut self, how: Misbehaviour, at_turn: u32) {
        if self.misbehaviour.is_none() {
            self.misbehaviour = Some(MisbehaviourPlan::new(how, at_turn));
        }
    }

    /// Starts Maya's next line: chooses it (the script's next, unless a
    /// misbehaviour says otherwise), advances the script, prices the prompt
    /// and logs the turn. Past the closing line there is no line: the
    /// overrun is counted and returned.
    pub(crate) fn begin_model_turn(&mut self) -> Result<PlannedTurn, ScriptOverrun> {
        let index = self.turns.len() as u32;
        let choice = match self.repeat_line.take() {
            Some(line) => LineChoice {
                line,
                advance: false,
            },
            None => self
                .misbehaviour
                .as_mut()
                .and_then(|plan| plan.choose(index, self.next_line, self.part))
                .unwrap_or(LineChoice {
                    line: self.next_line,
                    advance: true,
                }),
        };
        let Some(line) = script_line(choice.line) else {
            self.script_overruns += 1;
            return Err(ScriptOverrun {
                user_turn: self.user_turns,
                lines: SCRIPT.len(),
            });
        };
        if choice.advance {
            self.next_line = choice.line + 1;
        }
        self.part = line.part;
        self.long_turn_pending = line.starts_long_turn;
        let (prompt_audio, prompt_text, context_trimmed) = self.context.begin_model_turn(
            token_rules::built_in(Provider::Vertex).audio_in_tokens(self.audio_in),
        );
        let usage = TurnUsage {
            prompt_audio,
            prompt_text,
            candidates_audio: 0,
            candidates_text: 0,
            thoughts: 0,
        };
        self.turns.push(TurnRecord {
            index,
            line: Some(choice.line),
            part: line.part,
            text: line.text.to_owned(),
            interrupted: false,
            answers_user_turn: self.user_turns,
            prompt_audio_tokens: usage.prompt_audio,
            prompt_text_tokens: usage.prompt_text,
            output_audio_tokens: 0,
            output_text_tokens: 0,
            audio_in_ms: u64::try_from(self.audio_in.as_millis()).unwrap_or(u64::MAX),
            context_trimmed,
        });
        Ok(PlannedTurn {
            index,
            line: choice.line,
            text: line.text,
            part: line.part,
            usage,
        })
    }

    /// Ends Maya's line: what was actually produced joins the context and usage.
    pub(crate) fn finish_model_turn(
        &mut self,
        turn: &PlannedTurn,
        usage: &TurnUsage,
        interrupted: bool,
    ) {
        self.context
            .finish_model_turn(usage.candidates_audio, usage.candidates_text);
        self.model_turns += 1;
        self.usage.add_turn(usage);
        if let Some(record) = self.turns.get_mut(turn.index as usize) {
            record.interrupted = interrupted;
            record.output_audio_tokens = usage.candidates_audio;
            record.output_text_tokens = usage.candidates_text;
        }
        self.push(Speaker::Examiner, turn.text.to_owned(), interrupted);
    }

    /// After model turn `finished` ended uninterrupted: whether another
    /// model turn starts at once (the `answer_twice` and `repeat_turn`
    /// misbehaviours).
    pub(crate) fn follow_up(&mut self, finished: u32) -> bool {
        let interrupted = self
            .turns
            .get(finished as usize)
            .is_none_or(|turn| turn.interrupted);
        if interrupted {
            return false;
        }
        match self
            .misbehaviour
            .as_mut()
            .and_then(|p| p.follow_up(finished))
        {
            Some(FollowUp::NextLine) => true,
            Some(FollowUp::SameTurn) => {
                self.repeat_line = self.turns[finished as usize].line;
                self.repeat_line.is_some()
            }
            None => false,
        }
    }

    /// Whether the reply to the utterance that just started begins now,
    /// over the candidate's speech (the `speak_over` misbehaviour).
    pub(crate) fn speaks_over(&mut self) -> bool {
        let upcoming = self.turns.len() as u32;
        !self.long_turn_pending
            && self
                .misbehaviour
                .as_mut()
                .is_some_and(|plan| plan.speaks_over(upcoming))
    }

    /// The model turns begun, in order.
    pub(crate) fn turns(&self) -> &[TurnRecord] {
        &self.turns
    }

    /// Model turns asked for after the closing line.
    pub(crate) fn script_overruns(&self) -> u32 {
        self.script_overruns
    }

    /// Part of the last line Maya started.
    pub(crate) fn part(&self) -> ExaminerPart {
        self.part
    }

    /// Index of the next script line.
    pub(crate) fn next_line(&self) -> usize {
        self.next_line
    }

    /// The transcript so far.
    pub(crate) fn transcript(&self) -> &[TranscriptEntry] {
        &self.transcript
    }

    /// Completed candidate/client turns.
    pub(crate) fn user_turns(&self) -> u32 {
        self.user_turns
    }

    /// Completed (or interrupted) model turns.
    pub(crate) fn model_turns(&self) -> u32 {
        self.model_turns
    }

    /// Tokens billed so far.
    pub(crate) fn usage(&self) -> TokenTotals {
        self.usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_prompt_recounts_the_whole_context() {
        let mut conversation = Conversation::default();
        conversation.set_system_instruction("abcdefgh"); // 2 tokens
        conversation.add_client_text("Start"); // 2 tokens
        let first = conversation.begin_model_turn().unwrap();
        assert_eq!(first.part, ExaminerPart::Part1);
        assert_eq!((first.usage.prompt_audio, first.usage.prompt_text), (0, 4));
        let produced = TurnUsage {
            candidates_audio: 100,
            ..first.usage
        };
        conversation.finish_model_turn(&first, &produced, false);
        conversation.add_audio(Duration::from_secs(4));
        let second = conversation.begin_model_turn().unwrap();
        let heard = token_rules::built_in(Provider::Vertex).audio_in_tokens(Duration::from_secs(4));
        assert_eq!(
            second.usage.prompt_audio,
            heard + 100,
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
            let turn = conversation.begin_model_turn().unwrap();
            conversation.finish_model_turn(&turn, &turn.usage, false);
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

    #[test]
    fn the_turn_log_and_the_end_of_the_script() {
        let mut conversation = Conversation::default();
        for user_turn in 1..=SCRIPT.len() as u32 {
            conversation.count_user_turn();
            let turn = conversation.begin_model_turn().unwrap();
            conversation.finish_model_turn(&turn, &turn.usage, user_turn == 3);
        }
        let turns = conversation.turns();
        assert_eq!(turns.len(), SCRIPT.len());
        for (i, turn) in turns.iter().enumerate() {
            assert_eq!((turn.index as usize, turn.line), (i, Some(i)));
            assert_eq!(
                (turn.part, turn.text.as_str()),
                (SCRIPT[i].part, SCRIPT[i].text)
            );
            assert_eq!(turn.answers_user_turn as usize, i + 1);
            assert_eq!(turn.interrupted, i == 2);
        }
        assert_eq!(conversation.part(), ExaminerPart::Closing);
        conversation.count_user_turn();
        let overrun = conversation.begin_model_turn().unwrap_err();
        assert_eq!(overrun.user_turn, SCRIPT.len() as u32 + 1);
        assert_eq!(overrun.lines, SCRIPT.len());
        assert_eq!(conversation.script_overruns(), 1);
        assert_eq!(
            conversation.turns().len(),
            SCRIPT.len(),
            "no turn is logged"
        );
        let json = serde_json::to_value(&conversation.turns()[0]).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys.len(),
            12,
            "index, line, part, text, interrupted, answers_user_turn, prompt and output \
             tokens, the audio clock, context_trimmed: {keys:?}"
        );
        assert_eq!(json["part"], "part1");
    }
}
