//! Fake upstreams that speak the real wire protocols, so the backend's real
//! client code (AWS SDK crates, a WebSocket client for Vertex) runs against
//! them unchanged. Each mock is deterministic, reports the usage a real
//! service would bill, and takes faults on demand through a small control API
//! under `/_mock/` on its own port.
//!
//! # Layout
//! - [`bedrock`]: Bedrock Runtime (Nova Sonic bidirectional stream, Converse,
//!   InvokeModel) with its control API;
//! - [`sns`]: SNS Publish / CreateTopic (awsQuery) recording every message;
//! - [`server`]: start a mock's router on a loopback port and stop it;
//! - [`speech`]: PCM, voice activity detection, a synthetic voice, a
//!   transcript catalog, token counting (shared by the speech mocks).

pub mod bedrock;
pub mod server;
pub mod sns;
pub mod speech;
