//! Seed 002's load test (100 users x 10 requests, p95 under 500 ms) against
//! the HTTP API through the local stack: the REST API emulator, the real
//! `http-api` binary on the Lambda emulator, DynamoDB Local and the mocks.
//! Reads a load plan (default scenarios/http/seed002-load.yaml), does each
//! user's setup (register, sign in, plan granted by an admin), then runs the
//! users at once, twice: a cold pass (instances start as Lambda starts them)
//! and a warm one. Prints p50 / p95 / p99 per route from HDR histograms,
//! the cold starts, and every answer's check against the OpenAPI contract.
//! Exits 1 when the last pass breaks the plan's thresholds.
//!
//! ```text
//! cargo build --release -p backend --bins
//! cargo run --release -p harness --example http_load_seed002 -- [plan.yaml] [--passes N]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use harness::contract::openapi::Contract;
use harness::load::plan::{self, LoadPlan, PlannedRequest, substitute, substitute_text};
use harness::stack::{LocalStack, StackOptions};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// Per-route results.
#[derive(Default)]
struct RouteStats {
    histogram: Option<Histogram<u64>>,
    errors: BTreeMap<String, usize>,
    violations: usize,
}

type Results = Arc<Mutex<BTreeMap<String, RouteStats>>>;

struct Client {
    http: reqwest::Client,
    base: String,
    contract: Contract,
}

struct Reply {
    status: u16,
    json: Value,
    violation: Option<String>,
}

impl Client {
    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Reply> {
        let method_value = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut request = self
            .http
            .request(method_value, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response.bytes().await?;
        let bare = path.split('?').next().unwrap_or(path);
        let violation = self
            .contract
            .check(method, bare, status, content_type.as_deref(), &bytes)
            .err()
            .map(|e| e.to_string());
        Ok(Reply {
            status,
            json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            violation,
        })
    }
}

/// The directory the backend's binaries are in: this example's profile directory.
fn functions_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir
        .file_name()
        .is_some_and(|n| n == "examples" || n == "deps")
    {
        dir.pop();
    }
    dir
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the harness is inside the workspace")
        .to_path_buf()
}

struct User {
    email: String,
    token: String,
}

const PASSWORD: &str = "load-test-password";

/// Registers and signs in; (user id, session token).
async fn sign_up(client: &Client, email: &str) -> anyhow::Result<(String, String)> {
    let body = json!({"email": email, "password": PASSWORD});
    let created = client
        .send("POST", "/api/auth/register", None, Some(&body))
        .await?;
    if created.status != 201 {
        bail!("register {email}: {} {}", created.status, created.json);
    }
    let user_id = created.json["user"]["user_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let login = client
        .send("POST", "/api/auth/login", None, Some(&body))
        .await?;
    let token = login.json["session_token"]
        .as_str()
        .with_context(|| format!("login {email}: {}", login.json))?
        .to_owned();
    Ok((user_id, token))
}

async fn setup(
    client: Arc<Client>,
    plan: &LoadPlan,
) -> anyhow::Result<(Vec<User>, Vec<(String, String)>)> {
    if !plan.setup.sign_up {
        let users = (0..plan.users)
            .map(|n| User {
                email: format!("user{n}@load.ieltsaiprep.test"),
                token: String::new(),
            })
            .collect();
        return Ok((users, Vec::new()));
    }
    let admin_email = plan
        .parameters
        .get("AdminEmails")
        .and_then(|e| e.split(',').next())
        .context("the plan's AdminEmails parameter names the admin")?
        .to_owned();
    let (_, admin) = sign_up(&client, &admin_email).await?;
    let mut variables = Vec::new();
    for (index, question) in plan.setup.questions.iter().enumerate() {
        let created = client
            .send("POST", "/api/admin/questions", Some(&admin), Some(question))
            .await?;
        let id = created.json["question"]["question_id"]
            .as_str()
            .with_context(|| format!("question {index}: {}", created.json))?;
        variables.push((format!("question_id.{index}"), id.to_owned()));
    }
    // Setup is not measured; fewer at a time keeps it within the 29 s timeout.
    let gate = Arc::new(Semaphore::new(8));
    let mut tasks = Vec::new();
    for n in 0..plan.users {
        let (gate, client) = (gate.clone(), client.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await?;
            let email = format!("user{n}@load.ieltsaiprep.test");
            let (user_id, token) = sign_up(&client, &email).await?;
            anyhow::Ok((email, user_id, token))
        }));
    }
    let mut users = Vec::new();
    for task in tasks {
        let (email, user_id, token) = task.await??;
        if let Some(tier) = &plan.setup.grant_tier {
            let body = json!({"subscription_tier": tier});
            let granted = client
                .send(
                    "PUT",
                    &format!("/api/admin/users/{user_id}"),
                    Some(&admin),
                    Some(&body),
                )
                .await?;
            if granted.status != 200 {
                bail!("grant {tier}: {}", granted.json);
            }
        }
        users.push(User { email, token });
    }
    Ok((users, variables))
}

