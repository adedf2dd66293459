//! A small WebSocket and HTTP client for the reproductions, and the notes
//! they keep of what they observed.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::ReproError;
use crate::stack::LocalStack;

/// A client socket.
pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How a handshake went.
#[derive(Debug)]
pub(crate) enum Handshake {
    /// Accepted.
    Open(Box<Socket>),
    /// Refused with this HTTP status.
    Refused(u16),
    /// No connection at all (refused, reset, unreachable).
    Failed(std::io::ErrorKind, String),
}

/// Opens a socket, or says how it failed.
pub(crate) async fn handshake(url: &str) -> Handshake {
    match tokio_tungstenite::connect_async(url).await {
        Ok((socket, _)) => Handshake::Open(Box::new(socket)),
        Err(WsError::Http(response)) => Handshake::Refused(response.status().as_u16()),
        Err(WsError::Io(error)) => Handshake::Failed(error.kind(), error.to_string()),
        Err(other) => Handshake::Failed(std::io::ErrorKind::Other, other.to_string()),
    }
}

/// Opens a socket that must open.
pub(crate) async fn connect(url: &str) -> Result<Socket, ReproError> {
    match handshake(url).await {
        Handshake::Open(socket) => Ok(*socket),
        Handshake::Refused(status) => Err(ReproError::Step(format!(
            "the handshake to {url} was refused with {status}"
        ))),
        Handshake::Failed(_, message) => Err(ReproError::Step(format!(
            "cannot connect to {url}: {message}"
        ))),
    }
}

/// Sends a JSON message.
pub(crate) async fn send(socket: &mut Socket, message: Value) -> Result<(), ReproError> {
    socket
        .send(Message::text(message.to_string()))
        .await
        .map_err(|e| ReproError::Step(format!("send: {e}")))
}

/// The next JSON message within `limit`, or `None` when none came.
pub(crate) async fn next(socket: &mut Socket, limit: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                return Some(
                    serde_json::from_str(&text).unwrap_or(Value::String(text.to_string())),
                );
            }
            Ok(Some(Ok(Message::Close(_)))) | Ok(Some(Err(_))) | Ok(None) | Err(_) => return None,
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// The next message whose `field` equals `value` (others skipped), within `limit`.
pub(crate) async fn next_where(
    socket: &mut Socket,
    field: &str,
    value: &str,
    limit: Duration,
) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let message = next(socket, left).await?;
        if message.get(field).and_then(Value::as_str) == Some(value) {
            return Some(message);
        }
    }
}

/// The connection id of the latest `$connect` of a function (events captured).
pub(crate) fn last_connection_id(stack: &LocalStack, function: &str) -> Option<String> {
    stack
        .lambda()
        .records()
        .iter()
        .rev()
        .find(|r| r.function == function && r.route.as_deref() == Some("$connect"))
        .and_then(|r| r.event.as_ref())
        .and_then(|e| e["requestContext"]["connectionId"].as_str())
        .map(str::to_owned)
}

/// Polls `check` every 50 ms until it holds or `limit` passes.
pub(crate) async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What a reproduction saw, line by line, and whether each documented sign showed.
#[derive(Debug, Default)]
pub struct Notes {
    /// Observations, in order.
    pub lines: Vec<String>,
    /// Signs the seed documents that did not show.
    pub missing: Vec<String>,
}

impl Notes {
    /// Notes an observation.
    pub(crate) fn saw(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }

    /// Notes a documented sign: shown or not.
    pub(crate) fn expect(&mut self, shown: bool, sign: impl Into<String>) {
        let sign = sign.into();
        if shown {
            self.lines.push(format!("ok: {sign}"));
        } else {
            self.lines.push(format!("MISSING: {sign}"));
            self.missing.push(sign);
        }
    }
}
