//! Each troubleshooting entry of seed 001, reproduced through the local
//! stack: "Connection Refused" (wrong stage, stack down), "Lambda Timeout"
//! during Nova Sonic streaming, "Nova Sonic Errors" ("Model not available"
//! and invocation errors, with SNS alerts) and "Missing Patient Data" (and
//! its fix, loading the seed data). Every message is checked against
//! backend/spec/nova-sonic.asyncapi.yaml.

use std::time::Duration;

use crate::nova_support::*;
use crate::support::*;
use aws_sdk_dynamodb::types::AttributeValue;
use harness::replay::client::Handshake;
use mocks::bedrock::{BedrockFault, FaultRule, FaultTarget};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

fn spec() -> Spec {
    Spec::load("nova-sonic.asyncapi.yaml")
}

async fn init(socket: &mut Client, spec: &Spec, patient: &str) -> Value {
    send_json(
        socket,
        json!({"action": "initSession", "patientId": patient}),
    )
    .await;
    next_checked(socket, spec, WAIT).await
}

async fn error_after(socket: &mut Client, spec: &Spec, message: Value) -> String {
    send_json(socket, message).await;
    let (error, _) = next_of_type(socket, spec, "error", WAIT).await;
    error["message"].as_str().unwrap().to_owned()
}

async fn session_status(stack: &harness::stack::LocalStack) -> Vec<(String, String)> {
    let client = dynamodb(stack).await;
    scan(&client, &table(stack, "SessionsTable"))
        .await
        .iter()
        .filter(|item| item.get("kind") == Some(&AttributeValue::S("buddy".into())))
        .map(|item| {
            let text = |name: &str| item[name].as_s().cloned().unwrap_or_default();
            (text("user_id"), text("session_status"))
        })
        .collect()
}

#[tokio::test]
async fn connection_refused_wrong_stage_and_stack_down() {
    let stack = start(options(10.0)).await;
    let gateway = stack.websocket(BUDDY).unwrap();
    let url = gateway.url();
    assert!(url.ends_with("/production"), "{url}");

    // Solution 2, "Verify API Gateway deployment stage exists": a stage that does not exist.
    let wrong_stage = url.replace("/production", "/dev");
    match Client::open(&wrong_stage, &[]).await {
        Handshake::Refused(status, _) => assert_eq!(status, 403),
        other => panic!("a missing stage must refuse the handshake, got {other:?}"),
    }
    // The right URL works.
    let mut socket = connect(&url).await;
    assert_eq!(
        init(&mut socket, &spec(), "pt-001").await["status"],
        "initialized"
    );
    drop(socket);

    // Solution 1, "Check WebSocket endpoint URL": nothing listens there any more.
    stack.stop().await;
    match Client::open(&url, &[]).await {
        Handshake::Failed(kind, _) => {
            assert_eq!(kind, std::io::ErrorKind::ConnectionRefused)
        }
        other => panic!("a stopped stack refuses connections, got {other:?}"),
    }
}

#[tokio::test]
async fn lambda_timeout_during_streaming_ends_the_session_cleanly_before_the_deadline() {
    // A 30-second function (3 s at time scale 10) is shorter than any conversation.
    let mut options = options(10.0);
    options
        .load
        .parameter_overrides
        .insert("NovaSonicFunctionTimeout".into(), "30".into());
    let stack = start(options).await;
    let spec = spec();
    let gateway = stack.websocket(BUDDY).unwrap();
    let mut socket = connect(&gateway.url()).await;
    init(&mut socket, &spec, "pt-001").await;
    send_json(
        &mut socket,
        json!({"action": "textInput", "text": "Who is Sarah?"}),
    )
    .await;
    let (answer, _) = next_of_type(&mut socket, &spec, "textOutput", WAIT).await;
    assert_eq!(answer["text"], "Sarah is your daughter.");

    // The owner stops before the deadline: it tells the client, keeps the transcript.
    let (ended, _) = next_of_type(&mut socket, &spec, "sessionEnded", WAIT).await;
    assert_eq!(ended["reason"], "time_limit");
    assert!(ended["message"].as_str().unwrap().contains("time limit"));
    let finished = || {
        stack
            .lambda()
            .records()
            .iter()
            .any(|r| r.route.as_deref() == Some("initSession"))
    };
    assert!(
        eventually(WAIT, finished).await,
        "the owner's invocation ends"
    );
    let records = stack.lambda().records();
    let owner = records
        .iter()
        .find(|r| r.route.as_deref() == Some("initSession"))
        .expect("the initSession invocation");
    assert_eq!(
        owner.outcome, "success",
        "the owner returned before Lambda killed it"
    );
    assert!(
        records.iter().all(|r| r.outcome != "timeout"),
        "{records:?}"
    );
    assert_eq!(
        session_status(&stack).await,
        [("pt-001".to_owned(), "completed".to_owned())]
    );
    let client = dynamodb(&stack).await;
    let stored = scan(&client, &table(&stack, "BuddyConversationsTable")).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["endedBy"], AttributeValue::S("time_limit".into()));

    // Solution: a new session goes on (and, deployed, a longer timeout).
    assert_eq!(
        init(&mut socket, &spec, "pt-001").await["status"],
        "initialized"
    );
    stack.stop().await;
}

