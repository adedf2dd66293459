//! Seed 001's Buddy API end to end through the local stack: the real `buddy`
//! binary, DynamoDB Local with the seed data, the Bedrock (Nova Sonic) and
//! SNS mocks. The wscat flow, bad inputs, a spoken round trip, distress
//! alerts and the 8-minute stream limit. Every message received is checked
//! against backend/spec/nova-sonic.asyncapi.yaml.

use std::time::Duration;

use crate::nova_support::*;
use crate::support::*;
use aws_sdk_dynamodb::types::AttributeValue;
use mocks::bedrock::{BedrockFault, FaultRule, StreamState};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(20);

fn spec() -> Spec {
    Spec::load("nova-sonic.asyncapi.yaml")
}

async fn init(socket: &mut Client, spec: &Spec, patient: &str) -> Value {
    send_json(
        socket,
        json!({"action": "initSession", "patientId": patient}),
    )
    .await;
    next_checked(socket, spec, WAIT).await
}

async fn ask(socket: &mut Client, spec: &Spec, text: &str) -> Value {
    send_json(socket, json!({"action": "textInput", "text": text})).await;
    next_checked(socket, spec, WAIT).await
}

async fn conversation(stack: &harness::stack::LocalStack, patient: &str) -> Vec<Value> {
    let client = dynamodb(stack).await;
    scan(&client, &table(stack, "BuddyConversationsTable"))
        .await
        .iter()
        .filter(|item| item.get("patientId") == Some(&AttributeValue::S(patient.to_owned())))
        .map(|item| Value::Object(from_item(item)))
        .collect()
}

fn from_item(
    item: &std::collections::HashMap<String, AttributeValue>,
) -> serde_json::Map<String, Value> {
    item.iter()
        .map(|(k, v)| (k.clone(), attribute_json(v)))
        .collect()
}

fn attribute_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!(s),
        AttributeValue::N(n) => n.parse::<f64>().map(|f| json!(f)).unwrap_or(Value::Null),
        AttributeValue::Bool(b) => json!(b),
        AttributeValue::L(items) => Value::Array(items.iter().map(attribute_json).collect()),
        AttributeValue::M(map) => Value::Object(from_item(map)),
        _ => Value::Null,
    }
}

