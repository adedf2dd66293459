//! The scenario file format (YAML). A scenario targets one WebSocket API and
//! says how many sessions to run, how they arrive, and the steps each session
//! takes: connect, send, stream audio or silence at real-time pace (divided by
//! the time scale), expect messages and closes, wait, disconnect, repeat.
//! scenarios/README.md documents it; `harness scenario-schema` prints the JSON
//! Schema editors use, derived from these types.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::duration::Span;

/// A scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name (reports use it).
    pub name: String,
    /// What it checks.
    #[serde(default)]
    pub description: Option<String>,
    /// The target API: its logical id in backend/template.yaml (`SpeakingWebSocketApi`).
    pub api: String,
    /// Template parameter overrides the local stack needs (`EnableDiagnostics: "true"`).
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// How many sessions and how they arrive.
    #[serde(default)]
    pub sessions: SessionPlan,
    /// Variables usable as `${name}` in messages, queries and headers; values may use
    /// `${session}` (the session's number, from 0) and `${run_id}`.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Message types that answer a user's spoken turn (turn latency ends at the
    /// first of them after an audio stream ends), e.g. `[maya_audio]`.
    #[serde(default)]
    pub turn_replies: Vec<String>,
    /// Messages whose arrival is expected at any time and never fails a run
    /// (matched by field values), e.g. API Gateway's "Endpoint request timed out".
    #[serde(default)]
    pub tolerate: Vec<BTreeMap<String, Matcher>>,
    /// The candidate's open microphone: the message that carries an audio
    /// chunk, for `answer` steps and for the silence streamed while
    /// `answer`, `expect_turn` and `wait` steps wait.
    #[serde(default)]
    pub microphone: Option<Microphone>,
    /// The conversation checks and how turns are told apart (the speech APIs
    /// have built-in defaults).
    #[serde(default)]
    pub conversation: Option<crate::turns::ConversationConfig>,
    /// The steps of every session.
    pub steps: Vec<Step>,
}

/// The candidate's microphone: how audio chunks are sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Microphone {
    /// Message template; `${chunk}` is the chunk's base64, `${mime_type}` its type.
    pub message: Value,
    /// Chunk length (default 250 ms, a MediaRecorder timeslice).
    #[serde(default = "mic_chunk_ms")]
    pub chunk_ms: u32,
    /// Chunk encoding.
    #[serde(default)]
    pub format: ChunkFormat,
    /// Sample rate of the silence it streams.
    #[serde(default = "sixteen_k")]
    pub sample_rate: u32,
}

fn mic_chunk_ms() -> u32 {
    250
}

/// A conformance suite: numbered cases against one API (Autobahn style).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// The target API's logical id in backend/template.yaml.
    pub api: String,
    /// What the suite covers.
    #[serde(default)]
    pub description: Option<String>,
    /// Template parameter overrides the local stack needs.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// Variables for every case.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Messages tolerated at any time (as in scenarios).
    #[serde(default)]
    pub tolerate: Vec<BTreeMap<String, Matcher>>,
    /// Message types that answer a spoken turn.
    #[serde(default)]
    pub turn_replies: Vec<String>,
    /// The candidate's microphone (as in scenarios).
    #[serde(default)]
    pub microphone: Option<Microphone>,
    /// The conversation checks (as in scenarios).
    #[serde(default)]
    pub conversation: Option<crate::turns::ConversationConfig>,
    /// The cases, each run in a fresh session.
    pub cases: Vec<Case>,
}

/// One numbered case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// `category.sub.n`, e.g. `2.1.3`.
    pub id: String,
    /// Category name (reports group by it).
    #[serde(default)]
    pub category: Option<String>,
    /// What the case does.
    pub description: String,
    /// What must happen.
    pub expectation: String,
    /// A negative case sends bad input that must be rejected.
    #[serde(default)]
    pub negative: bool,
    /// Optional: the feature is not implemented by the target yet (verdict UNIMPLEMENTED).
    #[serde(default)]
    pub unimplemented: bool,
    /// Expected close code at the end of the case (absent: the harness closes with 1000).
    #[serde(default)]
    pub close: Option<u16>,
    /// The steps.
    pub steps: Vec<Step>,
}

