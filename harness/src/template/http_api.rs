//! HTTP APIs (API Gateway v2, `ProtocolType: HTTP`) in both styles a
//! template declares them:
//!
//! - SAM: `AWS::Serverless::HttpApi` (`StageName`, default `$default`;
//!   `CorsConfiguration`; `Auth` with JWT and Lambda authorizers and a
//!   `DefaultAuthorizer`) and the functions' `Events` of `Type: HttpApi`
//!   (`Path` and `Method`, or neither for the `$default` route;
//!   `PayloadFormatVersion`, default `2.0`; `TimeoutInMillis`, SAM's default
//!   5,000; `Auth.Authorizer`, `NONE` to opt out of the default). An event
//!   without `ApiId` belongs to SAM's implicit `ServerlessHttpApi`.
//! - CloudFormation ([`raw`]): `AWS::ApiGatewayV2::Api` with `ProtocolType: HTTP`, its
//!   `Integration`s (`AWS_PROXY`, `PayloadFormatVersion` required,
//!   `TimeoutInMillis` default 30,000), `Authorizer`s (`JWT`, `REQUEST`),
//!   `Route`s (`RouteKey`, `AuthorizationType` `NONE`/`JWT`/`CUSTOM`) and
//!   `Stage`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::TemplateError;
use super::build::{Resources, function_for_uri, invalid, kind, properties, string_prop};
use super::intrinsics::{Scope, scalar_string};
use super::model::{
    Function, HttpApi, HttpAuthorizer, HttpCors, HttpRoute, IdentitySource, PayloadFormat,
};
use super::rest::{EventApi, METHODS, event_api, for_each_event, is_true, reject};

/// The longest integration timeout of an HTTP API (30 s), and the default of
/// `AWS::ApiGatewayV2::Integration`.
pub(super) const HTTP_INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);

/// SAM's default `TimeoutInMillis` for `HttpApi` events (5 s).
pub(super) const SAM_HTTP_EVENT_TIMEOUT: Duration = Duration::from_secs(5);

/// The logical id SAM gives the API it creates for events without `ApiId`.
pub(super) const IMPLICIT_HTTP_API: &str = "ServerlessHttpApi";

/// Whether a resource is an `AWS::ApiGatewayV2::Api` with `ProtocolType: HTTP`.
pub(super) fn is_raw_http_api(resource: &Map<String, Value>) -> bool {
    kind(resource) == "AWS::ApiGatewayV2::Api"
        && resource
            .get("Properties")
            .and_then(|p| p.get("ProtocolType"))
            .and_then(Value::as_str)
            == Some("HTTP")
}

/// Builds every HTTP API of the template with its routes and authorizers.
pub(super) fn http_apis(
    active: &Resources<'_>,
    scope: &Scope,
    functions: &BTreeMap<String, Function>,
) -> Result<BTreeMap<String, HttpApi>, TemplateError> {
    let mut apis = BTreeMap::new();
    let mut defaults = BTreeMap::new();
    for (logical_id, resource) in active {
        if kind(resource) == "AWS::Serverless::HttpApi" {
            let (api, default) = serverless_http_api(logical_id, resource, scope, functions)?;
            defaults.insert(api.logical_id.clone(), default);
            apis.insert(api.logical_id.clone(), api);
        }
    }
    sam_events(active, scope, functions, &mut apis, &defaults)?;
    raw::raw_http_apis(active, scope, functions, &mut apis)?;
    for api in apis.values_mut() {
        api.routes
            .sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
    }
    Ok(apis)
}

fn list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(scalar_string).collect(),
        Some(other) => scalar_string(other).into_iter().collect(),
        None => Vec::new(),
    }
}

fn millis(site: &str, props: &Map<String, Value>) -> Result<Option<Duration>, TemplateError> {
    let Some(value) = props.get("TimeoutInMillis") else {
        return Ok(None);
    };
    let millis = scalar_string(value)
        .and_then(|text| text.parse::<u64>().ok())
        .ok_or_else(|| invalid(site, format!("TimeoutInMillis {value} is not a number")))?;
    if !(50..=30_000).contains(&millis) {
        return Err(invalid(
            site,
            format!("TimeoutInMillis {millis} is outside 50..=30000 (HTTP APIs)"),
        ));
    }
    Ok(Some(Duration::from_millis(millis)))
}

fn payload_format(site: &str, value: Option<String>) -> Result<PayloadFormat, TemplateError> {
    match value.as_deref() {
        Some("1.0") => Ok(PayloadFormat::V1),
        Some("2.0") => Ok(PayloadFormat::V2),
        Some(other) => Err(invalid(
            site,
            format!("payload format version {other:?} (HTTP APIs take 1.0 or 2.0)"),
        )),
        None => Err(invalid(site, "a payload format version is required")),
    }
}

