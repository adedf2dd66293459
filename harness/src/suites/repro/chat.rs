//! Seed 004's troubleshooting entries on the chat API (`ChatWebSocketApi`,
//! the JWT authorizer and the `chat-*` binaries, the identity and Bedrock
//! mocks, the connections table).

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use mocks::identity::{Signer, TokenSpec};
use serde_json::{Value, json};

use super::observing::{eventually, last_connection_id};
use super::{Notes, ReproContext, ReproError};
use crate::replay::client::Client;
use crate::stack::LocalStack;

const API: &str = "ChatWebSocketApi";
const CONNECT: &str = "ChatConnectFunction";
const WAIT: Duration = Duration::from_secs(30);

fn base_url(stack: &LocalStack) -> Result<String, ReproError> {
    stack
        .websocket(API)
        .map(|gateway| gateway.url())
        .ok_or_else(|| ReproError::Step(format!("the template has no {API}")))
}

fn token(stack: &LocalStack, user: &str) -> Result<String, ReproError> {
    stack
        .mocks()
        .identity
        .rs256_token(user)
        .map_err(|e| ReproError::Step(format!("minting a token: {e}")))
}

fn chat(text: &str, session: &str) -> Value {
    json!({"action": "chat_message", "data": {"message": text, "sessionId": session}})
}

fn table_of(stack: &LocalStack) -> String {
    stack
        .template()
        .functions
        .get(CONNECT)
        .and_then(|f| f.environment.get("CONNECTIONS_TABLE").cloned())
        .unwrap_or_default()
}

async fn dynamodb(stack: &LocalStack) -> aws_sdk_dynamodb::Client {
    stack.dynamodb_client().await
}

