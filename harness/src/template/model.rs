//! The typed view of backend/template.yaml that the local stack runs:
//! functions with their binaries and settings, WebSocket APIs with their
//! routes and authorizers, REST APIs with their proxy routes and CORS, and
//! DynamoDB tables with keys, indexes and TTL.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// Instruction set a function runs on; it decides the GB-second price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    /// `x86_64` (the CloudFormation default).
    X86_64,
    /// `arm64` (Graviton).
    Arm64,
}

impl Architecture {
    /// The name CloudFormation uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

/// One Lambda function (`AWS::Serverless::Function`).
#[derive(Debug, Clone, Serialize)]
pub struct Function {
    /// Logical id in the template.
    pub logical_id: String,
    /// Physical function name (`FunctionName`, or `{stack}-{logical id}`).
    pub function_name: String,
    /// The cargo binary that implements it (`Metadata.BuildProperties.Binary`).
    pub binary: String,
    /// Runtime (`provided.al2023` for Rust).
    pub runtime: String,
    /// Architecture from `Architectures`.
    pub architecture: Architecture,
    /// Configured memory in MB (billing and `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`).
    pub memory_mb: u32,
    /// Function timeout in scenario time (before any time scale).
    pub timeout: Duration,
    /// `Environment.Variables`, resolved.
    pub environment: BTreeMap<String, String>,
    /// `ReservedConcurrentExecutions`: a cap on concurrent instances.
    pub reserved_concurrency: Option<u32>,
}

/// Where a REQUEST authorizer reads its identity from (WebSocket APIs:
/// `route.request.header.NAME`; HTTP APIs: `$request.header.NAME`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum IdentitySource {
    /// `route.request.querystring.NAME`
    QueryString(String),
    /// `route.request.header.NAME`
    Header(String),
}

/// A Lambda REQUEST authorizer on `$connect`.
#[derive(Debug, Clone, Serialize)]
pub struct Authorizer {
    /// Logical id of the `AWS::ApiGatewayV2::Authorizer`.
    pub logical_id: String,
    /// Its physical id (what `AuthorizerId` refers to).
    pub authorizer_id: String,
    /// Logical id of the function that decides.
    pub function: String,
    /// Identity sources; any missing one refuses the connection with 401.
    pub identity_sources: Vec<IdentitySource>,
}

/// One route of a WebSocket API.
#[derive(Debug, Clone, Serialize)]
pub struct Route {
    /// Route key (`$connect`, `$default`, `start_speaking`, ...).
    pub key: String,
    /// Logical id of the function its integration invokes.
    pub function: String,
    /// Whether a `$default` route response sends the function's body back.
    pub two_way: bool,
    /// Integration timeout (50 ms to 29 s) in scenario time.
    pub integration_timeout: Duration,
    /// Authorizer (only meaningful on `$connect`).
    pub authorizer: Option<Authorizer>,
}

/// A WebSocket API (`AWS::ApiGatewayV2::Api` with `ProtocolType: WEBSOCKET`).
#[derive(Debug, Clone, Serialize)]
pub struct WebSocketApi {
    /// Logical id: the name `harness up` prints for it.
    pub logical_id: String,
    /// `Name` property.
    pub name: String,
    /// Physical API id (10 lowercase characters, as AWS makes them).
    pub api_id: String,
    /// `RouteSelectionExpression`, such as `$request.body.action`.
    pub route_selection_expression: String,
    /// Stage names from `AWS::ApiGatewayV2::Stage` resources.
    pub stages: Vec<String>,
    /// Routes by route key.
    pub routes: BTreeMap<String, Route>,
}

/// What a REST API's gateway answers CORS preflight requests with (SAM's
/// `Cors` on `AWS::Serverless::Api`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestCors {
    /// Origins allowed (`AllowOrigin`, a comma-separated list); `*` allows any.
    pub allow_origins: Vec<String>,
    /// Methods allowed (`AllowMethods`).
    pub allow_methods: Vec<String>,
    /// Request headers allowed (`AllowHeaders`).
    pub allow_headers: Vec<String>,
    /// How long browsers may cache a preflight answer, in seconds (`MaxAge`).
    pub max_age: Option<u32>,
    /// `AllowCredentials`.
    pub allow_credentials: bool,
}

