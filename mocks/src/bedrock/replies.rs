//! What the mock Nova text models answer, deterministically, chosen by a
//! marker line in the system prompt or the message:
//! - `TASK: ielts_writing_assessment`: a JSON band-score assessment of the
//!   text after a line `ESSAY:` (task kind from `TASK_TYPE: ...`);
//! - `TASK: reading_feedback` / `TASK: listening_feedback`: short feedback
//!   (using a `SCORE: n/m` line when present);
//! - anything else: a friendly chat reply that quotes the user's message.

use std::collections::BTreeSet;

use serde_json::{Value, json};

/// The IELTS writing task kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WritingTask {
    /// Academic Task 1 (describe a chart; 150 words).
    AcademicTask1,
    /// General Training Task 1 (a letter; 150 words).
    GeneralTask1,
    /// Academic Task 2 (an essay; 250 words).
    AcademicTask2,
    /// General Training Task 2 (an essay; 250 words).
    GeneralTask2,
}

impl WritingTask {
    /// Parses `academic_task1` and friends.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        match name.trim().to_lowercase().as_str() {
            "academic_task1" => Some(Self::AcademicTask1),
            "general_task1" => Some(Self::GeneralTask1),
            "academic_task2" => Some(Self::AcademicTask2),
            "general_task2" => Some(Self::GeneralTask2),
            _ => None,
        }
    }

    /// Whether this is a Task 1.
    pub(crate) fn is_task1(self) -> bool {
        matches!(self, Self::AcademicTask1 | Self::GeneralTask1)
    }

    /// The minimum word count.
    pub(crate) fn min_words(self) -> usize {
        if self.is_task1() { 150 } else { 250 }
    }

    /// The name of the first criterion.
    pub(crate) fn first_criterion(self) -> &'static str {
        if self.is_task1() {
            "task_achievement"
        } else {
            "task_response"
        }
    }
}

/// The value of a `KEY: value` marker line anywhere in `text`.
pub(crate) fn marker<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let (name, value) = line.trim().split_once(':')?;
        (name.trim().eq_ignore_ascii_case(key)).then(|| value.trim())
    })
}

/// The essay: everything after the line starting with `ESSAY:`.
pub(crate) fn essay(text: &str) -> &str {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if let Some(rest) = line.trim_start().strip_prefix("ESSAY:") {
            let start = offset + (line.len() - rest.len());
            return text[start..].trim();
        }
        offset += line.len();
    }
    ""
}

/// Measurements of an essay.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EssayStats {
    pub words: usize,
    /// Distinct words / words, averaged over 50-word windows (so that it
    /// does not fall just because an essay is longer).
    pub lexical_variety: f64,
    /// Share of words of 7+ letters.
    pub long_words: f64,
    pub sentences: usize,
    /// Mean words per sentence.
    pub mean_sentence_len: f64,
    /// Paragraphs (blank-line separated).
    pub paragraphs: usize,
    /// Linking words and phrases used.
    pub linkers: usize,
    /// Subordinating words (complex sentences).
    pub subordinators: usize,
}

const LINKERS: &[&str] = &[
    "however",
    "moreover",
    "therefore",
    "furthermore",
    "firstly",
    "secondly",
    "finally",
    "consequently",
    "overall",
    "additionally",
    "nevertheless",
    "meanwhile",
    "similarly",
    "conclusion",
    "whereas",
];

const SUBORDINATORS: &[&str] = &[
    "although", "because", "which", "while", "unless", "whether", "since", "if", "when", "who",
];

/// Mean type-token ratio over 50-word windows (a short tail joins the previous window).
fn windowed_variety(words: &[String]) -> f64 {
    const WINDOW: usize = 50;
    if words.is_empty() {
        return 0.0;
    }
    let mut windows: Vec<&[String]> = words.chunks(WINDOW).collect();
    if windows.len() > 1 && windows[windows.len() - 1].len() < WINDOW / 2 {
        let tail = windows.pop().map_or(0, <[String]>::len);
        let start = words.len() - tail - windows.pop().map_or(0, <[String]>::len);
        windows.push(&words[start..]);
    }
    let ratios: Vec<f64> = windows
        .iter()
        .map(|window| {
            let distinct: BTreeSet<&str> = window.iter().map(String::as_str).collect();
            distinct.len() as f64 / window.len() as f64
        })
        .collect();
    ratios.iter().sum::<f64>() / ratios.len() as f64
}

