//! The chat API's handshake through the local stack: the REQUEST authorizer
//! (`chat-authorizer`) behind the API Gateway emulator refuses missing,
//! expired, not-yet-valid, wrong-audience, wrong-issuer, wrong-signature,
//! `alg: none` and algorithm-confused tokens with 401 (seed 004's first
//! troubleshooting entry), accepts HS256 (secret from the Secrets Manager
//! mock) and RS256 (JWKS from the identity mock, refetched on rotation), and
//! answers 500 when the identity provider is down. The tokens the scenario
//! files carry work against the local stack, and the 500 scenario's
//! deployment (no connections table) refuses valid tokens with 500.

use crate::chat_support::*;
use crate::support::*;
use mocks::identity::{Signer, TokenSpec};
use serde_json::{Value, json};

#[tokio::test]
async fn handshake_refuses_missing_and_bad_tokens_with_401() {
    let stack = start(options(1.0)).await;
    let identity = &stack.mocks().identity;
    let kid = identity.current_kid();
    let mint = |alg: &str, kid: Option<&str>, claims: Value, signer: Signer| {
        identity
            .mint(&TokenSpec {
                alg: alg.into(),
                kid: kid.map(str::to_owned),
                claims,
                signer,
            })
            .unwrap()
    };
    let rs256 = |claims: Value| mint("RS256", Some(&kid), claims, Signer::Rsa(kid.clone()));
    let valid = identity.claims("alice", 3600);
    let mut not_yet_valid = valid.clone();
    not_yet_valid["nbf"] = json!(valid["iat"].as_i64().unwrap() + 3600);
    let mut wrong_audience = valid.clone();
    wrong_audience["aud"] = json!("another-app");
    let mut wrong_issuer = valid.clone();
    wrong_issuer["iss"] = json!("https://evil.example");
    let rs512_kid = identity.add_key("RS512").unwrap();

    // Both algorithms are accepted: HS256 (secret from Secrets Manager) and
    // RS256 (JWKS_URL points at the identity mock).
    assert_eq!(
        handshake(&url(&stack, Some(&rs256(valid.clone())))).await,
        101
    );
    let hs256 = identity.hs256_token("alice").unwrap();
    assert_eq!(handshake(&url(&stack, Some(&hs256))).await, 101);
    let accepted = records(&stack, "ChatConnectFunction").len();
    assert_eq!(accepted, 2);

    // Missing: API Gateway answers 401 without invoking the authorizer.
    let authorizations = records(&stack, "ChatAuthorizerFunction").len();
    assert_eq!(handshake(&url(&stack, None)).await, 401);
    assert_eq!(handshake(&url(&stack, Some(""))).await, 401);
    assert_eq!(
        records(&stack, "ChatAuthorizerFunction").len(),
        authorizations
    );

    let refused: Vec<(&str, String)> = vec![
        ("expired", rs256(identity.claims("alice", -3600))),
        ("not yet valid", rs256(not_yet_valid)),
        ("wrong audience", rs256(wrong_audience)),
        ("wrong issuer", rs256(wrong_issuer)),
        (
            "wrong signature",
            mint(
                "HS256",
                None,
                valid.clone(),
                Signer::Hmac(b"another-secret-another-secret-another".to_vec()),
            ),
        ),
        (
            "alg none",
            mint("none", None, valid.clone(), Signer::Unsigned),
        ),
        (
            "HS256 keyed with the RSA public key",
            mint(
                "HS256",
                Some(&kid),
                valid.clone(),
                Signer::HmacWithPublicKey(kid.clone()),
            ),
        ),
        (
            "RS256 header, HMAC signature",
            mint(
                "RS256",
                Some(&kid),
                valid.clone(),
                Signer::Hmac(identity.hs256_secret().into_bytes()),
            ),
        ),
        (
            "kid of an RS512 key",
            mint(
                "RS256",
                Some(&rs512_kid),
                valid.clone(),
                Signer::Rsa(rs512_kid.clone()),
            ),
        ),
        (
            "unknown kid",
            mint(
                "RS256",
                Some("nobody"),
                valid.clone(),
                Signer::Rsa(kid.clone()),
            ),
        ),
        ("not a JWT", "not-a-jwt".to_owned()),
    ];
    for (case, token) in &refused {
        assert_eq!(handshake(&url(&stack, Some(token))).await, 401, "{case}");
    }
    // Each was the authorizer's Unauthorized, and $connect never ran.
    let failures = records(&stack, "ChatAuthorizerFunction")
        .into_iter()
        .filter(|r| r.outcome == "function_error")
        .count();
    assert_eq!(failures, refused.len());
    assert_eq!(records(&stack, "ChatConnectFunction").len(), accepted);

    // A key rotation: the new kid is fetched on first sight.
    let rotated = identity.add_key("RS256").unwrap();
    assert_eq!(identity.current_kid(), rotated);
    let token = identity.rs256_token("alice").unwrap();
    assert_eq!(handshake(&url(&stack, Some(&token))).await, 101);
    // An identity-provider outage is a server fault (500), not a bad token.
    identity.set_jwks_available(false);
    let outage_kid = identity.add_key("RS256").unwrap();
    let token = mint(
        "RS256",
        Some(&outage_kid),
        identity.claims("alice", 3600),
        Signer::Rsa(outage_kid.clone()),
    );
    assert_eq!(handshake(&url(&stack, Some(&token))).await, 500);
    stack.stop().await;
}

#[tokio::test]
async fn the_scenario_tokens_work_against_the_local_stack() {
    let stack = start(options(1.0)).await;
    let dir = workspace().join("scenarios/chat");
    let text =
        std::fs::read_to_string(workspace().join("scenarios/conformance/ChatWebSocketApi.yaml"))
            .expect("suite readable");
    let suite = harness::scenario::parse_suite(&text).expect("suite parses");
    let scenario = harness::scenario::load(&dir.join("chat-troubleshooting-401.yaml"))
        .expect("401 scenario loads")
        .scenario;
    let expectations = [
        ("token", 101),
        ("expired_token", 401),
        ("not_yet_valid_token", 401),
        ("wrong_audience_token", 401),
        ("wrong_signature_token", 401),
        ("unsigned_token", 401),
    ];
    for variables in [&suite.variables, &scenario.variables] {
        for (name, status) in expectations {
            let token = &variables[name];
            assert_eq!(handshake(&url(&stack, Some(token))).await, status, "{name}");
        }
    }
    stack.stop().await;
}

#[tokio::test]
async fn the_500_scenario_deploys_without_the_table_and_refuses_valid_tokens() {
    let path = workspace().join("scenarios/chat/chat-troubleshooting-500.yaml");
    let scenario = harness::scenario::load(&path).expect("loads").scenario;
    let mut options = options(1.0);
    options
        .load
        .parameter_overrides
        .extend(scenario.parameters.clone());
    let stack = start(options).await;
    assert!(!stack.template().tables.contains_key("ChatConnectionsTable"));
    let token = &scenario.variables["token"];
    assert_eq!(handshake(&url(&stack, Some(token))).await, 500);
    let connect = records(&stack, "ChatConnectFunction")
        .pop()
        .expect("$connect ran");
    assert_eq!(connect.outcome, "function_error");
    stack.stop().await;
}
