//! Session-level behaviour over real sockets: the time limit with `goAway`
//! under a time scale, resumption continuing the script, every fault (through
//! the Rust API and the control API), and the examiner script with the
//! Part 2 long-turn rule.

use std::time::{Duration, Instant};

use crate::common::*;
use mocks::vertex::script::SCRIPT;
use mocks::vertex::{ExaminerPart, FaultRule, FaultScope, VertexConfig, VertexFault};
use serde_json::json;

#[tokio::test]
async fn go_away_then_1011_at_the_limit_and_resumption_continues() {
    // The default 10 minutes at scale 120: a 5 s session, goAway 0.5 s before the end.
    let mock = start_vertex_with(VertexConfig {
        time_scale: 120.0,
        project: PROJECT.into(),
        ..VertexConfig::default()
    })
    .await;
    assert_eq!(
        VertexConfig::default().session_limit,
        Duration::from_secs(600)
    );
    mock.register_transcript(Duration::from_millis(2000), "Ana Silva.");
    let mut ws = connect(&mock, "us-central1").await;
    start_session(&mut ws, "us-central1", json!({"sessionResumption": {}})).await;
    say_text(&mut ws, "Begin.").await;
    assert_eq!(read_turn(&mut ws).await.transcript, SCRIPT[0].text);
    let update = receive_json(&mut ws).await;
    assert_eq!(update["sessionResumptionUpdate"]["resumable"], true);
    let handle = update["sessionResumptionUpdate"]["newHandle"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        receive_json(&mut ws).await,
        json!({"goAway": {"timeLeft": "0.500s"}})
    );
    let (code, _, _) = receive_close(&mut ws).await;
    assert_eq!(code, 1011);
    let ended = &mock.sessions()[0];
    assert!(!ended.connected);
    assert_eq!(ended.last_close.as_ref().unwrap().code, 1011);

    let mut resumed = connect(&mock, "us-central1").await;
    start_session(
        &mut resumed,
        "us-central1",
        json!({"sessionResumption": {"handle": handle}}),
    )
    .await;
    send(
        &mut resumed,
        &audio_message(&audio(&[(true, 2000), (false, 1000)])),
    )
    .await;
    let turn = read_turn(&mut resumed).await;
    assert_eq!(turn.input, vec![("Ana Silva.".to_owned(), true)]);
    assert_eq!(turn.transcript, SCRIPT[1].text, "the script continues");
    let sessions = mock.sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!((sessions[0].connections, sessions[0].resumed), (2, 1));
    assert_eq!(sessions[0].model_turns, 2);
    let lines: Vec<Option<usize>> = sessions[0].turns.iter().map(|t| t.line).collect();
    assert_eq!(
        lines,
        vec![Some(0), Some(1)],
        "the log spans both connections"
    );
    assert_eq!(mock.usage().sessions, 1);

    let mut unknown = connect(&mock, "us-central1").await;
    send(
        &mut unknown,
        &setup_message(
            "us-central1",
            json!({"sessionResumption": {"handle": "nope"}}),
        ),
    )
    .await;
    assert_eq!(receive_close(&mut unknown).await.0, 1007);
    mock.stop().await;
}

#[tokio::test]
async fn reject_auth_is_scoped_to_a_region_and_used_once() {
    let mock = start_vertex(1.0).await;
    mock.set_fault(FaultRule::next(VertexFault::RejectAuth).in_region("asia-southeast1"));
    connect_with(&mock, "europe-west1", Some(&token(&mock)))
        .await
        .expect("other regions are not affected");
    let refused = connect_with(&mock, "asia-southeast1", Some(&token(&mock))).await;
    assert!(
        matches!(&refused, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 401),
        "{refused:?}"
    );
    connect_with(&mock, "asia-southeast1", Some(&token(&mock)))
        .await
        .expect("the fault applied to the next session only");
    mock.stop().await;
}

#[tokio::test]
async fn latency_delays_each_model_turn() {
    // 2 s of scenario latency at scale 4: at least 0.5 s of wall time.
    let mock = start_vertex(4.0).await;
    mock.set_fault(FaultRule::next(VertexFault::Latency { ms: 2000 }));
    let mut ws = connect(&mock, "us-central1").await;
    start_session(&mut ws, "us-central1", json!({})).await;
    let asked = Instant::now();
    say_text(&mut ws, "Begin.").await;
    receive_json(&mut ws).await;
    assert!(
        asked.elapsed() >= Duration::from_millis(500),
        "{:?}",
        asked.elapsed()
    );
    mock.stop().await;
}

