//! The conversation checks, numbered like conformance cases and run at the
//! end of every session of a speech API (or of any scenario with a
//! `conversation:` block). Each names what it saw, with turn and utterance
//! numbers, so a failure reads as the conversation that went wrong.
//!
//! | id | check |
//! |---|---|
//! | conversation.1 | the model never starts a turn while the client is streaming speech |
//! | conversation.2 | exactly the expected model turns per completed utterance (1 unless the answer says otherwise; none for a prompt the server refused with an `error`), and the expected opening turns between the request that opens the conversation and the first utterance |
//! | conversation.3 | no model turn repeats another word for word |
//! | conversation.4 | the scenario's checkpoints (`expect_turn`: what was said, in which part) |
//! | conversation.5 | the closing line is said at most once, and last |
//! | conversation.6 | replies that answer a request (e.g. `assessment_complete` after `end_speaking`) never come before it |
//! | conversation.7 | the model's own log (local mocks) has no turn past the end of its script |

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::tracker::{Tracker, Turn, UtteranceKind};

/// A turn that starts this soon after the candidate began to speak, when the
/// candidate did not wait for the model to finish, was already on its way
/// (the model decided before it could hear them). A candidate that waited
/// leaves no turn on its way, so no grace applies.
pub(crate) const IN_FLIGHT_GRACE: Duration = Duration::from_millis(250);

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckOutcome {
    /// `conversation.N`.
    pub id: String,
    /// Short name.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// What broke it (empty when it held).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// An `expect_turn` step's checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    pub step: String,
    /// The turn it matched (None: none came).
    pub turn: Option<usize>,
    /// The part the turn must be in (judged against the model's log).
    pub part: Option<String>,
    /// A problem found at the step (the turn never came, or said something else).
    pub problem: Option<String>,
}

/// One turn in the model's own log (the local mocks' control API).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelTurn {
    /// What the model said.
    pub text: String,
    /// The part of the conversation, when the model has parts.
    pub part: Option<String>,
}

/// The model's own log of a session.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelLog {
    pub turns: Vec<ModelTurn>,
    /// Turns the model was asked for past the end of its script.
    pub overruns: u32,
}

/// What the checks read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Judged<'a> {
    /// The conversation.
    pub tracker: &'a Tracker,
    /// Model turns per utterance unless an answer says otherwise.
    pub replies_per_utterance: u32,
    pub checkpoints: &'a [Checkpoint],
    /// The model's log, when the target exposes one.
    pub model_log: Option<&'a ModelLog>,
    /// When the session ended.
    pub ended: Instant,
}

