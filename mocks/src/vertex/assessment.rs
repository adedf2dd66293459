//! A deterministic IELTS speaking assessment computed from a transcript, as
//! the backend asks Gemini for one through generateContent.
//!
//! The request text holds a line `TASK: ielts_speaking_assessment` and, after
//! a line `TRANSCRIPT:`, lines starting `Examiner:` or `Candidate:` (other
//! lines continue the previous speaker's line). Bands (0-9 in half steps)
//! come from the candidate's words only:
//! - fluency and coherence: words per answer, linking words, fillers;
//! - lexical resource: Guiraud's index (distinct words / sqrt(words)) and
//!   the share of long words;
//! - grammatical range and accuracy: mean sentence length and subordinate
//!   clauses per sentence;
//! - pronunciation (no audio here): the mean of fluency and grammar, lowered
//!   by the share of answers the recogniser could not transcribe.
//!
//! No candidate words at all gives band 0 everywhere.

use serde::Serialize;

/// The line that asks for an assessment.
pub(crate) const TASK_LINE: &str = "TASK: ielts_speaking_assessment";

/// The line after which the transcript starts.
pub(crate) const TRANSCRIPT_LINE: &str = "TRANSCRIPT:";

const FILLERS: &[&str] = &["um", "uh", "er", "erm", "ah", "hmm", "mm"];
const LINKERS: &[&str] = &[
    "because",
    "however",
    "although",
    "so",
    "therefore",
    "moreover",
    "firstly",
    "secondly",
    "finally",
    "also",
    "but",
    "example",
    "instance",
    "whereas",
    "actually",
    "then",
];
const SUBORDINATORS: &[&str] = &[
    "because", "although", "which", "that", "when", "while", "if", "unless", "since", "whereas",
    "who", "whose", "where", "though",
];

/// Counts over the candidate's answers.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct CandidateStats {
    /// Candidate lines.
    pub answers: usize,
    /// Answers the recogniser could not transcribe.
    pub unrecognised: usize,
    /// Words (fillers included).
    pub words: usize,
    /// Distinct words, lower-cased.
    pub distinct_words: usize,
    /// Words of seven letters or more.
    pub long_words: usize,
    /// Fillers such as "um".
    pub fillers: usize,
    /// Linking words such as "however".
    pub linkers: usize,
    /// Subordinating words such as "which".
    pub subordinators: usize,
    /// Sentences (answers without end punctuation count as one).
    pub sentences: usize,
}

impl CandidateStats {
    /// Collects the statistics of the candidate's lines.
    pub(crate) fn of(candidate_lines: &[String]) -> Self {
        let mut stats = Self::default();
        let mut distinct = std::collections::BTreeSet::new();
        for line in candidate_lines {
            stats.answers += 1;
            if line.contains("(unrecognised speech") {
                stats.unrecognised += 1;
                continue;
            }
            stats.sentences += line
                .split(['.', '!', '?'])
                .filter(|s| s.chars().any(char::is_alphanumeric))
                .count();
            for word in words(line) {
                stats.words += 1;
                stats.long_words += usize::from(word.chars().count() >= 7);
                stats.fillers += usize::from(FILLERS.contains(&word.as_str()));
                stats.linkers += usize::from(LINKERS.contains(&word.as_str()));
                stats.subordinators += usize::from(SUBORDINATORS.contains(&word.as_str()));
                distinct.insert(word);
            }
        }
        stats.distinct_words = distinct.len();
        stats
    }

    fn ratio(part: usize, whole: usize) -> f64 {
        if whole == 0 {
            0.0
        } else {
            part as f64 / whole as f64
        }
    }

    fn words_per_answer(&self) -> f64 {
        Self::ratio(self.words, (self.answers - self.unrecognised).max(1))
    }

    fn mean_sentence_length(&self) -> f64 {
        Self::ratio(self.words, self.sentences.max(1))
    }
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .map(str::to_lowercase)
}

/// Nearest half band in 0-9.
pub(crate) fn half_band(score: f64) -> f64 {
    ((score * 2.0).round() / 2.0).clamp(0.0, 9.0)
}

/// One criterion's band and feedback.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Criterion {
    /// 0-9 in half steps.
    pub band: f64,
    /// Why.
    pub feedback: String,
}

/// The four IELTS speaking criteria.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Criteria {
    pub fluency_and_coherence: Criterion,
    pub lexical_resource: Criterion,
    pub grammatical_range_and_accuracy: Criterion,
    pub pronunciation: Criterion,
}

