//! What the mock "model" says: deterministic answers grounded in the system
//! prompt. Facts are the prompt's lines starting with `- `; a question gets
//! the fact sharing the most content words with it. A prompt mentioning IELTS
//! makes the model an examiner asking a fixed list of questions instead; a
//! user turn after its closing line gets no invented answer but a
//! [`ScriptOverrun`] (the stream fails with an exception naming it).

use std::collections::BTreeSet;

pub use crate::vertex::script::{ExaminerPart, ScriptOverrun};

/// Said when no fact matches the question.
pub const FALLBACK_ANSWER: &str =
    "I'm not sure about that. Could you ask me in another way, or ask your family to help?";

/// Said (calmly, always the same) when the user sounds in distress.
pub const DISTRESS_ANSWER: &str = "I'm here with you. Please stay calm and stay where you are. \
     If you can, press your emergency button or call for help now.";

/// Phrases that make a message sound like distress.
const DISTRESS_PHRASES: &[&str] = &[
    "chest pain",
    "fell",
    "fallen",
    "i fall",
    "help me",
    "can't breathe",
    "cannot breathe",
    "cant breathe",
    "emergency",
    "hurts",
    "i'm hurt",
    "bleeding",
];

/// The examiner's questions, one per user turn (Parts 1, 2 and 3).
pub const EXAMINER_QUESTIONS: &[&str] = &[
    "Good morning, my name is Maya and I'm your examiner today. \
     Let's start with Part 1. Can you tell me where you live?",
    "Do you work or are you a student?",
    "What do you enjoy doing in your free time?",
    "Now Part 2. Describe a place you have visited that you found interesting. \
     You have one minute to prepare, then please speak for up to two minutes.",
    "Thank you. Now Part 3. Why do you think people enjoy travelling to new places?",
    "How has tourism changed your country in recent years?",
    "Thank you, that is the end of the speaking test.",
];

/// The part of each of [`EXAMINER_QUESTIONS`].
pub const EXAMINER_PARTS: &[ExaminerPart] = &[
    ExaminerPart::Part1,
    ExaminerPart::Part1,
    ExaminerPart::Part1,
    ExaminerPart::Part2,
    ExaminerPart::Part3,
    ExaminerPart::Part3,
    ExaminerPart::Closing,
];

/// What the model says to one user turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The answer.
    pub text: String,
    /// The examiner's script line (examiner persona only).
    pub line: Option<usize>,
    /// The part of the test that line belongs to (examiner persona only).
    pub part: Option<ExaminerPart>,
}

impl Reply {
    fn free(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            line: None,
            part: None,
        }
    }
}

const STOP_WORDS: &[&str] = &[
    "a", "about", "am", "an", "and", "are", "at", "be", "can", "could", "did", "do", "does", "for",
    "from", "have", "how", "i", "in", "is", "it", "me", "my", "of", "on", "or", "please", "should",
    "tell", "that", "the", "this", "to", "today", "was", "what", "when", "where", "which", "who",
    "whom", "why", "will", "with", "would", "you", "your", "yours",
];

/// The content words of `text`: lowercase, stop words removed, simple
/// plurals stripped (`pills` → `pill`, `berries` → `berry`).
pub fn content_words(text: &str) -> BTreeSet<String> {
    text.to_lowercase()
        .replace(['\'', '’'], "")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty() && !STOP_WORDS.contains(word))
        .map(singular)
        .collect()
}

fn singular(word: &str) -> String {
    let len = word.chars().count();
    if len > 4 && word.ends_with("ies") {
        format!("{}y", &word[..word.len() - 3])
    } else if len > 3 && word.ends_with('s') && !word.ends_with("ss") && !word.ends_with("us") {
        word[..word.len() - 1].to_owned()
    } else {
        word.to_owned()
    }
}

/// The fact lines of a system prompt (lines starting with `- `, marker removed).
pub fn facts(system_prompt: &str) -> Vec<String> {
    system_prompt
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("- "))
        .map(|fact| fact.trim().to_owned())
        .filter(|fact| !fact.is_empty())
        .collect()
}

/// The fact sharing the most content words with `question` (the earliest
/// on a tie), or `None` when none shares any.
pub fn best_fact<'a>(facts: &'a [String], question: &str) -> Option<&'a str> {
    let wanted = content_words(question);
    let mut best: Option<(usize, &str)> = None;
    for fact in facts {
        let shared = content_words(fact).intersection(&wanted).count();
        if shared > 0 && best.is_none_or(|(score, _)| shared > score) {
            best = Some((shared, fact));
        }
    }
    best.map(|(_, fact)| fact)
}

/// Whether `text` sounds like the user is in distress.
pub fn is_distress(text: &str) -> bool {
    let lower = text.to_lowercase().replace('’', "'");
    DISTRESS_PHRASES.iter().any(|phrase| {
        lower
            .match_indices(phrase)
            .any(|(at, _)| word_boundary(&lower, at, phrase.len()))
    })
}

fn word_boundary(text: &str, at: usize, len: usize) -> bool {
    let before = text[..at].chars().next_back();
    let after = text[at + len..].chars().next();
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
}

/// Who the model is, decided by its system prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Persona {
    /// A helpful assistant answering from the prompt's facts.
    Assistant {
        /// The fact lines.
        facts: Vec<String>,
    },
    /// An IELTS speaking examiner.
    Examiner {
        /// Questions asked so far.
        asked: usize,
    },
}

