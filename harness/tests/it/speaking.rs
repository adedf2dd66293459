//! The IELTS speaking API (seed 000) end to end through the local stack: the
//! real `speaking` binary, DynamoDB Local, the Vertex and Secrets Manager
//! mocks. Sessions, regions, bad inputs, and seed 000's troubleshooting
//! entries ("No active session", GoneException, "Failed to initialize Vertex
//! AI", the 15-minute limit).

use std::time::{Duration, Instant};

use crate::support::*;
use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::FutureExt;
use harness::scenario::audio::{Clip, encode_chunk, transcripts_in};
use harness::scenario::model::ChunkFormat;
use harness::stack::LocalStack;
use mocks::vertex::script::SCRIPT;
use mocks::vertex::{FaultRule, VertexFault};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const API: &str = "SpeakingWebSocketApi";
const WAIT: Duration = Duration::from_secs(20);

fn audio_dir() -> std::path::PathBuf {
    workspace().join("scenarios").join("audio")
}

async fn speaking_stack(time_scale: f64) -> LocalStack {
    let mut options = streaming_options(time_scale);
    options.transcripts = transcripts_in(&audio_dir()).unwrap();
    start(options).await
}

/// The next message of a type, skipping others (which are returned too).
async fn next_of_type(socket: &mut Client, kind: &str) -> (Value, Vec<Value>) {
    let mut skipped = Vec::new();
    loop {
        let message = next_json(socket, WAIT).await;
        if message["type"] == kind {
            return (message, skipped);
        }
        skipped.push(message);
    }
}

async fn start_speaking(socket: &mut Client, country: &str, preferred: Option<&str>) -> Value {
    let mut message = json!({"action": "start_speaking", "user_id": "candidate-1", "country_code": country, "assessment_type": "speaking"});
    if let Some(region) = preferred {
        message["preferred_region"] = json!(region);
    }
    send_json(socket, message).await;
    let (ready, skipped) = next_of_type(socket, "session_ready").await;
    assert!(
        skipped.iter().all(|m| m["type"] != "error"),
        "errors before session_ready: {skipped:?}"
    );
    ready
}

/// What the client received while it was speaking.
struct Spoken {
    /// When the clip's last chunk was sent (the speech ended; silence follows).
    speech_end: Instant,
    /// Messages that arrived while the clip was being sent.
    during_speech: Vec<Value>,
}

/// Streams a clip then silence as WAV chunks (as seed 000's browser client),
/// paced by the time scale, noting what arrives while the clip is sent.
async fn speak(socket: &mut Client, clip: &Clip, time_scale: f64) -> Spoken {
    let silence = Clip::silence(Duration::from_millis(1500), clip.sample_rate);
    let mut during_speech = Vec::new();
    let mut speech_end = Instant::now();
    for (index, part) in [clip, &silence].into_iter().enumerate() {
        for chunk in part.chunks(100) {
            let (audio, mime_type) = encode_chunk(chunk, part.sample_rate, ChunkFormat::Wav);
            send_json(
                socket,
                json!({"action": "audio_chunk", "audio": audio, "mime_type": mime_type}),
            )
            .await;
            tokio::time::sleep(Duration::from_secs_f64(0.1 / time_scale)).await;
            // While the clip streams, take whatever has already arrived.
            if index == 0 {
                while let Some(message) = socket.try_next() {
                    during_speech.push(message);
                }
            }
        }
        if index == 0 {
            speech_end = Instant::now();
        }
    }
    Spoken {
        speech_end,
        during_speech,
    }
}

/// One of Maya's turns as the client received it.
#[derive(Debug)]
struct MayaTurn {
    /// Her `maya_transcript` pieces, joined.
    text: String,
    /// `maya_audio` messages.
    audio_messages: usize,
    /// When its first message arrived.
    first_at: Instant,
    /// `interrupted` of the `maya_turn_complete` that ended it.
    interrupted: bool,
}

