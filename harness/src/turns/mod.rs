//! Turns as first-class data, and the conversation checks that judge them.
//!
//! - [`profile`]: how an API's messages make up model turns (built in for the
//!   speech APIs, overridable by a scenario's `conversation:` block);
//! - [`tracker`]: one session's model turns and candidate utterances;
//! - [`checks`]: the numbered conversation checks (`conversation.1`...).

pub(crate) mod checks;
pub(crate) mod profile;
pub(crate) mod summary;
pub(crate) mod tracker;

#[cfg(test)]
mod tests;

use std::sync::Arc;

pub(crate) use checks::{CheckOutcome, Checkpoint, ModelLog, ModelTurn};
pub(crate) use profile::{ConversationConfig, TurnProfile};
pub(crate) use tracker::Tracker;

/// Reads the model's own log of a session (the local mocks' control API),
/// given the session's turn texts (to find which of the mock's sessions it was).
pub(crate) type ModelLogSource = Arc<
    dyn Fn(Vec<String>) -> futures_util::future::BoxFuture<'static, Option<ModelLog>> + Send + Sync,
>;

/// How a session tracks and judges its conversation.
#[derive(Clone)]
pub struct ConversationPlan {
    /// The API's turn profile (with the scenario's overrides).
    pub profile: Arc<TurnProfile>,
    /// Run the checks (off: turns are still recorded and reported).
    pub checks: bool,
    /// Model turns per utterance unless an answer says otherwise.
    pub replies_per_utterance: u32,
    /// The model's log, when the target exposes one.
    pub model_log: Option<ModelLogSource>,
}

impl std::fmt::Debug for ConversationPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConversationPlan")
            .field("profile", &self.profile)
            .field("checks", &self.checks)
            .field("replies_per_utterance", &self.replies_per_utterance)
            .field("model_log", &self.model_log.is_some())
            .finish()
    }
}

impl ConversationPlan {
    /// The plan for `api` with a scenario's `conversation:` block: None when
    /// the API has no built-in profile and the block is absent.
    pub fn for_api(api: &str, config: Option<&ConversationConfig>) -> Option<Self> {
        let profile = match (TurnProfile::for_api(api), config) {
            (Some(profile), Some(config)) => profile.with(config),
            (Some(profile), None) => profile,
            (None, Some(config)) => TurnProfile::generic().with(config),
            (None, None) => return None,
        };
        let default = ConversationConfig::default();
        let config = config.unwrap_or(&default);
        Some(Self {
            profile: Arc::new(profile),
            checks: config.checks.unwrap_or(true),
            replies_per_utterance: config.replies_per_utterance.unwrap_or(1),
            model_log: None,
        })
    }
}
