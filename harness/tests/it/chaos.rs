//! The reliability suite (`harness chaos`) in CI: each invariant broken on
//! purpose in a real store and gateway must be reported; a subset of the
//! fault cases covering every kind of fault passes (all of them with
//! `SPEECHGATE_CHAOS=all`); a small load with correctness holds. The ramp
//! to the largest N is opt-in (`harness chaos --find-max`, or the ignored
//! test below).

use std::collections::HashMap;
use std::time::Duration;

use crate::support::*;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use harness::suites::chaos::invariants::{ChatLedger, Erasure, Invariant};
use harness::suites::chaos::{self, ChaosOptions, CheckOptions, ClientFacts, Scope};

const PLANTED: &str = "chaos-planted-";

fn item(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn n(number: i64) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

fn session(id: &str, status: &str, expires_at: i64) -> HashMap<String, AttributeValue> {
    item(&[
        ("session_id", s(&format!("speaking#{id}"))),
        ("kind", s("speaking")),
        ("connection_id", s(id)),
        ("user_id", s(&format!("{PLANTED}{id}"))),
        ("session_status", s(status)),
        ("created_at", n(1)),
        ("expires_at", n(expires_at)),
    ])
}

fn assessment(id: &str, session: &str) -> HashMap<String, AttributeValue> {
    item(&[
        ("assessment_id", s(id)),
        ("session_id", s(&format!("speaking#{session}"))),
        ("user_id", s(&format!("{PLANTED}{session}"))),
        ("timestamp", s("2026-01-01T00:00:00Z")),
    ])
}

async fn put(db: &aws_sdk_dynamodb::Client, table: &str, item: HashMap<String, AttributeValue>) {
    db.put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .expect("planted");
}

fn management(endpoint: &str) -> aws_sdk_apigatewaymanagement::Client {
    let credentials = aws_sdk_apigatewaymanagement::config::Credentials::new(
        "ASIALOCALSTACKKEY000",
        "local-secret-access-key",
        None,
        None,
        "chaos-test",
    );
    let config = aws_sdk_apigatewaymanagement::Config::builder()
        .behavior_version(aws_sdk_apigatewaymanagement::config::BehaviorVersion::latest())
        .region(aws_sdk_apigatewaymanagement::config::Region::new(
            "us-east-1",
        ))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .build();
    aws_sdk_apigatewaymanagement::Client::from_conf(config)
}

#[tokio::test]
async fn every_invariant_broken_on_purpose_is_reported() {
    let _serial = MACHINE_SATURATING.lock().await;
    let stack = start(options(10.0)).await;
    let db = stack.dynamodb_client().await;
    let table = |id: &str| stack.template().tables[id].table_name.clone();
    let now = chrono::Utc::now().timestamp();

    // Nothing planted yet: a clean store passes.
    let scope = Scope {
        user_prefix: PLANTED.to_owned(),
        since_ms: 0,
    };
    let clean = chaos::collect::snapshot(&stack, &scope, &ClientFacts::default(), true)
        .await
        .unwrap();
    assert_eq!(chaos::check(&clean, CheckOptions::default()), Vec::new());

    // A completed session with a duplicate assessment (a retry stored it twice).
    put(
        &db,
        &table("SessionsTable"),
        session("dup", "completed", now + 600),
    )
    .await;
    put(
        &db,
        &table("AssessmentsTable"),
        assessment("speaking-dup-1", "dup"),
    )
    .await;
    put(
        &db,
        &table("AssessmentsTable"),
        assessment("speaking-dup-2", "dup"),
    )
    .await;
    // Audio left in the relay of a session that ended.
    put(
        &db,
        &table("SessionsTable"),
        session("left", "disconnected", now + 600),
    )
    .await;
    put(
        &db,
        &table("RelayTable"),
        item(&[
            ("session_id", s("speaking#left")),
            ("seq", s("0001700000000000#m1")),
            ("kind", s("audio")),
            ("payload", AttributeValue::B(Blob::new(vec![0u8; 3200]))),
            ("expires_at", n(now + 900)),
        ]),
    )
    .await;
    // A session still active past its TTL: planted with a TTL still to come
    // and judged as of a clock 60 s past it (below). It used to be planted
    // with `now - 60`, an item a store with TTL enabled may delete at any
    // time (AWS does; DynamoDB Local ships a TTL deletion job, which the
    // pinned 3.3.0 server did not run in a 150 s probe), so whether the
    // verdict saw it depended on the store and on timing, and a full run once
    // failed `reported(SessionEnds, "speaking#stale")`. No store deletes an
    // item before its TTL, and the snapshot is checked to hold it as planted.
    let stale_expires_at = now + 600;
    put(
        &db,
        &table("SessionsTable"),
        session("stale", "active", stale_expires_at),
    )
    .await;
    // An item naming an erased user.
    put(
        &db,
        &table("QrTokensTable"),
        item(&[
            ("token", s("qr-planted")),
            ("user_id", s("user-erased-on-purpose")),
        ]),
    )
    .await;
    // A post to a connection after its $disconnect ended.
    let gateway = stack.websocket("SpeakingWebSocketApi").unwrap();
    let socket = connect(&gateway.url()).await;
    drop(socket);
    assert!(
        eventually(Duration::from_secs(20), || {
            gateway
                .departures()
                .iter()
                .any(|d| d.disconnect_finished_ms.is_some())
        })
        .await
    );
    let gone = gateway.departures()[0].connection_id.clone();
    let refused = management(&gateway.management_endpoint())
        .post_to_connection()
        .connection_id(&gone)
        .data(Blob::new(
            b"{\"type\":\"maya_transcript\",\"text\":\"still there?\"}".to_vec(),
        ))
        .send()
        .await;
    assert!(refused.is_err(), "410 for a gone connection");
    // An acknowledged chat message never answered.
    let facts = ClientFacts {
        delivered_assessments: vec!["speaking-never-stored".to_owned()],
        chat: vec![ChatLedger {
            user: "alice".to_owned(),
            acknowledged: ["m-acked".to_owned(), "m-lost".to_owned()].into(),
            answered: ["m-acked".to_owned()].into(),
        }],
        erasures: vec![Erasure {
            user_id: "user-erased-on-purpose".to_owned(),
            email: "erased@example.com".to_owned(),
        }],
    };

    let mut snapshot = chaos::collect::snapshot(&stack, &scope, &facts, true)
        .await
        .unwrap();
    let stale = snapshot
        .sessions
        .iter()
        .find(|s| s.session_id == "speaking#stale")
        .expect("the planted stale session is in the snapshot");
    assert_eq!(
        (stale.status.as_str(), stale.expires_at),
        ("active", stale_expires_at)
    );
    // As of now the stale session is within its TTL: not reported (so the
    // check depends on the clock it is given, and can fail)...
    assert!(
        !chaos::check(&snapshot, CheckOptions::default())
            .iter()
            .any(|v| v.invariant == Invariant::SessionEnds && v.subject.contains("speaking#stale"))
    );
    // ...and judged 60 s past its TTL, it is.
    snapshot.now_epoch_s = stale_expires_at + 60;
    // The post came right after $disconnect: judged with no in-flight grace.
    let violations = chaos::check(&snapshot, CheckOptions { post_grace_ms: -1 });
    let reported = |invariant: Invariant, subject: &str| {
        violations
            .iter()
            .any(|v| v.invariant == invariant && v.subject.contains(subject))
    };
    assert!(
        reported(Invariant::OneAssessment, "speaking#dup"),
        "{violations:#?}"
    );
    assert!(reported(Invariant::OneAssessment, "speaking-never-stored"));
    assert!(reported(Invariant::NoAudioLeft, "speaking#left"));
    assert!(reported(Invariant::SessionEnds, "speaking#stale"));
    assert!(reported(Invariant::GdprErased, "user-erased-on-purpose"));
    assert!(reported(Invariant::NoPostAfterDisconnect, &gone));
    assert!(reported(Invariant::AckedChatKept, "m-lost"));
    for invariant in Invariant::ALL {
        assert!(
            violations.iter().any(|v| v.invariant == invariant),
            "{} was not reported",
            invariant.id()
        );
    }
    // With an in-flight grace covering it, the post after $disconnect is
    // tolerated, and with one a millisecond shorter it is not. The grace is
    // the delay the gateway recorded, not the default 1 s: how long the post
    // took after $disconnect ended depends on the machine's load, and a fixed
    // grace made this assertion depend on timing.
    let ended = snapshot
        .departures
        .iter()
        .find(|d| d.connection_id == gone)
        .and_then(|d| d.disconnect_finished_ms)
        .expect("$disconnect finished");
    let late = snapshot
        .late_posts
        .iter()
        .find(|p| p.connection_id == gone && p.method == "POST")
        .expect("the gateway recorded the post to the gone connection");
    let after = late.at_ms - ended;
    let judged = |post_grace_ms: i64| {
        chaos::check(&snapshot, CheckOptions { post_grace_ms })
            .iter()
            .any(|v| v.invariant == Invariant::NoPostAfterDisconnect && v.subject == gone)
    };
    assert!(!judged(after), "tolerated within a grace of {after} ms");
    assert!(
        judged(after - 1),
        "reported past a grace of {} ms",
        after - 1
    );
    stack.stop().await;
}

fn chaos_options() -> ChaosOptions {
    ChaosOptions {
        base: options(10.0),
        time_scale: 10.0,
        check: CheckOptions::default(),
    }
}

/// One case per kind of fault (all cases with `SPEECHGATE_CHAOS=all`).
const CI_CASES: &[&str] = &[
    "dynamodb-restart",
    "dynamodb-throttle-storm",
    "owner-crash",
    "chunk-crash",
    "socket-drop-after-end",
    "model-error",
    "early-goaway",
    "chat-socket-drop",
    "gdpr-delete-under-faults",
    "nova-stream-timeout",
];

#[tokio::test]
async fn the_reliability_suite_passes() {
    let _serial = MACHINE_SATURATING.lock().await;
    let only: Vec<String> = if std::env::var("SPEECHGATE_CHAOS").as_deref() == Ok("all") {
        Vec::new()
    } else {
        CI_CASES.iter().map(|c| (*c).to_owned()).collect()
    };
    let reports = chaos::run_suite(&chaos_options(), &only, |_| {})
        .await
        .expect("the suite runs");
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| !r.passed())
        .map(|r| {
            format!(
                "{}: {:?} {:?}\n{:#?}",
                r.case.id, r.problems, r.violations, r.notes
            )
        })
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
    assert!(reports.len() >= only.len());
}

