//! Seed 001's Python test client (the `websockets` package, the seed's own
//! messages) against the local Buddy endpoint: `initSession` pt-001 answers
//! `initialized` with patientName John, "Who is Sarah?" is answered by a
//! textOutput saying she is his daughter, and the seed's own question gets
//! the morning routine. The package goes into `~/.cache/speechgate/venv`
//! when missing (.ci/run installs it too).

use std::path::PathBuf;
use std::process::Command;

use crate::nova_support::BUDDY;
use crate::support::*;
use serde_json::{Value, json};

/// A Python with `websockets`: the cache's virtual environment, made and
/// filled on first use.
fn python_with_websockets() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    let venv = PathBuf::from(home).join(".cache/speechgate/venv");
    let python = venv.join("bin/python");
    let has_package = |python: &PathBuf| {
        Command::new(python)
            .args(["-c", "import websockets"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !has_package(&python) {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 runs");
        assert!(made.success(), "python3 -m venv {}", venv.display());
        let installed = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "websockets"])
            .status()
            .expect("pip runs");
        assert!(installed.success(), "pip install websockets");
    }
    assert!(has_package(&python), "websockets is importable");
    python
}

/// Runs the client; returns the JSON of its "Init response" and "Response" lines.
fn run_client(python: &PathBuf, uri: &str, question: Option<&str>) -> (Value, Value) {
    let script = workspace().join("harness/tests/clients/buddy_test_client.py");
    let mut command = Command::new(python);
    command.arg(&script).arg(uri);
    if let Some(question) = question {
        command.arg(question);
    }
    let output = command.output().expect("the client runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = |prefix: &str| -> Value {
        let text = stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in {stdout}"));
        serde_json::from_str(text).expect("a JSON message")
    };
    (line("Init response: "), line("Response: "))
}

#[tokio::test]
async fn seed_001_python_client_flow_works_against_the_local_endpoint() {
    let python = tokio::task::spawn_blocking(python_with_websockets)
        .await
        .unwrap();
    let stack = start(options(1.0)).await;
    let url = stack.websocket(BUDDY).unwrap().url();

    let (init, answer) = {
        let (python, url) = (python.clone(), url.clone());
        tokio::task::spawn_blocking(move || run_client(&python, &url, Some("Who is Sarah?")))
            .await
            .unwrap()
    };
    assert_eq!(
        init,
        json!({"status": "initialized", "patientName": "John"})
    );
    assert_eq!(answer["type"], "textOutput");
    assert_eq!(answer["role"], "ASSISTANT");
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .contains("Sarah is your daughter"),
        "{answer}"
    );

    // The seed's own question, as its script asks it.
    let (init, answer) = tokio::task::spawn_blocking(move || run_client(&python, &url, None))
        .await
        .unwrap();
    assert_eq!(init["patientName"], "John");
    assert_eq!(answer["type"], "textOutput");
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .starts_with("Your morning routine"),
        "{answer}"
    );
    stack.stop().await;
}
