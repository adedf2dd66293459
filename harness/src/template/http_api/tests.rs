//! Tests of the HTTP API reader: a SAM template, the backend template's two
//! HTTP APIs (one per style), and what it refuses.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::template::{LoadOptions, Template, load_file, load_str};

const SAM: &str = r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageName: v1
      CorsConfiguration: true
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt:
            JwtConfiguration:
              issuer: https://issuer.example
              audience: [app-1, app-2]
            IdentitySource: $request.header.Authorization
          Key:
            FunctionArn: !GetAtt Authorizer.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity:
              Headers: [x-key]
              QueryStrings: [k]
  Authorizer:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: rust-cargolambda, BuildProperties: {Binary: auth}}
    Properties: {FunctionName: auth, CodeUri: ., Runtime: provided.al2023, Handler: bootstrap}
  Handler:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: rust-cargolambda, BuildProperties: {Binary: handler}}
    Properties:
      FunctionName: handler
      CodeUri: .
      Runtime: provided.al2023
      Handler: bootstrap
      Events:
        Items:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: "/items/{id}", Method: get}
        Open:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /health, Method: GET, Auth: {Authorizer: NONE}}
        Keyed:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Path: /keyed
            Method: POST
            PayloadFormatVersion: "1.0"
            TimeoutInMillis: 12000
            Auth: {Authorizer: Key}
        Fallback:
          Type: HttpApi
          Properties: {ApiId: !Ref Api}
        Implicit:
          Type: HttpApi
"#;

fn sam() -> Template {
    load_str(SAM, &LoadOptions::default()).unwrap()
}

fn route<'a>(api: &'a HttpApi, key: &str) -> &'a HttpRoute {
    api.routes
        .iter()
        .find(|r| r.key() == key)
        .unwrap_or_else(|| panic!("no route {key}"))
}

#[test]
fn a_sam_http_api_keeps_stage_cors_authorizers_and_routes() {
    let template = sam();
    let api = &template.http_apis["Api"];
    assert_eq!(api.stage, "v1");
    assert_eq!(api.cors.as_ref().unwrap().allow_origins, ["*"]);
    assert_eq!(
        api.authorizers["Jwt"],
        HttpAuthorizer::Jwt {
            name: "Jwt".into(),
            issuer: "https://issuer.example".into(),
            audience: vec!["app-1".into(), "app-2".into()],
            identity_source: IdentitySource::Header("Authorization".into()),
        }
    );
    assert_eq!(
        api.authorizers["Key"],
        HttpAuthorizer::Lambda {
            name: "Key".into(),
            function: "Authorizer".into(),
            payload_format: PayloadFormat::V2,
            simple_responses: true,
            identity_sources: vec![
                IdentitySource::Header("x-key".into()),
                IdentitySource::QueryString("k".into()),
            ],
        }
    );
    let items = route(api, "GET /items/{id}");
    assert_eq!(
        items.authorizer.as_deref(),
        Some("Jwt"),
        "the default authorizer"
    );
    assert_eq!(items.payload_format, PayloadFormat::V2);
    assert_eq!(items.timeout, SAM_HTTP_EVENT_TIMEOUT);
    assert_eq!(
        route(api, "GET /health").authorizer,
        None,
        "Authorizer: NONE"
    );
    let keyed = route(api, "POST /keyed");
    assert_eq!(keyed.authorizer.as_deref(), Some("Key"));
    assert_eq!(keyed.payload_format, PayloadFormat::V1);
    assert_eq!(keyed.timeout, Duration::from_secs(12));
    assert_eq!(route(api, "$default").function, "Handler");
    let implicit = &template.http_apis[IMPLICIT_HTTP_API];
    assert_eq!(implicit.stage, "$default");
    assert_eq!(implicit.routes.len(), 1);
    assert_eq!(implicit.routes[0].key(), "$default");
}

fn backend() -> Template {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../backend/template.yaml");
    load_file(
        &path,
        &LoadOptions::with_overrides(&[("EnableDiagnostics", "true")]),
    )
    .unwrap()
}

#[test]
fn the_backend_declares_seed_003s_http_api_the_sam_way() {
    let template = backend();
    let api = &template.http_apis["IeltsHttpApi"];
    assert_eq!(api.stage, "$default");
    assert_eq!(api.routes.len(), 1);
    let default = route(api, "$default");
    assert_eq!(default.function, "IeltsHttpFunction");
    assert_eq!(default.timeout, HTTP_INTEGRATION_TIMEOUT);
    assert_eq!(default.payload_format, PayloadFormat::V2);
    let cors = api.cors.as_ref().unwrap();
    assert_eq!(
        cors.allow_origins,
        ["https://ieltsaiprep.com", "https://www.ieltsaiprep.com"]
    );
    assert_eq!(cors.max_age, Some(3600));
}

