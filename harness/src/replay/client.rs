//! The harness's WebSocket client, shared by the replay engine, the
//! reliability suite (chaos), the reproductions (repro) and the integration
//! tests. The handshake takes a query and headers and keeps a record of
//! how it went; a reader task takes every frame off the socket as it comes
//! (a client that stops reading would stall the gateway's sends) into an
//! [`Inbox`], which keeps everything seen (messages, the close, the wire
//! transcript, a timeline); the client sends JSON, text and paced audio,
//! takes the next message (of a type) within a timeout, waits for quiet,
//! and ends with a clean close or by vanishing without a close frame.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::inbox::{Closed, Inbox, Received};
use crate::scenario::audio::encode_chunk;
use crate::scenario::model::ChunkFormat;

/// A client socket.
pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why the client could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL (with its query) is no WebSocket request.
    #[error("bad URL {url}: {message}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
    /// The server answered the handshake with another status than 101.
    #[error("the handshake to {url} was refused with {status}")]
    Refused {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// No connection at all.
    #[error("cannot connect to {url}: {message}")]
    Connect {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
    /// A frame could not be sent.
    #[error("send: {0}")]
    Send(#[from] WsError),
}

/// How an accepted handshake went.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The request's URL (with its query).
    pub url: String,
    /// The response's headers.
    pub headers: http::HeaderMap,
    /// How long the handshake took.
    pub took: Duration,
}

/// How a handshake went, with the client (or socket) when it opened.
#[derive(Debug)]
pub enum Handshake<T = Box<Client>> {
    /// Accepted.
    Open(T),
    /// Refused with this HTTP status (and body, when there was one).
    Refused(u16, Option<String>),
    /// No connection at all (refused, reset, unreachable): the I/O error's
    /// kind (`Other` for protocol errors, `InvalidInput` for a bad URL) and
    /// the error.
    Failed(std::io::ErrorKind, String),
}

impl<T> Handshake<T> {
    /// The HTTP status: 101 when accepted, 0 without a connection.
    pub fn status(&self) -> u16 {
        match self {
            Handshake::Open(_) => 101,
            Handshake::Refused(status, _) => *status,
            Handshake::Failed(..) => 0,
        }
    }
}

/// `url` with `query` added (and the `/` path a request line needs when the
/// URL has none: `ws://host:1234` becomes `ws://host:1234/?query`).
fn with_query(url: &str, query: &str) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let mut url = url.to_owned();
    if !url[authority_start..].contains('/') {
        match url[authority_start..].find('?') {
            Some(at) => url.insert(authority_start + at, '/'),
            None => url.push('/'),
        }
    }
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str(query);
    url
}

/// A handshake request: `url` with the query pairs percent-encoded and the
/// headers set (a header whose name or value HTTP does not allow is left
/// out).
pub(crate) fn request(
    url: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
) -> Result<Request, ClientError> {
    let encode = |text: &str| {
        percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let query: Vec<String> = query
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect();
    let url = if query.is_empty() {
        url.to_owned()
    } else {
        with_query(url, &query.join("&"))
    };
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| ClientError::Url {
            url: url.clone(),
            message: e.to_string(),
        })?;
    for (header, value) in headers {
        if let (Ok(header), Ok(value)) = (
            http::HeaderName::try_from(header.as_str()),
            http::HeaderValue::from_str(value),
        ) {
            request.headers_mut().insert(header, value);
        }
    }
    Ok(request)
}

/// Opens a socket with a prepared request (see [`request`]), or says how
/// the handshake failed.
pub(crate) async fn open(request: Request) -> Handshake<(Socket, Opened)> {
    let url = request.uri().to_string();
    let started = Instant::now();
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, response)) => Handshake::Open((
            socket,
            Opened {
                url,
                headers: response.headers().clone(),
                took: started.elapsed(),
            },
        )),
        Err(WsError::Http(response)) => Handshake::Refused(
            response.status().as_u16(),
            response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned()),
        ),
        Err(WsError::Io(error)) => Handshake::Failed(error.kind(), error.to_string()),
        Err(other) => Handshake::Failed(std::io::ErrorKind::Other, other.to_string()),
    }
}

