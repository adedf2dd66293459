//! What each `harness` subcommand does.

mod chaos;
mod chaos_load;
mod cost;
mod load;
mod replay;
mod repro;
mod up;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::{Cli, Command, DynamoKind, StackArgs};
use crate::stack::{DynamoSource, StackError, StackOptions, default_functions_dir};
use crate::template::LoadOptions;

/// What a command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// The local stack.
    #[error(transparent)]
    Stack(#[from] StackError),
    /// Building the function binaries.
    #[error("building the functions: {0}")]
    Build(String),
    /// Terminal or file output.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A scenario or suite.
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ScenarioError),
    /// The run.
    #[error(transparent)]
    Run(#[from] crate::replay::RunError),
    /// Loading seed data.
    #[error(transparent)]
    SeedData(#[from] crate::seed_data::SeedError),
    /// The pricing table.
    #[error(transparent)]
    Pricing(#[from] crate::cost::pricing::PricingError),
    /// The template (for a cost estimate).
    #[error(transparent)]
    Template(#[from] crate::template::TemplateError),
    /// A load plan.
    #[error(transparent)]
    Plan(#[from] crate::load::plan::PlanError),
    /// A load run.
    #[error(transparent)]
    Load(#[from] crate::load::LoadError),
    /// Merging segments.
    #[error(transparent)]
    Merge(#[from] crate::load::summary::MergeError),
    /// A reproduction that could not run.
    #[error(transparent)]
    Repro(#[from] crate::suites::repro::ReproError),
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<ExitCode, CommandError> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Up(args) => up::run(&args).await,
        Command::Run(args) => replay::run(&args, quiet).await,
        Command::Conform(args) => replay::conform(&args, quiet).await,
        Command::Cost(args) => cost::run(&args),
        Command::ScenarioSchema => print_json(&crate::scenario::json_schema()),
        Command::ReportSchema => print_json(&crate::report::json_schema()),
        Command::SeedData(args) => Ok(crate::seed_data::run(&args).await?),
        Command::Load(args) => load::run(&args, quiet).await,
        Command::Merge(args) => load::merge(&args, quiet),
        Command::Repro(args) => repro::run(&args).await,
        Command::Chaos(args) => chaos::run(&args).await,
    }
}

fn print_json(value: &serde_json::Value) -> Result<ExitCode, CommandError> {
    use std::io::Write as _;
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    writeln!(std::io::stdout().lock(), "{text}")?;
    Ok(ExitCode::SUCCESS)
}

/// Parses `Name=Value` template parameter overrides.
fn parameter_overrides(pairs: &[String]) -> Result<BTreeMap<String, String>, CommandError> {
    let mut overrides = BTreeMap::new();
    for pair in pairs {
        let (name, value) = pair.split_once('=').ok_or_else(|| {
            CommandError::Usage(format!("parameter override {pair:?} is not Name=Value"))
        })?;
        overrides.insert(name.to_owned(), value.to_owned());
    }
    Ok(overrides)
}

/// Finds backend/template.yaml in this directory or a parent.
fn find_template() -> Result<PathBuf, CommandError> {
    let start = std::env::current_dir()?;
    start
        .ancestors()
        .map(|dir| dir.join("backend").join("template.yaml"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            CommandError::Usage(
                "no backend/template.yaml here or above; pass --template".to_owned(),
            )
        })
}

/// Stack options from the command line.
pub(crate) fn stack_options(args: &StackArgs) -> Result<StackOptions, CommandError> {
    let template = match &args.template {
        Some(path) => path.clone(),
        None => find_template()?,
    };
    let overrides = parameter_overrides(&args.parameter_overrides)?;
    let mut options = StackOptions::new(template);
    options.load = LoadOptions {
        stack_name: args.stack_name.clone(),
        region: args.region.clone(),
        parameter_overrides: overrides,
        ..LoadOptions::default()
    };
    options.time_scale = args.time_scale.unwrap_or_default();
    options.port = args.port;
    if let Some(endpoint) = &args.dynamodb_endpoint {
        options.dynamodb = DynamoSource::Endpoint(endpoint.clone());
    } else if args.dynamodb == DynamoKind::Docker {
        #[cfg(feature = "docker")]
        {
            options.dynamodb = DynamoSource::Docker;
        }
        #[cfg(not(feature = "docker"))]
        return Err(CommandError::Usage(
            "`--dynamodb docker` needs the harness built with the `docker` feature: \
             cargo run --features docker --bin harness -- ..."
                .to_owned(),
        ));
    }
    options.functions_dir = args
        .functions_dir
        .clone()
        .unwrap_or_else(default_functions_dir);
    Ok(options)
}

/// Where a command runs: the deployed API at `--target` (its URL must start
/// with one of `schemes`, `what` naming such an API), else the local stack
/// (its functions built first unless `--no-build`). With the contracts
/// folder: `--spec-dir`, else `spec/` beside the template.
pub(crate) fn target_and_contracts(
    target: Option<&str>,
    spec_dir: Option<&Path>,
    stack_args: &StackArgs,
    schemes: &[&str],
    what: &str,
    quiet: bool,
) -> Result<(crate::replay::Target, PathBuf), CommandError> {
    let stack = stack_options(stack_args)?;
    let spec_dir = spec_dir.map(Path::to_path_buf).unwrap_or_else(|| {
        stack
            .template
            .parent()
            .map(|p| p.join("spec"))
            .unwrap_or_else(|| PathBuf::from("backend/spec"))
    });
    let target = match target {
        Some(url) => {
            if !schemes.iter().any(|s| url.starts_with(s)) {
                return Err(CommandError::Usage(format!(
                    "--target {url}: {what} starts with {}",
                    schemes.join(" or ")
                )));
            }
            crate::replay::Target::Url(url.to_owned())
        }
        None => {
            if !stack_args.no_build {
                build_functions(&stack.template, &stack.functions_dir, quiet)?;
            }
            crate::replay::Target::Local(Box::new(stack))
        }
    };
    Ok((target, spec_dir))
}

/// Builds the backend's binaries with cargo, in the profile of `functions_dir`
/// (`quiet`: without cargo's progress lines).
pub(crate) fn build_functions(
    template: &Path,
    functions_dir: &Path,
    quiet: bool,
) -> Result<(), CommandError> {
    let workspace = template
        .canonicalize()?
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .ok_or_else(|| CommandError::Build("the template is not inside a workspace".to_owned()))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        // The whole workspace's binaries: features resolve as for
        // `cargo run --bin harness`, so the dependencies the harness was built
        // with are reused, not compiled a second time.
        .args(["--workspace", "--bins"]);
    if quiet {
        command.arg("--quiet");
    }
    // The profile the harness itself was built with (its folder's name):
    // `debug` is the dev profile, any other a profile of that name.
    match functions_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some(profile) => {
            command.args(["--profile", profile]);
        }
    }
    if let Some(target) = functions_dir.parent() {
        command.env("CARGO_TARGET_DIR", target);
    }
    let status = command
        .status()
        .map_err(|e| CommandError::Build(format!("cannot run cargo: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(CommandError::Build(format!(
            "cargo build exited with {status}"
        )))
    }
}
