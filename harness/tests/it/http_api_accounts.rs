//! Seed 002's HTTP API through the local stack, accounts side: register,
//! login (wrong password, unknown address), sessions (logout, expiry),
//! profile, password reset by e-mail, QR login (single use, replay, two
//! concurrent redemptions, expiry), GDPR export and delete (every table
//! scanned afterwards), and admin routes without the role. Every answer is
//! checked against backend/spec/http.openapi.yaml, and every JSON route
//! gets the bad-input battery.

use crate::support::http::{
    Api, apple_receipt, assert_bad_input_refused, dynamodb, http_options, scan_table,
};
use crate::support::*;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

#[tokio::test]
async fn accounts_sessions_and_password_reset() {
    let stack = start(http_options(1.0)).await;
    let api = Api::of(&stack);
    let (token, user_id) = api.sign_up("Candidate@Example.com", "first-password").await;

    let duplicate = api
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({"email": "candidate@example.com", "password": "another-one"})),
        )
        .await;
    assert_eq!(
        duplicate.problem(409),
        "An account with this email already exists"
    );
    let wrong = api
        .call(
            "POST",
            "/api/auth/login",
            None,
            Some(json!({"email": "candidate@example.com", "password": "wrong-password"})),
        )
        .await;
    assert_eq!(wrong.problem(401), "Invalid email or password");
    let unknown = api
        .call(
            "POST",
            "/api/auth/login",
            None,
            Some(json!({"email": "nobody@example.com", "password": "whatever1"})),
        )
        .await;
    assert_eq!(unknown.problem(401), "Invalid email or password");
    let weak = api
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({"email": "x@example.com", "password": "short"})),
        )
        .await;
    weak.problem(400);
    assert_eq!(weak.json["errors"][0]["field"], "password");

    let profile = api.call("GET", "/api/profile", Some(&token), None).await;
    assert_eq!(profile.status, 200);
    assert_eq!(profile.json["user"]["email"], "candidate@example.com");
    assert_eq!(profile.json["user"]["subscription_tier"], "free");
    assert!(!profile.bytes.windows(8).any(|w| w == b"password"));
    let renamed = api
        .call(
            "PUT",
            "/api/profile",
            Some(&token),
            Some(json!({"full_name": "Ana Candidate"})),
        )
        .await;
    assert_eq!(renamed.json["user"]["full_name"], "Ana Candidate");
    api.call("GET", "/api/profile", None, None)
        .await
        .problem(401);
    api.call("GET", "/api/profile", Some("not-a-session"), None)
        .await
        .problem(401);

    // Bad input on every account route.
    for (method, path, auth, valid) in [
        (
            "POST",
            "/api/auth/register",
            None,
            json!({"email": "b@example.com", "password": "long-enough"}),
        ),
        (
            "POST",
            "/api/auth/login",
            None,
            json!({"email": "b@example.com", "password": "long-enough"}),
        ),
        (
            "POST",
            "/api/auth/password-reset",
            None,
            json!({"email": "b@example.com"}),
        ),
        (
            "POST",
            "/api/auth/password-reset/confirm",
            None,
            json!({"token": "t", "new_password": "long-enough"}),
        ),
        (
            "PUT",
            "/api/profile",
            Some(token.as_str()),
            json!({"full_name": "Name"}),
        ),
    ] {
        assert_bad_input_refused(&api, method, path, auth, valid).await;
    }

    // An expired session is refused even before the TTL deletes it.
    let db = dynamodb(&stack).await;
    let second = api.sign_in("candidate@example.com", "first-password").await;
    let digest = sha256_hex(&second);
    db.update_item()
        .table_name("ielts-genai-prep-sessions")
        .key("session_id", AttributeValue::S(digest))
        .update_expression("SET expires_at = :past")
        .expression_attribute_values(":past", AttributeValue::N("1000".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        api.call("GET", "/api/profile", Some(&second), None)
            .await
            .problem(401),
        "Session expired"
    );

    // Password reset: the mail carries the link; the token works once; old sessions end.
    let requested = api
        .call(
            "POST",
            "/api/auth/password-reset",
            None,
            Some(json!({"email": "candidate@example.com"})),
        )
        .await;
    assert_eq!(requested.status, 202);
    let unknown_reset = api
        .call(
            "POST",
            "/api/auth/password-reset",
            None,
            Some(json!({"email": "ghost@example.com"})),
        )
        .await;
    assert_eq!(
        unknown_reset.json, requested.json,
        "the same answer for unknown addresses"
    );
    let mails = stack.mocks().email.messages();
    assert_eq!(mails.len(), 1, "no mail for an unknown address");
    assert_eq!(mails[0].to, ["candidate@example.com"]);
    let reset_token = mails[0]
        .body
        .split("token=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
    let confirmed = api
        .call(
            "POST",
            "/api/auth/password-reset/confirm",
            None,
            Some(json!({"token": reset_token, "new_password": "second-password"})),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.json);
    let replay = api
        .call(
            "POST",
            "/api/auth/password-reset/confirm",
            None,
            Some(json!({"token": reset_token, "new_password": "third-password"})),
        )
        .await;
    assert_eq!(replay.problem(400), "Invalid or expired reset token");
    api.call("GET", "/api/profile", Some(&token), None)
        .await
        .problem(401);
    let old = api
        .call(
            "POST",
            "/api/auth/login",
            None,
            Some(json!({"email": "candidate@example.com", "password": "first-password"})),
        )
        .await;
    old.problem(401);
    let fresh = api
        .sign_in("candidate@example.com", "second-password")
        .await;
    let logout = api
        .call("POST", "/api/auth/logout", Some(&fresh), None)
        .await;
    assert_eq!(logout.status, 204);
    api.call("GET", "/api/profile", Some(&fresh), None)
        .await
        .problem(401);
    assert!(!user_id.is_empty());
    stack.stop().await;
}

fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn qr_login_is_single_use_even_under_concurrent_redemption() {
    let stack = start(http_options(1.0)).await;
    let api = Api::of(&stack);
    let (token, user_id) = api.sign_up("desktop@example.com", "desktop-password").await;
    api.call("POST", "/api/qr/generate", None, None)
        .await
        .problem(401);
    let qr = api
        .call("POST", "/api/qr/generate", Some(&token), None)
        .await;
    assert_eq!(qr.status, 201);
    assert_eq!(qr.json["expires_in"], 300);
    let qr_token = qr.json["token"].as_str().unwrap().to_owned();
    let redeemed = api
        .call(
            "POST",
            "/api/qr/redeem",
            None,
            Some(json!({"token": qr_token})),
        )
        .await;
    assert_eq!(redeemed.status, 200);
    assert_eq!(redeemed.json["user"]["user_id"], user_id.as_str());
    let mobile = redeemed.json["session_token"].as_str().unwrap();
    assert_eq!(
        api.call("GET", "/api/profile", Some(mobile), None)
            .await
            .status,
        200
    );
    let replayed = api
        .call(
            "POST",
            "/api/qr/redeem",
            None,
            Some(json!({"token": qr_token})),
        )
        .await;
    assert_eq!(replayed.problem(410), "QR token already used");

    // Two devices redeem one token at once: exactly one session.
    for round in 0..3 {
        let qr = api
            .call("POST", "/api/qr/generate", Some(&token), None)
            .await;
        let body = json!({"token": qr.json["token"]});
        let (a, b) = tokio::join!(
            api.call("POST", "/api/qr/redeem", None, Some(body.clone())),
            api.call("POST", "/api/qr/redeem", None, Some(body.clone())),
        );
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [200, 410],
            "round {round}: {} / {}",
            a.json,
            b.json
        );
    }

    let db = dynamodb(&stack).await;
    let stale = api
        .call("POST", "/api/qr/generate", Some(&token), None)
        .await;
    db.update_item()
        .table_name("ielts-genai-prep-qr-tokens")
        .key(
            "token",
            AttributeValue::S(stale.json["token"].as_str().unwrap().into()),
        )
        .update_expression("SET expires_at = :past")
        .expression_attribute_values(":past", AttributeValue::N("1000".into()))
        .send()
        .await
        .unwrap();
    let expired = api
        .call(
            "POST",
            "/api/qr/redeem",
            None,
            Some(json!({"token": stale.json["token"]})),
        )
        .await;
    assert_eq!(expired.problem(410), "QR token expired");
    let unknown = api
        .call(
            "POST",
            "/api/qr/redeem",
            None,
            Some(json!({"token": "never-issued"})),
        )
        .await;
    assert_eq!(unknown.problem(404), "QR token not found");
    assert_bad_input_refused(
        &api,
        "POST",
        "/api/qr/redeem",
        None,
        json!({"token": "abc"}),
    )
    .await;
    stack.stop().await;
}

