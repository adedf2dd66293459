//! SAM's `AWS::Serverless::WebSocketApi` (May 2026), expanded as SAM's
//! transform expands it: into an `AWS::ApiGatewayV2::Api`, a `Stage` with
//! `AutoDeploy`, and per route a `Route`, an `AWS_PROXY` `Integration` and a
//! `Lambda::Permission`, plus a REQUEST `Authorizer` on `$connect` for
//! `Auth: {AuthType: CUSTOM}`. The generated resources carry the logical ids
//! SAM's translator gives them (`<Api><Key>Route`, `<Api>DefaultStage`,
//! `<Api>ConnectAuthorizer`, ...; read from aws/serverless-application-model's
//! websocket_api_generator.py and its translator tests, which differ from the
//! developer guide's examples), so other resources may refer to them, and
//! the rest of the reader sees the raw API Gateway resources it already
//! honours. SAM's validation errors are kept, in SAM's words.
//!
//! Not emulated: `Domain` (no custom domains locally; ignored), and the
//! stage's logging and throttling settings (passed on to the Stage, which
//! the local gateway does not apply).

use serde_json::{Map, Value, json};

use super::TemplateError;
use super::build::merge_globals;

const TYPE: &str = "AWS::Serverless::WebSocketApi";
const SPECIAL_ROUTES: [&str; 3] = ["$connect", "$disconnect", "$default"];
/// Keys of `Globals.WebSocketApi` SAM accepts.
const GLOBAL_KEYS: [&str; 13] = [
    "AccessLogSettings",
    "ApiKeySelectionExpression",
    "DefaultRouteSettings",
    "DisableExecuteApiEndpoint",
    "DisableSchemaValidation",
    "Domain",
    "FailOnWarnings",
    "IpAddressType",
    "PropagateTags",
    "RouteSelectionExpression",
    "RouteSettings",
    "StageVariables",
    "Tags",
];

fn invalid(logical_id: &str, message: impl Into<String>) -> TemplateError {
    TemplateError::Invalid {
        resource: logical_id.to_owned(),
        message: message.into(),
    }
}

/// The resources with every `AWS::Serverless::WebSocketApi` replaced by what
/// SAM generates for it (`globals` is the template's `Globals` section).
pub(super) fn expand(
    resources: &Map<String, Value>,
    globals: &Map<String, Value>,
) -> Result<Map<String, Value>, TemplateError> {
    let mut expanded = Map::new();
    for (logical_id, resource) in resources {
        if resource.get("Type").and_then(Value::as_str) != Some(TYPE) {
            continue;
        }
        for (id, generated) in generate(logical_id, resource, globals.get("WebSocketApi"))? {
            let declared_elsewhere = id != *logical_id && resources.contains_key(&id);
            if declared_elsewhere || expanded.contains_key(&id) {
                return Err(invalid(
                    logical_id,
                    format!("SAM generates {id}, which the template already declares"),
                ));
            }
            expanded.insert(id, generated);
        }
    }
    for (logical_id, resource) in resources {
        if resource.get("Type").and_then(Value::as_str) != Some(TYPE) {
            expanded.insert(logical_id.clone(), resource.clone());
        }
    }
    Ok(expanded)
}

/// `$connect` -> `Connect`, `sendMessage` -> `Sendmessage` (Python's
/// `str.capitalize`, as SAM does), or SAM's error for any other key.
fn normalized_route_key(logical_id: &str, key: &str) -> Result<String, TemplateError> {
    let plain = if SPECIAL_ROUTES.contains(&key) {
        &key[1..]
    } else if !key.is_empty() && key.chars().all(char::is_alphanumeric) {
        key
    } else {
        return Err(invalid(
            logical_id,
            format!(
                "Route key '{key}' must be alphanumeric. Only $connect, $disconnect, and \
                 $default special routes are supported."
            ),
        ));
    };
    let mut chars = plain.chars();
    Ok(chars
        .next()
        .map(|first| {
            first
                .to_uppercase()
                .chain(chars.flat_map(char::to_lowercase))
                .collect()
        })
        .unwrap_or_default())
}

fn lambda_uri(variable: &str, arn: &Value) -> Value {
    json!({"Fn::Sub": [
        format!(
            "arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{{variable}}}/invocations"
        ),
        {variable: arn},
    ]})
}

/// Copies the `keys` that `from` has into `to`, as SAM passes them on.
fn pass_on(from: &Map<String, Value>, keys: &[&str], to: &mut Map<String, Value>) {
    for key in keys {
        if let Some(value) = from.get(*key) {
            to.insert((*key).to_owned(), value.clone());
        }
    }
}

fn resource(kind: &str, properties: Value, condition: Option<&Value>) -> Value {
    let mut resource = json!({"Type": kind, "Properties": properties});
    if let Some(condition) = condition {
        resource["Condition"] = condition.clone();
    }
    resource
}

