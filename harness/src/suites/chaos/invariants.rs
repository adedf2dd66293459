//! The reliability invariants, checked over a [`Snapshot`] of what the local
//! stack holds once a fault has played out: the sessions, assessments and
//! relay tables, the gateway's record of connections that went and of
//! management calls made for them afterwards, the chat clients' ledgers and
//! every table's items for users who asked to be erased.
//!
//! The checker is a pure function of the snapshot, so each invariant is
//! tested by planting its violation (a duplicate assessment, leftover audio,
//! a post after `$disconnect`...) and seeing it reported; [`super::collect`]
//! takes the snapshot from a running stack.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::gateway::{Departure, LatePost};

/// One invariant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Invariant {
    /// No session stays active past its TTL (nor once its connection is gone).
    SessionEnds,
    /// Every completed session has exactly one stored assessment, and every
    /// assessment a client was told about is stored.
    OneAssessment,
    /// No audio bytes remain stored after a session ends.
    NoAudioLeft,
    /// Nothing is posted to a connection after its `$disconnect`.
    NoPostAfterDisconnect,
    /// No acknowledged chat message is lost.
    AckedChatKept,
    /// A GDPR delete removes everything.
    GdprErased,
}

impl Invariant {
    /// Every invariant, in report order.
    pub const ALL: [Invariant; 6] = [
        Invariant::SessionEnds,
        Invariant::OneAssessment,
        Invariant::NoAudioLeft,
        Invariant::NoPostAfterDisconnect,
        Invariant::AckedChatKept,
        Invariant::GdprErased,
    ];

    /// A short id.
    pub fn id(self) -> &'static str {
        match self {
            Invariant::SessionEnds => "session-ends",
            Invariant::OneAssessment => "one-assessment",
            Invariant::NoAudioLeft => "no-audio-left",
            Invariant::NoPostAfterDisconnect => "no-post-after-disconnect",
            Invariant::AckedChatKept => "acked-chat-kept",
            Invariant::GdprErased => "gdpr-erased",
        }
    }

    /// What it promises.
    pub fn statement(self) -> &'static str {
        match self {
            Invariant::SessionEnds => {
                "no session stays active past its TTL, nor once its connection has gone and $disconnect ran"
            }
            Invariant::OneAssessment => {
                "every completed session has exactly one stored assessment; every assessment a client received is stored"
            }
            Invariant::NoAudioLeft => "no audio bytes remain stored after a session ends",
            Invariant::NoPostAfterDisconnect => {
                "nothing is posted to a connection after its $disconnect"
            }
            Invariant::AckedChatKept => {
                "every acknowledged chat message gets its chat_reply or error"
            }
            Invariant::GdprErased => "a GDPR delete leaves no item naming the user",
        }
    }
}

/// A broken invariant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which.
    pub invariant: Invariant,
    /// What it is about (a session, a connection, a user...).
    pub subject: String,
    /// What was found.
    pub detail: String,
}

/// A session item (WebSocket sessions: those with a `session_status`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionRow {
    /// `{kind}#{connectionId}`.
    pub session_id: String,
    /// The connection.
    pub connection_id: String,
    /// Who.
    pub user_id: String,
    /// `active`, `completed`, `failed`, `disconnected`.
    pub status: String,
    /// TTL, epoch seconds.
    pub expires_at: i64,
}

/// An assessment item.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AssessmentRow {
    /// Key.
    pub assessment_id: String,
    /// The session it assesses (speaking assessments).
    pub session_id: Option<String>,
    /// Who.
    pub user_id: String,
}

/// A relay item.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RelayRow {
    /// The session.
    pub session_id: String,
    /// Sort key.
    pub seq: String,
    /// `audio`, `text`, `end`, `stop`.
    pub kind: String,
    /// Bytes of audio it holds.
    pub audio_bytes: usize,
}

/// What one chat client saw.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChatLedger {
    /// The user (all their connections share the ledger).
    pub user: String,
    /// Message ids acknowledged with `message_received`.
    pub acknowledged: BTreeSet<String>,
    /// Message ids answered with `chat_reply` or an `error` naming them.
    pub answered: BTreeSet<String>,
}

/// A user who was erased, and every item still in the tables.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Erasure {
    /// The user id.
    pub user_id: String,
    /// The e-mail address.
    pub email: String,
}

/// What the stack holds.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// When it was taken, epoch seconds.
    pub now_epoch_s: i64,
    /// Whether every client is done and the functions are idle (then a
    /// session still active whose connection went is a violation).
    pub quiesced: bool,
    /// WebSocket session items.
    pub sessions: Vec<SessionRow>,
    /// Assessment items.
    pub assessments: Vec<AssessmentRow>,
    /// Relay items.
    pub relay: Vec<RelayRow>,
    /// Assessment ids clients received in `assessment_complete`.
    pub delivered_assessments: Vec<String>,
    /// Connections that went (every API).
    pub departures: Vec<Departure>,
    /// Management calls for gone connections.
    pub late_posts: Vec<LatePost>,
    /// Chat clients' ledgers.
    pub chat: Vec<ChatLedger>,
    /// Users erased through the GDPR delete.
    pub erasures: Vec<Erasure>,
    /// Every table's items as text (for the GDPR check), by table name.
    pub items: BTreeMap<String, Vec<String>>,
}

/// How strictly to judge.
#[derive(Debug, Clone, Copy)]
pub struct CheckOptions {
    /// Posts arriving within this many ms after `$disconnect` ended are
    /// work that was in flight when the client left (an invocation that had
    /// read the connection as registered, an owner between two polls of its
    /// relay) and are tolerated; any later post is a violation: the backend
    /// kept targeting a connection it had been told was gone.
    pub post_grace_ms: i64,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            post_grace_ms: 1_000,
        }
    }
}

