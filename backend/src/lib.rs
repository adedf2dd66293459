//! The reference serverless backend: the Lambda functions behind the seeds'
//! WebSocket and HTTP APIs. Each function is a thin binary in `src/bin/`
//! that builds its dependencies once and hands events to a plain async
//! handler here, so tests call handlers directly.
//!
//! # Layout
//! - [`speaking`]: the IELTS speaking API (seed 000), Maya on Gemini Live;
//! - [`http_api`]: the IELTS HTTP API (seeds 002, 003) behind a REST API:
//!   accounts, assessments on Nova Micro, QR login, purchases, GDPR, admin;
//! - [`relay`]: the session-owner relay through DynamoDB (shared by the
//!   speaking and Nova Sonic functions);
//! - [`sessions`]: session items with guarded status transitions and TTL;
//! - [`vertex`]: Vertex AI credentials, Gemini Live client, generateContent;
//! - [`credentials`]: the GCP service account from Secrets Manager, cached;
//! - [`audio`]: client audio (WAV or raw PCM) to 16 kHz mono PCM;
//! - [`management`]: posting to, reading and closing WebSocket connections
//!   through the API Gateway management API;
//! - [`dynamo_json`]: JSON documents as DynamoDB items;
//! - [`echo`]: the diagnostic echo API's function (`ws-echo`);
//! - [`telemetry`]: JSON logs as Lambda collects them.

pub mod audio;
pub mod credentials;
pub mod dynamo_json;
pub mod echo;
pub mod http_api;
pub mod management;
pub mod relay;
pub mod sessions;
pub mod speaking;
pub mod telemetry;
pub mod vertex;