/// Measures `essay`.
pub(crate) fn stats(essay: &str) -> EssayStats {
    let words: Vec<String> = essay
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| w.chars().any(char::is_alphabetic))
        .map(str::to_lowercase)
        .collect();
    let sentences = essay
        .split(['.', '!', '?'])
        .filter(|s| s.chars().any(char::is_alphabetic))
        .count();
    let paragraphs = essay
        .split("\n\n")
        .filter(|p| p.chars().any(char::is_alphabetic))
        .count();
    let count_in = |list: &[&str]| words.iter().filter(|w| list.contains(&w.as_str())).count();
    let n = words.len();
    EssayStats {
        words: n,
        lexical_variety: windowed_variety(&words),
        long_words: if n == 0 {
            0.0
        } else {
            words.iter().filter(|w| w.chars().count() >= 7).count() as f64 / n as f64
        },
        sentences,
        mean_sentence_len: if sentences == 0 {
            0.0
        } else {
            n as f64 / sentences as f64
        },
        paragraphs,
        linkers: count_in(LINKERS),
        subordinators: count_in(SUBORDINATORS),
    }
}

/// Rounds to the nearest half band (IELTS rounds .25 up to .5 and .75 up), in 0..=9.
pub(crate) fn half_band(score: f64) -> f64 {
    ((score * 2.0).round() / 2.0).clamp(0.0, 9.0)
}

/// The four criterion bands, in order: task, coherence, lexis, grammar.
pub(crate) fn bands(task: WritingTask, s: &EssayStats) -> [f64; 4] {
    if s.words == 0 {
        return [0.0; 4];
    }
    let ratio = s.words as f64 / task.min_words() as f64;
    let task_band = match ratio {
        r if r >= 1.0 => 7.0,
        r if r >= 0.8 => 6.0,
        r if r >= 0.6 => 5.0,
        r if r >= 0.4 => 4.0,
        r if r >= 0.2 => 3.0,
        _ => 2.0,
    } + if s.paragraphs >= if task.is_task1() { 2 } else { 4 } {
        0.5
    } else {
        0.0
    };
    let coherence = 4.0
        + 0.5 * s.linkers.min(4) as f64
        + match s.paragraphs {
            0 | 1 => 0.0,
            2 => 0.5,
            _ => 1.0,
        };
    let lexis =
        4.0 + match s.lexical_variety {
            v if v >= 0.7 => 3.0,
            v if v >= 0.6 => 2.5,
            v if v >= 0.5 => 2.0,
            v if v >= 0.4 => 1.0,
            _ => 0.0,
        } + match s.long_words {
            l if l >= 0.25 => 1.0,
            l if l >= 0.15 => 0.5,
            _ => 0.0,
        };
    let grammar = match s.mean_sentence_len {
        m if (12.0..=25.0).contains(&m) => 6.5,
        m if (8.0..=35.0).contains(&m) => 5.5,
        _ => 4.5,
    } + if s.subordinators >= 3 { 0.5 } else { 0.0 }
        + if s.sentences >= 8 { 0.5 } else { 0.0 };
    [task_band, coherence, lexis, grammar].map(half_band)
}

