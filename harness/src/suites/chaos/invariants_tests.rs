//! Each invariant broken on purpose must be reported; a clean snapshot passes.

use super::*;

const NOW: i64 = 1_800_000_000;

fn session(id: &str, status: &str) -> SessionRow {
    SessionRow {
        session_id: format!("speaking#{id}"),
        connection_id: id.to_owned(),
        user_id: "u".into(),
        status: status.into(),
        expires_at: NOW + 600,
    }
}

fn assessment(id: &str, session: &str) -> AssessmentRow {
    AssessmentRow {
        assessment_id: id.into(),
        session_id: Some(format!("speaking#{session}")),
        user_id: "u".into(),
    }
}

fn departure(id: &str, finished_ms: i64) -> Departure {
    Departure {
        connection_id: id.into(),
        closed_at_ms: finished_ms - 50,
        code: 1006,
        disconnect_started_ms: Some(finished_ms - 20),
        disconnect_finished_ms: Some(finished_ms),
    }
}

fn post(id: &str, at_ms: i64) -> LatePost {
    LatePost {
        connection_id: id.into(),
        method: "POST".into(),
        at_ms,
        bytes: 40,
    }
}

/// A snapshot where everything held.
fn clean() -> Snapshot {
    Snapshot {
        now_epoch_s: NOW,
        quiesced: true,
        sessions: vec![
            session("a", "completed"),
            session("b", "disconnected"),
            session("c", "active"),
        ],
        assessments: vec![assessment("speaking-a", "a")],
        relay: vec![RelayRow {
            session_id: "speaking#c".into(),
            seq: "1".into(),
            kind: "audio".into(),
            audio_bytes: 3200,
        }],
        delivered_assessments: vec!["speaking-a".into()],
        departures: vec![departure("b", 10_000)],
        // Before $disconnect ended, and the one tolerated discovery post.
        late_posts: vec![post("b", 9_990), post("b", 10_100)],
        chat: vec![ChatLedger {
            user: "alice".into(),
            acknowledged: ["m1".to_owned()].into(),
            answered: ["m1".to_owned(), "m2".to_owned()].into(),
        }],
        erasures: vec![Erasure {
            user_id: "user-gone".into(),
            email: "gone@example.com".into(),
        }],
        items: [(
            "ielts-genai-prep-users".to_owned(),
            vec!["{user_id: user-stays}".to_owned()],
        )]
        .into(),
    }
}

fn only(violations: &[Violation], invariant: Invariant) -> usize {
    assert!(
        violations.iter().all(|v| v.invariant == invariant),
        "{violations:?}"
    );
    violations.len()
}

#[test]
fn a_clean_snapshot_passes() {
    assert_eq!(check(&clean(), CheckOptions::default()), Vec::new());
}

#[test]
fn an_active_session_past_its_ttl_is_reported() {
    let mut snapshot = clean();
    snapshot.sessions[2].expires_at = NOW - 5;
    // Its audio now counts as left over too: look at the session's own report.
    let found = check(&snapshot, CheckOptions::default());
    assert!(found.iter().any(|v| v.invariant == Invariant::SessionEnds
        && v.detail.contains("5 s past its TTL")));
}

#[test]
fn an_active_session_whose_connection_went_is_reported_once_quiet() {
    let mut snapshot = clean();
    snapshot.sessions[1].status = "active".into();
    assert_eq!(
        only(
            &check(&snapshot, CheckOptions::default()),
            Invariant::SessionEnds
        ),
        1
    );
    snapshot.quiesced = false;
    assert!(check(&snapshot, CheckOptions::default()).is_empty());
}

#[test]
fn a_duplicate_or_missing_assessment_is_reported() {
    let mut snapshot = clean();
    snapshot
        .assessments
        .push(assessment("speaking-a-retry", "a"));
    let found = check(&snapshot, CheckOptions::default());
    assert_eq!(only(&found, Invariant::OneAssessment), 1);
    assert!(found[0].detail.contains("2 stored assessments"));

    let mut snapshot = clean();
    snapshot.assessments.clear();
    let found = check(&snapshot, CheckOptions::default());
    // Completed without one, and the delivered one is lost.
    assert_eq!(only(&found, Invariant::OneAssessment), 2);
}

#[test]
fn audio_left_after_the_session_ended_is_reported() {
    let mut snapshot = clean();
    snapshot.relay.push(RelayRow {
        session_id: "speaking#b".into(),
        seq: "2".into(),
        kind: "audio".into(),
        audio_bytes: 1600,
    });
    // A stop item holds no audio: not a violation.
    snapshot.relay.push(RelayRow {
        session_id: "speaking#b".into(),
        seq: "3".into(),
        kind: "stop".into(),
        audio_bytes: 0,
    });
    let found = check(&snapshot, CheckOptions::default());
    assert_eq!(only(&found, Invariant::NoAudioLeft), 1);
    assert!(found[0].detail.contains("1600 audio bytes"));
}

#[test]
fn a_post_after_disconnect_is_reported() {
    // Long after $disconnect: the backend kept a stale connection.
    let mut snapshot = clean();
    snapshot.late_posts.push(post("b", 60_000));
    let found = check(&snapshot, CheckOptions::default());
    assert_eq!(only(&found, Invariant::NoPostAfterDisconnect), 1);
    assert!(found[0].detail.contains("50000 ms after $disconnect ended"));
    // Strict: in-flight posts count too.
    let strict = CheckOptions { post_grace_ms: 0 };
    assert_eq!(
        only(&check(&clean(), strict), Invariant::NoPostAfterDisconnect),
        1
    );
    // Calls other than POST (a GET of the connection) are not posts.
    let mut snapshot = clean();
    let mut get = post("b", 60_000);
    get.method = "GET".into();
    snapshot.late_posts.push(get);
    assert!(check(&snapshot, CheckOptions::default()).is_empty());
}

#[test]
fn a_lost_acknowledged_chat_message_is_reported() {
    let mut snapshot = clean();
    snapshot.chat[0].acknowledged.insert("m3".into());
    let found = check(&snapshot, CheckOptions::default());
    assert_eq!(only(&found, Invariant::AckedChatKept), 1);
    assert_eq!(found[0].subject, "m3");
}

#[test]
fn an_item_left_after_a_gdpr_delete_is_reported() {
    let mut snapshot = clean();
    snapshot
        .items
        .entry("ielts-genai-prep-assessments".into())
        .or_default()
        .push("{user_id: user-gone, overall_band: 6.5}".into());
    snapshot
        .items
        .entry("ielts-genai-prep-users".into())
        .or_default()
        .push("{user_id: email#gone@example.com}".into());
    assert_eq!(
        only(
            &check(&snapshot, CheckOptions::default()),
            Invariant::GdprErased
        ),
        2
    );
}