/// How many sessions run and how they arrive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionPlan {
    /// Number of sessions (`--sessions` overrides it).
    #[serde(default = "one")]
    pub count: u32,
    /// Arrival: all at once (a closed model) or at a rate (an open model).
    #[serde(default)]
    pub arrival: Arrival,
}

fn one() -> u32 {
    1
}

impl Default for SessionPlan {
    fn default() -> Self {
        Self {
            count: 1,
            arrival: Arrival::default(),
        }
    }
}

/// How sessions arrive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Arrival {
    /// Every session starts at once.
    #[default]
    AllAtOnce,
    /// Sessions start at a fixed rate (per second of scenario time).
    PerSecond(f64),
}

/// A field matcher: a literal value (equality) or an operator object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Matcher {
    /// `{regex: "..."}`, `{present: true}`, `{one_of: [...]}`, `{gte: n}`, `{lte: n}`, `{type: "string"}`.
    Operator(Operator),
    /// Equal to this value.
    Literal(Value),
}

/// Matcher operators (all given must hold).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Operator {
    /// The string value matches this regular expression.
    #[serde(default)]
    pub regex: Option<String>,
    /// The field is present (true) or absent (false).
    #[serde(default)]
    pub present: Option<bool>,
    /// The value is one of these.
    #[serde(default)]
    pub one_of: Option<Vec<Value>>,
    /// A number at least this.
    #[serde(default)]
    pub gte: Option<f64>,
    /// A number at most this.
    #[serde(default)]
    pub lte: Option<f64>,
    /// The JSON type (`string`, `number`, `integer`, `boolean`, `object`, `array`, `null`).
    #[serde(default, rename = "type")]
    pub json_type: Option<String>,
}

/// The encoding of streamed audio chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ChunkFormat {
    /// Each chunk a whole WAV file (seed 000's browser client).
    #[default]
    Wav,
    /// Raw 16-bit little-endian mono PCM.
    Pcm,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Open the WebSocket.
    Connect(Connect),
    /// Send a message (JSON, or `raw` text).
    Send(Send),
    /// Stream a WAV file in chunks at real-time pace.
    StreamAudio(StreamAudio),
    /// Stream silence in chunks at real-time pace.
    StreamSilence(StreamSilence),
    /// Answer like a person: wait (microphone open) until the model's turn
    /// has ended and its audio has played out, think, then speak the clips
    /// as one utterance.
    Answer(Answer),
    /// Wait (microphone open) for the model's next turn to end, and check
    /// what it said.
    ExpectTurn(ExpectTurn),
    /// Wait for a message that matches.
    Expect(Expect),
    /// Expect the server to close the socket.
    ExpectClose(ExpectClose),
    /// Pause (scenario time).
    Wait(Span),
    /// Wait until the server has been silent for a while (e.g. the examiner
    /// finished speaking), at most `within` (real time).
    WaitQuiet(WaitQuiet),
    /// Close the socket.
    Disconnect(Disconnect),
    /// Repeat steps.
    Repeat(Repeat),
}

/// `connect`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Connect {
    /// Query parameters.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Upgrade request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Expected HTTP status of the handshake (101 when accepted; 401, 403 ... when refused).
    #[serde(default)]
    pub expect_status: Option<u16>,
}

/// `send`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Send {
    /// A JSON message (strings may use `${variables}`).
    #[serde(default)]
    pub message: Option<Value>,
    /// Raw text instead of JSON (for malformed-input cases).
    #[serde(default)]
    pub raw: Option<String>,
    /// Binary bytes (base64), for binary-frame cases.
    #[serde(default)]
    pub binary_base64: Option<String>,
    /// Latency label (default: the message's `action`).
    #[serde(default)]
    pub label: Option<String>,
}

/// `stream_audio`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamAudio {
    /// WAV file, relative to the scenario file (16 kHz mono recommended).
    pub file: String,
    /// Chunk length.
    #[serde(default = "chunk_ms")]
    pub chunk_ms: u32,
    /// Chunk encoding.
    #[serde(default)]
    pub format: ChunkFormat,
    /// Message template; `${chunk}` is the chunk's base64, `${mime_type}` its type.
    pub message: Value,
}

