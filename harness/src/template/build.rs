//! From resolved resources to the typed [`Template`]: functions (with SAM
//! `Globals`), WebSocket APIs (routes, integrations, route responses,
//! authorizers, stages) and DynamoDB tables.

mod tables;

use tables::table;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::intrinsics::{Scope, Site, scalar_string};
use super::model::*;
use super::{LoadOptions, TemplateError};

pub(super) type Resources<'a> = BTreeMap<&'a str, &'a Map<String, Value>>;

/// Builds the model from the active resources.
pub(super) fn build(
    document: &Map<String, Value>,
    active: &Resources<'_>,
    globals: &Map<String, Value>,
    scope: &Scope,
    options: &LoadOptions,
) -> Result<Template, TemplateError> {
    let mut functions = BTreeMap::new();
    let mut tables = BTreeMap::new();
    for (logical_id, resource) in active {
        match kind(resource) {
            "AWS::Serverless::Function" => {
                let function = function(logical_id, resource, globals.get("Function"), scope)?;
                functions.insert((*logical_id).to_owned(), function);
            }
            "AWS::Lambda::Function" => {
                return Err(TemplateError::Unsupported {
                    resource: (*logical_id).to_owned(),
                    construct: "AWS::Lambda::Function (declare functions as AWS::Serverless::Function with rust-cargolambda)".to_owned(),
                });
            }
            "AWS::DynamoDB::Table" | "AWS::DynamoDB::GlobalTable" => {
                tables.insert(
                    (*logical_id).to_owned(),
                    table(logical_id, resource, scope)?,
                );
            }
            _ => {}
        }
    }
    let websocket_apis = websocket_apis(active, scope, &functions)?;
    let rest_apis = super::rest::rest_apis(active, scope, &functions)?;
    let http_apis = super::http_api::http_apis(active, scope, &functions)?;
    Ok(Template {
        description: document
            .get("Description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        stack_name: options.stack_name.clone(),
        region: options.region.clone(),
        account_id: options.account_id.clone(),
        parameters: scope.parameters.clone(),
        functions,
        websocket_apis,
        rest_apis,
        http_apis,
        tables,
    })
}

pub(super) fn kind(resource: &Map<String, Value>) -> &str {
    resource
        .get("Type")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The resource's properties with every intrinsic resolved.
pub(super) fn properties(
    logical_id: &str,
    resource: &Map<String, Value>,
    scope: &Scope,
) -> Result<Map<String, Value>, TemplateError> {
    let raw = resource
        .get("Properties")
        .cloned()
        .unwrap_or(Value::Object(Map::new()));
    match scope.resolve_required(
        &raw,
        Site {
            resource: logical_id,
            property: "Properties",
        },
    )? {
        Value::Object(map) => Ok(map),
        _ => Err(invalid(logical_id, "Properties is not a mapping")),
    }
}

pub(super) fn invalid(logical_id: &str, message: impl Into<String>) -> TemplateError {
    TemplateError::Invalid {
        resource: logical_id.to_owned(),
        message: message.into(),
    }
}

pub(super) fn string_prop(props: &Map<String, Value>, name: &str) -> Option<String> {
    props.get(name).and_then(scalar_string)
}

pub(super) fn required_string(
    logical_id: &str,
    props: &Map<String, Value>,
    name: &str,
) -> Result<String, TemplateError> {
    string_prop(props, name).ok_or_else(|| invalid(logical_id, format!("{name} is required")))
}

fn number_prop(
    logical_id: &str,
    props: &Map<String, Value>,
    name: &str,
) -> Result<Option<u64>, TemplateError> {
    match string_prop(props, name) {
        None => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| invalid(logical_id, format!("{name} {text:?} is not a whole number"))),
    }
}

/// SAM `Globals` semantics: the resource's scalars win, maps merge, lists append.
pub(super) fn merge_globals(global: &Value, local: &Value) -> Value {
    match (global, local) {
        (Value::Object(g), Value::Object(l)) => {
            let mut merged = g.clone();
            for (key, value) in l {
                let combined = match g.get(key) {
                    Some(existing) => merge_globals(existing, value),
                    None => value.clone(),
                };
                merged.insert(key.clone(), combined);
            }
            Value::Object(merged)
        }
        (Value::Array(g), Value::Array(l)) => Value::Array(g.iter().chain(l).cloned().collect()),
        (_, local) => local.clone(),
    }
}

fn function(
    logical_id: &str,
    resource: &Map<String, Value>,
    globals: Option<&Value>,
    scope: &Scope,
) -> Result<Function, TemplateError> {
    let mut resource = resource.clone();
    if let Some(global) = globals {
        let local = resource
            .get("Properties")
            .cloned()
            .unwrap_or(Value::Object(Map::new()));
        resource.insert("Properties".to_owned(), merge_globals(global, &local));
    }
    let props = properties(logical_id, &resource, scope)?;
    let metadata = resource.get("Metadata").and_then(Value::as_object);
    let build_method = metadata
        .and_then(|m| m.get("BuildMethod"))
        .and_then(Value::as_str);
    if build_method != Some("rust-cargolambda") {
        return Err(TemplateError::Unsupported {
            resource: logical_id.to_owned(),
            construct: format!(
                "Metadata.BuildMethod {build_method:?} (the local stack runs rust-cargolambda binaries)"
            ),
        });
    }
    let binary = metadata
        .and_then(|m| m.get("BuildProperties"))
        .and_then(|p| p.get("Binary"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            invalid(
                logical_id,
                "Metadata.BuildProperties.Binary names the cargo binary and is required",
            )
        })?
        .to_owned();
    let runtime = required_string(logical_id, &props, "Runtime")?;
    if !runtime.starts_with("provided") {
        return Err(TemplateError::Unsupported {
            resource: logical_id.to_owned(),
            construct: format!(
                "Runtime {runtime} (only custom runtimes provided.al2023 / provided.al2)"
            ),
        });
    }
    let architecture = match props.get("Architectures") {
        None => Architecture::X86_64,
        Some(Value::Array(items)) if items.len() == 1 => match items[0].as_str() {
            Some("x86_64") => Architecture::X86_64,
            Some("arm64") => Architecture::Arm64,
            other => {
                return Err(invalid(
                    logical_id,
                    format!("unknown architecture {other:?}"),
                ));
            }
        },
        Some(other) => {
            return Err(invalid(
                logical_id,
                format!("Architectures must list exactly one, got {other}"),
            ));
        }
    };
    let memory_mb = number_prop(logical_id, &props, "MemorySize")?.unwrap_or(128);
    if !(128..=10_240).contains(&memory_mb) {
        return Err(invalid(
            logical_id,
            format!("MemorySize {memory_mb} is outside 128..=10240"),
        ));
    }
    let timeout_s = number_prop(logical_id, &props, "Timeout")?.unwrap_or(3);
    if !(1..=900).contains(&timeout_s) {
        return Err(invalid(
            logical_id,
            format!("Timeout {timeout_s} is outside 1..=900 seconds"),
        ));
    }
    let mut environment = BTreeMap::new();
    if let Some(vars) = props
        .get("Environment")
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_object)
    {
        for (name, value) in vars {
            let value = scalar_string(value).ok_or_else(|| {
                invalid(
                    logical_id,
                    format!("Environment variable {name} is not a scalar"),
                )
            })?;
            environment.insert(name.clone(), value);
        }
    }
    let reserved_concurrency = number_prop(logical_id, &props, "ReservedConcurrentExecutions")?
        .map(|n| {
            u32::try_from(n)
                .map_err(|_| invalid(logical_id, "ReservedConcurrentExecutions too large"))
        })
        .transpose()?;
    let function_name = scope.resources[logical_id].reference.clone();
    Ok(Function {
        logical_id: logical_id.to_owned(),
        function_name,
        binary,
        runtime,
        architecture,
        memory_mb: u32::try_from(memory_mb).unwrap_or(u32::MAX),
        timeout: Duration::from_secs(timeout_s),
        environment,
        reserved_concurrency,
    })
}

