//! Seed 003's `nova-sonic-stream` route end to end through the local stack:
//! two-way speech with Maya on Nova Sonic (the real `nova-sonic-stream`
//! binary, DynamoDB Local, the Bedrock mock), bad inputs, barge-in, and the
//! rule that only transcripts are stored, never voice. Every message is
//! checked against backend/spec/nova-sonic-stream.asyncapi.yaml.

use std::time::Duration;

use crate::nova_support::*;
use crate::support::*;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(20);
const GREETING: &str = "Good morning, my name is Maya and I'm your examiner today. \
     Let's start with Part 1. Can you tell me where you live?";

fn spec() -> Spec {
    Spec::load("nova-sonic-stream.asyncapi.yaml")
}

fn stream(kind: &str) -> Value {
    json!({"action": "nova-sonic-stream", "type": kind})
}

async fn start_session(socket: &mut Client, spec: &Spec, user: &str) -> Value {
    let mut message = stream("start");
    message["user_id"] = json!(user);
    send_json(socket, message).await;
    next_checked(socket, spec, WAIT).await
}

fn audio_message(audio: String) -> Value {
    let mut message = stream("audio");
    message["audio"] = json!(audio);
    message
}

#[tokio::test]
async fn two_way_speech_with_maya_stores_only_the_transcript() {
    let time_scale = 10.0;
    let stack = start(streaming_options(time_scale)).await;
    let spec = spec();
    let (samples, speech_time) = utterance("my name is alex morgan but everyone", 2_000, 1_200);
    stack.mocks().bedrock.add_transcript(
        speech_time,
        "My name is Alex Morgan, but everyone calls me Alex.",
    );
    let gateway = stack.websocket(STREAM).expect("nova-sonic-stream API");
    let mut socket = connect(&gateway.url()).await;

    // Input before start, and malformed input, are refused precisely.
    for (body, expected) in [
        (
            stream("text").to_string(),
            "Invalid message: missing field \"text\"",
        ),
        (
            json!({"action": "nova-sonic-stream", "type": "text", "text": "Hi"}).to_string(),
            "No active session",
        ),
        (
            json!({"action": "start_speaking"}).to_string(),
            "Unknown action: start_speaking; use nova-sonic-stream",
        ),
        (
            json!({"action": "nova-sonic-stream"}).to_string(),
            "Invalid message: missing \"type\"; use start, audio, text or end",
        ),
        (
            json!({"action": "nova-sonic-stream", "type": "sing"}).to_string(),
            "Unknown type: sing; use start, audio, text or end",
        ),
        ("{broken".to_owned(), "Invalid message: not valid JSON"),
    ] {
        socket.send(Message::text(body.clone())).await.unwrap();
        let (error, _) = next_of_type(&mut socket, &spec, "error", WAIT).await;
        assert_eq!(error["message"], expected, "for {body}");
    }

    let ready = start_session(&mut socket, &spec, "candidate-7").await;
    assert_eq!(ready["type"], "session_ready");
    assert_eq!(ready["model"], "amazon.nova-2-sonic-v1:0");
    // Maya opens the test.
    let (greeting, _) = next_of_type(&mut socket, &spec, "maya_transcript", WAIT).await;
    assert_eq!(greeting["text"], GREETING);
    let (voice, _) = next_of_type(&mut socket, &spec, "maya_audio", WAIT).await;
    assert_eq!(voice["format"]["sample_rate"], 24_000);
    let mut again = stream("start");
    again["user_id"] = json!("candidate-7");
    send_json(&mut socket, again).await;
    let (error, _) = next_of_type(&mut socket, &spec, "error", WAIT).await;
    assert_eq!(error["message"], "Session already active");

    // The candidate answers aloud: the transcript of the speech, then Maya's next question.
    speak(&mut socket, &samples, 100, time_scale, audio_message).await;
    let (heard, _) = next_of_type(&mut socket, &spec, "user_transcript", WAIT).await;
    assert_eq!(
        heard["text"],
        "My name is Alex Morgan, but everyone calls me Alex."
    );
    let (question, _) = next_of_type(&mut socket, &spec, "maya_transcript", WAIT).await;
    assert_eq!(question["text"], "Do you work or are you a student?");
    // A typed turn works too.
    let mut typed = stream("text");
    typed["text"] = json!("I work as a software developer.");
    send_json(&mut socket, typed).await;
    let (question, _) = next_of_type(&mut socket, &spec, "maya_transcript", WAIT).await;
    assert_eq!(
        question["text"],
        "What do you enjoy doing in your free time?"
    );

    send_json(&mut socket, stream("end")).await;
    let (ended, _) = next_of_type(&mut socket, &spec, "session_ended", WAIT).await;
    assert_eq!(ended["reason"], "completed");
    let transcript_id = ended["transcript_id"].as_str().unwrap().to_owned();

    // Only the transcript is stored, in seed 000's terms, and no audio anywhere.
    let client = dynamodb(&stack).await;
    let item = client
        .get_item()
        .table_name(table(&stack, "AssessmentsTable"))
        .key("assessment_id", AttributeValue::S(transcript_id))
        .send()
        .await
        .unwrap()
        .item
        .expect("the transcript is stored");
    assert_eq!(
        item["type"],
        AttributeValue::S("speaking_conversation".into())
    );
    assert_eq!(item["user_id"], AttributeValue::S("candidate-7".into()));
    let lines = item["transcript"].as_l().unwrap();
    let speakers: Vec<(&str, &str)> = lines
        .iter()
        .map(|line| {
            let map = line.as_m().unwrap();
            (
                map["speaker"].as_s().unwrap().as_str(),
                map["text"].as_s().unwrap().as_str(),
            )
        })
        .collect();
    assert_eq!(speakers[0], ("examiner", GREETING));
    assert_eq!(
        speakers[1],
        (
            "candidate",
            "My name is Alex Morgan, but everyone calls me Alex."
        )
    );
    assert_eq!(
        speakers[3],
        ("candidate", "I work as a software developer.")
    );
    assert_eq!(audio_anywhere(&stack).await, Vec::<String>::new());
    assert!(scan(&client, &table(&stack, "RelayTable")).await.is_empty());
    // The model heard the audio (speech tokens were billed), and nothing kept it.
    assert!(stack.mocks().bedrock.usage()["amazon.nova-2-sonic-v1:0"].speech_input_tokens > 0);
    stack.stop().await;
}

