//! The harness: a local stack for API Gateway WebSocket + Lambda + DynamoDB
//! speech backends, and the tools that drive it.
//!
//! # Layout
//! - [`template`]: reads backend/template.yaml (the one list of functions,
//!   APIs, routes, authorizers and tables);
//! - [`dynamodb`]: AWS's DynamoDB Local, fetched, started and given the
//!   template's tables;
//! - [`lambda`]: the Lambda emulator (Runtime API, instance pool, records);
//! - [`gateway`]: the API Gateway WebSocket emulator (routes, authorizers,
//!   `@connections`, limits, timeouts);
//! - [`stack`]: all of the above started together from the template;
//! - [`seed_data`]: seed data files loaded into the template's tables;
//! - [`openapi`]: HTTP answers checked against an OpenAPI 3.1 contract;
//! - [`load_plan`]: load plans (HTTP mixes or WebSocket scenarios, closed or
//!   open model, quotas, thresholds);
//! - [`load`]: `harness load` with goose as the driver, thresholds,
//!   segments and `harness merge`;
//! - [`scenario`]: the scenario file format, loading, matching, audio;
//! - [`contract`]: the AsyncAPI contracts, compiled, judging live messages;
//! - [`metrics`]: HDR latency histograms, error counts, series over time;
//! - [`replay`]: scenario replay and conformance suites against a target;
//! - [`turns`]: model turns and candidate utterances as data, and the
//!   numbered conversation checks that judge them;
//! - [`cost`]: cost per session from metered (or observed) usage and a dated
//!   pricing table, next to the seeds' own cost tables;
//! - [`report`]: `reports/<run-id>/` files;
//! - [`repro`]: `harness repro`, every troubleshooting entry of the seeds
//!   reproduced on the local stack;
//! - [`chaos`]: `harness chaos`, the reliability suite (faults injected,
//!   invariants checked) and load with correctness;
//! - [`time_scale`]: the one knob that shrinks every time limit;
//! - [`cli`] and [`commands`]: the `harness` command line.

pub mod chaos;
pub mod cli;
pub mod commands;
pub mod contract;
pub mod cost;
pub mod dynamodb;
pub mod gateway;
pub mod lambda;
pub mod load;
pub mod load_plan;
pub mod metrics;
pub mod openapi;
pub mod replay;
pub mod report;
pub mod repro;
pub mod scenario;
pub mod seed_data;
pub mod stack;
pub mod template;
pub mod time_scale;
pub mod turns;
