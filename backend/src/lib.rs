//! The reference serverless backend: the Lambda functions behind the seeds'
//! WebSocket and HTTP APIs. Each function is a thin binary in `src/bin/`
//! that builds its dependencies once and hands events to a plain async
//! handler here, so tests call handlers directly.
//!
//! # Layout
//! - [`speaking`]: the IELTS speaking API (seed 000), Maya on Gemini Live;
//! - [`chat`]: the chat API (seed 004): JWT authorizer, connection
//!   registry, MessageSender, rate limit, keep-alive, Converse replies;
//! - [`buddy`]: the "Buddy" patient assistant API (seed 001) on Nova Sonic,
//!   with [`buddy::patients`], the patient context from DynamoDB;
//! - [`maya_nova_sonic`]: seed 003's `nova-sonic-stream` route, Maya on
//!   Nova Sonic;
//! - [`nova_sonic`]: the Amazon Nova Sonic client (aws-sdk-bedrockruntime's
//!   bidirectional stream) and the session owner both Nova Sonic APIs share;
//! - [`session_owner`]: the session-owner design the speaking and Nova Sonic
//!   functions share: the per-event routine, session items, the relay
//!   through DynamoDB and the owner's jitter buffer, hand-offs, deadlines;
//! - [`http_api`]: the IELTS HTTP API (seeds 002, 003) behind a REST API:
//!   accounts, assessments on Nova Micro, QR login, purchases, GDPR, admin;
//! - [`alerts`]: SNS alerts (model failures, a patient in distress);
//! - [`client_json`]: reading client messages with precise errors;
//! - [`vertex`]: Vertex AI credentials, Gemini Live client, generateContent;
//! - [`credentials`]: the GCP service account from Secrets Manager, cached;
//! - [`audio`]: client audio (WAV or raw PCM) to 16 kHz mono PCM;
//! - [`management`]: posting to, reading and closing WebSocket connections
//!   through the API Gateway management API;
//! - [`dynamo_json`]: JSON documents as DynamoDB items;
//! - [`dynamo_query`]: every page of a DynamoDB Query;
//! - [`echo`]: the diagnostic echo function (`ws-echo`) behind a WebSocket API and an HTTP API;
//! - [`config`]: reading a function's configuration from its environment;
//! - [`clock`]: the wall clock (epoch time, timestamps, the invocation's deadline);
//! - [`telemetry`]: JSON logs as Lambda collects them.

pub mod alerts;
pub mod audio;
pub mod buddy;
pub mod chat;
pub(crate) mod client_json;
pub(crate) mod clock;
pub(crate) mod config;
pub mod credentials;
pub mod dynamo_json;
pub(crate) mod dynamo_query;
pub mod echo;
pub mod http_api;
pub mod management;
pub mod maya_nova_sonic;
pub mod nova_sonic;
pub mod session_owner;
pub mod speaking;
pub mod telemetry;
pub mod vertex;
