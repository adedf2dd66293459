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
use crate::cost::live_cost::{DEFAULT_COMPRESSION, LiveRates, curve};
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

/// `minutes=M[,turns=N]`.
fn parse_what_if(text: &str) -> Result<(f64, Option<u64>), CommandError> {
    let bad = |why: &str| {
        CommandError::Usage(format!(
            "--what-if {text:?}: {why}; expected minutes=M[,turns=N], e.g. minutes=20,turns=30"
        ))
    };
    let (mut minutes, mut turns) = (None, None);
    for part in text.split(',') {
        match part.trim().split_once('=') {
            Some(("minutes", value)) => {
                let value: f64 = value
                    .trim()
                    .parse()
                    .map_err(|_| bad("minutes is not a number"))?;
                if !(value.is_finite() && value > 0.0) {
                    return Err(bad("minutes must be above 0"));
                }
                minutes = Some(value);
            }
            Some(("turns", value)) => {
                turns = Some(
                    value
                        .trim()
                        .parse::<u64>()
                        .map_err(|_| bad("turns is not a whole number"))?,
                );
            }
            _ => return Err(bad(&format!("{part:?} is not minutes=M or turns=N"))),
        }
    }
    Ok((minutes.ok_or_else(|| bad("minutes is missing"))?, turns))
}

/// `harness cost --what-if`: the Live curve from a run's usage.
fn what_if(
    text: &str,
    usage: &crate::cost::usage::Usage,
    pricing: &PricingTable,
    json: bool,
) -> Result<ExitCode, CommandError> {
    let (minutes, turns) = parse_what_if(text)?;
    let live = usage.live_turns.as_ref().ok_or_else(|| {
        CommandError::Usage(
            "--what-if: the run has no Gemini Live turns (a local run of the speaking API has)"
                .to_owned(),
        )
    })?;
    let rates = LiveRates::of(pricing, &live.model);
    let compression = live.compression.unwrap_or(DEFAULT_COMPRESSION);
    let points = curve(&live.growth, &rates, Some((minutes, turns)), None);
    let compressed = curve(
        &live.growth,
        &rates,
        Some((minutes, turns)),
        Some(compression),
    );
    let mut stdout = std::io::stdout().lock();
    if json {
        let json = serde_json::json!({
            "without_compression": points,
            "with_compression": {"trigger_tokens": compression.0, "target_tokens": compression.1, "curve": compressed},
        });
        let json = serde_json::to_string_pretty(&json).map_err(std::io::Error::other)?;
        writeln!(stdout, "{json}")?;
        return Ok(ExitCode::SUCCESS);
    }
    let shown = crate::cost::live_cost::LiveCost {
        usage: live.clone(),
        basis: String::new(),
        input_arithmetic: String::new(),
        curve: points,
        compressed_curve: compressed,
        compression,
    };
    write!(stdout, "{}", render::live_text(&shown))?;
    writeln!(
        stdout,
        "From the run's {} turn(s): {:.0} audio and {:.0} text prompt tokens at the start, \
         +{:.1} and +{:.2} per second of session, {:.2} turns per minute.",
        live.turns,
        live.growth.audio_base,
        live.growth.text_base,
        live.growth.audio_per_second,
        live.growth.text_per_second,
        live.growth.turns_per_minute
    )?;
    Ok(ExitCode::SUCCESS)
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
    if let Some(text) = &args.what_if {
        return what_if(text, &usage, &pricing, args.json);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_if_reads_minutes_and_turns_and_names_its_mistakes() {
        assert_eq!(parse_what_if("minutes=20").unwrap(), (20.0, None));
        assert_eq!(
            parse_what_if("minutes=7.5, turns=12").unwrap(),
            (7.5, Some(12))
        );
        for (bad, why) in [
            ("turns=3", "minutes is missing"),
            ("minutes=0", "above 0"),
            ("minutes=x", "not a number"),
            ("minutes=5,turns=-1", "whole number"),
            ("hours=1", "is not minutes=M"),
        ] {
            let error = parse_what_if(bad).unwrap_err().to_string();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }
}
