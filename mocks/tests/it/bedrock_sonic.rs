//! Nova Sonic through the real `aws-sdk-bedrockruntime` client against the
//! Bedrock mock: grounded answers to typed and spoken turns, full duplex,
//! barge-in, usage and the control API's view of the stream.

use std::time::Duration;

use crate::aws_common::{Sonic, audio_samples, bedrock_client, body, http, name, texts};
use mocks::bedrock::{BedrockConfig, BedrockMock, StreamState};
use mocks::speech::{self, Vad, VadConfig, VadEvent};
use mocks::token_rules::{self, Provider};
use serde_json::Value;

const BUDDY_PROMPT: &str = "You are Buddy, a patient and kind assistant for John.\n\
    Patient facts:\n\
    - Sarah is your daughter.\n\
    - Your morning routine: take your blood pressure pill at 8am, then a short walk.\n\
    - Your doctor is Dr. Patel and your appointments are on Thursday afternoons at the clinic \
    near the old market, so remember to bring your medication list and your glasses with you.\n";

async fn mock(time_scale: f64) -> BedrockMock {
    BedrockMock::start(BedrockConfig {
        time_scale,
        ..BedrockConfig::default()
    })
    .await
    .expect("mock starts")
}

fn stage(event: &Value) -> Option<String> {
    let fields = body(event)["additionalModelFields"].as_str()?;
    let parsed: Value = serde_json::from_str(fields).ok()?;
    parsed["generationStage"].as_str().map(str::to_owned)
}

/// Speech of `text` (cut to `speech_ms`) followed by `silence_ms` of silence,
/// and the speech time the detector measures in it.
fn utterance(text: &str, speech_ms: usize, silence_ms: u64) -> (Vec<i16>, Duration) {
    let mut audio = speech::synthesize(text, 16_000);
    audio.truncate(16 * speech_ms);
    audio.extend(speech::silence(Duration::from_millis(silence_ms), 16_000));
    let speech = Vad::new(VadConfig::default())
        .push(&audio)
        .into_iter()
        .find_map(|event| match event {
            VadEvent::SpeechEnd { speech, .. } => Some(speech),
            VadEvent::SpeechStart { .. } => None,
        })
        .expect("an utterance");
    (audio, speech)
}

#[tokio::test]
async fn typed_questions_are_answered_from_the_system_prompt_facts() {
    let mock = mock(20.0).await;
    let client = bedrock_client(&mock.base_url());
    let mut sonic = Sonic::open(&client, crate::aws_common::SONIC, Some(BUDDY_PROMPT))
        .await
        .expect("stream opens");

    sonic.text("q1", "USER", true, "Who is Sarah?");
    let turn = sonic.until("usageEvent").await;
    assert_eq!(name(&turn[0]), "completionStart");
    let completion_id = body(&turn[0])["completionId"].clone();
    for event in &turn {
        assert_eq!(body(event)["completionId"], completion_id, "{event}");
        assert_eq!(body(event)["promptName"], "p1");
        assert!(body(event)["sessionId"].is_string());
    }
    assert_eq!(texts(&turn, "USER"), ["Who is Sarah?"]);
    assert_eq!(
        texts(&turn, "ASSISTANT"),
        ["Sarah is your daughter.", "Sarah is your daughter."]
    );
    let stages: Vec<String> = turn
        .iter()
        .filter(|e| name(e) == "contentStart" && body(e)["type"] == "TEXT")
        .filter_map(stage)
        .collect();
    assert_eq!(stages, ["FINAL", "SPECULATIVE", "FINAL"]);
    let ends: Vec<&str> = turn
        .iter()
        .filter(|e| name(e) == "contentEnd")
        .map(|e| body(e)["stopReason"].as_str().unwrap())
        .collect();
    assert_eq!(ends, ["END_TURN", "PARTIAL_TURN", "END_TURN", "END_TURN"]);
    assert_eq!(
        audio_samples(&turn),
        speech::synthesize("Sarah is your daughter.", 24_000)
    );

    sonic.text("q2", "USER", true, "What do I do this morning?");
    let turn = sonic.until("usageEvent").await;
    assert_eq!(
        texts(&turn, "ASSISTANT")[0],
        "Your morning routine: take your blood pressure pill at 8am, then a short walk."
    );
    assert!(turn.iter().all(|e| name(e) != "completionStart"));

    sonic.end_session();
    let rest = sonic.until("completionEnd").await;
    assert_eq!(body(rest.last().unwrap())["stopReason"], "END_TURN");
    assert!(sonic.next().await.expect("clean end").is_none());

    let streams = mock.streams();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].state, StreamState::Ended);
    assert_eq!(streams[0].turns, 2);
    assert_eq!(streams[0].system_prompt, BUDDY_PROMPT);
    assert_eq!(streams[0].transcripts[1].text, "Sarah is your daughter.");
    let usage = mock.usage()[crate::aws_common::SONIC];
    assert_eq!(usage.requests, 1);
    assert!(usage.text_input_tokens > 0 && usage.speech_output_tokens > 0);
    mock.stop().await;
}

