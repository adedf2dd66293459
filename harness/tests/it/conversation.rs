//! The judgement judged: the conversation checks pass a conversation that
//! goes as the scenario says, and each way a model or backend can misbehave
//! fails the session with the check named for it. The model misbehaves
//! through the Vertex mock's `misbehave` fault; the backend sending the
//! assessment before it was asked for is played by a small fake target. The
//! old full assessment is judged in `assessment_regression`.

use std::collections::BTreeSet;
use std::path::Path;

use crate::support::*;
use futures_util::{SinkExt, StreamExt};
use harness::replay::{Run, RunOptions, Target};
use harness::report::model::ScenarioReport;
use harness::scenario::{self, LoadedScenario};
use harness::time_scale::TimeScale;
use mocks::vertex::faults::{FaultRule, FaultScope, Misbehaviour, VertexFault};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

pub(crate) const SCALE: f64 = 12.0;

pub(crate) fn load(relative: &str) -> LoadedScenario {
    scenario::load(&workspace().join("scenarios").join(relative)).unwrap()
}

pub(crate) fn run_options(target: Target) -> RunOptions {
    RunOptions {
        target,
        time_scale: TimeScale::new(SCALE).unwrap(),
        sessions: None,
        spec_dir: workspace().join("backend/spec"),
        command: "cargo test -p harness --test it conversation::".to_owned(),
        progress: false,
    }
}

/// The conversation checks a session failed (`conversation.N`).
pub(crate) fn failed_checks(report: &ScenarioReport) -> BTreeSet<String> {
    report.sessions[0]
        .failures
        .iter()
        .filter_map(|f| f.check.split(' ').next())
        .filter(|id| id.starts_with("conversation."))
        .map(str::to_owned)
        .collect()
}

fn misbehave(how: Misbehaviour, at_turn: u32) -> FaultRule {
    FaultRule {
        fault: VertexFault::Misbehave { how, at_turn },
        region: None,
        applies_to: FaultScope::Next,
    }
}

#[tokio::test]
async fn every_misbehaviour_is_caught_by_its_named_check() {
    let _serial = MACHINE_SATURATING.lock().await;
    let opening = load("conversation/part1-opening.yaml");
    let clips = [(opening.path.as_path(), &opening.clips)];
    let run = Run::start(
        run_options(Target::Local(Box::new(options(SCALE)))),
        &opening.scenario.parameters,
        &clips,
    )
    .await
    .unwrap();
    let vertex = &run.stack().unwrap().mocks().vertex;

    // As it should go: every check holds, every turn in its part.
    let good = run.scenario(&opening).await.unwrap();
    let session = &good.sessions[0];
    assert!(good.passed, "{:#?}", session.failures);
    let conversation = session.conversation.as_ref().unwrap();
    assert_eq!(conversation.turns.len(), 4, "{conversation:#?}");
    assert_eq!(conversation.utterances.len(), 3);
    assert!(conversation.checks.iter().all(|c| c.passed));
    assert!(
        conversation
            .turns
            .iter()
            .all(|t| t.part.as_deref() == Some("part1"))
    );
    assert!(conversation.turns[1].text.contains("identification"));
    assert_eq!(conversation.turns[1].follows_utterance, Some(0));
    assert!(conversation.turns[1].latency_ms.is_some());

    // Each misbehaviour, and the check that must catch it. Maya speaks over
    // the 22 s hometown answer (turn 2), not the 3.8 s name (turn 1): at 12x
    // the name's speech lasts under 300 ms of wall time, less than a loaded
    // machine can take to carry her first frame through the stack, so she
    // would be heard only after the candidate stopped (a CI run saw exactly
    // that). The hometown answer leaves well over a second.
    let cases = [
        (Misbehaviour::AnswerTwice, 1, "conversation.2"),
        (Misbehaviour::SkipPart, 0, "conversation.4"),
        (Misbehaviour::SpeakOver, 2, "conversation.1"),
        (Misbehaviour::RepeatTurn, 1, "conversation.3"),
        (Misbehaviour::StaleTurn, 2, "conversation.3"),
        (Misbehaviour::EarlyClosing, 1, "conversation.5"),
    ];
    let mut caught = Vec::new();
    for (how, at_turn, check) in cases {
        vertex.set_fault(misbehave(how, at_turn));
        let report = run.scenario(&opening).await.unwrap();
        let failed = failed_checks(&report);
        assert!(!report.passed, "{how:?} passed");
        assert!(
            failed.contains(check),
            "{how:?} was not caught by {check}: {failed:?}\n{:#?}",
            report.sessions[0].failures
        );
        caught.push(format!("{how:?}: {failed:?}"));
    }
    run.finish(Vec::new(), Vec::new()).await;
    println!("{}", caught.join("\n"));
}

/// A fake speaking backend that sends the assessment before `end_speaking`.
async fn eager_backend() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut socket = tokio_tungstenite::accept_async(stream).await.unwrap();
                while let Some(Ok(Message::Text(text))) = socket.next().await {
                    let value: Value = serde_json::from_str(&text).unwrap_or_default();
                    if value["action"] != "start_speaking" {
                        continue;
                    }
                    let audio = "AAAA".repeat(2_000);
                    for message in [
                        json!({"type": "session_ready", "region": "europe-west1"}),
                        json!({"type": "maya_transcript", "text": "Good morning. Could you tell me your full name, please?"}),
                        json!({"type": "maya_audio", "audio": audio, "format": {"encoding": "pcm_s16le", "sample_rate": 24000, "channels": 1}}),
                        json!({"type": "maya_turn_complete", "interrupted": false}),
                        json!({"type": "assessment_complete", "assessment": {"overall_band": 6.5}}),
                    ] {
                        let _ = socket.send(Message::text(message.to_string())).await;
                    }
                }
            });
        }
    });
    url
}

#[tokio::test]
async fn an_assessment_before_end_speaking_is_caught_by_conversation_6() {
    let text = r#"
name: eager-assessment
api: SpeakingWebSocketApi
steps:
  - connect: {}
  - send: {message: {action: start_speaking, user_id: u, country_code: GB}}
  - expect: {type: session_ready, within: 5s}
  - expect_turn: {says: "full name", within: 5s}
  - send: {message: {action: end_speaking}}
  # Even a scenario that accepts the early message is judged.
  - expect: {type: assessment_complete, within: 5s, reach_back: true}
"#;
    let eager = LoadedScenario {
        path: Path::new("eager.yaml").to_path_buf(),
        scenario: scenario::parse(text).unwrap(),
        clips: Default::default(),
        warnings: Vec::new(),
    };
    let url = eager_backend().await;
    let run = Run::start(run_options(Target::Url(url)), &Default::default(), &[])
        .await
        .unwrap();
    let report = run.scenario(&eager).await.unwrap();
    assert!(
        failed_checks(&report).contains("conversation.6"),
        "{:#?}",
        report.sessions[0].failures
    );
    // Without reach_back the expectation itself refuses the leftover.
    let strict = LoadedScenario {
        scenario: scenario::parse(&text.replace(", reach_back: true", "")).unwrap(),
        ..eager
    };
    let report = run.scenario(&strict).await.unwrap();
    let expectation = report.sessions[0]
        .failures
        .iter()
        .find(|f| f.check == "expectation")
        .expect("the expectation failed");
    assert!(
        expectation.message.contains("leftover"),
        "{}",
        expectation.message
    );
}
