//! State shared by every connection and request of one Vertex mock: the
//! configuration, the service account, the transcript catalog, faults,
//! sessions (conversations that outlive connections), resumption handles
//! and usage totals. Locks are held only for short, synchronous updates.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::VertexConfig;
use super::auth::{AuthError, ServiceAccount, bearer_token, unix_now};
use super::context::Compression;
use super::conversation::{Conversation, PlannedTurn, TokenTotals, TranscriptEntry, TurnRecord};
use super::faults::FaultBook;
use super::script::{ExaminerPart, ScriptOverrun};
use super::server_messages::TurnUsage;
use crate::speech::TranscriptCatalog;

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseRecord {
    /// The close code sent or received (1006: dropped without a close frame).
    pub code: u16,
    /// The reason.
    pub reason: String,
    /// Whether the mock ended it (rather than the client).
    pub by_server: bool,
}

/// What `GET /_mock/vertex/sessions` reports for one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// `session-N`, in order of creation.
    pub id: String,
    /// The region the latest connection reached (from the URL path).
    pub region: String,
    /// Every region a connection of this session reached, in order.
    pub regions: Vec<String>,
    /// The model resource name from setup.
    pub model: String,
    /// The part of the test Maya is in.
    pub part: ExaminerPart,
    /// Index of Maya's next script line.
    pub script_line: usize,
    /// Model turns sent (completed or interrupted).
    pub model_turns: u32,
    /// The conversation log: every model turn begun, in order.
    pub turns: Vec<TurnRecord>,
    /// Model turns asked for after the closing line (each closed the
    /// connection with 1011 and a reason naming the cause).
    pub script_overruns: u32,
    /// Candidate or client turns completed.
    pub user_turns: u32,
    /// Whether a connection is open.
    pub connected: bool,
    /// Connections made (the first plus resumptions).
    pub connections: u32,
    /// Times the session was resumed with a handle.
    pub resumed: u32,
    /// Tokens billed.
    pub usage: TokenTotals,
    /// The session's `contextWindowCompression`, if it set one.
    #[serde(default)]
    pub compression: Option<Compression>,
    /// Times the sliding window discarded the context's oldest turns.
    #[serde(default)]
    pub context_trims: u32,
    /// What was said.
    pub transcript: Vec<TranscriptEntry>,
    /// How the latest connection ended, if it has.
    pub last_close: Option<CloseRecord>,
}

/// What `GET /_mock/vertex/usage` reports.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UsageTotals {
    /// Tokens billed by every Live session and generateContent call.
    #[serde(flatten)]
    pub tokens: TokenTotals,
    /// Live sessions created (resumptions are not new sessions).
    pub sessions: u64,
    /// Live connections accepted (resumptions included).
    pub connections: u64,
    /// Live model turns.
    pub live_turns: u64,
    /// generateContent calls answered 200.
    pub generate_content_calls: u64,
    /// Live model turns asked for after the script's closing line.
    pub script_overruns: u64,
    /// Tokens per model (the short model id), for pricing.
    pub by_model: BTreeMap<String, TokenTotals>,
}

/// One session's record.
#[derive(Debug)]
pub(super) struct SessionRecord {
    pub(super) id: String,
    pub(super) regions: Vec<String>,
    pub(super) model: String,
    pub(super) conversation: Conversation,
    pub(super) connected: bool,
    pub(super) connections: u32,
    pub(super) resumed: u32,
    pub(super) last_close: Option<CloseRecord>,
}

impl SessionRecord {
    fn info(&self) -> SessionInfo {
        SessionInfo {
            id: self.id.clone(),
            region: self.regions.last().cloned().unwrap_or_default(),
            regions: self.regions.clone(),
            model: self.model.clone(),
            part: self.conversation.part(),
            script_line: self.conversation.next_line(),
            model_turns: self.conversation.model_turns(),
            turns: self.conversation.turns().to_vec(),
            script_overruns: self.conversation.script_overruns(),
            user_turns: self.conversation.user_turns(),
            connected: self.connected,
            connections: self.connections,
            resumed: self.resumed,
            usage: self.conversation.usage(),
            compression: self.conversation.compression(),
            context_trims: self.conversation.context_trims(),
            transcript: self.conversation.transcript().to_vec(),
            last_close: self.last_close.clone(),
        }
    }
}

