//! The `http-api` handler on API Gateway REST proxy events, as
//! aws-lambda-rust-runtime tests its handlers: a fixture event as AWS sends
//! it (the harness's `example-apigw-rest-proxy-request.json`) through
//! `lambda_http`'s own deserialization into `backend::http_api::handle`.
//! Only routes that answer before any AWS call are used here; the local
//! stack's tests cover the rest.

use std::path::Path;

use backend::credentials::GcpCredentials;
use backend::http_api::store::Tables;
use backend::http_api::{HttpDeps, Settings, handle};
use lambda_http::Body;
use serde_json::Value;

fn fixture() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../harness/src/gateway/rest/fixtures/example-apigw-rest-proxy-request.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn deps() -> HttpDeps {
    // Clients that could reach nothing: these requests must not need AWS.
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "a", "b", None, None, "test",
        ))
        .load()
        .await;
    let name = |n: &str| n.to_owned();
    let mut settings = Settings::from_env();
    settings.cors_origins = vec!["https://www.ieltsaiprep.com".into()];
    HttpDeps {
        db: aws_sdk_dynamodb::Client::new(&config),
        bedrock: aws_sdk_bedrockruntime::Client::new(&config),
        google_credentials: GcpCredentials::new(
            aws_sdk_secretsmanager::Client::new(&config),
            "google",
        ),
        http: reqwest::Client::new(),
        tables: Tables {
            users: name("users"),
            sessions: name("sessions"),
            assessments: name("assessments"),
            qr_tokens: name("qr"),
            entitlements: name("entitlements"),
            questions: name("questions"),
            rubrics: name("rubrics"),
            safety_logs: name("logs"),
            content_reports: name("reports"),
        },
        settings,
    }
}

async fn answer(event: &Value) -> (u16, http::HeaderMap, Value) {
    let request = lambda_http::request::from_str(&event.to_string()).expect("a REST proxy event");
    let response = handle(&deps().await, request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap(),
        Body::Empty => Value::Null,
        other => panic!("unexpected body {other:?}"),
    };
    (status, headers, body)
}

#[tokio::test]
async fn the_fixture_reaches_the_login_route_and_bad_json_is_a_problem() {
    let mut event = fixture();
    event["body"] = Value::String("{\"email\":".into());
    let (status, headers, body) = answer(&event).await;
    assert_eq!(status, 400);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(body["type"], "/problems/malformed-json");
    assert_eq!(body["instance"], "/api/auth/login");
}

#[tokio::test]
async fn index_unknown_routes_and_cors() {
    let mut event = fixture();
    event["httpMethod"] = "GET".into();
    event["path"] = "/".into();
    event["resource"] = "/".into();
    event["pathParameters"] = Value::Null;
    event["body"] = Value::Null;
    event["headers"]["Origin"] = "https://www.ieltsaiprep.com".into();
    event["multiValueHeaders"]["Origin"] = serde_json::json!(["https://www.ieltsaiprep.com"]);
    let (status, headers, body) = answer(&event).await;
    assert_eq!(status, 200);
    assert_eq!(body["service"], "ielts-ai-prep");
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://www.ieltsaiprep.com"
    );
    assert_eq!(headers["cache-control"], "no-store");

    event["path"] = "/api/unknown".into();
    let (status, _, body) = answer(&event).await;
    assert_eq!((status, body["title"].as_str()), (404, Some("Not found")));

    event["path"] = "/api/mobile/config".into();
    let (status, _, body) = answer(&event).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["api_base_url"],
        "https://k3l2m1n0p9.execute-api.us-east-1.amazonaws.com/prod"
    );

    event["path"] = "/api/profile".into();
    let (status, headers, _) = answer(&event).await;
    assert_eq!(status, 401);
    assert_eq!(headers["www-authenticate"], "Bearer");
}
