//! What a run reports: `report.json`'s structure. Its JSON Schema (derived
//! from these types, published as reports/report.schema.json) is checked
//! against real output by the tests.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::contract::asyncapi::Violation;
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
    /// What the figures were measured on: the harness's build and the machine
    /// (`harness release build, 2 cores, linux x86_64`).
    #[serde(default)]
    pub measured_on: String,
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
    /// What the run used, in billed units (metered by the local stack, or
    /// estimated by `harness cost` against a deployed target).
    #[serde(default)]
    pub usage: Option<crate::cost::usage::Usage>,
    /// The cost section (when computed).
    #[serde(default)]
    pub cost: Option<CostReport>,
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
    /// What the loader noticed (e.g. a pause that would split an utterance).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
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
    /// Messages sent, in API Gateway's 32 KB billing units.
    #[serde(default)]
    pub units_sent: u64,
    /// Messages received, in 32 KB units.
    #[serde(default)]
    pub units_received: u64,
    /// How the socket closed.
    pub close: Option<CloseReport>,
    /// What failed.
    pub failures: Vec<Failure>,
    /// What happened, in order (bounded).
    pub timeline: Vec<TimelineEvent>,
    /// The conversation: model turns, candidate utterances, conversation checks
    /// (speech APIs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationReport>,
}

/// A session's conversation as the client saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConversationReport {
    /// The model's turns, in order.
    pub turns: Vec<TurnReport>,
    /// The candidate's utterances (speech or typed), in order.
    pub utterances: Vec<UtteranceReport>,
    /// The conversation checks (empty when they were off).
    pub checks: Vec<crate::turns::CheckOutcome>,
}

/// One model turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TurnReport {
    /// Number from 0.
    pub index: u32,
    /// Its first message, ms from the run start.
    pub start_ms: u64,
    /// Its end, ms from the run start (absent: it never ended).
    pub end_ms: Option<u64>,
    /// `signal` (the API's turn-end message), `quiet` (a gap), `interrupted`, or `open`.
    pub ended_by: String,
    /// What the model said (transcript pieces joined).
    pub text: String,
    /// Audio received, ms of audio time.
    pub audio_ms: u64,
    /// The utterance it followed (the last one begun before it started).
    pub follows_utterance: Option<u32>,
    /// From the end of that utterance to the turn's first audio, ms (the
    /// first turn after the utterance only).
    pub latency_ms: Option<u64>,
    /// The part of the conversation, from the model's own log (local mocks).
    pub part: Option<String>,
}

/// One candidate utterance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UtteranceReport {
    /// Number from 0.
    pub index: u32,
    /// `speech` or `text`.
    pub kind: String,
    /// First chunk sent, ms from the run start.
    pub start_ms: u64,
    /// Last chunk sent, ms from the run start.
    pub end_ms: Option<u64>,
    /// What was said (the clips' transcripts).
    pub text: String,
    /// The clips.
    pub clips: Vec<String>,
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
    /// Warnings and errors the function logged during the run (`WARN` and
    /// `ERROR` records, Lambda's `Task timed out` line, panics).
    #[serde(default)]
    pub warnings_logged: u64,
    /// The most recent of them (at most 100), oldest first.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// The cost section: what one session (normalised to a reference length) and
/// N a month cost, by component, from metered usage and a dated pricing table.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CostReport {
    /// The pricing table's date (`YYYY-MM-DD`).
    pub pricing_date: String,
    /// The pricing table's file.
    pub pricing_source: String,
    /// True when usage was estimated from what the harness observed (remote
    /// target) rather than metered by the local stack.
    pub estimate: bool,
    /// The session length costs are normalised to (scenario time, seconds).
    pub normalised_seconds: f64,
    /// One session, by component.
    pub per_session: CostTable,
    /// N sessions a month, by component (with free tiers when asked).
    #[serde(default)]
    pub per_month: Option<MonthlyCost>,
    /// The seeds' own cost tables, line by line, against the measured figures.
    #[serde(default)]
    pub seed_comparisons: Vec<SeedComparison>,
    /// Gemini Live, turn by turn: usage per turn, how one session's Vertex
    /// lines were obtained, and the session at 7, 14 and 28 minutes.
    #[serde(default)]
    pub live: Option<crate::cost::live_cost::LiveCost>,
    /// How the figures were obtained: normalisation, assumptions, what the
    /// usage leaves out (for an estimate, every assumption it rests on).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// Cost lines and their total.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CostTable {
    /// The lines.
    pub lines: Vec<CostLine>,
    /// Their sum (USD).
    pub total_usd: f64,
}

/// One component's cost.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CostLine {
    /// Group (`Lambda`, `API Gateway`, `DynamoDB`, `Secrets Manager`, `Vertex AI`, `Bedrock`, ...).
    pub service: String,
    /// What is counted (`GB-seconds arm64`, `WebSocket messages (32 KB units)`, ...).
    pub what: String,
    /// How much.
    pub quantity: f64,
    /// Its unit (`GB-s`, `messages`, `1M tokens`, ...).
    pub unit: String,
    /// Price per unit (USD).
    pub unit_price_usd: f64,
    /// quantity x unit price (USD).
    pub cost_usd: f64,
}

/// A month of sessions.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MonthlyCost {
    /// Sessions a month.
    pub sessions: u64,
    /// Whether free tiers were applied.
    pub free_tiers: bool,
    /// The month's cost.
    pub table: CostTable,
}

/// One seed's cost table against the measurement.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SeedComparison {
    /// `seed 000`, `seed 001`, `seed 002`.
    pub seed: String,
    /// What the seed prices (`one 14-minute assessment`, `an hour of conversation`, `a month`).
    pub basis: String,
    /// Lines.
    pub lines: Vec<SeedLine>,
}

/// One line of a seed's table.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SeedLine {
    /// The seed's wording.
    pub item: String,
    /// The seed's figure (USD).
    pub claimed_usd: f64,
    /// The measured (or recomputed) figure (USD).
    pub measured_usd: f64,
    /// Whether the claim holds (within the stated tolerance).
    pub consistent: bool,
    /// The arithmetic behind the verdict.
    pub arithmetic: String,
}
