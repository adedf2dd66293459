//! The Gemini Live protocol over real sockets: setup, both key casings, a
//! spoken turn with transcripts, 24 kHz audio and usage, the session info,
//! text and manual-activity turns, barge-in, and refusals.

use std::time::Duration;

use crate::common::*;
use mocks::speech::text_tokens;
use mocks::token_rules::{self, Provider};
use mocks::vertex::script::SCRIPT;
use mocks::vertex::{ExaminerPart, Speaker};
use serde_json::json;

/// Tokens for audio the model heard, by the pricing table's rule (the one
/// the mock counts with).
fn heard(duration: Duration) -> u64 {
    token_rules::built_in(Provider::Vertex).audio_in_tokens(duration)
}

/// Tokens for audio the model spoke.
fn spoken(duration: Duration) -> u64 {
    token_rules::built_in(Provider::Vertex).audio_out_tokens(duration)
}

#[tokio::test]
async fn a_spoken_turn_gets_transcripts_audio_and_usage() {
    let mock = start_vertex(50.0).await;
    mock.register_transcript(Duration::from_millis(2000), "My name is Ana Silva.");
    let mut ws = connect(&mock, "europe-west1").await;
    start_session(&mut ws, "europe-west1", json!({})).await;

    say_text(&mut ws, "Please begin the test.").await;
    let first = read_turn(&mut ws).await;
    assert_eq!(first.transcript, SCRIPT[0].text);
    assert!(first.generation_complete && !first.interrupted);
    let produced = spoken(Duration::from_secs_f64(first.audio_seconds()));
    assert_eq!(first.tokens("candidatesTokensDetails", "AUDIO"), produced);
    assert_eq!(
        first.tokens("promptTokensDetails", "TEXT"),
        text_tokens(SYSTEM) + text_tokens("Please begin the test.")
    );
    assert_eq!(first.usage["trafficType"], "ON_DEMAND");
    let total = first.usage["totalTokenCount"].as_u64().unwrap();
    assert_eq!(
        total,
        first.usage["promptTokenCount"].as_u64().unwrap()
            + first.usage["candidatesTokenCount"].as_u64().unwrap()
    );
    let last_two: Vec<&serde_json::Value> = first.messages.iter().rev().take(2).collect();
    assert_eq!(
        last_two[1],
        &json!({"serverContent": {"generationComplete": true}})
    );

    // 4 s of continuous stream (silence included) in one message: 128 tokens
    // at the table's 32 a second.
    let samples = audio(&[(false, 500), (true, 2000), (false, 1500)]);
    send(&mut ws, &audio_message(&samples)).await;
    let second = read_turn(&mut ws).await;
    assert_eq!(
        second.input,
        vec![("My name is Ana Silva.".to_owned(), true)]
    );
    assert_eq!(second.transcript, SCRIPT[1].text);
    assert_eq!(
        second.tokens("promptTokensDetails", "AUDIO"),
        heard(Duration::from_secs(4)) + produced,
        "audio in at the table's rate, plus the model's own audio in the context"
    );
    assert_eq!(
        second.tokens("promptTokensDetails", "TEXT"),
        first.tokens("promptTokensDetails", "TEXT")
    );

    let sessions = mock.sessions();
    assert_eq!(sessions.len(), 1);
    let session = &sessions[0];
    assert_eq!(session.region, "europe-west1");
    assert_eq!(session.model, model_path("europe-west1"));
    assert_eq!(session.part, ExaminerPart::Part1);
    assert_eq!((session.model_turns, session.user_turns), (2, 2));
    let log: Vec<(u32, Option<usize>, u32)> = session
        .turns
        .iter()
        .map(|t| (t.index, t.line, t.answers_user_turn))
        .collect();
    assert_eq!(log, vec![(0, Some(0), 1), (1, Some(1), 2)]);
    assert!(
        session
            .turns
            .iter()
            .all(|t| !t.interrupted && t.part == ExaminerPart::Part1)
    );
    assert_eq!(session.turns[1].text, SCRIPT[1].text);
    assert_eq!(
        session.turns[1].prompt_audio_tokens,
        second.tokens("promptTokensDetails", "AUDIO")
    );
    assert_eq!(session.script_overruns, 0);
    assert!(session.connected);
    assert!(
        session
            .transcript
            .iter()
            .any(|line| line.speaker == Speaker::Candidate && line.text == "My name is Ana Silva.")
    );
    let usage = mock.usage();
    assert_eq!(usage.sessions, 1);
    assert_eq!(usage.live_turns, 2);
    assert_eq!(
        usage.tokens.audio_tokens_in,
        heard(Duration::from_secs(4)) + produced
    );
    assert_eq!(
        usage.tokens.audio_tokens_out,
        produced + second.tokens("candidatesTokensDetails", "AUDIO")
    );
    assert_eq!(usage.by_model[LIVE_MODEL], usage.tokens);
    mock.stop().await;
}

