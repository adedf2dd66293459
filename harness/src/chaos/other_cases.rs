//! The cases on the other APIs: the chat API (seed 004: acknowledged
//! messages under dropped sockets, throttling and model errors), the HTTP
//! API's GDPR delete (seeds 002/003) with DynamoDB down and throttled, and
//! the Nova Sonic stream API (seed 003: model errors and stream timeouts).

use std::time::Duration;

use mocks::bedrock::{BedrockFault, FaultRule, FaultTarget};
use serde_json::{Value, json};

use super::client::{Client, Seen};
use super::collect::table_name;
use super::faults::{self, ThrottleHook};
use super::invariants::{ChatLedger, Erasure, Invariant};
use super::{CaseInfo, ChaosError, Ctx};

const CHAT: &str = "ChatWebSocketApi";
const STREAM: &str = "NovaSonicStreamWebSocketApi";
const REST: &str = "IeltsRestApi";
const WAIT: Duration = Duration::from_secs(30);

/// The cases of this module.
pub const CASES: &[CaseInfo] = &[
    CaseInfo {
        id: "chat-socket-drop",
        fault: "one of a user's two chat connections dropped (no close frame) while its messages are answered",
        expectation: "every acknowledged message is answered on the connection that stays",
    },
    CaseInfo {
        id: "chat-throttle",
        fault: "every 2nd request to the chat connections table answered ProvisionedThroughputExceededException",
        expectation: "every acknowledged message is answered (refused ones get an error)",
    },
    CaseInfo {
        id: "chat-model-error",
        fault: "Bedrock Converse answers ThrottlingException to every call",
        expectation: "every acknowledged message gets an error naming it",
    },
    CaseInfo {
        id: "gdpr-delete-under-faults",
        fault: "GDPR delete sent while DynamoDB Local is down, then cut short mid-way by throttling, then sent again",
        expectation: "the retried delete succeeds and no item names the user (speaking session and assessment included)",
    },
    CaseInfo {
        id: "nova-stream-timeout",
        fault: "Nova Sonic's stream times out (modelTimeoutException) 3 s (scenario time) into the session",
        expectation: "the owner reopens the stream: Maya answers the next turn and the session ends normally",
    },
    CaseInfo {
        id: "nova-stream-error",
        fault: "Nova Sonic's stream fails (modelStreamErrorException) in the middle of Maya's first turn",
        expectation: "the client is told; the session ends",
    },
];

