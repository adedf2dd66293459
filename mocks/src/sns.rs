//! An SNS mock speaking the awsQuery protocol as `aws-sdk-sns` does:
//! `POST /` with a form-encoded `Action=Publish|CreateTopic&Version=2010-03-31&...`
//! body, XML responses and `<ErrorResponse>` errors. It records every
//! published message (topic, subject, message, attributes, time) for tests
//! and the control API under `/_mock/sns/`, and takes faults on demand.
//!
//! Control API (JSON): `GET messages` (what [`SnsMock::messages`] returns),
//! `DELETE messages`, `GET topics`, `POST faults` with
//! `{"fault": "throttle"|"auth_error", "once": true}`, `DELETE faults`,
//! `POST strict` with `{"strict": true}` (publishing to a topic that was not
//! created then fails with `NotFound`; by default any topic ARN is accepted).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::server::Server;

/// The awsQuery namespace of SNS.
const XMLNS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";

/// The account id in topic ARNs the mock creates.
pub const ACCOUNT_ID: &str = "123456789012";

/// SNS's limit on a message body (256 KiB).
const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// One message attribute as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageAttribute {
    /// `String`, `Number`, `Binary`, `String.Array`.
    pub data_type: String,
    /// The value for string-like types.
    pub string_value: Option<String>,
    /// The base64 value for `Binary`.
    pub binary_value: Option<String>,
}

/// A message the mock accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedMessage {
    /// The id returned to the publisher.
    pub message_id: String,
    /// The topic (or target) ARN, or the phone number.
    pub topic_arn: String,
    /// The subject, if any.
    pub subject: Option<String>,
    /// The message body.
    pub message: String,
    /// Message attributes by name.
    pub attributes: BTreeMap<String, MessageAttribute>,
    /// When it was published (milliseconds since the Unix epoch).
    pub timestamp_ms: u64,
}

/// A fault to inject into Publish and CreateTopic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnsFault {
    /// HTTP 400 `Throttling` ("Rate exceeded").
    Throttle,
    /// HTTP 403 `AuthorizationError`.
    AuthError,
}

/// A fault and how long it stays armed: JSON `{"fault": "throttle", "once": true}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnsFaultRule {
    /// The fault.
    pub fault: SnsFault,
    /// Only the next request (else every request until cleared).
    #[serde(default)]
    pub once: bool,
}

#[derive(Debug, Default)]
struct SnsState {
    /// Accepted messages, oldest first.
    messages: Vec<PublishedMessage>,
    /// ARNs of topics created.
    topics: BTreeSet<String>,
    /// Refuse topics that were not created.
    strict_topics: bool,
    /// Armed faults; the first one applies.
    faults: Vec<SnsFaultRule>,
    /// Counter behind message and request ids.
    next_id: u64,
}

impl SnsState {
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("5ca1ab1e-0000-4000-8000-{:012x}", self.next_id)
    }

    fn take_fault(&mut self) -> Option<SnsFault> {
        let rule = *self.faults.first()?;
        if rule.once {
            self.faults.remove(0);
        }
        Some(rule.fault)
    }
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<SnsState>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, SnsState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running SNS mock.
#[derive(Debug)]
pub struct SnsMock {
    running: Server,
    shared: Arc<Shared>,
}

impl SnsMock {
    /// Starts serving on `127.0.0.1:port` (0 picks a free port). Any topic
    /// ARN is accepted until [`SnsMock::set_strict_topics`] is turned on.
    pub async fn start(port: u16) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let router = Router::new()
            .route("/", post(query_api))
            .route(
                "/_mock/sns/messages",
                get(list_messages).delete(clear_messages),
            )
            .route("/_mock/sns/topics", get(list_topics))
            .route("/_mock/sns/faults", post(add_fault).delete(clear_faults))
            .route("/_mock/sns/strict", post(set_strict))
            .with_state(Arc::clone(&shared));
        let running = Server::bind("SNS mock", ("127.0.0.1", port), router).await?;
        Ok(Self { running, shared })
    }

    /// `http://127.0.0.1:PORT`, the SDK's endpoint override.
    pub fn base_url(&self) -> String {
        self.running.base_url()
    }

    /// Every message published so far, oldest first.
    pub fn messages(&self) -> Vec<PublishedMessage> {
        self.shared.lock().messages.clone()
    }

    /// Forgets the recorded messages.
    pub fn clear_messages(&self) {
        self.shared.lock().messages.clear();
    }

    /// Topics created so far (their ARNs).
    pub fn topics(&self) -> Vec<String> {
        self.shared.lock().topics.iter().cloned().collect()
    }

    /// Registers a topic as if CreateTopic had been called (us-east-1); returns its ARN.
    pub fn create_topic(&self, name: &str) -> String {
        let arn = topic_arn("us-east-1", name);
        self.shared.lock().topics.insert(arn.clone());
        arn
    }

    /// When on, publishing to a topic that was not created fails with `NotFound`.
    pub fn set_strict_topics(&self, strict: bool) {
        self.shared.lock().strict_topics = strict;
    }

    /// Arms a fault.
    pub fn add_fault(&self, rule: SnsFaultRule) {
        self.shared.lock().faults.push(rule);
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Stops serving.
    pub async fn stop(self) {
        self.running.stop().await;
    }
}

