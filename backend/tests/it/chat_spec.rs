//! The chat API's messages against their contract,
//! backend/spec/chat.asyncapi.yaml: every server message the backend builds
//! validates against its payload schema, every error code is declared, and
//! the client-message parser accepts exactly what the schema accepts.

use std::path::Path;

use backend::chat::messages::{self, ErrorCode, Reply, errors};
use proptest::prelude::*;
use serde_json::{Value, json};

fn spec() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("spec/chat.asyncapi.yaml");
    let text = std::fs::read_to_string(path).expect("spec readable");
    serde_yaml_ng::from_str(&text).expect("spec is YAML")
}

/// A validator for one message's payload (internal `$ref`s resolve against the document).
fn validator(spec: &Value, message: &str) -> jsonschema::Validator {
    let mut schema = spec.clone();
    schema["$ref"] = json!(format!("#/components/messages/{message}/payload"));
    jsonschema::validator_for(&schema).expect("payload schema compiles")
}

fn assert_valid(spec: &Value, message: &str, instance: &Value) {
    let validator = validator(spec, message);
    let problems: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| e.to_string())
        .collect();
    assert!(problems.is_empty(), "{message}: {instance}: {problems:?}");
}

#[test]
fn every_message_declares_its_direction_and_server_messages_are_closed() {
    let spec = spec();
    let messages = spec["components"]["messages"].as_object().unwrap();
    for (name, message) in messages {
        let direction = message["x-direction"].as_str().unwrap_or_default();
        assert!(
            matches!(direction, "client" | "server"),
            "{name}: x-direction {direction:?}"
        );
        if direction == "server" {
            assert_eq!(
                message["payload"]["additionalProperties"], false,
                "{name} must be closed"
            );
        }
        assert!(
            spec["channels"]["chat"]["messages"].get(name).is_some(),
            "{name} is on the channel"
        );
    }
}

#[test]
fn server_messages_match_the_contract() {
    let spec = spec();
    assert_valid(
        &spec,
        "message_received",
        &messages::message_received("aBcD=", "test-session", 1_700_000_000_000),
    );
    let reply = Reply {
        text: "Hello!".into(),
        model: "amazon.nova-micro-v1:0".into(),
        input_tokens: 12,
        output_tokens: 3,
    };
    assert_valid(
        &spec,
        "chat_reply",
        &messages::chat_reply("aBcD=", "test-session", &reply),
    );
    assert_valid(
        &spec,
        "pong",
        &messages::pong(1_700_000_000_000, 1_700_000_600),
    );
    assert_valid(&spec, "error", &messages::rate_limited(20, 60, "aBcD=", 12));
    let sentences = [
        errors::NOT_REGISTERED,
        errors::NOT_ACCEPTED,
        errors::MODEL_THROTTLED,
        errors::MODEL_REJECTED,
        errors::MODEL_NOT_AVAILABLE,
        errors::MODEL_UNAVAILABLE,
    ];
    for code in ErrorCode::ALL {
        for sentence in sentences {
            assert_valid(
                &spec,
                "error",
                &messages::error(code, sentence, Some("id"), Some(5)),
            );
            assert_valid(&spec, "error", &messages::error(code, sentence, None, None));
        }
    }
    for problem in [
        messages::parse("{").unwrap_err(),
        messages::parse(r#"{"action":"dance"}"#).unwrap_err(),
        messages::parse(r#"{"action":"chat_message"}"#).unwrap_err(),
    ] {
        let error = messages::error(problem.code(), &problem.to_string(), None, None);
        assert_valid(&spec, "error", &error);
    }
    // The contract is closed: an undeclared field is caught.
    let mut extra = messages::pong(1, 2);
    extra["extra"] = json!(1);
    assert!(!validator(&spec, "pong").is_valid(&extra));
    // And it lists exactly the codes the backend uses.
    let declared: Vec<&str> =
        spec["components"]["messages"]["error"]["payload"]["properties"]["code"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
    let used: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(declared, used);
}

#[test]
fn the_seed_examples_are_valid_client_messages() {
    let spec = spec();
    let seed = json!({"action": "chat_message", "data": {"message": "Hello", "sessionId": "test-session"}});
    assert_valid(&spec, "chat_message", &seed);
    assert!(messages::parse(&seed.to_string()).is_ok());
    assert_valid(&spec, "ping", &json!({"action": "ping"}));
    let examples = spec["components"]["messages"]["chat_message"]["examples"]
        .as_array()
        .unwrap();
    for example in examples {
        assert!(messages::parse(&example["payload"].to_string()).is_ok());
    }
}

fn message_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("   ".to_owned()),
        Just("x".repeat(4000)),
        Just("x".repeat(4001)),
        "[a-zA-Z ]{0,40}",
        "\\PC{0,40}",
    ]
}

fn session_id() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("a".repeat(128)),
        Just("a".repeat(129)),
        "[A-Za-z0-9._:@-]{1,20}",
        "[A-Za-z0-9 /#]{0,20}",
    ]
}

proptest! {
    /// The parser and the schema agree on chat messages.
    #[test]
    fn parser_and_schema_agree(message in message_text(), session in session_id()) {
        let spec = spec();
        let body = json!({"action": "chat_message", "data": {"message": message, "sessionId": session}});
        let parsed = messages::parse(&body.to_string()).is_ok();
        let valid = validator(&spec, "chat_message").is_valid(&body);
        prop_assert_eq!(parsed, valid, "{}", body);
    }
}