impl Persona {
    /// The persona a system prompt asks for.
    pub fn from_system_prompt(system_prompt: &str) -> Self {
        if system_prompt.to_uppercase().contains("IELTS") {
            Self::Examiner { asked: 0 }
        } else {
            Self::Assistant {
                facts: facts(system_prompt),
            }
        }
    }

    /// The reply to one user turn. The examiner has none after its
    /// closing line: the script is exhausted, and the overrun says so.
    pub fn reply(&mut self, user_text: &str) -> Result<Reply, ScriptOverrun> {
        match self {
            Self::Examiner { asked } => {
                let index = *asked;
                *asked += 1;
                let text = EXAMINER_QUESTIONS.get(index).ok_or(ScriptOverrun {
                    user_turn: *asked as u32,
                    lines: EXAMINER_QUESTIONS.len(),
                })?;
                Ok(Reply {
                    text: (*text).to_owned(),
                    line: Some(index),
                    part: EXAMINER_PARTS.get(index).copied(),
                })
            }
            Self::Assistant { facts } => Ok(Reply::free(if is_distress(user_text) {
                DISTRESS_ANSWER
            } else {
                best_fact(facts, user_text).unwrap_or(FALLBACK_ANSWER)
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BUDDY: &str = "You are Buddy, a kind assistant for John.\n\
        Patient facts:\n\
        - Sarah is your daughter.\n\
        - Your morning routine: take your blood pressure pill at 8am, then a short walk.\n\
        - Your doctor is Dr. Patel; appointments are on Thursdays.\n\
        - You take two pills in the evening with dinner.\n";

    fn buddy() -> Persona {
        Persona::from_system_prompt(BUDDY)
    }

    fn answer(question: &str) -> String {
        let reply = buddy()
            .reply(question)
            .expect("the assistant always answers");
        assert_eq!((reply.line, reply.part), (None, None));
        reply.text
    }

    #[test]
    fn answers_from_the_matching_fact() {
        assert_eq!(answer("Who is Sarah?"), "Sarah is your daughter.");
        assert_eq!(
            answer("What do I do this morning?"),
            "Your morning routine: take your blood pressure pill at 8am, then a short walk."
        );
        assert_eq!(
            answer("When is my DOCTOR appointment?"),
            "Your doctor is Dr. Patel; appointments are on Thursdays."
        );
        assert_eq!(
            answer("Which pills in the evening?"),
            "You take two pills in the evening with dinner."
        );
    }

    #[test]
    fn no_match_is_a_polite_fallback_and_distress_is_calm() {
        assert_eq!(answer("What is the weather?"), FALLBACK_ANSWER);
        assert_eq!(answer("I have chest pain"), DISTRESS_ANSWER);
        assert_eq!(answer("Help me, I fell"), DISTRESS_ANSWER);
        assert_eq!(answer("I can’t breathe"), DISTRESS_ANSWER);
        assert!(!is_distress("I feel fellowship with my friends"));
    }

    #[test]
    fn plurals_and_case_are_normalised() {
        assert_eq!(
            content_words("Berries and PILLS, glass"),
            ["berry", "glass", "pill"]
                .into_iter()
                .map(String::from)
                .collect()
        );
    }

    #[test]
    fn examiner_asks_questions_in_order_then_closes_and_invents_nothing_after() {
        assert_eq!(EXAMINER_PARTS.len(), EXAMINER_QUESTIONS.len());
        let mut maya = Persona::from_system_prompt("You are Maya, an IELTS speaking examiner.");
        let replies: Vec<Reply> = (0..EXAMINER_QUESTIONS.len())
            .map(|_| maya.reply("anything").unwrap())
            .collect();
        for (i, reply) in replies.iter().enumerate() {
            assert_eq!(reply.text, EXAMINER_QUESTIONS[i]);
            assert_eq!(reply.line, Some(i));
        }
        assert_eq!(replies[0].part, Some(ExaminerPart::Part1));
        assert_eq!(replies[3].part, Some(ExaminerPart::Part2));
        assert_eq!(replies[6].part, Some(ExaminerPart::Closing));
        let overrun = maya.reply("Thank you!").unwrap_err();
        assert_eq!(
            overrun.to_string(),
            "mock examiner script exhausted: user turn 8 came after the closing line \
             (the script has 7 lines)"
        );
        assert_eq!(maya.reply("Hello?").unwrap_err().user_turn, 9);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn a_question_naming_a_unique_word_finds_its_fact(
            words in proptest::collection::btree_set("[b-r]{5,9}", 2..8),
            pick in any::<prop::sample::Index>(),
        ) {
            let words: Vec<String> = words.into_iter().collect();
            let facts: Vec<String> = words.iter().map(|w| format!("The {w} is here.")).collect();
            let target = pick.index(words.len());
            let question = format!("Where is the {}?", words[target]);
            prop_assert_eq!(best_fact(&facts, &question), Some(facts[target].as_str()));
        }

        #[test]
        fn matching_never_panics_and_only_returns_facts(
            prompt in ".{0,300}",
            question in ".{0,80}",
        ) {
            let facts = facts(&prompt);
            if let Some(fact) = best_fact(&facts, &question) {
                prop_assert!(facts.iter().any(|f| f == fact));
            }
            let _ = is_distress(&question);
        }
    }
}
