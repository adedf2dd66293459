//! Seed 001's troubleshooting entries on Buddy (`BuddyWebSocketApi`, the real
//! `buddy` binary, the Bedrock Nova Sonic and SNS mocks, the seed data).

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use mocks::bedrock::{BedrockFault, FaultRule, FaultTarget};
use serde_json::{Value, json};

use super::observing::eventually;
use super::{Notes, ReproContext, ReproError};
use crate::replay::client::{Client, Handshake};
use crate::stack::LocalStack;

const API: &str = "BuddyWebSocketApi";
const WAIT: Duration = Duration::from_secs(20);

fn url(stack: &LocalStack) -> Result<String, ReproError> {
    stack
        .websocket(API)
        .map(|gateway| gateway.url())
        .ok_or_else(|| ReproError::Step(format!("the template has no {API}")))
}

async fn init(socket: &mut Client, patient: &str) -> Result<Option<Value>, ReproError> {
    socket
        .send_json(&json!({"action": "initSession", "patientId": patient}))
        .await?;
    Ok(socket.next(WAIT).await)
}

async fn error_after_text(socket: &mut Client) -> Result<Option<String>, ReproError> {
    socket
        .send_json(&json!({"action": "textInput", "text": "Who is Sarah?"}))
        .await?;
    Ok(socket
        .next_of("error", WAIT)
        .await
        .and_then(|m| m["message"].as_str().map(str::to_owned)))
}

/// A wrong stage, a stopped stack, then the right URL.
pub(crate) async fn connection_refused(
    ctx: &ReproContext,
    notes: &mut Notes,
) -> Result<(), ReproError> {
    let stack = ctx.start(10.0, &[]).await?;
    let url = url(&stack)?;
    let stage = stack
        .websocket(API)
        .and_then(|g| g.api().stages.first().cloned())
        .unwrap_or_default();
    let wrong_stage = url.replace(&format!("/{stage}"), "/no-such-stage");
    let refused = Client::open(&wrong_stage, &[]).await;
    notes.saw(format!("{wrong_stage}: {refused:?}"));
    notes.expect(
        matches!(refused, Handshake::Refused(403, _)),
        "a stage that does not exist: the handshake is refused (403)",
    );
    let right = Client::open(&url, &[]).await;
    let works = match right {
        Handshake::Open(mut socket) => init(&mut socket, "pt-001")
            .await?
            .is_some_and(|m| m["status"] == "initialized"),
        _ => false,
    };
    notes.expect(
        works,
        "the fix: the right URL and stage connect and initialize",
    );
    stack.stop().await;
    let down = Client::open(&url, &[]).await;
    notes.saw(format!("{url} after the stack stopped: {down:?}"));
    notes.expect(
        matches!(
            down,
            Handshake::Failed(std::io::ErrorKind::ConnectionRefused, _)
        ),
        "nothing listens at the URL: connection refused",
    );
    Ok(())
}

/// A function timeout shorter than the conversation.
pub(crate) async fn lambda_timeout(
    ctx: &ReproContext,
    notes: &mut Notes,
) -> Result<(), ReproError> {
    ctx.on_stack(10.0, &[("NovaSonicFunctionTimeout", "30")], async |stack| {
        let mut socket = Client::connect(&url(stack)?).await?;
        let ready = init(&mut socket, "pt-001").await?;
        notes.expect(
            ready.is_some_and(|m| m["status"] == "initialized"),
            "a session starts with a 30 s function timeout",
        );
        socket
            .send_json(&json!({"action": "textInput", "text": "Who is Sarah?"}))
            .await?;
        let answer = socket.next_of("textOutput", WAIT).await;
        notes.saw(format!("answer: {answer:?}"));
        let ended = socket
            .next_of("sessionEnded", Duration::from_secs(30))
            .await;
        notes.saw(format!("then: {ended:?}"));
        notes.expect(
            ended.is_some_and(|m| m["reason"] == "time_limit"),
            "the streaming session ends at the function's time limit (sessionEnded time_limit)",
        );
        let owner = eventually(WAIT, || async {
            stack
                .lambda()
                .records()
                .iter()
                .any(|r| r.route.as_deref() == Some("initSession"))
        })
        .await;
        let outcomes: Vec<String> = stack
            .lambda()
            .records()
            .iter()
            .filter(|r| r.route.as_deref() == Some("initSession"))
            .map(|r| r.outcome.clone())
            .collect();
        notes.saw(format!("initSession invocations: {outcomes:?}"));
        notes.expect(
            owner && outcomes.iter().all(|o| o == "success"),
            "the owner stopped before Lambda killed it (no lost transcript)",
        );
        let again = init(&mut socket, "pt-001").await?;
        notes.expect(
            again.is_some_and(|m| m["status"] == "initialized"),
            "a new initSession goes on (deployed: raise NovaSonicFunctionTimeout, up to 900 s)",
        );
        Ok(())
    })
    .await
}

