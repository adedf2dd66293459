//! The API Gateway HTTP API emulator end to end, with real function binaries:
//! seed 003's IELTS HTTP API (`AWS::Serverless::HttpApi`, stage `$default`,
//! payload format 2.0) and the echo probe's HTTP API (raw
//! `AWS::ApiGatewayV2` resources, named stage): event shapes in formats 1.0
//! and 2.0, answers in every form format 2.0 allows, the gateway's errors and
//! timeout, CORS, JWT and Lambda authorizers, and metering.

use std::time::Duration;

use crate::support::http::{Api, http_options};
use crate::support::*;
use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use harness::gateway::meters::HttpApiKind;
use mocks::identity::{Signer, TokenSpec};
use serde_json::{Value, json};

const ECHO: &str = "EchoHttpApi";

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the gateway's own error answer.
    fn gateway_error(&self, status: u16, message: &str) {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.json(), json!({"message": message}));
        assert!(self.header("apigw-requestid").is_some());
    }
}

async fn send(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut request = client.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .body(body.to_owned())
        .send()
        .await
        .expect("answered");
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

/// An RS256 token from the identity mock's current key, its standard claims
/// for `alice` edited by `edit`.
fn token_with(identity: &mocks::identity::IdentityMock, edit: impl FnOnce(&mut Value)) -> String {
    let mut claims = identity.claims("alice", 3600);
    edit(&mut claims);
    identity
        .mint(&TokenSpec {
            alg: "RS256".into(),
            kid: Some(identity.current_kid()),
            claims,
            signer: Signer::Rsa(identity.current_kid()),
        })
        .unwrap()
}

/// The event the echo function received, from its answer.
fn echoed(reply: &Reply) -> Value {
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()
}

#[tokio::test]
async fn the_echo_http_api_delivers_both_payload_formats_and_maps_every_answer() {
    let stack = start(options(1.0)).await;
    let api = stack.http_api(ECHO).expect("the echo HTTP API runs");
    let base = api.url();
    assert!(base.ends_with("/production"), "named stage: {base}");

    // Format 2.0: rawPath keeps the stage, the route is $default, cookies
    // leave the headers, repeated query values are joined.
    let reply = send(
        "POST",
        &format!("{base}/items/7?tag=a&tag=b"),
        &[
            ("content-type", "application/json"),
            ("cookie", "session=s1; theme=dark"),
        ],
        r#"{"n":1}"#,
    )
    .await;
    let event = echoed(&reply);
    let typed: ApiGatewayV2httpRequest =
        serde_json::from_value(event.clone()).expect("a format 2.0 event");
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "$default");
    assert_eq!(event["rawPath"], "/production/items/7");
    assert_eq!(event["rawQueryString"], "tag=a&tag=b");
    assert_eq!(event["queryStringParameters"]["tag"], "a,b");
    assert_eq!(event["cookies"], json!(["session=s1", "theme=dark"]));
    assert!(event["headers"].get("cookie").is_none());
    assert_eq!(event["body"], r#"{"n":1}"#);
    assert_eq!(event["requestContext"]["stage"], "production");
    assert_eq!(event["requestContext"]["http"]["method"], "POST");
    assert_eq!(
        typed.request_context.http.path.as_deref(),
        Some("/production/items/7")
    );
    assert!(reply.header("apigw-requestid").is_some());

    // Format 1.0 on the /v1 route.
    let v1 = echoed(&send("GET", &format!("{base}/v1/x?a=1"), &[], "").await);
    assert_eq!(v1["version"], "1.0");
    assert_eq!(v1["resource"], "/v1/{proxy+}");
    assert_eq!(v1["requestContext"]["routeKey"], "ANY /v1/{proxy+}");
    assert_eq!(v1["multiValueQueryStringParameters"]["a"], json!(["1"]));

    // Answers format 2.0 allows.
    let bare = send("GET", &format!("{base}/bare"), &[], "").await;
    assert_eq!(bare.status, 200);
    assert_eq!(bare.header("content-type"), Some("application/json"));
    assert_eq!(bare.json(), json!({"probe": "bare"}));
    let text = send("GET", &format!("{base}/text"), &[], "").await;
    assert_eq!(text.body, b"plain words");
    let cookies = send("GET", &format!("{base}/cookies"), &[], "").await;
    assert_eq!(cookies.status, 201);
    let set: Vec<&str> = cookies
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(set, ["a=1; Path=/", "b=2"]);

    // The gateway's own answers.
    send("GET", &format!("{base}/malformed"), &[], "")
        .await
        .gateway_error(500, "Internal Server Error");
    send("GET", &format!("{base}/fail"), &[], "")
        .await
        .gateway_error(500, "Internal Server Error");
    send("GET", &format!("{base}/short/sleep?ms=3000"), &[], "")
        .await
        .gateway_error(503, "Service Unavailable");
    let quick = send("GET", &format!("{base}/short/sleep?ms=10"), &[], "").await;
    assert_eq!(quick.status, 200, "a sleep inside the 1 s timeout answers");
    let outside = send("GET", &format!("http://{}/staging/x", api.addr()), &[], "").await;
    outside.gateway_error(404, "Not Found");
    let too_large = send(
        "POST",
        &format!("{base}/x"),
        &[],
        &"a".repeat(10 * 1024 * 1024 + 1),
    )
    .await;
    too_large.gateway_error(413, "Request Entity Too Large");

    // CORS: the gateway answers preflights and replaces the function's headers.
    let preflight = send(
        "OPTIONS",
        &format!("{base}/anything"),
        &[
            ("origin", "https://ieltsaiprep.com"),
            ("access-control-request-method", "POST"),
        ],
        "",
    )
    .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://ieltsaiprep.com")
    );
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("GET,POST")
    );
    assert_eq!(preflight.header("access-control-max-age"), Some("600"));
    let from_site = send(
        "GET",
        &format!("{base}/x"),
        &[("origin", "https://ieltsaiprep.com")],
        "",
    )
    .await;
    assert_eq!(
        from_site.header("access-control-allow-origin"),
        Some("https://ieltsaiprep.com"),
        "the API's CORS replaces the function's access-control-allow-origin"
    );
    assert_eq!(
        from_site.header("access-control-expose-headers"),
        Some("apigw-requestid")
    );
    // A function's own 204 gets them too.
    let empty = send(
        "GET",
        &format!("{base}/empty"),
        &[("origin", "https://ieltsaiprep.com")],
        "",
    )
    .await;
    assert_eq!(empty.status, 204);
    assert_eq!(
        empty.header("access-control-allow-origin"),
        Some("https://ieltsaiprep.com")
    );
    let from_elsewhere = send(
        "GET",
        &format!("{base}/x"),
        &[("origin", "https://evil.example")],
        "",
    )
    .await;
    assert!(
        from_elsewhere
            .header("access-control-allow-origin")
            .is_none()
    );

    let meters = stack.stop_metered().await;
    let reading = &meters.http_apis[ECHO];
    assert_eq!(reading.kind, HttpApiKind::Http);
    // 10 MB and one byte is 21 units of 512 KB; every other request is one.
    assert!(reading.units >= reading.requests + 20, "{reading:?}");
}

