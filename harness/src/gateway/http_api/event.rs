//! The events an HTTP API hands its Lambda integrations and authorizers, in
//! the shapes AWS sends:
//!
//! - payload format 2.0 (`version`, `routeKey`, `rawPath` with the stage of a
//!   named stage, `rawQueryString` as sent, `cookies` out of the `cookie`
//!   header, lower-case `headers` and `queryStringParameters` with repeated
//!   values joined by commas, `requestContext.http`): it deserializes as
//!   `aws_lambda_events::apigw::ApiGatewayV2httpRequest`; keys without a
//!   value (no query, no body, no path parameters) are left out, as on AWS;
//! - payload format 1.0: the REST API's proxy event plus `version` and
//!   `requestContext.routeKey`;
//! - the Lambda authorizer's REQUEST event (format 2.0: the request's event
//!   without its body, plus `type`, `routeArn` and `identitySource`).

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::gateway::events::request_time;
use crate::gateway::rest::event::{ApiFacts, ProxyRequest, header, proxy_event};
use crate::gateway::rest::response::media_type;

/// What the gateway knows about one request.
#[derive(Debug, Clone)]
pub(crate) struct HttpRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// The path as received, with a named stage (`/prod/items/1`), still encoded.
    pub raw_path: &'a str,
    /// The path without the stage, percent-decoded (`/items/1`).
    pub path: &'a str,
    /// The query string as received (without `?`).
    pub raw_query: &'a str,
    /// Query parameters in arrival order, decoded.
    pub query: &'a [(String, String)],
    /// Request headers in arrival order.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    /// Client address.
    pub source_ip: &'a str,
}

/// Where the API lives and which route matched.
#[derive(Debug, Clone)]
pub(crate) struct RouteFacts<'a> {
    pub api_id: &'a str,
    /// Stage (`$default` or a name).
    pub stage: &'a str,
    pub account_id: &'a str,
    /// Region (for `routeArn`).
    pub region: &'a str,
    /// `domainName` (host and port locally).
    pub domain_name: &'a str,
    /// Route key (`GET /items/{id}`, `$default`).
    pub route_key: &'a str,
    /// The route's path (`/items/{id}`; `$default` for the default route).
    pub route_path: &'a str,
    /// Path parameters of the match.
    pub path_parameters: &'a BTreeMap<String, String>,
}

/// Pairs with repeated names joined by commas, in first-seen order of names.
fn joined(pairs: impl Iterator<Item = (String, String)>) -> Map<String, Value> {
    let mut map: Map<String, Value> = Map::new();
    for (name, value) in pairs {
        match map.get_mut(&name) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                map.insert(name, Value::String(value));
            }
        }
    }
    map
}

/// Whether HTTP APIs pass a body of this type as text (otherwise base64).
pub(crate) fn is_text(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return true;
    };
    let media = media_type(content_type);
    media.starts_with("text/")
        || media.ends_with("+json")
        || media.ends_with("+xml")
        || matches!(
            media.as_str(),
            "" | "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-www-form-urlencoded"
        )
}

/// The `cookie` header's cookies, one entry each.
fn cookies(headers: &[(String, String)]) -> Vec<String> {
    headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, value)| value.split(';'))
        .map(|cookie| cookie.trim().to_owned())
        .filter(|cookie| !cookie.is_empty())
        .collect()
}

fn request_context(
    request: &HttpRequest<'_>,
    route: &RouteFacts<'_>,
    request_id: &str,
    now: DateTime<Utc>,
) -> Value {
    json!({
        "accountId": route.account_id,
        "apiId": route.api_id,
        "domainName": route.domain_name,
        "domainPrefix": route.domain_name.split('.').next().unwrap_or(route.domain_name),
        "http": {
            "method": request.method,
            "path": request.raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": request.source_ip,
            "userAgent": header(request.headers, "user-agent").unwrap_or_default(),
        },
        "requestId": request_id,
        "routeKey": route.route_key,
        "stage": route.stage,
        "time": request_time(now),
        "timeEpoch": now.timestamp_millis(),
    })
}