#[tokio::test]
async fn drop_socket_closes_tcp_without_a_close_frame() {
    let mock = start_vertex(100.0).await;
    mock.set_fault(FaultRule::next(VertexFault::DropSocket { after_turns: 1 }));
    let mut ws = connect(&mock, "us-central1").await;
    start_session(&mut ws, "us-central1", json!({})).await;
    say_text(&mut ws, "Begin.").await;
    read_turn(&mut ws).await;
    let after = receive(&mut ws).await;
    assert!(matches!(after, Incoming::Dropped(_)), "{after:?}");
    let close = mock.sessions()[0].last_close.clone().unwrap();
    assert_eq!((close.code, close.by_server), (1006, true));
    mock.stop().await;
}

#[tokio::test]
async fn early_go_away_and_close_faults() {
    let mock = start_vertex(1.0).await;
    mock.set_fault(FaultRule::next(VertexFault::EarlyGoAway {
        after_ms: 100,
        time_left_ms: 300,
    }));
    let mut ws = connect(&mock, "us-central1").await;
    start_session(&mut ws, "us-central1", json!({})).await;
    let (code, _, before) = receive_close(&mut ws).await;
    assert_eq!(before, vec![json!({"goAway": {"timeLeft": "0.300s"}})]);
    assert_eq!(code, 1011);

    mock.set_fault(FaultRule::all(VertexFault::Close {
        code: 1011,
        reason: "Internal error occurred.".into(),
    }));
    for _ in 0..2 {
        let mut ws = connect(&mock, "us-central1").await;
        start_session(&mut ws, "us-central1", json!({})).await;
        let (code, reason, _) = receive_close(&mut ws).await;
        assert_eq!((code, reason.as_str()), (1011, "Internal error occurred."));
    }
    mock.clear_faults();
    let mut ws = connect(&mock, "us-central1").await;
    start_session(&mut ws, "us-central1", json!({})).await;
    say_text(&mut ws, "Begin.").await;
    assert_eq!(read_turn(&mut ws).await.transcript, SCRIPT[0].text);
    mock.stop().await;
}

#[tokio::test]
async fn the_control_api_sets_faults_registers_transcripts_and_reports() {
    let mock = start_vertex(50.0).await;
    let base = mock.base_url();
    let fault = r#"{"kind": "close", "code": 1008, "reason": "quota", "region": "me-central1"}"#;
    let (status, body) = http(&base, "POST", "/_mock/vertex/faults", &[], fault).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(json_of(&body)[0]["applies_to"], "next");
    let (status, _) = http(
        &base,
        "POST",
        "/_mock/vertex/faults",
        &[],
        "{\"kind\": \"meteor\"}",
    )
    .await;
    assert_eq!(status, 400);
    let mut ws = connect(&mock, "me-central1").await;
    start_session(&mut ws, "me-central1", json!({})).await;
    assert_eq!(receive_close(&mut ws).await.0, 1008);
    http(&base, "POST", "/_mock/vertex/faults", &[], fault).await;
    let (_, body) = http(&base, "DELETE", "/_mock/vertex/faults", &[], "").await;
    assert_eq!(json_of(&body), json!([]));

    let transcripts = r#"[{"speech_ms": 1500, "text": "I am a teacher."}]"#;
    let (status, body) = http(&base, "POST", "/_mock/vertex/transcripts", &[], transcripts).await;
    assert_eq!(
        (status, json_of(&body)["catalog_size"].clone()),
        (200, json!(1))
    );
    let mut ws = connect(&mock, "me-central1").await;
    start_session(&mut ws, "me-central1", json!({})).await;
    send(
        &mut ws,
        &audio_message(&audio(&[(true, 1500), (false, 1000)])),
    )
    .await;
    let turn = read_turn(&mut ws).await;
    assert_eq!(turn.input[0].0, "I am a teacher.");

    let (_, body) = http(&base, "GET", "/_mock/vertex/sessions", &[], "").await;
    let sessions = json_of(&body);
    assert_eq!(sessions.as_array().unwrap().len(), 2);
    assert_eq!(sessions[1]["region"], "me-central1");
    assert_eq!(sessions[1]["part"], "part1");
    assert_eq!(sessions[1]["model_turns"], 1);
    assert_eq!(sessions[1]["script_overruns"], 0);
    let log = &sessions[1]["turns"];
    assert_eq!(log.as_array().unwrap().len(), 1);
    assert_eq!(log[0]["index"], 0);
    assert_eq!(log[0]["line"], 0);
    assert_eq!(log[0]["part"], "part1");
    assert_eq!(log[0]["text"], SCRIPT[0].text);
    assert_eq!(log[0]["interrupted"], false);
    assert_eq!(log[0]["answers_user_turn"], 1);
    assert!(log[0]["prompt_audio_tokens"].as_u64().unwrap() >= 37);
    assert!(log[0]["prompt_text_tokens"].is_u64());
    assert_eq!(sessions[0]["last_close"]["code"], 1008);
    let (_, body) = http(&base, "GET", "/_mock/vertex/usage", &[], "").await;
    let usage = json_of(&body);
    assert_eq!(usage["sessions"], 2);
    assert!(usage["audio_tokens_in"].as_u64().unwrap() >= 63);
    let (status, body) = http(&base, "GET", "/_mock/vertex/service-account", &[], "").await;
    assert_eq!(status, 200);
    assert_eq!(json_of(&body)["type"], "service_account");
    mock.stop().await;
}

