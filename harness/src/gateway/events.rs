//! The event JSON a WebSocket API hands its Lambda integrations, in the exact
//! AWS shape (it deserializes as `aws_lambda_events`'
//! `ApiGatewayWebsocketProxyRequest`), and the REQUEST authorizer's input.
//! Also the AWS-style ids: connection ids like `TWegAcC4EowCHnA=`, request
//! ids and extended request ids.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// What every event of one connection shares.
#[derive(Debug, Clone)]
pub struct ConnectionFacts {
    /// Connection id.
    pub connection_id: String,
    /// When the connection was accepted, epoch ms.
    pub connected_at_ms: i64,
    /// Client address.
    pub source_ip: String,
    /// `User-Agent` of the upgrade request.
    pub user_agent: Option<String>,
    /// API id.
    pub api_id: String,
    /// Stage name.
    pub stage: String,
    /// `domainName` (host and port locally), from which clients build the
    /// management endpoint.
    pub domain_name: String,
    /// The authorizer's `principalId` and context, when an authorizer ran.
    pub authorizer: Option<Map<String, Value>>,
}

/// A new AWS-style connection id: 11 random bytes in standard base64 (16
/// characters, ending in `=`; may contain `+` and `/`, which clients must
/// URL-encode in @connections paths).
pub fn new_connection_id() -> String {
    let bytes: [u8; 11] = rand::random();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A new request id (API Gateway's are base64-ish with `=`).
pub fn new_request_id() -> String {
    let bytes: [u8; 11] = rand::random();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `requestTime` as API Gateway writes it: `09/Feb/2024:18:23:28 +0000`.
pub fn request_time(at: DateTime<Utc>) -> String {
    at.format("%d/%b/%Y:%H:%M:%S %z").to_string()
}

/// The three kinds of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// `$connect`
    Connect,
    /// A message route.
    Message,
    /// `$disconnect`
    Disconnect,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Connect => "CONNECT",
            EventType::Message => "MESSAGE",
            EventType::Disconnect => "DISCONNECT",
        }
    }
}

/// The `requestContext` of an event.
pub fn request_context(
    facts: &ConnectionFacts,
    event_type: EventType,
    route_key: &str,
    request_id: &str,
    now: DateTime<Utc>,
) -> Map<String, Value> {
    let mut identity = Map::new();
    identity.insert("sourceIp".into(), json!(facts.source_ip));
    if let Some(agent) = &facts.user_agent {
        identity.insert("userAgent".into(), json!(agent));
    }
    let mut context = Map::new();
    context.insert("routeKey".into(), json!(route_key));
    context.insert("eventType".into(), json!(event_type.as_str()));
    context.insert("extendedRequestId".into(), json!(request_id));
    context.insert("requestTime".into(), json!(request_time(now)));
    context.insert("messageDirection".into(), json!("IN"));
    context.insert("stage".into(), json!(facts.stage));
    context.insert("connectedAt".into(), json!(facts.connected_at_ms));
    context.insert("requestTimeEpoch".into(), json!(now.timestamp_millis()));
    context.insert("identity".into(), Value::Object(identity));
    context.insert("requestId".into(), json!(request_id));
    context.insert("domainName".into(), json!(facts.domain_name));
    context.insert("connectionId".into(), json!(facts.connection_id));
    context.insert("apiId".into(), json!(facts.api_id));
    if let Some(authorizer) = &facts.authorizer {
        context.insert("authorizer".into(), Value::Object(authorizer.clone()));
    }
    context
}

/// Headers or query parameters as the single- and multi-value maps of API
/// Gateway's events (WebSocket and REST alike); the single map keeps the last
/// value, as AWS does.
pub(crate) fn value_maps(pairs: &[(String, String)]) -> (Map<String, Value>, Map<String, Value>) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in pairs {
        single.insert(name.clone(), json!(value));
        match multi.get_mut(name) {
            Some(Value::Array(values)) => values.push(json!(value)),
            _ => {
                multi.insert(name.clone(), json!([value]));
            }
        }
    }
    (single, multi)
}

/// Query parameters as single- and multi-value maps (`None` when there are none:
/// AWS then omits both keys).
fn query_maps(query: &[(String, String)]) -> Option<(Map<String, Value>, Map<String, Value>)> {
    if query.is_empty() {
        return None;
    }
    let (single, multi) = value_maps(query);
    Some((single, multi))
}