/// The reader task's loop: every text (or binary, as lossy text) frame goes
/// to the transcript, to `observe` (with its JSON, when it is JSON) and into
/// the inbox; the close (1005 without a code, 1006 without a close frame)
/// ends it.
pub(crate) async fn pump(
    mut stream: SplitStream<Socket>,
    inbox: Arc<Inbox>,
    mut observe: impl FnMut(&str, Option<&Value>, Instant),
) {
    while let Some(frame) = stream.next().await {
        let text = match frame {
            Ok(Message::Text(text)) => text.to_string(),
            Ok(Message::Binary(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
            Ok(Message::Close(frame)) => {
                let (code, reason) = frame
                    .map(|f| (u16::from(f.code), f.reason.to_string()))
                    .unwrap_or((1005, String::new()));
                inbox.event("close", format!("server closed with {code} {reason}"));
                inbox.close(code, reason);
                return;
            }
            Ok(_) => continue,
            Err(e) => {
                inbox.event("close", format!("socket error: {e}"));
                inbox.close(1006, e.to_string());
                return;
            }
        };
        let now = Instant::now();
        inbox.wire("in", &text);
        let value: Option<Value> = serde_json::from_str(&text).ok();
        observe(&text, value.as_ref(), now);
        let kind = value
            .as_ref()
            .and_then(|v| v.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("message");
        inbox.event("receive", kind);
        inbox.push(text, value);
    }
    inbox.close(1006, "connection ended without a close frame".to_owned());
}

/// A received message as JSON (text that is not JSON as a JSON string).
fn json_of(message: Received) -> Value {
    message.value.unwrap_or(Value::String(message.text))
}

/// A connected client.
#[derive(Debug)]
pub struct Client {
    writer: SplitSink<Socket, Message>,
    inbox: Arc<Inbox>,
    reader: tokio::task::JoinHandle<()>,
    opened: Opened,
}

impl Client {
    /// Opens a client on `url` (which may carry a query) with these
    /// headers, or says how the handshake failed.
    pub async fn open(url: &str, headers: &[(String, String)]) -> Handshake {
        let request = match request(url, &[], headers) {
            Ok(request) => request,
            Err(e) => return Handshake::Failed(std::io::ErrorKind::InvalidInput, e.to_string()),
        };
        match open(request).await {
            Handshake::Open((socket, opened)) => {
                Handshake::Open(Box::new(Self::over(socket, opened)))
            }
            Handshake::Refused(status, body) => Handshake::Refused(status, body),
            Handshake::Failed(kind, message) => Handshake::Failed(kind, message),
        }
    }

    /// Connects to `url` (which may carry a query).
    pub async fn connect(url: &str) -> Result<Self, ClientError> {
        let request = request(url, &[], &[])?;
        let url = request.uri().to_string();
        match open(request).await {
            Handshake::Open((socket, opened)) => Ok(Self::over(socket, opened)),
            Handshake::Refused(status, _) => Err(ClientError::Refused { url, status }),
            Handshake::Failed(_, message) => Err(ClientError::Connect { url, message }),
        }
    }

    /// A client on an open socket; its reader task starts now.
    fn over(socket: Socket, opened: Opened) -> Self {
        let (writer, stream) = socket.split();
        let inbox = Arc::new(Inbox::new(Instant::now()));
        inbox.event("connect", format!("101 in {} ms", opened.took.as_millis()));
        let reader = tokio::spawn(pump(stream, inbox.clone(), |_, _, _| {}));
        Self {
            writer,
            inbox,
            reader,
            opened,
        }
    }

    /// How the handshake went.
    pub fn opened(&self) -> &Opened {
        &self.opened
    }

    /// Everything seen so far: messages (taken or not), the close, the
    /// transcript and the timeline.
    pub fn inbox(&self) -> &Arc<Inbox> {
        &self.inbox
    }

    /// Every message received so far, in order, as JSON (text that is not
    /// JSON as a JSON string).
    pub fn received(&self) -> Vec<Value> {
        self.inbox.messages().into_iter().map(json_of).collect()
    }

    /// The close, if the socket ended.
    pub fn closed(&self) -> Option<Closed> {
        self.inbox.closed()
    }

    /// Sends a frame.
    pub async fn send(&mut self, message: Message) -> Result<(), ClientError> {
        if let Message::Text(text) = &message {
            self.inbox.wire("out", text);
        }
        self.writer.send(message).await?;
        Ok(())
    }

    /// Sends a JSON message.
    pub async fn send_json(&mut self, message: &Value) -> Result<(), ClientError> {
        self.send(Message::text(message.to_string())).await
    }

    /// Sends a text frame as it is (JSON or not).
    pub async fn send_text(&mut self, text: impl Into<String>) -> Result<(), ClientError> {
        self.send(Message::text(text.into())).await
    }

    /// Streams `samples` in `chunk_ms` pieces encoded as `format`, each sent
    /// as the message `message(audio, mime_type)` builds and followed by a
    /// pause of its length divided by `time_scale`; `stop_after` cuts it
    /// short after that many chunks. Returns how many were sent.
    pub async fn stream_audio(
        &mut self,
        samples: &[i16],
        sample_rate: u32,
        chunk_ms: u32,
        format: ChunkFormat,
        time_scale: f64,
        message: impl Fn(String, String) -> Value,
    ) -> Result<usize, ClientError> {
        let per_chunk = (sample_rate as usize * chunk_ms.max(1) as usize / 1000).max(1);
        let pause = Duration::from_secs_f64(f64::from(chunk_ms) / 1000.0 / time_scale);
        let mut sent = 0;
        for chunk in samples.chunks(per_chunk) {
            let (audio, mime_type) = encode_chunk(chunk, sample_rate, format);
            self.send_json(&message(audio, mime_type)).await?;
            sent += 1;
            tokio::time::sleep(pause).await;
        }
        Ok(sent)
    }

    /// The next message not taken yet, if one is already here.
    pub fn try_next(&mut self) -> Option<Value> {
        self.inbox.take(|_| true).map(json_of)
    }

    /// The next message within `limit`, or `None` when none came (or the
    /// socket closed first).
    pub async fn next(&mut self, limit: Duration) -> Option<Value> {
        self.next_where(limit, |_| true).await
    }

    /// The next message `accept` accepts within `limit`; the messages before
    /// it are taken and skipped.
    async fn next_where(
        &mut self,
        limit: Duration,
        mut accept: impl FnMut(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let seen = self.inbox.len();
            while let Some(message) = self.try_next() {
                if accept(&message) {
                    return Some(message);
                }
            }
            if self.inbox.closed().is_some() || !self.inbox.wait(deadline, seen).await {
                return None;
            }
        }
    }

    /// The next message whose `type` is `kind` within `limit` (others
    /// skipped).
    pub async fn next_of(&mut self, kind: &str, limit: Duration) -> Option<Value> {
        self.next_where(limit, |m| m["type"] == kind).await
    }

    /// The next message whose `type` is `kind` within `limit` (others
    /// skipped); `None` as soon as an `error` comes instead.
    pub async fn next_of_unless_error(&mut self, kind: &str, limit: Duration) -> Option<Value> {
        self.next_where(limit, |m| m["type"] == kind || m["type"] == "error")
            .await
            .filter(|m| m["type"] == kind)
    }

    /// Takes messages until none came for `quiet` (or `limit` passed, or the
    /// socket closed).
    pub async fn settle(&mut self, quiet: Duration, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if self.next(quiet).await.is_none() {
                return;
            }
        }
    }

    /// Whether nothing arrives for `quiet`.
    /// A message or the close counts as not silent.
    pub async fn stays_silent(&mut self, quiet: Duration) -> bool {
        let seen = self.inbox.len();
        if self.try_next().is_some() || self.inbox.closed().is_some() {
            return false;
        }
        let deadline = tokio::time::Instant::now() + quiet;
        if !self.inbox.wait(deadline, seen).await {
            return true;
        }
        self.try_next();
        false
    }

    /// Waits up to `limit` for the socket to close, and returns the close.
    pub async fn closed_within(&self, limit: Duration) -> Option<Closed> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(closed) = self.inbox.closed() {
                return Some(closed);
            }
            if !self.inbox.wait(deadline, self.inbox.len()).await {
                return self.inbox.closed();
            }
        }
    }

    /// Sends a close frame with `code` (none: a close frame without a status
    /// code); the reader records the server's answer.
    pub async fn send_close(&mut self, code: Option<u16>) -> Result<(), ClientError> {
        let frame = code.map(|code| CloseFrame {
            code: CloseCode::from(code),
            reason: "".into(),
        });
        self.inbox.event(
            "close",
            format!(
                "client closed with {}",
                code.map_or("no code".to_owned(), |c| c.to_string())
            ),
        );
        self.send(Message::Close(frame)).await
    }

    /// Closes with 1000 and waits (briefly) for the server's close; returns
    /// the inbox.
    pub async fn close(mut self) -> Arc<Inbox> {
        let _ = self.send_close(Some(1000)).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.reader).await;
        self.inbox.clone()
    }

    /// Vanishes: the TCP connection closes without a close frame (the
    /// gateway reports 1006 to `$disconnect`). Returns the inbox.
    pub fn drop_abruptly(self) -> Arc<Inbox> {
        self.inbox.clone()
    }
}

impl Drop for Client {
    /// Stops the reader, which holds the socket's other half: dropping a
    /// client drops its connection without a close frame.
    fn drop(&mut self) {
        self.reader.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::with_query;

    #[test]
    fn queries_join_the_url_with_a_path() {
        assert_eq!(
            with_query("ws://h:1/production", "a=1"),
            "ws://h:1/production?a=1"
        );
        assert_eq!(with_query("ws://h:1", "a=1"), "ws://h:1/?a=1");
        assert_eq!(with_query("wss://h?x=2", "a=1"), "wss://h/?x=2&a=1");
        assert_eq!(with_query("ws://h:1/p?x=2", "a=1"), "ws://h:1/p?x=2&a=1");
    }
}
