//! The examiner's deterministic script: "Maya" running an IELTS speaking
//! test, one line per completed candidate turn.
//!
//! Structure (see [`SCRIPT`]):
//! - Part 1 (lines 0-6): greeting and identity check, then familiar topics
//!   (home, work or study, free time), one question per turn;
//! - Part 2 (lines 7-8): the cue card with "you have one minute to prepare",
//!   then, after the candidate's long turn, one rounding-off question;
//! - Part 3 (lines 9-13): discussion questions on the cue card's theme;
//! - closing (line 14): "That is the end of the speaking test..."; every
//!   later turn gets [`AFTER_CLOSING`].
//!
//! The Part 2 long turn is not answered at each pause: see [`LongTurnRule`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Which part of the test a session is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExaminerPart {
    /// The examiner has not spoken yet.
    #[default]
    NotStarted,
    /// Introduction and questions on familiar topics.
    Part1,
    /// The cue card and the candidate's long turn.
    Part2,
    /// The discussion.
    Part3,
    /// The test is over.
    Closing,
}

/// One line of the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptLine {
    /// The part this line belongs to.
    pub part: ExaminerPart,
    /// What Maya says.
    pub text: &'static str,
    /// The candidate's answer to this line is the Part 2 long turn.
    pub starts_long_turn: bool,
}

const fn line(part: ExaminerPart, text: &'static str) -> ScriptLine {
    ScriptLine {
        part,
        text,
        starts_long_turn: false,
    }
}

/// The whole script, in order.
pub const SCRIPT: &[ScriptLine] = &[
    line(
        ExaminerPart::Part1,
        "Good morning. My name is Maya, and I will be your examiner today. \
         Could you tell me your full name, please?",
    ),
    line(
        ExaminerPart::Part1,
        "Thank you. And could you show me your identification, please? \
         Thank you, that's fine. In this first part, I'd like to ask you some questions \
         about yourself. Let's talk about where you live. Do you live in a house or an apartment?",
    ),
    line(
        ExaminerPart::Part1,
        "What do you like most about the area where you live?",
    ),
    line(
        ExaminerPart::Part1,
        "Let's move on to work and study. Do you work, or are you a student?",
    ),
    line(ExaminerPart::Part1, "What do you enjoy most about it?"),
    line(
        ExaminerPart::Part1,
        "Now let's talk about free time. What do you usually do at the weekend?",
    ),
    line(
        ExaminerPart::Part1,
        "Do you prefer spending your free time alone or with other people? Why?",
    ),
    ScriptLine {
        part: ExaminerPart::Part2,
        text: "Thank you. Now I'm going to give you a topic, and I'd like you to talk about it \
               for one to two minutes. Here is your topic: describe a useful skill you have \
               learned. You should say what the skill is, when and how you learned it, how \
               often you use it, and explain why you think it is useful. You have one minute \
               to prepare. You can make some notes if you wish. Please start speaking when you \
               are ready.",
        starts_long_turn: true,
    },
    line(
        ExaminerPart::Part2,
        "Thank you. Do you think you will learn any other skills like this in the future?",
    ),
    line(
        ExaminerPart::Part3,
        "We've been talking about a useful skill. Now I'd like to discuss some more general \
         questions related to this. What skills do you think are most important for young \
         people to learn today?",
    ),
    line(
        ExaminerPart::Part3,
        "Why do you think some adults find it difficult to learn new skills?",
    ),
    line(
        ExaminerPart::Part3,
        "Should schools focus more on practical skills than on academic subjects?",
    ),
    line(
        ExaminerPart::Part3,
        "How has technology changed the way people learn new skills?",
    ),
    line(
        ExaminerPart::Part3,
        "Some people say that machines will soon do most skilled work. What is your opinion?",
    ),
    line(
        ExaminerPart::Closing,
        "Thank you very much. That is the end of the speaking test. \
         Your results will be ready shortly. Goodbye.",
    ),
];