/// The `$connect` event.
pub fn connect_event(
    facts: &ConnectionFacts,
    request_id: &str,
    headers: &[(String, String)],
    query: &[(String, String)],
    now: DateTime<Utc>,
) -> Value {
    let (single, multi) = value_maps(headers);
    let mut event = Map::new();
    event.insert("headers".into(), Value::Object(single));
    event.insert("multiValueHeaders".into(), Value::Object(multi));
    if let Some((single, multi)) = query_maps(query) {
        event.insert("queryStringParameters".into(), Value::Object(single));
        event.insert(
            "multiValueQueryStringParameters".into(),
            Value::Object(multi),
        );
    }
    event.insert(
        "requestContext".into(),
        Value::Object(request_context(
            facts,
            EventType::Connect,
            "$connect",
            request_id,
            now,
        )),
    );
    event.insert("isBase64Encoded".into(), json!(false));
    Value::Object(event)
}

/// A message event for `route_key`.
pub fn message_event(
    facts: &ConnectionFacts,
    route_key: &str,
    request_id: &str,
    message_id: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Value {
    let mut context = request_context(facts, EventType::Message, route_key, request_id, now);
    context.insert("messageId".into(), json!(message_id));
    json!({
        "requestContext": context,
        "body": body,
        "isBase64Encoded": false,
    })
}

/// The `$disconnect` event.
pub fn disconnect_event(
    facts: &ConnectionFacts,
    request_id: &str,
    status_code: u16,
    reason: &str,
    headers: &[(String, String)],
    now: DateTime<Utc>,
) -> Value {
    let (single, multi) = value_maps(headers);
    let mut context = request_context(facts, EventType::Disconnect, "$disconnect", request_id, now);
    context.insert("disconnectStatusCode".into(), json!(status_code));
    context.insert("disconnectReason".into(), json!(reason));
    json!({
        "headers": single,
        "multiValueHeaders": multi,
        "requestContext": context,
        "isBase64Encoded": false,
    })
}

/// The REQUEST authorizer's input on `$connect`.
pub fn authorizer_request(
    facts: &ConnectionFacts,
    request_id: &str,
    region: &str,
    account_id: &str,
    headers: &[(String, String)],
    query: &[(String, String)],
    now: DateTime<Utc>,
) -> Value {
    let (single, multi) = value_maps(headers);
    let (query_single, query_multi) = query_maps(query).unwrap_or_default();
    let method_arn = format!(
        "arn:aws:execute-api:{region}:{account_id}:{}/{}/$connect",
        facts.api_id, facts.stage
    );
    json!({
        "type": "REQUEST",
        "methodArn": method_arn,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": query_single,
        "multiValueQueryStringParameters": query_multi,
        "stageVariables": {},
        "requestContext": request_context(facts, EventType::Connect, "$connect", request_id, now),
    })
}

/// The message API Gateway sends a client when it cannot route, when the
/// integration fails or when it times out.
pub fn gateway_message(message: &str, connection_id: &str, request_id: &str) -> String {
    json!({"message": message, "connectionId": connection_id, "requestId": request_id}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> ConnectionFacts {
        ConnectionFacts {
            connection_id: new_connection_id(),
            connected_at_ms: 1_707_503_007_396,
            source_ip: "127.0.0.1".into(),
            user_agent: Some("test".into()),
            api_id: "abcd123456".into(),
            stage: "production".into(),
            domain_name: "127.0.0.1:4000".into(),
            authorizer: None,
        }
    }

    #[test]
    fn connection_ids_look_like_aws() {
        for _ in 0..100 {
            let id = new_connection_id();
            assert_eq!(id.len(), 16);
            assert!(id.ends_with('='));
        }
    }

    #[test]
    fn request_time_format() {
        let at = DateTime::parse_from_rfc3339("2024-02-09T18:23:28Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(request_time(at), "09/Feb/2024:18:23:28 +0000");
    }

    #[test]
    fn connect_without_query_omits_query_keys() {
        let event = connect_event(
            &facts(),
            "r",
            &[("Host".into(), "h".into())],
            &[],
            Utc::now(),
        );
        assert!(event.get("queryStringParameters").is_none());
        assert_eq!(event["requestContext"]["eventType"], "CONNECT");
        assert_eq!(event["multiValueHeaders"]["Host"], json!(["h"]));
    }

    #[test]
    fn disconnect_carries_status_and_reason() {
        let event = disconnect_event(
            &facts(),
            "r",
            1005,
            "Client-side close frame status not set",
            &[],
            Utc::now(),
        );
        assert_eq!(event["requestContext"]["disconnectStatusCode"], 1005);
        assert_eq!(
            event["requestContext"]["disconnectReason"],
            "Client-side close frame status not set"
        );
        assert!(event["requestContext"]["connectedAt"].is_i64());
        assert!(event["requestContext"]["requestTimeEpoch"].is_i64());
    }
}