/// The assessment JSON for `essay_text` (a JSON object, no markdown).
pub(crate) fn writing_assessment(task: WritingTask, essay_text: &str) -> Value {
    let s = stats(essay_text);
    let [task_band, coherence, lexis, grammar] = bands(task, &s);
    let overall = half_band((task_band + coherence + lexis + grammar) / 4.0);
    let first = task.first_criterion();
    let task_name = if task.is_task1() { "Task 1" } else { "Task 2" };
    let length_note = if s.words >= task.min_words() {
        format!(
            "Your answer has {} words, meeting the {} minimum for {task_name}.",
            s.words,
            task.min_words()
        )
    } else {
        format!(
            "Your answer has {} words; {task_name} needs at least {}, so develop your ideas further.",
            s.words,
            task.min_words()
        )
    };
    json!({
        "overall_band": overall,
        "criteria_scores": {
            first: task_band,
            "coherence_and_cohesion": coherence,
            "lexical_resource": lexis,
            "grammatical_range_and_accuracy": grammar,
        },
        "detailed_feedback": {
            first: length_note,
            "coherence_and_cohesion": format!(
                "You used {} linking words across {} paragraph(s). {}",
                s.linkers,
                s.paragraphs,
                if s.linkers >= 3 { "Good use of cohesive devices." }
                else { "Use more linking words such as 'however' and 'therefore'." }
            ),
            "lexical_resource": format!(
                "{:.0}% of your words are distinct and {:.0}% are longer words. {}",
                s.lexical_variety * 100.0,
                s.long_words * 100.0,
                if s.lexical_variety >= 0.6 { "Your vocabulary is varied." }
                else { "Try to avoid repeating the same words." }
            ),
            "grammatical_range_and_accuracy": format!(
                "Your sentences average {:.1} words with {} complex clause marker(s). {}",
                s.mean_sentence_len,
                s.subordinators,
                if s.subordinators >= 3 { "You mix simple and complex sentences well." }
                else { "Add complex sentences using 'although', 'because' or 'which'." }
            ),
        },
    })
}

/// IELTS reading/listening raw score (out of 40) to band.
pub(crate) fn band_for_score(correct: u32, total: u32) -> f64 {
    if total == 0 {
        return 0.0;
    }
    let out_of_40 = (f64::from(correct) * 40.0 / f64::from(total)).round() as u32;
    match out_of_40 {
        39.. => 9.0,
        37..=38 => 8.5,
        35..=36 => 8.0,
        33..=34 => 7.5,
        30..=32 => 7.0,
        27..=29 => 6.5,
        23..=26 => 6.0,
        19..=22 => 5.5,
        15..=18 => 5.0,
        13..=14 => 4.5,
        10..=12 => 4.0,
        6..=9 => 3.5,
        4..=5 => 3.0,
        _ => 2.5,
    }
}

fn comprehension_feedback(skill: &str, text: &str) -> String {
    let score = marker(text, "SCORE").and_then(|value| {
        let (correct, total) = value.split_once('/')?;
        Some((
            correct.trim().parse::<u32>().ok()?,
            total.trim().parse::<u32>().ok()?,
        ))
    });
    let advice = if skill == "reading" {
        "Skim each passage for its main idea first, then scan for keywords."
    } else {
        "Read the questions before each section starts and listen for paraphrases."
    };
    match score {
        Some((correct, total)) if total > 0 && correct <= total => format!(
            "You answered {correct} of {total} {skill} questions correctly (estimated band {:.1}). {advice}",
            band_for_score(correct, total)
        ),
        _ => format!("Keep practising your {skill} skills. {advice}"),
    }
}

