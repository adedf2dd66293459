//! The REST API emulator end to end: seed 002's function (`http-api`) behind
//! `ANY /` and `ANY /{proxy+}` (the proxy event as `ApiGatewayProxyRequest`,
//! CORS preflight for the seed's origins only, CORS on answers, the stage,
//! the 10 MB limit, unknown routes), and a bash function on the Runtime API
//! for what a well-behaved function never does (malformed responses, errors,
//! timeouts, binary bodies).

use std::path::Path;
use std::time::Duration;

use crate::support::http::{Api, REST_API, http_options};
use crate::support::*;
use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use harness::stack::LocalStack;
use serde_json::json;

#[tokio::test]
async fn seed_002_function_behind_the_rest_api() {
    let stack = start(http_options(1.0)).await;
    let api = Api::of(&stack);
    let ready = stack.endpoints();
    assert_eq!(ready["rest_apis"][REST_API]["stage"], "prod");
    assert_eq!(
        ready["rest_apis"][REST_API]["routes"],
        json!(["ANY /", "ANY /{proxy+}"])
    );

    let index = api.call("GET", "/", None, None).await;
    assert_eq!(index.status, 200);
    assert_eq!(index.json["service"], "ielts-ai-prep");
    let health = api
        .call("GET", "/api/health?probe=1&probe=2", None, None)
        .await;
    assert_eq!(health.status, 200, "{}", health.json);
    assert_eq!(health.json["checks"]["dynamodb"], "ok");
    assert_eq!(health.header("cache-control"), Some("no-store"));

    // The event the function got: the REST proxy shape.
    let records = stack.lambda().records();
    let record = records
        .iter()
        .find(|r| r.route.as_deref() == Some("GET /{proxy+}"))
        .expect("a proxy invocation");
    let event: ApiGatewayProxyRequest =
        serde_json::from_value(record.event.clone().unwrap()).expect("ApiGatewayProxyRequest");
    assert_eq!(event.path.as_deref(), Some("/api/health"));
    assert_eq!(event.resource.as_deref(), Some("/{proxy+}"));
    assert_eq!(event.path_parameters["proxy"], "api/health");
    assert_eq!(
        event.multi_value_query_string_parameters.all("probe"),
        Some(vec!["1", "2"])
    );
    assert_eq!(event.request_context.stage.as_deref(), Some("prod"));
    assert_eq!(
        event.request_context.path.as_deref(),
        Some("/prod/api/health")
    );
    assert_eq!(event.http_method, ::http::Method::GET);
    let root = records
        .iter()
        .find(|r| r.route.as_deref() == Some("GET /"))
        .unwrap();
    let root: ApiGatewayProxyRequest = serde_json::from_value(root.event.clone().unwrap()).unwrap();
    assert!(root.path_parameters.is_empty());

    // CORS: the gateway answers preflight for the seed's two origins only.
    for origin in ["https://ieltsaiprep.com", "https://www.ieltsaiprep.com"] {
        let preflight = api
            .raw(
                "OPTIONS",
                "/api/auth/login",
                &[
                    ("origin", origin),
                    ("access-control-request-method", "POST"),
                ],
                Vec::new(),
            )
            .await;
        assert_eq!(preflight.status, 200);
        assert_eq!(
            preflight.header("access-control-allow-origin"),
            Some(origin)
        );
        assert_eq!(
            preflight.header("access-control-allow-methods"),
            Some("GET,POST,PUT,DELETE,OPTIONS")
        );
        assert_eq!(
            preflight.header("access-control-allow-headers"),
            Some("Content-Type,Authorization,X-Requested-With")
        );
        assert_eq!(preflight.header("access-control-max-age"), Some("3600"));
    }
    let invocations = stack.lambda().records().len();
    let refused = api
        .raw(
            "OPTIONS",
            "/api/auth/login",
            &[("origin", "https://evil.example")],
            Vec::new(),
        )
        .await;
    assert!(refused.header("access-control-allow-origin").is_none());
    assert_eq!(
        stack.lambda().records().len(),
        invocations,
        "preflight never reaches the function"
    );
    let cors = api
        .raw(
            "GET",
            "/",
            &[("origin", "https://www.ieltsaiprep.com")],
            Vec::new(),
        )
        .await;
    assert_eq!(
        cors.header("access-control-allow-origin"),
        Some("https://www.ieltsaiprep.com")
    );
    let no_cors = api
        .raw(
            "GET",
            "/",
            &[("origin", "https://evil.example")],
            Vec::new(),
        )
        .await;
    assert!(no_cors.header("access-control-allow-origin").is_none());

    // The function's own 404 and 405 problems.
    api.call("GET", "/api/nothing-here", None, None)
        .await
        .problem(404);
    let wrong_method = api.call("DELETE", "/api/auth/login", None, None).await;
    wrong_method.problem(405);
    assert_eq!(wrong_method.header("allow"), Some("POST"));

    // API Gateway's own answers: another stage, a body over 10 MB.
    let root_url = api.base.trim_end_matches("/prod").to_owned();
    let other_stage = reqwest::get(format!("{root_url}/staging/api/health"))
        .await
        .unwrap();
    assert_eq!(other_stage.status(), 403);
    assert_eq!(
        other_stage.json::<serde_json::Value>().await.unwrap(),
        json!({"message": "Forbidden"})
    );
    let huge = api
        .raw(
            "POST",
            "/api/auth/login",
            &[("content-type", "application/json")],
            vec![b' '; 10 * 1024 * 1024 + 1],
        )
        .await;
    assert_eq!(huge.status, 413);
    assert_eq!(huge.json, json!({"message": "Request Too Long"}));
    // Over the function's own 64 KiB limit (and under the gateway's): a problem.
    let big = api
        .raw(
            "POST",
            "/api/auth/login",
            &[("content-type", "application/json")],
            vec![b' '; 70 * 1024],
        )
        .await;
    big.problem(413);
    stack.stop().await;
}

