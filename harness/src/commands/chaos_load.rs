//! `harness chaos --sessions N` and `harness chaos --find-max`: load with
//! correctness (see [`crate::suites::chaos::load`]); prints a line per step and the
//! largest N held, and writes `chaos-load.json` and `chaos-load.md`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use super::CommandError;
use crate::cli::ChaosArgs;
use crate::suites::chaos::ChaosOptions;
use crate::suites::chaos::load::{self, LoadStep};

fn line(step: &LoadStep) -> String {
    let verdict = if step.held() { "HELD" } else { "NOT HELD" };
    let mut text = format!(
        "{verdict}: {} concurrent sessions: {} passed, {} assessments delivered, {} stored once, {} lost, {} violations, {:.1} s; invocations {:?}",
        step.sessions,
        step.passed,
        step.assessments_delivered,
        step.assessments_stored,
        step.lost,
        step.violations.len(),
        step.duration_ms as f64 / 1000.0,
        step.outcomes,
    );
    for failure in step.failures.iter().take(5) {
        let _ = write!(text, "\n    {failure}");
    }
    for late in step.late_audio.iter().take(5) {
        let _ = write!(text, "\n    LATE AUDIO {late}");
    }
    for violation in step.violations.iter().take(5) {
        let _ = write!(
            text,
            "\n    VIOLATION {}: {} {}",
            violation.invariant.id(),
            violation.subject,
            violation.detail
        );
    }
    text
}

fn table(steps: &[LoadStep], largest: Option<u32>, options: &ChaosOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| N | passed | delivered | stored once | lost | violations | late audio | seconds | held |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for s in steps {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {:.1} | {} |",
            s.sessions,
            s.passed,
            s.assessments_delivered,
            s.assessments_stored,
            s.lost,
            s.violations.len(),
            s.late_audio.len(),
            s.duration_ms as f64 / 1000.0,
            if s.held() { "yes" } else { "no" }
        );
    }
    if let Some(largest) = largest {
        let _ = writeln!(
            out,
            "\nLargest N held: {largest} (time scale {}, {} cores)",
            options.time_scale,
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
    }
    out
}

/// Runs the load with correctness.
pub(super) async fn run(
    args: &ChaosArgs,
    options: &ChaosOptions,
    dir: &Path,
    out: &mut impl std::io::Write,
) -> Result<ExitCode, CommandError> {
    let scenario = args
        .scenario
        .clone()
        .unwrap_or_else(|| load::default_scenario(options));
    writeln!(
        out,
        "harness chaos load: {} at time scale {}",
        scenario.display(),
        options.time_scale
    )?;
    out.flush()?;
    let fail = |e: crate::suites::chaos::ChaosError| CommandError::Usage(e.to_string());
    let (steps, largest) = if args.find_max {
        let (steps, largest) = load::find_max(options, &scenario, args.max_sessions, |step| {
            let _ = writeln!(out, "{}", line(step));
            let _ = out.flush();
        })
        .await
        .map_err(fail)?;
        (steps, Some(largest))
    } else {
        let n = args.sessions.unwrap_or(1);
        let step = load::run_step(options, &scenario, n).await.map_err(fail)?;
        writeln!(out, "{}", line(&step))?;
        (vec![step], None)
    };
    let markdown = table(&steps, largest, options);
    std::fs::write(dir.join("chaos-load.md"), &markdown)?;
    std::fs::write(
        dir.join("chaos-load.json"),
        serde_json::to_vec_pretty(&serde_json::json!({
            "scenario": scenario,
            "time_scale": options.time_scale,
            "steps": steps,
            "largest_held": largest,
        }))
        .unwrap_or_default(),
    )?;
    writeln!(out, "\n{markdown}\nresults in {}", dir.display())?;
    let ok = match largest {
        Some(largest) => largest > 0,
        None => steps.iter().all(LoadStep::held),
    };
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
