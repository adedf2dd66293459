//! The template reader: loads backend/template.yaml (SAM / CloudFormation),
//! applies parameter overrides, evaluates conditions and intrinsic functions,
//! and produces the typed [`Template`] the local stack runs.
//!
//! Modules:
//! - [`yaml`]: YAML with short-form intrinsic tags to JSON;
//! - [`intrinsics`]: `Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`, `Fn::If`, ...;
//! - [`model`]: the typed result;
//! - `build`: from resources to the model;
//! - [`lifecycle`]: the models it names, against their lifecycle;
//! - `rest`: REST APIs (`AWS::Serverless::Api`) and the functions' `Api` events;
//! - `http_api`: HTTP APIs (`AWS::Serverless::HttpApi` with `HttpApi` events,
//!   or `AWS::ApiGatewayV2::Api` with `ProtocolType: HTTP`);
//! - `sam_websocket`: `AWS::Serverless::WebSocketApi`, expanded into the
//!   API Gateway resources SAM generates for it.

mod build;
mod http_api;
pub(crate) mod intrinsics;
pub(crate) mod lifecycle;
pub(crate) mod model;
mod rest;
mod sam_websocket;
pub(crate) mod yaml;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use model::*;

use intrinsics::{ResourceIds, Scope, Site};

/// What can go wrong reading a template.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file could not be read.
    #[error("cannot read template {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The YAML is malformed.
    #[error("template syntax: {0}")]
    Syntax(String),
    /// A construct the local stack does not honour.
    #[error("resource {resource}: unsupported construct {construct}")]
    Unsupported {
        /// Logical id (or section).
        resource: String,
        /// What is unsupported.
        construct: String,
    },
    /// A name that refers to nothing.
    #[error("resource {resource}: unknown reference {name}")]
    UnknownReference {
        /// Logical id (or section).
        resource: String,
        /// The unknown name.
        name: String,
    },
    /// A property with a wrong shape or value.
    #[error("resource {resource}: {message}")]
    Invalid {
        /// Logical id (or section).
        resource: String,
        /// What is wrong.
        message: String,
    },
    /// A parameter problem (no value, value not allowed, unknown override).
    #[error("parameter {name}: {message}")]
    Parameter {
        /// Parameter name.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// How to read a template for the local stack.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Stack name for generated physical names (`AWS::StackName`).
    pub stack_name: String,
    /// `AWS::Region`.
    pub region: String,
    /// `AWS::AccountId`.
    pub account_id: String,
    /// Parameter overrides (`Name=Value`).
    pub parameter_overrides: BTreeMap<String, String>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            stack_name: "local".to_owned(),
            region: "us-east-1".to_owned(),
            account_id: "123456789012".to_owned(),
            parameter_overrides: BTreeMap::new(),
        }
    }
}

impl LoadOptions {
    /// The defaults with these parameter overrides.
    pub fn with_overrides(overrides: &[(&str, &str)]) -> Self {
        Self {
            parameter_overrides: overrides
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            ..Self::default()
        }
    }
}

/// Reads and resolves a template file.
pub fn load_file(path: &Path, options: &LoadOptions) -> Result<Template, TemplateError> {
    let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Io {
        path: path.display().to_string(),
        source,
    })?;
    load_str(&text, options)
}

/// Reads and resolves a template from text.
pub fn load_str(text: &str, options: &LoadOptions) -> Result<Template, TemplateError> {
    let document = yaml::parse(text)?;
    let Value::Object(document) = document else {
        return Err(TemplateError::Syntax("a template is a mapping".to_owned()));
    };
    check_transform(&document)?;
    let mut scope = Scope::default();
    scope.pseudo = pseudo_parameters(options);
    scope.parameters = parameter_values(&document, &options.parameter_overrides)?;
    scope.mappings = section(&document, "Mappings").cloned().unwrap_or_default();
    scope.conditions = evaluate_conditions(&document, &scope)?;
    let declared = section(&document, "Resources")
        .ok_or_else(|| TemplateError::Syntax("the template has no Resources".to_owned()))?;
    let globals = section(&document, "Globals").cloned().unwrap_or_default();
    let resources = sam_websocket::expand(declared, &globals)?;
    let active = active_resources(&resources, &scope)?;
    scope.resources = physical_ids(&active, &scope, options)?;
    build::build(&document, &active, &globals, &scope, options)
}

fn section<'a>(document: &'a Map<String, Value>, name: &str) -> Option<&'a Map<String, Value>> {
    document.get(name).and_then(Value::as_object)
}

fn check_transform(document: &Map<String, Value>) -> Result<(), TemplateError> {
    let transforms: Vec<&Value> = match document.get("Transform") {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
    };
    for transform in transforms {
        if transform.as_str() != Some("AWS::Serverless-2016-10-31") {
            return Err(TemplateError::Unsupported {
                resource: "Transform".to_owned(),
                construct: format!("transform {transform}"),
            });
        }
    }
    Ok(())
}

