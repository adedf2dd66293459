//! REST APIs as SAM declares them: `AWS::Serverless::Api` resources (stage,
//! `Cors`, `EndpointConfiguration`, `BinaryMediaTypes`) and the functions'
//! `Events` of `Type: Api` (`Path`, `Method`, `RestApiId`) that give them
//! their routes. An `Api` event without `RestApiId` belongs to SAM's implicit
//! `ServerlessRestApi` (stage `Prod`), as `sam deploy` creates it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::build::{Resources, invalid, kind, properties, required_string, string_prop};
use super::intrinsics::{Scope, scalar_string};
use super::model::{Function, RestApi, RestCors, RestRoute};
use super::{TemplateError, short_id};

/// API Gateway's integration timeout for REST APIs (29 s, the default maximum).
pub(super) const REST_INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);

/// The methods a route may name (`ANY` stands for all of them).
pub(super) const METHODS: [&str; 8] = [
    "ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
];

/// Builds every REST API of the template with its routes.
pub(super) fn rest_apis(
    active: &Resources<'_>,
    scope: &Scope,
    functions: &BTreeMap<String, Function>,
) -> Result<BTreeMap<String, RestApi>, TemplateError> {
    let mut apis = BTreeMap::new();
    let mut by_id = BTreeMap::new();
    for (logical_id, resource) in active {
        match kind(resource) {
            "AWS::Serverless::Api" => {
                let api = serverless_api(logical_id, resource, scope)?;
                by_id.insert(api.api_id.clone(), api.logical_id.clone());
                apis.insert(api.logical_id.clone(), api);
            }
            "AWS::ApiGateway::RestApi" => {
                return Err(TemplateError::Unsupported {
                    resource: (*logical_id).to_owned(),
                    construct: "AWS::ApiGateway::RestApi (declare REST APIs as AWS::Serverless::Api with function Api events)".to_owned(),
                });
            }
            _ => {}
        }
    }
    for_each_event(active, scope, functions, "Api", |site, props, function| {
        let props = props.ok_or_else(|| invalid(&site, "an Api event needs Properties"))?;
        let route = route(&site, props, &function.logical_id)?;
        let api = event_api(&site, props, "RestApiId", &by_id, &mut apis, scope)?;
        if api
            .routes
            .iter()
            .any(|r| r.path == route.path && r.method == route.method)
        {
            return Err(invalid(
                &site,
                format!(
                    "{} {} is declared twice on {}",
                    route.method, route.path, api.logical_id
                ),
            ));
        }
        api.routes.push(route);
        Ok(())
    })?;
    for api in apis.values_mut() {
        api.routes
            .sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
    }
    Ok(apis)
}

/// Calls `visit` for each of the functions' `Events` of type `event_type`,
/// with its site (`Function.Events.Name`) and `Properties`.
pub(super) fn for_each_event(
    active: &Resources<'_>,
    scope: &Scope,
    functions: &BTreeMap<String, Function>,
    event_type: &str,
    mut visit: impl FnMut(String, Option<&Map<String, Value>>, &Function) -> Result<(), TemplateError>,
) -> Result<(), TemplateError> {
    for function in functions.values() {
        let resource = active[function.logical_id.as_str()];
        let props = properties(&function.logical_id, resource, scope)?;
        let Some(events) = props.get("Events").and_then(Value::as_object) else {
            continue;
        };
        for (event_name, event) in events {
            if event.get("Type").and_then(Value::as_str) == Some(event_type) {
                let site = format!("{}.Events.{event_name}", function.logical_id);
                visit(
                    site,
                    event.get("Properties").and_then(Value::as_object),
                    function,
                )?;
            }
        }
    }
    Ok(())
}

/// An API that SAM function events add routes to.
pub(super) trait EventApi: Sized {
    /// The logical id SAM gives the API it creates for events without an API id.
    const IMPLICIT: &'static str;
    /// That implicit API, named after the stack.
    fn implicit(name: String, api_id: String) -> Self;
}

/// The API an event names by id in `id_prop`, or else SAM's implicit API,
/// made on first use.
pub(super) fn event_api<'a, A: EventApi>(
    site: &str,
    props: &Map<String, Value>,
    id_prop: &str,
    by_id: &BTreeMap<String, String>,
    apis: &'a mut BTreeMap<String, A>,
    scope: &Scope,
) -> Result<&'a mut A, TemplateError> {
    let logical_id = match string_prop(props, id_prop) {
        Some(id) => by_id
            .get(&id)
            .ok_or_else(|| TemplateError::UnknownReference {
                resource: site.to_owned(),
                name: id,
            })?,
        None => A::IMPLICIT,
    };
    Ok(apis.entry(logical_id.to_owned()).or_insert_with(|| {
        let stack = scope
            .pseudo
            .get("AWS::StackName")
            .and_then(Value::as_str)
            .unwrap_or("local");
        A::implicit(
            stack.to_owned(),
            short_id(&format!("{stack}/{}", A::IMPLICIT), 10),
        )
    }))
}

