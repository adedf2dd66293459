//! Load with correctness: N concurrent full speaking sessions (a scenario,
//! by default scenarios/speaking/full-assessment.yaml, replayed N times at
//! once on a fresh local stack), judged on correctness rather than latency:
//! every session passes its scenario (no unexpected error, no missed
//! expectation, every message within the contract), every assessment a
//! session received is stored exactly once, and the invariants hold once the
//! stack is quiet; and no audio reached the model out of order (the
//! reference backend's owners warn when a chunk was written too late for its
//! place: the model heard scrambled speech even if the turns came out right).
//! [`find_max`] ramps N (doubling, then bisecting) to the
//! largest N the stack holds on this machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::collect::{self, ClientFacts, Scope};
use super::invariants::{Violation, check};
use super::{ChaosError, ChaosOptions, faults};
use crate::replay::{Run, RunOptions, Target};
use crate::scenario;
use crate::time_scale::TimeScale;

/// What one load step found.
#[derive(Debug, Clone, Serialize)]
pub struct LoadStep {
    /// Concurrent sessions.
    pub sessions: u32,
    /// Sessions that passed their scenario.
    pub passed: u32,
    /// Failures of the others (first of each session: `check: message`).
    pub failures: Vec<String>,
    /// Sessions whose socket got `assessment_complete` (passed sessions).
    pub assessments_delivered: u32,
    /// Completed sessions with their one stored assessment.
    pub assessments_stored: u32,
    /// Assessments delivered but not stored.
    pub lost: u32,
    /// Invariants broken once the stack was quiet.
    pub violations: Vec<Violation>,
    /// The functions' warnings that audio reached the model out of order.
    pub late_audio: Vec<String>,
    /// Real time of the sessions, ms.
    pub duration_ms: u64,
    /// Function invocations by outcome (`success`, `crash`, `timeout`...).
    pub outcomes: BTreeMap<String, u64>,
}

impl LoadStep {
    /// Held: every session passed, nothing lost, no violation.
    pub fn held(&self) -> bool {
        self.passed == self.sessions
            && self.lost == 0
            && self.violations.is_empty()
            && self.late_audio.is_empty()
    }
}

/// The default scenario: a whole 14-minute IELTS speaking test.
pub fn default_scenario(options: &ChaosOptions) -> PathBuf {
    options
        .workspace()
        .join("scenarios")
        .join("speaking")
        .join("full-assessment.yaml")
}

/// Runs `n` concurrent sessions of `scenario` on a fresh stack.
pub async fn run_step(
    options: &ChaosOptions,
    scenario_path: &Path,
    n: u32,
) -> Result<LoadStep, ChaosError> {
    let loaded = scenario::load(scenario_path)
        .map_err(|e| ChaosError::Setup(format!("the scenario: {e}")))?;
    let time_scale = TimeScale::new(options.time_scale)
        .map_err(|e| ChaosError::Setup(format!("time scale: {e}")))?;
    let mut stack_options = options.stack_options()?;
    stack_options.persistent_dynamodb = false;
    let run_options = RunOptions {
        target: Target::Local(Box::new(stack_options)),
        time_scale,
        sessions: Some(n),
        spec_dir: options.workspace().join("backend").join("spec"),
        command: format!("harness chaos --sessions {n}"),
        progress: false,
    };
    let clips = [(loaded.path.as_path(), &loaded.clips)];
    let run = Run::start(run_options, &loaded.scenario.parameters, &clips)
        .await
        .map_err(|e| ChaosError::Setup(e.to_string()))?;
    let began = Instant::now();
    let report = run.scenario(&loaded).await;
    let duration_ms = began.elapsed().as_millis() as u64;
    let stack = run
        .stack()
        .ok_or_else(|| ChaosError::Setup("the run started no local stack".to_owned()))?;
    let report = match report {
        Ok(report) => report,
        Err(e) => {
            run.finish(Vec::new(), Vec::new()).await;
            return Err(ChaosError::Setup(e.to_string()));
        }
    };
    let quiet = faults::wait_quiet(stack, Duration::from_secs(120)).await;
    let snapshot =
        collect::snapshot(stack, &Scope::default(), &ClientFacts::default(), quiet).await?;
    let violations = check(&snapshot, options.check);
    let mut outcomes = BTreeMap::new();
    for record in stack.lambda().records() {
        *outcomes.entry(record.outcome.clone()).or_insert(0) += 1;
    }
    let passed = report.sessions.iter().filter(|s| s.passed).count() as u32;
    let failures: Vec<String> = report
        .sessions
        .iter()
        .filter(|s| !s.passed)
        .map(|s| match s.failures.first() {
            Some(f) => format!("session {}: {} {}: {}", s.index, f.step, f.check, f.message),
            None => format!("session {}: failed", s.index),
        })
        .collect();
    let completed_with_one = snapshot
        .sessions
        .iter()
        .filter(|s| s.status == "completed")
        .filter(|s| {
            snapshot
                .assessments
                .iter()
                .filter(|a| a.session_id.as_deref() == Some(s.session_id.as_str()))
                .count()
                == 1
        })
        .count() as u32;
    let late_audio = late_audio_warnings(&stack.lambda().logs().all());
    run.finish(vec![report], Vec::new()).await;
    Ok(LoadStep {
        sessions: n,
        passed,
        failures,
        assessments_delivered: passed,
        assessments_stored: completed_with_one,
        lost: passed.saturating_sub(completed_with_one),
        violations,
        late_audio,
        duration_ms,
        outcomes,
    })
}

