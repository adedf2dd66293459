//! HTTP APIs declared as raw CloudFormation: `AWS::ApiGatewayV2::Api` with
//! `ProtocolType: HTTP` and the `Integration`s, `Authorizer`s, `Route`s and
//! `Stage` that name it in their `ApiId`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::super::TemplateError;
use super::super::build::{
    Resources, function_for_uri, invalid, kind, properties, required_string, string_prop,
};
use super::super::intrinsics::Scope;
use super::super::model::{Function, HttpApi, HttpAuthorizer, HttpRoute, PayloadFormat};
use super::super::rest::reject;
use super::{
    HTTP_INTEGRATION_TIMEOUT, add_route, authorizer_format, cors, identity_source, is_raw_http_api,
    list, millis, payload_format,
};

/// A resource of one of the HTTP APIs: its logical id, type, properties and API.
type Member<'a> = (&'a str, &'a str, Map<String, Value>, String);

struct RawIntegration {
    function: String,
    payload_format: PayloadFormat,
    timeout: Duration,
}

/// `AWS::ApiGatewayV2::*` resources of HTTP APIs.
pub(super) fn raw_http_apis(
    active: &Resources<'_>,
    scope: &Scope,
    functions: &BTreeMap<String, Function>,
    apis: &mut BTreeMap<String, HttpApi>,
) -> Result<(), TemplateError> {
    let mut by_id = BTreeMap::new();
    for (logical_id, resource) in active.iter().filter(|(_, r)| is_raw_http_api(r)) {
        let props = properties(logical_id, resource, scope)?;
        reject(
            logical_id,
            &props,
            &["Body", "BodyS3Location", "Target"],
            "an HTTP AWS::ApiGatewayV2::Api",
        )?;
        let api = HttpApi {
            logical_id: (*logical_id).to_owned(),
            name: string_prop(&props, "Name").unwrap_or_else(|| (*logical_id).to_owned()),
            api_id: scope.resources[*logical_id].reference.clone(),
            stage: String::new(),
            routes: Vec::new(),
            authorizers: BTreeMap::new(),
            cors: props
                .get("CorsConfiguration")
                .map(|value| cors(logical_id, value, false))
                .transpose()?
                .flatten(),
        };
        by_id.insert(api.api_id.clone(), api.logical_id.clone());
        apis.insert(api.logical_id.clone(), api);
    }
    if by_id.is_empty() {
        return Ok(());
    }
    // The resources of one of these APIs, with the API they belong to.
    let mut members: Vec<Member<'_>> = Vec::new();
    for (logical_id, resource) in active {
        if !kind(resource).starts_with("AWS::ApiGatewayV2::") || is_raw_http_api(resource) {
            continue;
        }
        let props = properties(logical_id, resource, scope)?;
        if let Some(api) = string_prop(&props, "ApiId").and_then(|id| by_id.get(&id).cloned()) {
            members.push((logical_id, kind(resource), props, api));
        }
    }
    let mut integrations = BTreeMap::new();
    let mut authorizer_names = BTreeMap::new();
    for (logical_id, kind, props, api) in &members {
        let reference = scope.resources[*logical_id].reference.clone();
        match *kind {
            "AWS::ApiGatewayV2::Integration" => {
                let integration_type = required_string(logical_id, props, "IntegrationType")?;
                if integration_type != "AWS_PROXY" {
                    return Err(TemplateError::Unsupported {
                        resource: (*logical_id).to_owned(),
                        construct: format!(
                            "IntegrationType {integration_type} (only AWS_PROXY Lambda integrations)"
                        ),
                    });
                }
                let uri = required_string(logical_id, props, "IntegrationUri")?;
                integrations.insert(
                    reference,
                    RawIntegration {
                        function: function_for_uri(logical_id, &uri, functions)?,
                        payload_format: payload_format(
                            logical_id,
                            string_prop(props, "PayloadFormatVersion"),
                        )?,
                        timeout: millis(logical_id, props)?.unwrap_or(HTTP_INTEGRATION_TIMEOUT),
                    },
                );
            }
            "AWS::ApiGatewayV2::Authorizer" => {
                let authorizer = raw_authorizer(logical_id, props, functions)?;
                authorizer_names.insert(reference, (*logical_id).to_owned());
                apis.get_mut(api)
                    .expect("known api")
                    .authorizers
                    .insert((*logical_id).to_owned(), authorizer);
            }
            "AWS::ApiGatewayV2::Stage" => {
                let stage = required_string(logical_id, props, "StageName")?;
                let api = apis.get_mut(api).expect("known api");
                if !api.stage.is_empty() {
                    return Err(TemplateError::Unsupported {
                        resource: (*logical_id).to_owned(),
                        construct: format!(
                            "a second stage ({stage}) on {} (the local stack serves one)",
                            api.logical_id
                        ),
                    });
                }
                api.stage = stage;
            }
            _ => {}
        }
    }
    for (logical_id, kind, props, api) in &members {
        if *kind != "AWS::ApiGatewayV2::Route" {
            continue;
        }
        let key = required_string(logical_id, props, "RouteKey")?;
        let (method, path) = match key.split_once(' ') {
            Some((method, path)) => (method.to_uppercase(), path.to_owned()),
            None if key == "$default" => ("ANY".to_owned(), key.clone()),
            None => {
                return Err(invalid(
                    logical_id,
                    format!("RouteKey {key:?} is neither \"METHOD /path\" nor $default"),
                ));
            }
        };
        let target = required_string(logical_id, props, "Target")?;
        let integration = target
            .strip_prefix("integrations/")
            .and_then(|id| integrations.get(id))
            .ok_or_else(|| TemplateError::UnknownReference {
                resource: (*logical_id).to_owned(),
                name: target.clone(),
            })?;
        let authorization =
            string_prop(props, "AuthorizationType").unwrap_or_else(|| "NONE".to_owned());
        let authorizer = match authorization.as_str() {
            "NONE" => None,
            "JWT" | "CUSTOM" => {
                let id = required_string(logical_id, props, "AuthorizerId")?;
                let name = authorizer_names.get(&id).cloned().ok_or_else(|| {
                    TemplateError::UnknownReference {
                        resource: (*logical_id).to_owned(),
                        name: id,
                    }
                })?;
                // JWT routes take JWT authorizers, CUSTOM routes Lambda ones.
                let is_jwt = matches!(
                    apis[api.as_str()].authorizers.get(&name),
                    Some(HttpAuthorizer::Jwt { .. })
                );
                if is_jwt != (authorization == "JWT") {
                    return Err(invalid(
                        logical_id,
                        format!(
                            "AuthorizationType {authorization} does not match authorizer {name}"
                        ),
                    ));
                }
                Some(name)
            }
            other => {
                return Err(TemplateError::Unsupported {
                    resource: (*logical_id).to_owned(),
                    construct: format!("AuthorizationType {other} on an HTTP API route"),
                });
            }
        };
        let route = HttpRoute {
            path,
            method,
            function: integration.function.clone(),
            payload_format: integration.payload_format,
            timeout: integration.timeout,
            authorizer,
            scopes: list(props.get("AuthorizationScopes")),
        };
        add_route(logical_id, apis.get_mut(api).expect("known api"), route)?;
    }
    for logical_id in by_id.values() {
        if apis[logical_id].stage.is_empty() {
            return Err(invalid(
                logical_id,
                "the HTTP API has no AWS::ApiGatewayV2::Stage",
            ));
        }
    }
    Ok(())
}

