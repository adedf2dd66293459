//! `harness load` and `harness merge`: run a plan (or a segment of it) or
//! merge segments, print the figures and the thresholds, exit 0 only when
//! every threshold holds.

use std::io::Write as _;
use std::process::ExitCode;

use super::{CommandError, target_and_contracts};
use crate::cli::{LoadArgs, MergeArgs};
use crate::load::passes::PassFigures;
use crate::load::plan::PlanKind;
use crate::load::summary::LoadSummary;
use crate::load::{self, LoadOptions};
use crate::metrics::Summary;
use crate::report::model::RunReport;

/// `harness load`.
pub(super) async fn run(args: &LoadArgs, quiet: bool) -> Result<ExitCode, CommandError> {
    let plan = load::plan::load(&args.plan)?;
    let schemes: &[&str] = match plan.kind() {
        PlanKind::Http => &["http://", "https://"],
        PlanKind::WebSocket => &["ws://", "wss://"],
    };
    let (target, spec_dir) = target_and_contracts(
        args.target.as_deref(),
        args.spec_dir.as_deref(),
        &args.stack,
        schemes,
        "this plan's target",
        false,
    )?;
    let outcome = load::run(LoadOptions {
        plan_path: args.plan.clone(),
        plan,
        target,
        time_scale: args.stack.time_scale.unwrap_or_default(),
        segment: args.segment,
        passes: args.passes,
        override_quotas: args.override_quotas,
        spec_dir,
        report_dir: args.report_dir.clone(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
    })
    .await?;
    conclude(&outcome.report, &outcome.summary, &outcome.folder, quiet)
}

/// `harness merge`.
pub(super) fn merge(args: &MergeArgs, quiet: bool) -> Result<ExitCode, CommandError> {
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let merged = load::summary::merge(&args.dirs, &args.report_dir, &command)?;
    conclude(&merged.report, &merged.summary, &merged.folder, quiet)
}

fn conclude(
    report: &RunReport,
    summary: &LoadSummary,
    folder: &std::path::Path,
    quiet: bool,
) -> Result<ExitCode, CommandError> {
    let mut stdout = std::io::stdout().lock();
    if !quiet {
        writeln!(
            stdout,
            "plan {} ({} model, segments {}): {} operations, {} failed; {} sessions ({} failed); \
             {} HTTP requests; goose recorded {} requests",
            summary.plan,
            summary.model,
            summary.segments.join(","),
            summary.counts.operations,
            summary.counts.failed,
            summary.sessions,
            summary.failed_sessions,
            summary.counts.http_requests,
            summary.goose.requests
        )?;
        print_passes(&mut stdout, summary)?;
        for (name, s) in &report.metrics {
            writeln!(stdout, "{}", metric_line(name, s))?;
        }
        for (kind, count) in &report.errors {
            writeln!(stdout, "error {kind}: {count}")?;
        }
    }
    for judgement in &summary.thresholds {
        writeln!(
            stdout,
            "threshold {:<40} {} ({})",
            judgement.rule,
            if judgement.passed { "PASS" } else { "FAIL" },
            judgement.detail
        )?;
    }
    let verdict = if report.passed { "PASS" } else { "FAIL" };
    writeln!(stdout, "{verdict}: report in {}", folder.display())?;
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        // Broken thresholds: exit 99, as k6 does, apart from errors (1).
        ExitCode::from(THRESHOLDS_BROKEN)
    })
}

/// The passes of a run of several (`--passes N`): for each pass before the
/// last, a line and then one per metric and error kind; then the line of the
/// last pass, whose figures (the report's) follow.
fn print_passes(out: &mut impl std::io::Write, summary: &LoadSummary) -> std::io::Result<()> {
    let Some((last, earlier)) = summary.passes.split_last() else {
        return Ok(());
    };
    let line = |pass: &PassFigures, role: &str| {
        let cold_starts: Vec<String> = pass
            .cold_starts
            .iter()
            .map(|(function, count)| format!("{function} {count}"))
            .collect();
        format!(
            "pass {} of {} ({role}): {} operations, {} failed, {:.1} s; cold starts: {}",
            pass.pass,
            last.pass,
            pass.counts.operations,
            pass.counts.failed,
            pass.duration_ms as f64 / 1000.0,
            if cold_starts.is_empty() {
                "none recorded".to_owned()
            } else {
                cold_starts.join(", ")
            }
        )
    };
    for pass in earlier {
        writeln!(out, "{}", line(pass, "warm-up, not judged"))?;
        for (name, s) in &pass.metrics {
            writeln!(out, "  {}", metric_line(name, s))?;
        }
        for (kind, count) in &pass.errors {
            writeln!(out, "  error {kind}: {count}")?;
        }
    }
    writeln!(out, "{}", line(last, "judged"))
}

/// A metric's count and percentiles, on one line.
fn metric_line(name: &str, s: &Summary) -> String {
    format!(
        "{name:<40} n={:<7} p50={:>8.1} ms  p95={:>8.1} ms  p99={:>8.1} ms  max={:>8.1} ms",
        s.count,
        s.p50_us as f64 / 1000.0,
        s.p95_us as f64 / 1000.0,
        s.p99_us as f64 / 1000.0,
        s.max_us as f64 / 1000.0
    )
}

/// The exit status of a run whose thresholds broke (k6's).
pub(super) const THRESHOLDS_BROKEN: u8 = 99;
