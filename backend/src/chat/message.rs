//! The chat API's message routes (`{env}-websocket-message`, binary
//! `chat-message`): `chat_message`, `ping` and `$default`.
//!
//! `chat_message`: parse; apply the per-connection rate limit (which also
//! refreshes the connection's TTL); acknowledge with `message_received`
//! (its `messageId` is API Gateway's message id); ask the assistant; post
//! the `chat_reply` to every connection of the user through the
//! MessageSender. Every accepted message ends in a `chat_reply` or an
//! `error` with its `messageId`; a refused one gets an `error` and is not
//! processed.
//!
//! `ping`: refreshes the connection's TTL and answers `pong` through the
//! route response (the keep-alive of seed 004; API Gateway's 10-minute idle
//! timeout counts messages both ways, not WebSocket ping frames).
//!
//! `$default` (unknown actions, non-JSON text): an `error` that says what to send.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;

use super::assistant::Assistant;
use super::messages::{self, ChatMessage, ClientMessage, ErrorCode, errors};
use super::rate_limit::{RateLimit, retry_after_seconds};
use super::registry::{Admission, Registry, UserConnection};
use super::sender::MessageSender;
use crate::clock::now_epoch_ms;
use crate::management::{Connections, endpoint_for};

/// Dependencies of the message function, built once per instance.
#[derive(Debug)]
pub struct MessageDeps {
    /// The connections table.
    pub registry: Registry,
    /// The management API.
    pub connections: Connections,
    /// Bedrock Converse.
    pub assistant: Assistant,
    /// The per-connection rate limit.
    pub rate_limit: RateLimit,
}

fn response(body: Option<&Value>) -> ApiGatewayProxyResponse {
    let mut answer = ApiGatewayProxyResponse::default();
    answer.status_code = 200;
    answer.body = body.map(|b| Body::Text(b.to_string()));
    answer
}

/// What one invocation works with.
struct Call<'a> {
    deps: &'a MessageDeps,
    sender: MessageSender<'a>,
    connection_id: String,
    message_id: String,
}

impl Call<'_> {
    async fn reply(&self, message: &Value) {
        self.sender.send(&self.connection_id, message).await;
    }
}

/// Handles one message event.
pub async fn handle(
    deps: &MessageDeps,
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error> {
    let request = event.payload;
    let context = &request.request_context;
    let route = context.route_key.clone().unwrap_or_default();
    let connection_id = context.connection_id.clone().unwrap_or_default();
    let message_id = context
        .message_id
        .clone()
        .or_else(|| context.request_id.clone())
        .unwrap_or_default();
    let call = Call {
        deps,
        sender: MessageSender::new(&deps.connections, &deps.registry, endpoint_for(context)?),
        connection_id,
        message_id,
    };
    let now = now_epoch_ms();
    match messages::parse(request.body.as_deref().unwrap_or_default()) {
        Ok(ClientMessage::Ping) => {
            let answer = ping(&call, now).await;
            if route == "ping" {
                // The ping route has a route response: the body goes back.
                return Ok(response(Some(&answer)));
            }
            call.reply(&answer).await;
        }
        Ok(ClientMessage::Chat(chat)) => self::chat(&call, chat, now).await,
        Err(problem) => {
            tracing::info!(connection = %call.connection_id, route = %route, "refused: {problem}");
            let error = messages::error(problem.code(), &problem.to_string(), None, None);
            call.reply(&error).await;
        }
    }
    Ok(response(None))
}

/// The keep-alive: refresh the TTL, answer `pong` (or say the connection is gone).
async fn ping(call: &Call<'_>, now: i64) -> Value {
    match call.deps.registry.touch(&call.connection_id, now).await {
        Ok(Some(expires_at)) => messages::pong(now, expires_at),
        Ok(None) => messages::error(
            ErrorCode::ConnectionNotRegistered,
            errors::NOT_REGISTERED,
            None,
            None,
        ),
        Err(e) => {
            tracing::error!(connection = %call.connection_id, "keep-alive failed: {e}");
            messages::error(ErrorCode::InternalError, errors::NOT_ACCEPTED, None, None)
        }
    }
}

async fn chat(call: &Call<'_>, chat: ChatMessage, now: i64) {
    let deps = call.deps;
    let id = call.message_id.as_str();
    let limit = &deps.rate_limit;
    let (user_id, ttl) = match deps
        .registry
        .admit(&call.connection_id, limit, now_epoch_ms)
        .await
    {
        Ok(Admission::Accepted { user_id, ttl }) => (user_id, ttl),
        Ok(Admission::Limited { retry_after_ms }) => {
            let retry = retry_after_seconds(retry_after_ms);
            tracing::info!(connection = %call.connection_id, message = %id, retry, "rate limited");
            let window = limit.window.as_secs();
            call.reply(&messages::rate_limited(
                limit.max_messages,
                window,
                id,
                retry,
            ))
            .await;
            return;
        }
        Ok(Admission::NotRegistered) => {
            tracing::warn!(connection = %call.connection_id, message = %id, "not registered");
            let error = messages::error(
                ErrorCode::ConnectionNotRegistered,
                errors::NOT_REGISTERED,
                Some(id),
                None,
            );
            call.reply(&error).await;
            return;
        }
        Err(e) => {
            tracing::error!(connection = %call.connection_id, message = %id, "admission failed: {e}");
            let error = messages::error(
                ErrorCode::InternalError,
                errors::NOT_ACCEPTED,
                Some(id),
                None,
            );
            call.reply(&error).await;
            return;
        }
    };
    tracing::info!(
        connection = %call.connection_id,
        user = %user_id,
        message = %id,
        session = %chat.session_id,
        chars = chat.message.chars().count(),
        "message accepted"
    );
    call.reply(&messages::message_received(id, &chat.session_id, now))
        .await;
    let reply = match deps.assistant.reply(&chat.message).await {
        Ok(reply) => reply,
        Err(problem) => {
            tracing::error!(message = %id, model = %deps.assistant.model_id(), "{problem}");
            let (code, sentence, retry) = problem.client_error();
            call.reply(&messages::error(code, sentence, Some(id), retry))
                .await;
            return;
        }
    };
    let mut targets = match deps.registry.connections_of(&user_id).await {
        Ok(targets) => targets,
        Err(e) => {
            tracing::error!(user = %user_id, "cannot list the user's connections: {e}");
            Vec::new()
        }
    };
    // The index is eventually consistent: the sender gets its reply even when
    // the index does not list it yet, as long as it is registered (a strongly
    // consistent read). Once its `$disconnect` has removed it, nothing more is
    // posted to it.
    if !targets
        .iter()
        .any(|t| t.connection_id == call.connection_id)
    {
        let registered = match deps.registry.get(&call.connection_id).await {
            Ok(record) => record.is_some(),
            Err(e) => {
                tracing::warn!(connection = %call.connection_id, "cannot read the sender's registration: {e}");
                true
            }
        };
        if registered {
            targets.push(UserConnection {
                connection_id: call.connection_id.clone(),
                ttl,
            });
        }
    }
    let answer = messages::chat_reply(id, &chat.session_id, &reply);
    let delivery = call.sender.fan_out(&targets, &answer, now_epoch_ms()).await;
    tracing::info!(
        message = %id,
        delivered = delivery.delivered.len(),
        removed_stale = delivery.removed.len(),
        failed = delivery.failed.len(),
        input_tokens = reply.input_tokens,
        output_tokens = reply.output_tokens,
        "reply sent"
    );
}