fn pseudo_parameters(options: &LoadOptions) -> BTreeMap<String, Value> {
    let stack_id = format!(
        "arn:aws:cloudformation:{}:{}:stack/{}/00000000-0000-0000-0000-000000000000",
        options.region, options.account_id, options.stack_name
    );
    [
        ("AWS::Region", Value::String(options.region.clone())),
        ("AWS::AccountId", Value::String(options.account_id.clone())),
        ("AWS::StackName", Value::String(options.stack_name.clone())),
        ("AWS::StackId", Value::String(stack_id)),
        ("AWS::Partition", Value::String("aws".to_owned())),
        ("AWS::URLSuffix", Value::String("amazonaws.com".to_owned())),
        ("AWS::NotificationARNs", Value::Array(Vec::new())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn parameter_values(
    document: &Map<String, Value>,
    overrides: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Value>, TemplateError> {
    let declared = section(document, "Parameters").cloned().unwrap_or_default();
    if let Some(unknown) = overrides.keys().find(|name| !declared.contains_key(*name)) {
        return Err(TemplateError::Parameter {
            name: unknown.clone(),
            message: "override for a parameter the template does not declare".to_owned(),
        });
    }
    let mut values = BTreeMap::new();
    for (name, declaration) in &declared {
        let raw = match overrides.get(name) {
            Some(value) => value.clone(),
            None => match declaration.get("Default") {
                Some(default) => {
                    intrinsics::scalar_string(default).ok_or_else(|| TemplateError::Parameter {
                        name: name.clone(),
                        message: "default is not a scalar".to_owned(),
                    })?
                }
                None => {
                    return Err(TemplateError::Parameter {
                        name: name.clone(),
                        message: "no Default and no override".to_owned(),
                    });
                }
            },
        };
        if let Some(Value::Array(allowed)) = declaration.get("AllowedValues") {
            let allowed: Vec<String> = allowed
                .iter()
                .filter_map(intrinsics::scalar_string)
                .collect();
            if !allowed.contains(&raw) {
                return Err(TemplateError::Parameter {
                    name: name.clone(),
                    message: format!("{raw:?} is not one of {allowed:?}"),
                });
            }
        }
        let kind = declaration
            .get("Type")
            .and_then(Value::as_str)
            .unwrap_or("String");
        let value = match kind {
            "String" | "Number" => Value::String(raw),
            "CommaDelimitedList" | "List<Number>" => Value::Array(
                raw.split(',')
                    .map(|s| Value::String(s.trim().to_owned()))
                    .collect(),
            ),
            other => {
                return Err(TemplateError::Parameter {
                    name: name.clone(),
                    message: format!("unsupported parameter type {other}"),
                });
            }
        };
        values.insert(name.clone(), value);
    }
    Ok(values)
}

fn evaluate_conditions(
    document: &Map<String, Value>,
    scope: &Scope,
) -> Result<BTreeMap<String, bool>, TemplateError> {
    let declared = section(document, "Conditions").cloned().unwrap_or_default();
    let mut scope = scope.clone();
    // Conditions may refer to each other; evaluate those whose references are known
    // until no progress is made (a cycle or an unknown name is then reported).
    let mut pending: Vec<&String> = declared.keys().collect();
    while !pending.is_empty() {
        let before = pending.len();
        let mut still = Vec::new();
        for name in pending {
            let site = Site {
                resource: "Conditions",
                property: name,
            };
            match scope.condition_value(&declared[name], site) {
                Ok(value) => {
                    scope.conditions.insert(name.clone(), value);
                }
                Err(TemplateError::UnknownReference { name: missing, .. })
                    if declared.contains_key(&missing) =>
                {
                    still.push(name);
                }
                Err(other) => return Err(other),
            }
        }
        if still.len() == before {
            return Err(TemplateError::Invalid {
                resource: "Conditions".to_owned(),
                message: format!("conditions refer to each other in a cycle: {still:?}"),
            });
        }
        pending = still;
    }
    Ok(scope.conditions)
}

/// Resources whose `Condition` holds, by logical id.
fn active_resources<'a>(
    resources: &'a Map<String, Value>,
    scope: &Scope,
) -> Result<BTreeMap<&'a str, &'a Map<String, Value>>, TemplateError> {
    let mut active = BTreeMap::new();
    for (logical_id, resource) in resources {
        let resource = resource.as_object().ok_or_else(|| TemplateError::Invalid {
            resource: logical_id.clone(),
            message: "a resource is a mapping".to_owned(),
        })?;
        if let Some(condition) = resource.get("Condition") {
            let name = condition.as_str().unwrap_or_default();
            let holds =
                scope
                    .conditions
                    .get(name)
                    .ok_or_else(|| TemplateError::UnknownReference {
                        resource: logical_id.clone(),
                        name: name.to_owned(),
                    })?;
            if !holds {
                continue;
            }
        }
        active.insert(logical_id.as_str(), resource);
    }
    Ok(active)
}

/// A short deterministic id in AWS's alphabet (lowercase letters and digits).
pub fn short_id(seed: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let digest = Sha256::digest(seed.as_bytes());
    digest
        .iter()
        .take(len)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// Physical ids of the active resources. Name properties (`FunctionName`,
/// `TableName`, ...) may use parameters and pseudo parameters, not other resources.
fn physical_ids(
    active: &BTreeMap<&str, &Map<String, Value>>,
    scope: &Scope,
    options: &LoadOptions,
) -> Result<BTreeMap<String, ResourceIds>, TemplateError> {
    let region = &options.region;
    let account = &options.account_id;
    let mut ids = BTreeMap::new();
    for (logical_id, resource) in active {
        let kind = resource
            .get("Type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let properties = resource.get("Properties").and_then(Value::as_object);
        let named = |name: &str| -> Result<Option<String>, TemplateError> {
            match properties.and_then(|p| p.get(name)) {
                None => Ok(None),
                Some(value) => scope
                    .resolve_string(
                        value,
                        Site {
                            resource: logical_id,
                            property: name,
                        },
                    )
                    .map(Some),
            }
        };
        let generated = format!("{}-{}", options.stack_name, logical_id);
        let seed = format!("{}/{}", options.stack_name, logical_id);
        let mut entry = ResourceIds::default();
        match kind {
            "AWS::Serverless::Function" | "AWS::Lambda::Function" => {
                let name = named("FunctionName")?.unwrap_or(generated);
                entry.attributes.insert(
                    "Arn".into(),
                    format!("arn:aws:lambda:{region}:{account}:function:{name}"),
                );
                // SAM's implicit execution role.
                let role = format!("{logical_id}Role");
                let role_ids = ResourceIds {
                    reference: format!("{}-{role}", options.stack_name),
                    attributes: [(
                        "Arn".to_owned(),
                        format!("arn:aws:iam::{account}:role/{}-{role}", options.stack_name),
                    )]
                    .into_iter()
                    .collect(),
                };
                ids.insert(role, role_ids);
                entry.reference = name;
            }
            "AWS::ApiGatewayV2::Api" => {
                let id = short_id(&seed, 10);
                let scheme = if named("ProtocolType")?.as_deref() == Some("WEBSOCKET") {
                    "wss"
                } else {
                    "https"
                };
                entry.attributes.insert("ApiId".into(), id.clone());
                entry.attributes.insert(
                    "ApiEndpoint".into(),
                    format!("{scheme}://{id}.execute-api.{region}.amazonaws.com"),
                );
                entry.reference = id;
            }
            "AWS::DynamoDB::Table" | "AWS::DynamoDB::GlobalTable" => {
                let name = named("TableName")?.unwrap_or(generated);
                let arn = format!("arn:aws:dynamodb:{region}:{account}:table/{name}");
                entry.attributes.insert(
                    "StreamArn".into(),
                    format!("{arn}/stream/1970-01-01T00:00:00.000"),
                );
                entry.attributes.insert("Arn".into(), arn);
                entry.reference = name;
            }
            "AWS::SNS::Topic" => {
                let name = named("TopicName")?.unwrap_or(generated);
                let arn = format!("arn:aws:sns:{region}:{account}:{name}");
                entry.attributes.insert("TopicArn".into(), arn.clone());
                entry.attributes.insert("TopicName".into(), name);
                entry.reference = arn;
            }
            "AWS::SecretsManager::Secret" => {
                let name = named("Name")?.unwrap_or(generated);
                let arn = format!("arn:aws:secretsmanager:{region}:{account}:secret:{name}-AbCdEf");
                entry.attributes.insert("Id".into(), arn.clone());
                entry.reference = arn;
            }
            "AWS::IAM::Role" => {
                let name = named("RoleName")?.unwrap_or(generated);
                entry
                    .attributes
                    .insert("Arn".into(), format!("arn:aws:iam::{account}:role/{name}"));
                entry
                    .attributes
                    .insert("RoleId".into(), short_id(&seed, 21).to_uppercase());
                entry.reference = name;
            }
            "AWS::Serverless::Api" | "AWS::ApiGateway::RestApi" => {
                let id = short_id(&seed, 10);
                entry
                    .attributes
                    .insert("RootResourceId".into(), short_id(&format!("{seed}/"), 10));
                entry.reference = id;
            }
            "AWS::Serverless::HttpApi" => {
                let id = short_id(&seed, 10);
                entry.attributes.insert("ApiId".into(), id.clone());
                entry.attributes.insert(
                    "ApiEndpoint".into(),
                    format!("https://{id}.execute-api.{region}.amazonaws.com"),
                );
                entry.reference = id;
            }
            "AWS::ApiGatewayV2::Stage" => {
                entry.reference = named("StageName")?.unwrap_or_else(|| logical_id.to_string());
            }
            "AWS::ApiGatewayV2::Integration" => entry.reference = short_id(&seed, 7),
            "AWS::ApiGatewayV2::Authorizer" => entry.reference = short_id(&seed, 6),
            "AWS::ApiGatewayV2::Route"
            | "AWS::ApiGatewayV2::Deployment"
            | "AWS::ApiGatewayV2::RouteResponse" => {
                entry.reference = short_id(&seed, 6);
            }
            _ => {
                entry.reference = generated;
                entry.attributes.insert(
                    "Arn".into(),
                    format!("arn:aws:local:{region}:{account}:{logical_id}"),
                );
            }
        }
        ids.insert((*logical_id).to_owned(), entry);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests;