async fn run_user(
    client: &Client,
    plan: &LoadPlan,
    index: u32,
    user: &User,
    variables: &[(String, String)],
    results: &Results,
) {
    let mut variables = variables.to_vec();
    variables.push(("email".into(), user.email.clone()));
    for request in plan.sequence(index) {
        let path = substitute_text(&request.path, &variables);
        let body = request.body.as_ref().map(|b| substitute(b, &variables));
        let token = request.auth.then_some(user.token.as_str());
        let started = Instant::now();
        let reply = client
            .send(&request.method, &path, token, body.as_ref())
            .await;
        let micros = started.elapsed().as_micros() as u64;
        record(results, request, micros, reply);
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid bounds")
}

fn record(results: &Results, request: &PlannedRequest, micros: u64, reply: anyhow::Result<Reply>) {
    let mut results = results.lock().expect("results lock");
    let stats = results.entry(request.name.clone()).or_default();
    let _ = stats
        .histogram
        .get_or_insert_with(new_histogram)
        .record(micros.max(1));
    match reply {
        Err(e) => *stats.errors.entry(format!("transport: {e}")).or_default() += 1,
        Ok(reply) => {
            let ok = match request.expect_status {
                Some(status) => reply.status == status,
                None => (200..300).contains(&reply.status),
            };
            if !ok {
                let detail = reply.json["detail"]
                    .as_str()
                    .or(reply.json["message"].as_str())
                    .unwrap_or("");
                *stats
                    .errors
                    .entry(format!("{} {detail}", reply.status))
                    .or_default() += 1;
            }
            if let Some(violation) = reply.violation {
                stats.violations += 1;
                eprintln!("contract violation: {violation}");
            }
        }
    }
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

fn row(name: &str, h: &Histogram<u64>, errors: usize) {
    println!(
        "{name:<34} {:>6} {:>6} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
        h.len(),
        errors,
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.95)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    );
}

/// Prints the table; whether the thresholds hold.
fn report(
    plan: &LoadPlan,
    title: &str,
    results: &BTreeMap<String, RouteStats>,
    wall: Duration,
) -> bool {
    println!("\n{title} ({:.1} s)", wall.as_secs_f64());
    println!(
        "{:<34} {:>6} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "route", "count", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
    let mut all = new_histogram();
    let (mut errors, mut violations) = (0usize, 0usize);
    for (name, stats) in results {
        let Some(h) = &stats.histogram else { continue };
        all.add(h).expect("same bounds");
        let route_errors: usize = stats.errors.values().sum();
        errors += route_errors;
        violations += stats.violations;
        row(name, h, route_errors);
        for (error, count) in &stats.errors {
            println!("    {count} x {error}");
        }
    }
    row("all", &all, errors);
    let p95 = ms(all.value_at_quantile(0.95));
    let rate = errors as f64 / all.len().max(1) as f64;
    println!(
        "throughput {:.0} requests/s; contract violations {violations}",
        all.len() as f64 / wall.as_secs_f64()
    );
    let verdict = |pass: bool| if pass { "PASS" } else { "FAIL" };
    let mut holds = violations == 0;
    if let Some(limit) = plan.thresholds.p95_ms {
        let pass = p95 < limit;
        holds &= pass;
        println!(
            "threshold p95 < {limit} ms: {} ({p95:.1} ms)",
            verdict(pass)
        );
    }
    if let Some(limit) = plan.thresholds.max_error_rate {
        let pass = rate <= limit;
        holds &= pass;
        println!(
            "threshold error rate <= {:.1}%: {} ({:.1}%)",
            limit * 100.0,
            verdict(pass),
            rate * 100.0
        );
    }
    holds
}

async fn measure(
    stack: &LocalStack,
    plan: LoadPlan,
    passes: u32,
    profile: &str,
) -> anyhow::Result<bool> {
    let gateway = stack
        .rest(&plan.api)
        .with_context(|| format!("no REST API {} in the template", plan.api))?;
    let client = Arc::new(Client {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?,
        base: gateway.url(),
        contract: Contract::load(&workspace().join("backend/spec/http.openapi.yaml"))?,
    });
    println!(
        "plan {}: {} users x {} requests; functions built in {profile} mode",
        plan.name, plan.users, plan.requests_per_user
    );
    let (users, variables) = setup(client.clone(), &plan).await?;
    let (users, plan) = (Arc::new(users), Arc::new(plan));
    let mut holds = false;
    for pass in 1..=passes {
        let records_before = stack.lambda().records().len();
        let results: Results = Arc::default();
        let started = Instant::now();
        let mut tasks = Vec::new();
        for index in 0..plan.users {
            let (client, plan, users) = (client.clone(), plan.clone(), users.clone());
            let (results, variables) = (results.clone(), variables.clone());
            tasks.push(tokio::spawn(async move {
                let user = &users[index as usize];
                run_user(&client, &plan, index, user, &variables, &results).await;
            }));
        }
        for task in tasks {
            task.await?;
        }
        let wall = started.elapsed();
        let records = stack.lambda().records();
        let ours = &records[records_before..];
        let inits: Vec<f64> = ours.iter().filter_map(|r| r.init_ms).collect();
        let title = format!(
            "pass {pass}: {} invocations, {} cold starts (init max {:.0} ms), {} live instances",
            ours.len(),
            inits.len(),
            inits.iter().copied().fold(0.0, f64::max),
            stack.lambda().live_instances().values().sum::<usize>()
        );
        let results = results.lock().expect("results lock");
        holds = report(&plan, &title, &results, wall);
        // Time inside the function (what Lambda bills), apart from the gateway and queueing.
        let mut inside = new_histogram();
        for record in ours {
            let _ = inside.record(((record.duration_ms * 1000.0) as u64).max(1));
        }
        println!(
            "function duration p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms; billed {} ms in total",
            ms(inside.value_at_quantile(0.50)),
            ms(inside.value_at_quantile(0.95)),
            ms(inside.value_at_quantile(0.99)),
            ours.iter().map(|r| r.billed_ms).sum::<u64>()
        );
    }
    Ok(holds)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let passes: u32 = match args.iter().position(|a| a == "--passes") {
        Some(i) => args.get(i + 1).context("--passes N")?.parse()?,
        None => 2,
    };
    let plan_path = args
        .iter()
        .find(|a| a.ends_with(".yaml") || a.ends_with(".yml"))
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("scenarios/http/seed002-load.yaml"));
    let plan = plan::load(&plan_path)?;
    let mut options = StackOptions::new(workspace().join("backend/template.yaml"));
    options.functions_dir = functions_dir();
    options.load.parameter_overrides = plan.parameters.clone();
    let profile = options
        .functions_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("?")
        .to_owned();
    let stack = LocalStack::start(options).await.context(
        "starting the local stack (build the functions first: cargo build [--release] -p backend --bins)",
    )?;
    let result = measure(&stack, plan, passes, &profile).await;
    stack.stop().await;
    if !result? {
        std::process::exit(1);
    }
    Ok(())
}
