//! Tests of the template reader on small templates and on backend/template.yaml.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::*;

const SMALL: &str = r#"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Env: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Stage: {Type: String, Default: v1}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [!Condition IsProd]
Globals:
  Function:
    Runtime: provided.al2023
    MemorySize: 512
    Environment:
      Variables:
        GLOBAL: g
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${Env}-connections"
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: connectionId, AttributeType: S}
        - {AttributeName: userId, AttributeType: S}
      KeySchema: [{AttributeName: connectionId, KeyType: HASH}]
      GlobalSecondaryIndexes:
        - IndexName: userId-index
          KeySchema: [{AttributeName: userId, KeyType: HASH}]
          Projection: {ProjectionType: ALL}
      TimeToLiveSpecification: {AttributeName: ttl, Enabled: true}
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: chat, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations"
  AuthIntegration:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref Api
      Name: jwt
      AuthorizerType: REQUEST
      AuthorizerUri: !Join ["", ["arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/", !GetAtt AuthFn.Arn, "/invocations"]]
      IdentitySource: [route.request.querystring.token]
  ConnectRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: $connect
      AuthorizationType: CUSTOM
      AuthorizerId: !Ref AuthIntegration
      Target: !Sub integrations/${Integration}
  EchoRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: echo, Target: !Sub "integrations/${Integration}"}
  EchoResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties: {ApiId: !Ref Api, RouteId: !Ref EchoRoute, RouteResponseKey: $default}
  ProdOnlyRoute:
    Type: AWS::ApiGatewayV2::Route
    Condition: IsProd
    Properties: {ApiId: !Ref Api, RouteKey: prod_only, Target: !Sub "integrations/${Integration}"}
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Api, StageName: !Ref Stage}
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: rust-cargolambda, BuildProperties: {Binary: chat-message}}
    Properties:
      FunctionName: !Sub "${Env}-websocket-message"
      Architectures: [arm64]
      Timeout: 60
      ReservedConcurrentExecutions: 2
      Environment:
        Variables:
          TABLE: !Ref Table
          MODE: !If [NotProd, relaxed, !Ref "AWS::NoValue"]
          URL: !Sub "https://${Api}.execute-api.${AWS::Region}.amazonaws.com/${Stage}"
  AuthFn:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: rust-cargolambda, BuildProperties: {Binary: chat-authorizer}}
    Properties: {MemorySize: 128}
"#;

fn load(overrides: &[(&str, &str)]) -> Result<Template, TemplateError> {
    load_str(SMALL, &LoadOptions::with_overrides(overrides))
}

