//! Security checks on the chat WebSocket (seed 004) through the local stack:
//! every way around the `$connect` authorizer we could think of is refused
//! with 401 before `$connect` runs, while the same tokens built correctly
//! are accepted (so each refusal is the check's doing, not a broken token
//! builder). Cases: `alg: none` in every casing, with and without a
//! signature; wrong keys (another secret, another RSA key claiming the real
//! `kid`, the RSA public key as an HMAC secret, a spliced signature);
//! algorithms the API does not take (HS384, HS512, lower-case hs256);
//! expired, not yet valid, missing or mistyped `exp`; wrong, missing or
//! list-valued issuer and audience; missing, blank, control-character,
//! over-long and non-string subjects; malformed tokens (segments, base64,
//! JSON, size); and a valid token in the wrong place (Authorization header,
//! cookie, sub-protocol, other query names). And the template's rate limit
//! (20 messages per 60 s per connection) holds under a burst that changes
//! `sessionId` on every message.

use crate::chat_support::{API, records};
use crate::support::*;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use harness::stack::LocalStack;
use mocks::identity::{IdentityKeys, Signer, TokenSpec};
use serde_json::{Value, json};

/// The handshake status for `query` (appended to the API's URL) and extra headers.
async fn handshake_with(stack: &LocalStack, query: &str, headers: &[(&str, &str)]) -> u16 {
    let url = format!("{}{query}", stack.websocket(API).expect("chat API").url());
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    crate::chat_support::handshake_with_headers(&url, &headers).await
}

/// A misplaced token: the case, the query string, the headers.
type Misplaced<'a> = (&'a str, String, Vec<(&'a str, &'a str)>);

