//! The published contracts in backend/spec/, and the checkers that judge live
//! traffic against them (never against the backend's own types):
//!
//! - [`asyncapi`]: the WebSocket APIs' AsyncAPI 3.0 documents, compiled once,
//!   judging every received message;
//! - [`openapi`]: the HTTP API's OpenAPI 3.1 document, judging every answer.

pub mod asyncapi;
pub mod openapi;
