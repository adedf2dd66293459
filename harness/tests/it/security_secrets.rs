//! Secrets never logged: one local stack runs a bit of everything that
//! touches a secret (accounts, wrong passwords, password reset, QR login,
//! App Store and Google Play purchases with the service-account key, chat
//! handshakes with HS256 and RS256 tokens and refused ones, a chat message,
//! a speaking session whose Vertex credentials come from the service-account
//! key), then every log line each function wrote (as the Lambda emulator
//! captured them) is scanned for every secret value: the service account's
//! private key and key id, the Vertex access tokens, the chat JWT secret, the
//! App Store shared secret, the e-mail API key, passwords, session, QR and
//! reset tokens, and the JWTs. A positive control checks the scan sees the
//! logs (user ids and connection ids the functions do log are found).

use std::time::Duration;

use crate::support::http::{Api, apple_receipt, http_options};
use crate::support::*;
use serde_json::{Value, json};

/// Pieces of a secret worth finding: the whole value, and for long values
/// every 24-character window start, so a truncated or re-wrapped copy is
/// found too.
fn needles(secret: &str) -> Vec<String> {
    let mut found = vec![secret.to_owned()];
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() > 48 {
        for start in (0..chars.len() - 24).step_by(24) {
            found.push(chars[start..start + 24].iter().collect());
        }
    }
    found
}

/// The lines of `logs` holding any piece of any secret, as (function, secret name).
fn leaks(
    logs: &std::collections::BTreeMap<String, Vec<String>>,
    secrets: &[(&str, String)],
) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (function, lines) in logs {
        for line in lines {
            for (name, secret) in secrets {
                if needles(secret).iter().any(|n| line.contains(n.as_str())) {
                    found.push((function.clone(), format!("{name}: {line}")));
                }
            }
        }
    }
    found
}

#[test]
fn the_scan_finds_a_planted_secret_and_a_fragment_of_one() {
    let key = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj";
    let logs = [(
        "f".to_owned(),
        vec![
            "clean line".to_owned(),
            format!("{{\"key\":\"{}\"}}", &key[24..56]),
        ],
    )]
    .into_iter()
    .collect();
    assert_eq!(leaks(&logs, &[("key", key.to_owned())]).len(), 1);
    assert!(leaks(&logs, &[("other", "not-present-anywhere".to_owned())]).is_empty());
}

