//! From the local stack's meters ([`StackMeters`], read by
//! [`crate::stack::LocalStack::stop_metered`]) to the run's [`Usage`]: Lambda
//! invocations converted to scenario time and rounded as AWS bills them,
//! gateway traffic, DynamoDB units from the metering proxy, Secrets Manager
//! calls and the mocks' token counts.

use std::collections::BTreeMap;

use mocks::bedrock::state::ModelUsage as BedrockModelUsage;
use mocks::secrets::SecretsCalls;
use mocks::vertex::{SessionInfo, UsageTotals};

use super::live::{LiveTurnUsage, TurnSample};
use super::rules::{billed_duration_ms, billed_init_ms};
use super::usage::{
    DynamoTableUsage, DynamoUsage, HttpApiUsage, LambdaUsage, ModelUsage, SecretsUsage, Usage,
    UsageSource, WebSocketUsage,
};
use crate::dynamodb::meter::DynamoReading;
use crate::gateway::meters::{HttpApiKind, HttpApiReading, WebSocketReading};
use crate::lambda::InvocationRecord;
use crate::report::model::{ScenarioReport, SuiteReport};

/// Everything the local stack metered.
#[derive(Debug, Clone)]
pub struct StackMeters {
    /// The run's time scale.
    pub time_scale: f64,
    /// Every Lambda invocation.
    pub invocations: Vec<InvocationRecord>,
    /// Each WebSocket API's meters, by logical id.
    pub websocket: BTreeMap<String, WebSocketReading>,
    /// Each HTTP or REST API's meters, by logical id (filled once the REST
    /// gateway emulator feeds [`crate::gateway::meters::HttpApiMeters`]).
    pub http_apis: BTreeMap<String, HttpApiReading>,
    /// The DynamoDB metering proxy.
    pub dynamodb: DynamoReading,
    /// Secrets Manager calls.
    pub secrets: SecretsCalls,
    /// Vertex AI tokens.
    pub vertex: UsageTotals,
    /// Vertex AI Live sessions, with their turn logs.
    pub vertex_sessions: Vec<SessionInfo>,
    /// Bedrock tokens, by model id.
    pub bedrock: BTreeMap<String, BedrockModelUsage>,
}

/// Sessions a run played and their summed length in scenario seconds.
pub(crate) fn session_totals(
    scenarios: &[ScenarioReport],
    suites: &[SuiteReport],
    time_scale: f64,
) -> (u64, f64) {
    let durations = scenarios
        .iter()
        .flat_map(|s| s.sessions.iter())
        .chain(
            suites
                .iter()
                .flat_map(|s| s.cases.iter().map(|c| &c.session)),
        )
        .map(|session| session.duration_ms);
    let (count, real_ms) = durations.fold((0u64, 0u64), |(n, ms), d| (n + 1, ms + d));
    (count, real_ms as f64 / 1000.0 * time_scale)
}

fn lambda_usage(records: &[InvocationRecord]) -> Vec<LambdaUsage> {
    let mut by_function: BTreeMap<&str, LambdaUsage> = BTreeMap::new();
    for record in records {
        let entry = by_function
            .entry(record.function.as_str())
            .or_insert_with(|| LambdaUsage {
                function: record.function.clone(),
                memory_mb: record.memory_mb,
                architecture: record.architecture.as_str().to_owned(),
                ..LambdaUsage::default()
            });
        entry.invocations += 1;
        entry.billed_duration_ms += billed_duration_ms(record.duration_ms, record.time_scale);
        entry.real_duration_ms += billed_duration_ms(record.duration_ms, 1.0);
        if let Some(init) = record.init_ms {
            entry.cold_starts += 1;
            entry.billed_init_ms += billed_init_ms(init);
        }
    }
    by_function.into_values().collect()
}

fn websocket_usage(
    readings: &BTreeMap<String, WebSocketReading>,
    scale: f64,
) -> Vec<WebSocketUsage> {
    readings
        .iter()
        .map(|(api, r)| WebSocketUsage {
            api: api.clone(),
            messages_in: r.messages_in,
            units_in: r.units_in,
            messages_out: r.messages_out,
            units_out: r.units_out,
            gateway_messages: r.gateway_messages,
            bytes_in: r.bytes_in,
            bytes_out: r.bytes_out,
            connections: r.connections,
            connection_minutes: r.connection_ms as f64 * scale / 60_000.0,
        })
        .filter(|w| w.connections > 0 || w.messages_in > 0)
        .collect()
}

