//! Helpers shared by the integration tests: real AWS SDK clients pointed at a
//! mock, a Nova Sonic session driver over the SDK's bidirectional stream,
//! and a tiny HTTP/1.1 client for the control APIs.

use std::time::Duration;

use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::config::retry::RetryConfig;
use aws_sdk_bedrockruntime::config::{Credentials, Region};
use aws_sdk_bedrockruntime::error::SdkError;
use aws_sdk_bedrockruntime::operation::invoke_model_with_bidirectional_stream::InvokeModelWithBidirectionalStreamError;
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::primitives::event_stream::{EventReceiver, EventStreamSender};
use aws_sdk_bedrockruntime::types::error::{
    InvokeModelWithBidirectionalStreamInputError, InvokeModelWithBidirectionalStreamOutputError,
};
use aws_sdk_bedrockruntime::types::{
    BidirectionalInputPayloadPart, InvokeModelWithBidirectionalStreamInput,
    InvokeModelWithBidirectionalStreamOutput,
};
use aws_smithy_types::event_stream::RawMessage;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;

/// The Nova Sonic model id.
pub(crate) const SONIC: &str = "amazon.nova-2-sonic-v1:0";

/// A Bedrock Runtime client for `base_url` with static credentials; retries
/// off so each fault is seen exactly once.
pub(crate) fn bedrock_client(base_url: &str) -> Client {
    let config = aws_sdk_bedrockruntime::Config::builder()
        .behavior_version_latest()
        .endpoint_url(base_url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

/// The error `send()` can return.
pub(crate) type OpenError = SdkError<InvokeModelWithBidirectionalStreamError>;
/// The error `recv()` can return.
pub(crate) type RecvError = SdkError<InvokeModelWithBidirectionalStreamOutputError, RawMessage>;

type Input =
    Result<InvokeModelWithBidirectionalStreamInput, InvokeModelWithBidirectionalStreamInputError>;

/// The name of an output event (`{"event": {name: ...}}`).
pub(crate) fn name(event: &Value) -> &str {
    event["event"]
        .as_object()
        .and_then(|map| map.keys().next())
        .map(String::as_str)
        .unwrap_or("")
}

/// The body of an output event.
pub(crate) fn body(event: &Value) -> &Value {
    &event["event"][name(event)]
}

/// One Nova Sonic session through the real SDK client.
pub(crate) struct Sonic {
    input: Option<mpsc::UnboundedSender<Input>>,
    output: EventReceiver<
        InvokeModelWithBidirectionalStreamOutput,
        InvokeModelWithBidirectionalStreamOutputError,
    >,
}

impl Sonic {
    /// Opens a stream: sessionStart and promptStart are queued before
    /// `send()` is awaited, then the system prompt if any.
    pub(crate) async fn open(
        client: &Client,
        model: &str,
        system_prompt: Option<&str>,
    ) -> Result<Self, OpenError> {
        let first = vec![
            (
                "sessionStart",
                json!({"inferenceConfiguration": {"maxTokens": 1024, "topP": 0.9, "temperature": 0.7}}),
            ),
            (
                "promptStart",
                json!({"promptName": "p1", "textOutputConfiguration": {"mediaType": "text/plain"},
                    "audioOutputConfiguration": {"mediaType": "audio/lpcm", "sampleRateHertz": 24000,
                    "sampleSizeBits": 16, "channelCount": 1, "voiceId": "matthew",
                    "encoding": "base64", "audioType": "SPEECH"}}),
            ),
        ];
        let sonic = Self::open_with(client, model, first).await?;
        if let Some(prompt) = system_prompt {
            sonic.text("system", "SYSTEM", false, prompt);
        }
        Ok(sonic)
    }

    /// Opens a stream whose input starts with `first` (queued before `send()`).
    pub(crate) async fn open_with(
        client: &Client,
        model: &str,
        first: Vec<(&str, Value)>,
    ) -> Result<Self, OpenError> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Input>();
        for (name, body) in first {
            let _ = tx.send(Ok(chunk(name, body)));
        }
        let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        let response = client
            .invoke_model_with_bidirectional_stream()
            .model_id(model)
            .body(EventStreamSender::from(stream))
            .send()
            .await?;
        Ok(Self {
            input: Some(tx),
            output: response.body,
        })
    }

    /// Queues one input event.
    pub(crate) fn send(&self, name: &str, body: Value) {
        if let Some(input) = &self.input {
            let _ = input.send(Ok(chunk(name, body)));
        }
    }

    /// A whole TEXT content block.
    pub(crate) fn text(&self, content_name: &str, role: &str, interactive: bool, text: &str) {
        self.send(
            "contentStart",
            json!({"promptName": "p1", "contentName": content_name, "type": "TEXT",
                "interactive": interactive, "role": role,
                "textInputConfiguration": {"mediaType": "text/plain"}}),
        );
        self.send(
            "textInput",
            json!({"promptName": "p1", "contentName": content_name, "content": text}),
        );
        self.content_end(content_name);
    }

    /// Opens the user's AUDIO content.
    pub(crate) fn audio_start(&self, content_name: &str) {
        self.send(
            "contentStart",
            json!({"promptName": "p1", "contentName": content_name, "type": "AUDIO",
                "interactive": true, "role": "USER",
                "audioInputConfiguration": {"mediaType": "audio/lpcm", "sampleRateHertz": 16000,
                "sampleSizeBits": 16, "channelCount": 1, "audioType": "SPEECH",
                "encoding": "base64"}}),
        );
    }

    /// Sends 16 kHz samples as ~32 ms audioInput events.
    pub(crate) fn audio(&self, content_name: &str, samples: &[i16]) {
        for frame in samples.chunks(512) {
            let bytes = mocks::speech::pcm16_to_bytes(frame);
            self.send(
                "audioInput",
                json!({"promptName": "p1", "contentName": content_name,
                    "content": BASE64.encode(bytes)}),
            );
        }
    }

    /// contentEnd.
    pub(crate) fn content_end(&self, content_name: &str) {
        self.send(
            "contentEnd",
            json!({"promptName": "p1", "contentName": content_name}),
        );
    }

    /// promptEnd, sessionEnd, then the end of the input stream.
    pub(crate) fn end_session(&mut self) {
        self.send("promptEnd", json!({"promptName": "p1"}));
        self.send("sessionEnd", json!({}));
        self.input = None;
    }

    /// The next output event (`None` at the end of the stream).
    pub(crate) async fn next(&mut self) -> Result<Option<Value>, RecvError> {
        let received = tokio::time::timeout(Duration::from_secs(30), self.output.recv())
            .await
            .expect("an output event within 30 s")?;
        Ok(received.map(|output| match output {
            InvokeModelWithBidirectionalStreamOutput::Chunk(part) => {
                let bytes = part.bytes().expect("chunk bytes").as_ref();
                serde_json::from_slice(bytes).expect("event JSON")
            }
            other => panic!("unexpected output {other:?}"),
        }))
    }

    /// Events up to and including the first one named `last`.
    pub(crate) async fn until(&mut self, last: &str) -> Vec<Value> {
        let mut events = Vec::new();
        loop {
            let event = self
                .next()
                .await
                .expect("no stream error")
                .unwrap_or_else(|| panic!("stream ended before {last}: {events:#?}"));
            let done = name(&event) == last;
            events.push(event);
            if done {
                return events;
            }
        }
    }

    /// The first error the output stream returns.
    pub(crate) async fn error(&mut self) -> RecvError {
        loop {
            match self.next().await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("stream ended without an error"),
                Err(error) => return error,
            }
        }
    }
}

fn chunk(name: &str, body: Value) -> InvokeModelWithBidirectionalStreamInput {
    let mut event = serde_json::Map::new();
    event.insert(name.to_owned(), body);
    let json = json!({ "event": Value::Object(event) }).to_string();
    InvokeModelWithBidirectionalStreamInput::Chunk(
        BidirectionalInputPayloadPart::builder()
            .bytes(Blob::new(json))
            .build(),
    )
}

/// Texts of `textOutput` events with `role`, in order.
pub(crate) fn texts(events: &[Value], role: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| name(e) == "textOutput" && body(e)["role"] == role)
        .map(|e| body(e)["content"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Decoded samples of every `audioOutput` event.
pub(crate) fn audio_samples(events: &[Value]) -> Vec<i16> {
    events
        .iter()
        .filter(|e| name(e) == "audioOutput")
        .flat_map(|e| {
            let bytes = BASE64
                .decode(body(e)["content"].as_str().unwrap_or_default())
                .expect("base64 audio");
            mocks::speech::pcm16_from_bytes(&bytes)
        })
        .collect()
}

/// A minimal HTTP/1.1 request (`Connection: close`); returns (status, body).
pub(crate) async fn http(
    base_url: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, String) {
    let host = base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}
