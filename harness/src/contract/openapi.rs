//! Checks live HTTP answers against an OpenAPI 3.1 document (the HTTP API's
//! contract, backend/spec/http.openapi.yaml): the operation exists, the
//! status is documented (exactly, as `4XX`, or by `default`), the content
//! type is one the response lists, and the body validates against its
//! schema, with `$ref`s resolved inside the document. Validators are
//! compiled once per response and reused, so load runs can check every
//! answer. The contract is never the implementation's own types.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

/// Why an answer breaks the contract (or the contract cannot be read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    /// The document could not be read or parsed.
    #[error("cannot read the OpenAPI document: {0}")]
    Document(String),
    /// No operation for the method and path.
    #[error("{method} {path} is not an operation of the contract")]
    UndocumentedOperation {
        /// Method.
        method: String,
        /// Path (below the server URL).
        path: String,
    },
    /// The status is not among the operation's responses.
    #[error("{operation}: status {status} is not documented")]
    UndocumentedStatus {
        /// `METHOD /template`.
        operation: String,
        /// The status.
        status: u16,
    },
    /// The content type is not one the response lists.
    #[error("{operation} {status}: content type {content_type:?} is not documented")]
    ContentType {
        /// `METHOD /template`.
        operation: String,
        /// The status.
        status: u16,
        /// What came.
        content_type: String,
    },
    /// The body does not validate.
    #[error("{operation} {status}: body does not match the schema: {message}")]
    Schema {
        /// `METHOD /template`.
        operation: String,
        /// The status.
        status: u16,
        /// The validator's messages.
        message: String,
    },
}

#[derive(Debug)]
struct Operation {
    method: String,
    template: String,
    segments: Vec<Option<String>>,
    responses: Map<String, Value>,
}

/// A loaded contract.
#[derive(Debug)]
pub struct Contract {
    document: Value,
    operations: Vec<Operation>,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "patch", "head", "options"];

fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