/// Runs a case of this module.
pub async fn run(id: &str, ctx: &mut Ctx<'_>) -> Result<(), ChaosError> {
    match id {
        "chat-socket-drop" => chat(ctx, ChatFault::Drop).await,
        "chat-throttle" => {
            let table = table_name(ctx.stack, "ChatConnectionsTable")?;
            let hook = ThrottleHook::new(2, vec![table]);
            faults::throttle(ctx.stack, &hook);
            let result = chat(ctx, ChatFault::None).await;
            ctx.saw(format!("{} requests throttled", hook.refused()));
            result
        }
        "chat-model-error" => {
            ctx.stack.mocks().bedrock.add_fault(
                FaultRule::always(BedrockFault::Throttling {
                    before_stream: false,
                })
                .on(FaultTarget::Converse),
            );
            chat(ctx, ChatFault::None).await
        }
        "gdpr-delete-under-faults" => gdpr(ctx).await,
        "nova-stream-timeout" => {
            nova_stream(ctx, BedrockFault::ModelTimeout { after_ms: 3_000 }, true).await
        }
        "nova-stream-error" => nova_stream(ctx, BedrockFault::StreamError, false).await,
        other => Err(ChaosError::UnknownCase(other.to_owned())),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ChatFault {
    None,
    Drop,
}

fn chat_message(text: &str) -> Value {
    json!({"action": "chat_message", "data": {"message": text, "sessionId": "chaos"}})
}

async fn chat(ctx: &mut Ctx<'_>, fault: ChatFault) -> Result<(), ChaosError> {
    ctx.checked
        .extend([Invariant::AckedChatKept, Invariant::NoPostAfterDisconnect]);
    let user = ctx.user(0);
    let token = ctx
        .stack
        .mocks()
        .identity
        .rs256_token(&user)
        .map_err(|e| ChaosError::Setup(format!("minting a token: {e}")))?;
    let url = format!("{}?token={token}", ctx.url(CHAT)?);
    let mut first = Client::connect(&url).await?;
    let mut second = Client::connect(&url).await?;
    for n in 0..6 {
        first
            .send(chat_message(&format!("Question {n} about IELTS writing")))
            .await?;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let first_seen: Seen = if fault == ChatFault::Drop {
        // Gone once the first acknowledgements are in, replies still on their way.
        first.next_of("message_received", WAIT).await;
        first.drop_abruptly()
    } else {
        first
            .settle(Duration::from_millis(1500), Duration::from_secs(20))
            .await;
        first.close().await
    };
    second
        .settle(Duration::from_millis(1500), Duration::from_secs(20))
        .await;
    let second_seen = second.close().await;
    let mut ledger = ChatLedger {
        user: user.clone(),
        ..ChatLedger::default()
    };
    for seen in [&first_seen, &second_seen] {
        ledger
            .acknowledged
            .extend(seen.acknowledged.iter().cloned());
        ledger.answered.extend(seen.answered.iter().cloned());
    }
    ctx.saw(format!(
        "{} acknowledged, {} answered; {} errors",
        ledger.acknowledged.len(),
        ledger.answered.len(),
        first_seen.errors.len() + second_seen.errors.len()
    ));
    ctx.expect(
        !ledger.acknowledged.is_empty(),
        "messages were acknowledged",
    );
    ctx.facts.chat.push(ledger);
    Ok(())
}

async fn http(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> Result<(u16, Value), ChaosError> {
    let mut request = client.post(format!("{base}{path}")).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request
        .send()
        .await
        .map_err(|e| ChaosError::Client(format!("{path}: {e}")))?;
    let status = answer.status().as_u16();
    Ok((status, answer.json().await.unwrap_or(Value::Null)))
}

async fn gdpr(ctx: &mut Ctx<'_>) -> Result<(), ChaosError> {
    ctx.checked.insert(Invariant::GdprErased);
    let base = ctx
        .stack
        .rest(REST)
        .map(|g| g.url())
        .ok_or_else(|| ChaosError::Setup(format!("the template has no {REST}")))?;
    let web = reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .map_err(|e| ChaosError::Setup(e.to_string()))?;
    let email = format!("{}@example.com", ctx.user(0));
    let password = "chaos-password-1";
    let credentials = json!({"email": email, "password": password});
    let (status, created) =
        http(&web, &base, "/api/auth/register", None, credentials.clone()).await?;
    ctx.expect(
        status == 201 || status == 200,
        format!("registered ({status})"),
    );
    let user_id = created["user"]["user_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (_, login) = http(&web, &base, "/api/auth/login", None, credentials).await?;
    let token = login["session_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // A speaking session of the same user, to its assessment.
    let mut speaking = Client::connect(&ctx.url(super::cases::API)?).await?;
    speaking
        .send(json!({"action": "start_speaking", "user_id": user_id, "country_code": "US", "assessment_type": "speaking"}))
        .await?;
    speaking.next_of("session_ready", WAIT).await;
    speaking.next_of("maya_audio", WAIT).await;
    speaking.send(json!({"action": "end_speaking"})).await?;
    let assessed = speaking
        .next_of("assessment_complete", WAIT)
        .await
        .is_some();
    speaking.close().await;
    ctx.expect(assessed, "the user's speaking session was assessed");
    http(&web, &base, "/api/qr/generate", Some(&token), Value::Null).await?;
    faults::wait_quiet(ctx.stack, WAIT).await;

    let confirm = json!({"password": password, "confirm": "DELETE MY ACCOUNT"});
    ctx.stack.kill_dynamodb().await?;
    let (down, _) = http(
        &web,
        &base,
        "/api/gdpr/delete",
        Some(&token),
        confirm.clone(),
    )
    .await?;
    ctx.saw(format!("delete with DynamoDB Local down: {down}"));
    ctx.stack.restart_dynamodb().await?;
    // Cut short in the middle: a few calls pass, then more than the SDK's retries fail.
    let hook = ThrottleHook::window(4, 4, Vec::new());
    faults::throttle(ctx.stack, &hook);
    let (cut, _) = http(
        &web,
        &base,
        "/api/gdpr/delete",
        Some(&token),
        confirm.clone(),
    )
    .await?;
    ctx.saw(format!("delete cut short by throttling: {cut}"));
    ctx.stack.dynamodb_meter().set_fault_hook(None);
    let mut last = cut;
    for _ in 0..3 {
        if last == 200 {
            break;
        }
        let (status, body) = http(
            &web,
            &base,
            "/api/gdpr/delete",
            Some(&token),
            confirm.clone(),
        )
        .await?;
        ctx.saw(format!("delete sent again: {status} {body}"));
        last = status;
    }
    ctx.expect(
        last == 200,
        format!("the GDPR delete succeeded in the end ({last})"),
    );
    ctx.facts.erasures.push(Erasure { user_id, email });
    Ok(())
}

async fn nova_stream(
    ctx: &mut Ctx<'_>,
    fault: BedrockFault,
    recovers: bool,
) -> Result<(), ChaosError> {
    ctx.checked.extend([
        Invariant::SessionEnds,
        Invariant::NoAudioLeft,
        Invariant::NoPostAfterDisconnect,
    ]);
    ctx.stack
        .mocks()
        .bedrock
        .add_fault(FaultRule::once(fault).on(FaultTarget::Stream));
    let mut client = Client::connect(&ctx.url(STREAM)?).await?;
    client
        .send(json!({"action": "nova-sonic-stream", "type": "start", "user_id": ctx.user(0)}))
        .await?;
    let ready = client.next_of("session_ready", WAIT).await.is_some();
    ctx.expect(ready, "session_ready");
    for turn in ["My name is Alex.", "I live in Lisbon."] {
        client
            .send(json!({"action": "nova-sonic-stream", "type": "text", "text": turn}))
            .await?;
        client
            .settle(Duration::from_millis(600), Duration::from_secs(10))
            .await;
    }
    if recovers {
        // Past the timeout: the reopened stream answers.
        tokio::time::sleep(Duration::from_millis(500)).await;
        client
            .send(json!({"action": "nova-sonic-stream", "type": "text", "text": "I work as a developer."}))
            .await?;
        let answered = client.next_of("maya_transcript", WAIT).await.is_some();
        ctx.expect(answered, "Maya answered after the stream timed out");
    }
    client
        .send(json!({"action": "nova-sonic-stream", "type": "end"}))
        .await?;
    let ended = client.next_of("session_ended", WAIT).await.is_some();
    client
        .settle(Duration::from_millis(300), Duration::from_secs(5))
        .await;
    let seen = client.close().await;
    ctx.saw(format!("client errors: {:?}", seen.errors));
    if recovers {
        ctx.expect(ended, "session_ended");
        ctx.expect(seen.errors.is_empty(), "no error reached the client");
    } else {
        ctx.expect(!seen.errors.is_empty(), "the client was told (an error)");
    }
    Ok(())
}
