//! Seed 002's troubleshooting entries and seed 003's latency claims on the
//! IELTS HTTP API (`IeltsRestApi` behind the REST gateway emulator, the real
//! `http-api` binary, the Bedrock mock's Converse, DynamoDB Local).

use std::path::Path;
use std::time::{Duration, Instant};

use mocks::bedrock::{BedrockFault, FaultRule, FaultTarget};
use serde_json::{Value, json};

use super::observing::eventually;
use super::{Notes, ReproContext, ReproError};
use crate::dynamodb::throttle::ThrottleHook;
use crate::replay::client::Client;
use crate::stack::{LocalStack, StackError};

const API: &str = "IeltsRestApi";
const FUNCTION: &str = "IeltsHttpFunction";
const ADMIN: &str = "repro-admin@ieltsaiprep.test";
const PASSWORD: &str = "repro-password-1";

fn base_url(stack: &LocalStack) -> Result<String, ReproError> {
    stack
        .rest(API)
        .map(|gateway| gateway.url())
        .ok_or_else(|| ReproError::Step(format!("the template has no {API}")))
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .unwrap_or_default()
}

/// One call: (status, JSON body, how long it took).
async fn call(
    base: &str,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Result<(u16, Value, Duration), ReproError> {
    let mut request = client().request(method, format!("{base}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let started = Instant::now();
    let answer = request
        .send()
        .await
        .map_err(|e| ReproError::Step(format!("{path}: {e}")))?;
    let status = answer.status().as_u16();
    let json = answer.json().await.unwrap_or(Value::Null);
    Ok((status, json, started.elapsed()))
}

/// Registers and signs in; (user id, token).
async fn sign_up(base: &str, email: &str) -> Result<(String, String), ReproError> {
    let body = json!({"email": email, "password": PASSWORD});
    let (_, created, _) = call(
        base,
        reqwest::Method::POST,
        "/api/auth/register",
        None,
        Some(body.clone()),
    )
    .await?;
    let (_, login, _) = call(
        base,
        reqwest::Method::POST,
        "/api/auth/login",
        None,
        Some(body),
    )
    .await?;
    let token = login["session_token"]
        .as_str()
        .ok_or_else(|| ReproError::Step(format!("sign-in of {email}: {login}")))?;
    let id = created["user"]["user_id"].as_str().unwrap_or_default();
    Ok((id.to_owned(), token.to_owned()))
}

/// A template whose function names a binary the backend does not build.
pub(crate) async fn module_not_found(
    ctx: &ReproContext,
    notes: &mut Notes,
) -> Result<(), ReproError> {
    let text = std::fs::read_to_string(&ctx.base.template)
        .map_err(|e| ReproError::Step(format!("reading the template: {e}")))?;
    let broken = text.replacen("Binary: http-api", "Binary: http_api", 1);
    if broken == text {
        return Err(ReproError::Step(
            "the template has no `Binary: http-api`".into(),
        ));
    }
    let dir = tempfile::tempdir().map_err(|e| ReproError::Step(e.to_string()))?;
    let path = dir.path().join("template.yaml");
    std::fs::write(&path, broken).map_err(|e| ReproError::Step(e.to_string()))?;
    let mut options = ctx.options(10.0, &[]);
    options.template = path;
    match LocalStack::start(options).await {
        Err(StackError::Lambda(error)) => {
            let message = error.to_string();
            notes.saw(format!("the stack with Binary http_api: {message}"));
            notes.expect(
                message.contains(FUNCTION) && message.contains("http_api"),
                "the function's package has no bootstrap for the binary it names (the Rust \
                 \"Module not found\": sam build fails with no bin target named http_api)",
            );
        }
        Err(other) => notes.expect(
            false,
            format!("the missing binary is what fails, not: {other}"),
        ),
        Ok(stack) => {
            stack.stop().await;
            notes.expect(false, "a function without its binary must not start");
        }
    }
    let stack = ctx.start(10.0, &[]).await?;
    let template = stack.template().clone();
    let missing: Vec<String> = template
        .functions
        .values()
        .filter(|f| !ctx.base.functions_dir.join(&f.binary).is_file())
        .map(|f| format!("{} ({})", f.logical_id, f.binary))
        .collect();
    notes.expect(
        missing.is_empty(),
        format!("the fix: every function's Binary is built ({missing:?} missing)"),
    );
    let (status, _, _) = call(
        &base_url(&stack)?,
        reqwest::Method::GET,
        "/api/health",
        None,
        None,
    )
    .await?;
    notes.expect(
        status == 200,
        "with the right binary, GET /api/health answers 200",
    );
    stack.stop().await;
    Ok(())
}

const ESSAY: &str = "Many people believe that governments should invest in public transport, \
                     because buses and trains move more people with less pollution. However, \
                     others argue that roads deserve the money, since most journeys are still \
                     made by car. In my opinion, public transport is the better investment.";

/// A Converse call slower than the function's 30 s timeout.
pub(crate) async fn lambda_timeout(
    ctx: &ReproContext,
    notes: &mut Notes,
) -> Result<(), ReproError> {
    let scale = 10.0;
    ctx.on_stack(scale, &[("AdminEmails", ADMIN), ("BcryptCost", "4")], async |stack| {
        let base = base_url(stack)?;
        let (_, admin) = sign_up(&base, ADMIN).await?;
        let (user_id, token) = sign_up(&base, "repro-writer@ieltsaiprep.test").await?;
        call(&base, reqwest::Method::PUT, &format!("/api/admin/users/{user_id}"), Some(&admin), Some(json!({"subscription_tier": "writing"}))).await?;
        let essay = json!({"task_type": "academic_task2", "prompt": "Discuss public transport.", "essay": ESSAY});
        stack.mocks().bedrock.add_fault(FaultRule::always(BedrockFault::Latency { ms: 40_000 }).on(FaultTarget::Converse));
        let (status, body, took) = call(&base, reqwest::Method::POST, "/api/assessments/writing", Some(&token), Some(essay.clone())).await?;
        notes.saw(format!(
            "POST /api/assessments/writing with Converse answering after 40 s: HTTP {status} {body} after {:.1} s real ({:.0} s at scale {scale})",
            took.as_secs_f64(),
            took.as_secs_f64() * scale
        ));
        notes.expect(status == 504 && body["message"] == "Endpoint request timed out", "API Gateway gives up at 29 s: 504 \"Endpoint request timed out\"");
        let timed_out = eventually(Duration::from_secs(20), || async {
            stack.lambda().records().iter().any(|r| r.function == FUNCTION && r.outcome == "timeout")
        })
        .await;
        notes.expect(timed_out, "the function is killed at its 30 s timeout");
        let name = stack.template().functions[FUNCTION].function_name.clone();
        let logged = stack.lambda().logs().recent(&name).iter().any(|l| l.contains("Task timed out"));
        notes.saw("the log filter of the fix, \"Task timed out\", finds the invocation (the emulator logs it as Lambda does)");
        notes.expect(logged, "\"Task timed out\" is what the logs show");
        stack.mocks().bedrock.clear_faults();
        let (status, _, took) = call(&base, reqwest::Method::POST, "/api/assessments/writing", Some(&token), Some(essay)).await?;
        notes.saw(format!("without the slow call: HTTP {status} in {:.2} s", took.as_secs_f64()));
        notes.expect(status == 201, "the fix: with the slow operation gone, the evaluation answers");
        Ok(())
    })
    .await
}

/// The users table with 1 write unit a second (a throttle on the stack's
/// DynamoDB proxy), then on demand (no throttle).
pub(crate) async fn throughput_exceeded(
    ctx: &ReproContext,
    notes: &mut Notes,
) -> Result<(), ReproError> {
    ctx.on_stack(1.0, &[("BcryptCost", "4")], async |stack| {
        let table = stack
            .template()
            .tables
            .get("UsersTable")
            .map(|t| t.table_name.clone())
            .ok_or_else(|| ReproError::Step("the template has no UsersTable".to_owned()))?;
        let base = base_url(stack)?;
        let burst = |tag: &'static str| {
            let base = base.clone();
            async move {
                let calls = (0..12).map(|n| {
                    let base = base.clone();
                    async move {
                        let body = json!({"email": format!("{tag}{n}@ieltsaiprep.test"), "password": PASSWORD});
                        call(&base, reqwest::Method::POST, "/api/auth/register", None, Some(body)).await
                    }
                });
                futures_util::future::join_all(calls).await
            }
        };
        let provisioned = ThrottleHook::write_capacity(1.0, vec![table]);
        stack.dynamodb_meter().set_fault_hook(Some(provisioned.clone()));
        let answers = burst("provisioned").await;
        let failed: Vec<(u16, String)> = answers
            .iter()
            .filter_map(|a| a.as_ref().ok())
            .filter(|(status, _, _)| *status >= 500)
            .map(|(status, body, _)| (*status, body["detail"].as_str().or(body["message"].as_str()).unwrap_or("").to_owned()))
            .collect();
        notes.saw(format!(
            "12 registrations at once against 1 write unit a second: {} failed {:?}; the table throttled {} writes",
            failed.len(),
            failed.first(),
            provisioned.refused()
        ));
        notes.expect(provisioned.refused() > 0, "DynamoDB answers \"Provisioned throughput exceeded\" (ProvisionedThroughputExceededException)");
        notes.expect(!failed.is_empty(), "requests fail once the SDK's retries run out");
        stack.dynamodb_meter().set_fault_hook(None);
        let answers = burst("ondemand").await;
        let created = answers.iter().filter(|a| matches!(a, Ok((201, _, _)))).count();
        notes.saw(format!("on demand: {created} of 12 registrations created"));
        notes.expect(created == 12, "the fix: on-demand mode takes the burst");
        Ok(())
    })
    .await
}

/// Links every function binary into `dir`, with `http-api` behind a slow init.
fn slow_package(functions: &Path, dir: &Path, init: Duration) -> std::io::Result<()> {
    for entry in std::fs::read_dir(functions)? {
        let entry = entry?;
        let name = entry.file_name();
        if entry.file_type()?.is_file() && name != "http-api" {
            let _ = std::os::unix::fs::symlink(entry.path(), dir.join(&name));
        }
    }
    let real = functions.join("http-api");
    let script = format!(
        "#!/bin/sh\n# what importing a 45-50 MB package costs at init\nsleep {:.3}\nexec '{}' \"$@\"\n",
        init.as_secs_f64(),
        real.display()
    );
    let wrapper = dir.join("http-api");
    std::fs::write(&wrapper, script)?;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))
}