/// The lines of `logs` (by function) that say audio reached the model out of
/// order (see `backend::session_owner::relay_inbox`), each prefixed with its function.
fn late_audio_warnings(logs: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    logs.iter()
        .flat_map(|(function, lines)| {
            lines
                .iter()
                .filter(|line| line.contains("out of order"))
                .map(move |line| format!("{function}: {line}"))
        })
        .collect()
}

/// The ramp: 1, 2, 4... until a step does not hold (or `max`), then
/// bisection between the last N that held and the first that did not.
/// Returns every step run and the largest N that held (0 when none did).
pub async fn find_max(
    options: &ChaosOptions,
    scenario_path: &Path,
    max: u32,
    mut progress: impl FnMut(&LoadStep),
) -> Result<(Vec<LoadStep>, u32), ChaosError> {
    let mut steps = Vec::new();
    let mut held = 0;
    let mut failed = None;
    let mut n = 1;
    while n <= max {
        let step = run_step(options, scenario_path, n).await?;
        progress(&step);
        let ok = step.held();
        steps.push(step);
        if !ok {
            failed = Some(n);
            break;
        }
        held = n;
        n = if n == max { max + 1 } else { (n * 2).min(max) };
    }
    if let Some(mut bad) = failed {
        while bad - held > 1 {
            let mid = held + (bad - held) / 2;
            let step = run_step(options, scenario_path, mid).await?;
            progress(&step);
            if step.held() {
                held = mid;
            } else {
                bad = mid;
            }
            steps.push(step);
        }
    }
    Ok((steps, held))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step() -> LoadStep {
        LoadStep {
            sessions: 2,
            passed: 2,
            failures: Vec::new(),
            assessments_delivered: 2,
            assessments_stored: 2,
            lost: 0,
            violations: Vec::new(),
            late_audio: Vec::new(),
            duration_ms: 1,
            outcomes: BTreeMap::new(),
        }
    }

    #[test]
    fn audio_out_of_order_means_the_step_did_not_hold() {
        assert!(step().held());
        let logs = BTreeMap::from([
            (
                "speaking".to_owned(),
                vec![
                    "INFO session started".to_owned(),
                    "WARN audio relayed out of order: received 430 ms before...".to_owned(),
                ],
            ),
            ("chat".to_owned(), vec!["WARN post failed".to_owned()]),
        ]);
        let late = late_audio_warnings(&logs);
        assert_eq!(
            late,
            ["speaking: WARN audio relayed out of order: received 430 ms before..."]
        );
        let mut scrambled = step();
        scrambled.late_audio = late;
        assert!(!scrambled.held());
    }
}
