//! The routine every session-owning WebSocket API (speaking, Buddy,
//! `nova-sonic-stream`) runs per event, so that each API's handler holds
//! only its own messages: `$connect` is accepted, `$disconnect` hands the
//! stop to the owner ([`super::hand_off::hand_off_disconnect`]), and any
//! other route becomes a [`Message`] with its client, session id and relay
//! order for the API to parse. Every route answers `200`: the client gets
//! its replies through `@connections`.

use std::time::Instant;

use aws_lambda_events::apigw::{
    ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest,
    ApiGatewayWebsocketProxyRequestContext,
};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

use super::TableError;
use super::hand_off::{hand_off_disconnect, hand_to_owner};
use super::peer::Peer;
use super::relay::{Relay, RelayItem, order_key};
use super::session_item::{Session, Sessions};
use crate::clock::deadline_instant;
use crate::management::{Connections, endpoint_for};

/// The `200` every WebSocket route answers (the client gets its replies
/// through `@connections`).
pub fn ok_response() -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = 200;
    response
}

/// `"{close code} {reason}"` of a `$disconnect` event (1005 when the client
/// sent no code).
pub fn disconnect_reason(context: &ApiGatewayWebsocketProxyRequestContext) -> String {
    format!(
        "{} {}",
        context.disconnect_status_code.unwrap_or(1005),
        context.disconnect_reason.as_deref().unwrap_or_default()
    )
}

/// What every session-owning function talks to, built once per instance.
#[derive(Debug)]
pub struct OwnerClients {
    /// Sessions table.
    pub sessions: Sessions,
    /// Relay table.
    pub relay: Relay,
    /// Management API.
    pub connections: Connections,
}

impl OwnerClients {
    /// The clients of the tables `sessions_table` and `relay_table`.
    pub fn new(
        config: &aws_config::SdkConfig,
        dynamodb: &aws_sdk_dynamodb::Client,
        sessions_table: impl Into<String>,
        relay_table: impl Into<String>,
    ) -> Self {
        Self {
            sessions: Sessions::new(dynamodb.clone(), sessions_table),
            relay: Relay::new(dynamodb.clone(), relay_table),
            connections: Connections::new(config.clone()),
        }
    }
}

/// One client message (any route but `$connect` and `$disconnect`).
#[derive(Debug)]
pub struct Message<'a> {
    /// The function's tables and management API.
    pub clients: &'a OwnerClients,
    /// The client.
    pub peer: Peer<'a>,
    /// The connection's session id (`{kind}#{connectionId}`).
    pub session_id: String,
    /// The message's relay sort key (receive time, message id).
    pub order: String,
    /// The invocation's deadline.
    pub deadline: Instant,
    /// The message as sent.
    pub body: String,
}

impl Message<'_> {
    /// Hands `item` to the session's owner, or tells the client there is no
    /// live session (shaped by `error_message`).
    pub async fn hand_to_owner(
        &self,
        item: &RelayItem,
        error_message: fn(&str) -> Value,
    ) -> Result<(), TableError> {
        hand_to_owner(
            &self.clients.sessions,
            &self.clients.relay,
            &self.peer,
            &self.session_id,
            &self.order,
            item,
            error_message,
        )
        .await
    }
}

/// Routes one event of a session of `kind` (`speaking`, `buddy`, ...):
/// `$connect` and `$disconnect` here, anything else to `on_message`.
pub async fn route(
    kind: &str,
    clients: &OwnerClients,
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
    on_message: impl AsyncFnOnce(Message<'_>) -> Result<(), Error>,
) -> Result<ApiGatewayProxyResponse, Error> {
    let deadline = deadline_instant(event.context.deadline);
    let request = event.payload;
    let context = &request.request_context;
    let route = context.route_key.clone().unwrap_or_default();
    let connection_id = context.connection_id.clone().unwrap_or_default();
    if route == "$connect" {
        return Ok(ok_response());
    }
    let endpoint = endpoint_for(context)?;
    let session_id = Session::id_for(kind, &connection_id);
    if route == "$disconnect" {
        let order = order_key(context.request_time_epoch, "disconnect");
        let reason = disconnect_reason(context);
        hand_off_disconnect(
            &clients.sessions,
            &clients.relay,
            &session_id,
            &order,
            &reason,
        )
        .await?;
        return Ok(ok_response());
    }
    let message = Message {
        clients,
        peer: Peer {
            connections: &clients.connections,
            endpoint: &endpoint,
            connection_id: &connection_id,
        },
        session_id,
        order: order_key(
            context.request_time_epoch,
            context.message_id.as_deref().unwrap_or_default(),
        ),
        deadline,
        body: request.body.clone().unwrap_or_default(),
    };
    on_message(message).await?;
    Ok(ok_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disconnect_reasons() {
        let mut context = ApiGatewayWebsocketProxyRequestContext::default();
        assert_eq!(disconnect_reason(&context), "1005 ");
        context.disconnect_status_code = Some(1001);
        context.disconnect_reason = Some("Going away".into());
        assert_eq!(disconnect_reason(&context), "1001 Going away");
        assert_eq!(ok_response().status_code, 200);
    }
}
