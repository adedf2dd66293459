//! The cases on the speaking API (seed 000: `SpeakingWebSocketApi`, the real
//! `speaking` binary, Gemini Live and generateContent on the Vertex mock):
//! each drives a session and injects one fault into it.

use std::time::Duration;

use mocks::vertex::{FaultRule, VertexFault};
use serde_json::json;

use crate::dynamodb::throttle::ThrottleHook;
use crate::replay::client::Client;
use crate::suites::chaos::collect::table_name;
use crate::suites::chaos::faults;
use crate::suites::chaos::invariants::Invariant;
use crate::suites::chaos::seen::{Seen, speak};
use crate::suites::chaos::{CaseInfo, ChaosError, Ctx};

/// The speaking API.
pub(crate) const API: &str = "SpeakingWebSocketApi";
/// The speaking function.
pub(crate) const FUNCTION: &str = "SpeakingFunction";
/// How long any one expected message may take (real time).
const WAIT: Duration = Duration::from_secs(30);
/// The candidate's answer.
const CLIP: &str = "p1-name.wav";

/// The cases of this module.
pub(crate) const CASES: &[CaseInfo] = &[
    CaseInfo {
        id: "baseline",
        fault: "none",
        expectation: "a whole session ends with assessment_complete",
    },
    CaseInfo {
        id: "dynamodb-restart",
        fault: "DynamoDB Local killed (SIGKILL) while the candidate speaks, restarted 1.5 s later on the same port and data",
        expectation: "the session ends with assessment_complete or an error, never left active",
    },
    CaseInfo {
        id: "dynamodb-throttle",
        fault: "every 3rd request to the sessions, relay and assessments tables answered ProvisionedThroughputExceededException",
        expectation: "the SDK's retries absorb it: assessment_complete",
    },
    CaseInfo {
        id: "dynamodb-throttle-storm",
        fault: "every request to the assessments table throttled for 5 s from end_speaking (past the SDK's retries)",
        expectation: "the owner keeps trying: the assessment is stored once the storm passes, then assessment_complete",
    },
    CaseInfo {
        id: "owner-crash",
        fault: "the instance running start_speaking (the session's owner) killed mid-session",
        expectation: "the client can still leave; the session ends and its relayed audio is deleted",
    },
    CaseInfo {
        id: "chunk-crash",
        fault: "an instance killed in the middle of an audio_chunk invocation",
        expectation: "the session goes on to assessment_complete",
    },
    CaseInfo {
        id: "socket-drop",
        fault: "the client socket dropped without a close frame while audio streams",
        expectation: "$disconnect ends the session; nothing is posted after it",
    },
    CaseInfo {
        id: "socket-drop-after-end",
        fault: "the client socket dropped right after end_speaking",
        expectation: "the assessment is still stored, once, and the session completed",
    },
    CaseInfo {
        id: "model-error",
        fault: "Gemini Live closes the stream with 1011 right after setup",
        expectation: "the client gets an error; the session failed",
    },
    CaseInfo {
        id: "model-slow",
        fault: "Gemini Live waits 3 s (scenario time) before each model turn",
        expectation: "assessment_complete",
    },
    CaseInfo {
        id: "early-goaway",
        fault: "Gemini Live sends goAway 2 s (scenario time) after setup, before any resumption handle, and closes 1011 10 s later",
        expectation: "the owner resumes the session: assessment_complete",
    },
    CaseInfo {
        id: "assessment-model-error",
        fault: "generateContent answers 429 RESOURCE_EXHAUSTED to every call",
        expectation: "the client gets an error; the session failed without an assessment",
    },
];

