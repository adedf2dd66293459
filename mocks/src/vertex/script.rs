//! The examiner's deterministic script: "Maya" running an IELTS speaking
//! test, one line per completed candidate turn.
//!
//! Structure (see [`SCRIPT`]):
//! - Part 1 (lines 0-9): greeting and identity check, then three familiar
//!   topics (hometown, work or study, free time), one question per turn;
//! - Part 2 (lines 10-11): the cue card (a memorable journey) with "you have
//!   one minute to prepare", then, after the candidate's long turn, one
//!   rounding-off question;
//! - Part 3 (lines 12-19): discussion questions on the cue card's theme;
//! - closing (line 20): "That is the end of the speaking test...". A turn
//!   after it has no line: [`ScriptOverrun`] (the Live session closes with an
//!   error that says so, and the overrun is counted).
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
         about yourself. Let's talk about your hometown. Where are you from?",
    ),
    line(
        ExaminerPart::Part1,
        "What do you like most about living there?",
    ),
    line(
        ExaminerPart::Part1,
        "Has your hometown changed much in recent years?",
    ),
    line(
        ExaminerPart::Part1,
        "Let's move on to work and study. Do you work, or are you a student?",
    ),
    line(
        ExaminerPart::Part1,
        "What is the most difficult part of your job?",
    ),
    line(
        ExaminerPart::Part1,
        "Would you like to do a different job in the future?",
    ),
    line(
        ExaminerPart::Part1,
        "Now let's talk about free time. What do you usually do in your free time?",
    ),
    line(
        ExaminerPart::Part1,
        "Do you read much? What kind of books do you enjoy?",
    ),
    line(
        ExaminerPart::Part1,
        "Has the way you spend your free time changed since you were a child?",
    ),
    ScriptLine {
        part: ExaminerPart::Part2,
        text: "Thank you. Now I'm going to give you a topic, and I'd like you to talk about it \
               for one to two minutes. Here is your topic: describe a memorable journey you \
               have made. You should say where you went, who you went with, what you did on \
               the way, and explain why the journey was memorable. You have one minute to \
               prepare. You can make some notes if you wish. Please start speaking when you \
               are ready.",
        starts_long_turn: true,
    },
    line(
        ExaminerPart::Part2,
        "Thank you. Would you like to make the same journey again one day?",
    ),
    line(
        ExaminerPart::Part3,
        "We've been talking about a memorable journey. Now I'd like to discuss some more \
         general questions related to this. What are the benefits and drawbacks of tourism \
         for local communities?",
    ),
    line(
        ExaminerPart::Part3,
        "How do you think travel will change in the future?",
    ),
    line(
        ExaminerPart::Part3,
        "Do younger and older people like to travel in different ways?",
    ),
    line(
        ExaminerPart::Part3,
        "Do you think international travel helps people understand each other?",
    ),
    line(
        ExaminerPart::Part3,
        "What should tourists keep in mind when they visit another country?",
    ),
    line(
        ExaminerPart::Part3,
        "Some people say that it is better to explore your own country before travelling \
         abroad. What is your opinion?",
    ),
    line(
        ExaminerPart::Part3,
        "How can governments protect popular places from too many tourists?",
    ),
    line(
        ExaminerPart::Part3,
        "Why do you think some people never travel far from home?",
    ),
    line(
        ExaminerPart::Closing,
        "Thank you very much. That is the end of the speaking test. \
         Your results will be ready shortly. Goodbye.",
    ),
];

/// The line at `index`; `None` past the closing line (the script is
/// exhausted: the mock answers with an error, never with an invented line).
pub fn script_line(index: usize) -> Option<ScriptLine> {
    SCRIPT.get(index).copied()
}

/// Index of the closing line.
pub fn closing_line() -> usize {
    SCRIPT.len() - 1
}

/// Index of the first line of the part after `part` (`None` when no part
/// follows it, or `part` has no lines).
pub fn first_line_after_part(part: ExaminerPart) -> Option<usize> {
    let last = SCRIPT.iter().rposition(|l| l.part == part)?;
    (last + 1 < SCRIPT.len()).then_some(last + 1)
}

/// Why a model turn could not be planned: every line has been said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "mock examiner script exhausted: user turn {user_turn} came after the closing line \
     (the script has {lines} lines)"
)]
pub struct ScriptOverrun {
    /// The user turn (1-based) that asked for a line past the end.
    pub user_turn: u32,
    /// How many lines the script has.
    pub lines: usize,
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
            10
        );
        assert_eq!(SCRIPT.len(), 21);
        assert_eq!(SCRIPT[10].part, ExaminerPart::Part2);
        assert!(SCRIPT[10].starts_long_turn);
        assert_eq!(SCRIPT[12].part, ExaminerPart::Part3);
        assert_eq!(SCRIPT[20].part, ExaminerPart::Closing);
        assert!(SCRIPT[0].text.contains("Maya") && SCRIPT[0].text.contains("full name"));
        assert!(SCRIPT[1].text.contains("identification"));
        let cue_cards: Vec<&ScriptLine> = SCRIPT.iter().filter(|l| l.starts_long_turn).collect();
        assert_eq!(cue_cards.len(), 1);
        assert!(cue_cards[0].text.contains("one minute to prepare"));
        assert_eq!(cue_cards[0].part, ExaminerPart::Part2);
        let last = SCRIPT.last().unwrap();
        assert!(last.text.contains("That is the end of the speaking test"));
        assert_eq!(script_line(closing_line()), Some(*last));
        assert_eq!(
            script_line(SCRIPT.len()),
            None,
            "nothing is invented after the closing"
        );
        assert_eq!(first_line_after_part(ExaminerPart::Part1), Some(10));
        assert_eq!(first_line_after_part(ExaminerPart::Part2), Some(12));
        assert_eq!(first_line_after_part(ExaminerPart::Closing), None);
        let overrun = ScriptOverrun {
            user_turn: 22,
            lines: SCRIPT.len(),
        };
        assert_eq!(
            overrun.to_string(),
            "mock examiner script exhausted: user turn 22 came after the closing line \
             (the script has 21 lines)"
        );
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
