//! Passes (`harness load --passes N`): the plan run N times on one started
//! stack or against one target, the setup done once. Passes before the last
//! warm the functions up (the first meets cold Lambda instances, as Lambda
//! starts them); each pass's figures are kept in `load.json`, and the run's
//! metrics are reset between passes so that the thresholds and
//! `report.json`'s metrics are the last pass's.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::plan::LoadPlan;
use super::summary::GooseFigures;
use super::thresholds::Counts;
use super::{LoadError, LoadOptions, Shared, attack, prepare};
use crate::lambda::InvocationRecord;
use crate::metrics::Summary;
use crate::replay::Run;
use crate::scenario::LoadedScenario;

/// What one pass measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PassFigures {
    /// The pass's number, from 1; the last pass is the run's (thresholds,
    /// `report.json`).
    pub pass: u32,
    /// How long the pass ran (ms).
    pub duration_ms: u64,
    /// WebSocket sessions run.
    pub sessions: u64,
    /// Of which failed.
    pub failed_sessions: u64,
    /// The counts behind the rates.
    pub counts: Counts,
    /// Latencies by metric name (`http_req`, each route or operation), as in
    /// `report.json`'s metrics.
    pub metrics: BTreeMap<String, Summary>,
    /// Errors by kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, u64>,
    /// Lambda invocations by function (local stack only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub invocations: BTreeMap<String, u64>,
    /// Cold starts by function (local stack only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cold_starts: BTreeMap<String, u64>,
}

/// Prepares the segment once, then runs its attack `options.passes` times;
/// returns what the last pass's users shared, goose's figures of the last
/// pass, and each pass's figures (none for a single pass).
pub(super) async fn run_passes(
    options: &LoadOptions,
    plan: &Arc<LoadPlan>,
    scenario: Option<LoadedScenario>,
    connects_per_session: u32,
    run: &Run,
    folder: &Path,
) -> Result<(Arc<Shared>, GooseFigures, Vec<PassFigures>), LoadError> {
    let prepared = prepare(options, plan, scenario, connects_per_session, run).await?;
    let mut figures = Vec::new();
    let mut last = None;
    for pass in 1..=options.passes {
        let start = PassStart::begin(pass, run);
        let (shared, goose) = attack(options, plan, &prepared, run, folder).await?;
        if options.passes > 1 {
            let pass_figures = start.figures(run, &shared);
            tracing::info!(
                "pass {pass} of {}: {} operations ({} failed) in {} ms, {} cold starts",
                options.passes,
                pass_figures.counts.operations,
                pass_figures.counts.failed,
                pass_figures.duration_ms,
                pass_figures.cold_starts.values().sum::<u64>()
            );
            figures.push(pass_figures);
        }
        last = Some((shared, goose));
    }
    let (shared, goose) =
        last.ok_or_else(|| LoadError::Plan("a run makes at least one pass".into()))?;
    Ok((shared, goose, figures))
}

/// Where a pass began: its number, its clock, how many invocations the
/// local stack had recorded.
struct PassStart {
    pass: u32,
    started: Instant,
    records_before: usize,
}

impl PassStart {
    /// Pass `pass` begins now; a pass after the first starts from empty metrics.
    fn begin(pass: u32, run: &Run) -> Self {
        if pass > 1 {
            run.metrics().reset();
        }
        Self {
            pass,
            started: Instant::now(),
            records_before: run
                .stack()
                .map_or(0, |stack| stack.lambda().records().len()),
        }
    }

    /// The pass's figures, once its users are done.
    fn figures(self, run: &Run, shared: &Shared) -> PassFigures {
        let records = run
            .stack()
            .map(|stack| stack.lambda().records())
            .unwrap_or_default();
        let ours = records.get(self.records_before..).unwrap_or_default();
        let (invocations, cold_starts) = invocations_by_function(ours);
        PassFigures {
            pass: self.pass,
            duration_ms: self.started.elapsed().as_millis() as u64,
            sessions: shared.sessions.load(Ordering::Relaxed),
            failed_sessions: shared.failed_sessions.load(Ordering::Relaxed),
            counts: *shared.counts.lock().expect("counts lock"),
            metrics: run.metrics().summaries(),
            errors: run.metrics().errors(),
            invocations,
            cold_starts,
        }
    }
}

/// Invocations and cold starts by function.
fn invocations_by_function(
    records: &[InvocationRecord],
) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let (mut invocations, mut cold_starts) = (BTreeMap::new(), BTreeMap::new());
    for record in records {
        *invocations.entry(record.function.clone()).or_insert(0) += 1;
        if record.cold_start {
            *cold_starts.entry(record.function.clone()).or_insert(0) += 1;
        }
    }
    (invocations, cold_starts)
}