#[tokio::test]
async fn a_spoken_turn_streams_both_ways_at_once() {
    let mock = mock(10.0).await;
    let (audio, speech_time) = utterance("who is sarah my friend please tell me now", 2_000, 1_000);
    mock.add_transcript(speech_time, "Who is Sarah?");
    let client = bedrock_client(&mock.base_url());
    let mut sonic = Sonic::open(&client, crate::aws_common::SONIC, Some(BUDDY_PROMPT))
        .await
        .expect("stream opens");

    sonic.audio_start("mic");
    sonic.audio("mic", &audio);
    // The input stays open: the answer must arrive while the microphone streams.
    let turn = sonic.until("usageEvent").await;
    assert_eq!(texts(&turn, "USER"), ["Who is Sarah?"]);
    assert_eq!(texts(&turn, "ASSISTANT")[1], "Sarah is your daughter.");
    let audio_start = turn
        .iter()
        .find(|e| name(e) == "contentStart" && body(e)["type"] == "AUDIO")
        .expect("an AUDIO block");
    assert_eq!(
        body(audio_start)["audioOutputConfiguration"]["sampleRateHertz"],
        24_000
    );
    let answer_audio = speech::synthesize("Sarah is your daughter.", 24_000);
    assert_eq!(audio_samples(&turn), answer_audio);

    let usage = body(turn.last().unwrap());
    let sent = speech::duration_of(audio.len(), 16_000);
    assert_eq!(
        usage["details"]["total"]["input"]["speechTokens"],
        token_rules::built_in(Provider::Bedrock).audio_in_tokens(sent)
    );
    assert_eq!(
        usage["details"]["total"]["output"]["speechTokens"],
        token_rules::built_in(Provider::Bedrock)
            .audio_out_tokens(speech::duration_of(answer_audio.len(), 24_000))
    );
    assert_eq!(
        usage["totalTokens"].as_u64(),
        Some(
            usage["totalInputTokens"].as_u64().unwrap()
                + usage["totalOutputTokens"].as_u64().unwrap()
        )
    );

    // More microphone audio after the answer: the same request body is still open.
    sonic.audio("mic", &speech::silence(Duration::from_millis(500), 16_000));
    sonic.content_end("mic");
    sonic.end_session();
    let rest = sonic.until("completionEnd").await;
    let last_usage = rest
        .iter()
        .rev()
        .find(|e| name(e) == "usageEvent")
        .expect("final usage");
    assert_eq!(
        body(last_usage)["details"]["total"]["input"]["speechTokens"],
        token_rules::built_in(Provider::Bedrock).audio_in_tokens(sent + Duration::from_millis(500))
    );

    let (status, streams) = http(&mock.base_url(), "GET", "/_mock/bedrock/streams", None).await;
    assert_eq!(status, 200);
    let streams: Value = serde_json::from_str(&streams).unwrap();
    assert_eq!(streams[0]["transcripts"][0]["text"], "Who is Sarah?");
    assert_eq!(streams[0]["transcripts"][0]["role"], "USER");
    let (_, usage) = http(&mock.base_url(), "GET", "/_mock/bedrock/usage", None).await;
    let usage: Value = serde_json::from_str(&usage).unwrap();
    assert_eq!(
        usage[crate::aws_common::SONIC]["speech_input_tokens"],
        token_rules::built_in(Provider::Bedrock).audio_in_tokens(sent + Duration::from_millis(500))
    );
    mock.stop().await;
}

