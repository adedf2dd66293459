//! `harness chaos`: the reliability suite. It starts the local stack with
//! DynamoDB Local on disk (so it can be killed and restarted), plays cases
//! that each inject one fault into real sessions (DynamoDB Local killed and
//! restarted, DynamoDB throttling, function instances crashing
//! mid-invocation, client sockets dropped mid-stream, model errors, slow
//! answers, early `goAway`, stream timeouts), waits for the stack to go
//! quiet, and checks the invariants over what the store and the gateway hold.
//! `--find-max` ramps concurrent full sessions instead ([`load`]).
//!
//! - [`invariants`]: the invariants, a pure checker over a [`Snapshot`];
//! - [`collect`]: the snapshot of a running stack;
//! - [`seen`]: what a case's client saw, and the speech it streams (the
//!   client is the harness's, [`crate::replay::client`]);
//! - [`faults`]: DynamoDB throttling hooks and waiting for quiet;
//! - [`cases`]: the cases, one module per API;
//! - [`load`]: N concurrent full sessions with correctness, and the ramp;
//! - [`report`]: the results table.

pub(crate) mod cases;
pub mod collect;
pub(crate) mod faults;
pub mod invariants;
pub mod load;
pub(crate) mod report;
pub(crate) mod seen;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

pub use collect::{ClientFacts, Scope};
pub use invariants::{CheckOptions, Invariant, Snapshot, Violation, check};

use crate::scenario::audio::{Clip, transcripts_in};
use crate::stack::{DynamoSource, LocalStack, StackError, StackOptions};
use crate::time_scale::TimeScale;

/// Why the suite could not run (as opposed to finding a violation).
#[derive(Debug, thiserror::Error)]
pub enum ChaosError {
    /// The local stack.
    #[error(transparent)]
    Stack(#[from] StackError),
    /// Killing or restarting DynamoDB Local.
    #[error(transparent)]
    Dynamo(#[from] crate::stack::DynamoControlError),
    /// Reading the store.
    #[error("reading the store: {0}")]
    Store(String),
    /// The set-up (template, clips).
    #[error("{0}")]
    Setup(String),
    /// A client.
    #[error("client: {0}")]
    Client(String),
    /// No such case.
    #[error("no chaos case {0}; `harness chaos --list` lists them")]
    UnknownCase(String),
}

impl From<crate::dynamodb::scan::ScanError> for ChaosError {
    fn from(error: crate::dynamodb::scan::ScanError) -> Self {
        ChaosError::Store(error.to_string())
    }
}

impl From<crate::replay::client::ClientError> for ChaosError {
    fn from(error: crate::replay::client::ClientError) -> Self {
        ChaosError::Client(error.to_string())
    }
}

/// How to run the suite.
#[derive(Debug, Clone)]
pub struct ChaosOptions {
    /// The stack options of the command line (template, functions, DynamoDB).
    pub base: StackOptions,
    /// The time scale of the sessions (and the stack).
    pub time_scale: f64,
    /// How strictly the invariants are judged.
    pub check: CheckOptions,
}

impl ChaosOptions {
    /// The workspace the template is in.
    pub fn workspace(&self) -> PathBuf {
        self.base
            .template
            .parent()
            .and_then(|p| p.parent())
            .map(std::path::Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// The stack options: DynamoDB Local on disk, the clips' transcripts.
    pub fn stack_options(&self) -> Result<StackOptions, ChaosError> {
        let mut options = self.base.clone();
        options.time_scale = TimeScale::new(self.time_scale)
            .map_err(|e| ChaosError::Setup(format!("time scale: {e}")))?;
        options.persistent_dynamodb = true;
        // The DynamoDB cases kill and restart DynamoDB Local: the stack must
        // run its own, not one it shares.
        if let DynamoSource::Shared { .. } = options.dynamodb {
            options.dynamodb = DynamoSource::Local {
                cache_dir: crate::dynamodb::local::cache_dir(),
            };
        }
        options.capture_events = false;
        options.transcripts = transcripts_in(&self.audio_dir())
            .map_err(|e| ChaosError::Setup(format!("the clips' transcripts: {e}")))?;
        Ok(options)
    }

    fn audio_dir(&self) -> PathBuf {
        self.workspace().join("scenarios").join("audio")
    }

    /// A recorded clip of scenarios/audio.
    pub fn clip(&self, name: &str) -> Result<Arc<Clip>, ChaosError> {
        Clip::read(&self.audio_dir().join(name))
            .map(Arc::new)
            .map_err(|e| ChaosError::Setup(format!("clip {name}: {e}")))
    }
}

/// A case: an id, the fault it injects and what must hold besides the invariants.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CaseInfo {
    /// Id.
    pub id: &'static str,
    /// The fault injected.
    pub fault: &'static str,
    /// What the clients must see.
    pub expectation: &'static str,
}

/// Every case, in the order the suite runs them.
pub fn catalogue() -> Vec<CaseInfo> {
    cases::all()
}

/// What one case found.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    /// The case.
    pub case: CaseInfo,
    /// What was observed, in order.
    pub notes: Vec<String>,
    /// Expectations that did not hold (besides the invariants).
    pub problems: Vec<String>,
    /// Invariants broken.
    pub violations: Vec<Violation>,
    /// Invariants checked (those the case exercises).
    pub checked: Vec<Invariant>,
    /// Real time it took, ms.
    pub duration_ms: u64,
}

impl CaseReport {
    /// No problem, no violation.
    pub fn passed(&self) -> bool {
        self.problems.is_empty() && self.violations.is_empty()
    }
}

/// What a case works with.
pub struct Ctx<'a> {
    /// The stack.
    pub stack: &'a LocalStack,
    /// The options.
    pub options: &'a ChaosOptions,
    /// The user id prefix of this case (its sessions and assessments).
    pub user_prefix: String,
    /// What the clients saw.
    pub facts: ClientFacts,
    /// Observations.
    pub notes: Vec<String>,
    /// Failed expectations.
    pub problems: Vec<String>,
    /// Invariants this case exercises.
    pub checked: BTreeSet<Invariant>,
}

impl Ctx<'_> {
    /// Notes an observation.
    pub fn saw(&mut self, line: impl Into<String>) {
        self.notes.push(line.into());
    }

