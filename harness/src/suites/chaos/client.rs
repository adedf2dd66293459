//! The reliability suite's WebSocket client: a reader task takes every
//! message off the socket as it comes (a client that stops reading would
//! stall the gateway's sends), keeps what matters (errors, assessment ids,
//! chat acknowledgements and answers, the close) and queues the rest for the
//! case; the writer sends JSON, streams audio at the scaled pace, and can
//! vanish without a close frame (a dropped client socket).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::ChaosError;
use crate::scenario::audio::{Clip, encode_chunk};
use crate::scenario::model::ChunkFormat;
use crate::suites::repro::client::{Handshake, Socket, handshake};

/// What a client saw, kept by its reader.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Messages received.
    pub messages: u64,
    /// `type: error` messages and gateway errors other than the integration
    /// timeout (which long-running routes always get).
    pub errors: Vec<String>,
    /// Assessment ids of `assessment_complete`.
    pub assessments: Vec<String>,
    /// Chat message ids acknowledged (`message_received`).
    pub acknowledged: Vec<String>,
    /// Chat message ids answered (`chat_reply`, or an error naming them).
    pub answered: Vec<String>,
    /// The server's close code, when it closed.
    pub closed: Option<u16>,
}

/// A connected client.
pub struct Client {
    sink: SplitSink<Socket, Message>,
    inbox: mpsc::UnboundedReceiver<Value>,
    seen: Arc<Mutex<Seen>>,
    reader: tokio::task::JoinHandle<()>,
}

fn note(seen: &Mutex<Seen>, message: &Value) {
    let mut seen = seen.lock().expect("seen lock");
    seen.messages += 1;
    let kind = message["type"].as_str().unwrap_or_default();
    let id = |field: &str| message[field].as_str().map(str::to_owned);
    match kind {
        "assessment_complete" => {
            if let Some(id) = message["assessment"]["assessment_id"].as_str() {
                seen.assessments.push(id.to_owned());
            }
        }
        "message_received" => seen.acknowledged.extend(id("messageId")),
        "chat_reply" => seen.answered.extend(id("messageId")),
        "error" => {
            seen.answered.extend(id("messageId"));
            seen.errors.push(message.to_string());
        }
        "" => {
            // API Gateway's own messages: {"message": ..., "connectionId": ...}.
            if let Some(text) = message["message"].as_str()
                && text != "Endpoint request timed out"
            {
                seen.errors.push(text.to_owned());
            }
        }
        _ => {}
    }
}

impl Client {
    /// Connects.
    pub async fn connect(url: &str) -> Result<Self, ChaosError> {
        let socket = match handshake(url).await {
            Handshake::Open(socket) => *socket,
            Handshake::Refused(status) => {
                return Err(ChaosError::Client(format!(
                    "handshake refused with {status}"
                )));
            }
            Handshake::Failed(_, message) => {
                return Err(ChaosError::Client(format!("cannot connect: {message}")));
            }
        };
        let (sink, mut stream) = socket.split();
        let (tx, inbox) = mpsc::unbounded_channel();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let reader_seen = seen.clone();
        let reader = tokio::spawn(async move {
            while let Some(message) = stream.next().await {
                match message {
                    Ok(Message::Text(text)) => {
                        let value = serde_json::from_str(&text)
                            .unwrap_or_else(|_| Value::String(text.to_string()));
                        note(&reader_seen, &value);
                        let _ = tx.send(value);
                    }
                    Ok(Message::Close(frame)) => {
                        reader_seen.lock().expect("seen lock").closed =
                            Some(frame.map_or(1005, |f| u16::from(f.code)));
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        reader_seen.lock().expect("seen lock").closed = Some(1006);
                        break;
                    }
                }
            }
        });
        Ok(Self {
            sink,
            inbox,
            seen,
            reader,
        })
    }

    /// What it saw so far.
    pub fn seen(&self) -> Seen {
        self.seen.lock().expect("seen lock").clone()
    }

    /// Sends a JSON message.
    pub async fn send(&mut self, message: Value) -> Result<(), ChaosError> {
        self.sink
            .send(Message::text(message.to_string()))
            .await
            .map_err(|e| ChaosError::Client(format!("send: {e}")))
    }

    /// The next message whose `type` is `kind` within `limit` (others
    /// skipped); `None` as soon as an `error` comes instead.
    pub async fn next_of(&mut self, kind: &str, limit: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.inbox.recv()).await {
                Ok(Some(message)) if message["type"] == kind => return Some(message),
                Ok(Some(message)) if message["type"] == "error" => return None,
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Takes messages until none came for `quiet` (or `limit` passed).
    pub async fn settle(&mut self, quiet: Duration, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            match tokio::time::timeout(quiet, self.inbox.recv()).await {
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => return,
            }
        }
    }

    /// Streams a clip and then silence as WAV `audio_chunk`s of 100 ms, at
    /// the scaled real-time pace; `stop_after` cuts it short after that many
    /// chunks.
    pub async fn speak(
        &mut self,
        clip: &Clip,
        silence: Duration,
        time_scale: f64,
        stop_after: Option<usize>,
    ) -> Result<usize, ChaosError> {
        let quiet = Clip::silence(silence, clip.sample_rate);
        let mut sent = 0;
        for part in [clip, &quiet] {
            for chunk in part.chunks(100) {
                if stop_after.is_some_and(|n| sent >= n) {
                    return Ok(sent);
                }
                let (audio, mime_type) = encode_chunk(chunk, part.sample_rate, ChunkFormat::Wav);
                self.send(json!({"action": "audio_chunk", "audio": audio, "mime_type": mime_type}))
                    .await?;
                sent += 1;
                tokio::time::sleep(Duration::from_secs_f64(0.1 / time_scale)).await;
            }
        }
        Ok(sent)
    }

    /// Vanishes: the TCP connection closes without a close frame (the
    /// gateway reports 1006 to `$disconnect`). Returns what it saw.
    pub fn drop_abruptly(self) -> Seen {
        self.reader.abort();
        let seen = self.seen();
        drop(self.sink);
        seen
    }

    /// Closes with 1000 and waits (briefly) for the server's close.
    pub async fn close(mut self) -> Seen {
        let _ = self.sink.send(Message::Close(None)).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.reader).await;
        self.reader.abort();
        self.seen()
    }
}
