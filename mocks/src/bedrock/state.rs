//! What the Bedrock mock remembers and what its control API changes: faults
//! on demand, billed usage per model, the streams it served, the transcript
//! catalog, and which models the account has access to.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::answers::ExaminerPart;
use super::events::SonicTokens;
use crate::speech::TranscriptCatalog;

/// A fault to inject. Durations are scenario milliseconds: the mock divides
/// them by its `time_scale`, like every other time limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum BedrockFault {
    /// 403 AccessDeniedException before the stream or call (model access not granted).
    AccessDenied,
    /// ValidationException: an exception frame at the stream's first event,
    /// or HTTP 400 before it (`before_stream`, and always for Converse).
    Validation {
        /// Fail the HTTP request instead of the stream.
        #[serde(default)]
        before_stream: bool,
    },
    /// ThrottlingException: a frame when the first assistant turn starts, or
    /// HTTP 429 before the stream (`before_stream`, and always for Converse).
    Throttling {
        /// Fail the HTTP request instead of the stream.
        #[serde(default)]
        before_stream: bool,
    },
    /// modelTimeoutException after `after_ms` (instead of the 8-minute limit);
    /// for Converse, HTTP 408 ModelTimeoutException.
    ModelTimeout {
        /// When the stream times out, from its start.
        after_ms: u64,
    },
    /// Extra delay before each assistant turn (or each Converse reply).
    Latency {
        /// The delay.
        ms: u64,
    },
    /// modelStreamErrorException in the middle of the first assistant turn
    /// (streams only).
    StreamError,
    /// InternalServerException: a frame when the first assistant turn starts,
    /// or HTTP 500 before the stream (`before_stream`, and always for Converse).
    InternalError {
        /// Fail the HTTP request instead of the stream.
        #[serde(default)]
        before_stream: bool,
    },
}

/// How long a fault stays armed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultScope {
    /// Only the next stream or call it applies to.
    Next,
    /// Every stream or call until the faults are cleared.
    #[default]
    All,
}

/// Which operations a fault applies to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultTarget {
    /// Nova Sonic streams and Converse / InvokeModel calls.
    #[default]
    Any,
    /// Nova Sonic bidirectional streams only.
    Stream,
    /// Converse and InvokeModel only.
    Converse,
}

/// A fault and when it applies: JSON like
/// `{"fault": "throttling", "before_stream": true, "scope": "next", "target": "stream"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// The fault.
    #[serde(flatten)]
    pub fault: BedrockFault,
    /// Next stream/call only, or all (the default).
    #[serde(default)]
    pub scope: FaultScope,
    /// Streams, Converse calls, or both (the default).
    #[serde(default)]
    pub target: FaultTarget,
}

impl FaultRule {
    /// `fault` for every stream and call.
    pub fn always(fault: BedrockFault) -> Self {
        Self {
            fault,
            scope: FaultScope::All,
            target: FaultTarget::Any,
        }
    }

    /// `fault` for the next stream or call only.
    pub fn once(fault: BedrockFault) -> Self {
        Self {
            fault,
            scope: FaultScope::Next,
            target: FaultTarget::Any,
        }
    }

    /// The same rule limited to `target`.
    pub fn on(mut self, target: FaultTarget) -> Self {
        self.target = target;
        self
    }

    fn applies_to(&self, operation: FaultTarget) -> bool {
        let target_ok = self.target == FaultTarget::Any || self.target == operation;
        let kind_ok = operation != FaultTarget::Converse || self.fault != BedrockFault::StreamError;
        target_ok && kind_ok
    }
}

/// Tokens billed for one model id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelUsage {
    /// Streams or calls served (errors included).
    pub requests: u64,
    /// All input tokens.
    pub input_tokens: u64,
    /// All output tokens.
    pub output_tokens: u64,
    /// Nova Sonic: speech input tokens.
    pub speech_input_tokens: u64,
    /// Nova Sonic: speech output tokens.
    pub speech_output_tokens: u64,
    /// Nova Sonic: text input tokens.
    pub text_input_tokens: u64,
    /// Nova Sonic: text output tokens.
    pub text_output_tokens: u64,
}

/// Where a stream is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamState {
    /// Still streaming.
    Open,
    /// Ended normally (sessionEnd or end of input).
    Ended,
    /// Ended by the model timeout.
    TimedOut,
    /// Ended by an exception frame.
    Failed,
    /// The client went away, or the mock stopped.
    Disconnected,
}

/// One line of a stream's transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptLine {
    /// `USER` or `ASSISTANT`.
    pub role: String,
    /// What was said.
    pub text: String,
    /// The assistant was interrupted while saying it.
    #[serde(default)]
    pub interrupted: bool,
    /// The examiner's script line (ASSISTANT lines of the examiner persona).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The part of the test that line belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<ExaminerPart>,
}