async fn registered(stack: &LocalStack, connection_id: &str) -> bool {
    dynamodb(stack)
        .await
        .get_item()
        .table_name(table_of(stack))
        .key("connectionId", AttributeValue::S(connection_id.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .ok()
        .and_then(|answer| answer.item)
        .is_some()
}

/// Opens a connection with a token; returns it and its connection id.
async fn open(stack: &LocalStack, user: &str) -> Result<(Client, String), ReproError> {
    let url = format!("{}?token={}", base_url(stack)?, token(stack, user)?);
    let socket = Client::connect(&url).await?;
    let id = last_connection_id(stack, CONNECT)
        .ok_or_else(|| ReproError::Step("no $connect was recorded".into()))?;
    Ok((socket, id))
}

/// Missing, misplaced, expired and badly signed tokens.
pub(crate) async fn unauthorized(ctx: &ReproContext, notes: &mut Notes) -> Result<(), ReproError> {
    ctx.on_stack(1.0, &[], async |stack| {
        let base = base_url(stack)?;
        let identity = &stack.mocks().identity;
        let good = token(stack, "repro-user")?;
        let mint = |claims: Value, signer: Signer| {
            identity
                .mint(&TokenSpec {
                    alg: "HS256".into(),
                    kid: None,
                    claims,
                    signer,
                })
                .map_err(|e| ReproError::Step(format!("minting: {e}")))
        };
        let expired = mint(identity.claims("repro-user", -3600), Signer::Hmac(identity.hs256_secret().into_bytes()))?;
        let forged = mint(identity.claims("repro-user", 3600), Signer::Hmac(b"not the secret at all, 32 bytes!!".to_vec()))?;
        for (what, url) in [
            ("no token", base.clone()),
            ("the token under ?auth=", format!("{base}?auth={good}")),
            ("an expired token", format!("{base}?token={expired}")),
            ("a token signed with another secret", format!("{base}?token={forged}")),
        ] {
            let status = Client::open(&url, &[]).await.status();
            notes.saw(format!("{what}: HTTP {status}"));
            notes.expect(status == 401, format!("{what}: the connection fails with 401 Unauthorized"));
        }
        let authorizer_errors = stack
            .lambda()
            .records()
            .iter()
            .filter(|r| r.function == "ChatAuthorizerFunction")
            .count();
        notes.saw(format!("authorizer invocations: {authorizer_errors} (none for the missing token: API Gateway refuses it)"));
        let status = Client::open(&format!("{base}?token={good}"), &[]).await.status();
        notes.expect(status == 101, "the fix: a valid, unexpired token in ?token= connects");
        Ok(())
    })
    .await
}

/// The connections table missing.
pub(crate) async fn internal_error_on_connect(
    ctx: &ReproContext,
    notes: &mut Notes,
) -> Result<(), ReproError> {
    ctx.on_stack(1.0, &[], async |stack| {
        let table = stack
            .template()
            .tables
            .get("ChatConnectionsTable")
            .cloned()
            .ok_or_else(|| ReproError::Step("the template has no ChatConnectionsTable".into()))?;
        let client = dynamodb(stack).await;
        client
            .delete_table()
            .table_name(&table.table_name)
            .send()
            .await
            .map_err(|e| ReproError::Step(format!("DeleteTable: {e}")))?;
        let url = format!("{}?token={}", base_url(stack)?, token(stack, "repro-user")?);
        let status = Client::open(&url, &[]).await.status();
        notes.saw(format!(
            "table {} deleted; a valid token's handshake: HTTP {status}",
            table.table_name
        ));
        notes.expect(
            status == 500,
            "the connection fails with 500 Internal Server Error",
        );
        let outcome = stack
            .lambda()
            .records()
            .iter()
            .rev()
            .find(|r| r.function == CONNECT)
            .map(|r| r.outcome.clone());
        notes.expect(
            outcome.as_deref() == Some("function_error"),
            "the connect handler failed (its log names the table)",
        );
        let log = stack
            .lambda()
            .logs()
            .recent(&stack.template().functions[CONNECT].function_name)
            .into_iter()
            .rev()
            .find(|line| line.contains("ResourceNotFound") || line.contains(&table.table_name));
        notes.saw(format!("connect handler log: {}", log.unwrap_or_default()));
        crate::dynamodb::create_tables(&client, [&table])
            .await
            .map_err(|e| ReproError::Step(format!("CreateTable: {e}")))?;
        let status = Client::open(&url, &[]).await.status();
        notes.expect(
            status == 101,
            "the fix: with the table there, the token connects",
        );
        Ok(())
    })
    .await
}

/// Bad formats and a lost registration.
pub(crate) async fn messages_not_received(
    ctx: &ReproContext,
    notes: &mut Notes,
) -> Result<(), ReproError> {
    ctx.on_stack(1.0, &[], async |stack| {
        let (mut socket, id) = open(stack, "repro-user").await?;
        socket
            .send_text("Hello")
            .await
            .map_err(|e| ReproError::Step(e.to_string()))?;
        let error = socket.next_of("error", WAIT).await;
        notes.saw(format!("\"Hello\" (not JSON): {error:?}"));
        notes.expect(
            error.is_some_and(|e| e["code"] == "invalid_message"),
            "text that is not JSON gets an error naming the format",
        );
        socket
            .send_json(&json!({"action": "chat_message", "message": "Hello"}))
            .await?;
        let error = socket.next_of("error", WAIT).await;
        notes.expect(
            error.is_some_and(|e| {
                e["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("\"data\""))
            }),
            "a chat_message without data gets an error naming data",
        );
        dynamodb(stack)
            .await
            .delete_item()
            .table_name(table_of(stack))
            .key("connectionId", AttributeValue::S(id.clone()))
            .send()
            .await
            .map_err(|e| ReproError::Step(format!("DeleteItem: {e}")))?;
        socket.send_json(&chat("Hello?", "lost")).await?;
        let error = socket.next_of("error", WAIT).await;
        notes.saw(format!("registration deleted, chat_message: {error:?}"));
        notes.expect(
            error.is_some_and(|e| {
                e["code"] == "connection_not_registered" && e["reconnect"] == true
            }),
            "a connection no longer active in DynamoDB is told to reconnect",
        );
        let (mut again, _) = open(stack, "repro-user").await?;
        again.send_json(&chat("Hello again", "found")).await?;
        let reply = again.next_of("chat_reply", WAIT).await;
        notes.expect(
            reply.is_some(),
            "the fix: the correct format on a registered connection gets its reply",
        );
        Ok(())
    })
    .await
}

/// A registration left behind by a lost `$disconnect`.
pub(crate) async fn stale_connections(
    ctx: &ReproContext,
    notes: &mut Notes,
) -> Result<(), ReproError> {
    ctx.on_stack(1.0, &[], async |stack| {
        let (mut phone, phone_id) = open(stack, "repro-dave").await?;
        let (tablet, tablet_id) = open(stack, "repro-dave").await?;
        let client = dynamodb(stack).await;
        let table = table_of(stack);
        let item = client
            .get_item()
            .table_name(&table)
            .key("connectionId", AttributeValue::S(tablet_id.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| ReproError::Step(format!("GetItem: {e}")))?
            .item
            .ok_or_else(|| ReproError::Step("the tablet was not registered".into()))?;
        drop(tablet);
        // Put back only after $disconnect removed it, else a late $disconnect
        // could delete the restored item and the case would test nothing.
        let removed = eventually(WAIT, || async { !registered(stack, &tablet_id).await }).await;
        notes.expect(
            removed,
            "$disconnect removed the registration before it is put back",
        );
        // $disconnect is best effort: put the registration back as if it had been lost.
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| ReproError::Step(format!("PutItem: {e}")))?;
        notes.saw(format!(
            "connection {tablet_id} closed, its registration left behind"
        ));
        phone.send_json(&chat("Anyone else here?", "stale")).await?;
        let reply = phone.next_of("chat_reply", WAIT).await;
        notes.expect(reply.is_some(), "the live connection gets its reply");
        let removed = eventually(WAIT, || async { !registered(stack, &tablet_id).await }).await;
        notes.expect(
            removed,
            "the send to the closed connection met 410 Gone and the MessageSender removed it",
        );
        notes.expect(
            registered(stack, &phone_id).await,
            "the live connection stays registered",
        );
        let quiet = phone.next(Duration::from_millis(500)).await;
        notes.expect(
            quiet.as_ref().is_none_or(|m| m["type"] != "error"),
            "no error reaches the live connection",
        );
        Ok(())
    })
    .await
}