/// Finds the function an integration or authorizer URI invokes.
pub(super) fn function_for_uri(
    logical_id: &str,
    uri: &str,
    functions: &BTreeMap<String, Function>,
) -> Result<String, TemplateError> {
    let name = uri
        .split(":function:")
        .nth(1)
        .map(|rest| rest.trim_end_matches("/invocations"))
        .map(|rest| rest.split(':').next().unwrap_or(rest))
        .ok_or_else(|| {
            invalid(
                logical_id,
                format!("URI {uri:?} does not name a Lambda function"),
            )
        })?;
    functions
        .values()
        .find(|f| f.function_name == name)
        .map(|f| f.logical_id.clone())
        .ok_or_else(|| TemplateError::UnknownReference {
            resource: logical_id.to_owned(),
            name: name.to_owned(),
        })
}

struct Integration {
    function: String,
    timeout: Duration,
}

fn websocket_apis(
    active: &Resources<'_>,
    scope: &Scope,
    functions: &BTreeMap<String, Function>,
) -> Result<BTreeMap<String, WebSocketApi>, TemplateError> {
    let mut apis = BTreeMap::new();
    let mut api_by_id = BTreeMap::new();
    let http_api_ids: Vec<&str> = active
        .iter()
        .filter(|(_, r)| super::http_api::is_raw_http_api(r))
        .map(|(logical_id, _)| scope.resources[*logical_id].reference.as_str())
        .collect();
    // HTTP APIs and their routes, integrations, authorizers and stages are `http_api`'s.
    let of_http_api = |props: &Map<String, Value>| {
        string_prop(props, "ApiId").is_some_and(|id| http_api_ids.contains(&id.as_str()))
    };
    for (logical_id, resource) in active.iter().filter(|(_, r)| {
        kind(r) == "AWS::ApiGatewayV2::Api" && !super::http_api::is_raw_http_api(r)
    }) {
        let props = properties(logical_id, resource, scope)?;
        let protocol = required_string(logical_id, &props, "ProtocolType")?;
        if protocol != "WEBSOCKET" {
            return Err(TemplateError::Unsupported {
                resource: (*logical_id).to_owned(),
                construct: format!("ProtocolType {protocol} on AWS::ApiGatewayV2::Api"),
            });
        }
        let api_id = scope.resources[*logical_id].reference.clone();
        api_by_id.insert(api_id.clone(), (*logical_id).to_owned());
        apis.insert(
            (*logical_id).to_owned(),
            WebSocketApi {
                logical_id: (*logical_id).to_owned(),
                name: string_prop(&props, "Name").unwrap_or_else(|| (*logical_id).to_owned()),
                api_id,
                route_selection_expression: required_string(
                    logical_id,
                    &props,
                    "RouteSelectionExpression",
                )?,
                stages: Vec::new(),
                routes: BTreeMap::new(),
            },
        );
    }
    let api_of = |logical_id: &str, props: &Map<String, Value>| -> Result<String, TemplateError> {
        let id = required_string(logical_id, props, "ApiId")?;
        api_by_id
            .get(&id)
            .cloned()
            .ok_or_else(|| TemplateError::UnknownReference {
                resource: logical_id.to_owned(),
                name: id,
            })
    };

    let mut integrations = BTreeMap::new();
    let mut authorizers = BTreeMap::new();
    let mut two_way_routes = Vec::new();
    for (logical_id, resource) in active {
        if kind(resource).starts_with("AWS::ApiGatewayV2::")
            && of_http_api(&properties(logical_id, resource, scope)?)
        {
            continue;
        }
        let props = || properties(logical_id, resource, scope);
        match kind(resource) {
            "AWS::ApiGatewayV2::Integration" => {
                let props = props()?;
                api_of(logical_id, &props)?;
                let integration_type = required_string(logical_id, &props, "IntegrationType")?;
                if integration_type != "AWS_PROXY" {
                    return Err(TemplateError::Unsupported {
                        resource: (*logical_id).to_owned(),
                        construct: format!(
                            "IntegrationType {integration_type} (only AWS_PROXY Lambda integrations)"
                        ),
                    });
                }
                let uri = required_string(logical_id, &props, "IntegrationUri")?;
                let millis = number_prop(logical_id, &props, "TimeoutInMillis")?.unwrap_or(29_000);
                if !(50..=29_000).contains(&millis) {
                    return Err(invalid(
                        logical_id,
                        format!("TimeoutInMillis {millis} is outside 50..=29000"),
                    ));
                }
                integrations.insert(
                    scope.resources[*logical_id].reference.clone(),
                    Integration {
                        function: function_for_uri(logical_id, &uri, functions)?,
                        timeout: Duration::from_millis(millis),
                    },
                );
            }
            "AWS::ApiGatewayV2::Authorizer" => {
                let props = props()?;
                api_of(logical_id, &props)?;
                let authorizer_type = required_string(logical_id, &props, "AuthorizerType")?;
                if authorizer_type != "REQUEST" {
                    return Err(TemplateError::Unsupported {
                        resource: (*logical_id).to_owned(),
                        construct: format!(
                            "AuthorizerType {authorizer_type} (WebSocket APIs take REQUEST authorizers)"
                        ),
                    });
                }
                let uri = required_string(logical_id, &props, "AuthorizerUri")?;
                let identity_sources = match props.get("IdentitySource") {
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(|item| identity_source(logical_id, item))
                        .collect::<Result<Vec<_>, _>>()?,
                    None => Vec::new(),
                    Some(other) => {
                        return Err(invalid(
                            logical_id,
                            format!("IdentitySource must be a list, got {other}"),
                        ));
                    }
                };
                let authorizer_id = scope.resources[*logical_id].reference.clone();
                authorizers.insert(
                    authorizer_id.clone(),
                    Authorizer {
                        logical_id: (*logical_id).to_owned(),
                        authorizer_id,
                        function: function_for_uri(logical_id, &uri, functions)?,
                        identity_sources,
                    },
                );
            }
            "AWS::ApiGatewayV2::RouteResponse" => {
                let props = props()?;
                if string_prop(&props, "RouteResponseKey").as_deref() == Some("$default") {
                    two_way_routes.push(required_string(logical_id, &props, "RouteId")?);
                }
            }
            "AWS::ApiGatewayV2::Stage" => {
                let props = props()?;
                let api = api_of(logical_id, &props)?;
                let stage = required_string(logical_id, &props, "StageName")?;
                apis.get_mut(&api).expect("known api").stages.push(stage);
            }
            _ => {}
        }
    }

    for (logical_id, resource) in active
        .iter()
        .filter(|(_, r)| kind(r) == "AWS::ApiGatewayV2::Route")
    {
        let props = properties(logical_id, resource, scope)?;
        if of_http_api(&props) {
            continue;
        }
        let api = api_of(logical_id, &props)?;
        let key = required_string(logical_id, &props, "RouteKey")?;
        let target = required_string(logical_id, &props, "Target")?;
        let integration_id = target.strip_prefix("integrations/").ok_or_else(|| {
            invalid(
                logical_id,
                format!("Target {target:?} is not integrations/{{id}}"),
            )
        })?;
        let integration =
            integrations
                .get(integration_id)
                .ok_or_else(|| TemplateError::UnknownReference {
                    resource: (*logical_id).to_owned(),
                    name: target.clone(),
                })?;
        let authorization =
            string_prop(&props, "AuthorizationType").unwrap_or_else(|| "NONE".to_owned());
        let authorizer = match authorization.as_str() {
            "NONE" => None,
            "CUSTOM" => {
                if key != "$connect" {
                    return Err(invalid(
                        logical_id,
                        "authorizers apply only to the $connect route",
                    ));
                }
                let id = required_string(logical_id, &props, "AuthorizerId")?;
                Some(authorizers.get(&id).cloned().ok_or_else(|| {
                    TemplateError::UnknownReference {
                        resource: (*logical_id).to_owned(),
                        name: id,
                    }
                })?)
            }
            other => {
                return Err(TemplateError::Unsupported {
                    resource: (*logical_id).to_owned(),
                    construct: format!("AuthorizationType {other}"),
                });
            }
        };
        let route_id = &scope.resources[*logical_id].reference;
        let route = Route {
            key: key.clone(),
            function: integration.function.clone(),
            two_way: two_way_routes.contains(route_id),
            integration_timeout: integration.timeout,
            authorizer,
        };
        let api = apis.get_mut(&api).expect("known api");
        if api.routes.insert(key.clone(), route).is_some() {
            return Err(invalid(
                logical_id,
                format!("route key {key} is declared twice on {}", api.logical_id),
            ));
        }
    }
    for api in apis.values() {
        if api.stages.is_empty() {
            return Err(invalid(
                &api.logical_id,
                "the API has no AWS::ApiGatewayV2::Stage",
            ));
        }
    }
    Ok(apis)
}

fn identity_source(logical_id: &str, item: &Value) -> Result<IdentitySource, TemplateError> {
    let text = item.as_str().unwrap_or_default();
    if let Some(name) = text.strip_prefix("route.request.querystring.") {
        Ok(IdentitySource::QueryString(name.to_owned()))
    } else if let Some(name) = text.strip_prefix("route.request.header.") {
        Ok(IdentitySource::Header(name.to_owned()))
    } else {
        Err(TemplateError::Unsupported {
            resource: logical_id.to_owned(),
            construct: format!("identity source {item}"),
        })
    }
}