fn http_api_usage(readings: &BTreeMap<String, HttpApiReading>) -> Vec<HttpApiUsage> {
    readings
        .iter()
        .map(|(api, r)| HttpApiUsage {
            api: api.clone(),
            kind: match r.kind {
                HttpApiKind::Http => "http",
                HttpApiKind::Rest => "rest",
            }
            .to_owned(),
            requests: r.requests,
            units: r.units,
            bytes_out: r.bytes_out,
        })
        .filter(|h| h.requests > 0)
        .collect()
}

fn dynamo_usage(reading: &DynamoReading) -> DynamoUsage {
    DynamoUsage {
        tables: reading
            .tables
            .iter()
            .map(|t| DynamoTableUsage {
                table: t.table.clone(),
                operation: t.operation.clone(),
                requests: t.requests,
                read_units: t.read_units,
                write_units: t.write_units,
                empty_reads_strong: t.empty_reads_strong,
                empty_reads_eventual: t.empty_reads_eventual,
                conditional_check_failures: t.conditional_check_failures,
            })
            .collect(),
        reported_capacity_units: reading.reported_capacity_units,
    }
}

fn model_usage(
    vertex: &UsageTotals,
    bedrock: &BTreeMap<String, BedrockModelUsage>,
) -> Vec<ModelUsage> {
    let vertex_models = vertex.by_model.iter().map(|(model, tokens)| ModelUsage {
        provider: "Vertex AI".to_owned(),
        model: model.clone(),
        // Live models hold sessions; the others answer generateContent calls.
        requests: if model.contains("live") {
            vertex.sessions
        } else {
            vertex.generate_content_calls
        },
        audio_in_tokens: tokens.audio_tokens_in,
        audio_out_tokens: tokens.audio_tokens_out,
        text_in_tokens: tokens.text_tokens_in,
        text_out_tokens: tokens.text_tokens_out,
        thinking_tokens: tokens.thinking_tokens,
    });
    let bedrock_models = bedrock.iter().map(|(model, usage)| {
        // Nova Sonic splits speech and text; Converse and InvokeModel report text only.
        let split = usage.speech_input_tokens
            + usage.speech_output_tokens
            + usage.text_input_tokens
            + usage.text_output_tokens
            > 0;
        ModelUsage {
            provider: "Bedrock".to_owned(),
            model: model.clone(),
            requests: usage.requests,
            audio_in_tokens: usage.speech_input_tokens,
            audio_out_tokens: usage.speech_output_tokens,
            text_in_tokens: if split {
                usage.text_input_tokens
            } else {
                usage.input_tokens
            },
            text_out_tokens: if split {
                usage.text_output_tokens
            } else {
                usage.output_tokens
            },
            thinking_tokens: 0,
        }
    });
    vertex_models
        .chain(bedrock_models)
        .filter(|m| {
            m.audio_in_tokens
                + m.audio_out_tokens
                + m.text_in_tokens
                + m.text_out_tokens
                + m.thinking_tokens
                > 0
        })
        .collect()
}

/// The Live sessions' turns, for the Live model with the most turns. The
/// sessions' length is the run's, shared by session when the run also
/// played sessions of other APIs.
fn live_turn_usage(
    vertex: &[SessionInfo],
    sessions: u64,
    session_seconds: f64,
) -> Option<LiveTurnUsage> {
    let mut by_model: BTreeMap<&str, Vec<Vec<TurnSample>>> = BTreeMap::new();
    let mut compression = None;
    let mut context_trims = 0;
    for session in vertex {
        if let Some(set) = session.compression {
            compression = Some((set.trigger_tokens, set.target_tokens));
        }
        context_trims += session
            .turns
            .iter()
            .filter(|turn| turn.context_trimmed)
            .count() as u64;
        let model = session.model.rsplit('/').next().unwrap_or(&session.model);
        let turns = session
            .turns
            .iter()
            .map(|turn| TurnSample {
                at_seconds: turn.audio_in_ms as f64 / 1000.0,
                prompt_audio: turn.prompt_audio_tokens,
                prompt_text: turn.prompt_text_tokens,
                output_audio: turn.output_audio_tokens,
                output_text: turn.output_text_tokens,
                trimmed: turn.context_trimmed,
            })
            .collect();
        by_model.entry(model).or_default().push(turns);
    }
    let (model, turns) = by_model
        .into_iter()
        .max_by_key(|(_, sessions)| sessions.iter().map(Vec::len).sum::<usize>())?;
    let live_seconds = if sessions > 0 {
        session_seconds * (turns.len() as f64 / sessions as f64).min(1.0)
    } else {
        0.0
    };
    let mut usage = LiveTurnUsage::from_turns(model, &turns, live_seconds)?;
    usage.compression = compression;
    usage.context_trims = context_trims;
    Some(usage)
}