/// `?token=` with the token percent-encoded.
fn token_query(token: &str) -> String {
    let encoded: String =
        percent_encoding::utf8_percent_encode(token, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    format!("?token={encoded}")
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn the_authorizer_refuses_every_bypass_attempt() {
    let stack = start(options(1.0)).await;
    let identity = &stack.mocks().identity;
    let kid = identity.current_kid();
    let secret = identity.hs256_secret().into_bytes();
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
    let hs256 = |claims: Value| mint("HS256", None, claims, Signer::Hmac(secret.clone()));
    let valid = identity.claims("alice", 3600);
    let with = |changes: Value| {
        let mut claims = valid.clone();
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        claims
    };
    let now = valid["iat"].as_i64().unwrap();

    // Positive controls: the builders below make tokens the API accepts.
    let connects = records(&stack, "ChatConnectFunction").len();
    assert_eq!(
        handshake_with(&stack, &token_query(&hs256(valid.clone())), &[]).await,
        101
    );
    let rs256 = mint("RS256", Some(&kid), valid.clone(), Signer::Rsa(kid.clone()));
    assert_eq!(handshake_with(&stack, &token_query(&rs256), &[]).await, 101);
    assert_eq!(
        handshake_with(
            &stack,
            &token_query(&hs256(with(json!({"exp": now + 10})))),
            &[]
        )
        .await,
        101,
        "a token 10 s from expiry is still good"
    );
    let accepted = connects + 3;
    assert_eq!(records(&stack, "ChatConnectFunction").len(), accepted);

    // Another identity provider's key, claiming our kid.
    let attacker = IdentityKeys::generate(
        identity.issuer(),
        identity.audience(),
        "attacker-secret-attacker-secret-0000",
    )
    .unwrap();
    let attacker_kid = attacker.current_kid().to_owned();
    let forged = |header_kid: &str| {
        attacker
            .mint(&TokenSpec {
                alg: "RS256".into(),
                kid: Some(header_kid.to_owned()),
                claims: valid.clone(),
                signer: Signer::Rsa(attacker_kid.clone()),
            })
            .unwrap()
    };
    let bob = hs256(identity.claims("bob", 3600));
    let alice = hs256(valid.clone());
    let spliced = {
        let a: Vec<&str> = alice.split('.').collect();
        let b: Vec<&str> = bob.split('.').collect();
        format!("{}.{}.{}", a[0], b[1], a[2])
    };
    let header = b64(&json!({"alg": "HS256", "typ": "JWT"}));
    let payload = b64(&valid);
    let cases: Vec<(&str, String)> = vec![
        // Algorithm and signature.
        (
            "alg none",
            mint("none", None, valid.clone(), Signer::Unsigned),
        ),
        (
            "alg None",
            mint("None", None, valid.clone(), Signer::Unsigned),
        ),
        (
            "alg NONE",
            mint("NONE", None, valid.clone(), Signer::Unsigned),
        ),
        (
            "alg nOnE",
            mint("nOnE", None, valid.clone(), Signer::Unsigned),
        ),
        (
            "alg none with an HMAC signature",
            mint("none", None, valid.clone(), Signer::Hmac(secret.clone())),
        ),
        (
            "HS256 without a signature",
            mint("HS256", None, valid.clone(), Signer::Unsigned),
        ),
        (
            "HS256 with another secret",
            mint(
                "HS256",
                None,
                valid.clone(),
                Signer::Hmac(b"guessed-secret-guessed-secret-000".to_vec()),
            ),
        ),
        (
            "HS256 with an empty secret",
            mint("HS256", None, valid.clone(), Signer::Hmac(Vec::new())),
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
        ("RS256 by another key claiming our kid", forged(&kid)),
        ("RS256 by another key, its own kid", forged(&attacker_kid)),
        (
            "RS256 without a kid",
            mint("RS256", None, valid.clone(), Signer::Rsa(kid.clone())),
        ),
        ("claims of bob, signature of alice", spliced),
        (
            "HS384 with the right secret",
            mint("HS384", None, valid.clone(), Signer::Hmac(secret.clone())),
        ),
        (
            "HS512 with the right secret",
            mint("HS512", None, valid.clone(), Signer::Hmac(secret.clone())),
        ),
        (
            "lower-case hs256",
            mint("hs256", None, valid.clone(), Signer::Hmac(secret.clone())),
        ),
        (
            "ES256 header",
            mint("ES256", None, valid.clone(), Signer::Hmac(secret.clone())),
        ),
        // Time.
        (
            "expired an hour ago",
            hs256(with(json!({"exp": now - 3600}))),
        ),
        (
            "expired beyond the 30 s leeway",
            hs256(with(json!({"exp": now - 120}))),
        ),
        ("no exp", hs256(with(json!({"exp": null})))),
        (
            "exp as a string",
            hs256(with(json!({"exp": (now + 3600).to_string()}))),
        ),
        ("nbf in an hour", hs256(with(json!({"nbf": now + 3600})))),
        // Issuer and audience.
        (
            "another issuer",
            hs256(with(json!({"iss": "https://evil.example"}))),
        ),
        ("no issuer", hs256(with(json!({"iss": null})))),
        (
            "issuer with a suffix",
            hs256(with(
                json!({"iss": format!("{}.evil.example", identity.issuer())}),
            )),
        ),
        (
            "another audience",
            hs256(with(json!({"aud": "another-app"}))),
        ),
        ("no audience", hs256(with(json!({"aud": null})))),
        (
            "audience list without ours",
            hs256(with(json!({"aud": ["another-app", "third-app"]}))),
        ),
        // Subject.
        ("no sub", hs256(with(json!({"sub": null})))),
        ("empty sub", hs256(with(json!({"sub": ""})))),
        ("blank sub", hs256(with(json!({"sub": "   "})))),
        (
            "sub with a newline",
            hs256(with(json!({"sub": "alice\nadmin"}))),
        ),
        ("sub as a number", hs256(with(json!({"sub": 42})))),
        (
            "sub over 128 bytes",
            hs256(with(json!({"sub": "a".repeat(200)}))),
        ),
        // Malformed.
        ("one segment", "abcdef".to_owned()),
        ("two segments", format!("{header}.{payload}")),
        ("four segments", format!("{header}.{payload}.c2ln.c2ln")),
        ("header not base64", format!("!!!.{payload}.c2ln")),
        (
            "header not JSON",
            format!("{}.{payload}.c2ln", URL_SAFE_NO_PAD.encode("not json")),
        ),
        (
            "header a JSON array",
            format!("{}.{payload}.c2ln", b64(&json!(["HS256"]))),
        ),
        (
            "payload not JSON",
            format!("{header}.{}.c2ln", URL_SAFE_NO_PAD.encode("{")),
        ),
        ("dots only", "..".to_owned()),
        (
            "a 9 KB token",
            format!("{header}.{}.c2ln", "A".repeat(9 * 1024)),
        ),
    ];
    let authorizations = records(&stack, "ChatAuthorizerFunction").len();
    for (case, token) in &cases {
        assert_eq!(
            handshake_with(&stack, &token_query(token), &[]).await,
            401,
            "{case}"
        );
    }
    assert_eq!(
        records(&stack, "ChatConnectFunction").len(),
        accepted,
        "$connect never ran for a refused token"
    );
    assert_eq!(
        records(&stack, "ChatAuthorizerFunction").len(),
        authorizations + cases.len(),
        "the authorizer decided every case"
    );

    // A valid token anywhere but `?token=` is no token: API Gateway answers
    // 401 without invoking the authorizer.
    let good = hs256(valid.clone());
    let bearer = format!("Bearer {good}");
    let cookie = format!("token={good}");
    let misplaced: Vec<Misplaced<'_>> = vec![
        (
            "Authorization header",
            String::new(),
            vec![("authorization", bearer.as_str())],
        ),
        ("cookie", String::new(), vec![("cookie", cookie.as_str())]),
        (
            "sub-protocol",
            String::new(),
            vec![("sec-websocket-protocol", good.as_str())],
        ),
        (
            "a header named token",
            String::new(),
            vec![("token", good.as_str())],
        ),
        ("?access_token=", format!("?access_token={good}"), vec![]),
        ("?Token=", format!("?Token={good}"), vec![]),
        ("?jwt=", format!("?jwt={good}"), vec![]),
        ("?token (no value)", format!("?token&t={good}"), vec![]),
    ];
    let authorizations = records(&stack, "ChatAuthorizerFunction").len();
    for (case, query, headers) in &misplaced {
        assert_eq!(
            handshake_with(&stack, query, headers).await,
            401,
            "token in {case}"
        );
    }
    assert_eq!(
        records(&stack, "ChatAuthorizerFunction").len(),
        authorizations
    );
    assert_eq!(records(&stack, "ChatConnectFunction").len(), accepted);
    stack.stop().await;
}

#[tokio::test]
async fn the_template_rate_limit_holds_under_a_burst_across_session_ids() {
    let stack = start(options(1.0)).await;
    let contract = crate::chat_support::Contract::load();
    let token = stack.mocks().identity.hs256_token("burst-user").unwrap();
    let (mut socket, _) = crate::chat_support::open(&stack, &token).await;
    // The template's limit: 20 messages per 60 s per connection. A client
    // changing `sessionId` on every message gets no extra budget.
    const SENT: usize = 26;
    for n in 0..SENT {
        send_json(
            &mut socket,
            crate::chat_support::chat(&format!("message {n}"), &format!("session-{n}")),
        )
        .await;
    }
    let (mut accepted, mut limited, mut replies) = (0, 0, 0);
    while accepted + limited < SENT || replies < accepted {
        let message = crate::chat_support::receive(&mut socket, &contract).await;
        match message["type"].as_str().unwrap() {
            "message_received" => accepted += 1,
            "chat_reply" => replies += 1,
            "error" => {
                assert_eq!(message["code"], "rate_limited", "{message}");
                limited += 1;
            }
            other => panic!("unexpected {other}: {message}"),
        }
    }
    assert_eq!((accepted, limited), (20, SENT - 20));
    assert_eq!(
        stack.mocks().bedrock.usage()[crate::chat_support::MODEL].requests,
        20,
        "refused messages never reach the model"
    );
    stack.stop().await;
}