fn raw_authorizer(
    logical_id: &str,
    props: &Map<String, Value>,
    functions: &BTreeMap<String, Function>,
) -> Result<HttpAuthorizer, TemplateError> {
    let sources = list(props.get("IdentitySource"));
    let name = string_prop(props, "Name").unwrap_or_else(|| logical_id.to_owned());
    match required_string(logical_id, props, "AuthorizerType")?.as_str() {
        "JWT" => {
            let jwt = props
                .get("JwtConfiguration")
                .and_then(Value::as_object)
                .ok_or_else(|| invalid(logical_id, "a JWT authorizer needs JwtConfiguration"))?;
            let [source] = sources.as_slice() else {
                return Err(invalid(
                    logical_id,
                    "a JWT authorizer takes exactly one IdentitySource",
                ));
            };
            Ok(HttpAuthorizer::Jwt {
                name,
                issuer: string_prop(jwt, "Issuer")
                    .ok_or_else(|| invalid(logical_id, "JwtConfiguration needs an Issuer"))?,
                audience: list(jwt.get("Audience")),
                identity_source: identity_source(logical_id, source)?,
            })
        }
        "REQUEST" => {
            let (payload_format, simple_responses) = authorizer_format(logical_id, props)?;
            Ok(HttpAuthorizer::Lambda {
                name,
                function: function_for_uri(
                    logical_id,
                    &required_string(logical_id, props, "AuthorizerUri")?,
                    functions,
                )?,
                payload_format,
                simple_responses,
                identity_sources: sources
                    .iter()
                    .map(|source| identity_source(logical_id, source))
                    .collect::<Result<_, _>>()?,
            })
        }
        other => Err(TemplateError::Unsupported {
            resource: logical_id.to_owned(),
            construct: format!("AuthorizerType {other} on an HTTP API"),
        }),
    }
}
