//! `harness repro`: every troubleshooting entry of the five seed documents
//! (and seed 003's latency claims) as a case with an id, the seed's own
//! symptom, cause and fix, and a reproduction on the local stack with the
//! fault injected (through the mocks' control methods, template parameters,
//! DynamoDB, function packages or settings under the time scale). A case
//! passes when every sign the seed documents shows.
//!
//! - [`catalogue`]: the cases and the seeds' words;
//! - [`speaking`], [`buddy`], [`http_api`], [`chat`]: the reproductions by API;
//! - [`observing`]: the notes the reproductions keep, and polling (the
//!   WebSocket client is the harness's, [`crate::replay::client`]).

pub(crate) mod buddy;
pub(crate) mod catalogue;
pub(crate) mod chat;
pub(crate) mod http_api;
pub(crate) mod observing;
pub(crate) mod speaking;

use std::path::{Path, PathBuf};

pub use catalogue::{Case, cases};
pub use observing::Notes;

use crate::stack::{LocalStack, StackError, StackOptions};
use crate::time_scale::TimeScale;

/// Why a reproduction could not run (as opposed to not showing the symptom).
#[derive(Debug, thiserror::Error)]
pub enum ReproError {
    /// No such case.
    #[error("no case {0}; `harness repro --list` lists them")]
    UnknownCase(String),
    /// The local stack.
    #[error(transparent)]
    Stack(#[from] StackError),
    /// A step of the reproduction.
    #[error("{0}")]
    Step(String),
    /// The WebSocket client.
    #[error(transparent)]
    Client(#[from] crate::replay::client::ClientError),
}

/// What every reproduction starts from.
#[derive(Debug, Clone)]
pub struct ReproContext {
    /// The stack options of the command line (template, functions, DynamoDB).
    pub base: StackOptions,
}

impl ReproContext {
    /// The workspace the template is in.
    pub fn workspace(&self) -> PathBuf {
        self.base
            .template
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// Stack options at a time scale with parameter overrides (events captured).
    pub fn options(&self, time_scale: f64, overrides: &[(&str, &str)]) -> StackOptions {
        let mut options = self.base.clone();
        options.time_scale = TimeScale::new(time_scale).unwrap_or_default();
        options.capture_events = true;
        for (name, value) in overrides {
            options
                .load
                .parameter_overrides
                .insert((*name).to_owned(), (*value).to_owned());
        }
        options
    }

    /// Starts a stack.
    pub async fn start(
        &self,
        time_scale: f64,
        overrides: &[(&str, &str)],
    ) -> Result<LocalStack, ReproError> {
        Ok(LocalStack::start(self.options(time_scale, overrides)).await?)
    }

    /// Runs `steps` on a stack started as [`ReproContext::start`] does, and
    /// stops the stack whatever they returned.
    pub(crate) async fn on_stack(
        &self,
        time_scale: f64,
        overrides: &[(&str, &str)],
        steps: impl AsyncFnOnce(&LocalStack) -> Result<(), ReproError>,
    ) -> Result<(), ReproError> {
        let stack = self.start(time_scale, overrides).await?;
        let result = steps(&stack).await;
        stack.stop().await;
        result
    }
}

/// A reproduction's verdict.
#[derive(Debug)]
pub struct Outcome {
    /// The case.
    pub case: &'static Case,
    /// What was observed.
    pub notes: Notes,
}

impl Outcome {
    /// Whether the symptom showed as documented.
    pub fn reproduced(&self) -> bool {
        self.notes.missing.is_empty()
    }
}

/// Finds a case by id (or a unique prefix of one).
pub fn find(id: &str) -> Result<&'static Case, ReproError> {
    let all = cases();
    if let Some(case) = all.iter().find(|c| c.id == id) {
        return Ok(case);
    }
    let mut matching = all.iter().filter(|c| c.id.starts_with(id));
    match (matching.next(), matching.next()) {
        (Some(case), None) => Ok(case),
        _ => Err(ReproError::UnknownCase(id.to_owned())),
    }
}

/// Reproduces one case.
pub async fn reproduce(case: &'static Case, ctx: &ReproContext) -> Result<Outcome, ReproError> {
    let mut notes = Notes::default();
    match case.id {
        "000-no-active-session" => speaking::no_active_session(ctx, &mut notes).await?,
        "000-gone-exception" => speaking::gone_exception(ctx, &mut notes).await?,
        "000-vertex-init-failed" => speaking::vertex_init_failed(ctx, &mut notes).await?,
        "000-lambda-15-minute-limit" => speaking::fifteen_minute_limit(ctx, &mut notes).await?,
        "001-connection-refused" => buddy::connection_refused(ctx, &mut notes).await?,
        "001-lambda-timeout-streaming" => buddy::lambda_timeout(ctx, &mut notes).await?,
        "001-model-not-available" => buddy::model_not_available(ctx, &mut notes).await?,
        "001-missing-patient-data" => buddy::missing_patient_data(ctx, &mut notes).await?,
        "002-module-not-found" => http_api::module_not_found(ctx, &mut notes).await?,
        "002-lambda-timeout-30s" => http_api::lambda_timeout(ctx, &mut notes).await?,
        "002-provisioned-throughput-exceeded" => {
            http_api::throughput_exceeded(ctx, &mut notes).await?
        }
        "002-cold-start-over-1s" => http_api::cold_start(ctx, &mut notes).await?,
        "003-latency-claims" => http_api::latency_claims(ctx, &mut notes).await?,
        "004-401-unauthorized" => chat::unauthorized(ctx, &mut notes).await?,
        "004-500-on-connect" => chat::internal_error_on_connect(ctx, &mut notes).await?,
        "004-messages-not-received" => chat::messages_not_received(ctx, &mut notes).await?,
        "004-stale-connections-410" => chat::stale_connections(ctx, &mut notes).await?,
        other => return Err(ReproError::UnknownCase(other.to_owned())),
    }
    Ok(Outcome { case, notes })
}