/// Runs a case of this module.
pub(crate) async fn run(id: &str, ctx: &mut Ctx<'_>) -> Result<(), ChaosError> {
    ctx.checked.extend([
        Invariant::SessionEnds,
        Invariant::OneAssessment,
        Invariant::NoAudioLeft,
        Invariant::NoPostAfterDisconnect,
    ]);
    match id {
        "baseline" => whole_session(ctx, true).await,
        "dynamodb-restart" => dynamodb_restart(ctx).await,
        "dynamodb-throttle" => {
            let tables = ["SessionsTable", "RelayTable", "AssessmentsTable"]
                .iter()
                .map(|t| table_name(ctx.stack, t))
                .collect::<Result<Vec<_>, _>>()?;
            let hook = ThrottleHook::new(3, tables);
            faults::throttle(ctx.stack, &hook);
            let result = whole_session(ctx, true).await;
            ctx.saw(format!("{} requests throttled", hook.refused()));
            ctx.expect(hook.refused() > 0, "requests were throttled");
            result
        }
        "dynamodb-throttle-storm" => throttle_storm(ctx).await,
        "owner-crash" => owner_crash(ctx).await,
        "chunk-crash" => chunk_crash(ctx).await,
        "socket-drop" => socket_drop(ctx).await,
        "socket-drop-after-end" => drop_after_end(ctx).await,
        "model-error" => {
            ctx.stack
                .mocks()
                .vertex
                .set_fault(FaultRule::next(VertexFault::Close {
                    code: 1011,
                    reason: "Internal error".into(),
                }));
            model_failure(ctx).await
        }
        "model-slow" => {
            ctx.stack
                .mocks()
                .vertex
                .set_fault(FaultRule::all(VertexFault::Latency { ms: 3_000 }));
            whole_session(ctx, true).await
        }
        "early-goaway" => {
            ctx.stack
                .mocks()
                .vertex
                .set_fault(FaultRule::next(VertexFault::EarlyGoAway {
                    after_ms: 2_000,
                    time_left_ms: 10_000,
                }));
            whole_session(ctx, true).await?;
            let resumed = ctx.stack.mocks().vertex.sessions().len();
            ctx.saw(format!("{resumed} Live connections so far on the mock"));
            Ok(())
        }
        "assessment-model-error" => {
            ctx.stack
                .mocks()
                .vertex
                .set_fault(FaultRule::all(VertexFault::Throttle));
            model_failure(ctx).await
        }
        other => Err(ChaosError::UnknownCase(other.to_owned())),
    }
}

/// Connects and starts a session for user `n`; waits for session_ready.
pub(crate) async fn open(ctx: &mut Ctx<'_>, n: usize) -> Result<Client, ChaosError> {
    let mut client = Client::connect(&ctx.url(API)?).await?;
    client
        .send_json(&json!({"action": "start_speaking", "user_id": ctx.user(n), "country_code": "US", "assessment_type": "speaking"}))
        .await?;
    let ready = client.next_of_unless_error("session_ready", WAIT).await;
    if ready.is_none() {
        return Err(ChaosError::Client(format!(
            "no session_ready: {:?}",
            Seen::of(client.inbox()).errors
        )));
    }
    // Maya's greeting.
    client.next_of_unless_error("maya_audio", WAIT).await;
    client
        .settle(Duration::from_millis(400), Duration::from_secs(5))
        .await;
    Ok(client)
}

fn scale(ctx: &Ctx<'_>) -> f64 {
    ctx.options.time_scale
}

/// The candidate answers (the whole clip, then silence) and Maya replies.
async fn answer(ctx: &mut Ctx<'_>, client: &mut Client) -> Result<bool, ChaosError> {
    let clip = ctx.options.clip(CLIP)?;
    speak(client, &clip, Duration::from_millis(1500), scale(ctx), None).await?;
    Ok(client
        .next_of_unless_error("maya_audio", WAIT)
        .await
        .is_some())
}

/// end_speaking, then the assessment (its id) within the wait.
async fn end(client: &mut Client) -> Result<Option<String>, ChaosError> {
    client.send_json(&json!({"action": "end_speaking"})).await?;
    Ok(client
        .next_of_unless_error("assessment_complete", WAIT * 2)
        .await
        .and_then(|m| m["assessment"]["assessment_id"].as_str().map(str::to_owned)))
}

fn keep(ctx: &mut Ctx<'_>, seen: &Seen) {
    ctx.facts
        .delivered_assessments
        .extend(seen.assessments.iter().cloned());
    if !seen.errors.is_empty() {
        let mut distinct: Vec<&String> = seen.errors.iter().collect();
        distinct.sort();
        distinct.dedup();
        ctx.saw(format!(
            "client errors ({} in all): {distinct:?}",
            seen.errors.len()
        ));
    }
}

