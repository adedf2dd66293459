//! Helpers shared by the integration tests: tokens signed like the backend
//! signs them, a Gemini Live client over a real socket, test audio, and a
//! minimal HTTP/1.1 client.

#![allow(dead_code)]

use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mocks::speech;
use mocks::vertex::{VertexConfig, VertexMock};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The project the tests use.
pub(crate) const PROJECT: &str = "speechgate-test";

/// The Live model the tests use.
pub(crate) const LIVE_MODEL: &str = "gemini-live-2.5-flash-native-audio";

/// How long a test waits for any one message.
const RECEIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// A client socket.
pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Starts a Vertex mock for the test project at `time_scale`, with a session
/// limit long enough never to interfere (tests of the limit set their own).
pub(crate) async fn start_vertex(time_scale: f64) -> VertexMock {
    start_vertex_with(VertexConfig {
        time_scale,
        project: PROJECT.into(),
        session_limit: Duration::from_secs(24 * 3600),
        ..VertexConfig::default()
    })
    .await
}

/// Starts a Vertex mock with `config`.
pub(crate) async fn start_vertex_with(config: VertexConfig) -> VertexMock {
    VertexMock::start(config).await.expect("vertex mock starts")
}

/// The signing side of a service-account key file.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    /// `private_key_id`.
    pub kid: String,
    /// `client_email`.
    pub email: String,
    /// `private_key` (PKCS#8 PEM).
    pub pem: String,
}

impl Key {
    /// Reads a key file.
    pub(crate) fn from_json(json: &str) -> Self {
        let value: Value = serde_json::from_str(json).unwrap();
        Self {
            kid: value["private_key_id"].as_str().unwrap().into(),
            email: value["client_email"].as_str().unwrap().into(),
            pem: value["private_key"].as_str().unwrap().into(),
        }
    }

    /// A self-signed JWT like google-cloud-auth makes, issued at `iat`, expiring at `exp`.
    pub(crate) fn sign(&self, iat: u64, exp: u64) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        let claims = json!({
            "iss": self.email, "sub": self.email,
            "scope": "https://www.googleapis.com/auth/cloud-platform",
            "iat": iat, "exp": exp,
        });
        let key = EncodingKey::from_rsa_pem(self.pem.as_bytes()).unwrap();
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    }

    /// A token valid for the next hour.
    pub(crate) fn token(&self) -> String {
        let now = now();
        self.sign(now, now + 3600)
    }
}

/// Seconds since the epoch.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A valid bearer token for `mock`.
pub(crate) fn token(mock: &VertexMock) -> String {
    Key::from_json(&mock.service_account_json()).token()
}

/// The Live endpoint of `region`.
pub(crate) fn live_url(mock: &VertexMock, region: &str) -> String {
    let base = mock.base_url_template().replace("{region}", region);
    format!(
        "{}/ws/google.cloud.aiplatform.v1.LlmBidiService/BidiGenerateContent",
        base.replacen("http://", "ws://", 1)
    )
}

/// Opens a Live connection with an optional bearer token.
pub(crate) async fn connect_with(
    mock: &VertexMock,
    region: &str,
    bearer: Option<&str>,
) -> Result<Ws, WsError> {
    let mut request = live_url(mock, region).into_client_request()?;
    if let Some(token) = bearer {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(ws, _)| ws)
}

/// Opens a Live connection with a valid token.
pub(crate) async fn connect(mock: &VertexMock, region: &str) -> Ws {
    connect_with(mock, region, Some(&token(mock)))
        .await
        .expect("upgrade accepted")
}

/// The model resource name for `region`.
pub(crate) fn model_path(region: &str) -> String {
    format!("projects/{PROJECT}/locations/{region}/publishers/google/models/{LIVE_MODEL}")
}

/// The system instruction the tests send.
pub(crate) const SYSTEM: &str = "You are Maya, an IELTS speaking examiner.";

/// A camelCase setup with transcription on, plus `extra` fields.
pub(crate) fn setup_message(region: &str, extra: Value) -> Value {
    let mut setup = json!({
        "model": model_path(region),
        "generationConfig": {"responseModalities": ["AUDIO"],
            "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Aoede"}}}},
        "systemInstruction": {"parts": [{"text": SYSTEM}]},
        "inputAudioTranscription": {},
        "outputAudioTranscription": {},
    });
    if let (Some(setup), Value::Object(extra)) = (setup.as_object_mut(), extra) {
        setup.extend(extra);
    }
    json!({ "setup": setup })
}

/// Sends a JSON message.
pub(crate) async fn send(ws: &mut Ws, value: &Value) {
    ws.send(Message::text(value.to_string()))
        .await
        .expect("send");
}

/// What the client received.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A JSON message (text or binary frame).
    Json(Value),
    /// A close frame.
    Closed(Option<CloseFrame>),
    /// The socket ended without a close frame.
    Dropped(String),
}

/// The next message (pings skipped), failing the test after a timeout.
pub(crate) async fn receive(ws: &mut Ws) -> Incoming {
    loop {
        let next = tokio::time::timeout(RECEIVE_TIMEOUT, ws.next())
            .await
            .expect("a message in time");
        match next {
            Some(Ok(Message::Text(text))) => {
                return Incoming::Json(serde_json::from_str(&text).unwrap());
            }
            Some(Ok(Message::Binary(bytes))) => {
                return Incoming::Json(serde_json::from_slice(&bytes).unwrap());
            }
            Some(Ok(Message::Close(frame))) => return Incoming::Closed(frame),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Incoming::Dropped(e.to_string()),
            None => return Incoming::Dropped("stream ended".into()),
        }
    }
}