/// A slow initialisation, then an instance initialised ahead.
pub(crate) async fn cold_start(ctx: &ReproContext, notes: &mut Notes) -> Result<(), ReproError> {
    let dir = tempfile::tempdir().map_err(|e| ReproError::Step(e.to_string()))?;
    slow_package(
        &ctx.base.functions_dir,
        dir.path(),
        Duration::from_millis(1500),
    )
    .map_err(|e| ReproError::Step(format!("packaging: {e}")))?;
    let mut options = ctx.options(1.0, &[]);
    options.functions_dir = dir.path().to_path_buf();
    let stack = LocalStack::start(options).await?;
    let result = async {
        let base = base_url(&stack)?;
        let (status, _, first) = call(&base, reqwest::Method::GET, "/api/health", None, None).await?;
        let init = stack.lambda().records().iter().find(|r| r.function == FUNCTION).and_then(|r| r.init_ms);
        notes.saw(format!("first request: HTTP {status} in {:.0} ms (init {init:?} ms)", first.as_secs_f64() * 1000.0));
        notes.expect(first > Duration::from_secs(1) && init.is_some_and(|ms| ms > 1000.0), "the cold start's latency is over 1 s");
        let (_, _, warm) = call(&base, reqwest::Method::GET, "/api/health", None, None).await?;
        let cold_again = stack.lambda().records().iter().rfind(|r| r.function == FUNCTION).is_some_and(|r| r.cold_start);
        notes.saw(format!("with the instance initialised ahead: {:.1} ms", warm.as_secs_f64() * 1000.0));
        notes.expect(!cold_again && warm < Duration::from_millis(500), "the fix: an instance kept initialised (provisioned concurrency, min 1) answers without the init");
        Ok(())
    }
    .await;
    stack.stop().await;
    result
}

