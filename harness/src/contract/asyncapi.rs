//! The published contracts (backend/spec/): one AsyncAPI 3.0 document per
//! WebSocket API. Each message payload schema is compiled once (the
//! `jsonschema` crate) and every received message is judged against the
//! document, never against the backend's own types: which message it is (by
//! its `type` constant, or the one schema it fits), and whether its payload is
//! valid, with instance and schema paths for each problem.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

/// Why a contract could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The file.
    #[error("cannot read contract {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        message: String,
    },
    /// A schema that does not compile.
    #[error("contract {path}: message {message_name}: {problem}")]
    Schema {
        /// The file.
        path: String,
        /// The message.
        message_name: String,
        /// The compiler's complaint.
        problem: String,
    },
}

/// One problem with a message.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Violation {
    /// Where in the message (JSON pointer).
    pub instance_path: String,
    /// Which rule (JSON pointer into the schema).
    pub schema_path: String,
    /// What is wrong.
    pub message: String,
}

/// The judgement on one received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A known message with a valid payload.
    Valid(String),
    /// A known message (by its `type`) whose payload breaks the schema.
    Invalid {
        /// The message's name.
        name: String,
        /// The problems.
        violations: Vec<Violation>,
    },
    /// No message of the contract has this type (or shape).
    Unknown {
        /// The `type` it claimed, if any.
        claimed: Option<String>,
    },
    /// Not JSON.
    NotJson,
}

struct MessageSchema {
    name: String,
    type_const: Option<String>,
    validator: jsonschema::Validator,
}

/// A compiled AsyncAPI document.
pub struct Contract {
    /// The template API it describes (`info.x-template-api`).
    pub api: String,
    /// The document's path.
    pub path: String,
    /// Title.
    pub title: String,
    server: Vec<MessageSchema>,
    client: Vec<MessageSchema>,
}

impl std::fmt::Debug for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contract")
            .field("api", &self.api)
            .field(
                "server_messages",
                &self.server.iter().map(|m| &m.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Contract {
    /// Loads and compiles an AsyncAPI document.
    pub fn load(path: &Path) -> Result<Self, ContractError> {
        let read_error = |message: String| ContractError::Read {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| read_error(e.to_string()))?;
        let document: Value =
            serde_yaml_ng::from_str(&text).map_err(|e| read_error(e.to_string()))?;
        Self::from_document(&document, &path.display().to_string())
    }

    /// Compiles a parsed document.
    pub fn from_document(document: &Value, path: &str) -> Result<Self, ContractError> {
        let read_error = |message: &str| ContractError::Read {
            path: path.to_owned(),
            message: message.to_owned(),
        };
        if !document
            .get("asyncapi")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("3."))
        {
            return Err(read_error("not an AsyncAPI 3 document"));
        }
        let api = document
            .pointer("/info/x-template-api")
            .and_then(Value::as_str)
            .ok_or_else(|| read_error("info.x-template-api is missing"))?;
        let messages = document
            .pointer("/components/messages")
            .and_then(Value::as_object)
            .ok_or_else(|| read_error("no components.messages"))?;
        let components = document.get("components").cloned().unwrap_or_default();
        let mut server = Vec::new();
        let mut client = Vec::new();
        for (name, message) in messages {
            let payload = message
                .get("payload")
                .ok_or_else(|| read_error(&format!("message {name} has no payload")))?;
            // The payload is compiled inside a root that holds the components, so
            // `#/components/...` references resolve.
            let root = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$ref": format!("#/components/messages/{name}/payload"),
                "components": components,
            });
            let validator = jsonschema::options()
                .should_validate_formats(true)
                .build(&root)
                .map_err(|e| ContractError::Schema {
                    path: path.to_owned(),
                    message_name: name.clone(),
                    problem: e.to_string(),
                })?;
            let type_const = payload
                .pointer("/properties/type/const")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let schema = MessageSchema {
                name: name.clone(),
                type_const,
                validator,
            };
            match message.get("x-direction").and_then(Value::as_str) {
                Some("client") => client.push(schema),
                _ => server.push(schema),
            }
        }
        let title = document
            .pointer("/info/title")
            .and_then(Value::as_str)
            .unwrap_or(api)
            .to_owned();
        Ok(Self {
            api: api.to_owned(),
            path: path.to_owned(),
            title,
            server,
            client,
        })
    }

    /// Names of the messages the server may send.
    pub fn server_messages(&self) -> Vec<&str> {
        self.server.iter().map(|m| m.name.as_str()).collect()
    }

    /// Judges a message the server sent.
    pub fn judge_server(&self, text: &str) -> Verdict {
        judge(&self.server, text)
    }

    /// Judges a message a client sends (to check scenarios and fixtures).
    pub fn judge_client(&self, text: &str) -> Verdict {
        judge(&self.client, text)
    }
}

