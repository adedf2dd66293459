//! Wire codecs: the speaking API's messages (parse client, build server), the
//! Gemini Live server message parser, Bedrock event-stream framing (encode
//! and decode), and JSON documents as DynamoDB items.

use std::hint::black_box;

use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

fn speaking_messages(c: &mut Criterion) {
    let start = r#"{"action":"start_speaking","user_id":"user123","country_code":"US","assessment_type":"speaking"}"#;
    let chunk = benches::audio_chunk_body(16_000);
    c.bench_function("speaking/parse_start_speaking", |b| {
        b.iter(|| backend::speaking::messages::parse(black_box(start)))
    });
    c.bench_function("speaking/parse_audio_chunk_16k", |b| {
        b.iter(|| backend::speaking::messages::parse(black_box(&chunk)))
    });
    let audio = base64::engine::general_purpose::STANDARD.encode(vec![0u8; 16_000]);
    c.bench_function("speaking/build_maya_audio_16k", |b| {
        b.iter(|| backend::speaking::messages::maya_audio(black_box(&audio), 24_000).to_string())
    });
}

fn gemini_live(c: &mut Criterion) {
    let audio = base64::engine::general_purpose::STANDARD.encode(vec![0u8; 9_600]);
    let message = json!({"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": audio}}]}}})
        .to_string();
    c.bench_function("gemini/parse_model_audio_200ms", |b| {
        b.iter(|| backend::vertex::live::parse_server_message(black_box(message.as_bytes())))
    });
}

fn event_stream(c: &mut Criterion) {
    let audio = base64::engine::general_purpose::STANDARD.encode(vec![0u8; 1_024]);
    let event =
        json!({"event": {"audioInput": {"promptName": "p", "contentName": "c", "content": audio}}});
    c.bench_function("eventstream/encode_client_audio_32ms", |b| {
        b.iter(|| mocks::bedrock::eventstream::encode_client_event(black_box(&event)))
    });
    let frame = mocks::bedrock::eventstream::encode_client_event(&event);
    c.bench_function("eventstream/decode_client_audio_32ms", |b| {
        b.iter(|| {
            let mut decoder = mocks::bedrock::eventstream::FrameDecoder::new();
            decoder.push(black_box(&frame));
            let message = decoder.next_message().unwrap().unwrap();
            mocks::bedrock::eventstream::client_event(&message).unwrap()
        })
    });
}

fn dynamodb_items(c: &mut Criterion) {
    let assessment = json!({
        "assessment_id": "speaking-abc-1", "user_id": "u", "overall_band": 6.5,
        "criteria": {"fluency_and_coherence": {"band": 6.5, "feedback": "Good flow with some hesitation."},
                     "lexical_resource": {"band": 6.0, "feedback": "Adequate range."},
                     "grammatical_range_and_accuracy": {"band": 7.0, "feedback": "Mostly accurate."},
                     "pronunciation": {"band": 6.5, "feedback": "Clear."}},
        "transcript": (0..40).map(|i| json!({"speaker": if i % 2 == 0 {"examiner"} else {"candidate"}, "text": "A sentence of about ten words spoken in the test."})).collect::<Vec<_>>(),
    });
    let object = assessment.as_object().unwrap().clone();
    c.bench_function("dynamodb/assessment_to_item", |b| {
        b.iter(|| backend::dynamo_json::to_item(black_box(&object)))
    });
    let item = backend::dynamo_json::to_item(&object);
    c.bench_function("dynamodb/item_to_assessment", |b| {
        b.iter(|| backend::dynamo_json::from_item(black_box(&item)))
    });
}

criterion_group!(
    codecs,
    speaking_messages,
    gemini_live,
    event_stream,
    dynamodb_items
);
criterion_main!(codecs);
