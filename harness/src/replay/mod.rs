//! Scenario replay: run scenarios' sessions (all at once or at an arrival
//! rate) against the local stack (started from the template with the
//! scenarios' parameters and their clips' transcripts) or any `ws(s)://` URL,
//! judge every message against the contract, time everything into HDR
//! histograms, and produce the run's [`RunReport`] (for a local run with what
//! the stack metered and its cost).
//!
//! - [`session`]: one session's client and step runner;
//! - [`inbox`]: received messages, closes, transcript and timeline;
//! - [`conformance`]: numbered cases with verdicts;
//! - [`progress`]: progress on the terminal (a bar, or plain lines in CI logs).

pub mod client;
pub mod conformance;
pub(crate) mod inbox;
pub(crate) mod progress;
pub mod session;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::contract::asyncapi::{self as contract, Contract, ContractError};
use crate::cost::collect::{session_totals, usage_from_stack};
use crate::cost::pricing::PricingTable;
use crate::cost::{CostOptions, assess};
use crate::lambda::{InvocationRecord, LoggedWarnings};
use crate::metrics::Metrics;
use crate::report::model::{
    FunctionReport, RunReport, ScenarioReport, SessionReport, StackReport, SuiteReport,
};
use crate::scenario::template::{Vars, resolve_definitions};
use crate::scenario::{Arrival, LoadedScenario, audio};
use crate::stack::{LocalStack, StackError, StackOptions};
use crate::time_scale::TimeScale;

/// Where scenarios run.
#[derive(Debug, Clone)]
pub enum Target {
    /// The local stack, started (and stopped) by the run.
    Local(Box<StackOptions>),
    /// A deployed API (`ws://` or `wss://`).
    Url(String),
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Target.
    pub target: Target,
    /// Divides pacing and waits (and, locally, every time limit).
    pub time_scale: TimeScale,
    /// Overrides every scenario's session count.
    pub sessions: Option<u32>,
    /// The contracts folder (backend/spec).
    pub spec_dir: PathBuf,
    /// The command line, for the report and reproduction hints.
    pub command: String,
    /// Show progress on stderr: a bar on a terminal, plain lines otherwise.
    pub progress: bool,
}

