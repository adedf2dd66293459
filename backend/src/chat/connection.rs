//! `$connect` and `$disconnect` of the chat API (`{env}-websocket-connect`
//! and `{env}-websocket-disconnect`, binaries `chat-connect` and
//! `chat-disconnect`).
//!
//! `$connect` runs after the authorizer allowed the token: it registers the
//! connection under the authorizer's `userId`. A registry failure (seed
//! 004's "500 Internal Server Error": the table is missing or the role lacks
//! access) fails the invocation, which API Gateway answers with 500; the
//! cause is in the function's log. Without an authorizer context (an API
//! deployed without the authorizer) the answer is 401.
//!
//! `$disconnect` removes the item. API Gateway delivers it on a best-effort
//! basis, so the MessageSender also removes connections that answer 410.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

use super::registry::Registry;
use super::{RegistrySettings, SettingsError};
use crate::clock::now_epoch_ms;

/// Dependencies of the connect and disconnect functions.
#[derive(Debug)]
pub struct ConnectionDeps {
    /// The connections table.
    pub registry: Registry,
}

impl ConnectionDeps {
    /// Built from the environment ([`RegistrySettings`]) and the AWS
    /// configuration, as both functions start.
    pub async fn from_env() -> Result<Self, SettingsError> {
        let settings = RegistrySettings::from_env()?;
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Ok(Self {
            registry: settings.registry(&config),
        })
    }
}

fn response(status: i64, body: Option<&str>) -> ApiGatewayProxyResponse {
    let mut answer = ApiGatewayProxyResponse::default();
    answer.status_code = status;
    answer.body = body.map(|b| Body::Text(b.to_owned()));
    answer
}

/// The authorizer's user id in an event (`userId`, else `principalId`).
pub fn authorized_user(request: &ApiGatewayWebsocketProxyRequest) -> Option<String> {
    let fields = &request.request_context.authorizer.fields;
    ["userId", "principalId"]
        .iter()
        .find_map(|key| fields.get(*key).and_then(Value::as_str))
        .filter(|user| !user.is_empty())
        .map(str::to_owned)
}

/// Handles `$connect`.
pub async fn connect(
    deps: &ConnectionDeps,
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error> {
    let request = event.payload;
    let connection_id = request
        .request_context
        .connection_id
        .clone()
        .unwrap_or_default();
    let Some(user_id) = authorized_user(&request) else {
        tracing::warn!(connection = %connection_id, "$connect without an authorizer context");
        return Ok(response(401, Some("Unauthorized")));
    };
    match deps
        .registry
        .register(&connection_id, &user_id, now_epoch_ms())
        .await
    {
        Ok(ttl) => {
            tracing::info!(connection = %connection_id, user = %user_id, ttl, "connected");
            Ok(response(200, None))
        }
        Err(e) => {
            tracing::error!(
                connection = %connection_id,
                table = %deps.registry.table(),
                "cannot register the connection: {e}"
            );
            Err(e.into())
        }
    }
}

/// Handles `$disconnect` (its result is ignored by API Gateway).
pub async fn disconnect(
    deps: &ConnectionDeps,
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error> {
    let context = &event.payload.request_context;
    let connection_id = context.connection_id.clone().unwrap_or_default();
    let code = context.disconnect_status_code.unwrap_or(1005);
    let reason = context.disconnect_reason.clone().unwrap_or_default();
    match deps.registry.remove(&connection_id).await {
        Ok(existed) => tracing::info!(
            connection = %connection_id, code, reason = %reason, existed, "disconnected"
        ),
        Err(e) => tracing::error!(
            connection = %connection_id, code, "cannot remove the connection: {e}"
        ),
    }
    Ok(response(200, None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_user_comes_from_the_authorizer_context() {
        let event = |authorizer: Value| -> ApiGatewayWebsocketProxyRequest {
            serde_json::from_value(json!({
                "requestContext": {
                    "routeKey": "$connect", "connectedAt": 1, "requestTimeEpoch": 1,
                    "connectionId": "c=", "authorizer": authorizer
                }
            }))
            .unwrap()
        };
        assert_eq!(
            authorized_user(&event(json!({"principalId": "p", "userId": "u"}))).as_deref(),
            Some("u")
        );
        assert_eq!(
            authorized_user(&event(json!({"principalId": "p"}))).as_deref(),
            Some("p")
        );
        assert_eq!(authorized_user(&event(json!({"userId": ""}))), None);
        assert_eq!(authorized_user(&event(Value::Null)), None);
    }
}
