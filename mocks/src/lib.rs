//! Fake upstreams that speak the real wire protocols, so the backend's real
//! client code (AWS SDK crates, a WebSocket client for Vertex) runs against
//! them unchanged. Each mock is deterministic, reports the usage a real
//! service would bill, and takes faults on demand through a small control API
//! under `/_mock/` on its own port.
//!
//! # Layout
//! - [`email`]: an e-mail API (SendGrid's v3 `mail/send`) recording every message;
//! - [`stores`]: App Store `verifyReceipt` and Google Play's Android Publisher
//!   purchase checks, with receipts the mock mints and forgeries refused;
//! - [`bedrock`]: Bedrock Runtime (Nova Sonic bidirectional stream, Converse,
//!   InvokeModel) with its control API;
//! - [`lifecycle`]: model lifecycles (Active, Deprecated, Legacy, end of life)
//!   for the Bedrock and Vertex catalogs;
//! - [`identity`]: an identity provider for JWT authorizers (JWKS, HS256
//!   secret, tokens with any claims, `alg` and `kid`);
//! - [`sns`]: SNS Publish / CreateTopic (awsQuery) recording every message;
//! - [`server`]: serve a router over TCP (TCP_NODELAY, graceful stop), for the
//!   mocks and the harness's own servers alike;
//! - [`speech`]: PCM, voice activity detection, a synthetic voice, a
//!   transcript catalog, text token counting (shared by the speech mocks);
//! - [`token_rules`]: audio tokens per second and thinking, by provider, read
//!   from the pricing table the harness prices with;
//! - [`vertex`]: Vertex AI (Gemini Live over WebSocket with the IELTS
//!   examiner "Maya", generateContent assessments, service-account auth);
//! - [`secrets`]: AWS Secrets Manager (JSON 1.1, as the SDK speaks it);
//! - [`upstreams`]: every mock at once (the `mocks` binary, the local stack);
//! - [`wav`]: WAV files to mono 16-bit samples and back (shared with the
//!   harness).

pub mod bedrock;
pub mod email;
pub mod identity;
pub mod lifecycle;
pub mod secrets;
pub mod server;
pub mod sns;
pub mod speech;
pub mod stores;
pub mod token_rules;
pub mod upstreams;
pub mod vertex;
pub mod wav;