/// The parts the request event and the authorizer event share.
fn common(
    request: &HttpRequest<'_>,
    route: &RouteFacts<'_>,
    request_id: &str,
    now: DateTime<Utc>,
) -> Map<String, Value> {
    let mut event = Map::new();
    event.insert("version".into(), json!("2.0"));
    event.insert("routeKey".into(), json!(route.route_key));
    event.insert("rawPath".into(), json!(request.raw_path));
    event.insert("rawQueryString".into(), json!(request.raw_query));
    let cookies = cookies(request.headers);
    if !cookies.is_empty() {
        event.insert("cookies".into(), json!(cookies));
    }
    let headers = joined(
        request
            .headers
            .iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("cookie"))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.clone())),
    );
    event.insert("headers".into(), Value::Object(headers));
    if !request.query.is_empty() {
        let query = joined(request.query.iter().cloned());
        event.insert("queryStringParameters".into(), Value::Object(query));
    }
    event.insert(
        "requestContext".into(),
        request_context(request, route, request_id, now),
    );
    if !route.path_parameters.is_empty() {
        event.insert("pathParameters".into(), json!(route.path_parameters));
    }
    event
}

/// The payload format 2.0 event; `authorizer` becomes `requestContext.authorizer`.
pub(crate) fn v2_event(
    request: &HttpRequest<'_>,
    route: &RouteFacts<'_>,
    authorizer: Option<&Value>,
    request_id: &str,
    now: DateTime<Utc>,
) -> Value {
    let mut event = common(request, route, request_id, now);
    if let Some(authorizer) = authorizer {
        event["requestContext"]["authorizer"] = authorizer.clone();
    }
    let binary = !is_text(header(request.headers, "content-type"));
    if !request.body.is_empty() {
        let body = if binary {
            base64::engine::general_purpose::STANDARD.encode(request.body)
        } else {
            String::from_utf8_lossy(request.body).into_owned()
        };
        event.insert("body".into(), json!(body));
    }
    event.insert(
        "isBase64Encoded".into(),
        json!(binary && !request.body.is_empty()),
    );
    Value::Object(event)
}

/// The payload format 1.0 event; `authorizer` becomes `requestContext.authorizer`.
pub(crate) fn v1_event(
    request: &HttpRequest<'_>,
    route: &RouteFacts<'_>,
    authorizer: Option<&Value>,
    request_id: &str,
    now: DateTime<Utc>,
) -> Value {
    let binary = !is_text(header(request.headers, "content-type"));
    let mut event = proxy_event(
        &ProxyRequest {
            method: request.method,
            path: request.raw_path,
            resource: route.route_path,
            path_parameters: route.path_parameters,
            headers: request.headers,
            query: request.query,
            body: request.body,
            binary,
            source_ip: request.source_ip,
        },
        &ApiFacts {
            api_id: route.api_id,
            stage: route.stage,
            account_id: route.account_id,
            domain_name: route.domain_name,
            resource_id: route.route_key,
        },
        request_id,
        now,
    );
    event["version"] = json!("1.0");
    event["requestContext"]["routeKey"] = json!(route.route_key);
    event["requestContext"]["path"] = json!(request.raw_path);
    if let Some(authorizer) = authorizer {
        event["requestContext"]["authorizer"] = authorizer.clone();
    }
    event
}

/// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}{path}`.
pub(crate) fn route_arn(request: &HttpRequest<'_>, route: &RouteFacts<'_>) -> String {
    format!(
        "arn:aws:execute-api:{}:{}:{}/{}/{}{}",
        route.region, route.account_id, route.api_id, route.stage, request.method, request.path
    )
}

/// The Lambda authorizer's REQUEST event, format 2.0.
pub(crate) fn v2_authorizer_event(
    request: &HttpRequest<'_>,
    route: &RouteFacts<'_>,
    identity: &[String],
    request_id: &str,
    now: DateTime<Utc>,
) -> Value {
    let mut event = common(request, route, request_id, now);
    event.insert("type".into(), json!("REQUEST"));
    event.insert("routeArn".into(), json!(route_arn(request, route)));
    event.insert("identitySource".into(), json!(identity));
    Value::Object(event)
}