/// Sends typed turns until Maya has started line `index`.
async fn advance_to_line(ws: &mut Ws, index: usize, from: usize) {
    for line in &SCRIPT[from..=index] {
        say_text(ws, "Next answer.").await;
        let turn = read_turn(ws).await;
        assert_eq!(turn.transcript, line.text);
    }
}

fn cue_card_index() -> usize {
    SCRIPT
        .iter()
        .position(|line| line.starts_long_turn)
        .unwrap()
}

fn part_of(mock: &mocks::vertex::VertexMock) -> ExaminerPart {
    mock.sessions()[0].part
}

#[tokio::test]
async fn the_script_runs_through_all_parts_with_the_long_turn_rule() {
    let mock = start_vertex(200.0).await;
    for (ms, text) in [
        (8000, "first piece"),
        (45_000, "second piece"),
        (10_000, "third piece"),
    ] {
        mock.register_transcript(Duration::from_millis(ms), text);
    }
    let mut ws = connect(&mock, "us-central1").await;
    start_session(&mut ws, "us-central1", json!({})).await;
    let cue = cue_card_index();
    advance_to_line(&mut ws, cue - 1, 0).await;
    assert_eq!(part_of(&mock), ExaminerPart::Part1);
    advance_to_line(&mut ws, cue, cue).await;
    assert_eq!(part_of(&mock), ExaminerPart::Part2);
    assert!(SCRIPT[cue].text.contains("one minute to prepare"));

    // One minute of preparation (silence), then the long turn with pauses:
    // a 6 s pause after only 8 s of speech and a 2 s pause after 53 s do not
    // end it; the 6 s pause after 63 s of speech does.
    let long_turn = audio(&[
        (false, 60_000),
        (true, 8000),
        (false, 6000),
        (true, 45_000),
        (false, 2000),
        (true, 10_000),
        (false, 6000),
    ]);
    stream_audio(&mut ws, &long_turn, 500).await;
    let turn = read_turn(&mut ws).await;
    assert_eq!(
        turn.input,
        vec![
            ("first piece".to_owned(), false),
            (" second piece".to_owned(), false),
            (" third piece".to_owned(), true),
        ]
    );
    assert_eq!(turn.transcript, SCRIPT[cue + 1].text);
    let session = &mock.sessions()[0];
    let candidate_line = &session.transcript[session.transcript.len() - 2];
    assert_eq!(candidate_line.text, "first piece second piece third piece");

    let closing = SCRIPT.len() - 1;
    advance_to_line(&mut ws, closing - 1, cue + 2).await;
    assert_eq!(part_of(&mock), ExaminerPart::Part3);
    advance_to_line(&mut ws, closing, closing).await;
    assert_eq!(part_of(&mock), ExaminerPart::Closing);
    assert!(
        SCRIPT[closing]
            .text
            .contains("That is the end of the speaking test")
    );
    // A turn after the closing line: no invented line, a clear error, counted.
    say_text(&mut ws, "Thank you!").await;
    let (code, reason, before) = receive_close(&mut ws).await;
    assert_eq!(code, 1011);
    assert_eq!(
        reason,
        format!(
            "mock examiner script exhausted: user turn {} came after the closing line \
             (the script has {} lines)",
            SCRIPT.len() + 1,
            SCRIPT.len()
        )
    );
    assert!(before.is_empty(), "nothing was said: {before:?}");
    let session = &mock.sessions()[0];
    assert_eq!(session.part, ExaminerPart::Closing);
    assert_eq!(session.script_overruns, 1);
    assert_eq!(session.turns.len(), SCRIPT.len());
    assert_eq!(session.last_close.as_ref().unwrap().code, 1011);
    assert_eq!(mock.usage().script_overruns, 1);
    let parts: Vec<ExaminerPart> = session.turns.iter().map(|t| t.part).collect();
    assert_eq!(
        parts,
        SCRIPT.iter().map(|l| l.part).collect::<Vec<_>>(),
        "the log follows the script"
    );
    mock.stop().await;
}

