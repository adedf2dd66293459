//! The acceptance test of a deliberately wrong target: a small speaking
//! server (tokio-tungstenite, here) that sends a message whose field has the
//! wrong type, sends a message type the contract does not know, or closes
//! early. Each is replayed through `harness::replay` against `--target
//! ws://127.0.0.1:PORT` with the speaking contract, and must come out FAIL
//! with received against expected, the instance and schema paths, the wire
//! transcript and a command that reproduces it; that command, run with the
//! `harness` binary, does reproduce it, and `--quiet` prints only the verdict
//! line. A well-behaved mode of the same server passes, so the failures are
//! the server's.

use std::path::{Path, PathBuf};
use std::process::Command;

use futures_util::{SinkExt, StreamExt};
use harness::replay::{self, Run, RunOptions, Target, conformance};
use harness::report::model::{CaseReport, Failure, RunReport};
use harness::time_scale::TimeScale;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const API: &str = "SpeakingWebSocketApi";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The server's answer to `start_speaking`, by mode (`?mode=` or the server's default).
fn answer_start(mode: &str) -> Vec<Message> {
    let ready = json!({"type": "session_ready", "region": "us-central1", "session_id": "s-1"});
    match mode {
        "wrong_field_type" => vec![Message::text(
            json!({"type": "session_ready", "region": 42}).to_string(),
        )],
        "unknown_type" => vec![
            Message::text(ready.to_string()),
            Message::text(json!({"type": "maya_video", "frames": 3}).to_string()),
        ],
        "closes_early" => vec![Message::Close(Some(CloseFrame {
            code: CloseCode::Error,
            reason: "owner crashed".into(),
        }))],
        _ => vec![Message::text(ready.to_string())],
    }
}

// tungstenite's handshake callback returns its (large) error response type.
#[allow(clippy::result_large_err)]
async fn handle(stream: TcpStream, default_mode: &'static str) {
    let mut mode = default_mode.to_owned();
    let read_mode = |request: &Request, response: Response| {
        let query = request.uri().query().unwrap_or_default();
        if let Some(value) = query.split('&').find_map(|pair| pair.strip_prefix("mode=")) {
            mode = percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned();
        }
        Ok(response)
    };
    let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(stream, read_mode).await else {
        return;
    };
    while let Some(Ok(frame)) = socket.next().await {
        let replies = match frame {
            Message::Text(text) => {
                let value: Value = serde_json::from_str(&text).unwrap_or_default();
                match value["action"].as_str() {
                    Some("start_speaking") => answer_start(&mode),
                    Some("audio_chunk") => vec![Message::text(
                        json!({"type": "maya_transcript", "text": "mm-hm"}).to_string(),
                    )],
                    _ => vec![Message::text(
                        json!({"type": "error", "message": "Unknown action"}).to_string(),
                    )],
                }
            }
            // tungstenite answers a close itself; the loop ends when the socket does.
            _ => continue,
        };
        for reply in replies {
            if socket.send(reply).await.is_err() {
                return;
            }
        }
    }
}

/// Starts a wrong server on a free port; its URL.
async fn wrong_server(default_mode: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handle(stream, default_mode));
        }
    });
    url
}

const SUITE: &str = r#"
api: SpeakingWebSocketApi
description: a deliberately wrong speaking server
variables:
  user: wrong-${case}
cases:
  - id: "9.0.1"
    category: Control
    description: the server behaves
    expectation: session_ready, then a clean close
    steps:
      - connect: {query: {mode: behaves}}
      - send: {message: {action: start_speaking, user_id: "${user}", country_code: US}}
      - expect: {type: session_ready, fields: {region: us-central1}, within: 5s}
      - disconnect: {code: 1000}
    close: 1000
  - id: "9.1.1"
    category: Wrong server
    description: session_ready whose region is a number
    expectation: a session_ready that meets the contract
    steps:
      - connect: {query: {mode: wrong_field_type}}
      - send: {message: {action: start_speaking, user_id: "${user}", country_code: US}}
      - expect: {type: session_ready, within: 5s}
      - disconnect: {code: 1000}
    close: 1000
  - id: "9.1.2"
    category: Wrong server
    description: a message type the contract does not define
    expectation: only the contract's messages
    steps:
      - connect: {query: {mode: unknown_type}}
      - send: {message: {action: start_speaking, user_id: "${user}", country_code: US}}
      - expect: {type: session_ready, within: 5s}
      - wait_quiet: {quiet: 300ms}
      - disconnect: {code: 1000}
    close: 1000
  - id: "9.1.3"
    category: Wrong server
    description: the server closes before session_ready
    expectation: session_ready, and the socket open until the client closes it
    steps:
      - connect: {query: {mode: closes_early}}
      - send: {message: {action: start_speaking, user_id: "${user}", country_code: US}}
      - expect: {type: session_ready, within: 5s}
      - disconnect: {code: 1000}
    close: 1000
"#;

