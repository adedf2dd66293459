//! The harness's own hot paths: judging a received message against the
//! AsyncAPI contract, matching an expectation, HDR record and merge.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use harness::contract::asyncapi::Contract;
use harness::metrics::Metrics;
use serde_json::json;

fn contract(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../backend/spec/speaking.asyncapi.yaml");
    let contract = Contract::load(&path).unwrap();
    let audio = json!({"type": "maya_audio", "audio": "A".repeat(21_336), "mime_type": "audio/pcm;rate=24000",
        "format": {"encoding": "pcm_s16le", "sample_rate": 24000, "channels": 1}})
    .to_string();
    let error = r#"{"type":"error","message":"No active session"}"#;
    c.bench_function("contract/judge_maya_audio_16k", |b| {
        b.iter(|| contract.judge_server(black_box(&audio)))
    });
    c.bench_function("contract/judge_error", |b| {
        b.iter(|| contract.judge_server(black_box(error)))
    });
    c.bench_function("contract/judge_gateway_message", |b| {
        b.iter(|| {
            contract.judge_server(black_box(
                r#"{"message":"Forbidden","connectionId":"a=","requestId":"b="}"#,
            ))
        })
    });
}

fn matching(c: &mut Criterion) {
    let fields: std::collections::BTreeMap<String, harness::scenario::Matcher> =
        serde_json::from_value(
            json!({"type": "assessment_complete", "assessment.overall_band": {"gte": 0, "lte": 9}}),
        )
        .unwrap();
    let message = json!({"type": "assessment_complete", "assessment": {"overall_band": 6.5}});
    c.bench_function("expect/match_two_fields", |b| {
        b.iter(|| harness::scenario::matching::matches(black_box(&message), &fields).unwrap())
    });
}

fn hdr(c: &mut Criterion) {
    let metrics = Metrics::default();
    c.bench_function("hdr/record", |b| {
        b.iter(|| {
            metrics.record(
                "turn_latency",
                black_box(Duration::from_micros(12_345)),
                Duration::ZERO,
            )
        })
    });
    let worker = Metrics::default();
    for i in 0..10_000u64 {
        worker.record(
            "turn_latency",
            Duration::from_micros(1_000 + i * 7),
            Duration::ZERO,
        );
    }
    let serialized = worker.serialized();
    c.bench_function("hdr/merge_serialized", |b| {
        b.iter(|| {
            Metrics::default()
                .merge_serialized(black_box(&serialized))
                .unwrap()
        })
    });
}

criterion_group!(harness_core, contract, matching, hdr);
criterion_main!(harness_core);