#[test]
fn functions_merge_globals_and_resolve_environment() {
    let template = load(&[]).unwrap();
    let function = template.function("Fn").unwrap();
    assert_eq!(function.function_name, "dev-websocket-message");
    assert_eq!(function.binary, "chat-message");
    assert_eq!(function.memory_mb, 512);
    assert_eq!(function.timeout, Duration::from_secs(60));
    assert_eq!(function.architecture, Architecture::Arm64);
    assert_eq!(function.reserved_concurrency, Some(2));
    let api_id = &template.websocket_apis["Api"].api_id;
    let expected: BTreeMap<String, String> = [
        ("GLOBAL", "g".to_owned()),
        ("TABLE", "dev-connections".to_owned()),
        ("MODE", "relaxed".to_owned()),
        (
            "URL",
            format!("https://{api_id}.execute-api.us-east-1.amazonaws.com/v1"),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(function.environment, expected);
    let auth = template.function("AuthFn").unwrap();
    assert_eq!(auth.function_name, "local-AuthFn");
    assert_eq!(auth.memory_mb, 128);
    assert_eq!(auth.timeout, Duration::from_secs(3));
    assert_eq!(auth.architecture, Architecture::X86_64);
}

#[test]
fn routes_integrations_authorizers_and_stages() {
    let template = load(&[]).unwrap();
    let api = &template.websocket_apis["Api"];
    assert_eq!(api.api_id.len(), 10);
    assert_eq!(api.stages, vec!["v1".to_owned()]);
    assert_eq!(
        api.routes.keys().collect::<Vec<_>>(),
        vec!["$connect", "echo"]
    );
    let connect = &api.routes["$connect"];
    assert_eq!(connect.function, "Fn");
    assert!(!connect.two_way);
    assert_eq!(connect.integration_timeout, Duration::from_secs(29));
    let authorizer = connect.authorizer.as_ref().unwrap();
    assert_eq!(authorizer.function, "AuthFn");
    assert_eq!(
        authorizer.identity_sources,
        vec![IdentitySource::QueryString("token".to_owned())]
    );
    assert!(api.routes["echo"].two_way);
}

#[test]
fn conditions_follow_parameter_overrides() {
    let template = load(&[("Env", "prod"), ("Stage", "live")]).unwrap();
    let api = &template.websocket_apis["Api"];
    assert!(api.routes.contains_key("prod_only"));
    assert_eq!(api.stages, vec!["live".to_owned()]);
    let function = template.function("Fn").unwrap();
    assert!(
        !function.environment.contains_key("MODE"),
        "AWS::NoValue drops the variable"
    );
    assert_eq!(template.tables["Table"].table_name, "prod-connections");
}

#[test]
fn tables_keep_keys_indexes_and_ttl() {
    let template = load(&[]).unwrap();
    let table = &template.tables["Table"];
    assert_eq!(
        table.keys,
        KeySchema {
            partition: "connectionId".into(),
            sort: None
        }
    );
    assert_eq!(table.global_indexes[0].name, "userId-index");
    assert_eq!(table.ttl_attribute.as_deref(), Some("ttl"));
    assert_eq!(table.billing_mode, "PAY_PER_REQUEST");
}

#[test]
fn parameter_errors() {
    let err = load(&[("Env", "qa")]).unwrap_err().to_string();
    assert!(err.contains("Env") && err.contains("qa"), "{err}");
    let err = load(&[("Nope", "1")]).unwrap_err().to_string();
    assert!(err.contains("Nope"), "{err}");
}

fn with_resource(extra: &str) -> String {
    format!("{SMALL}\n{extra}")
}

#[test]
fn unsupported_constructs_name_resource_and_construct() {
    let cases = [
        (
            "  Bad:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      TableName: !ImportValue shared-table\n      KeySchema: []\n",
            "Fn::ImportValue",
        ),
        (
            "  Bad:\n    Type: AWS::ApiGatewayV2::Integration\n    Properties: {ApiId: !Ref Api, IntegrationType: HTTP_PROXY, IntegrationUri: http://x}\n",
            "HTTP_PROXY",
        ),
        (
            "  Bad:\n    Type: AWS::Serverless::Function\n    Properties: {Runtime: python3.11}\n",
            "BuildMethod",
        ),
        (
            "  Bad:\n    Type: AWS::Serverless::Function\n    Metadata: {BuildMethod: rust-cargolambda, BuildProperties: {Binary: x}}\n    Properties: {Runtime: python3.11}\n",
            "python3.11",
        ),
        (
            "  Bad:\n    Type: AWS::ApiGatewayV2::Route\n    Properties: {ApiId: !Ref Api, RouteKey: x, Target: !Sub \"integrations/${Integration}\", AuthorizationType: AWS_IAM}\n",
            "AWS_IAM",
        ),
    ];
    for (resource, construct) in cases {
        let err = load_str(&with_resource(resource), &LoadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Bad") && err.contains(construct),
            "{construct}: {err}"
        );
    }
}

#[test]
fn other_transforms_are_refused() {
    let text = SMALL.replace(
        "Transform: AWS::Serverless-2016-10-31",
        "Transform: AWS::LanguageExtensions",
    );
    let err = load_str(&text, &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("LanguageExtensions"), "{err}");
}

fn backend_template() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../backend/template.yaml")
}

#[test]
fn backend_template_loads_with_and_without_diagnostics() {
    let plain = load_file(&backend_template(), &LoadOptions::default()).unwrap();
    assert!(plain.tables.contains_key("SessionsTable"));
    assert!(!plain.websocket_apis.contains_key("EchoWebSocketApi"));
    let options = LoadOptions {
        parameter_overrides: [("EnableDiagnostics".to_owned(), "true".to_owned())]
            .into_iter()
            .collect(),
        ..LoadOptions::default()
    };
    let diagnostics = load_file(&backend_template(), &options).unwrap();
    let echo = &diagnostics.websocket_apis["EchoWebSocketApi"];
    for route in [
        "$connect",
        "$disconnect",
        "$default",
        "echo",
        "inspect",
        "info",
        "kick",
        "send",
        "sleep",
        "fail",
        "crash",
    ] {
        assert_eq!(echo.routes[route].function, "EchoFunction", "{route}");
    }
    assert!(echo.routes["echo"].two_way);
    assert_eq!(
        diagnostics.function("EchoFunction").unwrap().binary,
        "ws-echo"
    );
}

/// The API of [`SMALL`] declared with SAM's `AWS::Serverless::WebSocketApi`.
const SAM_STYLE: &str = r#"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: v1}
Globals:
  Function:
    Runtime: provided.al2023
  WebSocketApi:
    RouteSelectionExpression: $request.body.action
Resources:
  Api:
    Type: AWS::Serverless::WebSocketApi
    Properties:
      Name: chat
      StageName: !Ref Stage
      Auth:
        AuthType: CUSTOM
        AuthArn: !GetAtt AuthFn.Arn
        IdentitySource: [route.request.querystring.token]
      Routes:
        $connect:
          FunctionArn: !GetAtt Fn.Arn
        echo:
          FunctionArn: !GetAtt Fn.Arn
          IntegrationTimeout: 5000
  EchoResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties: {ApiId: !Ref Api, RouteId: !Ref ApiEchoRoute, RouteResponseKey: $default}
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: rust-cargolambda, BuildProperties: {Binary: chat-message}}
    Properties:
      FunctionName: websocket-message
      Environment:
        Variables:
          URL: !Sub "https://${Api}.execute-api.${AWS::Region}.amazonaws.com/${Stage}"
  AuthFn:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: rust-cargolambda, BuildProperties: {Binary: chat-authorizer}}
    Properties: {MemorySize: 128}
