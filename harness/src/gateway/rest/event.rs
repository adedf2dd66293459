//! The Lambda proxy event (payload format 1.0) a REST API hands its
//! integrations, in the shape AWS sends: it deserializes as
//! `aws_lambda_events::apigw::ApiGatewayProxyRequest` (and so as
//! `lambda_http`'s REST request). Absent query strings, path parameters and
//! stage variables are `null`, as on AWS; `requestContext.path` carries the
//! stage (`/prod/api/health`), `path` does not.

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::gateway::events::{request_time, value_maps};

/// What the gateway knows about one request.
#[derive(Debug, Clone)]
pub(crate) struct ProxyRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path without the stage, percent-decoded (`/api/health`).
    pub path: &'a str,
    /// The matched resource (`/{proxy+}`).
    pub resource: &'a str,
    /// Path parameters of the match.
    pub path_parameters: &'a BTreeMap<String, String>,
    /// Request headers in arrival order (names as received).
    pub headers: &'a [(String, String)],
    /// Query parameters in arrival order, decoded.
    pub query: &'a [(String, String)],
    pub body: &'a [u8],
    /// Whether the body goes base64-encoded (its type is a binary media type).
    pub binary: bool,
    /// Client address.
    pub source_ip: &'a str,
}

/// Where the API lives.
#[derive(Debug, Clone)]
pub(crate) struct ApiFacts<'a> {
    pub api_id: &'a str,
    pub stage: &'a str,
    pub account_id: &'a str,
    /// `domainName` (host and port locally).
    pub domain_name: &'a str,
    /// The resource's id (stable per resource path).
    pub resource_id: &'a str,
}

/// The last value of a header, its name compared blind to case.
pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .rev()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The event for one request.
pub(crate) fn proxy_event(
    request: &ProxyRequest<'_>,
    api: &ApiFacts<'_>,
    request_id: &str,
    now: DateTime<Utc>,
) -> Value {
    let (headers, multi_headers) = value_maps(request.headers);
    let (query, multi_query) = if request.query.is_empty() {
        (Value::Null, Value::Null)
    } else {
        let (single, multi) = value_maps(request.query);
        (Value::Object(single), Value::Object(multi))
    };
    let path_parameters = if request.path_parameters.is_empty() {
        Value::Null
    } else {
        json!(request.path_parameters)
    };
    let body = if request.body.is_empty() {
        Value::Null
    } else if request.binary {
        json!(base64::engine::general_purpose::STANDARD.encode(request.body))
    } else {
        json!(String::from_utf8_lossy(request.body))
    };
    let stage_path = if request.path == "/" {
        format!("/{}/", api.stage)
    } else {
        format!("/{}{}", api.stage, request.path)
    };
    let identity = json!({
        "cognitoIdentityPoolId": null,
        "accountId": null,
        "cognitoIdentityId": null,
        "caller": null,
        "sourceIp": request.source_ip,
        "principalOrgId": null,
        "accessKey": null,
        "cognitoAuthenticationType": null,
        "cognitoAuthenticationProvider": null,
        "userArn": null,
        "userAgent": header(request.headers, "user-agent"),
        "user": null,
    });
    json!({
        "resource": request.resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_parameters,
        "stageVariables": null,
        "requestContext": {
            "resourceId": api.resource_id,
            "resourcePath": request.resource,
            "httpMethod": request.method,
            "extendedRequestId": request_id.replace('-', "").get(..16).unwrap_or(request_id),
            "requestTime": request_time(now),
            "path": stage_path,
            "accountId": api.account_id,
            "protocol": "HTTP/1.1",
            "stage": api.stage,
            "domainPrefix": api.domain_name.split('.').next().unwrap_or(api.domain_name),
            "requestTimeEpoch": now.timestamp_millis(),
            "requestId": request_id,
            "identity": identity,
            "domainName": api.domain_name,
            "deploymentId": api.resource_id,
            "apiId": api.api_id,
        },
        "body": body,
        "isBase64Encoded": request.binary,
    })
}

