//! WebSocket sessions as goose transactions: each session of the plan's
//! scenario runs on the replay engine's client (tokio-tungstenite) with
//! metrics tapped by a [`SessionTap`], so that every operation it times is
//! recorded into goose (`record_custom_request_duration`, method `WS`) and
//! into the run's HDR histograms, every contract verdict counts as a check,
//! and every failure as a failed goose request. In open-model runs the
//! session's first connect is timed from the arrival's intended start
//! (coordinated omission corrected; the raw handshake time is `connect.raw`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use goose::prelude::*;

use super::Shared;
use crate::contract::asyncapi::{Contract, Verdict};
use crate::metrics::{Metrics, MetricsTap};
use crate::replay::session::{self, SessionPlan};
use crate::scenario::LoadedScenario;
use crate::scenario::template::{Vars, resolve_definitions};

/// The goose method label of WebSocket operations.
const METHOD: &str = "WS";

/// Runs the plan's sessions.
pub(crate) struct Sessions {
    loaded: LoadedScenario,
    url: String,
    contract: Option<Arc<Contract>>,
    connects_per_session: u32,
    steps: Arc<Vec<crate::scenario::Step>>,
    turn_replies: Arc<Vec<String>>,
    tolerate: Arc<Vec<std::collections::BTreeMap<String, crate::scenario::Matcher>>>,
    clips: Arc<std::collections::BTreeMap<String, Arc<crate::scenario::audio::Clip>>>,
    clip_texts: Arc<std::collections::BTreeMap<String, String>>,
    conversation: Option<crate::turns::ConversationPlan>,
    microphone: Option<Arc<crate::scenario::Microphone>>,
    path: String,
}

/// One timed operation of a session, for goose.
#[derive(Debug)]
struct Operation {
    name: String,
    took: Duration,
}

/// A session's metrics: forwarded to the run's, kept for goose, counted.
#[derive(Debug)]
struct SessionTap {
    run: Arc<Metrics>,
    shared_counts: Arc<Shared>,
    operations: Mutex<Vec<Operation>>,
    /// Open model: added to the first connect (how late the session started).
    connect_correction: Mutex<Option<Duration>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("run_id", &self.run_id)
            .finish()
    }
}

impl MetricsTap for SessionTap {
    fn record(&self, name: &str, value: Duration, at: Duration) {
        let mut took = value;
        if name == "connect"
            && let Some(correction) = self.connect_correction.lock().expect("tap lock").take()
        {
            self.run.record("connect.raw", value, at);
            took = value + correction;
        }
        self.run.record(name, took, at);
        self.operations.lock().expect("tap lock").push(Operation {
            name: name.to_owned(),
            took,
        });
    }

    fn error(&self, kind: &str) {
        self.run.error(kind);
    }

    fn conformance(&self, verdict: &Verdict) {
        self.run.conformance(verdict);
        let valid = matches!(verdict, Verdict::Valid(_));
        self.shared_counts.count(|counts| {
            counts.checks += 1;
            counts.checks_passed += u64::from(valid);
        });
    }
}

impl Sessions {
    /// Sessions of `loaded` against `url`.
    pub(crate) fn new(
        loaded: LoadedScenario,
        url: String,
        contract: Option<Arc<Contract>>,
        connects_per_session: u32,
    ) -> Self {
        Self {
            steps: Arc::new(loaded.scenario.steps.clone()),
            turn_replies: Arc::new(loaded.scenario.turn_replies.clone()),
            tolerate: Arc::new(loaded.scenario.tolerate.clone()),
            clips: Arc::new(loaded.clips.clone()),
            clip_texts: Arc::new(crate::replay::clip_texts_of(&loaded.path, &loaded.clips)),
            // Turns are tracked (answer and expect_turn wait on them) and the
            // conversation checks judge every session of the load.
            conversation: crate::turns::ConversationPlan::for_api(
                &loaded.scenario.api,
                loaded.scenario.conversation.as_ref(),
            ),
            microphone: loaded.scenario.microphone.clone().map(Arc::new),
            path: loaded.path.display().to_string(),
            loaded,
            url,
            contract,
            connects_per_session,
        }
    }

    /// The scenario's name.
    pub(crate) fn name(&self) -> &str {
        &self.loaded.scenario.name
    }

    /// The scenario's file.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    fn variables(&self, index: u64, run_id: &str) -> Result<Vars, String> {
        let builtins: Vars = [
            ("session".to_owned(), index.to_string()),
            ("run_id".to_owned(), run_id.to_owned()),
        ]
        .into();
        resolve_definitions(&self.loaded.scenario.variables, &builtins)
            .map_err(|e| format!("{}: {e}", self.loaded.scenario.name))
    }

    /// Runs session `index` and records what it did into goose and the run.
    pub(crate) async fn run_one(
        &self,
        shared: &Arc<Shared>,
        user: &mut GooseUser,
        index: u64,
        lateness: Option<Duration>,
    ) -> TransactionResult {
        let waited = match &shared.connections {
            Some(pacer) => pacer.admit(self.connects_per_session).await,
            None => Duration::ZERO,
        };
        let vars = match self.variables(index, &shared.run_id) {
            Ok(vars) => vars,
            Err(message) => {
                return Err(Box::new(TransactionError::Custom(message)));
            }
        };
        let tap = Arc::new(SessionTap {
            run: shared.metrics.clone(),
            shared_counts: shared.clone(),
            operations: Mutex::new(Vec::new()),
            connect_correction: Mutex::new(lateness.map(|late| late + waited)),
        });
        let plan = SessionPlan {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            url: self.url.clone(),
            steps: self.steps.clone(),
            clips: self.clips.clone(),
            vars,
            turn_replies: self.turn_replies.clone(),
            tolerate: self.tolerate.clone(),
            conversation: self.conversation.clone(),
            microphone: self.microphone.clone(),
            clip_texts: self.clip_texts.clone(),
            contract: self.contract.clone(),
            time_scale: shared.time_scale,
            metrics: Arc::new(Metrics::tapped(tap.clone())),
            run_start: shared.run_start,
            reproduce: shared.reproduce.clone(),
            progress: Arc::new(|| {}),
        };
        let report = session::run(plan).await;
        let operations = std::mem::take(&mut *tap.operations.lock().expect("tap lock"));
        for operation in &operations {
            user.record_custom_request_duration(
                METHOD,
                &operation.name,
                operation.took,
                true,
                None,
                None,
            )
            .await?;
        }
        for failure in &report.failures {
            user.record_custom_request_duration(
                METHOD,
                &failure.check.replace(char::is_whitespace, "_"),
                Duration::ZERO,
                false,
                None,
                Some(&failure.message),
            )
            .await?;
        }
        let failures = report.failures.len() as u64;
        shared.count(|counts| {
            counts.operations += operations.len() as u64 + failures;
            counts.failed += failures;
        });
        shared.keep_session(report);
        Ok(())
    }
}