/// One method on one resource of a REST API, integrated with a function
/// (a SAM function event of `Type: Api`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestRoute {
    /// Resource path: `/`, `/users/{id}` or a greedy `/{proxy+}`.
    pub path: String,
    /// HTTP method, or `ANY`.
    pub method: String,
    /// Logical id of the function its Lambda proxy integration invokes.
    pub function: String,
}

/// A REST API (`AWS::Serverless::Api`) with Lambda proxy integrations (payload format 1.0).
#[derive(Debug, Clone, Serialize)]
pub struct RestApi {
    /// Logical id: the name `harness up` prints for it.
    pub logical_id: String,
    /// `Name` property.
    pub name: String,
    /// Physical API id (10 lowercase characters).
    pub api_id: String,
    /// `StageName`.
    pub stage: String,
    /// `REGIONAL`, `EDGE` or `PRIVATE` (`EndpointConfiguration`).
    pub endpoint_type: String,
    /// Routes from the functions' `Api` events.
    pub routes: Vec<RestRoute>,
    /// CORS preflight answers, when configured.
    pub cors: Option<RestCors>,
    /// `BinaryMediaTypes`: request bodies of these types reach the function
    /// base64-encoded, and base64 response bodies are decoded for them.
    pub binary_media_types: Vec<String>,
    /// Integration timeout (REST APIs: 29 s) in scenario time.
    pub integration_timeout: Duration,
}

/// DynamoDB scalar attribute type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AttributeType {
    /// `S`
    S,
    /// `N`
    N,
    /// `B`
    B,
}

/// One key schema: a partition key and an optional sort key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeySchema {
    /// HASH attribute name.
    pub partition: String,
    /// RANGE attribute name.
    pub sort: Option<String>,
}

/// A secondary index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecondaryIndex {
    /// Index name (such as `userId-index`).
    pub name: String,
    /// Its keys.
    pub keys: KeySchema,
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub projection: String,
    /// For `INCLUDE`: the projected attributes.
    pub non_key_attributes: Vec<String>,
}

/// A DynamoDB table (`AWS::DynamoDB::Table` or `AWS::DynamoDB::GlobalTable`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    /// Logical id.
    pub logical_id: String,
    /// Physical table name.
    pub table_name: String,
    /// Attribute definitions used by keys and indexes.
    pub attributes: BTreeMap<String, AttributeType>,
    /// Primary key.
    pub keys: KeySchema,
    /// Global secondary indexes.
    pub global_indexes: Vec<SecondaryIndex>,
    /// Local secondary indexes.
    pub local_indexes: Vec<SecondaryIndex>,
    /// TTL attribute when `TimeToLiveSpecification.Enabled` is true.
    pub ttl_attribute: Option<String>,
    /// `PAY_PER_REQUEST` or `PROVISIONED`.
    pub billing_mode: String,
}

/// The event an HTTP API integration receives and the answer it expects
/// (`PayloadFormatVersion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PayloadFormat {
    /// `1.0`: the REST API's proxy event (plus `version`) and proxy response.
    #[serde(rename = "1.0")]
    V1,
    /// `2.0`: `rawPath`, `routeKey`, `cookies`; simple responses.
    #[serde(rename = "2.0")]
    V2,
}

/// An HTTP API authorizer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum HttpAuthorizer {
    /// A JWT authorizer: RS256 tokens checked against the issuer's keys.
    #[serde(rename = "JWT")]
    Jwt {
        /// Its name (SAM) or logical id (`AWS::ApiGatewayV2::Authorizer`).
        name: String,
        /// `JwtConfiguration.issuer`.
        issuer: String,
        /// `JwtConfiguration.audience`: `aud` or `client_id` must be one of them.
        audience: Vec<String>,
        /// Where the token is (one source, usually the `Authorization` header).
        identity_source: IdentitySource,
    },
    /// A Lambda (REQUEST) authorizer.
    #[serde(rename = "REQUEST")]
    Lambda {
        /// Its name or logical id.
        name: String,
        /// Logical id of the authorizer function.
        function: String,
        /// The event it receives (`AuthorizerPayloadFormatVersion`).
        payload_format: PayloadFormat,
        /// `EnableSimpleResponses`: `{"isAuthorized", "context"}` instead of an IAM policy.
        simple_responses: bool,
        /// Every source must be present, or the caller gets 401 unasked.
        identity_sources: Vec<IdentitySource>,
    },
}

