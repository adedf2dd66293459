//! A made-up report with one of everything (a failing session with contract
//! violations and a hostile transcript, every verdict, the stack, the cost),
//! for the renderers' unit tests.

use std::collections::BTreeMap;

use serde_json::json;

use super::model::*;
use crate::contract::asyncapi::Violation;
use crate::metrics::{Sample, Summary};

fn session(index: u32, failures: Vec<Failure>, close: Option<(u16, &str)>) -> SessionReport {
    SessionReport {
        index,
        passed: failures.is_empty(),
        started_at_ms: 100 * u64::from(index),
        duration_ms: 2_500,
        steps_completed: 4,
        sent: 12,
        received: 7,
        bytes_sent: 4_000,
        bytes_received: 900,
        units_sent: 12,
        units_received: 7,
        close: close.map(|(code, by)| CloseReport {
            code,
            reason: String::new(),
            by: by.to_owned(),
            at_ms: 100 * u64::from(index) + 2_400,
        }),
        failures,
        timeline: vec![
            TimelineEvent {
                at_ms: 100 * u64::from(index) + 5,
                kind: "connect".into(),
                detail: "101 in 5 ms".into(),
            },
            TimelineEvent {
                at_ms: 100 * u64::from(index) + 10,
                kind: "send".into(),
                detail: "start_speaking".into(),
            },
            TimelineEvent {
                at_ms: 100 * u64::from(index) + 60,
                kind: "receive".into(),
                detail: "session_ready".into(),
            },
            TimelineEvent {
                at_ms: 100 * u64::from(index) + 61,
                kind: "expect".into(),
                detail: "matched session_ready".into(),
            },
        ],
        conversation: Some(conversation()),
    }
}

/// A short conversation: the greeting, one answer, the reply; one check broken.
pub(crate) fn conversation() -> ConversationReport {
    ConversationReport {
        turns: vec![
            TurnReport {
                index: 0,
                start_ms: 70,
                end_ms: Some(900),
                ended_by: "signal".into(),
                text: "Good morning. Could you tell me your <full name>, please?".into(),
                audio_ms: 4_200,
                follows_utterance: None,
                latency_ms: None,
                part: Some("part1".into()),
            },
            TurnReport {
                index: 1,
                start_ms: 1_500,
                end_ms: Some(2_100),
                ended_by: "signal".into(),
                text: "Thank you. Where are you from?".into(),
                audio_ms: 2_600,
                follows_utterance: Some(0),
                latency_ms: Some(180),
                part: Some("part1".into()),
            },
        ],
        utterances: vec![UtteranceReport {
            index: 0,
            kind: "speech".into(),
            start_ms: 1_000,
            end_ms: Some(1_320),
            text: "My name is Alex Morgan.".into(),
            clips: vec!["../audio/p1-name.wav".into()],
        }],
        checks: vec![
            crate::turns::CheckOutcome {
                id: "conversation.1".into(),
                name: "no turn during speech".into(),
                passed: true,
                problems: Vec::new(),
            },
            crate::turns::CheckOutcome {
                id: "conversation.3".into(),
                name: "no repeated turn".into(),
                passed: false,
                problems: vec!["turn 1 repeats turn 0 word for word: \"<x>\"".into()],
            },
        ],
    }
}

/// A failure of `check` with every detail filled in.
pub(crate) fn failure(check: &str) -> Failure {
    Failure {
        step: "steps[2]".into(),
        check: check.into(),
        message: "session_ready breaks the contract".into(),
        expected: Some(json!("backend/spec/speaking.asyncapi.yaml")),
        received: Some(json!({"type": "session_ready", "region": 42})),
        violations: vec![Violation {
            instance_path: "/region".into(),
            schema_path: "/properties/region/type".into(),
            message: "42 is not of type \"string\"".into(),
        }],
        transcript: vec![
            WireEntry {
                at_ms: 10,
                direction: "out".into(),
                text: r#"{"action":"start_speaking","user_id":"u","country_code":"US"}"#.into(),
            },
            WireEntry {
                at_ms: 60,
                direction: "in".into(),
                text: "</pre><script>alert(1)</script>\u{1}".into(),
            },
        ],
        reproduce:
            "harness run scenarios/speaking/smoke.yaml --target ws://127.0.0.1:9 --sessions 1"
                .into(),
    }
}

fn case(id: &str, verdict: &str, close_verdict: &str, failures: Vec<Failure>) -> CaseReport {
    CaseReport {
        id: id.into(),
        category: Some("Bad input".into()),
        description: format!("case {id} & <friends>"),
        expectation: "error \"No active session\"".into(),
        verdict: verdict.into(),
        close_verdict: close_verdict.into(),
        session: session(0, failures, Some((1000, "client"))),
    }
}

fn summary(scale: u64) -> Summary {
    Summary {
        count: 10,
        min_us: scale,
        mean_us: 3.5 * scale as f64,
        p50_us: 3 * scale,
        p90_us: 5 * scale,
        p95_us: 6 * scale,
        p99_us: 8 * scale,
        p999_us: 9 * scale,
        max_us: 10 * scale,
    }
}

