//! The chaos cases on the Nova Sonic stream API (seed 003): model errors and
//! stream timeouts.

use std::time::Duration;

use mocks::bedrock::{BedrockFault, FaultRule, FaultTarget};
use serde_json::json;

use crate::replay::client::Client;
use crate::suites::chaos::invariants::Invariant;
use crate::suites::chaos::seen::Seen;
use crate::suites::chaos::{CaseInfo, ChaosError, Ctx};

const STREAM: &str = "NovaSonicStreamWebSocketApi";
const WAIT: Duration = Duration::from_secs(30);

/// The cases of this module.
pub(crate) const CASES: &[CaseInfo] = &[
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
pub(crate) async fn run(id: &str, ctx: &mut Ctx<'_>) -> Result<(), ChaosError> {
    match id {
        "nova-stream-timeout" => {
            nova_stream(ctx, BedrockFault::ModelTimeout { after_ms: 3_000 }, true).await
        }
        "nova-stream-error" => nova_stream(ctx, BedrockFault::StreamError, false).await,
        other => Err(ChaosError::UnknownCase(other.to_owned())),
    }
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
        .send_json(&json!({"action": "nova-sonic-stream", "type": "start", "user_id": ctx.user(0)}))
        .await?;
    let ready = client
        .next_of_unless_error("session_ready", WAIT)
        .await
        .is_some();
    ctx.expect(ready, "session_ready");
    for turn in ["My name is Alex.", "I live in Lisbon."] {
        client
            .send_json(&json!({"action": "nova-sonic-stream", "type": "text", "text": turn}))
            .await?;
        client
            .settle(Duration::from_millis(600), Duration::from_secs(10))
            .await;
    }
    if recovers {
        // Past the timeout: the reopened stream answers.
        tokio::time::sleep(Duration::from_millis(500)).await;
        client
            .send_json(&json!({"action": "nova-sonic-stream", "type": "text", "text": "I work as a developer."}))
            .await?;
        let answered = client
            .next_of_unless_error("maya_transcript", WAIT)
            .await
            .is_some();
        ctx.expect(answered, "Maya answered after the stream timed out");
    }
    client
        .send_json(&json!({"action": "nova-sonic-stream", "type": "end"}))
        .await?;
    let ended = client
        .next_of_unless_error("session_ended", WAIT)
        .await
        .is_some();
    client
        .settle(Duration::from_millis(300), Duration::from_secs(5))
        .await;
    let seen = Seen::of(&client.close().await);
    ctx.saw(format!("client errors: {:?}", seen.errors));
    if recovers {
        ctx.expect(ended, "session_ended");
        ctx.expect(seen.errors.is_empty(), "no error reached the client");
    } else {
        ctx.expect(!seen.errors.is_empty(), "the client was told (an error)");
    }
    Ok(())
}