#[tokio::test]
async fn gdpr_export_then_delete_leaves_nothing_in_any_table() {
    let stack = start(http_options(1.0)).await;
    let api = Api::of(&stack);
    let admin = api.admin().await;
    let (token, user_id) = api.sign_up("leaving@example.com", "leaving-password").await;
    let (other, other_id) = api.sign_up("staying@example.com", "staying-password").await;
    api.grant_tier(&admin, &user_id, "writing").await;

    // Data in every table that holds user data.
    let essay = "Public transport should be free because it reduces traffic. ".repeat(30);
    let writing = api
        .call(
            "POST",
            "/api/assessments/writing",
            Some(&token),
            Some(json!({"task_type": "academic_task2", "essay": essay})),
        )
        .await;
    assert_eq!(writing.status, 201, "{}", writing.json);
    let assessment_id = writing.json["assessment_id"].as_str().unwrap().to_owned();
    let db = dynamodb(&stack).await;
    let speaking: std::collections::HashMap<String, AttributeValue> = [
        ("assessment_id", "speaking-leaving-1"),
        ("user_id", user_id.as_str()),
        ("type", "speaking"),
        ("timestamp", "2025-01-01T00:00:00.000Z"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), AttributeValue::S(v.to_owned())))
    .collect();
    db.put_item()
        .table_name("ielts-genai-prep-assessments")
        .set_item(Some(speaking))
        .send()
        .await
        .unwrap();
    api.call("POST", "/api/qr/generate", Some(&token), None)
        .await;
    let report = api
        .call("POST", "/api/reports", Some(&token), Some(json!({"target_type": "assessment", "target_id": assessment_id, "reason": "inaccurate_score"})))
        .await;
    assert_eq!(report.status, 201, "{}", report.json);
    let receipt = stack.mocks().stores.apple_receipt(&apple_receipt(
        "ielts_full_monthly",
        "1000000001",
        30 * 86_400_000,
        false,
    ));
    let purchase = api
        .call(
            "POST",
            "/api/purchases/apple",
            Some(&token),
            Some(json!({"receipt_data": receipt})),
        )
        .await;
    assert_eq!(purchase.status, 200, "{}", purchase.json);
    api.call(
        "POST",
        "/api/auth/password-reset",
        None,
        Some(json!({"email": "leaving@example.com"})),
    )
    .await;
    // The other user's data, which must survive.
    api.call("POST", "/api/qr/generate", Some(&other), None)
        .await;

    let export = api
        .call("GET", "/api/gdpr/export", Some(&token), None)
        .await;
    assert_eq!(export.status, 200);
    assert_eq!(export.json["user"]["email"], "leaving@example.com");
    for (section, at_least) in [
        ("sessions", 2),
        ("assessments", 2),
        ("qr_tokens", 1),
        ("entitlements", 1),
        ("content_reports", 1),
        ("ai_safety_logs", 1),
    ] {
        let count = export.json[section].as_array().map_or(0, Vec::len);
        assert!(count >= at_least, "{section}: {count} in {}", export.json);
    }
    assert!(
        !String::from_utf8_lossy(&export.bytes).contains("$2b$"),
        "no password hash"
    );

    let refused = api
        .call(
            "POST",
            "/api/gdpr/delete",
            Some(&token),
            Some(json!({"password": "wrong-password", "confirm": "DELETE MY ACCOUNT"})),
        )
        .await;
    refused.problem(403);
    assert_bad_input_refused(
        &api,
        "POST",
        "/api/gdpr/delete",
        Some(&token),
        json!({"password": "x", "confirm": "DELETE MY ACCOUNT"}),
    )
    .await;
    let deleted = api
        .call(
            "POST",
            "/api/gdpr/delete",
            Some(&token),
            Some(json!({"password": "leaving-password", "confirm": "DELETE MY ACCOUNT"})),
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.json);
    api.call("GET", "/api/profile", Some(&token), None)
        .await
        .problem(401);

    // Scan every table of the template: nothing names the user any more.
    let mut survivors = 0;
    for table in stack.template().tables.values() {
        for item in scan_table(&db, &table.table_name).await {
            assert!(
                !item.contains(&user_id) && !item.contains("leaving@example.com"),
                "{} still holds {item}",
                table.table_name
            );
            if item.contains(&other_id) {
                survivors += 1;
            }
        }
    }
    assert!(
        survivors >= 3,
        "the other user's user, session and QR token remain"
    );
    assert_eq!(
        api.call("GET", "/api/profile", Some(&other), None)
            .await
            .status,
        200
    );
    let again = api
        .call(
            "POST",
            "/api/auth/register",
            None,
            Some(json!({"email": "leaving@example.com", "password": "leaving-password"})),
        )
        .await;
    assert_eq!(again.status, 201, "the address is free again");
    stack.stop().await;
}