/// Gemini Live bills every turn for the whole context so far. Over N turns,
/// the billed prompt tokens must be the sum, over turns, of the context at
/// each turn, which the test computes from what it sent (typed text, audio
/// by its duration) and what the model said (its audio and text parts).
#[tokio::test]
async fn billed_prompt_tokens_are_the_sum_of_the_context_at_every_turn() {
    const TURNS: usize = 5;
    let mock = start_vertex(50.0).await;
    mock.register_transcript(Duration::from_millis(2000), "I live in Porto.");
    let mut ws = connect(&mock, "europe-west1").await;
    start_session(&mut ws, "europe-west1", json!({})).await;
    let typed = "Please begin the test.";
    say_text(&mut ws, typed).await;
    // Each answer: 4 s of continuous stream, silence included.
    let answer = audio(&[(false, 500), (true, 2000), (false, 1500)]);
    let answer_length = Duration::from_millis(4000);

    let mut context_text = text_tokens(SYSTEM) + text_tokens(typed);
    let mut context_audio = 0;
    let mut audio_sent = Duration::ZERO;
    let (mut expected_audio, mut expected_text) = (0, 0);
    for turn_index in 0..TURNS {
        if turn_index > 0 {
            send(&mut ws, &audio_message(&answer)).await;
            audio_sent += answer_length;
        }
        let turn = read_turn(&mut ws).await;
        // The context this turn's prompt holds: every input so far, and
        // everything the model said before it.
        let context_now_audio = heard(audio_sent) + context_audio;
        assert_eq!(
            turn.tokens("promptTokensDetails", "AUDIO"),
            context_now_audio,
            "turn {turn_index}"
        );
        assert_eq!(
            turn.tokens("promptTokensDetails", "TEXT"),
            context_text,
            "turn {turn_index}"
        );
        expected_audio += context_now_audio;
        expected_text += context_text;
        context_audio += spoken(Duration::from_secs_f64(turn.audio_seconds()));
        // Text parts the model wrote (none in an audio session; transcripts
        // of its speech are not part of the billed text context).
        context_text += text_tokens(&turn.text);
    }
    let usage = mock.usage();
    assert_eq!(usage.live_turns, TURNS as u64);
    assert_eq!(usage.tokens.audio_tokens_in, expected_audio);
    assert_eq!(usage.tokens.text_tokens_in, expected_text);
    // The session's turn log carries the same figures and the clock.
    let session = &mock.sessions()[0];
    let last = session.turns.last().unwrap();
    assert_eq!(last.audio_in_ms, 4000 * (TURNS as u64 - 1));
    assert!(last.output_audio_tokens > 0);
    let logged: u64 = session.turns.iter().map(|t| t.prompt_audio_tokens).sum();
    assert_eq!(logged, expected_audio);
    assert!(
        last.prompt_audio_tokens > expected_audio / TURNS as u64,
        "the context grows: the last prompt is above the mean"
    );
    mock.stop().await;
}