/// What SAM generates for one WebSocketApi, by logical id.
fn generate(
    logical_id: &str,
    declared: &Value,
    global: Option<&Value>,
) -> Result<Vec<(String, Value)>, TemplateError> {
    let mut properties = declared
        .get("Properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(Value::Object(global)) = global {
        if let Some(key) = global
            .keys()
            .find(|key| !GLOBAL_KEYS.contains(&key.as_str()))
        {
            return Err(invalid(
                "Globals",
                format!("'{key}' is not a supported property of 'WebSocketApi'"),
            ));
        }
        let merged = merge_globals(&Value::Object(global.clone()), &Value::Object(properties));
        properties = merged.as_object().cloned().unwrap_or_default();
    }
    let condition = declared.get("Condition");
    let route_selection = properties
        .get("RouteSelectionExpression")
        .cloned()
        .ok_or_else(|| {
            invalid(
                logical_id,
                "Missing required property 'RouteSelectionExpression'.",
            )
        })?;
    let routes = match properties.get("Routes") {
        None => return Err(invalid(logical_id, "Missing required property 'Routes'.")),
        Some(Value::Object(routes)) if routes.is_empty() => {
            return Err(invalid(
                logical_id,
                "WebSocket API must have at least one route.",
            ));
        }
        Some(Value::Object(routes)) => routes.clone(),
        Some(_) => return Err(invalid(logical_id, "Property 'Routes' should be a map.")),
    };
    let stage_name = properties
        .get("StageName")
        .cloned()
        .unwrap_or_else(|| json!("default"));
    let stage_id = match stage_name.as_str() {
        Some("$default") => {
            return Err(invalid(
                logical_id,
                "Stages cannot be named $default for WebSocket APIs.",
            ));
        }
        Some("default") => format!("{logical_id}DefaultStage"),
        Some(literal) => format!("{logical_id}{literal}Stage"),
        None => format!("{logical_id}Stage"),
    };

    let mut api = Map::new();
    api.insert(
        "Name".into(),
        properties
            .get("Name")
            .cloned()
            .unwrap_or_else(|| json!(logical_id)),
    );
    api.insert("ProtocolType".into(), json!("WEBSOCKET"));
    api.insert("RouteSelectionExpression".into(), route_selection);
    pass_on(
        &properties,
        &[
            "ApiKeySelectionExpression",
            "Description",
            "DisableExecuteApiEndpoint",
            "DisableSchemaValidation",
            "IpAddressType",
        ],
        &mut api,
    );
    let mut generated = vec![(
        logical_id.to_owned(),
        resource("AWS::ApiGatewayV2::Api", Value::Object(api), condition),
    )];

    let authorizer = authorizer(logical_id, &properties, &routes)?;
    for (key, route) in &routes {
        let normalized = normalized_route_key(logical_id, key)?;
        let Some(route) = route.as_object() else {
            return Err(invalid(logical_id, format!("route {key} is not a mapping")));
        };
        let function_arn = route
            .get("FunctionArn")
            .ok_or_else(|| invalid(logical_id, "Route must have associated function."))?;
        if route.contains_key("RequestParameters") && key != "$connect" {
            return Err(invalid(
                logical_id,
                "Request parameters are only supported for the $connect route in WebSocket APIs.",
            ));
        }
        let integration_id = format!("{logical_id}{normalized}Integration");
        let mut integration = json!({
            "ApiId": {"Ref": logical_id},
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": lambda_uri("FunctionArn", function_arn),
        });
        if let Some(timeout) = route.get("IntegrationTimeout") {
            integration["TimeoutInMillis"] = timeout.clone();
        }
        let mut route_properties = json!({
            "ApiId": {"Ref": logical_id},
            "RouteKey": key,
            "Target": {"Fn::Join": ["/", ["integrations", {"Ref": integration_id}]]},
        });
        if let Some(target) = route_properties.as_object_mut() {
            pass_on(
                route,
                &[
                    "ApiKeyRequired",
                    "ModelSelectionExpression",
                    "OperationName",
                    "RequestModels",
                    "RequestParameters",
                    "RouteResponseSelectionExpression",
                ],
                target,
            );
        }
        if key == "$connect"
            && let Some(auth) = &authorizer
        {
            route_properties["AuthorizationType"] = json!(auth.authorization_type);
            if auth.generated.is_some() {
                route_properties["AuthorizerId"] =
                    json!({"Ref": format!("{logical_id}ConnectAuthorizer")});
            }
        }
        let stage_in_arn = stage_name.clone();
        let permission = json!({
            "Action": "lambda:InvokeFunction",
            "FunctionName": function_arn,
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": {"Fn::Sub": [
                format!("arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{__ApiId__}}/${{__StageName__}}/{key}"),
                {"__ApiId__": {"Ref": logical_id}, "__StageName__": stage_in_arn},
            ]},
        });
        generated.push((
            format!("{logical_id}{normalized}Route"),
            resource("AWS::ApiGatewayV2::Route", route_properties, condition),
        ));
        generated.push((
            integration_id,
            resource("AWS::ApiGatewayV2::Integration", integration, condition),
        ));
        generated.push((
            format!("{logical_id}{normalized}Permission"),
            resource("AWS::Lambda::Permission", permission, condition),
        ));
    }
    if let Some(Authorization {
        generated: Some(authorizer),
        invoke_role,
        auth_arn,
        ..
    }) = authorizer
    {
        generated.push((
            format!("{logical_id}ConnectAuthorizer"),
            resource("AWS::ApiGatewayV2::Authorizer", authorizer, condition),
        ));
        if !invoke_role {
            let permission = json!({
                "Action": "lambda:InvokeFunction",
                "FunctionName": auth_arn,
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": {"Fn::Sub": [
                    "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${__ApiId__}/authorizers/*",
                    {"__ApiId__": {"Ref": logical_id}},
                ]},
            });
            generated.push((
                format!("{logical_id}AuthorizerPermission"),
                resource("AWS::Lambda::Permission", permission, condition),
            ));
        }
    }

    let mut stage = Map::new();
    stage.insert("ApiId".into(), json!({"Ref": logical_id}));
    stage.insert("StageName".into(), stage_name);
    stage.insert("AutoDeploy".into(), json!(true));
    pass_on(
        &properties,
        &[
            "AccessLogSettings",
            "DefaultRouteSettings",
            "RouteSettings",
            "StageVariables",
        ],
        &mut stage,
    );
    generated.push((
        stage_id,
        resource("AWS::ApiGatewayV2::Stage", Value::Object(stage), condition),
    ));
    Ok(generated)
}

