//! Seed 000's troubleshooting entries on the speaking API
//! (`SpeakingWebSocketApi`, the real `speaking` binary, the Vertex and
//! Secrets Manager mocks, DynamoDB Local).

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

use super::observing::{eventually, last_connection_id};
use super::{Notes, ReproContext, ReproError};
use crate::replay::client::Client;
use crate::scenario::audio::{Clip, encode_chunk};
use crate::scenario::model::ChunkFormat;
use crate::stack::LocalStack;

const API: &str = "SpeakingWebSocketApi";
const FUNCTION: &str = "SpeakingFunction";
const WAIT: Duration = Duration::from_secs(20);

fn start_message() -> Value {
    json!({"action": "start_speaking", "user_id": "repro", "country_code": "US"})
}

fn silence_chunk() -> Value {
    let clip = Clip::silence(Duration::from_millis(100), 16_000);
    let chunk = clip.chunks(100).next().unwrap_or_default();
    let (audio, mime_type) = encode_chunk(chunk, 16_000, ChunkFormat::Pcm);
    json!({"action": "audio_chunk", "audio": audio, "mime_type": mime_type})
}

fn url(stack: &LocalStack) -> Result<String, ReproError> {
    stack
        .websocket(API)
        .map(|gateway| gateway.url())
        .ok_or_else(|| ReproError::Step(format!("the template has no {API}")))
}

/// The status of a connection's speaking session, if it has one.
async fn session_status(stack: &LocalStack, connection_id: &str) -> Option<String> {
    let client = stack.dynamodb_client().await;
    let table = &stack.template().tables.get("SessionsTable")?.table_name;
    let item = client
        .get_item()
        .table_name(table)
        .key(
            "session_id",
            AttributeValue::S(format!("speaking#{connection_id}")),
        )
        .consistent_read(true)
        .send()
        .await
        .ok()?
        .item?;
    item.get("session_status")?.as_s().ok().cloned()
}

async fn error_text(socket: &mut Client) -> Option<String> {
    socket
        .next_of("error", WAIT)
        .await
        .and_then(|m| m["message"].as_str().map(str::to_owned))
}

/// `audio_chunk` before `start_speaking`.
pub(crate) async fn no_active_session(
    ctx: &ReproContext,
    notes: &mut Notes,
) -> Result<(), ReproError> {
    ctx.on_stack(20.0, &[], async |stack| {
        let mut socket = Client::connect(&url(stack)?).await?;
        socket.send_json(&silence_chunk()).await?;
        let error = error_text(&mut socket).await;
        notes.saw(format!("audio_chunk first: {error:?}"));
        notes.expect(
            error.as_deref() == Some("No active session"),
            "audio_chunk before start_speaking gets \"No active session\"",
        );
        socket.send_json(&json!({"action": "end_speaking"})).await?;
        let error = error_text(&mut socket).await;
        notes.expect(
            error.as_deref() == Some("No active session"),
            "end_speaking before start_speaking gets \"No active session\"",
        );
        socket.send_json(&start_message()).await?;
        let ready = socket.next_of("session_ready", WAIT).await;
        notes.expect(
            ready.is_some(),
            "the fix: start_speaking completes (session_ready) on the same connection",
        );
        socket.send_json(&silence_chunk()).await?;
        let after = socket.next(Duration::from_millis(1500)).await;
        notes.expect(
            after
                .as_ref()
                .is_none_or(|m| m["message"] != "No active session"),
            "audio sent after session_ready is accepted",
        );
        Ok(())
    })
    .await
}