/// The next JSON message.
pub(crate) async fn receive_json(ws: &mut Ws) -> Value {
    match receive(ws).await {
        Incoming::Json(value) => value,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// The close frame that ends the connection (messages before it are returned).
pub(crate) async fn receive_close(ws: &mut Ws) -> (u16, String, Vec<Value>) {
    let mut before = Vec::new();
    loop {
        match receive(ws).await {
            Incoming::Json(value) => before.push(value),
            Incoming::Closed(Some(frame)) => {
                return (u16::from(frame.code), frame.reason.to_string(), before);
            }
            other => panic!("expected a close frame, got {other:?} after {before:?}"),
        }
    }
}

/// Sends setup and expects `setupComplete`.
pub(crate) async fn start_session(ws: &mut Ws, region: &str, extra: Value) {
    send(ws, &setup_message(region, extra)).await;
    let reply = receive_json(ws).await;
    assert_eq!(reply, json!({"setupComplete": {}}));
}

/// Everything received up to and including a `turnComplete`.
#[derive(Debug, Default)]
pub(crate) struct Turn {
    /// `outputTranscription` pieces, concatenated.
    pub transcript: String,
    /// Text parts, concatenated (TEXT sessions).
    pub text: String,
    /// Decoded PCM bytes of `inlineData`.
    pub audio_bytes: usize,
    /// `inputTranscription` pieces with their `finished` flag.
    pub input: Vec<(String, bool)>,
    /// Whether `generationComplete` came.
    pub generation_complete: bool,
    /// Whether `interrupted` came.
    pub interrupted: bool,
    /// `usageMetadata` of the `turnComplete`.
    pub usage: Value,
    /// Every message, in order.
    pub messages: Vec<Value>,
}

impl Turn {
    /// Seconds of model audio.
    pub(crate) fn audio_seconds(&self) -> f64 {
        self.audio_bytes as f64 / 2.0 / 24_000.0
    }

    /// Token count of `modality` in `promptTokensDetails` or `candidatesTokensDetails`.
    pub(crate) fn tokens(&self, details: &str, modality: &str) -> u64 {
        self.usage[details]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["modality"] == modality)
            .map(|d| d["tokenCount"].as_u64().unwrap())
            .unwrap_or(0)
    }
}

/// Reads messages up to a `turnComplete`.
pub(crate) async fn read_turn(ws: &mut Ws) -> Turn {
    let mut turn = Turn::default();
    loop {
        let message = receive_json(ws).await;
        turn.messages.push(message.clone());
        let content = &message["serverContent"];
        if let Some(input) = content.get("inputTranscription") {
            turn.input.push((
                input["text"].as_str().unwrap().to_owned(),
                input["finished"].as_bool().unwrap_or(false),
            ));
        }
        if let Some(output) = content.get("outputTranscription") {
            turn.transcript.push_str(output["text"].as_str().unwrap());
        }
        for part in content["modelTurn"]["parts"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(data) = part.get("inlineData") {
                assert_eq!(data["mimeType"], "audio/pcm;rate=24000");
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(data["data"].as_str().unwrap())
                    .unwrap();
                turn.audio_bytes += bytes.len();
            }
            if let Some(text) = part.get("text") {
                turn.text.push_str(text.as_str().unwrap());
            }
        }
        if content["generationComplete"] == true {
            turn.generation_complete = true;
        }
        if content["interrupted"] == true {
            turn.interrupted = true;
        }
        if content["turnComplete"] == true {
            turn.usage = message["usageMetadata"].clone();
            return turn;
        }
    }
}

/// Sends a typed user turn.
pub(crate) async fn say_text(ws: &mut Ws, text: &str) {
    send(
        ws,
        &json!({"clientContent": {"turns": [{"role": "user", "parts": [{"text": text}]}], "turnComplete": true}}),
    )
    .await;
}

/// Voice-like 16 kHz audio lasting `ms`.
pub(crate) fn speech_pcm(ms: u64) -> Vec<i16> {
    let long = speech::synthesize(&"word ".repeat(400), 16_000);
    long[..(16 * ms) as usize].to_vec()
}

/// Silence lasting `ms` at 16 kHz.
pub(crate) fn silence_pcm(ms: u64) -> Vec<i16> {
    speech::silence(Duration::from_millis(ms), 16_000)
}

/// Speech and silence, in order (`true`: speech).
pub(crate) fn audio(parts: &[(bool, u64)]) -> Vec<i16> {
    parts
        .iter()
        .flat_map(|(is_speech, ms)| {
            if *is_speech {
                speech_pcm(*ms)
            } else {
                silence_pcm(*ms)
            }
        })
        .collect()
}

/// `realtimeInput.audio` with 16 kHz PCM.
pub(crate) fn audio_message(samples: &[i16]) -> Value {
    let data = base64::engine::general_purpose::STANDARD.encode(speech::pcm16_to_bytes(samples));
    json!({"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": data}}})
}

/// Streams audio in `chunk_ms` messages.
pub(crate) async fn stream_audio(ws: &mut Ws, samples: &[i16], chunk_ms: usize) {
    for chunk in samples.chunks(16 * chunk_ms) {
        send(ws, &audio_message(chunk)).await;
    }
}

/// A minimal HTTP/1.1 request; returns the status and body.
pub(crate) async fn http(
    base_url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let host = base_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).await.unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// JSON of an HTTP answer.
pub(crate) fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}