/// A stack whose only function is the bash probe behind a REST API.
async fn probe_stack(time_scale: f64) -> (LocalStack, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let probe = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rest-probe.sh");
    std::fs::copy(&probe, dir.path().join("rest-probe")).unwrap();
    let template = dir.path().join("template.yaml");
    std::fs::write(
        &template,
        r#"AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  ProbeApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: test
      BinaryMediaTypes: ["image~1png"]
  ProbeFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties:
        Binary: rest-probe
    Properties:
      Runtime: provided.al2023
      Handler: bootstrap
      Timeout: 30
      Events:
        Any:
          Type: Api
          Properties:
            RestApiId: !Ref ProbeApi
            Path: /{proxy+}
            Method: ANY
"#,
    )
    .unwrap();
    let mut options = harness::stack::StackOptions::new(&template);
    options.functions_dir = dir.path().to_path_buf();
    options.time_scale = harness::time_scale::TimeScale::new(time_scale).unwrap();
    (start(options).await, dir)
}

async fn get(url: &str, accept: Option<&str>) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn malformed_responses_errors_timeouts_and_binary_bodies() {
    // Scale 10: the 29 s integration timeout becomes 2.9 s, under /slow's 3 s.
    let (stack, _dir) = probe_stack(10.0).await;
    let base = stack.rest("ProbeApi").unwrap().url();
    let (status, headers, body) = get(&format!("{base}/hello"), None).await;
    assert_eq!(status, 200);
    assert_eq!(body, b"ok");
    let echoed: Vec<&str> = headers
        .get_all("x-echo")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(
        echoed,
        ["a", "b"],
        "headers and multiValueHeaders merge without duplicates"
    );
    let internal = json!({"message": "Internal server error"});
    let (status, _, body) = get(&format!("{base}/malformed"), None).await;
    assert_eq!(
        (
            status,
            serde_json::from_slice::<serde_json::Value>(&body).unwrap()
        ),
        (502, internal.clone())
    );
    let (status, _, body) = get(&format!("{base}/error"), None).await;
    assert_eq!(
        (
            status,
            serde_json::from_slice::<serde_json::Value>(&body).unwrap()
        ),
        (502, internal)
    );
    let (status, _, body) = get(&format!("{base}/binary"), Some("image/png")).await;
    assert_eq!((status, body), (200, vec![0xff, 0x00]));
    let finished_before = stack.lambda().records().len();
    let (status, _, body) = get(&format!("{base}/slow"), None).await;
    assert_eq!(status, 504);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
        json!({"message": "Endpoint request timed out"})
    );
    assert_eq!(
        stack.lambda().records().len(),
        finished_before,
        "the gateway answered while the invocation was still running"
    );
    assert!(
        eventually(Duration::from_secs(10), || stack.lambda().records().len()
            > finished_before)
        .await,
        "the invocation runs on after the gateway gave up"
    );
    let (status, _, _) = get(&format!("{base}/"), None).await;
    assert_eq!(status, 403, "no ANY / route: Missing Authentication Token");
    stack.stop().await;
}