#[test]
fn the_backend_declares_the_echo_http_api_as_raw_cloudformation() {
    let template = backend();
    let api = &template.http_apis["EchoHttpApi"];
    assert_eq!(api.stage, "production");
    let keys: Vec<String> = api.routes.iter().map(HttpRoute::key).collect();
    for key in [
        "$default",
        "ANY /jwt/{proxy+}",
        "GET /scoped",
        "ANY /key/{proxy+}",
        "ANY /v1/{proxy+}",
        "ANY /short/{proxy+}",
    ] {
        assert!(keys.contains(&key.to_owned()), "{key}: {keys:?}");
    }
    assert_eq!(route(api, "$default").timeout, HTTP_INTEGRATION_TIMEOUT);
    assert_eq!(
        route(api, "ANY /short/{proxy+}").timeout,
        Duration::from_secs(1)
    );
    assert_eq!(
        route(api, "ANY /v1/{proxy+}").payload_format,
        PayloadFormat::V1
    );
    assert_eq!(route(api, "GET /scoped").scopes, ["probe:read"]);
    assert_eq!(
        route(api, "ANY /key/{proxy+}").authorizer.as_deref(),
        Some("EchoHttpKeyAuthorizer")
    );
    let HttpAuthorizer::Jwt {
        issuer, audience, ..
    } = &api.authorizers["EchoHttpJwtAuthorizer"]
    else {
        panic!("a JWT authorizer");
    };
    assert_eq!(issuer, "https://identity.speechgate.local");
    assert_eq!(audience, &["speechgate-chat"]);
    let HttpAuthorizer::Lambda {
        function,
        simple_responses,
        ..
    } = &api.authorizers["EchoHttpKeyAuthorizer"]
    else {
        panic!("a Lambda authorizer");
    };
    assert_eq!(function, "EchoFunction");
    assert!(simple_responses);
    // Its routes and integrations are not mistaken for the WebSocket API's.
    assert!(!template.websocket_apis.contains_key("EchoHttpApi"));
    let plain = load_file(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../backend/template.yaml"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert!(!plain.http_apis.contains_key("EchoHttpApi"), "a diagnostic");
}

/// A raw HTTP API whose CUSTOM route names a JWT authorizer.
fn raw_mismatch() -> String {
    r#"
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: rust-cargolambda, BuildProperties: {Binary: f}}
    Properties: {FunctionName: f, CodeUri: ., Runtime: provided.al2023, Handler: bootstrap}
  Raw:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: raw, ProtocolType: HTTP}
  Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Raw, IntegrationType: AWS_PROXY, IntegrationUri: !GetAtt Fn.Arn, PayloadFormatVersion: "2.0"}
  Jwt:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref Raw
      AuthorizerType: JWT
      IdentitySource: [$request.header.Authorization]
      JwtConfiguration: {Issuer: https://issuer.example, Audience: [a]}
  Route:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Raw
      RouteKey: GET /x
      AuthorizationType: CUSTOM
      AuthorizerId: !Ref Jwt
      Target: !Join ["/", [integrations, !Ref Integration]]
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Raw, StageName: $default}
"#
    .to_owned()
}

/// The SAM template with one line replaced.
fn sam_with(from: &str, to: &str) -> String {
    assert!(SAM.contains(from), "{from}");
    SAM.replacen(from, to, 1)
}

#[test]
fn mistakes_are_refused_with_their_place_and_cause() {
    let raw_api = r#"
Resources:
  Raw:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: raw, ProtocolType: HTTP}
"#;
    let cases = [
        (
            sam_with("Path: /health, Method: GET,", "Path: /health,"),
            "both Path and Method",
        ),
        (
            sam_with("Auth: {Authorizer: Key}", "Auth: {Authorizer: Nobody}"),
            "Nobody",
        ),
        (
            sam_with("TimeoutInMillis: 12000", "TimeoutInMillis: 30001"),
            "30001",
        ),
        (
            sam_with(
                "PayloadFormatVersion: \"1.0\"",
                "PayloadFormatVersion: \"3.0\"",
            ),
            "3.0",
        ),
        (
            sam_with(
                "AuthorizerPayloadFormatVersion: \"2.0\"",
                "AuthorizerPayloadFormatVersion: \"1.0\"",
            ),
            "EnableSimpleResponses",
        ),
        (
            sam_with(
                "CorsConfiguration: true",
                "CorsConfiguration: {AllowOrigins: ['*'], AllowCredentials: true}",
            ),
            "credentials",
        ),
        (
            sam_with("StageName: v1", "StageName: v1\n      DefinitionBody: {}"),
            "DefinitionBody",
        ),
        (
            sam_with(
                "IdentitySource: $request.header.Authorization",
                "IdentitySource: $context.identity.sourceIp",
            ),
            "$context.identity.sourceIp",
        ),
        (raw_api.to_owned(), "no AWS::ApiGatewayV2::Stage"),
        (raw_mismatch(), "does not match authorizer"),
    ];
    for (text, cause) in cases {
        let error = load_str(&text, &LoadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains(cause), "{cause}: {error}");
    }
}