impl Contract {
    /// Reads a YAML or JSON document.
    pub fn load(path: &Path) -> Result<Self, ContractError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ContractError::Document(format!("{}: {e}", path.display())))?;
        Self::parse(&text)
    }

    /// Parses a YAML or JSON document.
    pub fn parse(text: &str) -> Result<Self, ContractError> {
        let document: Value =
            serde_yaml_ng::from_str(text).map_err(|e| ContractError::Document(e.to_string()))?;
        let paths = document
            .get("paths")
            .and_then(Value::as_object)
            .ok_or_else(|| ContractError::Document("no paths".into()))?;
        let mut operations = Vec::new();
        for (template, item) in paths {
            for method in METHODS {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                let responses = operation
                    .get("responses")
                    .and_then(Value::as_object)
                    .cloned()
                    .ok_or_else(|| {
                        ContractError::Document(format!("{method} {template} has no responses"))
                    })?;
                let segments = template
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                    .collect();
                operations.push(Operation {
                    method: method.to_uppercase(),
                    template: template.clone(),
                    segments,
                    responses,
                });
            }
        }
        Ok(Self {
            document,
            operations,
            validators: Mutex::new(HashMap::new()),
        })
    }

    /// Every documented (method, path template).
    pub fn operations(&self) -> Vec<(String, String)> {
        self.operations
            .iter()
            .map(|o| (o.method.clone(), o.template.clone()))
            .collect()
    }

    fn operation(&self, method: &str, path: &str) -> Option<&Operation> {
        let given: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        self.operations
            .iter()
            .filter(|o| o.method == method && o.segments.len() == given.len())
            .filter(|o| {
                o.segments
                    .iter()
                    .zip(&given)
                    .all(|(want, got)| want.as_deref().is_none_or(|w| w == *got))
            })
            // The most literal template wins (`/a/speaking` over `/a/{id}`).
            .max_by_key(|o| o.segments.iter().filter(|s| s.is_some()).count())
    }

    /// The documented path template an answer belongs to (`/api/assessments/{assessment_id}`).
    pub fn template_for(&self, method: &str, path: &str) -> Option<&str> {
        self.operation(method, path).map(|o| o.template.as_str())
    }

    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        let mut current = value;
        for _ in 0..8 {
            let Some(pointer) = current.get("$ref").and_then(Value::as_str) else {
                break;
            };
            match pointer
                .strip_prefix('#')
                .and_then(|p| self.document.pointer(p))
            {
                Some(target) => current = target,
                None => break,
            }
        }
        current
    }

    fn validator(&self, key: &str, schema: &Value) -> Result<Arc<jsonschema::Validator>, String> {
        let mut cache = self.validators.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(validator) = cache.get(key) {
            return Ok(validator.clone());
        }
        // The schema inside a root that carries the document's components,
        // so `#/components/...` references resolve.
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.document.get("components").cloned().unwrap_or(Value::Null),
            "allOf": [schema],
        });
        let validator = Arc::new(jsonschema::validator_for(&root).map_err(|e| e.to_string())?);
        cache.insert(key.to_owned(), validator.clone());
        Ok(validator)
    }

    /// Checks one answer to `method path` (path below the server URL, without the query).
    pub fn check(
        &self,
        method: &str,
        path: &str,
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(), ContractError> {
        let operation =
            self.operation(method, path)
                .ok_or_else(|| ContractError::UndocumentedOperation {
                    method: method.to_owned(),
                    path: path.to_owned(),
                })?;
        let name = format!("{} {}", operation.method, operation.template);
        let range = format!("{}XX", status / 100);
        let (key, response) = [status.to_string(), range, "default".to_owned()]
            .into_iter()
            .find_map(|key| operation.responses.get(&key).map(|r| (key, r)))
            .ok_or_else(|| ContractError::UndocumentedStatus {
                operation: name.clone(),
                status,
            })?;
        let response = self.resolve(response);
        let content = response.get("content").and_then(Value::as_object);
        let Some(content) = content.filter(|c| !c.is_empty()) else {
            return if body.is_empty() {
                Ok(())
            } else {
                Err(ContractError::Schema {
                    operation: name,
                    status,
                    message: "the response documents no body".into(),
                })
            };
        };
        let given = media_type(content_type.unwrap_or_default());
        let (media, entry) = content
            .iter()
            .find(|(media, _)| media_type(media) == given)
            .ok_or_else(|| ContractError::ContentType {
                operation: name.clone(),
                status,
                content_type: given.clone(),
            })?;
        let Some(schema) = entry.get("schema") else {
            return Ok(());
        };
        let instance: Value = if media.contains("json") {
            serde_json::from_slice(body).map_err(|e| ContractError::Schema {
                operation: name.clone(),
                status,
                message: format!("not JSON: {e}"),
            })?
        } else {
            Value::String(String::from_utf8_lossy(body).into_owned())
        };
        let validator = self
            .validator(&format!("{name} {key} {media}"), schema)
            .map_err(ContractError::Document)?;
        let messages: Vec<String> = validator
            .iter_errors(&instance)
            .take(5)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if messages.is_empty() {
            Ok(())
        } else {
            Err(ContractError::Schema {
                operation: name,
                status,
                message: messages.join("; "),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCUMENT: &str = r##"
openapi: 3.1.0
paths:
  /items/{id}:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Item"}
        "204": {description: none}
        "4XX": {$ref: "#/components/responses/Problem"}
  /items/special:
    get:
      responses:
        "200": {description: ok, content: {text/plain: {schema: {type: string}}}}
components:
  responses:
    Problem:
      description: problem
      content:
        application/problem+json:
          schema: {type: object, required: [status], properties: {status: {type: integer}}}
  schemas:
    Item:
      type: object
      required: [id, tags]
      additionalProperties: false
      properties:
        id: {type: string}
        tags: {type: array, items: {$ref: "#/components/schemas/Tag"}}
    Tag: {type: string, maxLength: 3}
"##;

    #[test]
    fn answers_are_checked_against_operation_status_type_and_schema() {
        let contract = Contract::parse(DOCUMENT).unwrap();
        let ok = br#"{"id":"a","tags":["x"]}"#;
        assert_eq!(
            contract.check(
                "GET",
                "/items/a",
                200,
                Some("application/json; charset=utf-8"),
                ok
            ),
            Ok(())
        );
        assert_eq!(
            contract.template_for("GET", "/items/special"),
            Some("/items/special")
        );
        assert!(matches!(
            contract.check(
                "GET",
                "/items/a",
                200,
                Some("application/json"),
                br#"{"id":"a","tags":["long"]}"#
            ),
            Err(ContractError::Schema { .. })
        ));
        assert!(matches!(
            contract.check(
                "GET",
                "/items/a",
                200,
                Some("application/json"),
                br#"{"id":"a","tags":[],"x":1}"#
            ),
            Err(ContractError::Schema { .. })
        ));
        assert_eq!(
            contract.check(
                "GET",
                "/items/a",
                404,
                Some("application/problem+json"),
                br#"{"status":404}"#
            ),
            Ok(())
        );
        assert!(matches!(
            contract.check(
                "GET",
                "/items/a",
                404,
                Some("application/json"),
                br#"{"status":404}"#
            ),
            Err(ContractError::ContentType { .. })
        ));
        assert!(matches!(
            contract.check("GET", "/items/a", 500, Some("application/json"), b"{}"),
            Err(ContractError::UndocumentedStatus { .. })
        ));
        assert_eq!(contract.check("GET", "/items/a", 204, None, b""), Ok(()));
        assert!(contract.check("GET", "/items/a", 204, None, b"x").is_err());
        assert!(matches!(
            contract.check("POST", "/items/a", 200, None, b""),
            Err(ContractError::UndocumentedOperation { .. })
        ));
        assert_eq!(
            contract.check("GET", "/items/special", 200, Some("text/plain"), b"hi"),
            Ok(())
        );
    }

    #[test]
    fn the_http_api_contract_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../backend/spec/http.openapi.yaml");
        let contract = Contract::load(&path).unwrap();
        assert!(contract.operations().len() >= 30);
        let problem = br#"{"type":"/problems/unauthorized","title":"Unauthorized","status":401,"detail":"Authentication required","instance":"/api/profile"}"#;
        assert_eq!(
            contract.check(
                "GET",
                "/api/profile",
                401,
                Some("application/problem+json"),
                problem
            ),
            Ok(())
        );
    }
}