/// `stream_silence`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamSilence {
    /// How long (scenario time).
    pub duration: Span,
    /// Chunk length.
    #[serde(default = "chunk_ms")]
    pub chunk_ms: u32,
    /// Sample rate of the silence.
    #[serde(default = "sixteen_k")]
    pub sample_rate: u32,
    /// Chunk encoding.
    #[serde(default)]
    pub format: ChunkFormat,
    /// Message template (as for `stream_audio`).
    pub message: Value,
}

fn chunk_ms() -> u32 {
    100
}

fn sixteen_k() -> u32 {
    16_000
}

/// `expect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Shorthand for `fields: {type: ...}`.
    #[serde(default, rename = "type")]
    pub message_type: Option<String>,
    /// Field matchers by dotted path (`assessment.overall_band`).
    #[serde(default)]
    pub fields: BTreeMap<String, Matcher>,
    /// Deadline in real time (system latency does not scale).
    #[serde(default)]
    pub within: Option<Span>,
    /// Deadline in scenario time (divided by the time scale).
    #[serde(default)]
    pub within_scenario: Option<Span>,
    /// Save fields into variables: `{name: dotted.path}`.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
    /// Latency histogram name (default `{last send label}→{type}`).
    #[serde(default)]
    pub latency: Option<String>,
    /// Also match messages that arrived before the previous step began (by
    /// default an expectation takes only a reply to its own step).
    #[serde(default)]
    pub reach_back: bool,
}

/// `answer`: one utterance made of clips, spoken when the model has finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// WAV files, relative to the scenario file, spoken in order as one utterance.
    pub clips: Vec<String>,
    /// Silence between clips (default 300 ms; the loader warns when it would
    /// end the utterance at the target).
    #[serde(default)]
    pub gap: Option<Span>,
    /// Silence between the end of the model's playout and the first word (default 1 s).
    #[serde(default)]
    pub think: Option<Span>,
    /// Model turns this answer should get (default: the scenario's, 1).
    #[serde(default)]
    pub replies: Option<u32>,
    /// The Part 2 long turn: pauses between clips are thinking, not ends.
    #[serde(default)]
    pub long_turn: bool,
    /// Speak without waiting for the model (default: wait).
    #[serde(default)]
    pub interrupt: bool,
    /// How long to wait for the model's turn to end (real time, default 60 s).
    #[serde(default)]
    pub within: Option<Span>,
}

/// `expect_turn`: a checkpoint on the model's next turn.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectTurn {
    /// A regular expression the turn's text must match.
    #[serde(default)]
    pub says: Option<String>,
    /// The part of the conversation the model is in (judged against the
    /// model's own log, where the target exposes one: the local mocks).
    #[serde(default)]
    pub part: Option<String>,
    /// Deadline for the turn to end (real time, default 60 s).
    #[serde(default)]
    pub within: Option<Span>,
    /// Also wait until its audio has played out (default true).
    #[serde(default)]
    pub played_out: Option<bool>,
}

/// `expect_close`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectClose {
    /// Expected close code (absent: any).
    #[serde(default)]
    pub code: Option<u16>,
    /// Deadline in real time.
    #[serde(default)]
    pub within: Option<Span>,
    /// Deadline in scenario time.
    #[serde(default)]
    pub within_scenario: Option<Span>,
}

/// `wait_quiet`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitQuiet {
    /// Silence that counts as quiet (scenario time).
    pub quiet: Span,
    /// Give up (and fail) after this long (real time; default 60 s).
    #[serde(default)]
    pub within: Option<Span>,
}

/// `disconnect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Disconnect {
    /// Close code to send (absent: a close frame without a code, which AWS reports as 1005).
    #[serde(default)]
    pub code: Option<u16>,
}

/// `repeat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    /// How many times.
    pub times: u32,
    /// The steps.
    pub steps: Vec<Step>,
}
