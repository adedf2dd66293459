//! A session's conversation as report data: each turn with the utterance it
//! followed, its latency and (from the model's own log) its part; each
//! utterance; the checks.

use super::checks::{CheckOutcome, ModelLog, parts_of};
use super::tracker::{Tracker, TurnEnd, UtteranceKind};
use crate::replay::inbox::Inbox;
use crate::report::model::{ConversationReport, TurnReport, UtteranceReport};

/// The report of one session's conversation.
pub(crate) fn report(
    tracker: &Tracker,
    model_log: Option<&ModelLog>,
    checks: Vec<CheckOutcome>,
    clock: &Inbox,
) -> ConversationReport {
    let parts = parts_of(tracker, model_log);
    let mut answered = std::collections::BTreeSet::new();
    let turns = tracker
        .turns
        .iter()
        .enumerate()
        .map(|(index, turn)| {
            let follows = tracker
                .utterances
                .iter()
                .rposition(|u| u.start <= turn.start);
            let latency = follows.and_then(|u| {
                let end = tracker.utterances[u].end?;
                let first = turn.first_audio.unwrap_or(turn.start);
                (turn.start >= end && answered.insert(u))
                    .then(|| first.saturating_duration_since(end).as_millis() as u64)
            });
            TurnReport {
                index: index as u32,
                start_ms: clock.offset_ms(turn.start),
                end_ms: turn.end.map(|end| clock.offset_ms(end)),
                ended_by: match turn.ended_by {
                    Some(TurnEnd::Signal) => "signal",
                    Some(TurnEnd::Quiet) => "quiet",
                    Some(TurnEnd::Interrupted) => "interrupted",
                    None => "open",
                }
                .to_owned(),
                text: turn.text.trim().to_owned(),
                audio_ms: turn.audio.as_millis() as u64,
                follows_utterance: follows.map(|u| u as u32),
                latency_ms: latency,
                part: parts[index].clone(),
            }
        })
        .collect();
    let utterances = tracker
        .utterances
        .iter()
        .enumerate()
        .map(|(index, u)| UtteranceReport {
            index: index as u32,
            kind: match u.kind {
                UtteranceKind::Speech => "speech",
                UtteranceKind::Text => "text",
            }
            .to_owned(),
            start_ms: clock.offset_ms(u.start),
            end_ms: u.end.map(|end| clock.offset_ms(end)),
            text: u.text.clone(),
            clips: u.clips.clone(),
        })
        .collect();
    ConversationReport {
        turns,
        utterances,
        checks,
    }
}