/// What Maya says to anything after the closing line.
pub const AFTER_CLOSING: &str = "The speaking test has finished. Thank you for your time.";

/// The line at `index` (past the end: [`AFTER_CLOSING`]).
pub fn script_line(index: usize) -> ScriptLine {
    SCRIPT.get(index).copied().unwrap_or(ScriptLine {
        part: ExaminerPart::Closing,
        text: AFTER_CLOSING,
        starts_long_turn: false,
    })
}

/// When the Part 2 long turn is over.
///
/// During the long turn the candidate pauses to think; the examiner must not
/// answer each pause. Utterances (as the voice activity detector ends them)
/// are accumulated, and the long turn is complete when either
/// - the accumulated speech reaches `max_speech` (two minutes: where an IELTS
///   examiner stops the candidate), checked at the
///   end of each utterance, or
/// - a silence of at least `pause` (5 s) follows at least
///   `min_speech_before_pause` (one minute) of accumulated speech.
///
/// A shorter silence, or any silence before a minute of speech, keeps the
/// examiner listening. `audioStreamEnd` ends the long turn if any speech was
/// heard, and with manual activity detection `activityEnd` ends it (the
/// client decides). All durations are audio time (counted in samples), so a
/// time-scaled replay behaves like a real-time one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongTurnRule {
    /// Accumulated speech that ends the long turn.
    pub max_speech: Duration,
    /// Accumulated speech after which a long pause ends the long turn.
    pub min_speech_before_pause: Duration,
    /// A silence this long ends the long turn (after enough speech).
    pub pause: Duration,
}

impl Default for LongTurnRule {
    fn default() -> Self {
        Self {
            max_speech: Duration::from_secs(120),
            min_speech_before_pause: Duration::from_secs(60),
            pause: Duration::from_secs(5),
        }
    }
}

impl LongTurnRule {
    /// At the end of an utterance: has the candidate said enough?
    pub fn complete_after_utterance(&self, speech: Duration) -> bool {
        speech >= self.max_speech
    }

    /// During a silence: is the pause long enough to end the long turn?
    pub fn complete_after_pause(&self, speech: Duration, silence: Duration) -> bool {
        speech >= self.min_speech_before_pause && silence >= self.pause
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_runs_through_the_parts_in_order() {
        let parts: Vec<ExaminerPart> = SCRIPT.iter().map(|l| l.part).collect();
        let mut sorted = parts.clone();
        sorted.sort_by_key(|p| *p as u8);
        assert_eq!(parts, sorted);
        assert_eq!(
            parts.iter().filter(|p| **p == ExaminerPart::Part1).count(),
            7
        );
        assert!(SCRIPT[0].text.contains("Maya") && SCRIPT[0].text.contains("full name"));
        assert!(SCRIPT[1].text.contains("identification"));
        let cue_cards: Vec<&ScriptLine> = SCRIPT.iter().filter(|l| l.starts_long_turn).collect();
        assert_eq!(cue_cards.len(), 1);
        assert!(cue_cards[0].text.contains("one minute to prepare"));
        assert_eq!(cue_cards[0].part, ExaminerPart::Part2);
        let last = SCRIPT.last().unwrap();
        assert!(last.text.contains("That is the end of the speaking test"));
        assert_eq!(script_line(SCRIPT.len()).text, AFTER_CLOSING);
        assert_eq!(script_line(SCRIPT.len() + 7).part, ExaminerPart::Closing);
    }

    #[test]
    fn long_turn_rule() {
        let rule = LongTurnRule::default();
        let s = Duration::from_secs;
        assert!(!rule.complete_after_utterance(s(119)));
        assert!(rule.complete_after_utterance(s(120)));
        assert!(
            !rule.complete_after_pause(s(59), s(30)),
            "too little speech"
        );
        assert!(!rule.complete_after_pause(s(65), s(4)), "pause too short");
        assert!(rule.complete_after_pause(s(60), s(5)));
    }
}