/// `$request.header.NAME` or `$request.querystring.NAME`.
fn identity_source(site: &str, text: &str) -> Result<IdentitySource, TemplateError> {
    if let Some(name) = text.strip_prefix("$request.header.") {
        Ok(IdentitySource::Header(name.to_owned()))
    } else if let Some(name) = text.strip_prefix("$request.querystring.") {
        Ok(IdentitySource::QueryString(name.to_owned()))
    } else {
        Err(TemplateError::Unsupported {
            resource: site.to_owned(),
            construct: format!(
                "identity source {text:?} (only $request.header.* and $request.querystring.*)"
            ),
        })
    }
}

fn cors(site: &str, value: &Value, sam: bool) -> Result<Option<HttpCors>, TemplateError> {
    let config = match value {
        Value::Bool(false) => return Ok(None),
        // SAM's `CorsConfiguration: true`: any origin, method and header.
        Value::Bool(true) if sam => {
            return Ok(Some(HttpCors {
                allow_origins: vec!["*".into()],
                allow_methods: vec!["*".into()],
                allow_headers: vec!["*".into()],
                expose_headers: Vec::new(),
                max_age: None,
                allow_credentials: false,
            }));
        }
        Value::Object(map) => map,
        other => {
            return Err(invalid(
                site,
                format!("CorsConfiguration is an object, got {other}"),
            ));
        }
    };
    let max_age = match config.get("MaxAge") {
        None => None,
        Some(value) => Some(
            scalar_string(value)
                .and_then(|text| text.parse::<u32>().ok())
                .ok_or_else(|| invalid(site, format!("CorsConfiguration MaxAge {value}")))?,
        ),
    };
    let cors = HttpCors {
        allow_origins: list(config.get("AllowOrigins")),
        allow_methods: list(config.get("AllowMethods"))
            .iter()
            .map(|m| m.to_uppercase())
            .collect(),
        allow_headers: list(config.get("AllowHeaders")),
        expose_headers: list(config.get("ExposeHeaders")),
        max_age,
        allow_credentials: is_true(config, "AllowCredentials"),
    };
    if cors.allow_credentials && cors.allow_origins.iter().any(|o| o == "*") {
        // API Gateway refuses this combination at deployment.
        return Err(invalid(
            site,
            "CorsConfiguration cannot allow credentials for any origin (*)",
        ));
    }
    Ok(Some(cors))
}

/// One SAM HTTP API and its `DefaultAuthorizer`.
fn serverless_http_api(
    logical_id: &str,
    resource: &Map<String, Value>,
    scope: &Scope,
    functions: &BTreeMap<String, Function>,
) -> Result<(HttpApi, Option<String>), TemplateError> {
    let props = properties(logical_id, resource, scope)?;
    reject(
        logical_id,
        &props,
        &["DefinitionBody", "DefinitionUri", "Domain"],
        "AWS::Serverless::HttpApi",
    )?;
    let mut authorizers = BTreeMap::new();
    let mut default_authorizer = None;
    if let Some(auth) = props.get("Auth").and_then(Value::as_object) {
        if is_true(auth, "EnableIamAuthorizer") {
            return Err(TemplateError::Unsupported {
                resource: logical_id.to_owned(),
                construct: "EnableIamAuthorizer (IAM authorization) on AWS::Serverless::HttpApi"
                    .to_owned(),
            });
        }
        if let Some(declared) = auth.get("Authorizers").and_then(Value::as_object) {
            for (name, config) in declared {
                let site = format!("{logical_id}.Auth.Authorizers.{name}");
                let config = config
                    .as_object()
                    .ok_or_else(|| invalid(&site, "an authorizer is an object"))?;
                authorizers.insert(
                    name.clone(),
                    sam_authorizer(&site, name, config, functions)?,
                );
            }
        }
        default_authorizer = string_prop(auth, "DefaultAuthorizer");
        if let Some(name) = &default_authorizer
            && !authorizers.contains_key(name)
        {
            return Err(TemplateError::UnknownReference {
                resource: format!("{logical_id}.Auth.DefaultAuthorizer"),
                name: name.clone(),
            });
        }
    }
    let api = HttpApi {
        logical_id: logical_id.to_owned(),
        name: string_prop(&props, "Name").unwrap_or_else(|| logical_id.to_owned()),
        api_id: scope.resources[logical_id].reference.clone(),
        stage: string_prop(&props, "StageName").unwrap_or_else(|| "$default".to_owned()),
        routes: Vec::new(),
        authorizers,
        cors: props
            .get("CorsConfiguration")
            .map(|value| cors(logical_id, value, true))
            .transpose()?
            .flatten(),
    };
    Ok((api, default_authorizer))
}