/// With `contextWindowCompression`, a turn whose context passes the
/// trigger first drops the oldest turns down to the target: the prompts
/// saw-tooth instead of growing, and the session bills less.
#[tokio::test]
async fn a_sliding_window_bounds_the_context_and_the_bill() {
    const TURNS: usize = 8;
    let mock = start_vertex(50.0).await;
    mock.register_transcript(Duration::from_millis(2000), "I live in Porto.");
    let mut ws = connect(&mock, "europe-west1").await;
    start_session(
        &mut ws,
        "europe-west1",
        json!({"contextWindowCompression": {"triggerTokens": "600", "slidingWindow": {"targetTokens": 300}}}),
    )
    .await;
    say_text(&mut ws, "Please begin the test.").await;
    let answer = audio(&[(false, 500), (true, 2000), (false, 1500)]);
    let mut prompts = Vec::new();
    let mut uncompressed = 0;
    let mut context = 0;
    let mut audio_sent = Duration::ZERO;
    for turn_index in 0..TURNS {
        if turn_index > 0 {
            send(&mut ws, &audio_message(&answer)).await;
            audio_sent += Duration::from_millis(4000);
        }
        let turn = read_turn(&mut ws).await;
        prompts.push(
            turn.tokens("promptTokensDetails", "AUDIO")
                + turn.tokens("promptTokensDetails", "TEXT"),
        );
        uncompressed += heard(audio_sent) + context + turn.tokens("promptTokensDetails", "TEXT");
        context += spoken(Duration::from_secs_f64(turn.audio_seconds()));
    }
    let session = &mock.sessions()[0];
    let trimmed: Vec<bool> = session.turns.iter().map(|t| t.context_trimmed).collect();
    assert!(trimmed.iter().any(|t| *t), "{prompts:?}");
    for (index, was_trimmed) in trimmed.iter().enumerate() {
        if *was_trimmed {
            assert!(
                prompts[index] < prompts[index - 1],
                "turn {index}: {prompts:?}"
            );
        }
    }
    let billed = mock.usage().tokens.audio_tokens_in + mock.usage().tokens.text_tokens_in;
    assert_eq!(billed, prompts.iter().sum::<u64>());
    assert!(
        billed < uncompressed,
        "{billed} vs {uncompressed} without compression"
    );
    mock.stop().await;
}

#[tokio::test]
async fn snake_case_clients_and_the_older_media_chunks_form_work() {
    let mock = start_vertex(50.0).await;
    mock.register_transcript(Duration::from_millis(1500), "I live in Lisbon.");
    let mut ws = connect_with(&mock, "us-central1", Some(&token(&mock)))
        .await
        .unwrap();
    let setup = json!({"setup": {
        "model": model_path("us-central1"),
        "generation_config": {"response_modalities": ["AUDIO"]},
        "system_instruction": {"parts": [{"text": SYSTEM}]},
        "input_audio_transcription": {},
        "output_audio_transcription": {},
        "realtime_input_config": {"automatic_activity_detection": {"silence_duration_ms": 500}},
    }});
    send(&mut ws, &setup).await;
    assert_eq!(receive_json(&mut ws).await, json!({"setupComplete": {}}));
    send(
        &mut ws,
        &json!({"client_content": {"turns": [{"role": "user", "parts": [{"text": "Start."}]}], "turn_complete": true}}),
    )
    .await;
    assert_eq!(read_turn(&mut ws).await.transcript, SCRIPT[0].text);

    let samples = audio(&[(true, 1500), (false, 700)]);
    for chunk in samples.chunks(16 * 100) {
        let data = base64_pcm(chunk);
        send(
            &mut ws,
            &json!({"realtime_input": {"media_chunks": [{"mime_type": "audio/pcm", "data": data}]}}),
        )
        .await;
    }
    let turn = read_turn(&mut ws).await;
    assert_eq!(turn.input, vec![("I live in Lisbon.".to_owned(), true)]);
    assert_eq!(turn.transcript, SCRIPT[1].text);

    send(
        &mut ws,
        &json!({"realtime_input": {"text": "An apartment."}}),
    )
    .await;
    let typed = read_turn(&mut ws).await;
    assert!(typed.input.is_empty());
    assert_eq!(typed.transcript, SCRIPT[2].text);
    mock.stop().await;
}

fn base64_pcm(samples: &[i16]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(mocks::speech::pcm16_to_bytes(samples))
}