/// Why a run could not happen.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The local stack.
    #[error(transparent)]
    Stack(#[from] StackError),
    /// The contracts.
    #[error(transparent)]
    Contract(#[from] ContractError),
    /// A scenario problem found before running.
    #[error("{0}")]
    Scenario(String),
}

/// A run in progress: the target, the contracts, the metrics.
pub struct Run {
    options: RunOptions,
    stack: Option<LocalStack>,
    contracts: BTreeMap<String, Arc<Contract>>,
    metrics: Arc<Metrics>,
    started: Instant,
    started_at: String,
    run_id: String,
    progress: Option<progress::Progress>,
}

/// A run id: UTC time and a short random suffix.
pub fn new_run_id() -> String {
    format!(
        "{}-{:04x}",
        Utc::now().format("%Y%m%dT%H%M%SZ"),
        rand::random::<u16>()
    )
}

/// Clips of a scenario or suite file, for the speech mocks' transcripts.
pub type ClipSet<'a> = (&'a Path, &'a BTreeMap<String, Arc<audio::Clip>>);

/// The clips' sidecar transcripts, by the file name a scenario uses.
pub fn clip_texts_of(
    path: &Path,
    clips: &BTreeMap<String, Arc<audio::Clip>>,
) -> BTreeMap<String, String> {
    let base = path.parent().unwrap_or(Path::new("."));
    clips
        .keys()
        .filter_map(|file| {
            let text = std::fs::read_to_string(base.join(file).with_extension("txt")).ok()?;
            Some((file.clone(), text.trim().to_owned()))
        })
        .collect()
}

/// The transcripts of the clips (sidecar `.txt` files).
fn clip_transcripts(sets: &[ClipSet<'_>]) -> Vec<(Duration, String)> {
    let mut found = Vec::new();
    for (path, clips) in sets {
        let base = path.parent().unwrap_or(Path::new("."));
        for (file, clip) in clips.iter() {
            let sidecar = base.join(file).with_extension("txt");
            if let Ok(text) = std::fs::read_to_string(sidecar) {
                found.push((audio::speech_duration(clip), text.trim().to_owned()));
            }
        }
    }
    found
}

impl Run {
    /// Prepares a run: loads the contracts and, for a local target, starts the
    /// stack with every parameter the scenarios need.
    pub async fn start(
        options: RunOptions,
        parameters: &BTreeMap<String, String>,
        clips: &[ClipSet<'_>],
    ) -> Result<Self, RunError> {
        let contracts = contract::load_all(&options.spec_dir)?
            .into_iter()
            .map(|(k, v)| (k, Arc::new(v)))
            .collect();
        let stack = match &options.target {
            Target::Url(_) => None,
            Target::Local(stack_options) => {
                let mut stack_options = (**stack_options).clone();
                for (name, value) in parameters {
                    stack_options
                        .load
                        .parameter_overrides
                        .entry(name.clone())
                        .or_insert_with(|| value.clone());
                }
                stack_options.time_scale = options.time_scale;
                stack_options.transcripts.extend(clip_transcripts(clips));
                Some(LocalStack::start(stack_options).await?)
            }
        };
        Ok(Self {
            options,
            stack,
            contracts,
            metrics: Arc::new(Metrics::default()),
            started: Instant::now(),
            started_at: Utc::now().to_rfc3339(),
            run_id: new_run_id(),
            progress: None,
        })
    }

    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The local stack, when the run started one.
    pub fn stack(&self) -> Option<&LocalStack> {
        self.stack.as_ref()
    }

    /// The run's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The WebSocket URL of an API.
    pub fn url_of(&self, api: &str) -> Result<String, RunError> {
        match (&self.options.target, &self.stack) {
            (Target::Url(url), _) => Ok(url.clone()),
            (Target::Local(_), Some(stack)) => stack
                .websocket(api)
                .map(|gateway| gateway.url())
                .ok_or_else(|| {
                    RunError::Scenario(format!(
                        "the template has no WebSocket API {api} (with these parameters)"
                    ))
                }),
            (Target::Local(_), None) => Err(RunError::Scenario(
                "the local stack is not running".to_owned(),
            )),
        }
    }

    /// How sessions against `api` track and judge their conversation, with
    /// the model's own log when the run started the local stack.
    pub fn conversation_plan(
        &self,
        api: &str,
        config: Option<&crate::turns::ConversationConfig>,
    ) -> Option<crate::turns::ConversationPlan> {
        let mut plan = crate::turns::ConversationPlan::for_api(api, config)?;
        plan.model_log = self.stack.as_ref().map(|stack| stack.model_log_source());
        Some(plan)
    }

    /// The contract of an API.
    pub fn contract_of(&self, api: &str) -> Option<Arc<Contract>> {
        self.contracts.get(api).cloned()
    }

    /// Shows progress over `total` steps (when the options ask for it).
    pub fn show_progress(&mut self, total: u64, label: &str) {
        if self.options.progress {
            self.progress = Some(progress::Progress::start(total, label));
        }
    }

    fn progress_callback(&self) -> Arc<dyn Fn() + Send + Sync> {
        match &self.progress {
            Some(progress) => progress.step_counter(),
            None => Arc::new(|| {}),
        }
    }

    /// The arguments that point a reproduce command at this run's target:
    /// ` --target URL`, or ` --time-scale N` for the local stack.
    pub fn target_args(&self) -> String {
        match &self.options.target {
            Target::Url(url) => format!(" --target {url}"),
            Target::Local(_) => format!(" --time-scale {}", self.options.time_scale),
        }
    }

    /// Session plans for one scenario.
    pub fn plans(
        &self,
        loaded: &LoadedScenario,
        reproduce: &str,
    ) -> Result<Vec<(Duration, session::SessionPlan)>, RunError> {
        let scenario = &loaded.scenario;
        let url = self.url_of(&scenario.api)?;
        let count = self.options.sessions.unwrap_or(scenario.sessions.count);
        let steps = Arc::new(scenario.steps.clone());
        let clips = Arc::new(loaded.clips.clone());
        let turn_replies = Arc::new(scenario.turn_replies.clone());
        let tolerate = Arc::new(scenario.tolerate.clone());
        let contract = self.contract_of(&scenario.api);
        let conversation = self.conversation_plan(&scenario.api, scenario.conversation.as_ref());
        let microphone = scenario.microphone.clone().map(Arc::new);
        let clip_texts = Arc::new(clip_texts_of(&loaded.path, &loaded.clips));
        let mut plans = Vec::new();
        for index in 0..count {
            let builtins: Vars = [
                ("session", index.to_string()),
                ("run_id", self.run_id.clone()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            let vars = resolve_definitions(&scenario.variables, &builtins)
                .map_err(|e| RunError::Scenario(format!("{}: {e}", scenario.name)))?;
            let offset = match scenario.sessions.arrival {
                Arrival::AllAtOnce => Duration::ZERO,
                Arrival::PerSecond(rate) => self
                    .options
                    .time_scale
                    .to_real(Duration::from_secs_f64(f64::from(index) / rate)),
            };
            plans.push((
                offset,
                session::SessionPlan {
                    index,
                    url: url.clone(),
                    steps: steps.clone(),
                    clips: clips.clone(),
                    vars,
                    turn_replies: turn_replies.clone(),
                    tolerate: tolerate.clone(),
                    conversation: conversation.clone(),
                    microphone: microphone.clone(),
                    clip_texts: clip_texts.clone(),
                    contract: contract.clone(),
                    time_scale: self.options.time_scale,
                    metrics: self.metrics.clone(),
                    run_start: self.started,
                    reproduce: reproduce.to_owned(),
                    progress: self.progress_callback(),
                },
            ));
        }
        Ok(plans)
    }

    /// Runs one scenario's sessions.
    pub async fn scenario(&self, loaded: &LoadedScenario) -> Result<ScenarioReport, RunError> {
        let reproduce = format!(
            "harness run {} --sessions 1{}",
            loaded.path.display(),
            self.target_args()
        );
        let plans = self.plans(loaded, &reproduce)?;
        let tasks = plans.into_iter().map(|(offset, plan)| {
            tokio::spawn(async move {
                tokio::time::sleep(offset).await;
                session::run(plan).await
            })
        });
        let mut sessions: Vec<SessionReport> = Vec::new();
        for result in futures_util::future::join_all(tasks).await {
            match result {
                Ok(report) => sessions.push(report),
                Err(e) => return Err(RunError::Scenario(format!("a session task failed: {e}"))),
            }
        }
        sessions.sort_by_key(|s| s.index);
        Ok(ScenarioReport {
            name: loaded.scenario.name.clone(),
            path: loaded.path.display().to_string(),
            api: loaded.scenario.api.clone(),
            passed: sessions.iter().all(|s| s.passed),
            warnings: loaded.warnings.clone(),
            sessions,
        })
    }

    /// Ends the run: stops the stack and assembles the report.
    pub async fn finish(
        mut self,
        scenarios: Vec<ScenarioReport>,
        suites: Vec<SuiteReport>,
    ) -> RunReport {
        if let Some(progress) = self.progress.take() {
            progress.finish();
        }
        let time_scale = self.options.time_scale.factor();
        let (mut invocations, mut usage) = (None, None);
        if let Some(stack) = self.stack.take() {
            let warnings = stack.lambda().warnings();
            let meters = stack.stop_metered().await;
            let (sessions, seconds) = session_totals(&scenarios, &suites, time_scale);
            invocations = Some(stack_report(&meters.invocations, warnings));
            usage = Some(usage_from_stack(&meters, sessions, seconds));
        }
        let passed = scenarios.iter().all(|s| s.passed)
            && suites
                .iter()
                .all(|s| s.cases.iter().all(|c| c.verdict != "FAIL"));
        RunReport {
            schema_version: crate::report::model::SCHEMA_VERSION,
            run_id: self.run_id.clone(),
            command: self.options.command.clone(),
            started_at: self.started_at.clone(),
            duration_ms: self.started.elapsed().as_millis() as u64,
            target: match &self.options.target {
                Target::Local(_) => "local".to_owned(),
                Target::Url(url) => url.clone(),
            },
            time_scale: self.options.time_scale.factor(),
            measured_on: measured_on(),
            passed,
            scenarios,
            suites,
            metrics: self.metrics.summaries(),
            series: self.metrics.series(),
            histograms: self.metrics.serialized(),
            errors: self.metrics.errors(),
            conformance: self.metrics.conformance_tally(),
            stack: invocations,
            usage,
            cost: None,
        }
    }
}

/// The harness's build and the machine, for the report's figures.
pub fn measured_on() -> String {
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    format!(
        "harness {build} build, {cores} cores, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// Invocations summed by function, with the warnings each function logged.
pub fn stack_report(
    records: &[InvocationRecord],
    warnings: BTreeMap<String, LoggedWarnings>,
) -> StackReport {
    let mut functions: BTreeMap<String, FunctionReport> = BTreeMap::new();
    for record in records {
        let entry = functions.entry(record.function.clone()).or_default();
        entry.invocations += 1;
        entry.memory_mb = record.memory_mb;
        entry.architecture = record.architecture.as_str().to_owned();
        entry.billed_ms += record.billed_ms;
        if record.cold_start {
            entry.cold_starts += 1;
        }
        if let Some(init) = record.init_ms {
            entry.init_ms.push((init * 100.0).round() / 100.0);
        }
        *entry
            .by_route
            .entry(record.route.clone().unwrap_or_default())
            .or_insert(0) += 1;
        *entry.outcomes.entry(record.outcome.clone()).or_insert(0) += 1;
    }
    for (function, logged) in warnings {
        let entry = functions.entry(function).or_default();
        entry.warnings_logged = logged.count;
        entry.warnings = logged.last;
    }
    StackReport { functions }
}

/// Runs scenarios end to end.
pub async fn run_scenarios(
    scenarios: &[LoadedScenario],
    options: RunOptions,
) -> Result<RunReport, RunError> {
    let mut parameters = BTreeMap::new();
    for loaded in scenarios {
        for (name, value) in &loaded.scenario.parameters {
            if let Some(previous) = parameters.insert(name.clone(), value.clone())
                && previous != *value
            {
                return Err(RunError::Scenario(format!(
                    "scenarios disagree on parameter {name}: {previous:?} and {value:?}"
                )));
            }
        }
    }
    let clips: Vec<ClipSet<'_>> = scenarios
        .iter()
        .map(|s| (s.path.as_path(), &s.clips))
        .collect();
    let mut run = Run::start(options, &parameters, &clips).await?;
    let total: u64 = scenarios
        .iter()
        .map(|s| {
            u64::from(run.options.sessions.unwrap_or(s.scenario.sessions.count))
                * count_steps(&s.scenario.steps)
        })
        .sum();
    run.show_progress(total, "replay");
    let mut reports = Vec::new();
    for loaded in scenarios {
        match run.scenario(loaded).await {
            Ok(report) => reports.push(report),
            Err(e) => {
                run.finish(reports, Vec::new()).await;
                return Err(e);
            }
        }
    }
    let mut report = run.finish(reports, Vec::new()).await;
    // A local run is metered: price it (built-in table, one session
    // normalised to 14 minutes, 1,000 a month); `harness cost` prices the
    // saved report again with other options.
    if let Some(usage) = &report.usage {
        match PricingTable::built_in() {
            Ok(pricing) => report.cost = Some(assess(usage, &pricing, &CostOptions::default())),
            Err(e) => tracing::error!("the built-in pricing table: {e}"),
        }
    }
    Ok(report)
}

/// Steps a session runs (repeats unrolled).
pub fn count_steps(steps: &[crate::scenario::Step]) -> u64 {
    steps
        .iter()
        .map(|step| match step {
            crate::scenario::Step::Repeat(repeat) => {
                1 + u64::from(repeat.times) * count_steps(&repeat.steps)
            }
            _ => 1,
        })
        .sum()
}