/// `Auth` on `$connect`, as SAM reads it.
struct Authorization {
    /// The `$connect` route's `AuthorizationType`.
    authorization_type: &'static str,
    /// The `AWS::ApiGatewayV2::Authorizer` properties (CUSTOM only).
    generated: Option<Value>,
    /// Whether `InvokeRole` was given (then no permission is generated).
    invoke_role: bool,
    /// The authorizer function's ARN (CUSTOM only).
    auth_arn: Value,
}

fn authorizer(
    logical_id: &str,
    properties: &Map<String, Value>,
    routes: &Map<String, Value>,
) -> Result<Option<Authorization>, TemplateError> {
    let Some(auth) = properties.get("Auth") else {
        return Ok(None);
    };
    let auth = auth
        .as_object()
        .ok_or_else(|| invalid(logical_id, "Property 'Auth' should be a map."))?;
    if !routes.contains_key("$connect") {
        return Err(invalid(
            logical_id,
            "Authorization is only available if there is a $connect route.",
        ));
    }
    let auth_type = auth
        .get("AuthType")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            invalid(
                logical_id,
                "AuthType must be specified for additional auth configurations.",
            )
        })?;
    match auth_type {
        "NONE" | "AWS_IAM" => {
            if auth.len() > 1 {
                return Err(invalid(
                    logical_id,
                    format!("No additional configurations supported for AuthType {auth_type}."),
                ));
            }
            Ok(Some(Authorization {
                authorization_type: if auth_type == "NONE" {
                    "NONE"
                } else {
                    "AWS_IAM"
                },
                generated: None,
                invoke_role: false,
                auth_arn: Value::Null,
            }))
        }
        "CUSTOM" => {
            let auth_arn = auth.get("AuthArn").cloned().ok_or_else(|| {
                invalid(
                    logical_id,
                    "AuthArn must be specified if AuthType is CUSTOM.",
                )
            })?;
            let mut authorizer = json!({
                "ApiId": {"Ref": logical_id},
                "AuthorizerType": "REQUEST",
                "AuthorizerUri": lambda_uri("AuthArn", &auth_arn),
                "Name": auth
                    .get("Name")
                    .cloned()
                    .unwrap_or_else(|| json!(format!("{logical_id}ConnectAuthorizer"))),
            });
            if let Some(sources) = auth.get("IdentitySource") {
                authorizer["IdentitySource"] = sources.clone();
            }
            if let Some(role) = auth.get("InvokeRole") {
                authorizer["AuthorizerCredentialsArn"] = role.clone();
            }
            Ok(Some(Authorization {
                authorization_type: "CUSTOM",
                generated: Some(authorizer),
                invoke_role: auth.contains_key("InvokeRole"),
                auth_arn,
            }))
        }
        _ => Err(invalid(
            logical_id,
            "AuthType is not one of AWS_IAM, CUSTOM or NONE.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_keys_are_normalized_as_sam_does() {
        let key = |k| normalized_route_key("Api", k);
        assert_eq!(key("$connect").unwrap(), "Connect");
        assert_eq!(key("$disconnect").unwrap(), "Disconnect");
        assert_eq!(key("$default").unwrap(), "Default");
        assert_eq!(key("send").unwrap(), "Send");
        assert_eq!(key("sendMessage").unwrap(), "Sendmessage");
        for bad in ["start_speaking", "nova-sonic-stream", "$nonsense", ""] {
            let error = key(bad).unwrap_err().to_string();
            assert!(error.contains("must be alphanumeric"), "{bad}: {error}");
        }
    }
}