fn violations(validator: &jsonschema::Validator, value: &Value) -> Vec<Violation> {
    validator
        .iter_errors(value)
        .take(20)
        .map(|e| Violation {
            instance_path: e.instance_path().to_string(),
            schema_path: e.schema_path().to_string(),
            message: e.to_string(),
        })
        .collect()
}

fn judge(messages: &[MessageSchema], text: &str) -> Verdict {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return Verdict::NotJson;
    };
    let claimed = value.get("type").and_then(Value::as_str).map(str::to_owned);
    if let Some(kind) = &claimed
        && let Some(message) = messages
            .iter()
            .find(|m| m.type_const.as_deref() == Some(kind.as_str()))
    {
        let problems = violations(&message.validator, &value);
        return if problems.is_empty() {
            Verdict::Valid(message.name.clone())
        } else {
            Verdict::Invalid {
                name: message.name.clone(),
                violations: problems,
            }
        };
    }
    // Untyped messages (API Gateway's own, seed 001's replies): the one schema they fit.
    match messages
        .iter()
        .filter(|m| claimed.is_none() || m.type_const.is_none())
        .find(|m| m.validator.is_valid(&value))
    {
        Some(message) => Verdict::Valid(message.name.clone()),
        None => Verdict::Unknown { claimed },
    }
}

/// Every contract in a folder, by template API.
pub fn load_all(dir: &Path) -> Result<BTreeMap<String, Contract>, ContractError> {
    let mut contracts = BTreeMap::new();
    let entries = std::fs::read_dir(dir).map_err(|e| ContractError::Read {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().ends_with(".asyncapi.yaml"))
        {
            let contract = Contract::load(&path)?;
            contracts.insert(contract.api.clone(), contract);
        }
    }
    Ok(contracts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speaking() -> Contract {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../backend/spec/speaking.asyncapi.yaml");
        Contract::load(&path).unwrap()
    }

    #[test]
    fn identifies_and_validates_messages() {
        let contract = speaking();
        assert_eq!(contract.api, "SpeakingWebSocketApi");
        assert_eq!(
            contract.judge_server(r#"{"type":"session_ready","region":"us-central1"}"#),
            Verdict::Valid("session_ready".into())
        );
        assert_eq!(
            contract.judge_server(r#"{"type":"error","message":"No active session"}"#),
            Verdict::Valid("error".into())
        );
        assert_eq!(
            contract.judge_server(
                r#"{"message":"Internal server error","connectionId":"a=","requestId":"b="}"#
            ),
            Verdict::Valid("gatewayMessage".into())
        );
        let Verdict::Invalid { name, violations } =
            contract.judge_server(r#"{"type":"session_ready","region":42}"#)
        else {
            panic!("a wrong field type is invalid")
        };
        assert_eq!(name, "session_ready");
        assert_eq!(violations[0].instance_path, "/region");
        assert!(
            contract.judge_server(r#"{"type":"surprise"}"#)
                == Verdict::Unknown {
                    claimed: Some("surprise".into())
                }
        );
        assert_eq!(contract.judge_server("nope"), Verdict::NotJson);
        assert!(matches!(
            contract
                .judge_client(r#"{"action":"start_speaking","user_id":"u","country_code":"US"}"#),
            Verdict::Valid(_)
        ));
    }

    #[test]
    fn assessment_bands_are_checked() {
        let contract = speaking();
        let criterion = json!({"band": 6.5, "feedback": "ok"});
        let mut message = json!({"type": "assessment_complete", "assessment": {
            "assessment_id": "a", "user_id": "u", "overall_band": 6.5,
            "criteria": {"fluency_and_coherence": criterion, "lexical_resource": criterion,
                         "grammatical_range_and_accuracy": criterion, "pronunciation": criterion},
            "feedback": "f", "improvement_plan": [{"focus": "f", "action": "a", "practice": "p"}],
            "transcript": [], "model": "m", "region": "r", "duration_seconds": 1.0, "ended_by": "completed"}});
        assert_eq!(
            contract.judge_server(&message.to_string()),
            Verdict::Valid("assessment_complete".into())
        );
        message["assessment"]["overall_band"] = json!(6.3);
        assert!(matches!(
            contract.judge_server(&message.to_string()),
            Verdict::Invalid { .. }
        ));
    }

    #[test]
    fn every_contract_in_the_repository_compiles() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../backend/spec");
        let contracts = load_all(&dir).unwrap();
        assert!(contracts.contains_key("SpeakingWebSocketApi"));
    }
}
