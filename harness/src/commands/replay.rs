//! `harness run` and `harness conform`: replay scenarios or a conformance
//! suite, write the reports, print where they are, exit 0 only on success.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{CommandError, target_and_contracts};
use crate::cli::{ConformArgs, RunArgs, TargetArgs};
use crate::replay::{self, Run, RunOptions, Target};
use crate::report::model::RunReport;

fn run_options(args: &TargetArgs, quiet: bool) -> Result<RunOptions, CommandError> {
    let (target, spec_dir) = target_and_contracts(
        args.target.as_deref(),
        args.spec_dir.as_deref(),
        &args.stack,
        &["ws://", "wss://"],
        "a WebSocket API URL",
        quiet,
    )?;
    Ok(RunOptions {
        target,
        time_scale: args.stack.time_scale.unwrap_or_default(),
        sessions: None,
        spec_dir,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        progress: !quiet,
    })
}

fn conclude(report: &RunReport, report_dir: &Path, quiet: bool) -> Result<ExitCode, CommandError> {
    let folder = crate::report::write(report_dir, report)?;
    let mut stdout = std::io::stdout().lock();
    if !quiet {
        for (name, summary) in &report.metrics {
            writeln!(
                stdout,
                "{name:<40} n={:<6} p50={:>8.1} ms  p95={:>8.1} ms  p99={:>8.1} ms",
                summary.count,
                summary.p50_us as f64 / 1000.0,
                summary.p95_us as f64 / 1000.0,
                summary.p99_us as f64 / 1000.0
            )?;
        }
        for scenario in &report.scenarios {
            for warning in &scenario.warnings {
                writeln!(stdout, "warning {}: {warning}", scenario.name)?;
            }
            for session in &scenario.sessions {
                let Some(conversation) = &session.conversation else {
                    continue;
                };
                writeln!(
                    stdout,
                    "{} session {}: {} model turns, {} utterances",
                    scenario.name,
                    session.index,
                    conversation.turns.len(),
                    conversation.utterances.len()
                )?;
                for turn in &conversation.turns {
                    writeln!(
                        stdout,
                        "  turn {:>2} {:>7.1} s {:<8} {:>6} {}",
                        turn.index,
                        turn.start_ms as f64 / 1000.0,
                        turn.part.as_deref().unwrap_or("-"),
                        turn.latency_ms
                            .map_or("-".to_owned(), |l| format!("{l} ms")),
                        crate::report::markup::shorten(&turn.text, 90)
                    )?;
                }
            }
            for session in scenario.sessions.iter().filter(|s| !s.passed) {
                for failure in &session.failures {
                    writeln!(
                        stdout,
                        "FAIL {} session {} {}: {}",
                        scenario.name, session.index, failure.check, failure.message
                    )?;
                }
            }
        }
        for suite in &report.suites {
            for case in &suite.cases {
                writeln!(
                    stdout,
                    "{:<14} {:<6} close {:<5} {}",
                    case.verdict, case.id, case.close_verdict, case.description
                )?;
            }
        }
    }
    if let Some(stack) = report.stack.as_ref().filter(|_| !quiet) {
        for (function, f) in stack
            .functions
            .iter()
            .filter(|(_, f)| f.warnings_logged > 0)
        {
            writeln!(
                stdout,
                "{function} logged {} warnings or errors (report.md lists them); the last: {}",
                f.warnings_logged,
                crate::report::markup::shorten(
                    &f.warnings
                        .last()
                        .map(|line| crate::lambda::readable(line))
                        .unwrap_or_default(),
                    200
                )
            )?;
        }
    }
    if let Some(cost) = report.cost.as_ref().filter(|_| !quiet) {
        writeln!(
            stdout,
            "cost of one session normalised to {:.0} min: ${:.6} (pricing table of {}; details: harness cost {})",
            cost.normalised_seconds / 60.0,
            cost.per_session.total_usd,
            cost.pricing_date,
            folder.display()
        )?;
    }
    let verdict = if report.passed { "PASS" } else { "FAIL" };
    writeln!(stdout, "{verdict}: report in {}", folder.display())?;
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `harness run`.
pub(super) async fn run(args: &RunArgs, quiet: bool) -> Result<ExitCode, CommandError> {
    let scenarios = args
        .scenarios
        .iter()
        .map(|path| crate::scenario::load(path))
        .collect::<Result<Vec<_>, _>>()?;
    let mut options = run_options(&args.target, quiet)?;
    options.sessions = args.sessions;
    let report = replay::run_scenarios(&scenarios, options).await?;
    conclude(&report, &args.target.report_dir, quiet)
}

/// `harness conform`.
pub(super) async fn conform(args: &ConformArgs, quiet: bool) -> Result<ExitCode, CommandError> {
    let options = run_options(&args.target, quiet)?;
    let path = match &args.suite {
        Some(path) => path.clone(),
        None => match &options.target {
            Target::Local(stack) => stack
                .template
                .parent()
                .and_then(Path::parent)
                .unwrap_or(Path::new("."))
                .join("scenarios/conformance"),
            Target::Url(_) => PathBuf::from("scenarios/conformance"),
        }
        .join(format!("{}.yaml", args.api)),
    };
    let loaded = crate::scenario::load_suite(&path)?;
    if loaded.suite.api != args.api {
        return Err(CommandError::Usage(format!(
            "suite {} targets {}, not {}",
            path.display(),
            loaded.suite.api,
            args.api
        )));
    }
    let clips = [(loaded.path.as_path(), &loaded.clips)];
    let mut run = Run::start(options, &loaded.suite.parameters, &clips).await?;
    let total: u64 = loaded
        .suite
        .cases
        .iter()
        .filter(|c| {
            args.case
                .as_deref()
                .is_none_or(|prefix| c.id.starts_with(prefix))
        })
        .map(|c| replay::count_steps(&c.steps))
        .sum();
    run.show_progress(total, "conformance");
    let report = match replay::conformance::run_suite(&run, &loaded, args.case.as_deref()).await {
        Ok(suite_report) => run.finish(Vec::new(), vec![suite_report]).await,
        Err(e) => {
            run.finish(Vec::new(), Vec::new()).await;
            return Err(e.into());
        }
    };
    conclude(&report, &args.target.report_dir, quiet)
}