const SCENARIO: &str = r#"
name: wrong-region-type
description: start_speaking against a server whose session_ready region is a number
api: SpeakingWebSocketApi
steps:
  - connect: {}
  - send: {message: {action: start_speaking, user_id: wrong, country_code: US}}
  - expect: {type: session_ready, fields: {region: us-central1}, within: 1s}
  - disconnect: {code: 1000}
"#;

fn options(url: &str) -> RunOptions {
    RunOptions {
        target: Target::Url(url.to_owned()),
        time_scale: TimeScale::new(1.0).unwrap(),
        sessions: None,
        spec_dir: workspace().join("backend/spec"),
        command: "cargo test -p harness --test it wrong_target::".to_owned(),
        progress: false,
    }
}

async fn run_suite(url: &str, dir: &Path) -> RunReport {
    let path = dir.join("wrong-speaking-suite.yaml");
    std::fs::write(&path, SUITE).unwrap();
    let loaded = harness::scenario::load_suite(&path).unwrap();
    let clips = [(loaded.path.as_path(), &loaded.clips)];
    let run = Run::start(options(url), &loaded.suite.parameters, &clips)
        .await
        .unwrap();
    let suite = conformance::run_suite(&run, &loaded, None).await.unwrap();
    run.finish(Vec::new(), vec![suite]).await
}

fn case<'a>(report: &'a RunReport, id: &str) -> &'a CaseReport {
    report.suites[0]
        .cases
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("case {id}"))
}

fn failure<'a>(case: &'a CaseReport, check: &str) -> &'a Failure {
    case.session
        .failures
        .iter()
        .find(|f| f.check == check)
        .unwrap_or_else(|| {
            panic!(
                "case {}: no {check} failure in {:#?}",
                case.id, case.session.failures
            )
        })
}

/// The transcript holds the request that went out and, when given, the answer that came in.
fn assert_transcript(failure: &Failure, answer: Option<&str>) {
    let out = failure
        .transcript
        .iter()
        .find(|e| e.direction == "out")
        .expect("the request in the transcript");
    assert!(
        out.text.contains("\"action\":\"start_speaking\""),
        "{out:?}"
    );
    if let Some(answer) = answer {
        assert!(
            failure
                .transcript
                .iter()
                .any(|e| e.direction == "in" && e.text.contains(answer)),
            "{answer} in {:?}",
            failure.transcript
        );
    }
}

fn assert_reproduces(failure: &Failure, id: &str, url: &str, suite: &Path) {
    assert_eq!(
        failure.reproduce,
        format!(
            "harness conform --api {API} --case {id} --suite {} --target {url}",
            suite.display()
        )
    );
}

