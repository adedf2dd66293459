//! The chaos cases on the chat API (seed 004): acknowledged messages under
//! dropped sockets, throttling and model errors.

use std::time::Duration;

use mocks::bedrock::{BedrockFault, FaultRule, FaultTarget};
use serde_json::{Value, json};

use crate::dynamodb::throttle::ThrottleHook;
use crate::replay::client::Client;
use crate::suites::chaos::collect::table_name;
use crate::suites::chaos::faults;
use crate::suites::chaos::invariants::{ChatLedger, Invariant};
use crate::suites::chaos::seen::Seen;
use crate::suites::chaos::{CaseInfo, ChaosError, Ctx};

const CHAT: &str = "ChatWebSocketApi";
const WAIT: Duration = Duration::from_secs(30);

/// The cases of this module.
pub(crate) const CASES: &[CaseInfo] = &[
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
];

/// Runs a case of this module.
pub(crate) async fn run(id: &str, ctx: &mut Ctx<'_>) -> Result<(), ChaosError> {
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
            .send_json(&chat_message(&format!("Question {n} about IELTS writing")))
            .await?;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let first_seen: Seen = if fault == ChatFault::Drop {
        // Gone once the first acknowledgements are in, replies still on their way.
        first.next_of_unless_error("message_received", WAIT).await;
        Seen::of(&first.drop_abruptly())
    } else {
        first
            .settle(Duration::from_millis(1500), Duration::from_secs(20))
            .await;
        Seen::of(&first.close().await)
    };
    second
        .settle(Duration::from_millis(1500), Duration::from_secs(20))
        .await;
    let second_seen = Seen::of(&second.close().await);
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