/// Every key path of a JSON value (`requestContext.identity.sourceIp`),
/// sorted; the keys `leaves` are not descended into.
#[cfg(test)]
pub(crate) fn key_paths(value: &Value, leaves: &[&str]) -> Vec<String> {
    fn walk(value: &Value, prefix: &str, leaves: &[&str], out: &mut Vec<String>) {
        if let Value::Object(map) = value {
            for (key, child) in map {
                let path = format!("{prefix}{key}");
                if !leaves.contains(&key.as_str()) {
                    walk(child, &format!("{path}."), leaves, out);
                }
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(value, "", leaves, &mut paths);
    paths.sort();
    paths
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::apigw::ApiGatewayProxyRequest;

    fn facts() -> ApiFacts<'static> {
        ApiFacts {
            api_id: "abcd123456",
            stage: "prod",
            account_id: "123456789012",
            domain_name: "127.0.0.1:4000",
            resource_id: "x1y2z3",
        }
    }

    /// A REST proxy event as AWS sends it (fixture named as aws-lambda-rust-runtime names theirs).
    const FIXTURE: &str = include_str!("fixtures/example-apigw-rest-proxy-request.json");

    #[test]
    fn the_fixture_and_our_event_deserialize_and_carry_the_same_fields() {
        let fixture_value: Value = serde_json::from_str(FIXTURE).unwrap();
        let fixture: ApiGatewayProxyRequest =
            serde_json::from_value(fixture_value.clone()).unwrap();
        let parameters: BTreeMap<String, String> =
            [("proxy".to_owned(), "api/auth/login".to_owned())].into();
        let headers = vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("User-Agent".to_owned(), "ielts-mobile/1.4.0".to_owned()),
        ];
        let query = vec![("lang".to_owned(), "en".to_owned())];
        let request = ProxyRequest {
            method: "POST",
            path: "/api/auth/login",
            resource: "/{proxy+}",
            path_parameters: &parameters,
            headers: &headers,
            query: &query,
            body: fixture.body.as_deref().unwrap().as_bytes(),
            binary: false,
            source_ip: "203.0.113.7",
        };
        let value = proxy_event(
            &request,
            &facts(),
            "5f0f2b3c-9d1e-4c2a-8b7f-0e6d5c4b3a21",
            Utc::now(),
        );
        let leaves = ["headers", "multiValueHeaders"];
        assert_eq!(
            key_paths(&value, &leaves),
            key_paths(&fixture_value, &leaves)
        );
        let ours: ApiGatewayProxyRequest = serde_json::from_value(value).unwrap();
        assert_eq!(ours.resource, fixture.resource);
        assert_eq!(ours.path, fixture.path);
        assert_eq!(ours.http_method, fixture.http_method);
        assert_eq!(ours.body, fixture.body);
        assert_eq!(ours.path_parameters, fixture.path_parameters);
        assert_eq!(
            ours.query_string_parameters,
            fixture.query_string_parameters
        );
        assert_eq!(
            ours.multi_value_query_string_parameters,
            fixture.multi_value_query_string_parameters
        );
        assert_eq!(
            ours.headers.get("content-type"),
            fixture.headers.get("content-type")
        );
        let (context, expected_context) = (&ours.request_context, &fixture.request_context);
        assert_eq!(context.resource_path, expected_context.resource_path);
        assert_eq!(context.request_id, expected_context.request_id);
        assert_eq!(context.path, expected_context.path);
        assert_eq!(context.stage, expected_context.stage);
        assert_eq!(
            context.identity.source_ip,
            expected_context.identity.source_ip
        );
        assert_eq!(
            context.identity.user_agent,
            expected_context.identity.user_agent
        );
        assert!(!ours.is_base64_encoded);
    }

    #[test]
    fn root_without_query_or_body_has_nulls_and_binary_bodies_are_base64() {
        let none = BTreeMap::new();
        let request = ProxyRequest {
            method: "GET",
            path: "/",
            resource: "/",
            path_parameters: &none,
            headers: &[],
            query: &[],
            body: b"",
            binary: false,
            source_ip: "127.0.0.1",
        };
        let value = proxy_event(&request, &facts(), "r", Utc::now());
        for key in [
            "queryStringParameters",
            "multiValueQueryStringParameters",
            "pathParameters",
            "stageVariables",
            "body",
        ] {
            assert!(value[key].is_null(), "{key}");
        }
        assert_eq!(value["requestContext"]["path"], "/prod/");
        let event: ApiGatewayProxyRequest = serde_json::from_value(value).unwrap();
        assert!(event.body.is_none());
        let binary = ProxyRequest {
            body: &[0xff, 0x00],
            binary: true,
            ..request
        };
        let value = proxy_event(&binary, &facts(), "r", Utc::now());
        assert_eq!(value["body"], "/wA=");
        assert_eq!(value["isBase64Encoded"], true);
    }

    #[test]
    fn repeated_query_keys_keep_the_last_single_value() {
        let none = BTreeMap::new();
        let query = vec![
            ("a".to_owned(), "1".to_owned()),
            ("a".to_owned(), "2".to_owned()),
        ];
        let request = ProxyRequest {
            method: "GET",
            path: "/x",
            resource: "/{proxy+}",
            path_parameters: &none,
            headers: &[],
            query: &query,
            body: b"",
            binary: false,
            source_ip: "127.0.0.1",
        };
        let value = proxy_event(&request, &facts(), "r", Utc::now());
        assert_eq!(value["queryStringParameters"]["a"], "2");
        assert_eq!(
            value["multiValueQueryStringParameters"]["a"],
            json!(["1", "2"])
        );
    }
}