/// The usage of a local run: `sessions` sessions lasting `session_seconds`
/// in total (scenario time).
pub(crate) fn usage_from_stack(meters: &StackMeters, sessions: u64, session_seconds: f64) -> Usage {
    let mut usage = Usage::empty(UsageSource::Metered, meters.time_scale);
    usage.sessions = sessions;
    usage.session_seconds = session_seconds;
    usage.lambda = lambda_usage(&meters.invocations);
    usage.websocket = websocket_usage(&meters.websocket, meters.time_scale);
    usage.http_apis = http_api_usage(&meters.http_apis);
    usage.dynamodb = dynamo_usage(&meters.dynamodb);
    usage.secrets_manager = SecretsUsage {
        calls: meters.secrets.total,
        secrets: meters.secrets.by_secret.keys().cloned().collect(),
    };
    usage.models = model_usage(&meters.vertex, &meters.bedrock);
    usage.live_turns = live_turn_usage(&meters.vertex_sessions, sessions, session_seconds);
    usage.assumptions.push(
        "Metered by the local stack: Lambda durations from the emulator's records, WebSocket \
         traffic from the gateway emulator, DynamoDB units from the ConsumedCapacity DynamoDB \
         Local reported through the metering proxy, Secrets Manager calls and model tokens \
         from the mocks."
            .to_owned(),
    );
    if meters.time_scale > 1.0 {
        usage.assumptions.push(format!(
            "Time scale {}: invoke durations were converted to scenario time (x{}), which \
             over-counts work that does not wait on the scenario clock (the real-time figure \
             is the lower bound, shown per function); intervals the functions keep in real \
             time (the relay poll) ran {}x fewer times per scenario second than in production, \
             so their DynamoDB reads are under-counted. Run at --time-scale 1 for exact figures.",
            meters.time_scale, meters.time_scale, meters.time_scale
        ));
    }
    usage
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Architecture;

    fn record(
        function: &str,
        duration_ms: f64,
        init_ms: Option<f64>,
        scale: f64,
    ) -> InvocationRecord {
        InvocationRecord {
            function: function.to_owned(),
            route: None,
            request_id: String::new(),
            instance_id: None,
            cold_start: init_ms.is_some(),
            init_ms,
            duration_ms,
            billed_ms: 0,
            memory_mb: 2048,
            architecture: Architecture::Arm64,
            outcome: "success".to_owned(),
            started_at_ms: 0,
            time_scale: scale,
            event: None,
        }
    }

    #[test]
    fn lambda_durations_are_scaled_per_invocation_and_init_is_not() {
        let records = [
            record("Speaking", 70_000.0, Some(40.2), 12.0),
            record("Speaking", 0.25, None, 12.0),
            record("Speaking", 0.25, None, 12.0),
        ];
        let usage = lambda_usage(&records);
        assert_eq!(usage.len(), 1);
        let speaking = &usage[0];
        assert_eq!(speaking.invocations, 3);
        assert_eq!(speaking.cold_starts, 1);
        // 840,000 + 3 + 3 scenario ms; INIT 41 ms as measured.
        assert_eq!(speaking.billed_duration_ms, 840_006);
        assert_eq!(speaking.billed_init_ms, 41);
        assert_eq!(speaking.real_duration_ms, 70_002);
        assert_eq!(speaking.architecture, "arm64");
    }

    #[test]
    fn http_and_rest_api_meters_become_usage() {
        let http = crate::gateway::meters::HttpApiMeters::new(HttpApiKind::Http);
        http.record(600 * 1024, 100);
        let rest = crate::gateway::meters::HttpApiMeters::new(HttpApiKind::Rest);
        let readings = BTreeMap::from([
            ("HttpApi".to_owned(), http.reading()),
            ("Idle".to_owned(), rest.reading()),
        ]);
        let usage = http_api_usage(&readings);
        assert_eq!(usage.len(), 1, "an API nobody called costs nothing");
        assert_eq!(
            (usage[0].kind.as_str(), usage[0].requests, usage[0].units),
            ("http", 1, 2)
        );
    }

    #[test]
    fn connection_time_is_scenario_minutes() {
        let readings = BTreeMap::from([(
            "Api".to_owned(),
            WebSocketReading {
                connections: 1,
                connection_ms: 70_000,
                ..WebSocketReading::default()
            },
        )]);
        let usage = websocket_usage(&readings, 12.0);
        assert_eq!(usage[0].connection_minutes, 14.0);
    }
}
