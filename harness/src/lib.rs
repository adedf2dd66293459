//! The harness: a local stack for API Gateway WebSocket + Lambda + DynamoDB
//! speech backends, and the tools that drive it, judge what it answers and
//! report what it cost.
//!
//! # Layout
//! **The local stack** (generic: any SAM template of this shape):
//! - [`template`]: reads a SAM template (functions, APIs, routes, authorizers
//!   and tables);
//! - [`dynamodb`]: AWS's DynamoDB Local, fetched, started and given the
//!   template's tables, behind a metering proxy;
//! - [`lambda`]: the Lambda emulator (Runtime API, instance pool, records);
//! - [`gateway`]: the API Gateway emulators (WebSocket, REST and HTTP APIs:
//!   routes, authorizers, `@connections`, limits, timeouts);
//! - [`stack`]: all of the above and the mocks started together from the
//!   template ([`LocalStack`]);
//! - [`seed_data`]: data files loaded into the template's tables;
//! - [`time_scale`]: the one knob that shrinks every time limit.
//!
//! **Driving it:**
//! - [`scenario`]: the scenario file format, loading, matching, audio;
//! - [`replay`]: scenario replay and conformance suites against a target;
//! - [`load`]: `harness load` with goose as the driver: load plans,
//!   thresholds, segments and `harness merge`.
//!
//! **Judging what it answers:**
//! - [`contract`]: the AsyncAPI and OpenAPI contracts, judging live messages
//!   and HTTP answers;
//! - [`turns`]: model turns and candidate utterances as data, and the
//!   numbered conversation checks that judge them.
//!
//! **Results:**
//! - [`metrics`]: HDR latency histograms, error counts, series over time;
//! - [`cost`]: cost per session from metered (or observed) usage and a dated
//!   pricing table;
//! - [`report`]: `reports/<run-id>/` files ([`RunReport`]).
//!
//! **This product's own suites** ([`suites`]): `harness repro` (the seeds'
//! troubleshooting entries), `harness chaos` (faults and invariants on the
//! seeds' APIs), and the seeds' own cost tables.
//!
//! **The command line:** [`cli`] and [`commands`].

// The local stack.
pub mod dynamodb;
pub mod gateway;
pub mod lambda;
pub(crate) mod seed_data;
pub mod stack;
pub mod template;
pub mod time_scale;

// Driving it.
pub mod load;
pub mod replay;
pub mod scenario;

// Judging what it answers.
pub mod contract;
pub(crate) mod turns;

// Results.
pub mod cost;
pub mod metrics;
pub mod report;

// This product's own suites.
pub mod suites;

// The command line.
pub mod cli;
pub mod commands;

pub use load::{LoadOptions, LoadOutcome};
pub use replay::{RunOptions, Target};
pub use report::model::RunReport;
pub use scenario::{LoadedScenario, Scenario};
pub use stack::{LocalStack, StackError, StackOptions};
pub use template::Template;
pub use time_scale::TimeScale;