"#;

#[test]
fn a_sam_websocket_api_reads_as_the_resources_sam_generates() {
    let sam = load_str(SAM_STYLE, &LoadOptions::default()).unwrap();
    let raw = load(&[]).unwrap();
    let (api, raw_api) = (&sam.websocket_apis["Api"], &raw.websocket_apis["Api"]);
    assert_eq!(api.name, "chat");
    assert_eq!(api.route_selection_expression, "$request.body.action");
    assert_eq!(api.stages, raw_api.stages, "StageName from the parameter");
    assert_eq!(
        api.routes.keys().collect::<Vec<_>>(),
        raw_api.routes.keys().collect::<Vec<_>>()
    );
    let connect = &api.routes["$connect"];
    assert_eq!(connect.function, "Fn");
    assert_eq!(connect.integration_timeout, Duration::from_secs(29));
    let authorizer = connect.authorizer.as_ref().expect("Auth lands on $connect");
    assert_eq!(authorizer.logical_id, "ApiConnectAuthorizer");
    assert_eq!(authorizer.function, "AuthFn");
    assert_eq!(
        authorizer.identity_sources,
        raw_api.routes["$connect"]
            .authorizer
            .as_ref()
            .unwrap()
            .identity_sources
    );
    let echo = &api.routes["echo"];
    assert!(echo.authorizer.is_none(), "Auth applies to $connect only");
    assert!(
        echo.two_way,
        "a RouteResponse reaches the generated route by SAM's logical id"
    );
    assert_eq!(echo.integration_timeout, Duration::from_millis(5000));
    assert_eq!(
        sam.function("Fn").unwrap().environment["URL"],
        format!(
            "https://{}.execute-api.us-east-1.amazonaws.com/v1",
            api.api_id
        ),
        "Ref gives the API id"
    );
}