#[tokio::test]
async fn admin_routes_need_the_admin_role() {
    let stack = start(http_options(1.0)).await;
    let api = Api::of(&stack);
    let (user, user_id) = api.sign_up("learner@example.com", "learner-password").await;
    let admin = api.admin().await;
    let admin_routes: [(&str, String, Option<Value>); 9] = [
        ("GET", "/api/admin/users".into(), None),
        (
            "PUT",
            format!("/api/admin/users/{user_id}"),
            Some(json!({"role": "admin"})),
        ),
        ("GET", "/api/admin/reports".into(), None),
        (
            "PUT",
            "/api/admin/reports/r1".into(),
            Some(json!({"status": "resolved", "resolution": "ok"})),
        ),
        ("GET", "/api/admin/safety-logs".into(), None),
        (
            "POST",
            "/api/admin/questions".into(),
            Some(json!({"assessment_type": "speaking", "title": "t", "prompt": "p"})),
        ),
        ("DELETE", "/api/admin/questions/q1".into(), None),
        ("GET", "/api/admin/rubrics".into(), None),
        (
            "PUT",
            "/api/admin/rubrics/writing_academic_task2".into(),
            Some(json!({"title": "t", "descriptors": {"a": "b"}})),
        ),
    ];
    for (method, path, body) in &admin_routes {
        let answer = api.call(method, path, Some(&user), body.clone()).await;
        assert_eq!(
            answer.problem(403),
            "Administrator role required",
            "{method} {path}"
        );
        api.call(method, path, None, body.clone())
            .await
            .problem(401);
    }
    let profile = api.call("GET", "/api/profile", Some(&user), None).await;
    assert_eq!(
        profile.json["user"]["role"], "user",
        "the refused update changed nothing"
    );

    let users = api
        .call("GET", "/api/admin/users?limit=10", Some(&admin), None)
        .await;
    assert_eq!(users.status, 200);
    let emails: Vec<&str> = users.json["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["email"].as_str())
        .collect();
    assert!(
        emails.contains(&"learner@example.com") && emails.len() == 2,
        "{emails:?} (no e-mail claim items)"
    );
    api.call("GET", "/api/admin/users?limit=0", Some(&admin), None)
        .await
        .problem(400);
    api.call("GET", "/api/admin/users?cursor=garbage", Some(&admin), None)
        .await
        .problem(400);
    let promoted = api
        .call(
            "PUT",
            &format!("/api/admin/users/{user_id}"),
            Some(&admin),
            Some(json!({"role": "admin", "subscription_tier": "full"})),
        )
        .await;
    assert_eq!(promoted.json["user"]["role"], "admin");
    assert_eq!(
        api.call("GET", "/api/admin/rubrics", Some(&user), None)
            .await
            .status,
        200,
        "the role applies at once"
    );
    api.call(
        "PUT",
        "/api/admin/users/nobody",
        Some(&admin),
        Some(json!({"role": "user"})),
    )
    .await
    .problem(404);
    let me = api.call("GET", "/api/profile", Some(&admin), None).await;
    let admin_id = me.json["user"]["user_id"].as_str().unwrap().to_owned();
    let demoted = api
        .call(
            "PUT",
            &format!("/api/admin/users/{admin_id}"),
            Some(&admin),
            Some(json!({"role": "user"})),
        )
        .await;
    assert_eq!(
        demoted.problem(409),
        "An admin cannot remove their own admin role"
    );
    let null_field = api
        .call(
            "PUT",
            &format!("/api/admin/users/{user_id}"),
            Some(&admin),
            Some(json!({"role": null})),
        )
        .await;
    null_field.problem(400);
    api.call(
        "PUT",
        "/api/admin/reports/nothing",
        Some(&admin),
        Some(json!({"status": "resolved", "resolution": "x"})),
    )
    .await
    .problem(404);
    api.call("DELETE", "/api/admin/questions/nothing", Some(&admin), None)
        .await
        .problem(404);
    api.call("GET", "/api/admin/reports?status=weird", Some(&admin), None)
        .await
        .problem(400);
    api.call(
        "GET",
        "/api/admin/safety-logs?flagged=maybe",
        Some(&admin),
        None,
    )
    .await
    .problem(400);
    api.call(
        "PUT",
        "/api/admin/rubrics/Bad-Id",
        Some(&admin),
        Some(json!({"title": "t", "descriptors": {"a": "b"}})),
    )
    .await
    .problem(400);
    let rubric = api
        .call("PUT", "/api/admin/rubrics/writing_academic_task2", Some(&admin), Some(json!({"title": "Task 2", "descriptors": {"task_response": "Band 7: addresses all parts"}})))
        .await;
    assert_eq!(rubric.status, 200);
    let listed = api
        .call("GET", "/api/admin/rubrics", Some(&admin), None)
        .await;
    assert_eq!(
        listed.json["rubrics"][0]["rubric_id"],
        "writing_academic_task2"
    );
    for (method, path, valid) in [
        (
            "PUT",
            format!("/api/admin/users/{user_id}"),
            json!({"role": "user", "subscription_tier": "free"}),
        ),
        (
            "PUT",
            "/api/admin/reports/r1".to_owned(),
            json!({"status": "resolved", "resolution": "ok"}),
        ),
        (
            "POST",
            "/api/admin/questions".to_owned(),
            json!({"assessment_type": "speaking", "title": "t", "prompt": "p"}),
        ),
        (
            "PUT",
            "/api/admin/rubrics/writing_general_task1".to_owned(),
            json!({"title": "t", "descriptors": {"a": "b"}}),
        ),
    ] {
        assert_bad_input_refused(&api, method, &path, Some(&admin), valid).await;
    }
    stack.stop().await;
}