#[tokio::test]
async fn transcripts_posted_to_the_control_api_are_recognised() {
    let mock = mock(10.0).await;
    let (audio, speech_time) = utterance("what do i do this morning then", 1_600, 1_000);
    let entries = format!(
        r#"[{{"speech_ms": {}, "text": "What do I do this morning?"}}]"#,
        speech_time.as_millis()
    );
    let (status, _) = http(
        &mock.base_url(),
        "POST",
        "/_mock/bedrock/transcripts",
        Some(&entries),
    )
    .await;
    assert_eq!(status, 204);
    let client = bedrock_client(&mock.base_url());
    let mut sonic = Sonic::open(&client, "amazon.nova-2-sonic-v1:0", Some(BUDDY_PROMPT))
        .await
        .expect("stream opens");
    sonic.audio_start("mic");
    sonic.audio("mic", &audio);
    let turn = sonic.until("usageEvent").await;
    assert_eq!(texts(&turn, "USER"), ["What do I do this morning?"]);
    assert!(texts(&turn, "ASSISTANT")[0].starts_with("Your morning routine"));
    mock.stop().await;
}

#[tokio::test]
async fn user_speech_during_assistant_audio_interrupts_it() {
    let mock = mock(1.0).await;
    let client = bedrock_client(&mock.base_url());
    let mut sonic = Sonic::open(&client, crate::aws_common::SONIC, Some(BUDDY_PROMPT))
        .await
        .expect("stream opens");
    sonic.text("q1", "USER", true, "When is my doctor appointment?");
    // Wait for the assistant's voice to start (its answer lasts several seconds).
    let heard = sonic.until("audioOutput").await;
    assert!(texts(&heard, "ASSISTANT")[0].starts_with("Your doctor is Dr. Patel"));

    let mut speech = speech::synthesize("wait a moment please stop", 16_000);
    speech.truncate(16_000);
    sonic.audio_start("mic");
    sonic.audio("mic", &speech);
    let rest = sonic.until("usageEvent").await;
    let audio_end = rest
        .iter()
        .find(|e| name(e) == "contentEnd" && body(e)["type"] == "AUDIO")
        .expect("the AUDIO block ends");
    assert_eq!(body(audio_end)["stopReason"], "INTERRUPTED");
    assert_eq!(texts(&rest, "ASSISTANT"), ["{ \"interrupted\" : true }"]);
    let full = speech::synthesize(&texts(&heard, "ASSISTANT")[0], 24_000).len();
    let played = audio_samples(&heard).len() + audio_samples(&rest).len();
    assert!(played < full, "played {played} of {full} samples");
    let stream = &mock.streams()[0];
    assert!(stream.transcripts[1].interrupted);
    mock.stop().await;
}