#[tokio::test]
async fn concurrent_sessions_lose_no_assessment() {
    let _serial = MACHINE_SATURATING.lock().await;
    let mut options = chaos_options();
    // Three sessions' chunks at 10x arrive faster than a debug-built
    // instance starts on 2 shared cores: nearly every chunk meets a cold start
    // (measured: 150 of 153), and chunks are written up to ~4.2 s after API
    // Gateway received them (1.5 s let audio reach the model out of order,
    // which the step reports as late audio). The owners' jitter buffer covers
    // that spread with room for the other test thread.
    options
        .base
        .function_env
        .insert("RELAY_SETTLE_MS".to_owned(), "10000".to_owned());
    let smoke = workspace().join("scenarios/speaking/smoke.yaml");
    let step = chaos::load::run_step(&options, &smoke, 3).await.unwrap();
    assert!(step.held(), "{step:#?}");
    assert_eq!(step.assessments_stored, 3);
}

#[tokio::test]
#[ignore = "opt-in: ramps full 14-minute sessions; `harness chaos --find-max` is the command"]
async fn the_ramp_finds_a_largest_n() {
    let _serial = MACHINE_SATURATING.lock().await;
    let mut options = chaos_options();
    options.time_scale = 12.0;
    let full = chaos::load::default_scenario(&options);
    let (steps, largest) = chaos::load::find_max(&options, &full, 4, |_| {})
        .await
        .unwrap();
    assert!(largest >= 1, "{steps:#?}");
}
