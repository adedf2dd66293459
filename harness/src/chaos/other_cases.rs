//! The cases on the other APIs: the chat API (seed 004: acknowledged
//! messages under dropped sockets, throttling and model errors), the HTTP
//! API's GDPR delete (seeds 002/003) under throttling, and the Nova Sonic
//! stream API (seed 003: model errors and stream timeouts).

use super::{CaseInfo, ChaosError, Ctx};

/// The cases of this module.
pub const CASES: &[CaseInfo] = &[];

/// Runs a case of this module.
pub async fn run(id: &str, _ctx: &mut Ctx<'_>) -> Result<(), ChaosError> {
    Err(ChaosError::UnknownCase(id.to_owned()))
}