/// The first SNS alert, once one has come (waiting up to `WAIT`).
async fn first_alert(stack: &LocalStack) -> Option<String> {
    let sns = &stack.mocks().sns;
    eventually(WAIT, || async { !sns.messages().is_empty() }).await;
    sns.messages().first().map(|m| m.message.clone())
}

/// Model access not granted.
pub(crate) async fn model_not_available(
    ctx: &ReproContext,
    notes: &mut Notes,
) -> Result<(), ReproError> {
    ctx.on_stack(10.0, &[], async |stack| {
        let bedrock = &stack.mocks().bedrock;
        bedrock.add_fault(FaultRule::once(BedrockFault::AccessDenied).on(FaultTarget::Stream));
        let mut socket = Client::connect(&url(stack)?).await?;
        let refused = init(&mut socket, "pt-001").await?;
        notes.saw(format!("initSession with model access denied: {refused:?}"));
        notes.expect(
            refused
                .as_ref()
                .is_some_and(|m| m["message"] == "Model not available"),
            "initSession gets \"Model not available\"",
        );
        let later = error_after_text(&mut socket).await?;
        notes.expect(
            later.as_deref() == Some("No active session"),
            "no session was started (textInput: \"No active session\")",
        );
        let alert = first_alert(stack).await;
        notes.saw(format!("SNS alert: {alert:?}"));
        notes.expect(
            alert.is_some_and(|a| a.contains("AccessDenied")),
            "an SNS model_failure alert names AccessDeniedException",
        );
        let granted = init(&mut socket, "pt-001").await?;
        notes.expect(
            granted.is_some_and(|m| m["status"] == "initialized"),
            "the fix: with access enabled the session starts",
        );
        Ok(())
    })
    .await?;
    end_of_life_model(ctx, notes).await
}

/// The other cause: the template names a model past its end of life.
async fn end_of_life_model(ctx: &ReproContext, notes: &mut Notes) -> Result<(), ReproError> {
    let v1 = "amazon.nova-sonic-v1:0";
    ctx.on_stack(10.0, &[("NovaSonicModelId", v1)], async |stack| {
        let mut socket = Client::connect(&url(stack)?).await?;
        let refused = init(&mut socket, "pt-001").await?;
        notes.saw(format!("initSession on {v1} (end of life 2026-09-14): {refused:?}"));
        notes.expect(
            refused
                .as_ref()
                .is_some_and(|m| m["message"] == "Model not available"),
            "a model past its end of life: initSession gets \"Model not available\"",
        );
        let alert = first_alert(stack).await;
        notes.saw(format!("SNS alert: {alert:?}"));
        notes.expect(
            alert.is_some_and(|a| a.contains("end of its life")),
            "the alert carries Bedrock's ResourceNotFoundException: the model reached the end of its life (the fix: amazon.nova-2-sonic-v1:0)",
        );
        Ok(())
    })
    .await
}

/// A patient the tables do not know.
pub(crate) async fn missing_patient_data(
    ctx: &ReproContext,
    notes: &mut Notes,
) -> Result<(), ReproError> {
    ctx.on_stack(10.0, &[], async |stack| {
        let mut socket = Client::connect(&url(stack)?).await?;
        let unknown = init(&mut socket, "pt-999").await?;
        notes.saw(format!("initSession pt-999: {unknown:?}"));
        notes.expect(
            unknown.is_some_and(|m| m["message"] == "Patient context not found"),
            "an unknown patientId gets \"Patient context not found\"",
        );
        let client = stack.dynamodb_client().await;
        let table = stack
            .template()
            .tables
            .get("PatientsTable")
            .map(|t| t.table_name.clone())
            .unwrap_or_default();
        client
            .delete_item()
            .table_name(&table)
            .key("patientId", AttributeValue::S("pt-002".into()))
            .send()
            .await
            .map_err(|e| ReproError::Step(format!("DeleteItem: {e}")))?;
        let deleted = init(&mut socket, "pt-002").await?;
        notes.expect(
            deleted.is_some_and(|m| m["message"] == "Patient context not found"),
            "a patient missing from the table gets the same error",
        );
        notes.expect(
            stack.mocks().bedrock.streams().is_empty(),
            "no model stream was opened for them",
        );
        let known = init(&mut socket, "pt-001").await?;
        notes.saw(format!("initSession pt-001 (seed data): {known:?}"));
        notes.expect(
            known.is_some_and(|m| m["patientName"] == "John"),
            "the fix: a patientId of the seed data initializes (John)",
        );
        Ok(())
    })
    .await
}