#[tokio::test]
async fn text_sessions_get_text_parts() {
    let mock = start_vertex(50.0).await;
    let mut ws = connect(&mock, "us-central1").await;
    start_session(
        &mut ws,
        "us-central1",
        json!({"generationConfig": {"responseModalities": ["TEXT"]}}),
    )
    .await;
    say_text(&mut ws, "Begin.").await;
    let turn = read_turn(&mut ws).await;
    assert_eq!(turn.text, SCRIPT[0].text);
    assert_eq!(turn.audio_bytes, 0);
    assert_eq!(
        turn.tokens("candidatesTokensDetails", "TEXT"),
        text_tokens(SCRIPT[0].text)
    );
    mock.stop().await;
}

#[tokio::test]
async fn manual_activity_and_audio_stream_end_delimit_turns() {
    let mock = start_vertex(50.0).await;
    mock.register_transcript(Duration::from_millis(2000), "Ana Silva.");
    let mut ws = connect(&mock, "us-central1").await;
    let manual = json!({"realtimeInputConfig": {"automaticActivityDetection": {"disabled": true}}});
    start_session(&mut ws, "us-central1", manual).await;
    send(&mut ws, &json!({"realtimeInput": {"activityStart": {}}})).await;
    // Long pauses inside an activity do not end the turn: only activityEnd does.
    let samples = audio(&[(true, 1000), (false, 2000), (true, 1000)]);
    stream_audio(&mut ws, &samples, 200).await;
    send(&mut ws, &json!({"realtimeInput": {"activityEnd": {}}})).await;
    let turn = read_turn(&mut ws).await;
    assert_eq!(turn.input, vec![("Ana Silva.".to_owned(), true)]);
    assert_eq!(turn.transcript, SCRIPT[0].text);

    let mut automatic = connect(&mock, "us-central1").await;
    start_session(&mut automatic, "us-central1", json!({})).await;
    send(&mut automatic, &audio_message(&speech_pcm(2000))).await;
    send(
        &mut automatic,
        &json!({"realtimeInput": {"audioStreamEnd": true}}),
    )
    .await;
    let turn = read_turn(&mut automatic).await;
    assert_eq!(turn.input, vec![("Ana Silva.".to_owned(), true)]);
    send(
        &mut automatic,
        &json!({"realtimeInput": {"activityStart": {}}}),
    )
    .await;
    let (code, reason, _) = receive_close(&mut automatic).await;
    assert_eq!(code, 1007, "{reason}");
    mock.stop().await;
}

#[tokio::test]
async fn speech_during_a_model_turn_interrupts_it() {
    // Time scale 1: model audio is paced in real time, so there is time to barge in.
    let mock = start_vertex(1.0).await;
    mock.register_transcript(Duration::from_millis(1000), "Sorry, could you repeat?");
    let mut ws = connect(&mock, "us-central1").await;
    start_session(&mut ws, "us-central1", json!({})).await;
    say_text(&mut ws, "Begin.").await;
    loop {
        let message = receive_json(&mut ws).await;
        if message["serverContent"]["modelTurn"].is_object() {
            break;
        }
    }
    send(
        &mut ws,
        &audio_message(&audio(&[(true, 1000), (false, 1000)])),
    )
    .await;
    let cut = read_turn(&mut ws).await;
    assert!(cut.interrupted, "{:?}", cut.messages);
    assert!(!cut.generation_complete);
    let interrupted_at = cut
        .messages
        .iter()
        .position(|m| m == &json!({"serverContent": {"interrupted": true}}))
        .unwrap();
    assert_eq!(
        interrupted_at,
        cut.messages.len() - 2,
        "interrupted, then turnComplete"
    );
    assert!(
        cut.tokens("candidatesTokensDetails", "AUDIO")
            < spoken(mocks::speech::speaking_time(SCRIPT[0].text))
    );
    let next = receive_json(&mut ws).await;
    assert_eq!(
        next,
        json!({"serverContent": {"inputTranscription": {"text": "Sorry, could you repeat?", "finished": true}}})
    );
    let session = &mock.sessions()[0];
    let examiner = session
        .transcript
        .iter()
        .find(|line| line.speaker == Speaker::Examiner)
        .unwrap();
    assert!(examiner.interrupted);
    mock.stop().await;
}