/// Refuses the properties `names` of a resource of type `on`.
pub(super) fn reject(
    logical_id: &str,
    props: &Map<String, Value>,
    names: &[&str],
    on: &str,
) -> Result<(), TemplateError> {
    match names.iter().find(|name| props.contains_key(**name)) {
        Some(name) => Err(TemplateError::Unsupported {
            resource: logical_id.to_owned(),
            construct: format!("{name} on {on}"),
        }),
        None => Ok(()),
    }
}

/// Whether `map[name]` is `true` (or `"true"`).
pub(super) fn is_true(map: &Map<String, Value>, name: &str) -> bool {
    map.get(name).and_then(scalar_string).as_deref() == Some("true")
}

impl EventApi for RestApi {
    const IMPLICIT: &'static str = "ServerlessRestApi";

    fn implicit(name: String, api_id: String) -> Self {
        RestApi {
            logical_id: Self::IMPLICIT.to_owned(),
            name,
            api_id,
            stage: "Prod".to_owned(),
            endpoint_type: "EDGE".to_owned(),
            routes: Vec::new(),
            cors: None,
            binary_media_types: Vec::new(),
            integration_timeout: REST_INTEGRATION_TIMEOUT,
        }
    }
}

fn serverless_api(
    logical_id: &str,
    resource: &Map<String, Value>,
    scope: &Scope,
) -> Result<RestApi, TemplateError> {
    let props = properties(logical_id, resource, scope)?;
    reject(
        logical_id,
        &props,
        &["DefinitionBody", "DefinitionUri", "Auth"],
        "AWS::Serverless::Api",
    )?;
    let endpoint_type = match props.get("EndpointConfiguration") {
        None => "EDGE".to_owned(),
        Some(Value::Object(config)) => {
            string_prop(config, "Type").unwrap_or_else(|| "EDGE".to_owned())
        }
        Some(other) => scalar_string(other).ok_or_else(|| {
            invalid(
                logical_id,
                "EndpointConfiguration is a type name or {Type: ...}",
            )
        })?,
    };
    if !matches!(endpoint_type.as_str(), "EDGE" | "REGIONAL" | "PRIVATE") {
        return Err(invalid(
            logical_id,
            format!("EndpointConfiguration type {endpoint_type:?}"),
        ));
    }
    let binary_media_types = props
        .get("BinaryMediaTypes")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(scalar_string)
                .map(|t| t.replace("~1", "/"))
                .collect()
        })
        .unwrap_or_default();
    Ok(RestApi {
        logical_id: logical_id.to_owned(),
        name: string_prop(&props, "Name").unwrap_or_else(|| logical_id.to_owned()),
        api_id: scope.resources[logical_id].reference.clone(),
        stage: required_string(logical_id, &props, "StageName")?,
        endpoint_type,
        routes: Vec::new(),
        cors: props
            .get("Cors")
            .map(|cors| cors_config(logical_id, cors))
            .transpose()?,
        binary_media_types,
        integration_timeout: REST_INTEGRATION_TIMEOUT,
    })
}