/// The reply to a conversation: `system` and `messages` are the text blocks
/// (messages as (role, text), oldest first).
pub(crate) fn reply(system: &str, messages: &[(String, String)]) -> String {
    let all_text = std::iter::once(system)
        .chain(messages.iter().map(|(_, text)| text.as_str()))
        .collect::<Vec<_>>()
        .join("\n");
    match marker(&all_text, "TASK").map(str::to_lowercase).as_deref() {
        Some("ielts_writing_assessment") => {
            let task = marker(&all_text, "TASK_TYPE")
                .and_then(WritingTask::parse)
                .unwrap_or(WritingTask::AcademicTask2);
            writing_assessment(task, essay(&all_text)).to_string()
        }
        Some("reading_feedback") => comprehension_feedback("reading", &all_text),
        Some("listening_feedback") => comprehension_feedback("listening", &all_text),
        _ => {
            let last_user = messages
                .iter()
                .rev()
                .find(|(role, _)| role == "user")
                .map(|(_, text)| text.trim())
                .unwrap_or("");
            format!("Thanks for your message: \"{last_user}\". How can I help you further?")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_essay(words: usize) -> String {
        let sentence = "However, many people believe that public transport, which is cheaper, \
                        should be improved because cities are growing quickly.";
        let mut text = String::new();
        let per = sentence.split_whitespace().count();
        for i in 0..words.div_ceil(per) {
            text.push_str(sentence);
            text.push(if i % 3 == 2 { '\n' } else { ' ' });
            if i % 3 == 2 {
                text.push('\n');
            }
        }
        text
    }

    #[test]
    fn markers_and_essay_extraction() {
        let text =
            "TASK: ielts_writing_assessment\nTASK_TYPE: general_task1\nESSAY: Dear Sir,\nI write.";
        assert_eq!(marker(text, "task"), Some("ielts_writing_assessment"));
        assert_eq!(
            marker(text, "TASK_TYPE").and_then(WritingTask::parse),
            Some(WritingTask::GeneralTask1)
        );
        assert_eq!(essay(text), "Dear Sir,\nI write.");
        assert_eq!(essay("no essay"), "");
    }

    #[test]
    fn assessment_shape_for_both_tasks() {
        for (task, first) in [
            (WritingTask::AcademicTask1, "task_achievement"),
            (WritingTask::AcademicTask2, "task_response"),
        ] {
            let value = writing_assessment(task, &sample_essay(260));
            for key in [
                first,
                "coherence_and_cohesion",
                "lexical_resource",
                "grammatical_range_and_accuracy",
            ] {
                let band = value["criteria_scores"][key].as_f64().unwrap();
                assert!((0.0..=9.0).contains(&band) && band * 2.0 == (band * 2.0).round());
                assert!(value["detailed_feedback"][key].is_string());
            }
            let overall = value["overall_band"].as_f64().unwrap();
            assert!((0.0..=9.0).contains(&overall));
        }
    }

    #[test]
    fn short_essays_score_lower_and_empty_scores_zero() {
        let long = writing_assessment(WritingTask::AcademicTask2, &sample_essay(300));
        let short = writing_assessment(WritingTask::AcademicTask2, &sample_essay(60));
        assert!(
            short["criteria_scores"]["task_response"].as_f64()
                < long["criteria_scores"]["task_response"].as_f64()
        );
        let empty = writing_assessment(WritingTask::AcademicTask1, "");
        assert_eq!(empty["overall_band"].as_f64(), Some(0.0));
    }

    #[test]
    fn lexical_variety_does_not_depend_on_length() {
        let distinct: Vec<String> = (0..300).map(|i| format!("word{i}")).collect();
        assert_eq!(stats(&distinct[..60].join(" ")).lexical_variety, 1.0);
        assert_eq!(stats(&distinct.join(" ")).lexical_variety, 1.0);
        assert!(stats(&"same words again ".repeat(40)).lexical_variety < 0.1);
    }

    #[test]
    fn rounding_and_scores() {
        assert_eq!(half_band(6.25), 6.5);
        assert_eq!(half_band(6.74), 6.5);
        assert_eq!(half_band(6.75), 7.0);
        assert_eq!(half_band(12.0), 9.0);
        assert_eq!(band_for_score(30, 40), 7.0);
        assert_eq!(band_for_score(20, 20), 9.0);
    }

    #[test]
    fn replies_by_marker() {
        let feedback = reply(
            "TASK: reading_feedback",
            &[("user".into(), "SCORE: 30/40".into())],
        );
        assert!(
            feedback.contains("30 of 40") && feedback.contains("7.0"),
            "{feedback}"
        );
        assert!(reply("TASK: listening_feedback", &[]).contains("listening"));
        let chat = reply("", &[("user".into(), "Hello there".into())]);
        assert!(chat.contains("\"Hello there\""));
        let json: Value = serde_json::from_str(&reply(
            "",
            &[(
                "user".into(),
                "TASK: ielts_writing_assessment\nTASK_TYPE: academic_task1\nESSAY:\nThe chart shows.".into(),
            )],
        ))
        .unwrap();
        assert!(json["criteria_scores"]["task_achievement"].is_number());
    }
}