#[tokio::test]
async fn two_minutes_of_speech_end_the_long_turn_without_a_long_pause() {
    let mock = start_vertex(200.0).await;
    let mut ws = connect(&mock, "us-central1").await;
    start_session(&mut ws, "us-central1", json!({})).await;
    let cue = cue_card_index();
    advance_to_line(&mut ws, cue, 0).await;
    let long_turn = audio(&[
        (true, 50_000),
        (false, 1000),
        (true, 50_000),
        (false, 1000),
        (true, 25_000),
        (false, 1000),
    ]);
    stream_audio(&mut ws, &long_turn, 500).await;
    let turn = read_turn(&mut ws).await;
    assert_eq!(turn.input.len(), 3);
    assert_eq!(
        turn.input.iter().filter(|(_, finished)| *finished).count(),
        1
    );
    assert!(turn.input[2].1);
    assert_eq!(turn.transcript, SCRIPT[cue + 1].text);
    mock.stop().await;
}

#[tokio::test]
async fn a_fault_can_apply_to_all_sessions_of_a_region() {
    let mock = start_vertex(50.0).await;
    let rule = FaultRule {
        fault: VertexFault::DropSocket { after_turns: 1 },
        region: Some("europe-west1".into()),
        applies_to: FaultScope::All,
    };
    mock.set_fault(rule);
    for region in ["europe-west1", "europe-west1", "us-central1"] {
        let mut ws = connect(&mock, region).await;
        start_session(&mut ws, region, json!({})).await;
        say_text(&mut ws, "Begin.").await;
        read_turn(&mut ws).await;
        say_text(&mut ws, "Next.").await;
        let next = receive(&mut ws).await;
        let dropped = matches!(next, Incoming::Dropped(_));
        assert_eq!(dropped, region == "europe-west1", "{region}: {next:?}");
    }
    mock.stop().await;
}

#[tokio::test]
async fn audio_past_the_session_limit_ends_only_a_session_without_compression() {
    assert_eq!(
        VertexConfig::default().audio_session_limit,
        Duration::from_secs(15 * 60),
        "Vertex: audio-only sessions last 15 minutes without compression"
    );
    let mock = start_vertex_with(VertexConfig {
        time_scale: 50.0,
        project: PROJECT.into(),
        session_limit: Duration::from_secs(24 * 3600),
        audio_session_limit: Duration::from_secs(6),
        ..VertexConfig::default()
    })
    .await;
    // Without compression: 4 s of audio pass, the next 4 s cross the limit.
    let mut ws = connect(&mock, "europe-west1").await;
    start_session(&mut ws, "europe-west1", json!({})).await;
    send(&mut ws, &audio_message(&silence_pcm(4000))).await;
    send(&mut ws, &audio_message(&silence_pcm(4000))).await;
    let (code, reason, _) = receive_close(&mut ws).await;
    assert_eq!(code, 1011, "{reason}");
    assert!(
        reason.contains("audio limit (6 s)") && reason.contains("contextWindowCompression"),
        "{reason}"
    );

    // With a sliding window the same audio, and more, goes on to a turn.
    let mut ws = connect(&mock, "europe-west1").await;
    start_session(
        &mut ws,
        "europe-west1",
        json!({"contextWindowCompression": {"slidingWindow": {}}}),
    )
    .await;
    for _ in 0..4 {
        send(&mut ws, &audio_message(&silence_pcm(4000))).await;
    }
    say_text(&mut ws, "Please begin the test.").await;
    let turn = read_turn(&mut ws).await;
    assert_eq!(turn.transcript, SCRIPT[0].text);
    mock.stop().await;
}
