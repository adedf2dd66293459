//! The chaos case on the IELTS HTTP API (seeds 002/003): the GDPR delete
//! with DynamoDB Local down, then throttled, then sent again.

use std::time::Duration;

use serde_json::{Value, json};

use crate::dynamodb::throttle::ThrottleHook;
use crate::replay::client::Client;
use crate::suites::chaos::faults;
use crate::suites::chaos::invariants::{Erasure, Invariant};
use crate::suites::chaos::{CaseInfo, ChaosError, Ctx};

const REST: &str = "IeltsRestApi";
const WAIT: Duration = Duration::from_secs(30);

/// The cases of this module.
pub(crate) const CASES: &[CaseInfo] = &[CaseInfo {
    id: "gdpr-delete-under-faults",
    fault: "GDPR delete sent while DynamoDB Local is down, then cut short mid-way by throttling, then sent again",
    expectation: "the retried delete succeeds and no item names the user (speaking session and assessment included)",
}];

/// Runs a case of this module.
pub(crate) async fn run(id: &str, ctx: &mut Ctx<'_>) -> Result<(), ChaosError> {
    match id {
        "gdpr-delete-under-faults" => gdpr(ctx).await,
        other => Err(ChaosError::UnknownCase(other.to_owned())),
    }
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
    let mut speaking = Client::connect(&ctx.url(super::speaking::API)?).await?;
    speaking
        .send_json(&json!({"action": "start_speaking", "user_id": user_id, "country_code": "US", "assessment_type": "speaking"}))
        .await?;
    speaking.next_of_unless_error("session_ready", WAIT).await;
    speaking.next_of_unless_error("maya_audio", WAIT).await;
    speaking
        .send_json(&json!({"action": "end_speaking"}))
        .await?;
    let assessed = speaking
        .next_of_unless_error("assessment_complete", WAIT)
        .await
        .is_some();
    speaking.close().await;
    ctx.expect(assessed, "the user's speaking session was assessed");
    http(&web, &base, "/api/qr/generate", Some(&token), Value::Null).await?;
    faults::wait_quiet(ctx.stack, WAIT).await;

    let confirm = json!({"password": password, "confirm": "DELETE MY ACCOUNT"});
    let delete = || {
        http(
            &web,
            &base,
            "/api/gdpr/delete",
            Some(&token),
            confirm.clone(),
        )
    };
    ctx.stack.kill_dynamodb().await?;
    let (down, _) = delete().await?;
    ctx.saw(format!("delete with DynamoDB Local down: {down}"));
    ctx.stack.restart_dynamodb().await?;
    // Cut short in the middle: a few calls pass, then more than the SDK's retries fail.
    let hook = ThrottleHook::window(4, 4, Vec::new());
    faults::throttle(ctx.stack, &hook);
    let (cut, _) = delete().await?;
    ctx.saw(format!("delete cut short by throttling: {cut}"));
    ctx.stack.dynamodb_meter().set_fault_hook(None);
    let mut last = cut;
    for _ in 0..3 {
        if last == 200 {
            break;
        }
        let (status, body) = delete().await?;
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