#[test]
fn a_sam_websocket_api_is_refused_as_sam_refuses_it() {
    let api = |properties: &str| {
        format!(
            "Transform: AWS::Serverless-2016-10-31\nResources:\n  Api:\n    Type: AWS::Serverless::WebSocketApi\n    Properties:\n{properties}\n  Fn:\n    Type: AWS::Serverless::Function\n    Metadata: {{BuildMethod: rust-cargolambda, BuildProperties: {{Binary: x}}}}\n    Properties: {{Runtime: provided.al2023}}\n"
        )
    };
    let connect = "        $connect: {FunctionArn: !GetAtt Fn.Arn}\n";
    let cases = [
        (
            api(&format!("      Routes:\n{connect}")),
            "Missing required property 'RouteSelectionExpression'.",
        ),
        (
            api("      RouteSelectionExpression: $request.body.action\n"),
            "Missing required property 'Routes'.",
        ),
        (
            api(
                "      RouteSelectionExpression: $request.body.action\n      Routes:\n        start_speaking: {FunctionArn: !GetAtt Fn.Arn}\n",
            ),
            "Route key 'start_speaking' must be alphanumeric",
        ),
        (
            api(
                "      RouteSelectionExpression: $request.body.action\n      Routes:\n        $connect: {OperationName: Connect}\n",
            ),
            "Route must have associated function.",
        ),
        (
            api(
                "      RouteSelectionExpression: $request.body.action\n      Auth: {AuthType: NONE}\n      Routes:\n        send: {FunctionArn: !GetAtt Fn.Arn}\n",
            ),
            "Authorization is only available if there is a $connect route.",
        ),
        (
            api(&format!(
                "      RouteSelectionExpression: $request.body.action\n      Auth: {{AuthType: CUSTOM}}\n      Routes:\n{connect}"
            )),
            "AuthArn must be specified if AuthType is CUSTOM.",
        ),
        (
            api(&format!(
                "      RouteSelectionExpression: $request.body.action\n      StageName: $default\n      Routes:\n{connect}"
            )),
            "Stages cannot be named $default for WebSocket APIs.",
        ),
        (
            api(
                "      RouteSelectionExpression: $request.body.action\n      Routes:\n        send: {FunctionArn: !GetAtt Fn.Arn, RequestParameters: {x: {Required: true}}}\n",
            ),
            "Request parameters are only supported for the $connect route",
        ),
        (
            api(&format!(
                "      RouteSelectionExpression: $request.body.action\n      Auth: {{AuthType: AWS_IAM}}\n      Routes:\n{connect}"
            )),
            "AuthorizationType AWS_IAM",
        ),
        (
            format!(
                "{}  ApiConnectRoute:\n    Type: AWS::SNS::Topic\n",
                api(&format!(
                    "      RouteSelectionExpression: $request.body.action\n      Routes:\n{connect}"
                ))
            ),
            "SAM generates ApiConnectRoute, which the template already declares",
        ),
    ];
    for (template, expected) in cases {
        let error = load_str(&template, &LoadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{expected}: {error}");
    }
    let globals = api(&format!(
        "      RouteSelectionExpression: $request.body.action\n      Routes:\n{connect}"
    ))
    .replace(
        "Resources:",
        "Globals:\n  WebSocketApi:\n    Routes: {}\nResources:",
    );
    let error = load_str(&globals, &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("'Routes' is not a supported property"),
        "{error}"
    );
}

#[test]
fn the_buddy_api_is_declared_the_sam_way_and_keeps_its_routes() {
    let template = load_file(&backend_template(), &LoadOptions::default()).unwrap();
    let buddy = &template.websocket_apis["BuddyWebSocketApi"];
    let keys: Vec<&str> = buddy.routes.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "$connect",
            "$default",
            "$disconnect",
            "audioInput",
            "endSession",
            "initSession",
            "textInput"
        ]
    );
    assert!(buddy.routes.values().all(|r| r.function == "BuddyFunction"));
    let stage = template.parameters["StageName"].as_str().unwrap();
    assert_eq!(buddy.stages, vec![stage.to_owned()]);
}