fn topic_arn(region: &str, name: &str) -> String {
    format!("arn:aws:sns:{region}:{ACCOUNT_ID}:{name}")
}

/// Escapes text for XML element content.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// An awsQuery error.
#[derive(Debug, Clone, PartialEq, Eq)]
struct QueryError {
    status: StatusCode,
    sender_fault: bool,
    code: &'static str,
    message: String,
}

impl QueryError {
    fn invalid_parameter(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            sender_fault: true,
            code: "InvalidParameter",
            message: message.into(),
        }
    }

    fn from_fault(fault: SnsFault, action: &str) -> Self {
        match fault {
            SnsFault::Throttle => Self {
                status: StatusCode::BAD_REQUEST,
                sender_fault: true,
                code: "Throttling",
                message: "Rate exceeded".into(),
            },
            SnsFault::AuthError => Self {
                status: StatusCode::FORBIDDEN,
                sender_fault: true,
                code: "AuthorizationError",
                message: format!(
                    "User: arn:aws:iam::{ACCOUNT_ID}:user/mock is not authorized to perform: SNS:{action}"
                ),
            },
        }
    }

    fn into_response(self, request_id: &str) -> Response {
        let body = format!(
            "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>{}</Type><Code>{}</Code>\
             <Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
            if self.sender_fault {
                "Sender"
            } else {
                "Receiver"
            },
            self.code,
            xml_escape(&self.message),
        );
        xml_response(self.status, body)
    }
}

fn xml_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("text/xml"));
    response
}

/// The form parameters of an awsQuery request.
#[derive(Debug, Default)]
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(body: &[u8]) -> Self {
        Self(form_urlencoded::parse(body).into_owned().collect())
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// `MessageAttributes.entry.N.Name` / `.Value.DataType` / `.Value.StringValue` / `.Value.BinaryValue`.
    fn message_attributes(&self) -> Result<BTreeMap<String, MessageAttribute>, QueryError> {
        let mut attributes = BTreeMap::new();
        for index in 1.. {
            let prefix = format!("MessageAttributes.entry.{index}");
            let Some(name) = self.get(&format!("{prefix}.Name")) else {
                break;
            };
            let value = |field: &str| {
                self.get(&format!("{prefix}.Value.{field}"))
                    .map(str::to_owned)
            };
            let data_type = value("DataType").ok_or_else(|| {
                QueryError::invalid_parameter(format!(
                    "The message attribute '{name}' must contain non-empty message attribute type."
                ))
            })?;
            attributes.insert(
                name.to_owned(),
                MessageAttribute {
                    data_type,
                    string_value: value("StringValue"),
                    binary_value: value("BinaryValue"),
                },
            );
        }
        Ok(attributes)
    }
}

/// The region from the SigV4 credential scope, else us-east-1.
fn signing_region(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|credential| credential.split('/').nth(2))
        .filter(|region| !region.is_empty())
        .unwrap_or("us-east-1")
        .to_owned()
}

async fn query_api(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let params = Params::parse(&body);
    let action = params.get("Action").unwrap_or_default().to_owned();
    let mut state = shared.lock();
    let request_id = state.new_id();
    let result = match action.as_str() {
        "Publish" | "CreateTopic" => match state.take_fault() {
            Some(fault) => Err(QueryError::from_fault(fault, &action)),
            None if action == "Publish" => publish(&mut state, &params),
            None => create_topic(&mut state, &params, &signing_region(&headers)),
        },
        other => Err(QueryError {
            status: StatusCode::BAD_REQUEST,
            sender_fault: true,
            code: "InvalidAction",
            message: format!("The action {other} is not valid for this endpoint."),
        }),
    };
    match result {
        Ok(inner) => xml_response(
            StatusCode::OK,
            format!(
                "<{action}Response xmlns=\"{XMLNS}\"><{action}Result>{inner}</{action}Result>\
                 <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\
                 </{action}Response>"
            ),
        ),
        Err(error) => error.into_response(&request_id),
    }
}

