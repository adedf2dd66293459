//! This product's own suites, built on the generic local stack: what they
//! judge is specific to the seeds' APIs (their tables, messages and
//! troubleshooting entries), where the rest of the crate serves any API
//! Gateway WebSocket + Lambda + DynamoDB backend.
//!
//! - [`repro`]: `harness repro`, every troubleshooting entry of the seeds
//!   reproduced on the local stack;
//! - [`chaos`]: `harness chaos`, the reliability suite (faults injected into
//!   the seeds' APIs, invariants over their tables) and load with correctness;
//! - [`seed_costs`]: the seeds' own cost tables against the measured figures.

pub mod chaos;
pub mod repro;
pub(crate) mod seed_costs;
