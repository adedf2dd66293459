//! Limits of the IELTS HTTP API (seeds 002, 003) through the local stack:
//! CORS answers only the seed's two origins, for preflight and actual
//! requests from a dozen look-alike origins; random bodies on every
//! operation that takes one get a 4xx problem, never a 5xx; failed sign-ins
//! are limited per address (5 in 15 minutes, 429 with `Retry-After`).

use crate::security_support::{ALLOWED_ORIGINS, concrete, contract_operations};
use crate::support::http::{Api, dynamodb, http_options, scan_table};
use crate::support::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};
use serde_json::json;

#[tokio::test]
async fn cors_answers_only_the_seeds_origins_and_random_bodies_get_a_4xx() {
    let stack = start(http_options(1.0)).await;
    let api = Api::of(&stack);
    let (token, _) = api.sign_up("cors@example.com", "cors-password").await;
    let paths = [
        "/",
        "/api/health",
        "/api/auth/login",
        "/api/profile",
        "/api/assessments/x",
        "/api/nowhere",
    ];
    let foreign = [
        "https://evil.example",
        "null",
        "http://ieltsaiprep.com",
        "http://www.ieltsaiprep.com",
        "https://ieltsaiprep.com.evil.example",
        "https://evilieltsaiprep.com",
        "https://api.ieltsaiprep.com",
        "https://ieltsaiprep.com:8443",
        "https://www.ieltsaiprep.com/",
        "https://ieltsaiprep.com,https://evil.example",
        "https://evil.example https://ieltsaiprep.com",
        "*",
    ];
    let bearer = format!("Bearer {token}");
    for path in paths {
        for origin in foreign {
            let preflight = api
                .raw(
                    "OPTIONS",
                    path,
                    &[
                        ("origin", origin),
                        ("access-control-request-method", "POST"),
                        (
                            "access-control-request-headers",
                            "content-type,authorization",
                        ),
                    ],
                    Vec::new(),
                )
                .await;
            assert!(
                preflight.header("access-control-allow-origin").is_none(),
                "preflight of {path} from {origin} allowed: {:?}",
                preflight.headers
            );
            assert!(
                preflight
                    .header("access-control-allow-credentials")
                    .is_none()
            );
            for method in ["GET", "POST"] {
                let actual = api
                    .raw(
                        method,
                        path,
                        &[
                            ("origin", origin),
                            ("authorization", &bearer),
                            ("content-type", "application/json"),
                        ],
                        b"{}".to_vec(),
                    )
                    .await;
                assert!(
                    actual.header("access-control-allow-origin").is_none(),
                    "{method} {path} from {origin} allowed: {:?}",
                    actual.headers
                );
            }
        }
        for origin in ALLOWED_ORIGINS {
            let preflight = api
                .raw(
                    "OPTIONS",
                    path,
                    &[
                        ("origin", origin),
                        ("access-control-request-method", "POST"),
                    ],
                    Vec::new(),
                )
                .await;
            assert_eq!(
                preflight.header("access-control-allow-origin"),
                Some(origin),
                "{path}"
            );
            let actual = api
                .raw(
                    "GET",
                    path,
                    &[("origin", origin), ("authorization", &bearer)],
                    Vec::new(),
                )
                .await;
            assert_eq!(
                actual.header("access-control-allow-origin"),
                Some(origin),
                "{path}"
            );
            assert!(
                actual.header("vary").is_some_and(|v| v.contains("Origin")),
                "{path}"
            );
        }
    }

    // Any bytes on every JSON route (signed in): a 4xx problem, never a 5xx.
    let routes: Vec<(String, String)> = contract_operations()
        .into_iter()
        .filter(|(_, _, _, body)| *body)
        .map(|(m, t, _, _)| (m, concrete(&t, "x")))
        .collect();
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 6,
            ..Config::default()
        },
        TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let strategy = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        "\\PC{0,200}".prop_map(String::into_bytes),
        any::<f64>().prop_map(|n| n.to_string().into_bytes()),
    ];
    let mut sent = 0;
    for (method, path) in &routes {
        for _ in 0..6 {
            let body = strategy.new_tree(&mut runner).unwrap().current();
            let answer = api
                .raw(
                    method,
                    path,
                    &[
                        ("content-type", "application/json"),
                        ("authorization", &bearer),
                    ],
                    body.clone(),
                )
                .await;
            assert!(
                (400..500).contains(&answer.status),
                "{method} {path} with {:?}: {} {}",
                String::from_utf8_lossy(&body),
                answer.status,
                answer.json
            );
            assert_eq!(
                answer.header("content-type"),
                Some("application/problem+json")
            );
            sent += 1;
        }
    }
    assert!(sent >= 6 * 15, "{sent}");
    stack.stop().await;
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_address() {
    let stack = start(http_options(1.0)).await;
    let api = Api::of(&stack);
    let (_, user_id) = api.sign_up("guessed@example.com", "the-right-one-1").await;
    api.sign_up("bystander@example.com", "bystander-pass-1")
        .await;
    let login = |email: &'static str, password: &'static str| {
        let api = api.clone();
        async move {
            api.call(
                "POST",
                "/api/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await
        }
    };
    // Four failures, then success: the count starts again.
    for _ in 0..4 {
        login("guessed@example.com", "guess-0000")
            .await
            .problem(401);
    }
    assert_eq!(
        login("guessed@example.com", "the-right-one-1").await.status,
        200
    );
    for _ in 0..4 {
        login("guessed@example.com", "guess-0000")
            .await
            .problem(401);
    }
    assert_eq!(
        login("guessed@example.com", "the-right-one-1").await.status,
        200
    );
    // Five failures in a row: every sign-in is refused, the right password
    // included, with Retry-After; other addresses are unaffected.
    for _ in 0..5 {
        login("guessed@example.com", "guess-1111")
            .await
            .problem(401);
    }
    for password in ["guess-2222", "the-right-one-1"] {
        let limited = login("guessed@example.com", password).await;
        assert_eq!(
            limited.problem(429),
            "Too many failed sign-in attempts; try again later"
        );
        assert_eq!(limited.json["type"], "/problems/too-many-requests");
        let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=900).contains(&retry), "{retry}");
        assert!(limited.json.get("session_token").is_none());
    }
    let other = login("GUESSED@example.com", "the-right-one-1").await;
    assert_eq!(
        other.status, 429,
        "the address is normalised before counting"
    );
    assert_eq!(
        login("bystander@example.com", "bystander-pass-1")
            .await
            .status,
        200
    );
    // Unknown addresses are limited alike (the limit reveals no accounts).
    for _ in 0..5 {
        login("nobody-here@example.com", "guess-3333")
            .await
            .problem(401);
    }
    login("nobody-here@example.com", "guess-3333")
        .await
        .problem(429);

    // The counter holds no address and expires; once its window has ended
    // the right password works again and the counter is gone.
    let db = dynamodb(&stack).await;
    let sessions = scan_table(&db, "ielts-genai-prep-sessions")
        .await
        .join("\n");
    assert!(!sessions.contains("guessed@example.com") && !sessions.contains("nobody-here"));
    use sha2::Digest as _;
    let key = format!(
        "login-failures#{}",
        sha2::Sha256::digest(b"guessed@example.com")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let key_value = aws_sdk_dynamodb::types::AttributeValue::S(key.clone());
    let counter = db
        .get_item()
        .table_name("ielts-genai-prep-sessions")
        .key("session_id", key_value.clone())
        .send()
        .await
        .unwrap()
        .item
        .expect("a counter under the address's digest");
    assert!(counter.contains_key("expires_at"), "the counter has a TTL");
    db.update_item()
        .table_name("ielts-genai-prep-sessions")
        .key("session_id", key_value.clone())
        .update_expression("SET expires_at = :past")
        .expression_attribute_values(
            ":past",
            aws_sdk_dynamodb::types::AttributeValue::N("1000".into()),
        )
        .send()
        .await
        .unwrap();
    let back = login("guessed@example.com", "the-right-one-1").await;
    assert_eq!(back.json["user"]["user_id"], user_id.as_str());
    let gone = db
        .get_item()
        .table_name("ielts-genai-prep-sessions")
        .key("session_id", key_value)
        .send()
        .await
        .unwrap()
        .item;
    assert!(gone.is_none(), "a successful sign-in clears the counter");
    stack.stop().await;
}
