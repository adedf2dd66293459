//! `harness chaos`: list the reliability cases, run them (all or some) on the
//! local stack and print the results table, or run the load with
//! correctness (`--sessions N`, `--find-max`). Results go to
//! `reports/chaos-<run-id>/` (`chaos.md`, `chaos.json`).

use std::io::Write as _;
use std::process::ExitCode;

use super::{CommandError, build_functions, stack_options};
use crate::cli::ChaosArgs;
use crate::suites::chaos::{self, ChaosOptions, CheckOptions};

/// The time scale the suite runs at unless told otherwise.
const DEFAULT_SCALE: f64 = 10.0;

/// `harness chaos`.
pub(super) async fn run(args: &ChaosArgs) -> Result<ExitCode, CommandError> {
    // Not locked: the cases print from the task as they end.
    let mut stdout = std::io::stdout();
    if args.list {
        for case in chaos::catalogue() {
            writeln!(
                stdout,
                "{}\n    fault:       {}\n    expectation: {}",
                case.id, case.fault, case.expectation
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let base = stack_options(&args.stack)?;
    if !args.stack.no_build {
        build_functions(&base.template, &base.functions_dir, false)?;
    }
    let options = ChaosOptions {
        base,
        time_scale: args
            .stack
            .time_scale
            .map_or(DEFAULT_SCALE, |scale| scale.factor()),
        check: CheckOptions::default(),
    };
    let dir = args
        .report_dir
        .join(format!("chaos-{}", crate::replay::new_run_id()));
    std::fs::create_dir_all(&dir)?;
    if args.find_max || args.sessions.is_some() {
        return super::chaos_load::run(args, &options, &dir, &mut stdout).await;
    }
    writeln!(stdout, "harness chaos at time scale {}", options.time_scale)?;
    stdout.flush()?;
    let reports = chaos::run_suite(&options, &args.cases, |report| {
        let mut out = std::io::stdout();
        let verdict = if report.passed() { "PASS" } else { "FAIL" };
        let _ = writeln!(
            out,
            "{verdict}: {} ({} ms)",
            report.case.id, report.duration_ms
        );
        for line in &report.notes {
            let _ = writeln!(out, "    {line}");
        }
        for violation in &report.violations {
            let _ = writeln!(
                out,
                "    VIOLATION {}: {} {}",
                violation.invariant.id(),
                violation.subject,
                violation.detail
            );
        }
        let _ = out.flush();
    })
    .await
    .map_err(|e| CommandError::Usage(e.to_string()))?;
    let table = chaos::report::markdown(&reports);
    std::fs::write(dir.join("chaos.md"), &table)?;
    std::fs::write(
        dir.join("chaos.json"),
        serde_json::to_vec_pretty(&reports).unwrap_or_default(),
    )?;
    writeln!(stdout, "\n{table}")?;
    let failed: Vec<&str> = reports
        .iter()
        .filter(|r| !r.passed())
        .map(|r| r.case.id)
        .collect();
    if failed.is_empty() {
        writeln!(stdout, "PASS: results in {}", dir.display())?;
        Ok(ExitCode::SUCCESS)
    } else {
        writeln!(
            stdout,
            "FAIL: {} (results in {})",
            failed.join(", "),
            dir.display()
        )?;
        Ok(ExitCode::FAILURE)
    }
}