#[tokio::test]
async fn jwt_and_lambda_authorizers_guard_their_routes() {
    let stack = start(options(1.0)).await;
    let base = stack.http_api(ECHO).unwrap().url();
    let identity = &stack.mocks().identity;
    let bearer = |token: &str| format!("Bearer {token}");

    // JWT: no token, a malformed one, an HS256 one, a wrong audience: 401.
    let missing = send("GET", &format!("{base}/jwt/me"), &[], "").await;
    missing.gateway_error(401, "Unauthorized");
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
    let garbage = send(
        "GET",
        &format!("{base}/jwt/me"),
        &[("authorization", "Bearer x.y")],
        "",
    )
    .await;
    garbage.gateway_error(401, "Unauthorized");
    assert!(
        garbage
            .header("www-authenticate")
            .unwrap()
            .contains("invalid_token")
    );
    let hs256 = bearer(&identity.hs256_token("alice").unwrap());
    send(
        "GET",
        &format!("{base}/jwt/me"),
        &[("authorization", &hs256)],
        "",
    )
    .await
    .gateway_error(401, "Unauthorized");
    let other_audience = token_with(identity, |c| c["aud"] = json!("someone-else"));
    send(
        "GET",
        &format!("{base}/jwt/me"),
        &[("authorization", &bearer(&other_audience))],
        "",
    )
    .await
    .gateway_error(401, "Unauthorized");
    let expired = token_with(identity, |c| {
        c["exp"] = json!(c["iat"].as_i64().unwrap() - 10)
    });
    send(
        "GET",
        &format!("{base}/jwt/me"),
        &[("authorization", &bearer(&expired))],
        "",
    )
    .await
    .gateway_error(401, "Unauthorized");

    // A valid RS256 token: the claims reach the function as strings.
    let valid = bearer(&identity.rs256_token("alice").unwrap());
    let event = echoed(
        &send(
            "GET",
            &format!("{base}/jwt/me"),
            &[("authorization", &valid)],
            "",
        )
        .await,
    );
    let jwt = &event["requestContext"]["authorizer"]["jwt"];
    assert_eq!(jwt["claims"]["sub"], "alice");
    assert!(jwt["claims"]["exp"].is_string(), "{jwt}");
    assert_eq!(event["routeKey"], "ANY /jwt/{proxy+}");

    // Scopes: the route wants probe:read.
    send(
        "GET",
        &format!("{base}/scoped"),
        &[("authorization", &valid)],
        "",
    )
    .await
    .gateway_error(403, "Forbidden");
    let scoped = token_with(identity, |c| c["scope"] = json!("profile probe:read"));
    let event = echoed(
        &send(
            "GET",
            &format!("{base}/scoped"),
            &[("authorization", &bearer(&scoped))],
            "",
        )
        .await,
    );
    assert_eq!(
        event["requestContext"]["authorizer"]["jwt"]["scopes"],
        json!(["profile", "probe:read"])
    );

    // Lambda authorizer with simple responses.
    let records_before = stack.lambda().records().len();
    send("GET", &format!("{base}/key/x"), &[], "")
        .await
        .gateway_error(401, "Unauthorized");
    assert_eq!(
        stack.lambda().records().len(),
        records_before,
        "a request without the identity source is refused without calling the authorizer"
    );
    send(
        "GET",
        &format!("{base}/key/x"),
        &[("x-probe-key", "deny-me")],
        "",
    )
    .await
    .gateway_error(403, "Forbidden");
    send(
        "GET",
        &format!("{base}/key/x"),
        &[("x-probe-key", "fail")],
        "",
    )
    .await
    .gateway_error(500, "Internal Server Error");
    let event = echoed(
        &send(
            "GET",
            &format!("{base}/key/x"),
            &[("x-probe-key", "allow-7")],
            "",
        )
        .await,
    );
    assert_eq!(
        event["requestContext"]["authorizer"]["lambda"],
        json!({"caller": "allow-7", "probe": "ws-echo"})
    );
    let labels: Vec<String> = stack
        .lambda()
        .records()
        .iter()
        .filter_map(|r| r.route.clone())
        .collect();
    assert!(
        labels.iter().any(|l| l == "authorizer probe-key"),
        "{labels:?}"
    );
    stack.stop().await;
}

