//! Security checks on the IELTS HTTP API (seeds 002, 003) through the local
//! stack: every operation the contract marks as signed-in refuses a missing
//! or forged token; no user reads or changes another user's data (IDOR) on
//! any user-scoped route, with the list of those routes checked against the
//! contract so a new one cannot slip by; QR tokens are single use under
//! replay and a ten-way race; passwords are stored as bcrypt hashes at the
//! template's cost (12). CORS, random bodies and the sign-in limit are in
//! `security_http_limits`.

use std::collections::BTreeSet;

use crate::security_support::{concrete, operations};
use crate::support::http::{Answer, Api, apple_receipt, dynamodb, http_options, scan_table};
use crate::support::*;
use serde_json::json;

/// The bcrypt cost of a stored hash (`$2b$12$...`), `None` when it is not one.
fn bcrypt_cost(hash: &str) -> Option<u32> {
    let mut parts = hash.split('$');
    let (empty, variant, cost, rest) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let shaped = empty.is_empty()
        && ["2a", "2b", "2y"].contains(&variant)
        && cost.len() == 2
        && rest.len() == 53
        && hash.len() == 60;
    shaped.then(|| cost.parse().ok()).flatten()
}

#[test]
fn the_hash_check_tells_a_cheap_or_foreign_hash_from_a_good_one() {
    let good = bcrypt::hash("password-1", 12).unwrap();
    assert_eq!(bcrypt_cost(&good), Some(12));
    let cheap = bcrypt::hash("password-1", 4).unwrap();
    assert_eq!(bcrypt_cost(&cheap), Some(4));
    assert_eq!(bcrypt_cost("5f4dcc3b5aa765d61d8327deb882cf99"), None);
    assert_eq!(bcrypt_cost("password-1"), None);
    assert_eq!(
        concrete("/api/admin/users/{user_id}", "x"),
        "/api/admin/users/x"
    );
}