/// The Lambda authorizer's REQUEST event, format 1.0 (the 1.0 request event
/// without its body, plus `type`, `methodArn` and `identitySource`).
pub(crate) fn v1_authorizer_event(
    request: &HttpRequest<'_>,
    route: &RouteFacts<'_>,
    identity: &[String],
    request_id: &str,
    now: DateTime<Utc>,
) -> Value {
    let mut event = v1_event(request, route, None, request_id, now);
    if let Value::Object(map) = &mut event {
        map.remove("body");
        map.remove("isBase64Encoded");
        map.insert("type".into(), json!("REQUEST"));
        map.insert("methodArn".into(), json!(route_arn(request, route)));
        map.insert("identitySource".into(), json!(identity.join(",")));
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::apigw::{
        ApiGatewayV2CustomAuthorizerV2Request, ApiGatewayV2httpRequest,
    };

    /// A format 2.0 event in the shape of AWS's documented example (our values).
    const REQUEST_FIXTURE: &str = include_str!("fixtures/example-apigw-v2-http-request.json");
    /// A format 2.0 Lambda authorizer event, likewise.
    const AUTHORIZER_FIXTURE: &str =
        include_str!("fixtures/example-apigw-v2-authorizer-request.json");

    /// Every key path of a JSON value, headers and claims taken as leaves.
    fn sorted_paths(value: &Value) -> Vec<String> {
        crate::gateway::rest::event::key_paths(value, &["headers", "claims"])
    }

    fn parameters() -> BTreeMap<String, String> {
        [("proxy".to_owned(), "auth/login".to_owned())].into()
    }

    fn headers() -> Vec<(String, String)> {
        vec![
            ("Content-Type".into(), "application/json".into()),
            ("User-Agent".into(), "ielts-mobile/1.4.0".into()),
            ("Cookie".into(), "session=s1; theme=dark".into()),
            ("X-Forwarded-For".into(), "203.0.113.7".into()),
            ("X-Forwarded-Port".into(), "443".into()),
            ("X-Forwarded-Proto".into(), "https".into()),
        ]
    }

    fn query() -> Vec<(String, String)> {
        vec![("lang".into(), "en".into()), ("lang".into(), "fr".into())]
    }

    fn request<'a>(
        headers: &'a [(String, String)],
        query: &'a [(String, String)],
        body: &'a [u8],
    ) -> HttpRequest<'a> {
        HttpRequest {
            method: "POST",
            raw_path: "/prod/api/auth/login",
            path: "/api/auth/login",
            raw_query: "lang=en&lang=fr",
            query,
            headers,
            body,
            source_ip: "203.0.113.7",
        }
    }

    fn route<'a>(parameters: &'a BTreeMap<String, String>) -> RouteFacts<'a> {
        RouteFacts {
            api_id: "abcd123456",
            stage: "prod",
            account_id: "123456789012",
            region: "us-east-1",
            domain_name: "abcd123456.execute-api.us-east-1.amazonaws.com",
            route_key: "POST /api/{proxy+}",
            route_path: "/api/{proxy+}",
            path_parameters: parameters,
        }
    }

    #[test]
    fn the_request_event_has_the_fixtures_keys_and_values() {
        let fixture: Value = serde_json::from_str(REQUEST_FIXTURE).unwrap();
        let typed: ApiGatewayV2httpRequest = serde_json::from_value(fixture.clone()).unwrap();
        let (headers, query, parameters) = (headers(), query(), parameters());
        let body = br#"{"email":"alice@example.com"}"#;
        let authorizer = &fixture["requestContext"]["authorizer"];
        let ours = v2_event(
            &request(&headers, &query, body),
            &route(&parameters),
            Some(authorizer),
            "LV7fzho-PHcEJPw=",
            Utc::now(),
        );
        assert_eq!(sorted_paths(&ours), sorted_paths(&fixture));
        for key in [
            "version",
            "routeKey",
            "rawPath",
            "rawQueryString",
            "cookies",
            "headers",
            "queryStringParameters",
            "pathParameters",
            "body",
            "isBase64Encoded",
        ] {
            assert_eq!(ours[key], fixture[key], "{key}");
        }
        for key in [
            "accountId",
            "apiId",
            "domainName",
            "domainPrefix",
            "http",
            "routeKey",
            "stage",
        ] {
            assert_eq!(
                ours["requestContext"][key], fixture["requestContext"][key],
                "{key}"
            );
        }
        let ours: ApiGatewayV2httpRequest = serde_json::from_value(ours).unwrap();
        assert_eq!(ours.raw_path, typed.raw_path);
        assert_eq!(ours.cookies, typed.cookies);
        assert_eq!(ours.body, typed.body);
        assert_eq!(ours.request_context.stage, typed.request_context.stage);
    }

    #[test]
    fn empty_parts_are_left_out_and_binary_bodies_are_base64() {
        let none = BTreeMap::new();
        let headers = vec![("content-type".to_owned(), "image/png".to_owned())];
        let mut facts = route(&none);
        facts.route_key = "$default";
        facts.stage = "$default";
        let bare = HttpRequest {
            raw_path: "/",
            path: "/",
            raw_query: "",
            ..request(&[], &[], b"")
        };
        let event = v2_event(&bare, &facts, None, "r", Utc::now());
        for absent in [
            "cookies",
            "queryStringParameters",
            "pathParameters",
            "body",
            "stageVariables",
        ] {
            assert!(event.get(absent).is_none(), "{absent}");
        }
        assert!(event["requestContext"].get("authorizer").is_none());
        assert_eq!(event["isBase64Encoded"], false);
        let binary = HttpRequest {
            headers: &headers,
            body: &[0xff, 0x00],
            ..bare
        };
        let event = v2_event(&binary, &facts, None, "r", Utc::now());
        assert_eq!(event["body"], "/wA=");
        assert_eq!(event["isBase64Encoded"], true);
    }

    #[test]
    fn the_authorizer_event_has_the_fixtures_keys_and_values() {
        let fixture: Value = serde_json::from_str(AUTHORIZER_FIXTURE).unwrap();
        let _: ApiGatewayV2CustomAuthorizerV2Request =
            serde_json::from_value(fixture.clone()).unwrap();
        let (query, parameters) = (query(), parameters());
        let headers = vec![
            ("Content-Type".into(), "application/json".into()),
            ("User-Agent".into(), "ielts-mobile/1.4.0".into()),
            ("Cookie".into(), "session=s1; theme=dark".into()),
            ("X-Api-Key".into(), "key-1".into()),
        ];
        let ours = v2_authorizer_event(
            &request(&headers, &query, b"ignored"),
            &route(&parameters),
            &["key-1".to_owned()],
            "LV7fzho-PHcEJPw=",
            Utc::now(),
        );
        assert_eq!(sorted_paths(&ours), sorted_paths(&fixture));
        for key in ["type", "routeArn", "identitySource", "headers", "cookies"] {
            assert_eq!(ours[key], fixture[key], "{key}");
        }
        let _: ApiGatewayV2CustomAuthorizerV2Request = serde_json::from_value(ours).unwrap();
    }

    #[test]
    fn the_v1_event_is_the_rest_event_with_a_version_and_the_route_key() {
        let (headers, query, parameters) = (headers(), query(), parameters());
        let event = v1_event(
            &request(&headers, &query, b"{}"),
            &route(&parameters),
            None,
            "r",
            Utc::now(),
        );
        assert_eq!(event["version"], "1.0");
        assert_eq!(event["requestContext"]["routeKey"], "POST /api/{proxy+}");
        assert_eq!(event["path"], "/prod/api/auth/login");
        assert_eq!(
            event["multiValueQueryStringParameters"]["lang"],
            json!(["en", "fr"])
        );
        let _: aws_lambda_events::apigw::ApiGatewayProxyRequest =
            serde_json::from_value(event).unwrap();
    }

    #[test]
    fn text_types_stay_text() {
        for text in [
            None,
            Some("application/json; charset=utf-8"),
            Some("text/html"),
            Some("application/ld+json"),
        ] {
            assert!(is_text(text), "{text:?}");
        }
        for binary in ["image/png", "application/octet-stream", "audio/wav"] {
            assert!(!is_text(Some(binary)), "{binary}");
        }
    }
}