/// A Nova Sonic stream, as the control API reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamInfo {
    /// The session id sent in every output event.
    pub id: String,
    /// The model id from the path.
    pub model: String,
    /// The system prompt once received.
    pub system_prompt: String,
    /// Completed user turns.
    pub turns: u32,
    /// Both sides of the conversation: the conversation log.
    pub transcripts: Vec<TranscriptLine>,
    /// User turns that came after the examiner's closing line (each failed
    /// the stream with a modelStreamErrorException naming the cause).
    #[serde(default)]
    pub script_overruns: u32,
    /// Where it is.
    pub state: StreamState,
    /// The exception that ended it, if any.
    pub error: Option<String>,
    /// Tokens billed so far.
    pub usage: ModelUsage,
}

/// Everything behind the mock's lock.
#[derive(Debug, Default)]
pub struct MockState {
    /// Armed faults.
    pub faults: Vec<FaultRule>,
    /// Known utterances for "speech recognition".
    pub catalog: TranscriptCatalog,
    /// Billed usage per model id.
    pub usage: BTreeMap<String, ModelUsage>,
    /// Streams served, oldest first.
    pub streams: Vec<StreamInfo>,
    /// Model ids whose access is not granted.
    pub denied_models: BTreeSet<String>,
    /// Counter for request and session ids.
    pub next_id: u64,
}

impl MockState {
    /// Takes the faults for one new stream or call (`Next` ones are consumed).
    pub fn take_faults(&mut self, operation: FaultTarget) -> Vec<BedrockFault> {
        let mut taken = Vec::new();
        self.faults.retain(|rule| {
            if !rule.applies_to(operation) {
                return true;
            }
            taken.push(rule.fault.clone());
            rule.scope == FaultScope::All
        });
        taken
    }

    /// A fresh id, deterministic per mock.
    pub fn new_id(&mut self, kind: u32) -> String {
        self.next_id += 1;
        format!("{kind:08x}-0000-4000-8000-{:012x}", self.next_id)
    }

    /// Adds a Nova Sonic usage delta for `model`.
    pub fn add_sonic_usage(&mut self, model: &str, stream: usize, delta: &SonicTokens) {
        for usage in [
            self.usage.entry(model.to_owned()).or_default(),
            &mut self.streams[stream].usage,
        ] {
            usage.speech_input_tokens += delta.speech_in;
            usage.text_input_tokens += delta.text_in;
            usage.speech_output_tokens += delta.speech_out;
            usage.text_output_tokens += delta.text_out;
            usage.input_tokens += delta.input();
            usage.output_tokens += delta.output();
        }
    }

    /// Counts one request for `model`.
    pub fn count_request(&mut self, model: &str) {
        self.usage.entry(model.to_owned()).or_default().requests += 1;
    }
}

/// The lock around [`MockState`] plus the fixed settings.
#[derive(Debug)]
pub struct Shared {
    /// Divides every time limit.
    pub time_scale: f64,
    /// Cancelled when the mock stops: every open stream ends.
    pub shutdown: CancellationToken,
    state: Mutex<MockState>,
}

impl Shared {
    /// New shared state.
    pub fn new(time_scale: f64, denied_models: BTreeSet<String>) -> Self {
        Self {
            time_scale,
            shutdown: CancellationToken::new(),
            state: Mutex::new(MockState {
                denied_models,
                ..MockState::default()
            }),
        }
    }

    /// Locks the state (a poisoned lock is still usable: the state stays consistent).
    pub fn lock(&self) -> MutexGuard<'_, MockState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `scenario` time divided by the time scale.
    pub fn scaled(&self, scenario: Duration) -> Duration {
        scenario.div_f64(self.time_scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_json_shapes() {
        let rule: FaultRule = serde_json::from_str(
            r#"{"fault": "throttling", "before_stream": true, "scope": "next"}"#,
        )
        .unwrap();
        assert_eq!(
            rule,
            FaultRule::once(BedrockFault::Throttling {
                before_stream: true
            })
        );
        let rule: FaultRule =
            serde_json::from_str(r#"{"fault": "model_timeout", "after_ms": 500}"#).unwrap();
        assert_eq!(
            rule,
            FaultRule::always(BedrockFault::ModelTimeout { after_ms: 500 })
        );
        assert!(serde_json::from_str::<FaultRule>(r#"{"fault": "gremlins"}"#).is_err());
    }

    #[test]
    fn next_faults_are_consumed_and_targets_respected() {
        let mut state = MockState {
            faults: vec![
                FaultRule::once(BedrockFault::AccessDenied).on(FaultTarget::Stream),
                FaultRule::always(BedrockFault::Latency { ms: 5 }),
                FaultRule::once(BedrockFault::StreamError),
            ],
            ..MockState::default()
        };
        assert_eq!(
            state.take_faults(FaultTarget::Converse),
            vec![BedrockFault::Latency { ms: 5 }]
        );
        assert_eq!(
            state.take_faults(FaultTarget::Stream),
            vec![
                BedrockFault::AccessDenied,
                BedrockFault::Latency { ms: 5 },
                BedrockFault::StreamError
            ]
        );
        assert_eq!(
            state.take_faults(FaultTarget::Stream),
            vec![BedrockFault::Latency { ms: 5 }]
        );
    }
}