fn violation(invariant: Invariant, subject: &str, detail: String) -> Violation {
    Violation {
        invariant,
        subject: subject.to_owned(),
        detail,
    }
}

/// Every violation in the snapshot.
pub fn check(snapshot: &Snapshot, options: CheckOptions) -> Vec<Violation> {
    let mut found = Vec::new();
    session_ends(snapshot, &mut found);
    one_assessment(snapshot, &mut found);
    no_audio_left(snapshot, &mut found);
    no_post_after_disconnect(snapshot, options, &mut found);
    acked_chat_kept(snapshot, &mut found);
    gdpr_erased(snapshot, &mut found);
    found
}

fn session_ends(snapshot: &Snapshot, found: &mut Vec<Violation>) {
    let gone: BTreeMap<&str, &Departure> = snapshot
        .departures
        .iter()
        .map(|d| (d.connection_id.as_str(), d))
        .collect();
    for session in snapshot.sessions.iter().filter(|s| s.status == "active") {
        if session.expires_at <= snapshot.now_epoch_s {
            found.push(violation(
                Invariant::SessionEnds,
                &session.session_id,
                format!(
                    "still active {} s past its TTL",
                    snapshot.now_epoch_s - session.expires_at
                ),
            ));
        } else if let Some(departure) = gone.get(session.connection_id.as_str())
            && snapshot.quiesced
            && departure.disconnect_finished_ms.is_some()
        {
            found.push(violation(
                Invariant::SessionEnds,
                &session.session_id,
                format!(
                    "still active after its connection closed ({}) and $disconnect ran",
                    departure.code
                ),
            ));
        }
    }
}

fn one_assessment(snapshot: &Snapshot, found: &mut Vec<Violation>) {
    let mut by_session: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for assessment in &snapshot.assessments {
        if let Some(session) = &assessment.session_id {
            by_session
                .entry(session.as_str())
                .or_default()
                .push(&assessment.assessment_id);
        }
    }
    for session in snapshot.sessions.iter().filter(|s| s.status == "completed") {
        let stored = by_session
            .get(session.session_id.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        if stored.len() != 1 {
            found.push(violation(
                Invariant::OneAssessment,
                &session.session_id,
                format!(
                    "completed with {} stored assessments {stored:?}",
                    stored.len()
                ),
            ));
        }
    }
    let stored: BTreeSet<&str> = snapshot
        .assessments
        .iter()
        .map(|a| a.assessment_id.as_str())
        .collect();
    for delivered in &snapshot.delivered_assessments {
        if !stored.contains(delivered.as_str()) {
            found.push(violation(
                Invariant::OneAssessment,
                delivered,
                "a client received this assessment but it is not stored (lost)".to_owned(),
            ));
        }
    }
}

fn no_audio_left(snapshot: &Snapshot, found: &mut Vec<Violation>) {
    let live: BTreeSet<&str> = snapshot
        .sessions
        .iter()
        .filter(|s| s.status == "active" && s.expires_at > snapshot.now_epoch_s)
        .map(|s| s.session_id.as_str())
        .collect();
    let mut left: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for item in snapshot.relay.iter().filter(|r| r.audio_bytes > 0) {
        if !live.contains(item.session_id.as_str()) {
            let entry = left.entry(&item.session_id).or_default();
            entry.0 += 1;
            entry.1 += item.audio_bytes;
        }
    }
    for (session, (items, bytes)) in left {
        found.push(violation(
            Invariant::NoAudioLeft,
            session,
            format!("{items} relay items with {bytes} audio bytes remain after the session ended"),
        ));
    }
}

fn no_post_after_disconnect(
    snapshot: &Snapshot,
    options: CheckOptions,
    found: &mut Vec<Violation>,
) {
    let gone: BTreeMap<&str, &Departure> = snapshot
        .departures
        .iter()
        .map(|d| (d.connection_id.as_str(), d))
        .collect();
    for post in snapshot.late_posts.iter().filter(|p| p.method == "POST") {
        let Some(departure) = gone.get(post.connection_id.as_str()) else {
            continue; // never connected here: not a departed connection
        };
        let Some(ended) = departure.disconnect_finished_ms.or(
            // No $disconnect route: the close is the reference.
            departure
                .disconnect_started_ms
                .is_none()
                .then_some(departure.closed_at_ms),
        ) else {
            continue; // $disconnect still running: the sender could not know yet
        };
        let after = post.at_ms - ended;
        if after > options.post_grace_ms {
            found.push(violation(
                Invariant::NoPostAfterDisconnect,
                &post.connection_id,
                format!(
                    "a {}-byte POST arrived {after} ms after $disconnect ended",
                    post.bytes
                ),
            ));
        }
    }
}

fn acked_chat_kept(snapshot: &Snapshot, found: &mut Vec<Violation>) {
    for ledger in &snapshot.chat {
        for lost in ledger.acknowledged.difference(&ledger.answered) {
            found.push(violation(
                Invariant::AckedChatKept,
                lost,
                format!(
                    "acknowledged to {} but never answered (no chat_reply, no error)",
                    ledger.user
                ),
            ));
        }
    }
}

fn gdpr_erased(snapshot: &Snapshot, found: &mut Vec<Violation>) {
    for erased in &snapshot.erasures {
        for (table, items) in &snapshot.items {
            let left = items
                .iter()
                .filter(|item| {
                    item.contains(&erased.user_id)
                        || (!erased.email.is_empty() && item.contains(&erased.email))
                })
                .count();
            if left > 0 {
                found.push(violation(
                    Invariant::GdprErased,
                    &erased.user_id,
                    format!("{left} items in {table} still name the user after the GDPR delete"),
                ));
            }
        }
    }
}

#[cfg(test)]
#[path = "invariants_tests.rs"]
mod tests;
