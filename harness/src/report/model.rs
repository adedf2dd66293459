//! What a run reports: `report.json`'s structure. Its JSON Schema (derived
//! from these types, published as reports/report.schema.json) is checked
//! against real output by the tests.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::contract::Violation;
pub use crate::metrics::ConformanceTally;
use crate::metrics::{Sample, Summary};

/// The version of this structure.
pub const SCHEMA_VERSION: u32 = 1;

/// A whole run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RunReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Run id (also the report folder's name).
    pub run_id: String,
    /// The command that produced it.
    pub command: String,
    /// Start (RFC 3339).
    pub started_at: String,
    /// Real duration.
    pub duration_ms: u64,
    /// `local` or the target URL.
    pub target: String,
    /// The time scale (durations in metrics are real time).
    pub time_scale: f64,
    /// Whether every expectation and every conformance check passed.
    pub passed: bool,
    /// Scenarios run.
    #[serde(default)]
    pub scenarios: Vec<ScenarioReport>,
    /// Conformance suites run.
    #[serde(default)]
    pub suites: Vec<SuiteReport>,
    /// Latency percentiles by metric (µs).
    pub metrics: BTreeMap<String, Summary>,
    /// Latency samples over time by metric.
    pub series: BTreeMap<String, Vec<Sample>>,
    /// Serialized HDR histograms (V2 deflate, base64), for `harness merge`.
    pub histograms: BTreeMap<String, String>,
    /// Error kinds and counts (bounded).
    pub errors: BTreeMap<String, u64>,
    /// Contract checks of every received message.
    pub conformance: ConformanceTally,
    /// What the local stack metered (absent against a remote target).
    #[serde(default)]
    pub stack: Option<StackReport>,
    /// The cost section (when computed).
    #[serde(default)]
    pub cost: Option<Value>,
}

/// One scenario.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ScenarioReport {
    /// Name.
    pub name: String,
    /// File.
    pub path: String,
    /// Target API.
    pub api: String,
    /// Whether every session passed.
    pub passed: bool,
    /// Sessions.
    pub sessions: Vec<SessionReport>,
}

/// One session (or one conformance case).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SessionReport {
    /// Number from 0.
    pub index: u32,
    /// Whether it passed.
    pub passed: bool,
    /// Start offset from the run start.
    pub started_at_ms: u64,
    /// Real duration.
    pub duration_ms: u64,
    /// Steps completed.
    pub steps_completed: u32,
    /// Messages sent.
    pub sent: u64,
    /// Messages received.
    pub received: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// How the socket closed.
    pub close: Option<CloseReport>,
    /// What failed.
    pub failures: Vec<Failure>,
    /// What happened, in order (bounded).
    pub timeline: Vec<TimelineEvent>,
}

/// How a socket closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CloseReport {
    /// Close code (1005: none given; 1006: no close frame).
    pub code: u16,
    /// Reason.
    pub reason: String,
    /// `server` or `client`.
    pub by: String,
    /// When, from the run start.
    pub at_ms: u64,
}

/// A failed check, with everything needed to understand and reproduce it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Failure {
    /// Which step (`steps[4] expect session_ready`).
    pub step: String,
    /// The named check: `expectation`, `payload schema`, `known message type`,
    /// `unexpected error`, `close code`, `connect`, `ordering`.
    pub check: String,
    /// What went wrong.
    pub message: String,
    /// What was expected.
    pub expected: Option<Value>,
    /// What was received.
    pub received: Option<Value>,
    /// Schema problems (instance and schema paths).
    pub violations: Vec<Violation>,
    /// The last frames both ways before the failure.
    pub transcript: Vec<WireEntry>,
    /// A command that reproduces it.
    pub reproduce: String,
}

/// One frame on the wire.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct WireEntry {
    /// From the run start.
    pub at_ms: u64,
    /// `in` (server to client) or `out`.
    pub direction: String,
    /// The text (long frames shortened).
    pub text: String,
}

/// One event of a session's timeline.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TimelineEvent {
    /// From the run start.
    pub at_ms: u64,
    /// `connect`, `send`, `stream`, `receive`, `expect`, `wait`, `close`, `failure`.
    pub kind: String,
    /// Details (message type, label, close code).
    pub detail: String,
}

/// A conformance suite's outcome.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SuiteReport {
    /// Target API.
    pub api: String,
    /// File.
    pub path: String,
    /// Cases.
    pub cases: Vec<CaseReport>,
}

/// One case's verdict.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CaseReport {
    /// `category.sub.n`.
    pub id: String,
    /// Category.
    pub category: Option<String>,
    /// Description.
    pub description: String,
    /// Expectation.
    pub expectation: String,
    /// `PASS`, `NON-STRICT`, `FAIL`, `INFO` or `UNIMPLEMENTED`.
    pub verdict: String,
    /// The close verdict: `PASS`, `FAIL` or `INFO`.
    pub close_verdict: String,
    /// The session behind it.
    pub session: SessionReport,
}

/// What the local stack metered.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct StackReport {
    /// Invocations by function.
    pub functions: BTreeMap<String, FunctionReport>,
}

/// One function's invocations.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct FunctionReport {
    /// Invocations.
    pub invocations: u64,
    /// Cold starts.
    pub cold_starts: u64,
    /// Init durations of the cold starts (ms, real time).
    pub init_ms: Vec<f64>,
    /// Billed ms in total (real time).
    pub billed_ms: u64,
    /// Configured memory.
    pub memory_mb: u32,
    /// Architecture.
    pub architecture: String,
    /// Invocations by route.
    pub by_route: BTreeMap<String, u64>,
    /// Outcomes by label.
    pub outcomes: BTreeMap<String, u64>,
}
