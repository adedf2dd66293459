//! Gateway hot paths: route selection, event JSON, authorizer policies, template loading.

use std::hint::black_box;

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use harness::gateway::events::{ConnectionFacts, message_event, new_connection_id};
use harness::gateway::policy;
use harness::gateway::routing::RouteSelector;

fn facts() -> ConnectionFacts {
    ConnectionFacts {
        connection_id: new_connection_id(),
        connected_at_ms: 1_707_503_007_396,
        source_ip: "127.0.0.1".into(),
        user_agent: Some("bench".into()),
        api_id: "abcd123456".into(),
        stage: "production".into(),
        domain_name: "127.0.0.1:4000".into(),
        authorizer: None,
    }
}

fn route_selection(c: &mut Criterion) {
    let plain = RouteSelector::parse("$request.body.action").unwrap();
    let templated = RouteSelector::parse("${request.body.service}/${request.body.action}").unwrap();
    let small = r#"{"action":"end_speaking"}"#;
    let chunk = benches::audio_chunk_body(16_000);
    c.bench_function("route/select_small", |b| {
        b.iter(|| plain.select(black_box(small)))
    });
    c.bench_function("route/select_audio_chunk_16k", |b| {
        b.iter(|| plain.select(black_box(&chunk)))
    });
    c.bench_function("route/select_templated", |b| {
        b.iter(|| templated.select(black_box(r#"{"service":"chat","action":"send"}"#)))
    });
    c.bench_function("route/select_not_json", |b| {
        b.iter(|| plain.select(black_box("hello there")))
    });
}

fn event_json(c: &mut Criterion) {
    let facts = facts();
    let chunk = benches::audio_chunk_body(16_000);
    c.bench_function("event/message_audio_chunk_16k", |b| {
        b.iter(|| {
            message_event(
                &facts,
                "audio_chunk",
                "req=",
                "msg=",
                black_box(&chunk),
                Utc::now(),
            )
            .to_string()
        })
    });
}

fn authorizer_policy(c: &mut Criterion) {
    let arn = "arn:aws:execute-api:us-east-1:123456789012:abc/production/$connect";
    let answer = serde_json::json!({
        "principalId": "user-1",
        "policyDocument": {"Version": "2012-10-17", "Statement": [
            {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "arn:aws:execute-api:*:*:abc/*"}
        ]},
        "context": {"userId": "user-1"}
    })
    .to_string();
    c.bench_function("authorizer/evaluate_policy", |b| {
        b.iter(|| policy::evaluate(black_box(answer.as_bytes()), arn))
    });
}

fn template_loading(c: &mut Criterion) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../backend/template.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let options = harness::template::LoadOptions::default();
    c.bench_function("template/load_backend", |b| {
        b.iter(|| harness::template::load_str(black_box(&text), &options).unwrap())
    });
}

criterion_group!(
    benches,
    route_selection,
    event_json,
    authorizer_policy,
    template_loading
);
criterion_main!(benches);