#[tokio::test]
async fn the_examiner_persona_asks_ielts_questions_in_order() {
    let mock = mock(50.0).await;
    let client = bedrock_client(&mock.base_url());
    let prompt = "You are Maya, a friendly IELTS speaking examiner. Ask one question at a time.";
    let mut sonic = Sonic::open(&client, crate::aws_common::SONIC, Some(prompt))
        .await
        .expect("stream opens");
    let mut asked = Vec::new();
    for (i, answer) in ["Hello", "I live in Lisbon.", "I am a student."]
        .iter()
        .enumerate()
    {
        sonic.text(&format!("u{i}"), "USER", true, answer);
        asked.push(texts(&sonic.until("usageEvent").await, "ASSISTANT")[1].clone());
    }
    assert_eq!(
        asked,
        mocks::bedrock::answers::EXAMINER_QUESTIONS[..3].to_vec()
    );
    mock.stop().await;
}

#[tokio::test]
async fn the_examiner_logs_parts_and_fails_clearly_after_its_closing_line() {
    use mocks::bedrock::answers::{EXAMINER_QUESTIONS, ExaminerPart};
    let mock = mock(100.0).await;
    let client = bedrock_client(&mock.base_url());
    let prompt = "You are Maya, a friendly IELTS speaking examiner.";
    let mut sonic = Sonic::open(&client, crate::aws_common::SONIC, Some(prompt))
        .await
        .expect("stream opens");
    for i in 0..EXAMINER_QUESTIONS.len() {
        sonic.text(&format!("u{i}"), "USER", true, "An answer.");
        sonic.until("usageEvent").await;
    }
    sonic.text("late", "USER", true, "Thank you!");
    let error = sonic.error().await;
    let service = error.as_service_error().expect("an exception event");
    assert!(service.is_model_stream_error_exception(), "{service:?}");
    let stream = &mock.streams()[0];
    assert_eq!(stream.state, StreamState::Failed);
    assert_eq!(stream.script_overruns, 1);
    assert_eq!(
        stream.error.as_deref(),
        Some(
            "modelStreamErrorException: mock examiner script exhausted: user turn 8 came \
             after the closing line (the script has 7 lines)"
        )
    );
    let said: Vec<(Option<usize>, Option<ExaminerPart>)> = stream
        .transcripts
        .iter()
        .filter(|l| l.role == "ASSISTANT")
        .map(|l| (l.line, l.part))
        .collect();
    assert_eq!(said.len(), EXAMINER_QUESTIONS.len());
    assert_eq!(said[0], (Some(0), Some(ExaminerPart::Part1)));
    assert_eq!(said[3], (Some(3), Some(ExaminerPart::Part2)));
    assert_eq!(said[6], (Some(6), Some(ExaminerPart::Closing)));
    let (status, body) = http(&mock.base_url(), "GET", "/_mock/bedrock/streams", None).await;
    assert_eq!(status, 200);
    let streams: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(streams[0]["script_overruns"], 1);
    assert_eq!(streams[0]["transcripts"][1]["part"], "part1");
    assert_eq!(streams[0]["transcripts"][1]["line"], 0);
    assert!(
        streams[0]["transcripts"][0].get("part").is_none(),
        "USER lines have no part"
    );
    mock.stop().await;
}

#[tokio::test]
async fn prompt_end_closes_the_completion_before_session_end() {
    let mock = mock(20.0).await;
    let client = bedrock_client(&mock.base_url());
    let mut sonic = Sonic::open(&client, crate::aws_common::SONIC, Some(BUDDY_PROMPT))
        .await
        .expect("stream opens");
    sonic.text("q1", "USER", true, "Who is Sarah?");
    sonic.send("promptEnd", serde_json::json!({"promptName": "p1"}));
    // The answer is still played in full, then the completion ends while the
    // session stays open.
    let events = sonic.until("completionEnd").await;
    assert_eq!(texts(&events, "ASSISTANT")[1], "Sarah is your daughter.");
    assert_eq!(mock.streams()[0].state, StreamState::Open);
    sonic.end_session();
    assert!(sonic.next().await.expect("clean end").is_none());
    assert_eq!(mock.streams()[0].state, StreamState::Ended);
    mock.stop().await;
}