/// A SAM CORS value: `'quoted'` strings (the quotes are API Gateway mapping
/// syntax for a literal) split on commas.
fn sam_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(scalar_string)
        .map(|text| {
            text.trim()
                .trim_matches('\'')
                .split(',')
                .map(|item| item.trim().to_owned())
                .filter(|item| !item.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn cors_config(logical_id: &str, cors: &Value) -> Result<RestCors, TemplateError> {
    let config = match cors {
        Value::Object(map) => map.clone(),
        origin => {
            let mut map = Map::new();
            map.insert("AllowOrigin".to_owned(), origin.clone());
            map
        }
    };
    let allow_origins = sam_list(config.get("AllowOrigin"));
    if allow_origins.is_empty() {
        return Err(invalid(logical_id, "Cors needs AllowOrigin"));
    }
    let max_age = sam_list(config.get("MaxAge"))
        .first()
        .map(|text| {
            text.parse::<u32>()
                .map_err(|_| invalid(logical_id, format!("Cors MaxAge {text:?} is not a number")))
        })
        .transpose()?;
    let mut allow_methods = sam_list(config.get("AllowMethods"));
    if allow_methods.is_empty() {
        // SAM's default: every method the API's routes use, plus OPTIONS.
        allow_methods = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
            .map(str::to_owned)
            .to_vec();
    }
    Ok(RestCors {
        allow_origins,
        allow_methods: allow_methods.iter().map(|m| m.to_uppercase()).collect(),
        allow_headers: sam_list(config.get("AllowHeaders")),
        max_age,
        allow_credentials: is_true(&config, "AllowCredentials"),
    })
}

fn route(
    site: &str,
    props: &Map<String, Value>,
    function: &str,
) -> Result<RestRoute, TemplateError> {
    let path = required_string(site, props, "Path")?;
    let method = required_string(site, props, "Method")?.to_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(invalid(site, format!("Method {method:?}")));
    }
    check_path(site, &path)?;
    if props.contains_key("Auth") {
        return Err(TemplateError::Unsupported {
            resource: site.to_owned(),
            construct: "Auth on an Api event".to_owned(),
        });
    }
    Ok(RestRoute {
        path,
        method,
        function: function.to_owned(),
    })
}

/// A resource path: `/`, or segments that are literals or `{name}`, where
/// only the last may be greedy (`{name+}`).
pub(super) fn check_path(site: &str, path: &str) -> Result<(), TemplateError> {
    if path == "/" {
        return Ok(());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(invalid(site, format!("Path {path:?} must start with /")));
    };
    let segments: Vec<&str> = rest.split('/').collect();
    for (index, segment) in segments.iter().enumerate() {
        let greedy = segment.starts_with('{') && segment.ends_with("+}");
        let variable = segment.starts_with('{') && segment.ends_with('}');
        let well_formed = if variable {
            let name = segment.trim_start_matches('{').trim_end_matches('}');
            let name = name.trim_end_matches('+');
            !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_')
        } else {
            !segment.is_empty() && !segment.contains(['{', '}'])
        };
        if !well_formed || (greedy && index + 1 != segments.len()) {
            return Err(invalid(
                site,
                format!("Path {path:?} is not a resource path"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sam_cors_values_are_unquoted_and_split() {
        let cors = cors_config(
            "Api",
            &json!({
                "AllowOrigin": "'https://a.example,https://b.example'",
                "AllowMethods": "'GET,post'",
                "AllowHeaders": "'Content-Type,Authorization'",
                "MaxAge": "'600'",
            }),
        )
        .unwrap();
        assert_eq!(
            cors.allow_origins,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(cors.allow_methods, ["GET", "POST"]);
        assert_eq!(cors.allow_headers, ["Content-Type", "Authorization"]);
        assert_eq!(cors.max_age, Some(600));
        let plain = cors_config("Api", &json!("'*'")).unwrap();
        assert_eq!(plain.allow_origins, ["*"]);
        assert!(cors_config("Api", &json!({"MaxAge": "'1'"})).is_err());
        assert!(cors_config("Api", &json!({"AllowOrigin": "'*'", "MaxAge": "'x'"})).is_err());
    }

    #[test]
    fn resource_paths() {
        for good in ["/", "/{proxy+}", "/users/{id}", "/a/b/{rest+}"] {
            assert!(check_path("F", good).is_ok(), "{good}");
        }
        for bad in ["", "users", "/{proxy+}/x", "/a//b", "/{}", "/a{b}"] {
            assert!(check_path("F", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn backend_template_declares_the_ielts_rest_api_and_its_tables() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../backend/template.yaml");
        let template =
            super::super::load_file(&path, &super::super::LoadOptions::default()).unwrap();
        let api = &template.rest_apis["IeltsRestApi"];
        assert_eq!(api.stage, "prod");
        assert_eq!(api.endpoint_type, "REGIONAL");
        assert_eq!(api.integration_timeout, REST_INTEGRATION_TIMEOUT);
        let routes: Vec<(&str, &str, &str)> = api
            .routes
            .iter()
            .map(|r| (r.method.as_str(), r.path.as_str(), r.function.as_str()))
            .collect();
        assert!(routes.contains(&("ANY", "/", "IeltsHttpFunction")));
        assert!(routes.contains(&("ANY", "/{proxy+}", "IeltsHttpFunction")));
        let cors = api.cors.as_ref().unwrap();
        assert_eq!(
            cors.allow_origins,
            ["https://ieltsaiprep.com", "https://www.ieltsaiprep.com"]
        );
        assert_eq!(
            cors.allow_methods,
            ["GET", "POST", "PUT", "DELETE", "OPTIONS"]
        );
        assert_eq!(
            cors.allow_headers,
            ["Content-Type", "Authorization", "X-Requested-With"]
        );
        assert_eq!(cors.max_age, Some(3600));
        let function = template.function("IeltsHttpFunction").unwrap();
        assert_eq!(function.binary, "http-api");
        assert_eq!(function.function_name, "ielts-ai-prep-production");
        let tables: Vec<&str> = template
            .tables
            .values()
            .map(|t| t.table_name.as_str())
            .collect();
        for name in [
            "ielts-genai-prep-users",
            "ielts-genai-prep-sessions",
            "ielts-genai-prep-assessments",
            "ielts-genai-prep-qr-tokens",
            "ielts-genai-prep-entitlements",
            "ielts-assessment-questions",
            "ielts-assessment-rubrics",
            "ielts-ai-safety-logs",
            "ielts-content-reports",
        ] {
            assert!(tables.contains(&name), "{name}");
        }
        let users = &template.tables["UsersTable"];
        assert_eq!(users.global_indexes[0].name, "email-index");
        let qr = &template.tables["QrTokensTable"];
        assert_eq!(qr.ttl_attribute.as_deref(), Some("expires_at"));
    }
}