fn sam_authorizer(
    site: &str,
    name: &str,
    config: &Map<String, Value>,
    functions: &BTreeMap<String, Function>,
) -> Result<HttpAuthorizer, TemplateError> {
    if let Some(jwt) = config.get("JwtConfiguration").and_then(Value::as_object) {
        let source = string_prop(config, "IdentitySource")
            .unwrap_or_else(|| "$request.header.Authorization".to_owned());
        return Ok(HttpAuthorizer::Jwt {
            name: name.to_owned(),
            issuer: string_prop(jwt, "issuer")
                .ok_or_else(|| invalid(site, "JwtConfiguration needs an issuer"))?,
            audience: list(jwt.get("audience")),
            identity_source: identity_source(site, &source)?,
        });
    }
    let Some(arn) = string_prop(config, "FunctionArn") else {
        return Err(invalid(
            site,
            "an authorizer needs JwtConfiguration (JWT) or FunctionArn (Lambda)",
        ));
    };
    let (payload_format, simple_responses) = authorizer_format(site, config)?;
    let identity = config.get("Identity").and_then(Value::as_object);
    let mut identity_sources = Vec::new();
    if let Some(identity) = identity {
        for header in list(identity.get("Headers")) {
            identity_sources.push(IdentitySource::Header(header));
        }
        for query in list(identity.get("QueryStrings")) {
            identity_sources.push(IdentitySource::QueryString(query));
        }
    }
    Ok(HttpAuthorizer::Lambda {
        name: name.to_owned(),
        function: function_for_uri(site, &arn, functions)?,
        payload_format,
        simple_responses,
        identity_sources,
    })
}

/// A Lambda authorizer's `AuthorizerPayloadFormatVersion` and
/// `EnableSimpleResponses` (simple responses need format 2.0).
fn authorizer_format(
    site: &str,
    config: &Map<String, Value>,
) -> Result<(PayloadFormat, bool), TemplateError> {
    let format = payload_format(site, string_prop(config, "AuthorizerPayloadFormatVersion"))?;
    let simple = is_true(config, "EnableSimpleResponses");
    if simple && format == PayloadFormat::V1 {
        return Err(invalid(
            site,
            "EnableSimpleResponses needs AuthorizerPayloadFormatVersion 2.0",
        ));
    }
    Ok((format, simple))
}

impl EventApi for HttpApi {
    const IMPLICIT: &'static str = IMPLICIT_HTTP_API;

    fn implicit(name: String, api_id: String) -> Self {
        HttpApi {
            logical_id: Self::IMPLICIT.to_owned(),
            name,
            api_id,
            stage: "$default".to_owned(),
            routes: Vec::new(),
            authorizers: BTreeMap::new(),
            cors: None,
        }
    }
}

/// The functions' `HttpApi` events, as routes of their APIs.
fn sam_events(
    active: &Resources<'_>,
    scope: &Scope,
    functions: &BTreeMap<String, Function>,
    apis: &mut BTreeMap<String, HttpApi>,
    defaults: &BTreeMap<String, Option<String>>,
) -> Result<(), TemplateError> {
    let by_id: BTreeMap<String, String> = apis
        .values()
        .map(|api| (api.api_id.clone(), api.logical_id.clone()))
        .collect();
    let empty = Map::new();
    for_each_event(
        active,
        scope,
        functions,
        "HttpApi",
        |site, props, function| {
            let props = props.unwrap_or(&empty);
            let api = event_api(&site, props, "ApiId", &by_id, apis, scope)?;
            let (path, method) = match (string_prop(props, "Path"), string_prop(props, "Method")) {
                (None, None) => ("$default".to_owned(), "ANY".to_owned()),
                (Some(path), Some(method)) => (path, method.to_uppercase()),
                _ => {
                    return Err(invalid(
                        &site,
                        "an HttpApi event names both Path and Method, or neither (the $default route)",
                    ));
                }
            };
            let format =
                string_prop(props, "PayloadFormatVersion").unwrap_or_else(|| "2.0".to_owned());
            let auth = props.get("Auth").and_then(Value::as_object);
            let named = auth.and_then(|a| string_prop(a, "Authorizer"));
            let authorizer = match named.as_deref() {
                Some("NONE") => None,
                Some(name) => Some(name.to_owned()),
                None => defaults.get(&api.logical_id).cloned().flatten(),
            };
            if let Some(name) = &authorizer
                && !api.authorizers.contains_key(name)
            {
                return Err(TemplateError::UnknownReference {
                    resource: format!("{site}.Auth.Authorizer"),
                    name: name.clone(),
                });
            }
            let route = HttpRoute {
                path,
                method,
                function: function.logical_id.clone(),
                payload_format: payload_format(&site, Some(format))?,
                timeout: millis(&site, props)?.unwrap_or(SAM_HTTP_EVENT_TIMEOUT),
                authorizer,
                scopes: auth
                    .map(|a| list(a.get("AuthorizationScopes")))
                    .unwrap_or_default(),
            };
            add_route(&site, api, route)
        },
    )
}

fn add_route(site: &str, api: &mut HttpApi, route: HttpRoute) -> Result<(), TemplateError> {
    if route.path != "$default" {
        if !METHODS.contains(&route.method.as_str()) {
            return Err(invalid(site, format!("Method {:?}", route.method)));
        }
        super::rest::check_path(site, &route.path)?;
    }
    if api.routes.iter().any(|r| r.key() == route.key()) {
        return Err(invalid(
            site,
            format!(
                "route {} is declared twice on {}",
                route.key(),
                api.logical_id
            ),
        ));
    }
    api.routes.push(route);
    Ok(())
}

mod raw;

#[cfg(test)]
mod tests;
