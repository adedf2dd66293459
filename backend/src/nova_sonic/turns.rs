//! What the client hears and what the transcript keeps, from Nova Sonic's
//! output events: a plain state machine ([`TurnTracker`]) with no I/O.
//!
//! Rules:
//! - a USER text is the transcript of the user's speech: delivered and kept,
//!   unless it is the echo of a typed turn (kept when it was typed, never
//!   delivered twice);
//! - an ASSISTANT SPECULATIVE text is delivered at once (it is what the model
//!   is about to say) and takes its place in the transcript then; a FINAL
//!   text confirms it, and is delivered (and kept) only when no speculative
//!   text said the same;
//! - barge-in (the AUDIO block ending INTERRUPTED, or the FINAL text
//!   `{ "interrupted" : true }`) is delivered once per turn, and the
//!   interrupted answer is kept, marked interrupted;
//! - usage totals add up across reopened streams.

use std::collections::HashMap;
use std::collections::VecDeque;

use serde::Serialize;

use super::output::{ContentKind, OutputEvent, Stage, TokenTotals, is_interruption_marker};
use super::protocol::{HistoryLine, Role};

/// How many typed turns may wait for their echo (older ones are forgotten).
const MAX_PENDING_ECHOES: usize = 8;

/// One line of the stored transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TranscriptLine {
    /// USER or ASSISTANT.
    pub role: Role,
    /// What was said or typed.
    pub text: String,
    /// USER lines: spoken (true) or typed (false).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub spoken: bool,
    /// ASSISTANT lines: cut short by the user.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

/// Something to send to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The transcript of the user's speech.
    UserTranscript(String),
    /// Text of the model's answer.
    AssistantText(String),
    /// The model's voice: 24 kHz 16-bit mono PCM.
    AssistantAudio(Vec<u8>),
    /// The user interrupted the model: stop playing its audio.
    Interrupted,
}

/// The conversation state behind the deliveries and the transcript.
#[derive(Debug, Default)]
pub struct TurnTracker {
    /// Open content blocks by id: kind and stage.
    contents: HashMap<String, (ContentKind, Stage)>,
    /// Typed turns whose USER echo has not come back yet.
    pending_echoes: VecDeque<String>,
    /// Speculative texts delivered and not yet confirmed by a FINAL text,
    /// with their transcript line.
    delivered: HashMap<String, usize>,
    /// The transcript line of the last speculative text (marked if the
    /// answer is interrupted).
    last_speculative: Option<usize>,
    /// Barge-in already delivered for the current answer.
    interruption_delivered: bool,
    /// The transcript.
    lines: Vec<TranscriptLine>,
    /// Totals of earlier streams (before a reopen).
    earlier_usage: TokenTotals,
    /// Totals of the current stream.
    usage: TokenTotals,
    /// User turns answered (a FINAL assistant text, or an interruption).
    answered_turns: u32,
}

impl TurnTracker {
    /// An empty conversation.
    pub fn new() -> Self {
        Self::default()
    }

    /// A typed user turn was sent: kept now, its echo expected.
    pub fn typed(&mut self, text: &str) {
        self.lines.push(TranscriptLine {
            role: Role::User,
            text: text.to_owned(),
            spoken: false,
            interrupted: false,
        });
        self.expect_echo(text);
    }

    /// A typed turn kept out of the transcript (an opening cue): only its
    /// echo is expected.
    pub fn hidden(&mut self, text: &str) {
        self.expect_echo(text);
    }

    fn expect_echo(&mut self, text: &str) {
        self.pending_echoes.push_back(text.trim().to_owned());
        if self.pending_echoes.len() > MAX_PENDING_ECHOES {
            self.pending_echoes.pop_front();
        }
    }

    /// A new stream replaces the old one (after its time limit): open
    /// blocks and pending echoes belong to the old stream.
    pub fn stream_reopened(&mut self) {
        self.contents.clear();
        self.pending_echoes.clear();
        self.delivered.clear();
        self.last_speculative = None;
        let usage = std::mem::take(&mut self.usage);
        self.earlier_usage = add(self.earlier_usage, usage);
    }

