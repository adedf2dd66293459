//! The chaos cases, one module per API: each case drives real sessions and
//! injects one fault into them.
//!
//! - [`speaking`]: the speaking API (seed 000);
//! - [`chat`]: the chat API (seed 004);
//! - [`gdpr`]: the IELTS HTTP API's GDPR delete (seeds 002/003);
//! - [`nova_stream`]: the Nova Sonic stream API (seed 003).

pub(crate) mod chat;
pub(crate) mod gdpr;
pub(crate) mod nova_stream;
pub(crate) mod speaking;

use super::{CaseInfo, ChaosError, Ctx};

/// Every case, in the order `harness chaos --list` shows them.
pub(crate) fn all() -> Vec<CaseInfo> {
    [
        speaking::CASES,
        chat::CASES,
        gdpr::CASES,
        nova_stream::CASES,
    ]
    .concat()
}

/// Runs the case `id`, whichever API it is on.
pub(crate) async fn run(id: &str, ctx: &mut Ctx<'_>) -> Result<(), ChaosError> {
    let on = |cases: &[CaseInfo]| cases.iter().any(|c| c.id == id);
    if on(speaking::CASES) {
        speaking::run(id, ctx).await
    } else if on(chat::CASES) {
        chat::run(id, ctx).await
    } else if on(gdpr::CASES) {
        gdpr::run(id, ctx).await
    } else if on(nova_stream::CASES) {
        nova_stream::run(id, ctx).await
    } else {
        Err(ChaosError::UnknownCase(id.to_owned()))
    }
}