    /// Notes an expectation; a failed one fails the case.
    pub fn expect(&mut self, held: bool, what: impl Into<String>) {
        let what = what.into();
        if held {
            self.notes.push(format!("ok: {what}"));
        } else {
            self.notes.push(format!("FAILED: {what}"));
            self.problems.push(what);
        }
    }

    /// A user id of this case.
    pub fn user(&self, n: usize) -> String {
        format!("{}{n}", self.user_prefix)
    }

    /// The URL of a WebSocket API.
    pub fn url(&self, api: &str) -> Result<String, ChaosError> {
        self.stack
            .websocket(api)
            .map(|g| g.url())
            .ok_or_else(|| ChaosError::Setup(format!("the template has no {api}")))
    }
}

/// Runs one case on a running stack: the case, then the faults cleared, a
/// wait for quiet, the snapshot and the invariants.
pub async fn run_case(
    stack: &LocalStack,
    options: &ChaosOptions,
    case: CaseInfo,
) -> Result<CaseReport, ChaosError> {
    let began = Instant::now();
    let since_ms = chrono::Utc::now().timestamp_millis();
    let mut ctx = Ctx {
        stack,
        options,
        user_prefix: format!("chaos-{}-{:04x}-", case.id, rand::random::<u16>()),
        facts: ClientFacts::default(),
        notes: Vec::new(),
        problems: Vec::new(),
        checked: BTreeSet::new(),
    };
    let outcome = cases::run(case.id, &mut ctx).await;
    faults::clear_all(stack).await?;
    if let Err(e) = outcome {
        ctx.problems.push(format!("the case could not run: {e}"));
    }
    let quiet = faults::wait_quiet(stack, Duration::from_secs(60)).await;
    if !quiet {
        ctx.problems
            .push("function invocations still running 60 s after the case".to_owned());
    }
    let scope = Scope {
        user_prefix: ctx.user_prefix.clone(),
        since_ms,
    };
    let snapshot = collect::snapshot(stack, &scope, &ctx.facts, quiet).await?;
    let violations = check(&snapshot, options.check);
    let mut checked: Vec<Invariant> = ctx.checked.iter().copied().collect();
    for violation in &violations {
        if !checked.contains(&violation.invariant) {
            checked.push(violation.invariant);
        }
    }
    Ok(CaseReport {
        case,
        notes: ctx.notes,
        problems: ctx.problems,
        violations,
        checked,
        duration_ms: began.elapsed().as_millis() as u64,
    })
}

/// Runs cases (all when `only` is empty) on one stack.
pub async fn run_suite(
    options: &ChaosOptions,
    only: &[String],
    mut progress: impl FnMut(&CaseReport),
) -> Result<Vec<CaseReport>, ChaosError> {
    let all = catalogue();
    let selected: Vec<CaseInfo> = if only.is_empty() {
        all
    } else {
        let mut chosen = Vec::new();
        for id in only {
            let exact: Vec<CaseInfo> = all.iter().filter(|c| c.id == id).copied().collect();
            let found = if exact.is_empty() {
                all.iter()
                    .filter(|c| c.id.starts_with(id.as_str()))
                    .copied()
                    .collect::<Vec<_>>()
            } else {
                exact
            };
            if found.is_empty() {
                return Err(ChaosError::UnknownCase(id.clone()));
            }
            chosen.extend(found);
        }
        chosen
    };
    let stack = LocalStack::start(options.stack_options()?).await?;
    let mut reports = Vec::new();
    for case in selected {
        match run_case(&stack, options, case).await {
            Ok(report) => {
                progress(&report);
                reports.push(report);
            }
            Err(e) => {
                stack.stop().await;
                return Err(e);
            }
        }
    }
    stack.stop().await;
    Ok(reports)
}