#[tokio::test]
async fn the_wscat_flow_answers_from_the_patient_data_and_bad_input_loses_nothing() {
    let stack = start(options(10.0)).await;
    let spec = spec();
    let gateway = stack.websocket(BUDDY).expect("Buddy API");
    let mut socket = connect(&gateway.url()).await;

    // Seed 001's wscat transcript.
    assert_eq!(
        init(&mut socket, &spec, "pt-001").await,
        json!({"status": "initialized", "patientName": "John"})
    );
    let answer = ask(&mut socket, &spec, "Who is Sarah?").await;
    assert_eq!(answer["type"], "textOutput");
    assert_eq!(answer["role"], "ASSISTANT");
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .contains("Sarah is your daughter"),
        "{answer}"
    );
    let (_, audio) = next_of_type(&mut socket, &spec, "audioOutput", WAIT).await;
    assert!(
        audio.is_empty(),
        "the answer text comes first, then audio: {audio:?}"
    );

    // The Python flow's question: the morning routine.
    send_json(
        &mut socket,
        json!({"action": "textInput", "text": "What do I do this morning?"}),
    )
    .await;
    let (routine, _) = next_of_type(&mut socket, &spec, "textOutput", WAIT).await;
    assert!(
        routine["text"]
            .as_str()
            .unwrap()
            .starts_with("Your morning routine"),
        "{routine}"
    );

    // Bad input gets a precise error and the session goes on.
    for (body, expected) in [
        ("not json", "Invalid message: not valid JSON".to_owned()),
        (
            r#"{"action":"dance"}"#,
            "Unknown action: dance; use initSession, textInput, audioInput or endSession"
                .to_owned(),
        ),
        (
            r#"{"action":"textInput"}"#,
            "Invalid message: missing field \"text\"".to_owned(),
        ),
        (
            r#"{"action":"textInput","text":""}"#,
            "Invalid message: field \"text\" must not be empty".to_owned(),
        ),
        (
            r#"{"action":"audioInput","audio":"%%%"}"#,
            "Invalid message: field \"audio\" is not usable: not valid base64".to_owned(),
        ),
        (
            r#"{"action":"initSession","patientId":"pt-001"}"#,
            "Session already active".to_owned(),
        ),
    ] {
        socket.send(Message::text(body)).await.unwrap();
        let reply = until(&mut socket, &spec, WAIT, |m| m["type"] == "error").await;
        assert_eq!(reply.last().unwrap()["message"], expected, "for {body}");
    }
    send_json(
        &mut socket,
        json!({"action": "textInput", "text": "Who is Tom?"}),
    )
    .await;
    let (tom, _) = next_of_type(&mut socket, &spec, "textOutput", WAIT).await;
    assert_eq!(tom["text"], "Tom is your grandson.");

    // End: sessionEnded, then input has no session.
    send_json(&mut socket, json!({"action": "endSession"})).await;
    let (ended, _) = next_of_type(&mut socket, &spec, "sessionEnded", WAIT).await;
    assert_eq!(ended["reason"], "completed");
    send_json(
        &mut socket,
        json!({"action": "textInput", "text": "Hello?"}),
    )
    .await;
    let (error, _) = next_of_type(&mut socket, &spec, "error", WAIT).await;
    assert_eq!(error["message"], "No active session");

    // Only the transcript is stored.
    let stored = conversation(&stack, "pt-001").await;
    assert_eq!(stored.len(), 1);
    let transcript = stored[0]["transcript"].as_array().unwrap();
    let lines: Vec<(&str, &str)> = transcript
        .iter()
        .map(|l| (l["role"].as_str().unwrap(), l["text"].as_str().unwrap()))
        .collect();
    assert_eq!(lines[0], ("USER", "Who is Sarah?"));
    assert_eq!(lines[1], ("ASSISTANT", "Sarah is your daughter."));
    assert_eq!(stored[0]["endedBy"], "completed");
    assert!(audio_anywhere(&stack).await.is_empty());
    socket.send_close(None).await.unwrap();
    stack.stop().await;
}

