//! Faults the Vertex mock injects on demand, each optionally scoped to one
//! region and applying to the next session (or generateContent call) only,
//! or to all until cleared. Session faults are taken when a WebSocket
//! upgrade arrives (`reject_auth`) or when a session's setup is accepted (the
//! others); generateContent faults when the call arrives.
//!
//! JSON form (`POST /_mock/vertex/faults`):
//! `{"kind": "latency", "ms": 300, "region": "europe-west1", "applies_to": "all"}`.
//!
//! `{"kind": "misbehave", "how": "answer_twice", "at_turn": 1}` makes the
//! examiner misbehave once in the session, as a real model or backend can
//! (see [`Misbehaviour`]), so that a harness can show its conversation
//! checks catch it.

use serde::{Deserialize, Serialize};

/// One fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VertexFault {
    /// Refuse the WebSocket upgrade with 401 whatever the token.
    RejectAuth,
    /// Wait this long (scenario time, divided by the time scale) before each model turn.
    Latency {
        /// Milliseconds.
        ms: u64,
    },
    /// Close the TCP connection without a close frame after this many model turns.
    DropSocket {
        /// Completed model turns on the connection before the drop.
        after_turns: u32,
    },
    /// Send `goAway` this long after setup, then close with 1011 when the time is up.
    EarlyGoAway {
        /// Milliseconds after setup (scenario time).
        after_ms: u64,
        /// The `timeLeft` announced (scenario time, default 10 s).
        #[serde(default = "default_time_left_ms")]
        time_left_ms: u64,
    },
    /// Close with this code and reason right after `setupComplete`.
    Close {
        /// WebSocket close code.
        code: u16,
        /// Close reason.
        #[serde(default)]
        reason: String,
    },
    /// generateContent returns an assessment that breaks the contract.
    InvalidAssessment {
        /// How it is broken.
        #[serde(default)]
        variant: InvalidAssessmentVariant,
    },
    /// generateContent answers 429 RESOURCE_EXHAUSTED.
    Throttle,
    /// generateContent answers this long after the request (scenario time,
    /// divided by the time scale): a model slow to write a long answer.
    SlowAnswer {
        /// Milliseconds.
        ms: u64,
    },
    /// The examiner misbehaves once in the session, at model turn `at_turn`.
    Misbehave {
        /// What goes wrong.
        how: Misbehaviour,
        /// The model turn (0 = the greeting, 1 = the reply to the
        /// candidate's first answer, ...) where it happens.
        #[serde(default = "default_at_turn")]
        at_turn: u32,
    },
}

fn default_at_turn() -> u32 {
    1
}

/// A way the examiner can break the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Misbehaviour {
    /// Right after the reply at `at_turn`, a second model turn (the next
    /// script line) with no user turn between.
    AnswerTwice,
    /// When the script next enters a new part (at or after `at_turn`), it
    /// jumps to the first line of the part after that one.
    SkipPart,
    /// The reply `at_turn` starts as soon as the candidate starts speaking,
    /// and that speech does not interrupt it.
    SpeakOver,
    /// Right after the reply at `at_turn`, the very same turn again.
    RepeatTurn,
    /// The reply at `at_turn` says the previous line again instead of advancing.
    StaleTurn,
    /// The reply at `at_turn` is the closing line; then the script goes on.
    EarlyClosing,
}

fn default_time_left_ms() -> u64 {
    10_000
}

/// How an `invalid_assessment` is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvalidAssessmentVariant {
    /// The `pronunciation` criterion is missing.
    #[default]
    MissingCriterion,
    /// A band of 11.
    BandOutOfRange,
}

/// Whether a fault is used once or kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultScope {
    /// The next session (or generateContent call) only.
    #[default]
    Next,
    /// Every session (or call) until the faults are cleared.
    All,
}

/// A fault with its scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// The fault.
    #[serde(flatten)]
    pub fault: VertexFault,
    /// Only sessions or calls reaching this region (all regions when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Once, or until cleared.
    #[serde(default)]
    pub applies_to: FaultScope,
}

impl FaultRule {
    /// A fault for the next session or call in any region.
    pub fn next(fault: VertexFault) -> Self {
        Self {
            fault,
            region: None,
            applies_to: FaultScope::Next,
        }
    }

    /// A fault for every session or call in any region.
    pub fn all(fault: VertexFault) -> Self {
        Self {
            fault,
            region: None,
            applies_to: FaultScope::All,
        }
    }

