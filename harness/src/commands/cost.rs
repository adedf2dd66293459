//! `harness cost [RUN_DIR]`: prices a saved run (its report.json's `usage`,
//! or for a run against a deployed target an estimate from what it observed
//! and the template), prints the tables, and writes the cost section back
//! into report.json and report.md.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{CommandError, find_template, parameter_overrides};
use crate::cli::CostArgs;
use crate::cost::estimate::{EstimateSettings, observed_usage};
use crate::cost::pricing::PricingTable;
use crate::cost::usage::UsageSource;
use crate::cost::{CostOptions, assess, render};
use crate::template::{self, LoadOptions};

/// The newest run under `dir` (run ids start with their UTC start time).
fn newest_run(dir: &Path) -> Result<PathBuf, CommandError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        CommandError::Usage(format!(
            "no runs in {}: {e}; pass RUN_DIR or --report-dir",
            dir.display()
        ))
    })?;
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join("report.json").is_file())
        .max()
        .ok_or_else(|| CommandError::Usage(format!("no report.json under {}", dir.display())))
}

/// Cost options from the command line.
fn options(args: &CostArgs) -> Result<CostOptions, CommandError> {
    if !(args.session_minutes.is_finite() && args.session_minutes >= 0.0) {
        return Err(CommandError::Usage(format!(
            "--session-minutes {}: a number of minutes >= 0",
            args.session_minutes
        )));
    }
    if !(args.handler_ms.is_finite() && args.handler_ms >= 0.0) {
        return Err(CommandError::Usage(format!(
            "--handler-ms {}: a number of milliseconds >= 0",
            args.handler_ms
        )));
    }
    Ok(CostOptions {
        per_month: (args.per_month > 0).then_some(args.per_month),
        free_tiers: args.free_tiers,
        session_seconds: args.session_minutes * 60.0,
    })
}

/// `harness cost`.
pub(super) fn run(args: &CostArgs) -> Result<ExitCode, CommandError> {
    let options = options(args)?;
    let folder = match &args.run_dir {
        Some(dir) => dir.clone(),
        None => newest_run(&args.report_dir)?,
    };
    let mut report = crate::report::read(&folder)?;
    let pricing = match &args.pricing {
        Some(path) => PricingTable::load(path)?,
        None => PricingTable::built_in()?,
    };
    let usage = match &report.usage {
        Some(usage) if usage.source == UsageSource::Metered => usage.clone(),
        _ => {
            let path = match &args.template {
                Some(path) => path.clone(),
                None => find_template()?,
            };
            let load = LoadOptions {
                parameter_overrides: parameter_overrides(&args.parameter_overrides)?,
                ..LoadOptions::default()
            };
            let template = template::load_file(&path, &load)?;
            let settings = EstimateSettings {
                handler_ms: args.handler_ms,
            };
            observed_usage(&report, &template, &settings)
        }
    };
    let cost = assess(&usage, &pricing, &options);
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let json = serde_json::to_string_pretty(&cost).map_err(std::io::Error::other)?;
        writeln!(stdout, "{json}")?;
    } else {
        write!(stdout, "{}", render::text(&cost))?;
    }
    report.usage = Some(usage);
    report.cost = Some(cost);
    crate::report::write_into(&folder, &report)?;
    if !args.json {
        writeln!(
            stdout,
            "\ncost section written to {}",
            folder.join("report.json").display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