#[tokio::test]
async fn seed_003s_api_runs_on_an_http_api() {
    let stack = start(http_options(1.0)).await;
    let ready = stack.endpoints();
    let printed = &ready["http_apis"]["IeltsHttpApi"];
    assert_eq!(printed["stage"], "$default");
    assert_eq!(printed["routes"], json!(["$default"]));
    let api = Api::of_http_api(&stack);
    assert_eq!(
        printed["url"],
        api.base.as_str(),
        "harness up prints the URL"
    );
    assert!(!api.base.ends_with('/'), "{}", api.base);
    let health = api.call("GET", "/api/health", None, None).await;
    assert_eq!(health.status, 200, "{}", health.json);
    let (token, user_id) = api
        .sign_up("candidate@example.com", "a long passphrase 1")
        .await;
    let profile = api.call("GET", "/api/profile", Some(&token), None).await;
    assert_eq!(profile.status, 200, "{}", profile.json);
    assert_eq!(profile.json["user"]["user_id"], user_id.as_str());
    // The function's errors pass through as its problem documents.
    let unknown = api.call("GET", "/api/no-such-route", None, None).await;
    unknown.problem(404);
    // The API's CORS configuration answers preflights.
    let preflight = api
        .raw(
            "OPTIONS",
            "/api/auth/login",
            &[
                ("origin", "https://www.ieltsaiprep.com"),
                ("access-control-request-method", "POST"),
            ],
            Vec::new(),
        )
        .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://www.ieltsaiprep.com")
    );
    let records = stack.lambda().records();
    assert!(
        records
            .iter()
            .filter_map(|r| r.event.as_ref())
            .any(|event| event["version"] == "2.0" && event["rawPath"] == "/api/profile"),
        "the function received format 2.0 events"
    );
    stack.stop().await;
}