#[tokio::test]
async fn talking_over_maya_interrupts_her() {
    // At twice real speed Maya's greeting lasts about 4.5 s: long enough to talk over.
    let time_scale = 2.0;
    let stack = start(streaming_options(time_scale)).await;
    let spec = spec();
    let (samples, speech_time) = utterance("sorry could you repeat that please", 1_500, 1_000);
    stack
        .mocks()
        .bedrock
        .add_transcript(speech_time, "Sorry, could you repeat that?");
    let gateway = stack.websocket(STREAM).unwrap();
    let mut socket = connect(&gateway.url()).await;
    start_session(&mut socket, &spec, "candidate-8").await;
    next_of_type(&mut socket, &spec, "maya_audio", WAIT).await;

    speak(&mut socket, &samples, 100, time_scale, audio_message).await;
    let seen = until(&mut socket, &spec, WAIT, |m| m["type"] == "user_transcript").await;
    assert!(
        seen.iter().any(|m| m["type"] == "interrupted"),
        "Maya stops when the candidate talks over her: {:?}",
        seen.iter().map(|m| &m["type"]).collect::<Vec<_>>()
    );
    assert_eq!(
        seen.last().unwrap()["text"],
        "Sorry, could you repeat that?"
    );

    send_json(&mut socket, stream("end")).await;
    let (ended, _) = next_of_type(&mut socket, &spec, "session_ended", WAIT).await;
    let client = dynamodb(&stack).await;
    let item = client
        .get_item()
        .table_name(table(&stack, "AssessmentsTable"))
        .key(
            "assessment_id",
            AttributeValue::S(ended["transcript_id"].as_str().unwrap().into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let first = item["transcript"].as_l().unwrap()[0]
        .as_m()
        .unwrap()
        .clone();
    assert_eq!(first["text"], AttributeValue::S(GREETING.into()));
    assert_eq!(first["interrupted"], AttributeValue::Bool(true));
    stack.stop().await;
}