#[tokio::test]
async fn a_spoken_round_trip_returns_audio_and_transcripts_and_a_cry_for_help_alerts() {
    let time_scale = 10.0;
    let stack = start(streaming_options(time_scale)).await;
    let spec = spec();
    let (samples, speech_time) = utterance("who is sarah my dear friend please", 1_800, 1_200);
    stack
        .mocks()
        .bedrock
        .add_transcript(speech_time, "Who is Sarah?");
    let gateway = stack.websocket(BUDDY).unwrap();
    let mut socket = connect(&gateway.url()).await;
    assert_eq!(
        init(&mut socket, &spec, "pt-001").await["status"],
        "initialized"
    );

    speak(
        &mut socket,
        &samples,
        100,
        time_scale,
        |audio| json!({"action": "audioInput", "audio": audio}),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for r in stack
        .lambda()
        .records()
        .iter()
        .filter(|r| r.route.as_deref() == Some("audioInput"))
    {
        eprintln!(
            "DEBUG {} cold={} init={:?} dur={:.1}",
            r.started_at_ms, r.cold_start, r.init_ms, r.duration_ms
        );
    }
    let heard = until(&mut socket, &spec, WAIT, |m| {
        m["type"] == "textOutput" && m["role"] == "ASSISTANT"
    })
    .await;
    assert_eq!(
        heard[0],
        json!({"type": "textOutput", "text": "Who is Sarah?", "role": "USER"}),
        "the transcript of the patient's speech comes first: {heard:?} {:?}",
        stack.mocks().bedrock.streams()
    );
    assert_eq!(heard.last().unwrap()["text"], "Sarah is your daughter.");
    let voice = until(&mut socket, &spec, WAIT, |_| true).await;
    assert_eq!(voice[0]["type"], "audioOutput");
    assert_eq!(voice[0]["sampleRate"], 24_000);
    assert!(audio_bytes(&voice) > 0);

    // A cry for help: a calm answer, and an SNS alert for the caregivers.
    let (answer, _) =
        next_of_type_after(&mut socket, &spec, "Help me, I fell in the kitchen").await;
    assert_eq!(answer["role"], "ASSISTANT");
    assert!(
        eventually(WAIT, || !stack.mocks().sns.messages().is_empty()).await,
        "an alert was published"
    );
    let alert = &stack.mocks().sns.messages()[0];
    assert!(
        alert
            .topic_arn
            .ends_with(":buddy-nova-sonic-alerts-production"),
        "{}",
        alert.topic_arn
    );
    assert_eq!(
        alert.attributes["alert_type"].string_value.as_deref(),
        Some("patient_distress")
    );
    let body: Value = serde_json::from_str(&alert.message).unwrap();
    assert_eq!(body["patientId"], "pt-001");
    assert_eq!(body["said"], "Help me, I fell in the kitchen");
    assert!(alert.subject.as_deref().unwrap().contains("John"));

    send_json(&mut socket, json!({"action": "endSession"})).await;
    next_of_type(&mut socket, &spec, "sessionEnded", WAIT).await;

    // Only transcripts were stored: no audio in any table, nothing left in the relay.
    let stored = conversation(&stack, "pt-001").await;
    let transcript = stored[0]["transcript"].as_array().unwrap();
    assert_eq!(
        transcript[0],
        json!({"role": "USER", "text": "Who is Sarah?", "spoken": true})
    );
    assert_eq!(audio_anywhere(&stack).await, Vec::<String>::new());
    let client = dynamodb(&stack).await;
    assert!(scan(&client, &table(&stack, "RelayTable")).await.is_empty());
    assert_eq!(stack.mocks().bedrock.streams()[0].turns, 2);
    stack.stop().await;
}

#[tokio::test]
async fn the_eight_minute_stream_limit_is_crossed_transparently() {
    let stack = start(options(10.0)).await;
    let spec = spec();
    let bedrock = &stack.mocks().bedrock;
    // The first stream ends after 20 s of scenario time (2 s here) instead of 8 minutes.
    bedrock.add_fault(FaultRule::once(BedrockFault::ModelTimeout {
        after_ms: 20_000,
    }));
    let gateway = stack.websocket(BUDDY).unwrap();
    let mut socket = connect(&gateway.url()).await;
    init(&mut socket, &spec, "pt-001").await;
    assert_eq!(
        ask(&mut socket, &spec, "Who is Sarah?").await["text"],
        "Sarah is your daughter."
    );
    assert!(
        eventually(WAIT, || bedrock.streams()[0].state == StreamState::TimedOut).await,
        "the first stream reached its limit"
    );
    assert!(
        eventually(WAIT, || bedrock.streams().len() == 2).await,
        "a second stream opened"
    );

    // The conversation goes on, in the same session, with nothing lost.
    let (answer, before) = next_of_type_after(&mut socket, &spec, "Who is Tom?").await;
    assert_eq!(answer["text"], "Tom is your grandson.");
    assert!(before.iter().all(|m| m["type"] != "error"), "{before:?}");
    let second = &bedrock.streams()[1];
    assert_eq!(second.system_prompt, bedrock.streams()[0].system_prompt);
    assert_eq!(second.state, StreamState::Open);

    send_json(&mut socket, json!({"action": "endSession"})).await;
    next_of_type(&mut socket, &spec, "sessionEnded", WAIT).await;
    let stored = conversation(&stack, "pt-001").await;
    assert_eq!(stored[0]["streams"], 2.0);
    assert_eq!(stored[0]["transcript"].as_array().unwrap().len(), 4);
    stack.stop().await;
}

/// Sends a textInput and returns the first ASSISTANT textOutput after it.
async fn next_of_type_after(socket: &mut Client, spec: &Spec, text: &str) -> (Value, Vec<Value>) {
    send_json(socket, json!({"action": "textInput", "text": text})).await;
    let mut seen = until(socket, spec, WAIT, |m| {
        (m["type"] == "textOutput" && m["role"] == "ASSISTANT") || m["type"] == "error"
    })
    .await;
    let last = seen.pop().unwrap();
    (last, seen)
}