/// Everything one mock shares.
#[derive(Debug)]
pub(super) struct VertexState {
    pub(super) config: VertexConfig,
    pub(super) account: ServiceAccount,
    catalog: Mutex<TranscriptCatalog>,
    faults: Mutex<FaultBook>,
    sessions: Mutex<Vec<SessionRecord>>,
    /// Resumption handle to index in `sessions`.
    handles: Mutex<HashMap<String, usize>>,
    usage: Mutex<UsageTotals>,
    /// `http://127.0.0.1:PORT/token`, known once the port is bound.
    token_uri: OnceLock<String>,
    /// Access tokens issued by the token endpoint, with their expiry (epoch seconds).
    access_tokens: Mutex<HashMap<String, u64>>,
    /// Cancelled by `stop`: live sessions close with 1001.
    pub(super) shutdown: CancellationToken,
    /// The live connection tasks, awaited by `stop`.
    pub(super) tasks: TaskTracker,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves plain data behind: keep serving.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How access tokens from the token endpoint start (as Google's do).
const ACCESS_TOKEN_PREFIX: &str = "ya29.mock-";

/// An opaque, unguessable-enough handle: a digest of the key id, session and counter.
fn resumption_handle(secret: &str, session: usize, counter: usize) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("{secret}/{session}/{counter}").as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The short model id of a resource name (`.../models/gemini-x` -> `gemini-x`).
pub(super) fn short_model(model: &str) -> &str {
    model.rsplit('/').next().unwrap_or(model)
}

impl VertexState {
    pub(super) fn new(config: VertexConfig, account: ServiceAccount) -> Self {
        Self {
            config,
            account,
            catalog: Mutex::new(TranscriptCatalog::default()),
            faults: Mutex::new(FaultBook::default()),
            sessions: Mutex::new(Vec::new()),
            handles: Mutex::new(HashMap::new()),
            usage: Mutex::new(UsageTotals::default()),
            token_uri: OnceLock::new(),
            access_tokens: Mutex::new(HashMap::new()),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }
    }

    /// Sets the token endpoint's URL once the port is known.
    pub(super) fn set_base_url(&self, base_url: &str) {
        let _ = self.token_uri.set(format!("{base_url}/token"));
    }

    /// The token endpoint's URL (the key file's `token_uri`).
    pub(super) fn token_uri(&self) -> String {
        self.token_uri.get().cloned().unwrap_or_default()
    }

    /// The key file, naming this mock's token endpoint.
    pub(super) fn key_json(&self) -> String {
        self.account.key_json(&self.token_uri())
    }

    /// Issues an opaque access token valid until `expires_at`.
    pub(super) fn issue_access_token(&self, expires_at: u64) -> String {
        let mut tokens = lock(&self.access_tokens);
        let token = format!(
            "{ACCESS_TOKEN_PREFIX}{}",
            resumption_handle(self.account.private_key_id(), tokens.len(), usize::MAX)
        );
        tokens.insert(token.clone(), expires_at);
        token
    }

    /// Checks an `Authorization` header: a self-signed JWT or an access
    /// token issued by the token endpoint.
    pub(super) fn authorize(&self, authorization: Option<&str>) -> Result<(), AuthError> {
        let token = bearer_token(authorization)?;
        let now = unix_now();
        if token.starts_with(ACCESS_TOKEN_PREFIX) {
            return match lock(&self.access_tokens).get(token) {
                Some(expires_at) if *expires_at > now => Ok(()),
                Some(_) => Err(AuthError::Expired),
                None => Err(AuthError::Malformed("unknown access token".into())),
            };
        }
        self.account.verify(token, now).map(drop)
    }

    /// A scenario-time duration in wall time.
    pub(super) fn scaled(&self, duration: Duration) -> Duration {
        duration.div_f64(self.config.time_scale.max(1.0))
    }

    pub(super) fn catalog(&self) -> MutexGuard<'_, TranscriptCatalog> {
        lock(&self.catalog)
    }

    pub(super) fn faults(&self) -> MutexGuard<'_, FaultBook> {
        lock(&self.faults)
    }

