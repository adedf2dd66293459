//! `harness load`: a load plan ([`plan`]) run with goose as the
//! driver against the local stack or a deployed API.
//!
//! - HTTP plans: each request of the mix is a goose request (goose's client,
//!   its metrics and reports), checked against the OpenAPI contract and timed
//!   into the run's HDR histograms (`http_req` and the request's name);
//! - WebSocket plans: each session of the plan's scenario runs in a goose
//!   transaction on the replay engine's client (tokio-tungstenite); every
//!   operation it times (connect, each expectation, turn latency) is recorded
//!   into goose with `record_custom_request_duration` and into the run's HDR
//!   histograms, every received message is judged against the AsyncAPI
//!   contract;
//! - closed model: `users` goose users, started at once or over `ramp_up`;
//!   open model: arrivals on a schedule served by a pool of goose users,
//!   latencies counted from each arrival's intended time (coordinated
//!   omission corrected; `session_start_lateness` says how late they started);
//! - AWS quotas (500 new connections a second, 10,000 requests a second, split
//!   between segments) are respected unless overridden;
//! - thresholds ([`thresholds`]) decide the exit status; [`schedule`] splits a
//!   plan into segments and [`summary`] merges segments' reports;
//! - [`passes`]: the plan run several times on one stack (a cold pass, then
//!   warm ones), the thresholds judged on the last.
//!
//! The run writes `reports/<run-id>/`: our `report.json` / `report.md`, the
//! load summary `load.json`, and goose's own `goose.html` / `goose.json`.

mod http;
pub(crate) mod passes;
pub mod plan;
pub(crate) mod schedule;
pub(crate) mod summary;
pub(crate) mod thresholds;
mod websocket;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use goose::config::GooseConfiguration;
use goose::prelude::*;

use crate::load::plan::{LoadPlan, PlanKind};
use crate::replay::{Run, RunError, RunOptions, Target};
use crate::report::model::{RunReport, ScenarioReport, SessionReport};
use crate::scenario::LoadedScenario;
use crate::time_scale::TimeScale;
use schedule::{Pacer, Segment};
use summary::LoadSummary;
use thresholds::Counts;

/// Failed sessions kept in full in the report (the rest are counted).
const MAX_FAILED_SESSIONS: usize = 20;

/// How to run a plan.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The plan file (scenario paths are relative to it).
    pub plan_path: PathBuf,
    /// The plan.
    pub plan: LoadPlan,
    /// The local stack or a deployed API (`http(s)://` base URL for HTTP
    /// plans, `ws(s)://` for WebSocket plans).
    pub target: Target,
    /// Divides pacing and, locally, every time limit.
    pub time_scale: TimeScale,
    /// The slice of the plan this run makes.
    pub segment: Segment,
    /// How many times the plan runs (at least 1); the last pass is judged.
    pub passes: u32,
    /// Run past the plan's AWS quotas.
    pub override_quotas: bool,
    /// The AsyncAPI contracts (backend/spec).
    pub spec_dir: PathBuf,
    /// Where the run folder goes.
    pub report_dir: PathBuf,
    /// The command line, for the report.
    pub command: String,
}