fn publish(state: &mut SnsState, params: &Params) -> Result<String, QueryError> {
    let target = params
        .get("TopicArn")
        .or_else(|| params.get("TargetArn"))
        .or_else(|| params.get("PhoneNumber"))
        .filter(|target| !target.is_empty())
        .ok_or_else(|| {
            QueryError::invalid_parameter(
                "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter",
            )
        })?;
    let is_phone = params.get("PhoneNumber").is_some();
    if !is_phone && !target.starts_with("arn:aws:sns:") {
        return Err(QueryError::invalid_parameter("Invalid parameter: TopicArn"));
    }
    if !is_phone && state.strict_topics && !state.topics.contains(target) {
        return Err(QueryError {
            status: StatusCode::NOT_FOUND,
            sender_fault: true,
            code: "NotFound",
            message: "Topic does not exist".into(),
        });
    }
    let message = params
        .get("Message")
        .filter(|message| !message.is_empty())
        .ok_or_else(|| QueryError::invalid_parameter("Invalid parameter: Empty message"))?;
    if message.len() > MAX_MESSAGE_BYTES {
        return Err(QueryError::invalid_parameter(
            "Invalid parameter: Message too long",
        ));
    }
    let attributes = params.message_attributes()?;
    let message_id = state.new_id();
    state.messages.push(PublishedMessage {
        message_id: message_id.clone(),
        topic_arn: target.to_owned(),
        subject: params.get("Subject").map(str::to_owned),
        message: message.to_owned(),
        attributes,
        timestamp_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64),
    });
    Ok(format!("<MessageId>{message_id}</MessageId>"))
}

fn create_topic(state: &mut SnsState, params: &Params, region: &str) -> Result<String, QueryError> {
    let name = params.get("Name").unwrap_or_default();
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    let valid = !base.is_empty()
        && name.len() <= 256
        && base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(QueryError::invalid_parameter(
            "Invalid parameter: Topic Name",
        ));
    }
    let arn = topic_arn(region, name);
    state.topics.insert(arn.clone());
    Ok(format!("<TopicArn>{}</TopicArn>", xml_escape(&arn)))
}

async fn list_messages(State(shared): State<Arc<Shared>>) -> Json<Vec<PublishedMessage>> {
    Json(shared.lock().messages.clone())
}

async fn clear_messages(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.lock().messages.clear();
    StatusCode::NO_CONTENT
}

async fn list_topics(State(shared): State<Arc<Shared>>) -> Json<Vec<String>> {
    Json(shared.lock().topics.iter().cloned().collect())
}

async fn add_fault(
    State(shared): State<Arc<Shared>>,
    Json(rule): Json<SnsFaultRule>,
) -> StatusCode {
    shared.lock().faults.push(rule);
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.lock().faults.clear();
    StatusCode::NO_CONTENT
}

/// Body of `POST /_mock/sns/strict`.
#[derive(Debug, Deserialize)]
struct StrictTopics {
    strict: bool,
}

async fn set_strict(
    State(shared): State<Arc<Shared>>,
    Json(body): Json<StrictTopics>,
) -> StatusCode {
    shared.lock().strict_topics = body.strict;
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_message_attributes_as_the_sdk_encodes_them() {
        let params = Params::parse(
            b"Action=Publish&MessageAttributes.entry.1.Name=severity\
              &MessageAttributes.entry.1.Value.DataType=String\
              &MessageAttributes.entry.1.Value.StringValue=high\
              &MessageAttributes.entry.2.Name=count\
              &MessageAttributes.entry.2.Value.DataType=Number\
              &MessageAttributes.entry.2.Value.StringValue=3",
        );
        let attributes = params.message_attributes().unwrap();
        assert_eq!(attributes.len(), 2);
        assert_eq!(attributes["severity"].string_value.as_deref(), Some("high"));
        assert_eq!(attributes["count"].data_type, "Number");
        let missing_type = Params::parse(b"MessageAttributes.entry.1.Name=x");
        assert!(missing_type.message_attributes().is_err());
    }

    #[test]
    fn region_comes_from_the_credential_scope() {
        let mut headers = HeaderMap::new();
        assert_eq!(signing_region(&headers), "us-east-1");
        headers.insert(
            "authorization",
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKID/20250101/eu-west-1/sns/aws4_request, SignedHeaders=host, Signature=x",
            ),
        );
        assert_eq!(signing_region(&headers), "eu-west-1");
    }

    #[test]
    fn strict_topics_and_validation() {
        let mut state = SnsState {
            strict_topics: true,
            ..SnsState::default()
        };
        let publish_to = |topic: &str| {
            Params::parse(format!("Action=Publish&TopicArn={topic}&Message=hi").as_bytes())
        };
        let arn = topic_arn("us-east-1", "alerts");
        assert_eq!(
            publish(&mut state, &publish_to(&arn)).unwrap_err().code,
            "NotFound"
        );
        create_topic(&mut state, &Params::parse(b"Name=alerts"), "us-east-1").unwrap();
        assert!(publish(&mut state, &publish_to(&arn)).is_ok());
        assert!(publish(&mut state, &publish_to("not-an-arn")).is_err());
        assert!(create_topic(&mut state, &Params::parse(b"Name=bad name"), "us-east-1").is_err());
        assert_eq!(xml_escape("a<b&'c'"), "a&lt;b&amp;&apos;c&apos;");
    }
}
