//! The chat WebSocket API (seed 004) end to end through the local stack: the
//! real `chat-*` binaries behind the API Gateway emulator with the REQUEST
//! authorizer, DynamoDB Local, and the identity and Bedrock mocks. Every
//! message received is validated against backend/spec/chat.asyncapi.yaml
//! (loaded here, not through the backend's types).
//!
//! Covers the acceptance: expired, not-yet-valid, wrong-audience,
//! wrong-signature, `alg: none` and missing tokens refused at the handshake;
//! a stale connection removed after a 410; the TTL refreshed by keep-alive;
//! the rate limit enforced without losing an accepted message; a user with
//! two connections getting replies on both; and seed 004's troubleshooting
//! entries (401, 500 with the table missing, messages not received, 410).

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::{SinkExt, StreamExt};
use harness::lambda::InvocationRecord;
use harness::stack::LocalStack;
use mocks::bedrock::{BedrockFault, FaultRule, FaultTarget};
use mocks::identity::{Signer, TokenSpec};
use serde_json::{Value, json};
use support::*;
use tokio_tungstenite::tungstenite::Error as WsError;

const API: &str = "ChatWebSocketApi";
const TABLE: &str = "production-chatbot-connections";
const MODEL: &str = "amazon.nova-micro-v1:0";
const WAIT: Duration = Duration::from_secs(30);

/// The contract, read from the spec file.
struct Contract {
    spec: Value,
}

impl Contract {
    fn load() -> Self {
        let path = workspace().join("backend/spec/chat.asyncapi.yaml");
        let text = std::fs::read_to_string(path).expect("spec readable");
        Self {
            spec: serde_yaml_ng::from_str(&text).expect("spec is YAML"),
        }
    }

    /// Panics unless `message` is one of the spec's server messages.
    fn check(&self, message: &Value) {
        let name = message
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("gatewayMessage");
        let declared = &self.spec["components"]["messages"][name];
        assert_eq!(
            declared["x-direction"], "server",
            "{name} is not a server message of the spec: {message}"
        );
        let mut schema = self.spec.clone();
        schema["$ref"] = json!(format!("#/components/messages/{name}/payload"));
        let validator = jsonschema::validator_for(&schema).expect("schema compiles");
        let problems: Vec<String> = validator
            .iter_errors(message)
            .map(|e| e.to_string())
            .collect();
        assert!(
            problems.is_empty(),
            "{message} breaks the spec: {problems:?}"
        );
    }
}

/// The next message, checked against the contract.
async fn receive(socket: &mut Socket, contract: &Contract) -> Value {
    let message = next_json(socket, WAIT).await;
    contract.check(&message);
    message
}

/// Whether nothing arrives for `quiet`.
async fn stays_silent(socket: &mut Socket, quiet: Duration) -> bool {
    tokio::time::timeout(quiet, socket.next()).await.is_err()
}

fn chat(text: &str, session: &str) -> Value {
    json!({"action": "chat_message", "data": {"message": text, "sessionId": session}})
}

fn url(stack: &LocalStack, token: Option<&str>) -> String {
    let base = stack.websocket(API).expect("chat API").url();
    match token {
        Some(token) => format!("{base}?token={token}"),
        None => base,
    }
}

/// The handshake's HTTP status (101 when accepted).
async fn handshake(url: &str) -> u16 {
    match tokio_tungstenite::connect_async(url).await {
        Ok(_) => 101,
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("handshake failed oddly: {other}"),
    }
}

fn records(stack: &LocalStack, function: &str) -> Vec<InvocationRecord> {
    stack
        .lambda()
        .records()
        .into_iter()
        .filter(|r| r.function == function)
        .collect()
}

/// Connects with a token; returns the socket and its connection id.
async fn open(stack: &LocalStack, token: &str) -> (Socket, String) {
    let socket = connect(&url(stack, Some(token))).await;
    let connect = records(stack, "ChatConnectFunction")
        .pop()
        .expect("$connect ran");
    let event = connect.event.expect("captured event");
    let id = event["requestContext"]["connectionId"]
        .as_str()
        .expect("connection id")
        .to_owned();
    (socket, id)
}

async fn dynamodb(stack: &LocalStack) -> aws_sdk_dynamodb::Client {
    harness::dynamodb::client(stack.dynamodb_endpoint(), "us-east-1").await
}