/// One step of the improvement plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct PlanItem {
    /// The criterion to work on.
    pub focus: String,
    /// What to do.
    pub action: String,
    /// How to practise it.
    pub practice: String,
}

/// The assessment, in the exact shape the backend expects.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Assessment {
    /// Bands and feedback per criterion.
    pub criteria: Criteria,
    /// A summary.
    pub overall_feedback: String,
    /// What to work on, weakest criteria first.
    pub improvement_plan: Vec<PlanItem>,
}

/// Whether `text` asks for an assessment.
pub(crate) fn is_assessment_request(text: &str) -> bool {
    text.lines().any(|line| line.trim() == TASK_LINE)
}

/// The candidate's lines of the transcript in `text`.
pub(crate) fn candidate_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<(bool, String)> = Vec::new();
    let transcript = text
        .lines()
        .skip_while(|line| line.trim() != TRANSCRIPT_LINE)
        .skip(1);
    for line in transcript {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("Candidate:") {
            lines.push((true, rest.trim().to_owned()));
        } else if let Some(rest) = line.strip_prefix("Examiner:") {
            lines.push((false, rest.trim().to_owned()));
        } else if let Some((_, last)) = lines.last_mut().filter(|_| !line.is_empty()) {
            last.push(' ');
            last.push_str(line);
        }
    }
    lines
        .into_iter()
        .filter_map(|(candidate, line)| candidate.then_some(line))
        .collect()
}

/// Assesses the transcript in `text`.
pub(crate) fn assess(text: &str) -> Assessment {
    let stats = CandidateStats::of(&candidate_lines(text));
    if stats.words == 0 {
        return silent_assessment();
    }
    let filler_share = CandidateStats::ratio(stats.fillers, stats.words);
    let fluency = half_band(
        3.0 + (stats.words_per_answer() / 10.0).min(4.0)
            + (CandidateStats::ratio(stats.linkers, stats.words) * 40.0).min(1.5)
            - (filler_share * 20.0).min(2.0),
    );
    let guiraud = stats.distinct_words as f64 / (stats.words as f64).sqrt();
    let lexical = half_band(
        1.5 + guiraud * 0.6
            + (CandidateStats::ratio(stats.long_words, stats.words) * 10.0).min(2.0),
    );
    let clauses = CandidateStats::ratio(stats.subordinators, stats.sentences.max(1));
    let grammar =
        half_band(3.0 + (stats.mean_sentence_length() / 4.0).min(3.5) + (clauses * 2.0).min(1.5));
    let unrecognised = CandidateStats::ratio(stats.unrecognised, stats.answers);
    let pronunciation = half_band((fluency + grammar) / 2.0 - unrecognised * 4.0);
    let criteria = Criteria {
        fluency_and_coherence: Criterion {
            band: fluency,
            feedback: format!(
                "You gave {} answers of about {:.0} words each, used {} linking words and {} fillers.",
                stats.answers,
                stats.words_per_answer(),
                stats.linkers,
                stats.fillers
            ),
        },
        lexical_resource: Criterion {
            band: lexical,
            feedback: format!(
                "You used {} different words out of {}, {} of them seven letters or longer.",
                stats.distinct_words, stats.words, stats.long_words
            ),
        },
        grammatical_range_and_accuracy: Criterion {
            band: grammar,
            feedback: format!(
                "Your sentences averaged {:.1} words, with {} subordinate clauses in {} sentences.",
                stats.mean_sentence_length(),
                stats.subordinators,
                stats.sentences
            ),
        },
        pronunciation: Criterion {
            band: pronunciation,
            feedback: format!(
                "{} of your {} answers could not be transcribed.",
                stats.unrecognised, stats.answers
            ),
        },
    };
    let plan = improvement_plan(&criteria);
    let overall_feedback = format!(
        "Based on {} words over {} answers. Work first on {}.",
        stats.words,
        stats.answers,
        plan.first()
            .map(|p| p.focus.as_str())
            .unwrap_or("consistency")
    );
    Assessment {
        criteria,
        overall_feedback,
        improvement_plan: plan,
    }
}

fn silent_assessment() -> Assessment {
    let zero = |what: &str| Criterion {
        band: 0.0,
        feedback: format!("No candidate speech was found, so {what} cannot be assessed."),
    };
    let criteria = Criteria {
        fluency_and_coherence: zero("fluency"),
        lexical_resource: zero("vocabulary"),
        grammatical_range_and_accuracy: zero("grammar"),
        pronunciation: zero("pronunciation"),
    };
    Assessment {
        improvement_plan: improvement_plan(&criteria),
        criteria,
        overall_feedback: "The transcript holds no candidate answers.".into(),
    }
}