    /// Restricts the fault to one region.
    pub fn in_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }
}

/// Which moment a fault is taken at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultStage {
    /// The WebSocket upgrade.
    Upgrade,
    /// An accepted setup.
    Session,
    /// A generateContent call.
    GenerateContent,
}

impl VertexFault {
    /// When this fault is taken.
    pub fn stage(&self) -> FaultStage {
        match self {
            Self::RejectAuth => FaultStage::Upgrade,
            Self::Latency { .. }
            | Self::DropSocket { .. }
            | Self::EarlyGoAway { .. }
            | Self::Close { .. }
            | Self::Misbehave { .. } => FaultStage::Session,
            Self::InvalidAssessment { .. } | Self::Throttle | Self::SlowAnswer { .. } => {
                FaultStage::GenerateContent
            }
        }
    }
}

/// The faults currently set.
#[derive(Debug, Clone, Default)]
pub struct FaultBook {
    rules: Vec<FaultRule>,
}

impl FaultBook {
    /// Adds a rule.
    pub fn add(&mut self, rule: FaultRule) {
        self.rules.push(rule);
    }

    /// Removes every rule.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// The rules set.
    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    /// The faults that apply at `stage` in `region`; one-shot rules are used up.
    pub fn take(&mut self, stage: FaultStage, region: &str) -> Vec<VertexFault> {
        let mut taken = Vec::new();
        self.rules.retain(|rule| {
            let applies =
                rule.fault.stage() == stage && rule.region.as_deref().is_none_or(|r| r == region);
            if applies {
                taken.push(rule.fault.clone());
            }
            !(applies && rule.applies_to == FaultScope::Next)
        });
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_form() {
        let rule: FaultRule = serde_json::from_str(
            r#"{"kind": "latency", "ms": 300, "region": "europe-west1", "applies_to": "all"}"#,
        )
        .unwrap();
        assert_eq!(
            rule,
            FaultRule::all(VertexFault::Latency { ms: 300 }).in_region("europe-west1")
        );
        let rule: FaultRule =
            serde_json::from_str(r#"{"kind": "early_go_away", "after_ms": 5}"#).unwrap();
        assert_eq!(
            rule,
            FaultRule::next(VertexFault::EarlyGoAway {
                after_ms: 5,
                time_left_ms: 10_000
            })
        );
        let back: FaultRule = serde_json::from_value(serde_json::to_value(&rule).unwrap()).unwrap();
        assert_eq!(back, rule);
        assert!(serde_json::from_str::<FaultRule>(r#"{"kind": "meteor"}"#).is_err());
        let rule: FaultRule =
            serde_json::from_str(r#"{"kind": "misbehave", "how": "skip_part"}"#).unwrap();
        assert_eq!(
            rule,
            FaultRule::next(VertexFault::Misbehave {
                how: Misbehaviour::SkipPart,
                at_turn: 1
            })
        );
        assert_eq!(rule.fault.stage(), FaultStage::Session);
        let rule: FaultRule = serde_json::from_str(
            r#"{"kind": "misbehave", "how": "early_closing", "at_turn": 4, "applies_to": "all"}"#,
        )
        .unwrap();
        assert_eq!(
            rule,
            FaultRule::all(VertexFault::Misbehave {
                how: Misbehaviour::EarlyClosing,
                at_turn: 4
            })
        );
        assert!(
            serde_json::from_str::<FaultRule>(r#"{"kind": "misbehave", "how": "sing"}"#).is_err()
        );
    }

    #[test]
    fn next_is_used_once_all_is_kept_regions_filter() {
        let mut book = FaultBook::default();
        book.add(FaultRule::next(VertexFault::RejectAuth).in_region("us-central1"));
        book.add(FaultRule::all(VertexFault::Throttle));
        assert!(book.take(FaultStage::Upgrade, "europe-west1").is_empty());
        assert_eq!(
            book.take(FaultStage::Upgrade, "us-central1"),
            vec![VertexFault::RejectAuth]
        );
        assert!(book.take(FaultStage::Upgrade, "us-central1").is_empty());
        for _ in 0..3 {
            assert_eq!(
                book.take(FaultStage::GenerateContent, "global"),
                vec![VertexFault::Throttle]
            );
        }
        book.clear();
        assert!(book.take(FaultStage::GenerateContent, "global").is_empty());
    }
}
