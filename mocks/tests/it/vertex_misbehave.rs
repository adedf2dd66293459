//! The `misbehave` fault over real sockets: each deliberate mistake of the
//! examiner shows up in what the client receives and in the session's
//! conversation log (`GET /_mock/vertex/sessions`), once per session.

use std::time::Duration;

use crate::common::*;
use mocks::vertex::script::{SCRIPT, closing_line};
use mocks::vertex::{FaultRule, Misbehaviour, VertexFault, VertexMock};
use serde_json::json;

const REGION: &str = "us-central1";

fn misbehave(mock: &VertexMock, how: Misbehaviour, at_turn: u32) {
    mock.set_fault(FaultRule::next(VertexFault::Misbehave { how, at_turn }));
}

/// The script lines of the session's logged turns.
fn logged_lines(mock: &VertexMock) -> Vec<usize> {
    mock.sessions()[0]
        .turns
        .iter()
        .map(|t| t.line.expect("a script line"))
        .collect()
}

/// Sends `answers` typed turns (the first one starts the test) and reads one
/// turn for each; returns the transcripts read.
async fn typed_turns(ws: &mut Ws, answers: usize) -> Vec<String> {
    let mut said = Vec::new();
    for _ in 0..answers {
        say_text(ws, "An answer.").await;
        said.push(read_turn(ws).await.transcript);
    }
    said
}

#[tokio::test]
async fn answer_twice_through_the_control_api() {
    let mock = start_vertex(50.0).await;
    let (status, _) = http(
        &mock.base_url(),
        "POST",
        "/_mock/vertex/faults",
        &[],
        &json!({"kind": "misbehave", "how": "answer_twice"}).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    let mut ws = connect(&mock, REGION).await;
    start_session(&mut ws, REGION, json!({})).await;
    assert_eq!(
        typed_turns(&mut ws, 2).await,
        [SCRIPT[0].text, SCRIPT[1].text]
    );
    // A second turn at once, with no user turn between.
    assert_eq!(read_turn(&mut ws).await.transcript, SCRIPT[2].text);
    assert_eq!(typed_turns(&mut ws, 1).await, [SCRIPT[3].text]);
    let session = &mock.sessions()[0];
    let answered: Vec<u32> = session.turns.iter().map(|t| t.answers_user_turn).collect();
    assert_eq!(answered, [1, 2, 2, 3]);
    mock.stop().await;
}

#[tokio::test]
async fn repeat_turn_sends_the_same_turn_again() {
    let mock = start_vertex(50.0).await;
    misbehave(&mock, Misbehaviour::RepeatTurn, 1);
    let mut ws = connect(&mock, REGION).await;
    start_session(&mut ws, REGION, json!({})).await;
    typed_turns(&mut ws, 2).await;
    let first = read_turn(&mut ws).await;
    assert_eq!(first.transcript, SCRIPT[1].text);
    assert!(first.audio_bytes > 0);
    typed_turns(&mut ws, 1).await;
    assert_eq!(logged_lines(&mock), [0, 1, 1, 2]);
    mock.stop().await;
}

#[tokio::test]
async fn skip_part_stale_turn_and_early_closing_change_the_lines() {
    let mock = start_vertex(100.0).await;
    let cases = [
        (
            Misbehaviour::SkipPart,
            1,
            12,
            vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13],
        ),
        (Misbehaviour::StaleTurn, 2, 4, vec![0, 1, 1, 2]),
        (
            Misbehaviour::EarlyClosing,
            2,
            4,
            vec![0, 1, closing_line(), 2],
        ),
    ];
    for (session, (how, at_turn, answers, lines)) in cases.into_iter().enumerate() {
        misbehave(&mock, how, at_turn);
        let mut ws = connect(&mock, REGION).await;
        start_session(&mut ws, REGION, json!({})).await;
        let said = typed_turns(&mut ws, answers).await;
        let expected: Vec<&str> = lines.iter().map(|l| SCRIPT[*l].text).collect();
        assert_eq!(said, expected, "{how:?}");
        let logged: Vec<usize> = mock.sessions()[session]
            .turns
            .iter()
            .map(|t| t.line.unwrap())
            .collect();
        assert_eq!(logged, lines, "{how:?}");
    }
    mock.stop().await;
}

#[tokio::test]
async fn speak_over_starts_the_reply_at_the_speech_start_then_behaves() {
    let mock = start_vertex(20.0).await;
    mock.register_transcript(Duration::from_millis(2000), "My name is Ana.");
    misbehave(&mock, Misbehaviour::SpeakOver, 1);
    let mut ws = connect(&mock, REGION).await;
    start_session(&mut ws, REGION, json!({})).await;
    typed_turns(&mut ws, 1).await;
    stream_audio(&mut ws, &audio(&[(true, 2000), (false, 1000)]), 100).await;
    let turn = read_turn(&mut ws).await;
    assert_eq!(turn.transcript, SCRIPT[1].text);
    assert!(!turn.interrupted, "her own speech does not stop her");
    let first_model = turn
        .messages
        .iter()
        .position(|m| m["serverContent"].get("modelTurn").is_some())
        .unwrap();
    let recognised = turn
        .messages
        .iter()
        .position(|m| m["serverContent"].get("inputTranscription").is_some())
        .expect("the utterance is transcribed during her turn");
    assert!(
        first_model < recognised,
        "she spoke before the candidate finished"
    );
    // That utterance gets no second reply; the next one is answered normally.
    say_text(&mut ws, "Next.").await;
    assert_eq!(read_turn(&mut ws).await.transcript, SCRIPT[2].text);
    let session = &mock.sessions()[0];
    let answered: Vec<u32> = session.turns.iter().map(|t| t.answers_user_turn).collect();
    assert_eq!(
        answered,
        [1, 1, 3],
        "turn 1 began before user turn 2 completed"
    );
    assert_eq!(session.user_turns, 3);
    mock.stop().await;
}