#[tokio::test]
async fn no_function_logs_a_secret() {
    let mut options = http_options(1.0);
    options.transcripts =
        harness::scenario::audio::transcripts_in(&workspace().join("scenarios/audio")).unwrap();
    // The level operations run at, or stricter (SECURITY_LOG_LEVEL=debug).
    let level = std::env::var("SECURITY_LOG_LEVEL").unwrap_or_else(|_| "info".into());
    options.function_env.insert("RUST_LOG".into(), level);
    let stack = start(options).await;
    let api = Api::of(&stack);
    let mut secrets: Vec<(&str, String)> = Vec::new();

    // Accounts: register, a wrong password, login, reset, QR login.
    let password = "correct-horse-battery-1";
    let (session, user_id) = api.sign_up("secretive@example.com", password).await;
    secrets.push(("password", password.to_owned()));
    secrets.push(("session token", session.clone()));
    let wrong = api
        .call(
            "POST",
            "/api/auth/login",
            None,
            Some(json!({"email": "secretive@example.com", "password": "wrong-guess-123"})),
        )
        .await;
    assert_eq!(wrong.status, 401);
    secrets.push(("wrong password", "wrong-guess-123".to_owned()));
    api.call(
        "POST",
        "/api/auth/password-reset",
        None,
        Some(json!({"email": "secretive@example.com"})),
    )
    .await;
    let mails = stack.mocks().email.messages();
    let reset = mails
        .iter()
        .find_map(|m| {
            m.body
                .split("token=")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
        })
        .expect("a reset mail")
        .to_owned();
    secrets.push(("reset token", reset.clone()));
    let new_password = "new-secret-password-2";
    let confirmed = api
        .call(
            "POST",
            "/api/auth/password-reset/confirm",
            None,
            Some(json!({"token": reset, "new_password": new_password})),
        )
        .await;
    assert!(confirmed.status < 300, "{}", confirmed.json);
    secrets.push(("new password", new_password.to_owned()));
    let session = api.sign_in("secretive@example.com", new_password).await;
    secrets.push(("second session token", session.clone()));
    let qr = api
        .call("POST", "/api/qr/generate", Some(&session), None)
        .await;
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
    secrets.push(("QR token", qr_token));
    secrets.push((
        "QR session token",
        redeemed.json["session_token"].as_str().unwrap().to_owned(),
    ));

    // Purchases: the App Store shared secret, the Play service account.
    let now = chrono::Utc::now().timestamp_millis();
    let stores = &stack.mocks().stores;
    let receipt = stores.apple_receipt(&apple_receipt(
        "ielts_writing_monthly",
        "4000000001",
        86_400_000,
        false,
    ));
    let apple = api
        .call(
            "POST",
            "/api/purchases/apple",
            Some(&session),
            Some(json!({"receipt_data": receipt})),
        )
        .await;
    assert_eq!(apple.status, 200, "{}", apple.json);
    let play_token = stores.google_purchase_token(&mocks::stores::GooglePurchase {
        package_name: "com.ieltsaiprep.app".into(),
        product_id: "ielts_writing_monthly".into(),
        order_id: "GPA.3300-0000-0000-00099".into(),
        start_time_ms: now,
        expiry_time_ms: now + 86_400_000,
    });
    let google = api
        .call(
            "POST",
            "/api/purchases/google",
            Some(&session),
            Some(json!({"product_id": "ielts_writing_monthly", "purchase_token": play_token})),
        )
        .await;
    assert_eq!(google.status, 200, "{}", google.json);
    // Failures log: stores and the e-mail API down (the purchase and reset
    // paths log their errors; a careless `{request:?}` would show secrets).
    stores.set_unavailable(true);
    stack.mocks().email.set_unavailable(true);
    let down = api
        .call(
            "POST",
            "/api/purchases/google",
            Some(&session),
            Some(json!({"product_id": "ielts_writing_monthly", "purchase_token": play_token})),
        )
        .await;
    assert!(down.status >= 500, "{}", down.json);
    let down = api
        .call(
            "POST",
            "/api/purchases/apple",
            Some(&session),
            Some(json!({"receipt_data": receipt})),
        )
        .await;
    assert!(down.status >= 500, "{}", down.json);
    api.call(
        "POST",
        "/api/auth/password-reset",
        None,
        Some(json!({"email": "secretive@example.com"})),
    )
    .await;
    stores.set_unavailable(false);
    stack.mocks().email.set_unavailable(false);
    secrets.push(("Play purchase token", play_token));
    secrets.push((
        "App Store shared secret",
        "local-apple-shared-secret".to_owned(),
    ));
    secrets.push(("e-mail API key", "local-sendgrid-key".to_owned()));

    // Chat: HS256 and RS256 handshakes, refused tokens, a message.
    let identity = &stack.mocks().identity;
    let hs256 = identity.hs256_token("chat-user-7").unwrap();
    let rs256 = identity.rs256_token("chat-user-7").unwrap();
    let expired = identity
        .mint(&mocks::identity::TokenSpec {
            alg: "HS256".into(),
            kid: None,
            claims: identity.claims("chat-user-7", -3600),
            signer: mocks::identity::Signer::Hmac(identity.hs256_secret().into_bytes()),
        })
        .unwrap();
    assert_eq!(
        crate::chat_support::handshake(&crate::chat_support::url(&stack, Some(&expired))).await,
        401
    );
    let forged = format!("{}x", &hs256[..hs256.len() - 1]);
    assert_eq!(
        crate::chat_support::handshake(&crate::chat_support::url(&stack, Some(&forged))).await,
        401
    );
    let (_old, _) = crate::chat_support::open(&stack, &rs256).await;
    let (mut chat, connection_id) = crate::chat_support::open(&stack, &hs256).await;
    send_json(
        &mut chat,
        crate::chat_support::chat("My password is hunter2-secret", "s-1"),
    )
    .await;
    let contract = crate::chat_support::Contract::load();
    let received = crate::chat_support::receive(&mut chat, &contract).await;
    assert_eq!(received["type"], "message_received");
    for (name, token) in [
        ("HS256 JWT", &hs256),
        ("RS256 JWT", &rs256),
        ("expired JWT", &expired),
        ("forged JWT", &forged),
    ] {
        // The signature segment: a JWT's secret part.
        secrets.push((name, token.rsplit('.').next().unwrap().to_owned()));
    }
    secrets.push(("chat JWT secret", identity.hs256_secret()));

    // Speaking: Vertex credentials from the service-account key.
    let speaking = stack.websocket("SpeakingWebSocketApi").unwrap().url();
    let mut socket = connect(&speaking).await;
    send_json(&mut socket, json!({"action": "start_speaking", "user_id": "speaker-9", "country_code": "US", "assessment_type": "speaking"})).await;
    loop {
        let message = next_json(&mut socket, Duration::from_secs(30)).await;
        assert_ne!(message["type"], "error", "{message}");
        if message["type"] == "session_ready" {
            break;
        }
    }
    send_json(&mut socket, json!({"action": "end_speaking"})).await;
    loop {
        let message = next_json(&mut socket, Duration::from_secs(60)).await;
        if message["type"] == "assessment_complete" || message["type"] == "error" {
            break;
        }
    }
    let account: Value =
        serde_json::from_str(&stack.mocks().vertex.service_account_json()).unwrap();
    let private_key = account["private_key"].as_str().unwrap();
    let key_body: String = private_key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    secrets.push(("service-account private key", key_body));
    for line in private_key
        .lines()
        .filter(|l| l.len() >= 32 && !l.starts_with("-----"))
    {
        secrets.push(("service-account private key line", line.to_owned()));
    }
    secrets.push((
        "service-account key id",
        account["private_key_id"].as_str().unwrap().to_owned(),
    ));
    secrets.push(("Vertex access token", "ya29.".to_owned()));

    // Let the last invocations' lines arrive, then scan everything.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let logs = stack.lambda().logs().all();
    let total: usize = logs.values().map(Vec::len).sum();
    for (function, lines) in &logs {
        assert!(
            lines.len() < 2_000,
            "{function}: the emulator dropped lines; the scan would be partial"
        );
    }
    for function in [
        "ielts-ai-prep",
        "websocket-authorizer",
        "websocket-message",
        "speaking",
    ] {
        assert!(
            logs.keys().any(|f| f.contains(function)),
            "no log lines from a {function} function: {:?}",
            logs.keys().collect::<Vec<_>>()
        );
    }
    // Positive control: what the functions do log is found by the scan.
    let everything = logs
        .values()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        everything.contains(&user_id) || everything.contains(&connection_id),
        "the scan sees none of the ids the functions log ({total} lines)"
    );
    let counts: Vec<(&String, usize)> = logs.iter().map(|(f, l)| (f, l.len())).collect();
    eprintln!(
        "scanned {total} lines for {} secret values: {counts:?}",
        secrets.len()
    );
    let found = leaks(&logs, &secrets);
    assert!(
        found.is_empty(),
        "secrets in function logs ({} lines scanned):\n{found:#?}",
        total
    );
    stack.stop().await;
}