fn line(service: &str, what: &str, quantity: f64, unit_price_usd: f64) -> CostLine {
    CostLine {
        service: service.into(),
        what: what.into(),
        quantity,
        unit: "units".into(),
        unit_price_usd,
        cost_usd: quantity * unit_price_usd,
    }
}

pub(crate) fn report() -> RunReport {
    let lines = vec![
        line("Lambda", "GB-seconds arm64", 1_680.0, 0.0000133334),
        line("Lambda", "requests", 300.0, 0.0000002),
        line(
            "API Gateway",
            "WebSocket messages (32 KB units)",
            8_400.0,
            0.000001,
        ),
        line("Vertex AI", "audio input (1M tokens)", 0.02, 3.0),
    ];
    let total: f64 = lines.iter().map(|l| l.cost_usd).sum();
    RunReport {
        schema_version: SCHEMA_VERSION,
        run_id: "20261122T010000Z-abcd".into(),
        command: "harness run scenarios/speaking/smoke.yaml --time-scale 10".into(),
        started_at: "2026-11-22T01:00:00.123+00:00".into(),
        duration_ms: 12_345,
        target: "local".into(),
        time_scale: 10.0,
        measured_on: "harness debug build, 2 cores, linux x86_64".into(),
        passed: false,
        scenarios: vec![ScenarioReport {
            name: "speaking-smoke".into(),
            path: "scenarios/speaking/smoke.yaml".into(),
            api: "SpeakingWebSocketApi".into(),
            passed: false,
            warnings: vec!["steps[4]: the pause between a.wav and b.wav is 500 ms as written but 900 ms as heard".into()],
            sessions: vec![
                session(0, Vec::new(), Some((1000, "client"))),
                session(1, vec![failure("payload schema")], Some((1011, "server"))),
            ],
        }],
        suites: vec![SuiteReport {
            api: "SpeakingWebSocketApi".into(),
            path: "scenarios/conformance/SpeakingWebSocketApi.yaml".into(),
            cases: vec![
                case("1.1.1", "PASS", "INFO", Vec::new()),
                case("2.1.1", "FAIL", "PASS", vec![failure("known message type")]),
                case(
                    "2.1.2",
                    "UNIMPLEMENTED",
                    "INFO",
                    vec![failure("expectation")],
                ),
                case(
                    "2.1.3",
                    "NON-STRICT",
                    "INFO",
                    vec![failure("unexpected error")],
                ),
                case("9.1.1", "INFO", "INFO", Vec::new()),
                case("3.1.1", "PASS", "FAIL", Vec::new()),
            ],
        }],
        metrics: [
            ("connect".to_owned(), summary(1_000)),
            ("turn_latency".to_owned(), summary(100_000)),
        ]
        .into_iter()
        .collect(),
        series: [(
            "connect".to_owned(),
            vec![
                Sample {
                    at_ms: 5,
                    value_us: 3_000,
                },
                Sample {
                    at_ms: 105,
                    value_us: 9_000,
                },
            ],
        )]
        .into_iter()
        .collect(),
        histograms: BTreeMap::new(),
        errors: [("payload schema".to_owned(), 1)].into_iter().collect(),
        conformance: ConformanceTally {
            checked: 14,
            valid: 12,
            invalid: 1,
            unknown: 1,
            by_message: [("session_ready".to_owned(), 12)].into_iter().collect(),
        },
        stack: Some(StackReport {
            functions: [(
                "SpeakingFunction".to_owned(),
                FunctionReport {
                    invocations: 53,
                    cold_starts: 2,
                    init_ms: vec![110.5, 950.25],
                    billed_ms: 96_092,
                    memory_mb: 2048,
                    architecture: "arm64".into(),
                    by_route: [("$connect".to_owned(), 1), ("audio_chunk".to_owned(), 51)]
                        .into_iter()
                        .collect(),
                    outcomes: [("success".to_owned(), 53)].into_iter().collect(),
                    warnings_logged: 1,
                    warnings: vec![r#"{"level":"WARN","fields":{"message":"audio relayed out of order: received 17 ms before audio already sent to the model"}}"#.into()],
                },
            )]
            .into_iter()
            .collect(),
        }),
        usage: None,
        cost: Some(CostReport {
            pricing_date: "2026-11-01".into(),
            pricing_source: "harness/pricing.yaml".into(),
            estimate: false,
            normalised_seconds: 840.0,
            per_session: CostTable {
                total_usd: total,
                lines: lines.clone(),
            },
            per_month: Some(MonthlyCost {
                sessions: 1_000,
                free_tiers: false,
                table: CostTable {
                    total_usd: total * 1_000.0,
                    lines: lines
                        .iter()
                        .map(|l| line(&l.service, &l.what, l.quantity * 1_000.0, l.unit_price_usd))
                        .collect(),
                },
            }),
            seed_comparisons: vec![SeedComparison {
                seed: "seed 000".into(),
                basis: "one 14-minute assessment".into(),
                lines: vec![SeedLine {
                    item: "Lambda (2GB, 14min)".into(),
                    claimed_usd: 0.005,
                    measured_usd: 0.028,
                    consistent: false,
                    arithmetic: "2 GB x 840 s x $0.0000166667 = $0.0280".into(),
                }],
            }],
            live: None,
            notes: vec!["normalised to 14 minutes".into()],
        }),
    }
}