/// A send to a client that has gone.
pub(crate) async fn gone_exception(
    ctx: &ReproContext,
    notes: &mut Notes,
) -> Result<(), ReproError> {
    ctx.on_stack(20.0, &[], async |stack| {
        let url = url(stack)?;
        let mut socket = Client::connect(&url).await?;
        socket.send_json(&start_message()).await?;
        let ready = socket.next_of("session_ready", WAIT).await;
        notes.expect(ready.is_some(), "a session is live (session_ready)");
        let connection_id = last_connection_id(stack, FUNCTION)
            .ok_or_else(|| ReproError::Step("no $connect was recorded".into()))?;
        drop(socket); // the client vanishes without a close frame
        let gateway = stack
            .websocket(API)
            .ok_or_else(|| ReproError::Step("no speaking API".into()))?;
        let management = management_client(stack, &gateway.management_endpoint()).await;
        let deadline = tokio::time::Instant::now() + WAIT;
        let (gone, status) = loop {
            let result = management
                .post_to_connection()
                .connection_id(&connection_id)
                .data(aws_sdk_apigatewaymanagement::primitives::Blob::new(
                    b"{\"type\":\"maya_transcript\",\"text\":\"still there?\"}".to_vec(),
                ))
                .send()
                .await;
            let text = match &result {
                Ok(_) => "HTTP 200".to_owned(),
                Err(e) => {
                    use aws_sdk_apigatewaymanagement::error::ProvideErrorMetadata as _;
                    let status = e.raw_response().map_or(0, |r| r.status().as_u16());
                    format!("HTTP {status} {}", e.code().unwrap_or("(no error code)"))
                }
            };
            if text.contains("GoneException") || tokio::time::Instant::now() >= deadline {
                break (text.contains("GoneException"), Some(text));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        notes.saw(format!(
            "PostToConnection to {connection_id}: {}",
            status.unwrap_or_default()
        ));
        notes.expect(
            gone,
            "a send to the closed connection fails with GoneException (410)",
        );
        let disconnected = eventually(WAIT, || {
            let (stack, id) = (&stack, connection_id.clone());
            async move { session_status(stack, &id).await.as_deref() == Some("disconnected") }
        })
        .await;
        notes.expect(
            disconnected,
            "the session of the closed connection is marked disconnected",
        );
        let mut again = Client::connect(&url).await?;
        again.send_json(&start_message()).await?;
        let ready = again.next_of("session_ready", WAIT).await;
        notes.expect(
            ready.is_some(),
            "the fix: a new connection reinitializes the session (session_ready)",
        );
        Ok(())
    })
    .await
}

/// A management API client for the local gateway (dummy credentials: it only checks the signature's shape).
async fn management_client(
    stack: &LocalStack,
    endpoint: &str,
) -> aws_sdk_apigatewaymanagement::Client {
    let credentials = aws_sdk_apigatewaymanagement::config::Credentials::new(
        "ASIALOCALSTACKKEY000",
        "local-secret-access-key",
        None,
        None,
        "repro",
    );
    let config = aws_sdk_apigatewaymanagement::Config::builder()
        .behavior_version(aws_sdk_apigatewaymanagement::config::BehaviorVersion::latest())
        .region(aws_sdk_apigatewaymanagement::config::Region::new(
            stack.template().region.clone(),
        ))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .build();
    aws_sdk_apigatewaymanagement::Client::from_conf(config)
}

/// Bad GCP credentials.
pub(crate) async fn vertex_init_failed(
    ctx: &ReproContext,
    notes: &mut Notes,
) -> Result<(), ReproError> {
    ctx.on_stack(20.0, &[], async |stack| {
        let mut socket = Client::connect(&url(stack)?).await?;
        let vertex = &stack.mocks().vertex;
        vertex.set_fault(mocks::vertex::FaultRule::all(
            mocks::vertex::VertexFault::RejectAuth,
        ));
        socket.send_json(&start_message()).await?;
        let error = error_text(&mut socket).await;
        notes.saw(format!("Vertex refuses the credentials: {error:?}"));
        notes.expect(
            error.as_deref() == Some("Failed to initialize Vertex AI"),
            "invalid credentials: start_speaking gets \"Failed to initialize Vertex AI\"",
        );
        vertex.clear_faults();
        let connection_id = last_connection_id(stack, FUNCTION).unwrap_or_default();
        notes.expect(
            session_status(stack, &connection_id).await.is_none(),
            "no session was created",
        );
        let secrets = &stack.mocks().secrets;
        let secret = stack
            .template()
            .functions
            .get(FUNCTION)
            .and_then(|f| f.environment.get("GCP_CREDENTIALS_SECRET").cloned())
            .unwrap_or_default();
        secrets.put_secret(&secret, "{\"type\": \"not a key\"}");
        socket.send_json(&start_message()).await?;
        let error = error_text(&mut socket).await;
        notes.saw(format!("secret {secret} without a key: {error:?}"));
        notes.expect(
            error.as_deref() == Some("Failed to initialize Vertex AI"),
            "missing credentials: the same error",
        );
        secrets.put_secret(&secret, &vertex.service_account_json());
        socket.send_json(&start_message()).await?;
        let ready = socket.next_of("session_ready", WAIT).await;
        notes.expect(
            ready.is_some(),
            "the fix: with the secret's content right, session_ready",
        );
        Ok(())
    })
    .await?;
    retired_live_model(ctx, notes).await
}

/// A cause the seed does not list, seen in the field: the template names a
/// Live model Vertex has withdrawn, and the setup is refused.
async fn retired_live_model(ctx: &ReproContext, notes: &mut Notes) -> Result<(), ReproError> {
    let retired = "gemini-live-2.5-flash-preview-native-audio-09-2025";
    ctx.on_stack(20.0, &[("GeminiLiveModel", retired)], async |stack| {
        let mut socket = Client::connect(&url(stack)?).await?;
        socket.send_json(&start_message()).await?;
        let error = error_text(&mut socket).await;
        notes.saw(format!("start_speaking on {retired}: {error:?}"));
        notes.expect(
            error.as_deref() == Some("Failed to initialize Vertex AI"),
            "a retired Live model: start_speaking gets \"Failed to initialize Vertex AI\"",
        );
        let name = &stack.template().functions[FUNCTION].function_name;
        let refusal = stack
            .lambda()
            .logs()
            .recent(name)
            .into_iter()
            .find(|line| line.contains("is not supported in the live api"));
        notes.saw(format!("function log: {refusal:?}"));
        notes.expect(
            refusal.is_some(),
            "the function log names Vertex's refusal (close 1007: the model is not supported in \
             the live api; the fix: gemini-live-2.5-flash-native-audio)",
        );
        Ok(())
    })
    .await
}

/// A session that outlives the 15-minute function timeout (time scale 60).
pub(crate) async fn fifteen_minute_limit(
    ctx: &ReproContext,
    notes: &mut Notes,
) -> Result<(), ReproError> {
    let scale = 60.0;
    ctx.on_stack(scale, &[], async |stack| {
        let mut socket = Client::connect(&url(stack)?).await?;
        socket.send_json(&start_message()).await?;
        let ready = socket.next_of("session_ready", WAIT).await;
        notes.expect(ready.is_some(), "the assessment starts");
        let started = std::time::Instant::now();
        let chunk = silence_chunk();
        // One chunk a second of real time (a minute of scenario time) keeps the
        // connection from going idle without an invocation storm.
        let complete = loop {
            socket.send_json(&chunk.clone()).await?;
            if let Some(message) = socket
                .next_of("assessment_complete", Duration::from_secs(1))
                .await
            {
                break Some(message);
            }
            if started.elapsed() > Duration::from_secs(45) {
                break None;
            }
        };
        let scenario_minutes = started.elapsed().as_secs_f64() * scale / 60.0;
        notes.saw(format!(
            "streamed for {:.1} s real ({scenario_minutes:.1} minutes of scenario time)",
            started.elapsed().as_secs_f64()
        ));
        let assessment = complete.as_ref().map(|m| &m["assessment"]);
        notes.expect(
            assessment.is_some_and(|a| a["ended_by"] == "time_limit"),
            "the assessment ends at the limit (ended_by time_limit)",
        );
        notes.expect(
            assessment
                .and_then(|a| a["notice"].as_str())
                .is_some_and(|n| n.contains("15-minute")),
            "the client is told about the 15-minute limit",
        );
        let owner_done = eventually(WAIT, || async {
            stack
                .lambda()
                .records()
                .iter()
                .any(|r| r.route.as_deref() == Some("start_speaking"))
        })
        .await;
        let outcome = stack
            .lambda()
            .records()
            .into_iter()
            .find(|r| r.route.as_deref() == Some("start_speaking"))
            .map(|r| r.outcome);
        notes.saw(format!("the owner invocation's outcome: {outcome:?}"));
        notes.expect(
            owner_done && outcome.as_deref() == Some("success"),
            "the owner returned before Lambda's 15-minute timeout would kill it",
        );
        Ok(())
    })
    .await
}