/// A whole session: start, one answer, end, assessment.
async fn whole_session(ctx: &mut Ctx<'_>, must_assess: bool) -> Result<(), ChaosError> {
    let mut client = open(ctx, 0).await?;
    let replied = answer(ctx, &mut client).await?;
    ctx.expect(replied, "Maya replied to the answer");
    let assessed = end(&mut client).await?;
    let seen = Seen::of(&client.close().await);
    keep(ctx, &seen);
    if must_assess {
        ctx.expect(assessed.is_some(), "assessment_complete arrived");
    }
    Ok(())
}

async fn dynamodb_restart(ctx: &mut Ctx<'_>) -> Result<(), ChaosError> {
    let clip = ctx.options.clip(CLIP)?;
    let mut client = open(ctx, 0).await?;
    speak(&mut client, &clip, Duration::ZERO, scale(ctx), Some(5)).await?;
    ctx.stack.kill_dynamodb().await?;
    ctx.saw("DynamoDB Local killed");
    speak(&mut client, &clip, Duration::ZERO, scale(ctx), Some(5)).await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let took = ctx.stack.restart_dynamodb().await?;
    ctx.saw(format!("DynamoDB Local restarted in {took:?}"));
    answer(ctx, &mut client).await?;
    let assessed = end(&mut client).await?;
    let seen = Seen::of(&client.close().await);
    keep(ctx, &seen);
    ctx.expect(
        assessed.is_some() || !seen.errors.is_empty(),
        "the session ended knowingly (assessment_complete or an error)",
    );
    Ok(())
}

async fn throttle_storm(ctx: &mut Ctx<'_>) -> Result<(), ChaosError> {
    let tables = vec![table_name(ctx.stack, "AssessmentsTable")?];
    let mut client = open(ctx, 0).await?;
    answer(ctx, &mut client).await?;
    let hook = ThrottleHook::new(1, tables);
    faults::throttle(ctx.stack, &hook);
    client.send_json(&json!({"action": "end_speaking"})).await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    ctx.stack.dynamodb_meter().set_fault_hook(None);
    ctx.saw(format!("{} requests throttled", hook.refused()));
    let assessed = client
        .next_of_unless_error("assessment_complete", WAIT * 2)
        .await;
    let seen = Seen::of(&client.close().await);
    keep(ctx, &seen);
    ctx.expect(
        assessed.is_some(),
        "assessment_complete arrived after the storm",
    );
    Ok(())
}

async fn owner_crash(ctx: &mut Ctx<'_>) -> Result<(), ChaosError> {
    let clip = ctx.options.clip(CLIP)?;
    let mut client = open(ctx, 0).await?;
    speak(&mut client, &clip, Duration::ZERO, scale(ctx), Some(8)).await?;
    let crashed = faults::crash_when_running(ctx.stack, FUNCTION, Some("start_speaking"), WAIT)
        .await
        .is_some();
    ctx.expect(crashed, "the owner's instance was killed mid-invocation");
    // The candidate goes on talking, then leaves.
    speak(
        &mut client,
        &clip,
        Duration::from_millis(500),
        scale(ctx),
        None,
    )
    .await?;
    client.send_json(&json!({"action": "end_speaking"})).await?;
    client
        .settle(Duration::from_millis(500), Duration::from_secs(5))
        .await;
    let seen = Seen::of(&client.close().await);
    keep(ctx, &seen);
    Ok(())
}

async fn chunk_crash(ctx: &mut Ctx<'_>) -> Result<(), ChaosError> {
    let clip = ctx.options.clip(CLIP)?;
    let mut client = open(ctx, 0).await?;
    let stack = ctx.stack;
    let crash = faults::crash_when_running(stack, FUNCTION, Some("audio_chunk"), WAIT);
    let speak = speak(
        &mut client,
        &clip,
        Duration::from_millis(1500),
        scale(ctx),
        None,
    );
    let (crashed, spoken) = tokio::join!(crash, speak);
    spoken?;
    ctx.expect(
        crashed.is_some(),
        "an audio_chunk instance was killed mid-invocation",
    );
    let replied = client
        .next_of_unless_error("maya_audio", WAIT)
        .await
        .is_some();
    ctx.expect(replied, "Maya replied to the answer");
    let assessed = end(&mut client).await?;
    let seen = Seen::of(&client.close().await);
    keep(ctx, &seen);
    ctx.expect(assessed.is_some(), "assessment_complete arrived");
    Ok(())
}