impl HttpAuthorizer {
    /// The authorizer's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Jwt { name, .. } | Self::Lambda { name, .. } => name,
        }
    }
}

/// One route of an HTTP API: `METHOD /path` or `$default`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpRoute {
    /// Path (`/items/{id}`, greedy `/{proxy+}`), or `$default`.
    pub path: String,
    /// HTTP method or `ANY` (`ANY` for `$default`).
    pub method: String,
    /// Logical id of the function its integration invokes.
    pub function: String,
    /// The integration's payload format.
    pub payload_format: PayloadFormat,
    /// The integration timeout (at most 30 s) in scenario time.
    pub timeout: Duration,
    /// The authorizer's name, if the route is authorized.
    pub authorizer: Option<String>,
    /// `AuthorizationScopes` a JWT must carry one of (none: any token).
    pub scopes: Vec<String>,
}

impl HttpRoute {
    /// The route key as API Gateway writes it (`GET /items/{id}`, `$default`).
    pub fn key(&self) -> String {
        if self.path == "$default" {
            "$default".to_owned()
        } else {
            format!("{} {}", self.method, self.path)
        }
    }
}

/// An HTTP API's CORS configuration (`CorsConfiguration`): API Gateway answers
/// preflight requests itself and sets the CORS headers of every answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpCors {
    /// `AllowOrigins` (`*` allows any).
    pub allow_origins: Vec<String>,
    /// `AllowMethods` (`*` allows any).
    pub allow_methods: Vec<String>,
    /// `AllowHeaders` (`*` allows any).
    pub allow_headers: Vec<String>,
    /// `ExposeHeaders`.
    pub expose_headers: Vec<String>,
    /// `MaxAge` in seconds.
    pub max_age: Option<u32>,
    /// `AllowCredentials`.
    pub allow_credentials: bool,
}

/// An HTTP API (`AWS::Serverless::HttpApi`, or `AWS::ApiGatewayV2::Api` with
/// `ProtocolType: HTTP`) with Lambda proxy integrations.
#[derive(Debug, Clone, Serialize)]
pub struct HttpApi {
    /// Logical id.
    pub logical_id: String,
    /// `Name`.
    pub name: String,
    /// Physical API id (10 characters).
    pub api_id: String,
    /// The stage: `$default` (served at the root) or a name (served under `/{name}`).
    pub stage: String,
    /// Routes, sorted by path then method.
    pub routes: Vec<HttpRoute>,
    /// Authorizers by name.
    pub authorizers: BTreeMap<String, HttpAuthorizer>,
    /// CORS, when configured.
    pub cors: Option<HttpCors>,
}

/// Everything the local stack reads from the template.
#[derive(Debug, Clone, Serialize)]
pub struct Template {
    /// `Description`.
    pub description: Option<String>,
    /// Stack name used for generated physical names.
    pub stack_name: String,
    /// Region the stack pretends to be in.
    pub region: String,
    /// Account id the stack pretends to be in.
    pub account_id: String,
    /// Parameter values after defaults and overrides.
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// Functions by logical id.
    pub functions: BTreeMap<String, Function>,
    /// WebSocket APIs by logical id.
    pub websocket_apis: BTreeMap<String, WebSocketApi>,
    /// REST APIs by logical id.
    pub rest_apis: BTreeMap<String, RestApi>,
    /// HTTP APIs by logical id.
    pub http_apis: BTreeMap<String, HttpApi>,
    /// Tables by logical id.
    pub tables: BTreeMap<String, Table>,
}

impl Template {
    /// The function with this logical id.
    pub fn function(&self, logical_id: &str) -> Option<&Function> {
        self.functions.get(logical_id)
    }
}