/// Reads Maya's next turn: her messages up to `maya_turn_complete`. Any
/// other server message but a gateway notice fails the test.
async fn read_maya_turn(socket: &mut Client) -> MayaTurn {
    let mut turn = MayaTurn {
        text: String::new(),
        audio_messages: 0,
        first_at: Instant::now(),
        interrupted: false,
    };
    let mut first = true;
    loop {
        let message = next_json(socket, WAIT).await;
        let kind = message["type"].as_str().unwrap_or_default().to_owned();
        if first && kind.starts_with("maya_") {
            turn.first_at = Instant::now();
            first = false;
        }
        match kind.as_str() {
            "maya_transcript" => turn.text.push_str(message["text"].as_str().unwrap()),
            "maya_audio" => turn.audio_messages += 1,
            "maya_turn_complete" => {
                turn.interrupted = message["interrupted"].as_bool().expect("a boolean");
                return turn;
            }
            _ if message.get("message").is_some() && message.get("type").is_none() => {} // gateway
            _ => panic!("unexpected message in Maya's turn: {message}"),
        }
    }
}

/// Polls `check` until it holds or `limit` passes.
async fn eventually_async<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check().await
}

async fn session_item(
    stack: &LocalStack,
    connection_id: &str,
) -> Option<std::collections::HashMap<String, AttributeValue>> {
    let client = stack.dynamodb_client().await;
    client
        .get_item()
        .table_name("ielts-genai-prep-sessions")
        .key(
            "session_id",
            AttributeValue::S(format!("speaking#{connection_id}")),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

async fn relay_items(stack: &LocalStack) -> usize {
    let client = stack.dynamodb_client().await;
    harness::dynamodb::scan::scan_all(&client, "ielts-genai-prep-session-relay")
        .await
        .unwrap()
        .len()
}

fn connection_of(stack: &LocalStack) -> String {
    let records = stack.lambda().records();
    let connect = records
        .iter()
        .rev()
        .find(|r| r.route.as_deref() == Some("$connect"))
        .unwrap();
    connect.event.as_ref().unwrap()["requestContext"]["connectionId"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_whole_session_with_recorded_speech() {
    let scale = 20.0;
    let stack = speaking_stack(scale).await;
    let mut socket = connect(&stack.websocket(API).unwrap().url()).await;
    let ready = start_speaking(&mut socket, "US", None).await;
    assert_eq!(ready["region"], "us-central1");
    // Maya opens: her whole greeting, to its end, before the candidate speaks.
    let greeting = read_maya_turn(&mut socket).await;
    assert_eq!(greeting.text, SCRIPT[0].text);
    assert!(greeting.audio_messages > 0 && !greeting.interrupted);
    let clip = Clip::read(&audio_dir().join("p1-name.wav")).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let spoken = speak(&mut socket, &clip, scale).await;
    let maya_during_speech: Vec<&Value> = spoken
        .during_speech
        .iter()
        .filter(|m| m["type"].as_str().is_some_and(|t| t.starts_with("maya_")))
        .collect();
    assert!(
        maya_during_speech.is_empty(),
        "Maya must not speak while the candidate speaks: {maya_during_speech:?}"
    );
    // The reply to this speech: the next examiner line, after the speech, to its end.
    let reply = read_maya_turn(&mut socket).await;
    assert_eq!(reply.text, SCRIPT[1].text);
    assert!(reply.text.contains("identification"));
    assert!(
        reply.first_at > spoken.speech_end,
        "the reply came after the speech"
    );
    assert!(reply.audio_messages > 0);
    assert!(!reply.interrupted);
    let session = &stack.mocks().vertex.sessions()[0];
    let lines: Vec<Option<usize>> = session.turns.iter().map(|t| t.line).collect();
    assert_eq!(lines, [Some(0), Some(1)], "one examiner turn per user turn");
    assert_eq!(session.turns[1].answers_user_turn, 2);
    assert_eq!(session.script_overruns, 0);
    send_json(&mut socket, json!({"action": "end_speaking"})).await;
    let (complete, skipped) = next_of_type(&mut socket, "assessment_complete").await;
    assert!(skipped.iter().all(|m| m["type"] != "error"), "{skipped:?}");
    let assessment = &complete["assessment"];
    for criterion in [
        "fluency_and_coherence",
        "lexical_resource",
        "grammatical_range_and_accuracy",
        "pronunciation",
    ] {
        let band = assessment["criteria"][criterion]["band"].as_f64().unwrap();
        assert!(
            (0.0..=9.0).contains(&band) && (band * 2.0).fract() == 0.0,
            "{criterion}: {band}"
        );
    }
    assert!(
        assessment["improvement_plan"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
    );
    assert_eq!(assessment["region"], "us-central1");
    assert_eq!(assessment["ended_by"], "completed");
    let transcript = assessment["transcript"].as_array().unwrap();
    assert!(transcript.iter().any(|l| l["speaker"] == "examiner"));
    assert!(
        transcript
            .iter()
            .any(|l| l["speaker"] == "candidate" && l["text"].as_str().unwrap().contains("Alex")),
        "the candidate's words were recognised: {transcript:?}"
    );
    // Stored once, session completed, no audio left in the relay.
    let client = stack.dynamodb_client().await;
    let stored = client
        .get_item()
        .table_name("ielts-genai-prep-assessments")
        .key(
            "assessment_id",
            AttributeValue::S(assessment["assessment_id"].as_str().unwrap().to_owned()),
        )
        .send()
        .await
        .unwrap();
    assert!(stored.item.is_some(), "assessment stored");
    let session = session_item(&stack, &connection_of(&stack)).await.unwrap();
    assert_eq!(session["session_status"].as_s().unwrap(), "completed");
    // The owner purges the relay after answering: wait for it, then check.
    assert!(
        eventually_async(WAIT, || relay_items(&stack).map(|n| n == 0)).await,
        "no audio remains stored: {} relay items",
        relay_items(&stack).await
    );
    stack.stop().await;
}

#[tokio::test]
async fn regions_by_country_and_override() {
    let stack = speaking_stack(20.0).await;
    let url = stack.websocket(API).unwrap().url();
    for (country, preferred, expected) in [
        ("DE", None, "europe-west1"),
        ("SG", None, "asia-southeast1"),
        ("AE", None, "me-central1"),
        ("US", Some("australia-southeast1"), "australia-southeast1"),
    ] {
        let mut socket = connect(&url).await;
        let ready = start_speaking(&mut socket, country, preferred).await;
        assert_eq!(ready["region"], expected, "{country}");
        socket.send_close(None).await.unwrap();
    }
    let regions: Vec<String> = stack
        .mocks()
        .vertex
        .sessions()
        .into_iter()
        .map(|s| s.region)
        .collect();
    for expected in [
        "europe-west1",
        "asia-southeast1",
        "me-central1",
        "australia-southeast1",
    ] {
        assert!(
            regions.iter().any(|r| r == expected),
            "{expected} reached: {regions:?}"
        );
    }
    let mut socket = connect(&url).await;
    send_json(&mut socket, json!({"action": "start_speaking", "user_id": "u", "country_code": "US", "preferred_region": "mars-north1"})).await;
    let error = next_json(&mut socket, WAIT).await;
    assert_eq!(error["type"], "error");
    assert!(error["message"].as_str().unwrap().contains("mars-north1"));
    stack.stop().await;
}

async fn expect_error(socket: &mut Client, contains: &str) {
    let message = next_json(socket, WAIT).await;
    assert_eq!(message["type"], "error", "{message}");
    assert!(
        message["message"].as_str().unwrap().contains(contains),
        "{message} should contain {contains:?}"
    );
}

#[tokio::test]
async fn bad_inputs_get_the_documented_answer_and_leave_the_session_usable() {
    let stack = speaking_stack(20.0).await;
    let url = stack.websocket(API).unwrap().url();
    let mut socket = connect(&url).await;
    // Before any session.
    send_json(&mut socket, json!({"user_id": "u"})).await;
    expect_error(&mut socket, "missing \"action\"").await;
    send_json(&mut socket, json!({"action": "sing"})).await;
    expect_error(&mut socket, "Unknown action: sing").await;
    socket.send(Message::text("{not json")).await.unwrap();
    expect_error(&mut socket, "not valid JSON").await;
    send_json(
        &mut socket,
        json!({"action": "audio_chunk", "audio": "AAAA", "mime_type": "audio/pcm"}),
    )
    .await;
    expect_error(&mut socket, "No active session").await;
    send_json(&mut socket, json!({"action": "end_speaking"})).await;
    expect_error(&mut socket, "No active session").await;
    send_json(
        &mut socket,
        json!({"action": "start_speaking", "country_code": "US"}),
    )
    .await;
    expect_error(&mut socket, "missing field \"user_id\"").await;
    // A session, then bad input inside it (Maya's greeting flows meanwhile).
    start_speaking(&mut socket, "GB", None).await;
    let mut greeting = Vec::new();
    send_json(
        &mut socket,
        json!({"action": "start_speaking", "user_id": "u", "country_code": "US"}),
    )
    .await;
    let (error, skipped) = next_of_type(&mut socket, "error").await;
    greeting.extend(skipped);
    assert_eq!(error["message"], "Session already active");
    send_json(
        &mut socket,
        json!({"action": "audio_chunk", "audio": "***", "mime_type": "audio/wav"}),
    )
    .await;
    let (error, skipped) = next_of_type(&mut socket, "error").await;
    greeting.extend(skipped);
    assert!(
        error["message"].as_str().unwrap().contains("base64"),
        "{error}"
    );
    send_json(
        &mut socket,
        json!({"action": "audio_chunk", "audio": "aGVsbG8gd29ybGQ=", "mime_type": "audio/wav"}),
    )
    .await;
    let (error, skipped) = next_of_type(&mut socket, "error").await;
    greeting.extend(skipped);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid audio"),
        "{error}"
    );
    // Still usable: once the greeting is over, a real answer gets Maya's
    // reply (the next line, not a leftover of the greeting), and the test
    // ends normally.
    if !greeting.iter().any(|m| m["type"] == "maya_turn_complete") {
        next_of_type(&mut socket, "maya_turn_complete").await;
    }
    let clip = Clip::read(&audio_dir().join("p1-name.wav")).unwrap();
    speak(&mut socket, &clip, 20.0).await;
    let reply = read_maya_turn(&mut socket).await;
    assert_eq!(reply.text, SCRIPT[1].text);
    assert!(reply.audio_messages > 0);
    send_json(&mut socket, json!({"action": "end_speaking"})).await;
    next_of_type(&mut socket, "assessment_complete").await;
    // A chunk over 128 KB: API Gateway closes the connection with 1009.
    let mut big = connect(&url).await;
    start_speaking(&mut big, "US", None).await;
    let audio = "A".repeat(140 * 1024);
    send_json(
        &mut big,
        json!({"action": "audio_chunk", "audio": audio, "mime_type": "audio/pcm"}),
    )
    .await;
    assert_eq!(close_code(&mut big, WAIT).await, Some(1009));
    stack.stop().await;
}

#[tokio::test]
async fn troubleshooting_failed_to_initialize_vertex_ai_leaves_nothing_behind() {
    let stack = speaking_stack(20.0).await;
    stack
        .mocks()
        .vertex
        .set_fault(FaultRule::all(VertexFault::RejectAuth));
    let mut socket = connect(&stack.websocket(API).unwrap().url()).await;
    send_json(
        &mut socket,
        json!({"action": "start_speaking", "user_id": "u", "country_code": "US"}),
    )
    .await;
    expect_error(&mut socket, "Failed to initialize Vertex AI").await;
    assert!(
        session_item(&stack, &connection_of(&stack)).await.is_none(),
        "no session was created"
    );
    stack.mocks().vertex.clear_faults();
    // Missing credentials give the same answer.
    stack
        .mocks()
        .secrets
        .put_secret("gemini-vertex-ai-credentials", "{\"type\": \"not a key\"}");
    send_json(
        &mut socket,
        json!({"action": "start_speaking", "user_id": "u", "country_code": "US"}),
    )
    .await;
    expect_error(&mut socket, "Failed to initialize Vertex AI").await;
    stack.stop().await;
}

#[tokio::test]
async fn troubleshooting_gone_client_marks_the_session_disconnected() {
    let stack = speaking_stack(20.0).await;
    let mut socket = connect(&stack.websocket(API).unwrap().url()).await;
    start_speaking(&mut socket, "US", None).await;
    let connection_id = connection_of(&stack);
    drop(socket); // the client vanishes without a close frame
    let mut status = String::new();
    for _ in 0..100 {
        if let Some(item) = session_item(&stack, &connection_id).await {
            status = item["session_status"].as_s().unwrap().clone();
            if status == "disconnected" {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "disconnected");
    // The owner stopped: its invocation finished.
    assert!(
        eventually(WAIT, || stack
            .lambda()
            .records()
            .iter()
            .any(|r| r.route.as_deref() == Some("start_speaking")))
        .await,
        "the owner invocation ended"
    );
    stack.stop().await;
}

/// Streams silence past the owner's time limit (`chunks` chunks of
/// `chunk_ms` per round, then 200 ms of listening) until the session's
/// outcome comes: the first `assessment_complete` or `error`.
async fn stream_until_the_outcome(
    stack: &LocalStack,
    socket: &mut Client,
    chunks: u32,
    chunk_ms: u32,
) -> Value {
    let silence = Clip::silence(Duration::from_millis(u64::from(chunks * chunk_ms)), 16_000);
    let started = Instant::now();
    let mut heard = Vec::new();
    loop {
        for piece in silence.chunks(chunk_ms) {
            let (audio, mime_type) = encode_chunk(piece, 16_000, ChunkFormat::Pcm);
            send_json(
                socket,
                json!({"action": "audio_chunk", "audio": audio, "mime_type": mime_type}),
            )
            .await;
        }
        let listening = tokio::time::Instant::now() + Duration::from_millis(200);
        while let Some(message) = socket
            .next(listening.saturating_duration_since(tokio::time::Instant::now()))
            .await
        {
            if matches!(
                message["type"].as_str(),
                Some("assessment_complete" | "error")
            ) {
                return message;
            }
            heard.push(message["type"].clone());
        }
        if started.elapsed() > Duration::from_secs(40) {
            let log = stack
                .lambda()
                .logs()
                .recent("production-ielts-speaking-websocket");
            panic!(
                "no outcome before the deadline; heard {heard:?}; the function's log:\n{}",
                log.join("\n")
            );
        }
    }
}

/// The `start_speaking` invocation's outcome, once it has ended.
async fn owner_outcome(stack: &LocalStack) -> String {
    let owner = || {
        stack
            .lambda()
            .records()
            .into_iter()
            .find(|r| r.route.as_deref() == Some("start_speaking"))
    };
    assert!(
        eventually(WAIT, || owner().is_some()).await,
        "the owner never ended"
    );
    owner().unwrap().outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn troubleshooting_the_15_minute_limit_ends_the_assessment_cleanly() {
    // An open microphone at 50 chunks a second: no other such test at once.
    let _serial = MACHINE_SATURATING.lock().await;
    // 900 s / 60 = 15 s of function time; the session outlives it.
    let stack = speaking_stack(60.0).await;
    let mut socket = connect(&stack.websocket(API).unwrap().url()).await;
    start_speaking(&mut socket, "US", None).await;
    let complete = stream_until_the_outcome(&stack, &mut socket, 10, 100).await;
    assert_eq!(complete["type"], "assessment_complete", "{complete}");
    assert_eq!(complete["assessment"]["ended_by"], "time_limit");
    assert!(
        complete["assessment"]["notice"]
            .as_str()
            .unwrap()
            .contains("15-minute")
    );
    let outcome = owner_outcome(&stack).await;
    assert_eq!(
        outcome,
        "success",
        "the owner ended before Lambda's timeout killed it; its log:\n{}",
        stack
            .lambda()
            .logs()
            .recent("production-ielts-speaking-websocket")
            .join("\n")
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_too_slow_to_assess_in_time_fails_the_session_before_the_deadline() {
    // At 60x the owner keeps a second for the end; the assessment model
    // takes two minutes (2 s here). The client must hear why, in time, and
    // the session must end failed, not be killed by Lambda's timeout.
    let stack = speaking_stack(60.0).await;
    stack
        .mocks()
        .vertex
        .set_fault(FaultRule::all(VertexFault::SlowAnswer { ms: 120_000 }));
    let mut socket = connect(&stack.websocket(API).unwrap().url()).await;
    start_speaking(&mut socket, "US", None).await;
    let outcome = stream_until_the_outcome(&stack, &mut socket, 1, 500).await;
    assert_eq!(outcome["type"], "error", "{outcome}");
    let message = outcome["message"].as_str().unwrap();
    assert!(
        message.starts_with("Assessment failed: the assessment model did not answer within"),
        "{message}"
    );
    assert_eq!(owner_outcome(&stack).await, "success");
    let session = session_item(&stack, &connection_of(&stack)).await.unwrap();
    assert_eq!(session["session_status"].as_s().unwrap(), "failed");
    assert!(
        session["ended_by"]
            .as_s()
            .unwrap()
            .contains("did not answer within")
    );
    stack.stop().await;
}