async fn item(
    client: &aws_sdk_dynamodb::Client,
    connection_id: &str,
) -> Option<HashMap<String, AttributeValue>> {
    client
        .get_item()
        .table_name(TABLE)
        .key("connectionId", AttributeValue::S(connection_id.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem")
        .item
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> i64 {
    item[name].as_n().unwrap().parse().unwrap()
}

/// Waits until `connection_id`'s item is gone.
async fn item_removed(client: &aws_sdk_dynamodb::Client, connection_id: &str) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if item(client, connection_id).await.is_none() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

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
    let text = std::fs::read_to_string(workspace().join("scenarios/chat/conformance.yaml"))
        .expect("suite readable");
    let suite = harness::scenario::parse_suite(&text).expect("suite parses");
    let expectations = [
        ("token", 101),
        ("expired_token", 401),
        ("not_yet_valid_token", 401),
        ("wrong_audience_token", 401),
        ("wrong_signature_token", 401),
        ("unsigned_token", 401),
    ];
    for (name, status) in expectations {
        let token = &suite.variables[name];
        assert_eq!(handshake(&url(&stack, Some(token))).await, status, "{name}");
    }
    stack.stop().await;
}

#[tokio::test]
async fn replies_reach_every_connection_of_the_user_and_keep_alive_refreshes_the_ttl() {
    let stack = start(options(1.0)).await;
    let contract = Contract::load();
    let identity = &stack.mocks().identity;
    let db = dynamodb(&stack).await;
    let (mut phone, phone_id) = open(&stack, &identity.rs256_token("alice").unwrap()).await;
    let (mut laptop, laptop_id) = open(&stack, &identity.hs256_token("alice").unwrap()).await;
    let (mut other_user, _) = open(&stack, &identity.rs256_token("bob").unwrap()).await;

    let registered = item(&db, &phone_id).await.expect("phone registered");
    assert_eq!(registered["userId"].as_s().unwrap(), "alice");
    let now_s = chrono::Utc::now().timestamp();
    assert!((number(&registered, "ttl") - now_s - 600).abs() <= 5);

    send_json(&mut phone, chat("Hello", "test-session")).await;
    let received = receive(&mut phone, &contract).await;
    assert_eq!(received["type"], "message_received");
    let message_id = received["messageId"].as_str().unwrap().to_owned();
    let reply = receive(&mut phone, &contract).await;
    assert_eq!(reply["type"], "chat_reply");
    assert_eq!(reply["messageId"], message_id.as_str());
    assert_eq!(reply["sessionId"], "test-session");
    assert!(reply["message"].as_str().unwrap().contains("Hello"));
    assert_eq!(reply["model"], MODEL);
    let on_laptop = receive(&mut laptop, &contract).await;
    assert_eq!(
        on_laptop, reply,
        "the same reply on the user's other connection"
    );
    assert!(
        stays_silent(&mut other_user, Duration::from_millis(500)).await,
        "another user gets nothing"
    );
    assert!(stays_silent(&mut laptop, Duration::from_millis(200)).await);

    // Keep-alive: ping refreshes the registration's TTL and says until when.
    let before = number(&item(&db, &laptop_id).await.unwrap(), "ttl");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    send_json(&mut laptop, json!({"action": "ping"})).await;
    let pong = receive(&mut laptop, &contract).await;
    assert_eq!(pong["type"], "pong");
    let after = number(&item(&db, &laptop_id).await.unwrap(), "ttl");
    assert!(after > before, "ttl {before} -> {after}");
    assert_eq!(pong["connectionExpiresAt"], after);

    // Bad input on every route gets a precise error and loses nothing.
    let bad: [(&str, Value, &str); 6] = [
        ("not JSON", json!("Hello"), "invalid_message"),
        (
            "unknown action",
            json!({"action": "dance"}),
            "unknown_action",
        ),
        ("no action", json!({"data": {}}), "invalid_message"),
        (
            "no data",
            json!({"action": "chat_message"}),
            "invalid_message",
        ),
        ("blank", chat("   ", "s"), "invalid_message"),
        ("bad session id", chat("Hi", "a b"), "invalid_message"),
    ];
    for (case, body, code) in bad {
        let text = match &body {
            Value::String(raw) => raw.clone(),
            other => other.to_string(),
        };
        phone
            .send(tokio_tungstenite::tungstenite::Message::text(text))
            .await
            .unwrap();
        let error = receive(&mut phone, &contract).await;
        assert_eq!(error["type"], "error", "{case}");
        assert_eq!(error["code"], code, "{case}: {error}");
        assert!(
            error.get("messageId").is_none(),
            "{case}: nothing was accepted"
        );
    }
    send_json(&mut phone, json!({"action": "ping", "extra": true})).await;
    assert_eq!(receive(&mut phone, &contract).await["type"], "pong");
    assert!(
        stays_silent(&mut laptop, Duration::from_millis(300)).await,
        "errors go to the sender only"
    );

    // Model faults become errors about the message, with guidance.
    let bedrock = &stack.mocks().bedrock;
    let faults: [(FaultRule, &str, bool); 3] = [
        (
            FaultRule::always(BedrockFault::Throttling {
                before_stream: false,
            })
            .on(FaultTarget::Converse),
            "model_throttled",
            true,
        ),
        (
            FaultRule::always(BedrockFault::Validation {
                before_stream: false,
            })
            .on(FaultTarget::Converse),
            "model_rejected",
            false,
        ),
        (
            FaultRule::always(BedrockFault::AccessDenied).on(FaultTarget::Converse),
            "model_not_available",
            false,
        ),
    ];
    for (fault, code, retry) in faults {
        bedrock.add_fault(fault);
        send_json(&mut phone, chat("Are you there?", "faults")).await;
        let received = receive(&mut phone, &contract).await;
        assert_eq!(received["type"], "message_received");
        let error = receive(&mut phone, &contract).await;
        assert_eq!(error["code"], code, "{error}");
        assert_eq!(error["messageId"], received["messageId"]);
        assert_eq!(error.get("retryAfterSeconds").is_some(), retry, "{error}");
        bedrock.clear_faults();
    }
    send_json(&mut phone, chat("Back again", "faults")).await;
    assert_eq!(
        receive(&mut phone, &contract).await["type"],
        "message_received"
    );
    assert_eq!(receive(&mut phone, &contract).await["type"], "chat_reply");
    assert_eq!(receive(&mut laptop, &contract).await["type"], "chat_reply");

    // A clean close removes the registration ($disconnect).
    laptop.close(None).await.unwrap();
    assert!(
        item_removed(&db, &laptop_id).await,
        "$disconnect removed it"
    );
    stack.stop().await;
}

#[tokio::test]
async fn the_rate_limit_refuses_extra_messages_and_loses_no_accepted_one() {
    let mut options = options(1.0);
    options
        .function_env
        .insert("RATE_LIMIT_MESSAGES".into(), "3".into());
    options
        .function_env
        .insert("RATE_LIMIT_WINDOW_SECONDS".into(), "60".into());
    let stack = start(options).await;
    let contract = Contract::load();
    let token = stack.mocks().identity.rs256_token("carol").unwrap();
    let (mut socket, _) = open(&stack, &token).await;
    const SENT: usize = 8;
    for n in 0..SENT {
        send_json(&mut socket, chat(&format!("message {n}"), "burst")).await;
    }
    let mut acknowledged = BTreeSet::new();
    let mut replied: BTreeMap<String, String> = BTreeMap::new();
    let mut limited = BTreeSet::new();
    while acknowledged.len() + limited.len() < SENT || replied.len() < acknowledged.len() {
        let message = receive(&mut socket, &contract).await;
        let id = message["messageId"].as_str().unwrap().to_owned();
        match message["type"].as_str().unwrap() {
            "message_received" => assert!(acknowledged.insert(id)),
            "chat_reply" => {
                let text = message["message"].as_str().unwrap().to_owned();
                assert!(replied.insert(id, text).is_none(), "one reply per message");
            }
            "error" => {
                assert_eq!(message["code"], "rate_limited", "{message}");
                let retry = message["retryAfterSeconds"].as_i64().unwrap();
                assert!((1..=60).contains(&retry), "{message}");
                assert!(limited.insert(id));
            }
            other => panic!("unexpected {other}: {message}"),
        }
    }
    assert_eq!(acknowledged.len(), 3, "exactly the limit is accepted");
    assert_eq!(limited.len(), SENT - 3);
    assert!(acknowledged.is_disjoint(&limited));
    assert_eq!(
        replied.keys().cloned().collect::<BTreeSet<_>>(),
        acknowledged,
        "every accepted message got its reply"
    );
    let texts: BTreeSet<&String> = replied.values().collect();
    assert_eq!(texts.len(), 3, "three different messages were answered");
    assert_eq!(
        stack.mocks().bedrock.usage()[MODEL].requests,
        3,
        "refused messages never reach the model"
    );
    assert!(stays_silent(&mut socket, Duration::from_millis(500)).await);
    stack.stop().await;
}

#[tokio::test]
async fn troubleshooting_stale_connections_unregistered_connections_and_a_missing_table() {
    let stack = start(options(1.0)).await;
    let contract = Contract::load();
    let identity = &stack.mocks().identity;
    let db = dynamodb(&stack).await;
    let (mut phone, phone_id) = open(&stack, &identity.rs256_token("dave").unwrap()).await;
    let (tablet, tablet_id) = open(&stack, &identity.rs256_token("dave").unwrap()).await;

    // 410 Gone: the tablet vanishes and its $disconnect is lost (AWS delivers
    // it on a best-effort basis), so its registration stays behind, as does
    // one of a connection that never said goodbye.
    let tablet_item = item(&db, &tablet_id).await.expect("tablet registered");
    drop(tablet);
    assert!(item_removed(&db, &tablet_id).await);
    db.put_item()
        .table_name(TABLE)
        .set_item(Some(tablet_item.clone()))
        .send()
        .await
        .unwrap();
    let mut ghost = tablet_item;
    ghost.insert(
        "connectionId".into(),
        AttributeValue::S("R2hvc3RDb25uPQ==".into()),
    );
    db.put_item()
        .table_name(TABLE)
        .set_item(Some(ghost))
        .send()
        .await
        .unwrap();
    send_json(&mut phone, chat("Anyone else here?", "stale")).await;
    assert_eq!(
        receive(&mut phone, &contract).await["type"],
        "message_received"
    );
    assert_eq!(receive(&mut phone, &contract).await["type"], "chat_reply");
    assert!(
        item_removed(&db, &tablet_id).await,
        "the MessageSender removed it"
    );
    assert!(item_removed(&db, "R2hvc3RDb25uPQ==").await);
    assert!(item(&db, &phone_id).await.is_some(), "the live one stays");

    // Messages not received: the registration is gone under a live socket.
    db.delete_item()
        .table_name(TABLE)
        .key("connectionId", AttributeValue::S(phone_id.clone()))
        .send()
        .await
        .unwrap();
    send_json(&mut phone, chat("Hello?", "lost")).await;
    let error = receive(&mut phone, &contract).await;
    assert_eq!(error["code"], "connection_not_registered", "{error}");
    assert_eq!(error["reconnect"], true);
    assert!(error["message"].as_str().unwrap().contains("reconnect"));
    assert!(error["messageId"].is_string());
    send_json(&mut phone, json!({"action": "ping"})).await;
    assert_eq!(
        receive(&mut phone, &contract).await["code"],
        "connection_not_registered"
    );
    // Reconnecting, as the error says, works.
    let (mut again, _) = open(&stack, &identity.rs256_token("dave").unwrap()).await;
    send_json(&mut again, chat("Hello?", "lost")).await;
    assert_eq!(
        receive(&mut again, &contract).await["type"],
        "message_received"
    );
    assert_eq!(receive(&mut again, &contract).await["type"], "chat_reply");

    // 500 on connect: the table is missing; the token is fine.
    db.delete_table().table_name(TABLE).send().await.unwrap();
    let token = identity.rs256_token("dave").unwrap();
    assert_eq!(handshake(&url(&stack, Some(&token))).await, 500);
    let connect = records(&stack, "ChatConnectFunction").pop().unwrap();
    assert_eq!(connect.outcome, "function_error");
    stack.stop().await;
}

#[test]
fn without_its_table_the_template_still_names_it() {
    let options = harness::template::LoadOptions {
        parameter_overrides: [("ChatCreateConnectionsTable".to_owned(), "false".to_owned())]
            .into_iter()
            .collect(),
        ..harness::template::LoadOptions::default()
    };
    let without = harness::template::load_file(&template(), &options).unwrap();
    assert!(!without.tables.contains_key("ChatConnectionsTable"));
    let connect = without.function("ChatConnectFunction").unwrap();
    assert_eq!(connect.environment["CONNECTIONS_TABLE"], TABLE);
    let full = harness::template::load_file(&template(), &Default::default()).unwrap();
    let table = &full.tables["ChatConnectionsTable"];
    assert_eq!(table.table_name, TABLE);
    assert_eq!(table.ttl_attribute.as_deref(), Some("ttl"));
    assert_eq!(table.global_indexes[0].name, "userId-index");
    let api = &full.websocket_apis[API];
    let authorizer = api.routes["$connect"].authorizer.as_ref().unwrap();
    assert_eq!(authorizer.function, "ChatAuthorizerFunction");
    assert!(api.routes["ping"].two_way);
    for (function, binary) in [
        ("ChatAuthorizerFunction", "chat-authorizer"),
        ("ChatConnectFunction", "chat-connect"),
        ("ChatDisconnectFunction", "chat-disconnect"),
        ("ChatMessageFunction", "chat-message"),
    ] {
        assert_eq!(full.function(function).unwrap().binary, binary);
    }
}

#[test]
fn every_chat_scenario_and_suite_parses() {
    let dir = workspace().join("scenarios/chat");
    let mut scenarios = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        if path.file_name() == Some(Path::new("conformance.yaml").as_os_str()) {
            let text = std::fs::read_to_string(&path).unwrap();
            let suite = harness::scenario::parse_suite(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(suite.api, API);
            assert!(suite.cases.len() >= 15);
        } else {
            let loaded = harness::scenario::load(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(loaded.scenario.api, API, "{}", path.display());
            scenarios += 1;
        }
    }
    assert_eq!(scenarios, 5, "basic and the four troubleshooting entries");
}
