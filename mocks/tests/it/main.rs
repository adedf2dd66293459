//! The mocks' integration tests, one crate: each module is one mock or
//! protocol, driven by real clients (the AWS SDK crates, a Gemini Live socket).
//! Run one with `cargo test -p mocks --test it MODULE::`.

#[allow(dead_code)]
mod aws_common;
mod common;

mod bedrock_converse;
mod bedrock_h2c;
mod bedrock_sonic;
mod bedrock_stream_faults;
mod binary;
mod identity_provider;
mod secrets_sdk;
mod sns;
mod vertex_live;
mod vertex_misbehave;
mod vertex_rest;
mod vertex_sessions;
