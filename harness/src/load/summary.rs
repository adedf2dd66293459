//! `load.json`: what a load run adds to its `report.json` (the plan, the
//! model, the segments, the counts behind the rates, the thresholds judged,
//! goose's own figures, each pass's figures when the run made several), and
//! `harness merge`: segments' run folders merged into one (HDR histograms
//! through `Metrics::merge_serialized`, counts, errors, contract tallies,
//! invocations, any usage meters added up, thresholds judged again on the
//! merged figures).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::passes::PassFigures;
use super::thresholds::{self, Counts, Judgement};
use crate::metrics::{MAX_SERIES, Metrics};
use crate::report::model::{FunctionReport, RunReport, StackReport};

/// The load summary file's name in a run folder.
pub(crate) const FILE: &str = "load.json";

/// Failed sessions kept in a merged report.
const MAX_MERGED_FAILURES: usize = 50;

/// What goose measured (its own report is `goose.html` / `goose.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GooseFigures {
    /// Requests goose recorded (HTTP requests and WebSocket operations).
    pub requests: u64,
    /// Of which failed.
    pub failed: u64,
    /// Requests by `METHOD name`.
    pub by_request: BTreeMap<String, u64>,
    /// Most users running at once.
    pub maximum_users: u64,
    /// How long goose ran (s).
    pub duration_s: u64,
    /// goose's report files.
    pub reports: Vec<String>,
}

impl GooseFigures {
    /// Reads goose's metrics after a run.
    pub fn from_metrics(metrics: &goose::metrics::GooseMetrics, folder: &Path) -> Self {
        let mut figures = GooseFigures {
            maximum_users: metrics.maximum_users as u64,
            duration_s: metrics.duration as u64,
            ..GooseFigures::default()
        };
        for (key, aggregate) in &metrics.requests {
            let count = (aggregate.success_count + aggregate.fail_count) as u64;
            figures.requests += count;
            figures.failed += aggregate.fail_count as u64;
            *figures.by_request.entry(key.clone()).or_insert(0) += count;
        }
        figures.reports = ["goose.html", "goose.json"]
            .iter()
            .filter(|name| folder.join(name).is_file())
            .map(|name| (*name).to_owned())
            .collect();
        figures
    }

    fn add(&mut self, other: &GooseFigures) {
        self.requests += other.requests;
        self.failed += other.failed;
        for (key, count) in &other.by_request {
            *self.by_request.entry(key.clone()).or_insert(0) += count;
        }
        self.maximum_users += other.maximum_users;
        self.duration_s = self.duration_s.max(other.duration_s);
    }
}

/// `load.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoadSummary {
    /// The plan's name.
    pub plan: String,
    /// The plan file.
    pub plan_path: String,
    /// `http` or `websocket`.
    pub kind: String,
    /// `closed` or `open`.
    pub model: String,
    /// The segments behind these figures (`0/1` for a whole run).
    pub segments: Vec<String>,
    pub time_scale: f64,
    /// Whether the AWS quotas were enforced.
    pub quotas_enforced: bool,
    /// WebSocket sessions run.
    pub sessions: u64,
    /// Of which failed.
    pub failed_sessions: u64,
    /// The counts behind the rates.
    pub counts: Counts,
    /// The threshold rules.
    pub rules: Vec<String>,
    /// The rules judged.
    pub thresholds: Vec<Judgement>,
    /// goose's figures.
    pub goose: GooseFigures,
    /// Each pass's figures, when the run made several (`--passes N`): the
    /// figures above, the thresholds and `report.json`'s metrics are the
    /// last pass's; `report.json`'s invocations and usage cover every pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passes: Vec<PassFigures>,
}

/// Writes `load.json` into a run folder.
pub(crate) fn write(folder: &Path, summary: &LoadSummary) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(summary).map_err(std::io::Error::other)?;
    std::fs::write(folder.join(FILE), text)
}

