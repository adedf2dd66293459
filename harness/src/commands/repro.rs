//! `harness repro`: list the seeds' troubleshooting cases, or reproduce one
//! (or all) on the local stack, printing the symptom as observed, the cause
//! and the fix the seed gives.

use std::io::Write as _;
use std::process::ExitCode;

use super::{CommandError, build_functions, stack_options};
use crate::cli::ReproArgs;
use crate::suites::repro::{self, Case, ReproContext};

fn describe(out: &mut impl std::io::Write, case: &Case) -> std::io::Result<()> {
    writeln!(out, "{}  (seed {}) {}", case.id, case.seed, case.title)?;
    writeln!(out, "    symptom:      {}", case.symptom)?;
    writeln!(out, "    cause:        {}", case.cause)?;
    writeln!(out, "    fix:          {}", case.fix)?;
    writeln!(out, "    reproduction: {}", case.reproduction)
}

/// `harness repro`.
pub(super) async fn run(args: &ReproArgs) -> Result<ExitCode, CommandError> {
    let mut stdout = std::io::stdout().lock();
    if args.list {
        for case in repro::cases() {
            describe(&mut stdout, case)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let wanted = args.case.as_deref().unwrap_or("all");
    let chosen: Vec<&'static Case> = if wanted == "all" {
        repro::cases().iter().collect()
    } else {
        vec![repro::find(wanted)?]
    };
    let options = stack_options(&args.stack)?;
    if !args.stack.no_build {
        build_functions(&options.template, &options.functions_dir, false)?;
    }
    let ctx = ReproContext { base: options };
    let mut failed = Vec::new();
    for case in chosen {
        describe(&mut stdout, case)?;
        stdout.flush()?;
        let outcome = repro::reproduce(case, &ctx).await?;
        for line in &outcome.notes.lines {
            writeln!(stdout, "    observed:     {line}")?;
        }
        let verdict = if outcome.reproduced() {
            "REPRODUCED"
        } else {
            failed.push(case.id);
            "NOT REPRODUCED"
        };
        writeln!(stdout, "{verdict}: {}\n", case.id)?;
        stdout.flush()?;
    }
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        writeln!(stdout, "not as documented: {}", failed.join(", "))?;
        Ok(ExitCode::FAILURE)
    }
}