#[tokio::test]
async fn wrong_field_type_unknown_type_and_early_close_fail_with_every_detail() {
    let url = wrong_server("behaves").await;
    let dir = tempfile::tempdir().unwrap();
    let suite_path = dir.path().join("wrong-speaking-suite.yaml");
    let report = run_suite(&url, dir.path()).await;
    assert!(!report.passed);

    let control = case(&report, "9.0.1");
    assert_eq!(
        (control.verdict.as_str(), control.close_verdict.as_str()),
        ("PASS", "PASS"),
        "{:#?}",
        control.session.failures
    );

    // (a) A field of the wrong type: the payload schema check fails with its paths.
    let wrong_type = case(&report, "9.1.1");
    assert_eq!(wrong_type.verdict, "FAIL");
    let schema = failure(wrong_type, "payload schema");
    assert_eq!(schema.message, "session_ready breaks the contract");
    assert_eq!(
        schema.received,
        Some(json!({"type": "session_ready", "region": 42}))
    );
    assert_eq!(
        schema.expected,
        Some(json!(
            workspace()
                .join("backend/spec/speaking.asyncapi.yaml")
                .display()
                .to_string()
        ))
    );
    assert!(
        schema
            .violations
            .iter()
            .any(|v| v.instance_path == "/region"
                && v.schema_path.ends_with("/region/type")
                && v.message.contains("42")),
        "{:#?}",
        schema.violations
    );
    assert_transcript(schema, Some("\"region\":42"));
    assert_reproduces(schema, "9.1.1", &url, &suite_path);

    // (b) A message type the contract does not define.
    let unknown = case(&report, "9.1.2");
    assert_eq!(unknown.verdict, "FAIL");
    let known = failure(unknown, "known message type");
    assert_eq!(
        known.message,
        "a message the contract does not define (type maya_video)"
    );
    assert_eq!(
        known.received,
        Some(json!({"type": "maya_video", "frames": 3}))
    );
    assert!(known.expected.is_some());
    assert_transcript(known, Some("maya_video"));
    assert_reproduces(known, "9.1.2", &url, &suite_path);

    // (c) An early close: the expectation fails, and so does the close verdict.
    let early = case(&report, "9.1.3");
    assert_eq!(
        (early.verdict.as_str(), early.close_verdict.as_str()),
        ("FAIL", "FAIL")
    );
    let close = early.session.close.as_ref().unwrap();
    assert_eq!(
        (close.code, close.by.as_str(), close.reason.as_str()),
        (1011, "server", "owner crashed")
    );
    let expectation = failure(early, "expectation");
    assert_eq!(
        expectation.message,
        "the socket closed (1011 owner crashed) before a matching message"
    );
    assert_eq!(expectation.expected, Some(json!({"type": "session_ready"})));
    assert_eq!(expectation.received, None, "nothing of that type arrived");
    assert_transcript(expectation, None);
    assert_reproduces(expectation, "9.1.3", &url, &suite_path);

    // The reports carry the same detail.
    let folder = harness::report::write(dir.path(), &report).unwrap();
    let html = std::fs::read_to_string(folder.join("report.html")).unwrap();
    for needed in [
        "<td><code>/region</code></td>",
        "a message the contract does not define (type maya_video)",
        "the socket closed (1011 owner crashed) before a matching message",
        &format!(
            "--case 9.1.3 --suite {} --target {url}",
            suite_path.display()
        ),
    ] {
        assert!(html.contains(needed), "report.html shows {needed}");
    }
    let junit = std::fs::read_to_string(folder.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<failure ").count(), 3, "{junit}");
    assert!(junit.contains(
        r#"<testsuite name="conformance SpeakingWebSocketApi" package="speechgate" id="0" tests="4" failures="3""#
    ));
}

#[tokio::test]
async fn a_scenario_against_the_wrong_server_shows_received_against_expected() {
    let url = wrong_server("wrong_field_type").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wrong-region-type.yaml");
    std::fs::write(&path, SCENARIO).unwrap();
    let loaded = harness::scenario::load(&path).unwrap();
    let report = replay::run_scenarios(&[loaded], options(&url))
        .await
        .unwrap();
    assert!(!report.passed);
    let session = &report.scenarios[0].sessions[0];
    let timed_out = session
        .failures
        .iter()
        .find(|f| f.check == "expectation")
        .unwrap();
    assert_eq!(
        timed_out.message,
        "no matching message in time; the last of that type differs: region: expected \"us-central1\", got 42"
    );
    assert_eq!(
        timed_out.expected,
        Some(json!({"region": "us-central1", "type": "session_ready"}))
    );
    assert_eq!(
        timed_out.received,
        Some(json!({"type": "session_ready", "region": 42}))
    );
    assert_eq!(
        timed_out.reproduce,
        format!("harness run {} --sessions 1 --target {url}", path.display())
    );
    assert!(session.failures.iter().any(|f| f.check == "payload schema"));
    assert_eq!(report.errors.get("payload schema"), Some(&1));
    assert_eq!(report.conformance.invalid, 1);
}

/// Runs the `harness` binary with `args` from the workspace (off the test's runtime,
/// which keeps serving the wrong server).
async fn harness(args: Vec<String>) -> (Option<i32>, String, String) {
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_harness"))
            .args(&args)
            .current_dir(workspace())
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test]
async fn the_reproduce_command_reproduces_and_quiet_prints_only_the_verdict() {
    let url = wrong_server("behaves").await;
    let dir = tempfile::tempdir().unwrap();
    let report = run_suite(&url, dir.path()).await;
    let reproduce = &failure(case(&report, "9.1.1"), "payload schema").reproduce;
    let reports = dir.path().join("reports");
    let mut args: Vec<String> = reproduce
        .strip_prefix("harness ")
        .unwrap()
        .split(' ')
        .map(str::to_owned)
        .collect();
    args.extend(["--report-dir".to_owned(), reports.display().to_string()]);

    // Quiet: the verdict line and nothing else, on stdout; the exit status says FAIL.
    let quiet = std::iter::once("--quiet".to_owned())
        .chain(args.iter().cloned())
        .collect();
    let (status, stdout, stderr) = harness(quiet).await;
    assert_eq!(status, Some(1), "{stdout}{stderr}");
    assert!(stderr.is_empty(), "quiet stderr: {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let folder = lines[0]
        .strip_prefix(&format!("FAIL: report in {}/", reports.display()))
        .unwrap_or_else(|| panic!("{stdout}"));
    let reproduced: RunReport = serde_json::from_str(
        &std::fs::read_to_string(reports.join(folder).join("report.json")).unwrap(),
    )
    .unwrap();
    let cases = &reproduced.suites[0].cases;
    assert_eq!(cases.len(), 1, "only the case asked for");
    assert_eq!(
        (cases[0].id.as_str(), cases[0].verdict.as_str()),
        ("9.1.1", "FAIL")
    );

    // Not quiet, not a terminal (as in CI): verdict lines, a plain progress line, no colour codes.
    let (status, stdout, stderr) = harness(args).await;
    assert_eq!(status, Some(1));
    assert!(
        stdout.contains("FAIL           9.1.1  close PASS  session_ready whose region is a number"),
        "{stdout}"
    );
    assert!(stderr.contains("conformance: 4/4 steps (100%)"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}') && !stdout.contains('\u{1b}'),
        "no ANSI codes: {stderr}"
    );
}