    /// Applies one output event; returns what the client must get.
    pub fn on_event(&mut self, event: OutputEvent) -> Vec<Delivery> {
        match event {
            OutputEvent::ContentStart {
                content_id,
                kind,
                role,
                stage,
            } => {
                if kind == ContentKind::Text
                    && role == Role::Assistant
                    && stage == Stage::Speculative
                {
                    self.interruption_delivered = false;
                }
                self.contents.insert(content_id, (kind, stage));
                Vec::new()
            }
            OutputEvent::Text {
                content_id,
                role,
                content,
            } => {
                let stage = self
                    .contents
                    .get(&content_id)
                    .map_or(Stage::Final, |(_, stage)| *stage);
                match role {
                    Role::User => self.user_text(content),
                    Role::Assistant if stage == Stage::Speculative => {
                        self.lines.push(TranscriptLine {
                            role: Role::Assistant,
                            text: content.clone(),
                            spoken: false,
                            interrupted: false,
                        });
                        let line = self.lines.len() - 1;
                        self.last_speculative = Some(line);
                        self.delivered.insert(content.clone(), line);
                        vec![Delivery::AssistantText(content)]
                    }
                    Role::Assistant => self.final_text(content),
                    Role::System => Vec::new(),
                }
            }
            OutputEvent::Audio { pcm, .. } => vec![Delivery::AssistantAudio(pcm)],
            OutputEvent::ContentEnd {
                content_id,
                kind,
                stop_reason,
            } => {
                self.contents.remove(&content_id);
                if kind == ContentKind::Audio && stop_reason == "INTERRUPTED" {
                    self.interrupt()
                } else {
                    Vec::new()
                }
            }
            OutputEvent::Usage(totals) => {
                self.usage = totals;
                Vec::new()
            }
            OutputEvent::CompletionStart | OutputEvent::CompletionEnd | OutputEvent::Other(_) => {
                Vec::new()
            }
        }
    }

    fn user_text(&mut self, content: String) -> Vec<Delivery> {
        if self.pending_echoes.front().map(String::as_str) == Some(content.trim()) {
            self.pending_echoes.pop_front();
            return Vec::new();
        }
        self.lines.push(TranscriptLine {
            role: Role::User,
            text: content.clone(),
            spoken: true,
            interrupted: false,
        });
        vec![Delivery::UserTranscript(content)]
    }

    fn final_text(&mut self, content: String) -> Vec<Delivery> {
        if is_interruption_marker(&content) {
            return self.interrupt();
        }
        self.last_speculative = None;
        self.answered_turns += 1;
        if self.delivered.remove(&content).is_some() {
            return Vec::new();
        }
        self.lines.push(TranscriptLine {
            role: Role::Assistant,
            text: content.clone(),
            spoken: false,
            interrupted: false,
        });
        vec![Delivery::AssistantText(content)]
    }

    fn interrupt(&mut self) -> Vec<Delivery> {
        if let Some(line) = self.last_speculative.take() {
            self.delivered.retain(|_, index| *index != line);
            self.answered_turns += 1;
            if let Some(line) = self.lines.get_mut(line) {
                line.interrupted = true;
            }
        }
        if self.interruption_delivered {
            return Vec::new();
        }
        self.interruption_delivered = true;
        vec![Delivery::Interrupted]
    }

    /// The transcript so far.
    pub fn lines(&self) -> &[TranscriptLine] {
        &self.lines
    }

    /// The transcript as history for a reopened stream.
    pub fn history(&self) -> Vec<HistoryLine> {
        self.lines
            .iter()
            .map(|line| HistoryLine {
                role: line.role,
                text: line.text.clone(),
            })
            .collect()
    }

    /// What a reopened stream needs: the history up to the last answer, and
    /// the user's turns after it that were never answered (sent again as
    /// live turns, their echoes expected).
    pub fn resume(&mut self) -> (Vec<HistoryLine>, Vec<String>) {
        let answered = self
            .lines
            .iter()
            .rposition(|line| line.role == Role::Assistant)
            .map_or(0, |index| index + 1);
        let history = self.history()[..answered].to_vec();
        let unanswered: Vec<String> = self.lines[answered..]
            .iter()
            .map(|line| line.text.clone())
            .collect();
        for text in &unanswered {
            self.expect_echo(text);
        }
        (history, unanswered)
    }

    /// Token totals over every stream of the session.
    pub fn usage(&self) -> TokenTotals {
        add(self.earlier_usage, self.usage)
    }