/// Why a load run could not happen.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The plan cannot run as asked.
    #[error("{0}")]
    Plan(String),
    /// The scenario of a WebSocket plan.
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ScenarioError),
    /// Starting the run (stack, contracts).
    #[error(transparent)]
    Run(#[from] RunError),
    /// goose.
    #[error("goose: {0}")]
    Goose(String),
    /// Setup requests (HTTP sign-up).
    #[error("setup: {0}")]
    Setup(String),
    /// Writing the reports.
    #[error("writing the reports: {0}")]
    Io(#[from] std::io::Error),
}

/// What a run produced.
#[derive(Debug)]
pub struct LoadOutcome {
    /// Our report.
    pub report: RunReport,
    /// The load summary (counts, thresholds, model).
    pub summary: LoadSummary,
    /// The run folder.
    pub folder: PathBuf,
}

/// What every goose user of the run shares.
pub(crate) struct Shared {
    plan: Arc<LoadPlan>,
    kind: PlanKind,
    /// Global index of this segment's first user (closed model).
    first_user: u32,
    /// Open model: this segment's arrivals (global index, real offset).
    arrivals: Option<Vec<(u64, Duration)>>,
    cursor: AtomicUsize,
    /// When the first arrival was due (set by the first user to ask).
    arrivals_start: OnceLock<tokio::time::Instant>,
    time_scale: TimeScale,
    run_start: Instant,
    run_id: String,
    /// New connections within the quota (WebSocket).
    connections: Option<Pacer>,
    counts: Mutex<Counts>,
    sessions: AtomicU64,
    failed_sessions: AtomicU64,
    kept_failures: Mutex<Vec<SessionReport>>,
    metrics: Arc<crate::metrics::Metrics>,
    reproduce: String,
    websocket: Option<Arc<websocket::Sessions>>,
    http: Option<Arc<http::Requests>>,
}

impl Shared {
    /// The next arrival of this segment: (global index, when it is due), or none left.
    fn next_arrival(&self) -> Option<(u64, tokio::time::Instant)> {
        let arrivals = self.arrivals.as_ref()?;
        let position = self.cursor.fetch_add(1, Ordering::Relaxed);
        let (k, offset) = *arrivals.get(position)?;
        let start = *self.arrivals_start.get_or_init(tokio::time::Instant::now);
        Some((k, start + offset))
    }

    fn count(&self, update: impl FnOnce(&mut Counts)) {
        update(&mut self.counts.lock().expect("counts lock"));
    }

    fn keep_session(&self, report: SessionReport) {
        self.sessions.fetch_add(1, Ordering::Relaxed);
        if !report.passed {
            self.failed_sessions.fetch_add(1, Ordering::Relaxed);
            let mut kept = self.kept_failures.lock().expect("failures lock");
            if kept.len() < MAX_FAILED_SESSIONS {
                kept.push(report);
            }
        }
    }
}

/// Connect steps a session makes (repeats unrolled), for the connection quota.
fn connects_in(steps: &[crate::scenario::Step]) -> u32 {
    steps
        .iter()
        .map(|step| match step {
            crate::scenario::Step::Connect(_) => 1,
            crate::scenario::Step::Repeat(repeat) => repeat.times * connects_in(&repeat.steps),
            _ => 0,
        })
        .sum()
}

/// Refuses an open model whose peak would break a quota (unless overridden).
fn check_quotas(
    plan: &LoadPlan,
    connects_per_session: u32,
    override_quotas: bool,
) -> Result<(), LoadError> {
    let Some(arrival) = &plan.arrival else {
        return Ok(());
    };
    if override_quotas {
        return Ok(());
    }
    let peak = schedule::peak_rate(arrival);
    let (demand, quota, what) = match plan.kind() {
        PlanKind::WebSocket => (
            peak * f64::from(connects_per_session),
            plan.quotas.new_connections_per_second,
            "new WebSocket connections per second",
        ),
        PlanKind::Http => (peak, plan.quotas.requests_per_second, "requests per second"),
    };
    if demand > quota {
        return Err(LoadError::Plan(format!(
            "the plan peaks at {demand:.0} {what}, over the quota of {quota:.0} (AWS's, per \
             account and Region, all segments together); raise quotas in the plan if your \
             account's quota is higher, or pass --override-quotas"
        )));
    }
    Ok(())
}

/// Reads the scenario a WebSocket plan names.
fn load_scenario(options: &LoadOptions) -> Result<Option<LoadedScenario>, LoadError> {
    let Some(file) = &options.plan.scenario else {
        return Ok(None);
    };
    let base = options.plan_path.parent().unwrap_or(Path::new("."));
    let loaded = crate::scenario::load(&base.join(file))?;
    if loaded.scenario.api != options.plan.api {
        return Err(LoadError::Plan(format!(
            "the plan targets {} but its scenario {} targets {}",
            options.plan.api,
            loaded.path.display(),
            loaded.scenario.api
        )));
    }
    Ok(Some(loaded))
}

/// Runs a plan (or this segment of it) and writes its reports.
pub async fn run(options: LoadOptions) -> Result<LoadOutcome, LoadError> {
    if options.passes == 0 {
        return Err(LoadError::Plan(
            "a run makes at least one pass (the last one is judged)".into(),
        ));
    }
    let plan = Arc::new(options.plan.clone());
    let scenario = load_scenario(&options)?;
    let connects_per_session = scenario
        .as_ref()
        .map_or(0, |s| connects_in(&s.scenario.steps));
    check_quotas(&plan, connects_per_session, options.override_quotas)?;
    let mut parameters = plan.parameters.clone();
    let mut clips = Vec::new();
    if let Some(loaded) = &scenario {
        for (name, value) in &loaded.scenario.parameters {
            parameters
                .entry(name.clone())
                .or_insert_with(|| value.clone());
        }
        clips.push((loaded.path.as_path(), &loaded.clips));
    }
    let run = Run::start(
        RunOptions {
            target: options.target.clone(),
            time_scale: options.time_scale,
            sessions: None,
            spec_dir: options.spec_dir.clone(),
            command: options.command.clone(),
            progress: false,
        },
        &parameters,
        &clips,
    )
    .await?;
    let folder = options.report_dir.join(run.run_id());
    std::fs::create_dir_all(&folder)?;
    let result = passes::run_passes(
        &options,
        &plan,
        scenario,
        connects_per_session,
        &run,
        &folder,
    )
    .await;
    let (shared, goose_report, passes) = match result {
        Ok(done) => done,
        Err(e) => {
            run.finish(Vec::new(), Vec::new()).await;
            let _ = std::fs::remove_dir_all(&folder);
            return Err(e);
        }
    };
    let rules = plan.thresholds.all_rules();
    let counts = *shared.counts.lock().expect("counts lock");
    let judgements = thresholds::evaluate(
        &rules,
        &run.metrics().summaries(),
        &run.metrics().serialized(),
        &counts,
    );
    let kept = std::mem::take(&mut *shared.kept_failures.lock().expect("failures lock"));
    let scenarios = scenario_report(&plan, &shared, kept);
    let mut report = run.finish(scenarios, Vec::new()).await;
    report.passed = judgements.iter().all(|j| j.passed);
    let summary = LoadSummary {
        plan: plan.name.clone(),
        plan_path: options.plan_path.display().to_string(),
        kind: match plan.kind() {
            PlanKind::Http => "http",
            PlanKind::WebSocket => "websocket",
        }
        .to_owned(),
        model: if plan.arrival.is_some() {
            "open"
        } else {
            "closed"
        }
        .to_owned(),
        segments: vec![options.segment.to_string()],
        time_scale: options.time_scale.factor(),
        quotas_enforced: !options.override_quotas,
        sessions: shared.sessions.load(Ordering::Relaxed),
        failed_sessions: shared.failed_sessions.load(Ordering::Relaxed),
        counts,
        rules,
        thresholds: judgements,
        goose: goose_report,
        passes,
    };
    crate::report::write(&options.report_dir, &report)?;
    summary::write(&folder, &summary)?;
    Ok(LoadOutcome {
        report,
        summary,
        folder,
    })
}

/// The scenario section of a load report: the failed sessions kept (the
/// rest counted in load.json).
fn scenario_report(
    plan: &LoadPlan,
    shared: &Shared,
    kept: Vec<SessionReport>,
) -> Vec<ScenarioReport> {
    match (&shared.websocket, plan.kind()) {
        (Some(sessions), PlanKind::WebSocket) => vec![ScenarioReport {
            name: sessions.name().to_owned(),
            path: sessions.path().to_owned(),
            api: plan.api.clone(),
            passed: shared.failed_sessions.load(Ordering::Relaxed) == 0,
            warnings: Vec::new(),
            sessions: kept,
        }],
        _ => Vec::new(),
    }
}

/// What every pass of a run shares: this segment's users, the target, and
/// the plan's sessions or its accounts (set up once, not measured).
struct Prepared {
    users: u32,
    first_user: u32,
    iterations: u32,
    /// Open model: this segment's arrivals (global index, real offset).
    arrivals: Option<Vec<(u64, Duration)>>,
    target_url: String,
    reproduce: String,
    websocket: Option<Arc<websocket::Sessions>>,
    http: Option<Arc<http::Requests>>,
}

/// This segment's users, the target's URL, and the plan's sessions (a
/// WebSocket plan) or signed-up accounts (an HTTP plan).
async fn prepare(
    options: &LoadOptions,
    plan: &Arc<LoadPlan>,
    scenario: Option<LoadedScenario>,
    connects_per_session: u32,
    run: &Run,
) -> Result<Prepared, LoadError> {
    let segment = options.segment;
    let (users, first_user, iterations, arrivals) = match &plan.arrival {
        None => {
            let range = segment.users(plan.users);
            let iterations = match plan.kind() {
                PlanKind::WebSocket => plan.sessions_per_user,
                PlanKind::Http => plan.requests_per_user,
            };
            (range.len() as u32, range.start, iterations, None)
        }
        Some(arrival) => {
            let mine: Vec<(u64, Duration)> = schedule::arrival_offsets(arrival)
                .into_iter()
                .enumerate()
                .map(|(k, offset)| (k as u64, options.time_scale.to_real(offset)))
                .filter(|(k, _)| segment.owns_arrival(*k))
                .collect();
            let pool = arrival.max_in_flight.div_ceil(segment.count).max(1);
            let pool = pool
                .min(u32::try_from(mine.len()).unwrap_or(u32::MAX))
                .max(1);
            (pool, segment.index * pool, 1, Some(mine))
        }
    };
    let target_url = match (&options.target, plan.kind()) {
        (Target::Url(url), _) => url.clone(),
        (Target::Local(_), PlanKind::WebSocket) => run.url_of(&plan.api)?,
        (Target::Local(_), PlanKind::Http) => run
            .stack()
            .and_then(|stack| {
                stack
                    .rest(&plan.api)
                    .map(|gateway| gateway.url())
                    .or_else(|| stack.http_api(&plan.api).map(|gateway| gateway.url()))
            })
            .ok_or_else(|| {
                LoadError::Plan(format!(
                    "the template has no REST API or HTTP API {}",
                    plan.api
                ))
            })?,
    };
    let reproduce = format!(
        "harness load {} --segment {segment}{}",
        options.plan_path.display(),
        match &options.target {
            Target::Url(url) => format!(" --target {url}"),
            Target::Local(_) => format!(" --time-scale {}", options.time_scale),
        }
    );
    let websocket = scenario.map(|loaded| {
        Arc::new(websocket::Sessions::new(
            loaded,
            target_url.clone(),
            run.contract_of(&plan.api),
            connects_per_session,
        ))
    });
    let http = match plan.kind() {
        PlanKind::Http if users > 0 => Some(Arc::new(
            http::Requests::prepare(plan, &target_url, &options.spec_dir, first_user, users)
                .await?,
        )),
        _ => None,
    };
    Ok(Prepared {
        users,
        first_user,
        iterations,
        arrivals,
        target_url,
        reproduce,
        websocket,
        http,
    })
}

/// Runs one pass of the goose attack for this segment and returns what the
/// users shared and goose's own figures.
async fn attack(
    options: &LoadOptions,
    plan: &Arc<LoadPlan>,
    prepared: &Prepared,
    run: &Run,
    folder: &Path,
) -> Result<(Arc<Shared>, summary::GooseFigures), LoadError> {
    let users = prepared.users;
    let connections = (plan.kind() == PlanKind::WebSocket && !options.override_quotas).then(|| {
        Pacer::new(
            options
                .segment
                .share(plan.quotas.new_connections_per_second),
        )
    });
    let shared = Arc::new(Shared {
        plan: plan.clone(),
        kind: plan.kind(),
        first_user: prepared.first_user,
        arrivals: prepared.arrivals.clone(),
        cursor: AtomicUsize::new(0),
        arrivals_start: OnceLock::new(),
        time_scale: options.time_scale,
        run_start: Instant::now(),
        run_id: run.run_id().to_owned(),
        connections,
        counts: Mutex::new(Counts::default()),
        sessions: AtomicU64::new(0),
        failed_sessions: AtomicU64::new(0),
        kept_failures: Mutex::new(Vec::new()),
        metrics: run.metrics().clone(),
        reproduce: prepared.reproduce.clone(),
        websocket: prepared.websocket.clone(),
        http: prepared.http.clone(),
    });
    if users == 0 {
        return Ok((shared, summary::GooseFigures::default()));
    }
    let host = prepared
        .target_url
        .replacen("wss://", "https://", 1)
        .replacen("ws://", "http://", 1);
    let config = goose_configuration(options, plan, &host, users, prepared.iterations, folder);
    let transaction = {
        let shared = shared.clone();
        let function: TransactionFunction = Arc::new(move |user| {
            let shared = shared.clone();
            Box::pin(async move { one_iteration(&shared, user).await })
        });
        Transaction::new(function).set_name(&plan.name)
    };
    // One HTTP client shared by every user (plans carry tokens, not cookies):
    // a user then costs next to nothing beyond its own session.
    let client = goose::client::GooseClientBuilder::new()
        .without_cookies()
        .timeout(Duration::from_secs(60));
    let metrics = GooseAttack::initialize_with_config(config)
        .map_err(|e| LoadError::Goose(format!("{e:?}")))?
        .set_client_builder_without_cookies(client)
        .map_err(|e| LoadError::Goose(format!("{e:?}")))?
        .register_scenario(scenario!("load").register_transaction(transaction))
        .execute()
        .await
        .map_err(|e| LoadError::Goose(format!("{e:?}")))?;
    Ok((
        shared,
        summary::GooseFigures::from_metrics(&metrics, folder),
    ))
}

fn goose_configuration(
    options: &LoadOptions,
    plan: &LoadPlan,
    host: &str,
    users: u32,
    iterations: u32,
    folder: &Path,
) -> GooseConfiguration {
    let mut config = GooseConfiguration::default();
    config.host = Some(host.to_owned());
    config.users = Some(users as usize);
    config.iterations = Some(iterations as usize);
    // Users start at once unless the plan ramps them up (closed model).
    let rate = match (&plan.arrival, plan.ramp_up) {
        (None, Some(ramp)) if !ramp.0.is_zero() => {
            f64::from(users) / options.time_scale.to_real(ramp.0).as_secs_f64()
        }
        _ => f64::from(users) * 100.0,
    };
    config.increase_rate = Some(format!("{rate:.3}"));
    config.quiet = 1;
    config.no_print_metrics = true;
    config.no_error_summary = true;
    config.no_telnet = true;
    config.co_mitigation = Some(GooseCoordinatedOmissionMitigation::Disabled);
    if plan.kind() == PlanKind::Http && !options.override_quotas {
        let share = options
            .segment
            .share(plan.quotas.requests_per_second)
            .floor()
            .max(1.0);
        config.throttle_requests = Some(share as usize);
    }
    config.report_file = ["goose.html", "goose.json"]
        .iter()
        .map(|name| folder.join(name).display().to_string())
        .collect();
    config
}

/// One goose iteration: a session or a request (closed model), or every
/// arrival this user can take (open model).
async fn one_iteration(shared: &Arc<Shared>, user: &mut GooseUser) -> TransactionResult {
    if shared.arrivals.is_some() {
        while let Some((k, due)) = shared.next_arrival() {
            tokio::time::sleep_until(due).await;
            let lateness = tokio::time::Instant::now().saturating_duration_since(due);
            shared.metrics.record(
                "session_start_lateness",
                lateness.max(Duration::from_micros(1)),
                shared.run_start.elapsed(),
            );
            serve(shared, user, k, Some(lateness)).await?;
        }
        return Ok(());
    }
    let local = user.weighted_users_index as u32;
    let global_user = u64::from(shared.first_user + local);
    let iteration = user.get_iterations() as u64;
    let per_user = match shared.kind {
        PlanKind::WebSocket => u64::from(shared.plan.sessions_per_user),
        PlanKind::Http => u64::from(shared.plan.requests_per_user),
    };
    serve(shared, user, global_user * per_user + iteration, None).await
}

/// Runs session (or request) number `index`; `lateness` in open-model runs.
async fn serve(
    shared: &Arc<Shared>,
    user: &mut GooseUser,
    index: u64,
    lateness: Option<Duration>,
) -> TransactionResult {
    match (&shared.websocket, &shared.http) {
        (Some(sessions), _) => sessions.run_one(shared, user, index, lateness).await,
        (None, Some(requests)) => requests.run_one(shared, user, index, lateness).await,
        (None, None) => Ok(()),
    }
}