/// Seed 003's claims: cold start under a second, regional latency under 100 ms.
pub(crate) async fn latency_claims(
    ctx: &ReproContext,
    notes: &mut Notes,
) -> Result<(), ReproError> {
    ctx.on_stack(1.0, &[], async |stack| {
        let base = base_url(stack)?;
        call(&base, reqwest::Method::GET, "/api/health", None, None).await?;
        let ws = stack.websocket("NovaSonicStreamWebSocketApi").map(|g| g.url()).unwrap_or_default();
        let socket = Client::connect(&ws).await?;
        drop(socket);
        let mut warm = Vec::new();
        for path in ["/api/health", "/", "/api/mobile/config"].iter().cycle().take(30) {
            let (_, _, took) = call(&base, reqwest::Method::GET, path, None, None).await?;
            warm.push(took);
        }
        warm.sort();
        let at = |q: usize| warm[(warm.len() * q / 100).min(warm.len() - 1)];
        for record in stack.lambda().records().iter().filter(|r| r.cold_start) {
            notes.saw(format!("cold start of {}: init {:.1} ms", record.function, record.init_ms.unwrap_or(0.0)));
        }
        let colds: Vec<f64> = stack.lambda().records().iter().filter_map(|r| r.init_ms).collect();
        notes.expect(!colds.is_empty() && colds.iter().all(|ms| *ms < 1000.0), "Cold start: < 1 second");
        notes.saw(format!(
            "warm GETs over {} requests: p50 {:.1} ms, p95 {:.1} ms (loopback: the network to a Region adds to it)",
            warm.len(),
            at(50).as_secs_f64() * 1000.0,
            at(95).as_secs_f64() * 1000.0
        ));
        notes.expect(at(50) < Duration::from_millis(100), "Regional latency: < 100ms for most endpoints (the service's share, for most requests)");
        notes.saw("Nova Sonic latency: 2-5 seconds globally is the model's; the Bedrock mock answers at once, so it is not measured here");
        Ok(())
    })
    .await
}
