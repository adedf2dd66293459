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

/// Where a REQUEST authorizer reads its identity from.
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
    /// Tables by logical id.
    pub tables: BTreeMap<String, Table>,
}

impl Template {
    /// The function with this logical id.
    pub fn function(&self, logical_id: &str) -> Option<&Function> {
        self.functions.get(logical_id)
    }
}