/// The two weakest criteria (in the criteria's order on ties), with advice.
fn improvement_plan(criteria: &Criteria) -> Vec<PlanItem> {
    let mut ranked = [
        (criteria.fluency_and_coherence.band, 0),
        (criteria.lexical_resource.band, 1),
        (criteria.grammatical_range_and_accuracy.band, 2),
        (criteria.pronunciation.band, 3),
    ];
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    ranked
        .iter()
        .take(2)
        .map(|(_, index)| {
            let (focus, action, practice) = ADVICE[*index];
            PlanItem {
                focus: focus.into(),
                action: action.into(),
                practice: practice.into(),
            }
        })
        .collect()
}

const ADVICE: [(&str, &str, &str); 4] = [
    (
        "Fluency and coherence",
        "Extend each answer with a reason and an example, joined by linking words.",
        "Answer five Part 1 questions a day for 30 seconds each without stopping.",
    ),
    (
        "Lexical resource",
        "Learn topic vocabulary and use less common words and collocations.",
        "Keep a word list per topic and paraphrase each examiner question aloud.",
    ),
    (
        "Grammatical range and accuracy",
        "Combine ideas with relative and conditional clauses.",
        "Record a two-minute talk and rewrite three sentences as complex ones.",
    ),
    (
        "Pronunciation",
        "Speak clearly at a steady pace, stressing key words.",
        "Shadow a native recording for ten minutes a day.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const REQUEST: &str = "TASK: ielts_speaking_assessment\nRespond in JSON.\nTRANSCRIPT:\n\
        Examiner: Could you tell me your full name?\n\
        Candidate: My name is Ana Silva.\n\
        Examiner: Do you live in a house or an apartment?\n\
        Candidate: I live in an apartment in Lisbon, which is close to the river because\n\
        my family moved there when I was young. However, I would like a house.\n";

    #[test]
    fn reads_the_candidate_lines_only() {
        let lines = candidate_lines(REQUEST);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], "My name is Ana Silva.");
        assert!(lines[1].ends_with("I would like a house."));
        assert!(is_assessment_request(REQUEST));
        assert!(!is_assessment_request("TRANSCRIPT:\nCandidate: hi"));
    }

    #[test]
    fn bands_are_deterministic_and_in_range() {
        let first = assess(REQUEST);
        assert_eq!(first, assess(REQUEST));
        let c = &first.criteria;
        for band in [
            c.fluency_and_coherence.band,
            c.lexical_resource.band,
            c.grammatical_range_and_accuracy.band,
            c.pronunciation.band,
        ] {
            assert!(
                (0.0..=9.0).contains(&band) && (band * 2.0).fract() == 0.0,
                "{band}"
            );
        }
        assert_eq!(first.improvement_plan.len(), 2);
        let json = serde_json::to_value(&first).unwrap();
        assert!(json["criteria"]["pronunciation"]["band"].is_number());
        assert!(json["improvement_plan"][0]["practice"].is_string());
    }

    #[test]
    fn richer_answers_score_higher() {
        let poor = assess("TRANSCRIPT:\nCandidate: um yes\nCandidate: um no\nCandidate: er good");
        let rich = assess(REQUEST);
        assert!(
            rich.criteria.fluency_and_coherence.band > poor.criteria.fluency_and_coherence.band
        );
        assert!(
            rich.criteria.grammatical_range_and_accuracy.band
                > poor.criteria.grammatical_range_and_accuracy.band
        );
        let silent = assess("TRANSCRIPT:\nExaminer: Hello?");
        assert_eq!(silent.criteria.lexical_resource.band, 0.0);
    }

    proptest! {
        #[test]
        fn any_transcript_gives_valid_bands(lines in proptest::collection::vec(("(Candidate|Examiner|)", "[a-zA-Z ,.'?]{0,60}"), 0..12)) {
            let text: String = lines.iter().map(|(who, what)| format!("{who}: {what}\n")).collect();
            let assessment = assess(&format!("TRANSCRIPT:\n{text}"));
            let c = &assessment.criteria;
            for band in [c.fluency_and_coherence.band, c.lexical_resource.band, c.grammatical_range_and_accuracy.band, c.pronunciation.band] {
                prop_assert!((0.0..=9.0).contains(&band));
                prop_assert_eq!((band * 2.0).fract(), 0.0);
            }
            prop_assert!(!assessment.improvement_plan.is_empty());
        }
    }
}
