//! The chat WebSocket API (seed 004) end to end through the local stack: the
//! real `chat-*` binaries behind the API Gateway emulator, DynamoDB Local,
//! and the identity and Bedrock mocks. Every message received is validated
//! against backend/spec/chat.asyncapi.yaml (loaded by the tests, not through
//! the backend's types).
//!
//! Covers: a user with two connections getting replies on both; the TTL
//! refreshed by keep-alive; bad input on every route; Converse faults as
//! clear errors; the rate limit enforced without losing an accepted message;
//! seed 004's troubleshooting entries (500 with the table missing, messages
//! not received, 410 stale connections removed by the MessageSender); the
//! template's chat section; the scenario and suite files. The handshake and
//! its tokens are `chat_authorizer`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::chat_support::*;
use crate::support::*;
use aws_sdk_dynamodb::types::AttributeValue;
use mocks::bedrock::{BedrockFault, FaultRule, FaultTarget};
use serde_json::{Value, json};

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
    laptop.send_close(None).await.unwrap();
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
        let loaded =
            harness::scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(loaded.scenario.api, API, "{}", path.display());
        scenarios += 1;
    }
    let suite = workspace().join("scenarios/conformance/ChatWebSocketApi.yaml");
    let loaded = harness::scenario::load_suite(&suite).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.suite.api, API);
    assert!(loaded.suite.cases.len() >= 15);
    assert_eq!(scenarios, 5, "basic and the four troubleshooting entries");
}