    /// User turns the model has answered so far.
    pub fn answered_turns(&self) -> u32 {
        self.answered_turns
    }
}

fn add(a: TokenTotals, b: TokenTotals) -> TokenTotals {
    TokenTotals {
        input_tokens: a.input_tokens + b.input_tokens,
        output_tokens: a.output_tokens + b.output_tokens,
        speech_input_tokens: a.speech_input_tokens + b.speech_input_tokens,
        speech_output_tokens: a.speech_output_tokens + b.speech_output_tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn start(id: &str, kind: ContentKind, role: Role, stage: Stage) -> OutputEvent {
        OutputEvent::ContentStart {
            content_id: id.into(),
            kind,
            role,
            stage,
        }
    }

    fn text(id: &str, role: Role, content: &str) -> OutputEvent {
        OutputEvent::Text {
            content_id: id.into(),
            role,
            content: content.into(),
        }
    }

    fn end(id: &str, kind: ContentKind, reason: &str) -> OutputEvent {
        OutputEvent::ContentEnd {
            content_id: id.into(),
            kind,
            stop_reason: reason.into(),
        }
    }

    /// A whole answered turn as the model sends it.
    fn turn(user: &str, answer: &str, interrupted: bool) -> Vec<OutputEvent> {
        let reason = if interrupted {
            "INTERRUPTED"
        } else {
            "END_TURN"
        };
        let final_text = if interrupted {
            "{ \"interrupted\" : true }"
        } else {
            answer
        };
        vec![
            start("u", ContentKind::Text, Role::User, Stage::Final),
            text("u", Role::User, user),
            end("u", ContentKind::Text, "END_TURN"),
            start("s", ContentKind::Text, Role::Assistant, Stage::Speculative),
            text("s", Role::Assistant, answer),
            end("s", ContentKind::Text, "PARTIAL_TURN"),
            start("a", ContentKind::Audio, Role::Assistant, Stage::Final),
            OutputEvent::Audio {
                content_id: "a".into(),
                pcm: vec![1, 2],
            },
            end("a", ContentKind::Audio, reason),
            start("f", ContentKind::Text, Role::Assistant, Stage::Final),
            text("f", Role::Assistant, final_text),
            end("f", ContentKind::Text, reason),
        ]
    }

    fn run(tracker: &mut TurnTracker, events: Vec<OutputEvent>) -> Vec<Delivery> {
        events
            .into_iter()
            .flat_map(|e| tracker.on_event(e))
            .collect()
    }

    #[test]
    fn a_typed_turn_delivers_the_answer_once_and_no_echo() {
        let mut tracker = TurnTracker::new();
        tracker.typed("Who is Sarah?");
        let delivered = run(
            &mut tracker,
            turn("Who is Sarah?", "Sarah is your daughter.", false),
        );
        assert_eq!(
            delivered,
            [
                Delivery::AssistantText("Sarah is your daughter.".into()),
                Delivery::AssistantAudio(vec![1, 2])
            ]
        );
        let lines = tracker.lines();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (lines[0].role, lines[0].spoken),
            (Role::User, false),
            "typed"
        );
        assert_eq!(lines[1].text, "Sarah is your daughter.");
        assert_eq!(tracker.answered_turns(), 1);
    }

    #[test]
    fn a_spoken_turn_delivers_the_user_transcript_first() {
        let mut tracker = TurnTracker::new();
        let delivered = run(
            &mut tracker,
            turn("Who is Sarah?", "Sarah is your daughter.", false),
        );
        assert_eq!(
            delivered[0],
            Delivery::UserTranscript("Who is Sarah?".into())
        );
        assert!(tracker.lines()[0].spoken);
    }

    #[test]
    fn barge_in_is_delivered_once_and_the_answer_kept_as_interrupted() {
        let mut tracker = TurnTracker::new();
        let delivered = run(
            &mut tracker,
            turn("Tell me a story", "Once upon a time", true),
        );
        let interruptions = delivered
            .iter()
            .filter(|d| **d == Delivery::Interrupted)
            .count();
        assert_eq!(interruptions, 1);
        let last = tracker.lines().last().unwrap();
        assert_eq!(last.text, "Once upon a time");
        assert!(last.interrupted);
        // The next answer can be interrupted again.
        let again = run(&mut tracker, turn("Stop", "Okay", true));
        assert!(again.contains(&Delivery::Interrupted));
    }

    #[test]
    fn a_question_typed_while_the_model_speaks_comes_after_its_answer() {
        let mut tracker = TurnTracker::new();
        tracker.typed("Who is Sarah?");
        let first = turn("Who is Sarah?", "Sarah is your daughter.", false);
        // The answer starts (speculative text), then the user types again.
        let (before, after) = first.split_at(5);
        run(&mut tracker, before.to_vec());
        tracker.typed("Who is Tom?");
        run(&mut tracker, after.to_vec());
        run(
            &mut tracker,
            turn("Who is Tom?", "Tom is your grandson.", false),
        );
        let texts: Vec<&str> = tracker.lines().iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Who is Sarah?",
                "Sarah is your daughter.",
                "Who is Tom?",
                "Tom is your grandson."
            ]
        );
    }

    #[test]
    fn a_reopened_stream_gets_the_unanswered_question_again() {
        let mut tracker = TurnTracker::new();
        tracker.typed("Who is Sarah?");
        run(
            &mut tracker,
            turn("Who is Sarah?", "Sarah is your daughter.", false),
        );
        tracker.typed("Who is Tom?");
        tracker.stream_reopened();
        let (history, unanswered) = tracker.resume();
        assert_eq!(history.len(), 2);
        assert_eq!(history[1].text, "Sarah is your daughter.");
        assert_eq!(unanswered, ["Who is Tom?"]);
        // Its echo on the new stream is not delivered again, nor kept twice.
        let delivered = run(
            &mut tracker,
            turn("Who is Tom?", "Tom is your grandson.", false),
        );
        assert_eq!(
            delivered[0],
            Delivery::AssistantText("Tom is your grandson.".into())
        );
        assert_eq!(tracker.lines().len(), 4);
    }

    #[test]
    fn a_final_text_without_speculation_is_delivered() {
        let mut tracker = TurnTracker::new();
        let delivered = run(
            &mut tracker,
            vec![
                start("f", ContentKind::Text, Role::Assistant, Stage::Final),
                text("f", Role::Assistant, "Hello"),
            ],
        );
        assert_eq!(delivered, [Delivery::AssistantText("Hello".into())]);
    }

    #[test]
    fn usage_adds_up_across_streams_and_history_follows_the_transcript() {
        let mut tracker = TurnTracker::new();
        let totals = TokenTotals {
            input_tokens: 10,
            output_tokens: 20,
            speech_input_tokens: 1,
            speech_output_tokens: 2,
        };
        tracker.on_event(OutputEvent::Usage(totals));
        tracker.typed("Who is Sarah?");
        tracker.stream_reopened();
        tracker.on_event(OutputEvent::Usage(totals));
        assert_eq!(tracker.usage().input_tokens, 20);
        assert_eq!(tracker.usage().speech_output_tokens, 4);
        assert_eq!(
            tracker.history(),
            [HistoryLine {
                role: Role::User,
                text: "Who is Sarah?".into()
            }]
        );
        // After a reopen the old echo is no longer expected: a spoken line with the same text is kept.
        let delivered = tracker.on_event(text("x", Role::User, "Who is Sarah?"));
        assert_eq!(
            delivered,
            [Delivery::UserTranscript("Who is Sarah?".into())]
        );
    }

    proptest! {
        #[test]
        fn every_answer_is_delivered_exactly_once(
            answers in proptest::collection::vec("[a-z ]{1,20}", 1..8),
            typed in proptest::collection::vec(any::<bool>(), 8),
        ) {
            let mut tracker = TurnTracker::new();
            let mut texts = Vec::new();
            for (index, answer) in answers.iter().enumerate() {
                let question = format!("q{index}");
                if typed[index] {
                    tracker.typed(&question);
                }
                for delivery in run(&mut tracker, turn(&question, answer, false)) {
                    match delivery {
                        Delivery::AssistantText(t) => texts.push(t),
                        Delivery::UserTranscript(t) => prop_assert!(!typed[index], "echo of {t} delivered"),
                        _ => {}
                    }
                }
            }
            prop_assert_eq!(&texts, &answers);
            prop_assert_eq!(tracker.lines().len(), answers.len() * 2);
        }
    }
}