/// Text compared word for word: lower case, single spaces.
pub(crate) fn normalized(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn outcome(id: u32, name: &str, problems: Vec<String>) -> CheckOutcome {
    CheckOutcome {
        id: format!("conversation.{id}"),
        name: name.to_owned(),
        passed: problems.is_empty(),
        problems,
    }
}

fn quote(text: &str) -> String {
    let mut short: String = text.chars().take(80).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    format!("{short:?}")
}

/// Runs every check.
pub(crate) fn judge(input: Judged<'_>) -> Vec<CheckOutcome> {
    let parts = parts_of(input.tracker, input.model_log);
    vec![
        outcome(
            1,
            "no turn during speech",
            no_turn_during_speech(input.tracker),
        ),
        outcome(2, "one turn per utterance", turns_per_utterance(&input)),
        outcome(3, "no repeated turn", no_repeated_turn(input.tracker)),
        outcome(4, "checkpoints", checkpoints(&input, &parts)),
        outcome(5, "closing once and last", closing(input.tracker)),
        outcome(
            6,
            "replies after their request",
            replies_after_request(input.tracker),
        ),
        outcome(7, "model log clean", model_log_clean(input.model_log)),
    ]
}

fn no_turn_during_speech(tracker: &Tracker) -> Vec<String> {
    let mut problems = Vec::new();
    for (u_index, utterance) in tracker.utterances.iter().enumerate() {
        if utterance.kind != UtteranceKind::Speech {
            continue;
        }
        // Its voiced audio: a turn in the quiet that ends the last clip
        // talks over no one.
        let Some(end) = utterance.speech_end.or(utterance.end) else {
            continue;
        };
        let grace = if utterance.waited {
            Duration::ZERO
        } else {
            IN_FLIGHT_GRACE
        };
        for (t_index, turn) in tracker.turns.iter().enumerate() {
            if turn.start > utterance.start + grace && turn.start <= end {
                problems.push(format!(
                    "turn {t_index} ({}) started {} ms into utterance {u_index} ({}), {} ms before its speech ended",
                    quote(&turn.text),
                    turn.start.duration_since(utterance.start).as_millis(),
                    quote(&utterance.text),
                    end.duration_since(turn.start).as_millis(),
                ));
            }
        }
    }
    problems
}

/// Turns starting in `[from, to)`.
fn turns_between(turns: &[Turn], from: Instant, to: Instant) -> Vec<usize> {
    turns
        .iter()
        .enumerate()
        .filter(|(_, t)| t.start >= from && t.start < to)
        .map(|(i, _)| i)
        .collect()
}

fn turns_per_utterance(input: &Judged<'_>) -> Vec<String> {
    let tracker = input.tracker;
    let mut problems = Vec::new();
    let utterances = &tracker.utterances;
    if let Some((opening, after)) = &tracker.profile().opening {
        let opened = tracker
            .actions_sent
            .iter()
            .find(|(action, _)| action == after)
            .map(|(_, at)| *at);
        // Owed once the client speaks (a session that only opens is not judged).
        if let (Some(opened), Some(first)) = (opened, utterances.first()) {
            let until = first.start;
            let found = turns_between(&tracker.turns, opened, until).len();
            let refused = found == 0 && tracker.refused_between(opened, until);
            if found != *opening as usize && !refused {
                problems.push(format!(
                    "{found} model turns between {after} and the first utterance, expected {opening}"
                ));
            }
        }
    }
    for (index, utterance) in utterances.iter().enumerate() {
        // Only completed utterances are judged.
        if utterance.end.is_none() {
            continue;
        }
        let until = utterances.get(index + 1).map_or(input.ended, |u| u.start);
        let found = turns_between(&tracker.turns, utterance.start, until);
        let wanted = utterance.replies.unwrap_or(input.replies_per_utterance) as usize;
        // A prompt the server refused (an `error`, no turn) gets no reply.
        let refused = found.is_empty() && tracker.refused_between(utterance.start, until);
        if found.len() != wanted && !refused {
            let said: Vec<String> = found
                .iter()
                .map(|t| format!("turn {t} {}", quote(&tracker.turns[*t].text)))
                .collect();
            problems.push(format!(
                "utterance {index} ({}) got {} model turns, expected {wanted}{}",
                quote(&utterance.text),
                found.len(),
                if said.is_empty() {
                    String::new()
                } else {
                    format!(": {}", said.join(", "))
                }
            ));
        }
    }
    problems
}

fn no_repeated_turn(tracker: &Tracker) -> Vec<String> {
    let mut problems = Vec::new();
    let texts: Vec<String> = tracker.turns.iter().map(|t| normalized(&t.text)).collect();
    for (later, text) in texts.iter().enumerate() {
        if text.is_empty() {
            continue;
        }
        if let Some(earlier) = texts[..later].iter().position(|t| t == text) {
            problems.push(format!(
                "turn {later} repeats turn {earlier} word for word: {}",
                quote(text)
            ));
        }
    }
    problems
}

/// The part of each turn, from the model's log (matched by text, in order).
pub(crate) fn parts_of(tracker: &Tracker, log: Option<&ModelLog>) -> Vec<Option<String>> {
    let mut parts = vec![None; tracker.turns.len()];
    let Some(log) = log else { return parts };
    let mut next = 0;
    for (index, turn) in tracker.turns.iter().enumerate() {
        let text = normalized(&turn.text);
        if let Some(offset) = log.turns[next.min(log.turns.len())..]
            .iter()
            .position(|m| normalized(&m.text) == text)
        {
            parts[index] = log.turns[next + offset].part.clone();
            next += offset + 1;
        }
    }
    parts
}

fn checkpoints(input: &Judged<'_>, parts: &[Option<String>]) -> Vec<String> {
    let mut problems = Vec::new();
    for checkpoint in input.checkpoints {
        if let Some(problem) = &checkpoint.problem {
            problems.push(format!("{}: {problem}", checkpoint.step));
            continue;
        }
        let (Some(wanted), Some(turn)) = (&checkpoint.part, checkpoint.turn) else {
            continue;
        };
        match (input.model_log, parts.get(turn).cloned().flatten()) {
            (None, _) => {}
            (Some(_), None) => problems.push(format!(
                "{}: turn {turn} is not in the model's log, so its part is unknown (expected {wanted})",
                checkpoint.step
            )),
            (Some(_), Some(part)) if part != *wanted => problems.push(format!(
                "{}: turn {turn} is in {part}, expected {wanted}",
                checkpoint.step
            )),
            _ => {}
        }
    }
    problems
}

fn closing(tracker: &Tracker) -> Vec<String> {
    let Some(pattern) = &tracker.profile().closing else {
        return Vec::new();
    };
    let Ok(closing) = regex::Regex::new(pattern) else {
        return vec![format!(
            "the closing pattern {pattern:?} is not a regular expression"
        )];
    };
    let said: Vec<usize> = tracker
        .turns
        .iter()
        .enumerate()
        .filter(|(_, t)| closing.is_match(&t.text))
        .map(|(i, _)| i)
        .collect();
    let mut problems = Vec::new();
    if said.len() > 1 {
        problems.push(format!(
            "the closing was said {} times (turns {said:?})",
            said.len()
        ));
    }
    if let Some(first) = said.first() {
        let last = tracker.turns.len() - 1;
        if *first != last {
            problems.push(format!(
                "the closing (turn {first}) was followed by {} more turns, the next {}",
                last - first,
                quote(&tracker.turns[first + 1].text)
            ));
        }
    }
    problems
}

fn replies_after_request(tracker: &Tracker) -> Vec<String> {
    tracker
        .early_replies
        .iter()
        .map(|early| {
            format!(
                "{} arrived {} ms after the socket opened, before any {}",
                early.kind,
                early
                    .at
                    .saturating_duration_since(tracker.opened)
                    .as_millis(),
                early.after
            )
        })
        .collect()
}

fn model_log_clean(log: Option<&ModelLog>) -> Vec<String> {
    match log {
        Some(log) if log.overruns > 0 => vec![format!(
            "the model was asked for {} turns past the end of its script",
            log.overruns
        )],
        _ => Vec::new(),
    }
}
