//! What a run used, in the units AWS and the model vendors bill: report.json's
//! typed `usage` section. Metered by the local stack ([`super::collect`]) or,
//! against a deployed target, estimated from what the harness observed
//! ([`super::estimate`]). Durations are already in scenario time, so
//! `harness cost` can price a saved report alone.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where the figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UsageSource {
    /// Metered by the local stack (Lambda emulator, gateway meters, DynamoDB
    /// metering proxy, mocks).
    Metered,
    /// Estimated from what the harness observed of a deployed target plus the
    /// template's function settings.
    Observed,
}

/// A run's usage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Usage {
    /// Metered or estimated.
    pub source: UsageSource,
    /// The run's time scale (every duration below is already scenario time).
    pub time_scale: f64,
    /// Sessions the run played (scenario sessions and conformance cases).
    pub sessions: u64,
    /// Their summed length (scenario seconds).
    pub session_seconds: f64,
    /// Lambda, by function.
    #[serde(default)]
    pub lambda: Vec<LambdaUsage>,
    /// WebSocket APIs, by API.
    #[serde(default)]
    pub websocket: Vec<WebSocketUsage>,
    /// HTTP and REST APIs, by API.
    #[serde(default)]
    pub http_apis: Vec<HttpApiUsage>,
    /// DynamoDB.
    #[serde(default)]
    pub dynamodb: DynamoUsage,
    /// Secrets Manager.
    #[serde(default)]
    pub secrets_manager: SecretsUsage,
    /// Model tokens, by model.
    #[serde(default)]
    pub models: Vec<ModelUsage>,
    /// Gemini Live's turns: prompt and output tokens per turn, and the
    /// context's growth (local runs; none without Live turns).
    #[serde(default)]
    pub live_turns: Option<super::live::LiveTurnUsage>,
    /// How the figures were obtained and what they leave out.
    #[serde(default)]
    pub assumptions: Vec<String>,
}

/// One function's invocations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LambdaUsage {
    /// Logical id.
    pub function: String,
    /// Configured memory (MB).
    pub memory_mb: u32,
    /// `x86_64` or `arm64`.
    pub architecture: String,
    /// Requests.
    pub invocations: u64,
    /// Cold starts (INIT phases).
    pub cold_starts: u64,
    /// Billed invoke duration, scenario ms (each invocation rounded up to 1 ms
    /// after conversion to scenario time).
    pub billed_duration_ms: u64,
    /// Billed INIT duration, ms (not converted: INIT is real work).
    pub billed_init_ms: u64,
    /// The invoke durations left in real time (each rounded up to 1 ms): the
    /// lower bound for a time-scaled run, where work that does not wait on
    /// the scenario clock is over-counted by the conversion.
    pub real_duration_ms: u64,
}

/// One WebSocket API's traffic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WebSocketUsage {
    /// The API's logical id.
    pub api: String,
    /// Client messages.
    pub messages_in: u64,
    /// Their 32 KB units.
    pub units_in: u64,
    /// Messages to clients.
    pub messages_out: u64,
    /// Their 32 KB units.
    pub units_out: u64,
    /// Of those, API Gateway's own messages.
    #[serde(default)]
    pub gateway_messages: u64,
    /// Bytes from clients.
    pub bytes_in: u64,
    /// Bytes to clients (data transfer out).
    pub bytes_out: u64,
    /// Connections.
    pub connections: u64,
    /// Connection time, scenario minutes.
    pub connection_minutes: f64,
}

/// One HTTP or REST API's requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HttpApiUsage {
    /// The API's logical id.
    pub api: String,
    /// `http` (billed in 512 KB units) or `rest` (per request).
    pub kind: String,
    /// Requests.
    pub requests: u64,
    /// Billed units.
    pub units: u64,
    /// Response bytes (data transfer out).
    pub bytes_out: u64,
}

/// DynamoDB's request units.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DynamoUsage {
    /// By table and operation.
    pub tables: Vec<DynamoTableUsage>,
    /// The sum of every `CapacityUnits` figure DynamoDB reported.
    pub reported_capacity_units: f64,
}

/// One table and operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DynamoTableUsage {
    /// Table name.
    pub table: String,
    /// Operation.
    pub operation: String,
    /// Requests.
    pub requests: u64,
    /// Read request units reported.
    pub read_units: f64,
    /// Write request units reported.
    pub write_units: f64,
    /// Strongly consistent Query / Scan calls that read nothing (reported as 0).
    pub empty_reads_strong: u64,
    /// Eventually consistent Query / Scan calls that read nothing (reported as 0).
    pub empty_reads_eventual: u64,
    /// Writes refused by their condition (nothing reported).
    pub conditional_check_failures: u64,
}

/// Secrets Manager calls.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SecretsUsage {
    /// API calls.
    pub calls: u64,
    /// The secrets they read (each is a secret-month a month).
    pub secrets: Vec<String>,
}

/// One model's tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelUsage {
    /// `Vertex AI` or `Bedrock`.
    pub provider: String,
    /// Model id.
    pub model: String,
    /// Sessions, streams or calls.
    pub requests: u64,
    /// Audio (speech) input tokens.
    pub audio_in_tokens: u64,
    /// Audio (speech) output tokens.
    pub audio_out_tokens: u64,
    /// Text input tokens.
    pub text_in_tokens: u64,
    /// Text output tokens.
    pub text_out_tokens: u64,
    /// Thinking tokens (`thoughtsTokenCount`), billed at the rate the
    /// pricing table's `thinking_billed_as` names.
    #[serde(default)]
    pub thinking_tokens: u64,
}

impl Usage {
    /// Usage with nothing in it.
    pub fn empty(source: UsageSource, time_scale: f64) -> Self {
        Self {
            source,
            time_scale,
            sessions: 0,
            session_seconds: 0.0,
            lambda: Vec::new(),
            websocket: Vec::new(),
            http_apis: Vec::new(),
            dynamodb: DynamoUsage::default(),
            secrets_manager: SecretsUsage::default(),
            models: Vec::new(),
            live_turns: None,
            assumptions: Vec::new(),
        }
    }

    /// The mean session length (scenario seconds), when there were sessions.
    pub fn mean_session_seconds(&self) -> Option<f64> {
        (self.sessions > 0 && self.session_seconds > 0.0)
            .then(|| self.session_seconds / self.sessions as f64)
    }
}