async fn socket_drop(ctx: &mut Ctx<'_>) -> Result<(), ChaosError> {
    let clip = ctx.options.clip(CLIP)?;
    // One session dropped while it streams, one while Maya talks.
    let mut client = open(ctx, 0).await?;
    speak(&mut client, &clip, Duration::ZERO, scale(ctx), Some(10)).await?;
    let seen = Seen::of(&client.drop_abruptly());
    keep(ctx, &seen);
    let mut client = open(ctx, 1).await?;
    speak(
        &mut client,
        &clip,
        Duration::from_millis(1500),
        scale(ctx),
        None,
    )
    .await?;
    let talking = client
        .next_of_unless_error("maya_audio", WAIT)
        .await
        .is_some();
    ctx.expect(talking, "Maya was answering when the socket dropped");
    let seen = Seen::of(&client.drop_abruptly());
    keep(ctx, &seen);
    Ok(())
}

async fn drop_after_end(ctx: &mut Ctx<'_>) -> Result<(), ChaosError> {
    let mut client = open(ctx, 0).await?;
    answer(ctx, &mut client).await?;
    client.send_json(&json!({"action": "end_speaking"})).await?;
    let seen = Seen::of(&client.drop_abruptly());
    keep(ctx, &seen);
    faults::wait_quiet(ctx.stack, Duration::from_secs(60)).await;
    let stored = stored_assessments(ctx, &ctx.user(0)).await?;
    ctx.expect(
        stored == 1,
        format!("the assessment was stored once ({stored} stored)"),
    );
    let status = session_statuses(ctx, &ctx.user(0)).await?;
    ctx.expect(
        status == ["completed"],
        format!("the session completed ({status:?})"),
    );
    Ok(())
}

async fn model_failure(ctx: &mut Ctx<'_>) -> Result<(), ChaosError> {
    let opened = open(ctx, 0).await;
    let mut client = match opened {
        Ok(client) => client,
        Err(e) => {
            ctx.saw(format!("start: {e}"));
            return Ok(());
        }
    };
    let _ = answer(ctx, &mut client).await?;
    let _ = end(&mut client).await?;
    client
        .settle(Duration::from_millis(500), Duration::from_secs(5))
        .await;
    let seen = Seen::of(&client.close().await);
    keep(ctx, &seen);
    ctx.expect(!seen.errors.is_empty(), "the client was told (an error)");
    ctx.expect(seen.assessments.is_empty(), "no assessment_complete");
    let status = session_statuses(ctx, &ctx.user(0)).await?;
    ctx.expect(
        status == ["failed"],
        format!("the session failed ({status:?})"),
    );
    Ok(())
}

/// Assessments stored for a user.
pub(crate) async fn stored_assessments(ctx: &Ctx<'_>, user: &str) -> Result<usize, ChaosError> {
    let client = crate::suites::chaos::collect::store_client(ctx.stack).await;
    let table = table_name(ctx.stack, "AssessmentsTable")?;
    Ok(crate::dynamodb::scan::scan_all(&client, &table)
        .await?
        .iter()
        .filter(|item| item.get("user_id").and_then(|v| v.as_s().ok()) == Some(&user.to_owned()))
        .count())
}

/// The statuses of a user's sessions.
pub(crate) async fn session_statuses(ctx: &Ctx<'_>, user: &str) -> Result<Vec<String>, ChaosError> {
    let client = crate::suites::chaos::collect::store_client(ctx.stack).await;
    let table = table_name(ctx.stack, "SessionsTable")?;
    Ok(crate::dynamodb::scan::scan_all(&client, &table)
        .await?
        .iter()
        .filter(|item| item.get("user_id").and_then(|v| v.as_s().ok()) == Some(&user.to_owned()))
        .filter_map(|item| {
            item.get("session_status")
                .and_then(|v| v.as_s().ok())
                .cloned()
        })
        .collect())
}