/// Why folders could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A file.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The folders are not parts of one plan.
    #[error("{0}")]
    Mismatch(String),
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, MergeError> {
    let file = |message: String| MergeError::File {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| file(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| file(e.to_string()))
}

/// Adds the numbers of `other` into `into`, key by key (usage meters).
fn add_numbers(into: &mut Value, other: &Value) {
    match (into, other) {
        (Value::Object(left), Value::Object(right)) => {
            for (key, value) in right {
                match left.get_mut(key) {
                    Some(existing) => add_numbers(existing, value),
                    None => {
                        left.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Number(left), Value::Number(right)) => {
            let sum = match (left.as_u64(), right.as_u64()) {
                (Some(a), Some(b)) => Value::from(a + b),
                _ => Value::from(left.as_f64().unwrap_or(0.0) + right.as_f64().unwrap_or(0.0)),
            };
            *left = match sum {
                Value::Number(n) => n,
                _ => left.clone(),
            };
        }
        _ => {}
    }
}

fn add_functions(into: &mut StackReport, other: &StackReport) {
    for (name, function) in &other.functions {
        let entry: &mut FunctionReport = into.functions.entry(name.clone()).or_default();
        entry.invocations += function.invocations;
        entry.cold_starts += function.cold_starts;
        entry.init_ms.extend(function.init_ms.iter().copied());
        entry.billed_ms += function.billed_ms;
        entry.memory_mb = function.memory_mb;
        entry.architecture = function.architecture.clone();
        for (route, count) in &function.by_route {
            *entry.by_route.entry(route.clone()).or_insert(0) += count;
        }
        for (outcome, count) in &function.outcomes {
            *entry.outcomes.entry(outcome.clone()).or_insert(0) += count;
        }
    }
}

/// Merged folders.
#[derive(Debug)]
pub(crate) struct Merged {
    /// The merged report.
    pub report: RunReport,
    /// The merged summary (thresholds judged again).
    pub summary: LoadSummary,
    /// Where they were written.
    pub folder: PathBuf,
}

/// Merges the run folders of a plan's segments into `report_dir/<new id>/`.
pub(crate) fn merge(
    dirs: &[PathBuf],
    report_dir: &Path,
    command: &str,
) -> Result<Merged, MergeError> {
    let mut reports: Vec<(RunReport, Value, LoadSummary)> = Vec::new();
    for dir in dirs {
        let report: RunReport = read_json(&dir.join("report.json"))?;
        let raw: Value = read_json(&dir.join("report.json"))?;
        let summary: LoadSummary = read_json(&dir.join(FILE))?;
        reports.push((report, raw, summary));
    }
    let Some((first, _, first_summary)) = reports.first().cloned() else {
        return Err(MergeError::Mismatch("nothing to merge".into()));
    };
    let mut segments = Vec::new();
    for (_, _, summary) in &reports {
        if summary.plan != first_summary.plan || summary.rules != first_summary.rules {
            return Err(MergeError::Mismatch(format!(
                "{} and {} are runs of different plans",
                first_summary.plan, summary.plan
            )));
        }
        for segment in &summary.segments {
            if segments.contains(segment) {
                return Err(MergeError::Mismatch(format!(
                    "segment {segment} appears twice"
                )));
            }
            segments.push(segment.clone());
        }
    }
    let metrics = Metrics::default();
    let mut merged = first.clone();
    let mut summary = first_summary;
    summary.segments = segments;
    summary.sessions = 0;
    summary.failed_sessions = 0;
    summary.counts = Counts::default();
    summary.goose = GooseFigures::default();
    // Percentiles of segments' passes do not add up; the merged figures are
    // the last passes' (their histograms).
    summary.passes.clear();
    merged.errors.clear();
    merged.conformance = Default::default();
    merged.series.clear();
    merged.stack = None;
    merged.duration_ms = 0;
    let mut failures = Vec::new();
    let mut extras = serde_json::Map::new();
    let known: Vec<String> = match serde_json::to_value(&first) {
        Ok(Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    };
    for (report, raw, part) in &reports {
        metrics
            .merge_serialized(&report.histograms)
            .map_err(|message| MergeError::File {
                path: "report.json histograms".into(),
                message,
            })?;
        for (kind, count) in &report.errors {
            *merged.errors.entry(kind.clone()).or_insert(0) += count;
        }
        let tally = &mut merged.conformance;
        tally.checked += report.conformance.checked;
        tally.valid += report.conformance.valid;
        tally.invalid += report.conformance.invalid;
        tally.unknown += report.conformance.unknown;
        for (name, count) in &report.conformance.by_message {
            *tally.by_message.entry(name.clone()).or_insert(0) += count;
        }
        for (name, samples) in &report.series {
            let series = merged.series.entry(name.clone()).or_default();
            series.extend(samples.iter().cloned());
        }
        if let Some(stack) = &report.stack {
            add_functions(
                merged.stack.get_or_insert_with(|| StackReport {
                    functions: BTreeMap::new(),
                }),
                stack,
            );
        }
        for scenario in &report.scenarios {
            failures.extend(scenario.sessions.iter().cloned());
        }
        merged.duration_ms = merged.duration_ms.max(report.duration_ms);
        summary.sessions += part.sessions;
        summary.failed_sessions += part.failed_sessions;
        summary.counts.add(&part.counts);
        summary.goose.add(&part.goose);
        if let Value::Object(fields) = raw {
            for (key, value) in fields {
                if !known.contains(key) && !value.is_null() {
                    match extras.get_mut(key) {
                        Some(existing) => add_numbers(existing, value),
                        None => {
                            extras.insert(key.clone(), value.clone());
                        }
                    }
                }
            }
        }
    }
    for series in merged.series.values_mut() {
        series.sort_by_key(|s| s.at_ms);
        series.truncate(MAX_SERIES);
    }
    failures.truncate(MAX_MERGED_FAILURES);
    for scenario in merged.scenarios.iter_mut() {
        scenario.sessions = failures.clone();
        scenario.passed = summary.failed_sessions == 0;
    }
    merged.metrics = metrics.summaries();
    merged.histograms = metrics.serialized();
    merged.run_id = format!("{}-merged", crate::replay::new_run_id());
    merged.command = command.to_owned();
    summary.thresholds = thresholds::evaluate(
        &summary.rules,
        &merged.metrics,
        &merged.histograms,
        &summary.counts,
    );
    merged.passed = summary.thresholds.iter().all(|j| j.passed);
    let folder = crate::report::write(report_dir, &merged).map_err(|e| MergeError::File {
        path: report_dir.display().to_string(),
        message: e.to_string(),
    })?;
    if !extras.is_empty() {
        // Usage meters (and any section this harness does not model) added up.
        let mut raw = serde_json::to_value(&merged).unwrap_or_default();
        if let Value::Object(map) = &mut raw {
            map.extend(extras);
        }
        let text = serde_json::to_string_pretty(&raw).unwrap_or_default();
        std::fs::write(folder.join("report.json"), text).map_err(|e| MergeError::File {
            path: folder.display().to_string(),
            message: e.to_string(),
        })?;
    }
    write(&folder, &summary).map_err(|e| MergeError::File {
        path: folder.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(Merged {
        report: merged,
        summary,
        folder,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_summary_without_passes_reads_and_writes_as_before() {
        let older = json!({
            "plan": "p", "plan_path": "p.yaml", "kind": "http", "model": "closed",
            "segments": ["0/1"], "time_scale": 1.0, "quotas_enforced": true,
            "sessions": 0, "failed_sessions": 0, "counts": Counts::default(),
            "rules": [], "thresholds": [], "goose": GooseFigures::default(),
        });
        let summary: LoadSummary = serde_json::from_value(older.clone()).unwrap();
        assert!(summary.passes.is_empty());
        assert_eq!(serde_json::to_value(&summary).unwrap(), older);
    }

    #[test]
    fn usage_meters_add_up_key_by_key() {
        let mut left =
            json!({"dynamodb": {"T": {"rru": 1.5, "calls": 2}}, "lambda": {"requests": 3}});
        add_numbers(
            &mut left,
            &json!({"dynamodb": {"T": {"rru": 0.5, "calls": 1}, "U": {"calls": 4}}, "lambda": {"requests": 3}}),
        );
        assert_eq!(
            left,
            json!({"dynamodb": {"T": {"rru": 2.0, "calls": 3}, "U": {"calls": 4}}, "lambda": {"requests": 6}})
        );
    }
}