#[tokio::test]
async fn a_turn_cut_short_by_the_client_leaving_is_billed_for_what_it_produced() {
    // Time scale 1: the greeting's audio is still streaming when the client goes.
    let mock = start_vertex(1.0).await;
    let mut ws = connect(&mock, "us-central1").await;
    start_session(&mut ws, "us-central1", json!({})).await;
    say_text(&mut ws, "Begin.").await;
    loop {
        let message = receive_json(&mut ws).await;
        if message["serverContent"]["modelTurn"].is_object() {
            break;
        }
    }
    ws.close(None).await.unwrap();
    let billed = || mock.usage();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while billed().live_turns == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let usage = billed();
    assert_eq!(usage.live_turns, 1);
    assert!(usage.tokens.audio_tokens_out > 0, "{usage:?}");
    assert!(
        usage.tokens.audio_tokens_out < spoken(mocks::speech::speaking_time(SCRIPT[0].text)),
        "only what was sent"
    );
    assert!(usage.tokens.text_tokens_in > 0, "the prompt was read");
    let examiner = &mock.sessions()[0].transcript[1];
    assert!(examiner.interrupted, "{examiner:?}");
    mock.stop().await;
}

#[tokio::test]
async fn bad_expired_or_missing_tokens_get_401() {
    let mock = start_vertex(1.0).await;
    let key = Key::from_json(&mock.service_account_json());
    let stranger = mocks::vertex::auth::ServiceAccount::generate(PROJECT).unwrap();
    let forged = Key {
        pem: stranger.private_key_pem().to_owned(),
        ..key.clone()
    };
    let now = now();
    let cases = [
        ("missing", None),
        ("garbage", Some("not-a-jwt".to_owned())),
        ("forged", Some(forged.token())),
        ("expired", Some(key.sign(now - 7200, now - 3600))),
    ];
    for (case, bearer) in cases {
        let refused = connect_with(&mock, "us-central1", bearer.as_deref()).await;
        let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = refused else {
            panic!("{case}: expected an HTTP refusal, got {refused:?}");
        };
        assert_eq!(response.status(), 401, "{case}");
        let body = json_of(&String::from_utf8(response.body().clone().unwrap()).unwrap());
        assert_eq!(body["error"]["code"], 401, "{case}");
        assert_eq!(body["error"]["status"], "UNAUTHENTICATED", "{case}");
    }
    let expired = connect_with(
        &mock,
        "us-central1",
        Some(&key.sign(now - 7200, now - 3600)),
    )
    .await;
    let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = expired else {
        panic!()
    };
    let body = json_of(&String::from_utf8(response.body().clone().unwrap()).unwrap());
    assert_eq!(
        body["error"]["details"][0]["reason"],
        "ACCESS_TOKEN_EXPIRED"
    );
    assert!(
        connect_with(&mock, "us-central1", Some(&key.token()))
            .await
            .is_ok()
    );
    assert!(mock.sessions().is_empty());
    mock.stop().await;
}

#[tokio::test]
async fn invalid_setups_and_messages_close_with_1007() {
    let mock = start_vertex(1.0).await;

    let mut ws = connect(&mock, "us-central1").await;
    send(&mut ws, &setup_message("europe-west1", json!({}))).await;
    let (code, reason, _) = receive_close(&mut ws).await;
    assert_eq!(code, 1007);
    assert!(reason.contains("europe-west1"), "{reason}");

    let mut ws = connect(&mock, "us-central1").await;
    send(&mut ws, &audio_message(&silence_pcm(100))).await;
    let (code, reason, _) = receive_close(&mut ws).await;
    assert_eq!(code, 1007);
    assert!(reason.contains("setup"), "{reason}");

    let invalid_messages = [
        json!({"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": "***"}}}),
        json!({"hello": {}}),
        json!({"realtimeInput": {"audo": {}}}),
        json!({"setup": {"model": model_path("us-central1")}}),
    ];
    for invalid in invalid_messages {
        let mut ws = connect(&mock, "us-central1").await;
        start_session(&mut ws, "us-central1", json!({})).await;
        send(&mut ws, &invalid).await;
        let (code, reason, _) = receive_close(&mut ws).await;
        assert_eq!(code, 1007, "{invalid}: {reason}");
    }

    let mut ws = connect(&mock, "us-central1").await;
    let mut setup = setup_message("us-central1", json!({}));
    setup["setup"]["model"] = json!(format!(
        "projects/{PROJECT}/locations/us-central1/publishers/google/models/gemini-9"
    ));
    send(&mut ws, &setup).await;
    assert_eq!(receive_close(&mut ws).await.0, 1008, "unknown model");

    // A Live model Vertex has withdrawn: the setup is closed with 1007, as
    // Vertex closed it from 2026-08-27.
    let retired = "gemini-live-2.5-flash-preview-native-audio-09-2025";
    let mut ws = connect(&mock, "us-central1").await;
    let mut setup = setup_message("us-central1", json!({}));
    setup["setup"]["model"] = json!(format!(
        "projects/{PROJECT}/locations/us-central1/publishers/google/models/{retired}"
    ));
    send(&mut ws, &setup).await;
    let (code, reason, _) = receive_close(&mut ws).await;
    assert_eq!(
        (code, reason.as_str()),
        (
            1007,
            format!("{retired} is not supported in the live api.").as_str()
        )
    );
    mock.stop().await;
}