#[tokio::test]
async fn nova_sonic_errors_model_not_available_and_invocation_errors() {
    let stack = start(options(10.0)).await;
    let spec = spec();
    let bedrock = &stack.mocks().bedrock;
    let sns = &stack.mocks().sns;
    let gateway = stack.websocket(BUDDY).unwrap();

    // Model access not granted: "Model not available", no session, an alert.
    bedrock.add_fault(FaultRule::once(BedrockFault::AccessDenied).on(FaultTarget::Stream));
    let mut socket = connect(&gateway.url()).await;
    let refused = init(&mut socket, &spec, "pt-001").await;
    assert_eq!(
        refused,
        json!({"type": "error", "message": "Model not available"})
    );
    let message = error_after(
        &mut socket,
        &spec,
        json!({"action": "textInput", "text": "Hi"}),
    )
    .await;
    assert_eq!(message, "No active session");
    assert!(session_status(&stack).await.is_empty());
    assert!(eventually(WAIT, || !sns.messages().is_empty()).await);
    let alert = &sns.messages()[0];
    assert_eq!(
        alert.attributes["alert_type"].string_value.as_deref(),
        Some("model_failure")
    );
    let body: Value = serde_json::from_str(&alert.message).unwrap();
    assert_eq!(body["model"], "amazon.nova-2-sonic-v1:0");
    assert!(
        body["error"].as_str().unwrap().contains("AccessDenied"),
        "{body}"
    );
    // Solution 1, access enabled: the same client starts a session.
    assert_eq!(
        init(&mut socket, &spec, "pt-001").await["status"],
        "initialized"
    );

    // Throttled (every attempt of the SDK's retries): a clear error, no session.
    bedrock.add_fault(
        FaultRule::always(BedrockFault::Throttling {
            before_stream: true,
        })
        .on(FaultTarget::Stream),
    );
    let mut busy = connect(&gateway.url()).await;
    assert_eq!(
        init(&mut busy, &spec, "pt-002").await["message"],
        "Nova Sonic invocation failed: too many requests; please try again in a moment"
    );
    bedrock.clear_faults();

    // The stream breaks in the middle of an answer: an error, the session failed, an alert.
    bedrock.add_fault(FaultRule::once(BedrockFault::StreamError).on(FaultTarget::Stream));
    let mut broken = connect(&gateway.url()).await;
    assert_eq!(
        init(&mut broken, &spec, "pt-003").await["status"],
        "initialized"
    );
    let message = error_after(
        &mut broken,
        &spec,
        json!({"action": "textInput", "text": "Who is Grace?"}),
    )
    .await;
    assert_eq!(
        message,
        "Nova Sonic invocation failed; please start a new session"
    );
    // Three model failures so far: access denied, throttled, the broken stream.
    assert!(
        eventually(WAIT, || sns.messages().len() == 3).await,
        "{:?}",
        sns.messages()
    );
    let last: Value = serde_json::from_str(&sns.messages()[2].message).unwrap();
    assert_eq!(last["patientId"], "pt-003");
    let statuses = session_status(&stack).await;
    assert!(
        statuses.contains(&("pt-003".to_owned(), "failed".to_owned())),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&("pt-001".to_owned(), "active".to_owned())),
        "{statuses:?}"
    );
    stack.stop().await;
}

#[tokio::test]
async fn missing_patient_data_is_a_clear_error_until_the_seed_data_is_loaded() {
    let stack = start(options(10.0)).await;
    let spec = spec();
    let gateway = stack.websocket(BUDDY).unwrap();
    let mut socket = connect(&gateway.url()).await;

    // Solution 3, "Verify patientId matches seed data": an unknown patient.
    let refused = init(&mut socket, &spec, "pt-999").await;
    assert_eq!(
        refused,
        json!({"type": "error", "message": "Patient context not found"})
    );
    let message = error_after(
        &mut socket,
        &spec,
        json!({"action": "textInput", "text": "Hi"}),
    )
    .await;
    assert_eq!(message, "No active session");
    assert!(
        stack.mocks().bedrock.streams().is_empty(),
        "no model stream for an unknown patient"
    );
    assert!(session_status(&stack).await.is_empty());

    // Solution 1, "Verify DynamoDB tables are populated": a patient whose data is gone.
    let client = dynamodb(&stack).await;
    client
        .delete_item()
        .table_name(table(&stack, "PatientsTable"))
        .key("patientId", AttributeValue::S("pt-002".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        init(&mut socket, &spec, "pt-002").await["message"],
        "Patient context not found"
    );

    // Solution 2, "Check seed data was inserted": `harness seed-data` (seed 001's seed_data.py).
    let template = workspace().join("backend/template.yaml");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([
            "seed-data",
            "--dynamodb-endpoint",
            stack.dynamodb_endpoint(),
            "--template",
        ])
        .arg(&template)
        .env("AWS_ACCESS_KEY_ID", stack.dynamodb_access_key())
        .output()
        .expect("run harness seed-data");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line: Value = serde_json::from_slice(output.stdout.split(|b| *b == b'\n').next().unwrap())
        .expect("one JSON line per file");
    assert_eq!(line["event"], "seeded");
    assert_eq!(line["items"]["buddy-patients-production"], 3);
    assert_eq!(
        init(&mut socket, &spec, "pt-002").await,
        json!({"status": "initialized", "patientName": "Mary"})
    );

    // A seed file that does not fit the template is refused with the reason.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"tables": {"PatientsTable": [{"name": "No id"}]}}"#,
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([
            "seed-data",
            "--dynamodb-endpoint",
            stack.dynamodb_endpoint(),
            "--template",
        ])
        .arg(&template)
        .env("AWS_ACCESS_KEY_ID", stack.dynamodb_access_key())
        .arg("--file")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("PatientsTable item 0") && stderr.contains("patientId"),
        "{stderr}"
    );
    stack.stop().await;
}