    /// Creates a session for a first connection; returns its index.
    pub(super) fn create_session(&self, region: &str, model: &str) -> usize {
        let mut sessions = lock(&self.sessions);
        let index = sessions.len();
        sessions.push(SessionRecord {
            id: format!("session-{}", index + 1),
            regions: vec![region.to_owned()],
            model: model.to_owned(),
            conversation: Conversation::default(),
            connected: true,
            connections: 1,
            resumed: 0,
            last_close: None,
        });
        let mut usage = lock(&self.usage);
        usage.sessions += 1;
        usage.connections += 1;
        index
    }

    /// Attaches a new connection to the session a handle names.
    pub(super) fn resume_session(&self, handle: &str, region: &str) -> Option<usize> {
        let index = *lock(&self.handles).get(handle)?;
        let mut sessions = lock(&self.sessions);
        let record = sessions.get_mut(index)?;
        record.regions.push(region.to_owned());
        record.connected = true;
        record.connections += 1;
        record.resumed += 1;
        record.last_close = None;
        lock(&self.usage).connections += 1;
        Some(index)
    }

    /// Issues a new resumption handle for a session.
    pub(super) fn new_handle(&self, index: usize) -> String {
        let mut handles = lock(&self.handles);
        let handle = resumption_handle(self.account.private_key_id(), index, handles.len());
        handles.insert(handle.clone(), index);
        handle
    }

    /// Runs `f` on a session's conversation.
    pub(super) fn with_conversation<R>(
        &self,
        index: usize,
        f: impl FnOnce(&mut Conversation) -> R,
    ) -> Option<R> {
        lock(&self.sessions)
            .get_mut(index)
            .map(|record| f(&mut record.conversation))
    }

    /// Begins a session's next model turn; an overrun of the script is
    /// counted in the totals too. `None`: no such session.
    pub(super) fn begin_model_turn(
        &self,
        index: usize,
    ) -> Option<Result<PlannedTurn, ScriptOverrun>> {
        let planned = self.with_conversation(index, Conversation::begin_model_turn)?;
        if planned.is_err() {
            lock(&self.usage).script_overruns += 1;
        }
        Some(planned)
    }

    /// Records a finished model turn in the session and the totals.
    pub(super) fn finish_model_turn(
        &self,
        index: usize,
        turn: &PlannedTurn,
        usage: &TurnUsage,
        interrupted: bool,
    ) {
        let model = {
            let mut sessions = lock(&self.sessions);
            let Some(record) = sessions.get_mut(index) else {
                return;
            };
            record
                .conversation
                .finish_model_turn(turn, usage, interrupted);
            short_model(&record.model).to_owned()
        };
        let mut totals = lock(&self.usage);
        totals.tokens.add_turn(usage);
        totals.live_turns += 1;
        totals.by_model.entry(model).or_default().add_turn(usage);
    }

    /// Records a generateContent call's usage; returns the call's number (1, 2, ...).
    pub(super) fn record_generate_content(&self, model: &str, usage: &TurnUsage) -> u64 {
        let mut totals = lock(&self.usage);
        totals.tokens.add_turn(usage);
        totals.generate_content_calls += 1;
        totals
            .by_model
            .entry(model.to_owned())
            .or_default()
            .add_turn(usage);
        totals.generate_content_calls
    }

    /// Marks a session's connection closed.
    pub(super) fn disconnect(&self, index: usize, close: CloseRecord) {
        if let Some(record) = lock(&self.sessions).get_mut(index) {
            record.connected = false;
            record.last_close = Some(close);
        }
    }

    pub(super) fn sessions(&self) -> Vec<SessionInfo> {
        lock(&self.sessions)
            .iter()
            .map(SessionRecord::info)
            .collect()
    }

    pub(super) fn usage(&self) -> UsageTotals {
        lock(&self.usage).clone()
    }
}