#[tokio::test]
async fn v1beta1_path_pings_and_client_close_are_handled() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let mock = start_vertex(1.0).await;
    let url = live_url(&mock, "europe-west4").replace(".v1.", ".v1beta1.");
    let mut request = url.into_client_request().unwrap();
    let bearer = format!("Bearer {}", token(&mock));
    request
        .headers_mut()
        .insert("authorization", bearer.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    start_session(&mut ws, "europe-west4", json!({})).await;
    // A keep-alive ping is answered even while the mock has nothing to say.
    ws.send(Message::Ping(b"keepalive".to_vec().into()))
        .await
        .unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(pong, Message::Pong(b"keepalive".to_vec().into()));
    ws.close(None).await.unwrap();
    while ws.next().await.is_some() {}
    let session = &mock.sessions()[0];
    assert_eq!(session.region, "europe-west4");
    assert!(!session.connected);
    assert!(!session.last_close.as_ref().unwrap().by_server);

    let unknown_service =
        "/regions/europe-west4/ws/google.cloud.aiplatform.v1.PredictionService/BidiGenerateContent";
    let (status, body) = http(&mock.base_url(), "GET", unknown_service, &[], "").await;
    assert_eq!(json_of(&body)["error"]["status"], "NOT_FOUND");
    assert_eq!(status, 404);
    mock.stop().await;
}

#[tokio::test]
async fn the_time_scale_must_be_at_least_one() {
    let refused = mocks::vertex::VertexMock::start(mocks::vertex::VertexConfig {
        time_scale: 0.5,
        ..Default::default()
    })
    .await;
    assert_eq!(
        refused.unwrap_err().kind(),
        std::io::ErrorKind::InvalidInput
    );
}

#[tokio::test]
async fn another_input_rate_is_honoured_for_timing_and_tokens() {
    use base64::Engine as _;

    let mock = start_vertex(50.0).await;
    mock.register_transcript(Duration::from_millis(2000), "Twenty-four kilohertz.");
    let mut ws = connect(&mock, "us-central1").await;
    start_session(&mut ws, "us-central1", json!({})).await;
    // 2 s of speech and 1 s of silence at 24 kHz: 3 s of audio, counted by duration.
    let mut samples = mocks::speech::synthesize(&"word ".repeat(40), 24_000)[..48_000].to_vec();
    samples.extend(mocks::speech::silence(Duration::from_secs(1), 24_000));
    let data =
        base64::engine::general_purpose::STANDARD.encode(mocks::speech::pcm16_to_bytes(&samples));
    send(
        &mut ws,
        &json!({"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=24000", "data": data}}}),
    )
    .await;
    let turn = read_turn(&mut ws).await;
    assert_eq!(
        turn.input,
        vec![("Twenty-four kilohertz.".to_owned(), true)]
    );
    assert_eq!(
        turn.tokens("promptTokensDetails", "AUDIO"),
        heard(Duration::from_secs(3))
    );
    mock.stop().await;
}