#[tokio::test]
async fn signed_in_routes_refuse_missing_and_forged_tokens_and_no_one_reads_another_users_data() {
    let stack = start(http_options(1.0)).await;
    let api = Api::of(&stack);
    let admin = api.admin().await;
    let (alice, alice_id) = api.sign_up("alice@example.com", "alice-password").await;
    let (bob, bob_id) = api.sign_up("bob@example.com", "bob-password1").await;

    // Every signed-in operation: no token, a forged one, a well-formed
    // random one, alice's token with a changed character: 401.
    let mut tampered = alice.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let forged = [
        "not-a-session",
        "0000000000000000000000000000000000000000000",
        &tampered,
    ];
    let operations = operations();
    let mut checked = 0;
    for (method, template, secured) in &operations {
        if !secured {
            continue;
        }
        let path = concrete(template, "00000000-0000-4000-8000-000000000000");
        api.call(method, &path, None, None).await.problem(401);
        for token in forged {
            let answer = api.call(method, &path, Some(token), None).await;
            assert_eq!(answer.status, 401, "{method} {path} with {token}");
        }
        let basic = api
            .raw(
                method,
                &path,
                &[("authorization", &format!("Basic {alice}"))],
                Vec::new(),
            )
            .await;
        assert_eq!(basic.status, 401, "{method} {path} with a Basic scheme");
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} signed-in operations found");

    // Alice's data: a writing assessment, a content report on it, an
    // entitlement (App Store purchase), a QR token.
    api.grant_tier(&admin, &alice_id, "writing").await;
    let writing = api
        .call(
            "POST",
            "/api/assessments/writing",
            Some(&alice),
            Some(json!({"task_type": "academic_task1", "essay": "The chart shows three clear trends over ten years."})),
        )
        .await;
    assert_eq!(writing.status, 201, "{}", writing.json);
    let assessment = writing.json["assessment_id"].as_str().unwrap().to_owned();
    let report = api
        .call(
            "POST",
            "/api/reports",
            Some(&alice),
            Some(json!({"target_type": "assessment", "target_id": assessment, "reason": "inaccurate_score"})),
        )
        .await;
    assert_eq!(report.status, 201, "{}", report.json);
    let report_id = report.json["report"]["report_id"]
        .as_str()
        .or(report.json["report_id"].as_str())
        .unwrap_or_default()
        .to_owned();
    let receipt = stack.mocks().stores.apple_receipt(&apple_receipt(
        "ielts_full_monthly",
        "3000000001",
        30 * 86_400_000,
        false,
    ));
    let bought = api
        .call(
            "POST",
            "/api/purchases/apple",
            Some(&alice),
            Some(json!({"receipt_data": receipt})),
        )
        .await;
    assert_eq!(bought.status, 200, "{}", bought.json);
    let play_token = stack
        .mocks()
        .stores
        .google_purchase_token(&mocks::stores::GooglePurchase {
            package_name: "com.ieltsaiprep.app".into(),
            product_id: "ielts_writing_monthly".into(),
            order_id: "GPA.3300-0000-0000-00077".into(),
            start_time_ms: chrono::Utc::now().timestamp_millis(),
            expiry_time_ms: chrono::Utc::now().timestamp_millis() + 30 * 86_400_000,
        });
    let play = json!({"product_id": "ielts_writing_monthly", "purchase_token": play_token});
    let played = api
        .call(
            "POST",
            "/api/purchases/google",
            Some(&alice),
            Some(play.clone()),
        )
        .await;
    assert_eq!(played.status, 200, "{}", played.json);
    let qr = api
        .call("POST", "/api/qr/generate", Some(&alice), None)
        .await;
    assert_eq!(qr.status, 201);
    let qr_token = qr.json["token"].as_str().unwrap().to_owned();

    // Positive control: alice sees her own data where bob must not.
    let own = api
        .call(
            "GET",
            &format!("/api/assessments/{assessment}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(own.status, 200);
    let secrets_of_alice = [
        alice_id.as_str(),
        "alice@example.com",
        assessment.as_str(),
        "3000000001",
        "GPA.3300-0000-0000-00077",
    ];
    let leaks = |answer: &Answer| -> Vec<&str> {
        // A problem document may echo the id the caller sent (its path in
        // `instance`, "No assessment ID to report"): bob sends alice's
        // assessment id on purpose, so only that echo is not a leak.
        let mut text = String::from_utf8_lossy(&answer.bytes).to_string();
        if answer.header("content-type") == Some("application/problem+json") {
            text = text.replace(assessment.as_str(), "");
        }
        secrets_of_alice
            .iter()
            .filter(|s| !s.is_empty() && text.contains(**s))
            .copied()
            .collect()
    };
    assert!(
        !leaks(
            &api.call("GET", "/api/gdpr/export", Some(&alice), None)
                .await
        )
        .is_empty()
    );

    // Bob, signed in, on every user-scoped route.
    let mut covered = BTreeSet::new();
    let mut bob_sees = |method: &str, template: &str, answer: Answer| {
        covered.insert((method.to_owned(), template.to_owned()));
        assert!(
            leaks(&answer).is_empty(),
            "{method} {template} shows bob alice's data: {}",
            answer.json
        );
        answer
    };
    let get = |path: String| {
        let api = api.clone();
        let bob = bob.clone();
        async move { api.call("GET", &path, Some(&bob), None).await }
    };
    let answer = bob_sees(
        "GET",
        "/api/assessments/{assessment_id}",
        get(format!("/api/assessments/{assessment}")).await,
    );
    answer.problem(404);
    for (template, path) in [
        ("/api/assessments", "/api/assessments".to_owned()),
        (
            "/api/assessments",
            format!("/api/assessments?user_id={alice_id}"),
        ),
        (
            "/api/assessments/speaking",
            "/api/assessments/speaking".to_owned(),
        ),
        ("/api/profile", format!("/api/profile?user_id={alice_id}")),
        ("/api/entitlements", "/api/entitlements".to_owned()),
        ("/api/gdpr/export", "/api/gdpr/export".to_owned()),
        ("/api/reports", "/api/reports".to_owned()),
        ("/api/mobile/dashboard", "/api/mobile/dashboard".to_owned()),
    ] {
        let answer = bob_sees("GET", template, get(path.clone()).await);
        assert!(answer.status < 500, "{path}: {}", answer.json);
    }
    // Writes: alice's id in bodies is refused or ignored, never honoured.
    let profile = bob_sees(
        "PUT",
        "/api/profile",
        api.call(
            "PUT",
            "/api/profile",
            Some(&bob),
            Some(json!({"full_name": "Mallory", "user_id": alice_id})),
        )
        .await,
    );
    assert!(
        profile.status == 400 || profile.json["user"]["user_id"] == bob_id.as_str(),
        "{}",
        profile.json
    );
    let reported = bob_sees(
        "POST",
        "/api/reports",
        api.call(
            "POST",
            "/api/reports",
            Some(&bob),
            Some(json!({"target_type": "assessment", "target_id": assessment, "reason": "other"})),
        )
        .await,
    );
    reported.problem(404);
    let stolen = bob_sees(
        "POST",
        "/api/purchases/apple",
        api.call(
            "POST",
            "/api/purchases/apple",
            Some(&bob),
            Some(json!({"receipt_data": receipt})),
        )
        .await,
    );
    stolen.problem(409);
    let stolen = bob_sees(
        "POST",
        "/api/purchases/google",
        api.call("POST", "/api/purchases/google", Some(&bob), Some(play))
            .await,
    );
    stolen.problem(409);
    for (method, template, body) in [
        (
            "POST",
            "/api/assessments/writing",
            json!({"task_type": "academic_task1", "essay": "Bob's own essay.", "user_id": alice_id}),
        ),
        (
            "POST",
            "/api/assessments/reading",
            json!({"question_id": "q", "answers": {}, "user_id": alice_id}),
        ),
        (
            "POST",
            "/api/assessments/listening",
            json!({"question_id": "q", "answers": {}, "user_id": alice_id}),
        ),
        (
            "POST",
            "/api/gdpr/delete",
            json!({"password": "alice-password", "confirm": "DELETE MY ACCOUNT", "user_id": alice_id}),
        ),
    ] {
        let answer = bob_sees(
            method,
            template,
            api.call(method, template, Some(&bob), Some(body)).await,
        );
        assert!(
            (400..500).contains(&answer.status),
            "{method} {template}: {}",
            answer.json
        );
    }
    // Bob deletes his own account with alice's password: refused.
    let delete = bob_sees(
        "POST",
        "/api/gdpr/delete",
        api.call(
            "POST",
            "/api/gdpr/delete",
            Some(&bob),
            Some(json!({"password": "alice-password", "confirm": "DELETE MY ACCOUNT"})),
        )
        .await,
    );
    assert!((400..500).contains(&delete.status), "{}", delete.json);
    // Bob's own QR token logs in bob, never alice; logout ends only his session.
    let bob_qr = bob_sees(
        "POST",
        "/api/qr/generate",
        api.call("POST", "/api/qr/generate", Some(&bob), None).await,
    );
    let bob_qr = bob_qr.json["token"].as_str().unwrap().to_owned();
    let redeemed = bob_sees(
        "POST",
        "/api/qr/redeem",
        api.call(
            "POST",
            "/api/qr/redeem",
            None,
            Some(json!({"token": bob_qr})),
        )
        .await,
    );
    assert_eq!(redeemed.json["user"]["user_id"], bob_id.as_str());
    bob_sees(
        "POST",
        "/api/auth/logout",
        api.call("POST", "/api/auth/logout", Some(&bob), None).await,
    );
    // Admin routes: bob is not an admin, even for his own record.
    for (method, template) in operations
        .iter()
        .filter(|(_, t, s)| *s && t.starts_with("/api/admin"))
        .map(|(m, t, _)| (m.clone(), t.clone()))
    {
        let path = concrete(&template, &bob_id);
        let body = if method == "GET" || method == "DELETE" {
            None
        } else {
            Some(json!({"subscription_tier": "full", "role": "admin"}))
        };
        let answer = api.call(&method, &path, Some(&alice), body).await;
        assert_eq!(
            answer.status, 403,
            "{method} {path} for a plain user: {}",
            answer.json
        );
        covered.insert((method, template));
    }

    // Alice's data is intact, and the QR token she made is still hers.
    assert_eq!(
        api.call(
            "GET",
            &format!("/api/assessments/{assessment}"),
            Some(&alice),
            None
        )
        .await
        .status,
        200
    );
    let listed = api.call("GET", "/api/reports", Some(&alice), None).await;
    assert!(report_id.is_empty() || String::from_utf8_lossy(&listed.bytes).contains(&report_id));
    let redeemed = api
        .call(
            "POST",
            "/api/qr/redeem",
            None,
            Some(json!({"token": qr_token})),
        )
        .await;
    assert_eq!(redeemed.json["user"]["user_id"], alice_id.as_str());

    // Every signed-in, non-admin operation of the contract was tried as bob.
    let user_scoped: BTreeSet<(String, String)> = operations
        .iter()
        .filter(|(_, t, s)| *s && !t.starts_with("/api/admin") && !t.starts_with("/api/questions"))
        .map(|(m, t, _)| (m.clone(), t.clone()))
        .collect();
    let missing: Vec<_> = user_scoped.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "user-scoped routes without an IDOR check: {missing:?}"
    );
    stack.stop().await;
}

#[tokio::test]
async fn qr_tokens_are_single_use_under_replay_and_a_ten_way_race_and_hashes_cost_12() {
    let stack = start(http_options(1.0)).await;
    let api = Api::of(&stack);
    let (token, user_id) = api.sign_up("desk@example.com", "desk-password-1").await;
    for round in 0..3 {
        let qr = api
            .call("POST", "/api/qr/generate", Some(&token), None)
            .await;
        let qr_token = qr.json["token"].as_str().unwrap().to_owned();
        assert!(
            qr_token.len() >= 22,
            "a QR token of {} characters is guessable",
            qr_token.len()
        );
        let body = json!({"token": qr_token});
        let redemptions =
            (0..10).map(|_| api.call("POST", "/api/qr/redeem", None, Some(body.clone())));
        let answers = futures_util::future::join_all(redemptions).await;
        let winners: Vec<_> = answers.iter().filter(|a| a.status == 200).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: {:?}",
            answers.iter().map(|a| a.status).collect::<Vec<_>>()
        );
        assert_eq!(winners[0].json["user"]["user_id"], user_id.as_str());
        for loser in answers.iter().filter(|a| a.status != 200) {
            assert!(
                [409, 410].contains(&loser.status),
                "round {round}: {}",
                loser.json
            );
            assert!(loser.json.get("session_token").is_none());
        }
        // Replays after the race, with and without a session.
        for bearer in [None, Some(token.as_str())] {
            let replay = api
                .call("POST", "/api/qr/redeem", bearer, Some(body.clone()))
                .await;
            assert_eq!(replay.problem(410), "QR token already used");
        }
        // A token one character off is not found.
        let mut near = qr_token.clone().into_bytes();
        near[0] = if near[0] == b'a' { b'b' } else { b'a' };
        let near = api
            .call(
                "POST",
                "/api/qr/redeem",
                None,
                Some(json!({"token": String::from_utf8(near).unwrap()})),
            )
            .await;
        near.problem(404);
    }
    // Exactly three QR sessions were created, one per round.
    let db = dynamodb(&stack).await;
    let sessions = scan_table(&db, "ielts-genai-prep-sessions").await;
    let qr_sessions = sessions
        .iter()
        .filter(|s| s.contains(&user_id) && s.contains("S(\"qr\")"))
        .count();
    assert_eq!(qr_sessions, 3, "{sessions:#?}");

    // Password hashes: bcrypt at the template's cost (12), salted, and
    // neither the password nor an unsalted digest of it is stored.
    let (_, other_id) = api.sign_up("other@example.com", "desk-password-1").await;
    let users = harness::dynamodb::scan::scan_all(&db, "ielts-genai-prep-users")
        .await
        .unwrap();
    let hash_of = |id: &str| -> String {
        users
            .iter()
            .find(|i| {
                i.get("user_id")
                    .and_then(|v| v.as_s().ok())
                    .map(String::as_str)
                    == Some(id)
            })
            .and_then(|i| i.get("password_hash"))
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    let (first, second) = (hash_of(&user_id), hash_of(&other_id));
    for hash in [&first, &second] {
        assert_eq!(bcrypt_cost(hash), Some(12), "stored hash {hash:?}");
        assert!(bcrypt::verify("desk-password-1", hash).unwrap());
    }
    assert_ne!(first, second, "the same password gets a different salt");
    let everything = scan_table(&db, "ielts-genai-prep-users").await.join("\n");
    assert!(!everything.contains("desk-password-1"));
    stack.stop().await;
}
