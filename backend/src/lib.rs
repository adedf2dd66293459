//! The reference serverless backend: the Lambda functions behind the seeds'
//! WebSocket and HTTP APIs. Each function is a thin binary in `src/bin/`
//! that builds its dependencies once and hands events to a plain async
//! handler here, so tests call handlers directly.
//!
//! # Layout
//! - [`management`]: posting to, reading and closing WebSocket connections
//!   through the API Gateway management API (aws-sdk-apigatewaymanagement),
//!   the endpoint taken from `APIGW_ENDPOINT` or the event;
//! - [`echo`]: the diagnostic echo API's function (`ws-echo`), which probes a
//!   gateway: route by action, two-way replies, @connections calls, timeouts
//!   and crashes on demand;
//! - [`telemetry`]: JSON logs as Lambda collects them.

pub mod echo;
pub mod management;
pub mod telemetry;
