//! A Gemini Live (Vertex AI `BidiGenerateContent`) client over WebSocket:
//! connect to the regional endpoint with a bearer token, send `setup` and wait
//! for `setupComplete`, stream 16 kHz PCM as `realtimeInput.audio`, send text
//! turns, and read server messages as typed [`LiveEvent`]s (transcriptions,
//! 24 kHz audio, turn ends with `usageMetadata`, `goAway`, resumption handles).

use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long `setupComplete` may take.
const SETUP_LIMIT: Duration = Duration::from_secs(15);
/// How long a close frame may take to go out before the socket is dropped.
const CLOSE_LIMIT: Duration = Duration::from_secs(1);

/// Where and how to open a session.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// Base URL with a `{region}` placeholder (`https://{region}-aiplatform.googleapis.com`,
    /// or the local mock's `http://127.0.0.1:PORT/regions/{region}`).
    pub base_url_template: String,
    /// Vertex location.
    pub region: String,
    /// GCP project.
    pub project: String,
    /// Live model id (`gemini-live-2.5-flash-native-audio`).
    pub model: String,
    /// The examiner's instructions.
    pub system_instruction: String,
    /// Prebuilt voice.
    pub voice: String,
    /// Silence that ends the candidate's turn.
    pub silence_ms: u32,
    /// A resumption handle from an earlier connection of the same session.
    pub resumption_handle: Option<String>,
    /// `contextWindowCompression` with a sliding window (none: off).
    pub compression: Option<ContextCompression>,
}

/// A sliding window over the session's context: before a turn whose context
/// passes `trigger_tokens`, Vertex drops the oldest turns down to
/// `target_tokens`. Every turn is billed for the whole context, so this
/// bounds the bill per turn; it also lets an audio session outlast 15 minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextCompression {
    /// `triggerTokens`.
    pub trigger_tokens: u64,
    /// `slidingWindow.targetTokens`.
    pub target_tokens: u64,
}

impl LiveConfig {
    /// The `wss://` (or `ws://`) URL of the region's endpoint.
    pub fn url(&self) -> String {
        let base = self.base_url_template.replace("{region}", &self.region);
        let base = base
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1);
        format!(
            "{}/ws/google.cloud.aiplatform.v1.LlmBidiService/BidiGenerateContent",
            base.trim_end_matches('/')
        )
    }

    /// The model's resource path.
    pub fn model_path(&self) -> String {
        format!(
            "projects/{}/locations/{}/publishers/google/models/{}",
            self.project, self.region, self.model
        )
    }

    /// The `setup` message.
    pub fn setup_message(&self) -> Value {
        let mut resumption = json!({});
        if let Some(handle) = &self.resumption_handle {
            resumption = json!({"handle": handle});
        }
        let mut setup = json!({"setup": {
            "model": self.model_path(),
            "generationConfig": {
                "responseModalities": ["AUDIO"],
                "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": self.voice}}, "languageCode": "en-US"},
                "temperature": 0.7
            },
            "systemInstruction": {"parts": [{"text": self.system_instruction}]},
            "realtimeInputConfig": {"automaticActivityDetection": {"disabled": false, "silenceDurationMs": self.silence_ms}},
            "inputAudioTranscription": {},
            "outputAudioTranscription": {},
            "sessionResumption": resumption
        }});
        if let Some(compression) = self.compression {
            // int64 fields: proto3 JSON writes them as strings.
            setup["setup"]["contextWindowCompression"] = json!({
                "triggerTokens": compression.trigger_tokens.to_string(),
                "slidingWindow": {"targetTokens": compression.target_tokens.to_string()},
            });
        }
        setup
    }
}

/// Token counts of one turn, by modality.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LiveUsage {
    /// Audio tokens in the prompt (the whole context so far).
    pub input_audio: u64,
    /// Text tokens in the prompt.
    pub input_text: u64,
    /// Audio tokens produced.
    pub output_audio: u64,
    /// Text tokens produced.
    pub output_text: u64,
}

/// What the server said, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveEvent {
    /// Transcript of the candidate's speech.
    InputTranscription(String),
    /// Transcript of the model's speech.
    OutputTranscription(String),
    /// Model audio, 16-bit PCM at `rate`.
    Audio {
        /// PCM bytes.
        pcm: Vec<u8>,
        /// Sample rate (24000).
        rate: u32,
    },
    /// The model finished generating.
    GenerationComplete,
    /// The turn ended (with usage when the server sent it).
    TurnComplete(Option<LiveUsage>),
    /// The candidate interrupted the model.
    Interrupted,
    /// The server will close soon.
    GoAway(Duration),
    /// A handle to resume the session on a new connection.
    ResumptionHandle(String),
    /// The socket closed.
    Closed {
        /// Close code (1006 when none).
        code: u16,
        /// Reason.
        reason: String,
    },
}

/// Why the Live session failed.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// Connecting or the upgrade failed (bad credentials answer 401 here).
    #[error("cannot connect to Gemini Live at {url}: {message}")]
    Connect {
        /// Endpoint.
        url: String,
        /// Cause.
        message: String,
    },
    /// Setup was refused or timed out.
    #[error("Gemini Live setup failed: {0}")]
    Setup(String),
    /// The socket failed.
    #[error("Gemini Live socket: {0}")]
    Socket(String),
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// An open Live session.
#[derive(Debug)]
pub struct LiveSession {
    socket: Socket,
}

impl LiveSession {
    /// Connects, sends `setup`, waits for `setupComplete`.
    pub async fn connect(config: &LiveConfig, bearer: &str) -> Result<Self, LiveError> {
        let url = config.url();
        let connect_error = |message: String| LiveError::Connect {
            url: url.clone(),
            message,
        };
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| connect_error(e.to_string()))?;
        let authorization = format!("Bearer {bearer}")
            .parse()
            .map_err(|_| connect_error("bad token".into()))?;
        request.headers_mut().insert("authorization", authorization);
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| connect_error(e.to_string()))?;
        socket
            .send(Message::text(config.setup_message().to_string()))
            .await
            .map_err(|e| LiveError::Setup(e.to_string()))?;
        let wait = async {
            while let Some(message) = socket.next().await {
                match message.map_err(|e| LiveError::Setup(e.to_string()))? {
                    Message::Text(text)
                        if parse_json(text.as_bytes())
                            .is_some_and(|v| v.get("setupComplete").is_some()) =>
                    {
                        return Ok(());
                    }
                    Message::Binary(bytes)
                        if parse_json(&bytes).is_some_and(|v| v.get("setupComplete").is_some()) =>
                    {
                        return Ok(());
                    }
                    Message::Close(frame) => {
                        let reason = frame
                            .map(|f| format!("{} {}", u16::from(f.code), f.reason))
                            .unwrap_or_default();
                        return Err(LiveError::Setup(format!("closed during setup: {reason}")));
                    }
                    _ => {}
                }
            }
            Err(LiveError::Setup("closed during setup".into()))
        };
        tokio::time::timeout(SETUP_LIMIT, wait)
            .await
            .map_err(|_| LiveError::Setup("no setupComplete in time".into()))??;
        Ok(Self { socket })
    }

    async fn send(&mut self, message: Value) -> Result<(), LiveError> {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .map_err(|e| LiveError::Socket(e.to_string()))
    }

    /// Streams 16 kHz PCM.
    pub async fn send_audio(&mut self, pcm_16k: &[u8]) -> Result<(), LiveError> {
        let data = base64::engine::general_purpose::STANDARD.encode(pcm_16k);
        self.send(
            json!({"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": data}}}),
        )
        .await
    }

    /// Tells the server the audio stream paused (flushes the last utterance).
    pub async fn audio_stream_end(&mut self) -> Result<(), LiveError> {
        self.send(json!({"realtimeInput": {"audioStreamEnd": true}}))
            .await
    }

    /// Sends a complete user text turn.
    pub async fn send_text_turn(&mut self, text: &str) -> Result<(), LiveError> {
        self.send(json!({"clientContent": {"turns": [{"role": "user", "parts": [{"text": text}]}], "turnComplete": true}}))
            .await
    }

    /// The next events (one server message may carry several); `None` once closed.
    pub async fn next_events(&mut self) -> Option<Vec<LiveEvent>> {
        loop {
            match self.socket.next().await {
                None => return None,
                Some(Err(e)) => {
                    return Some(vec![LiveEvent::Closed {
                        code: 1006,
                        reason: e.to_string(),
                    }]);
                }
                Some(Ok(Message::Text(text))) => {
                    return Some(parse_server_message(text.as_bytes()));
                }
                Some(Ok(Message::Binary(bytes))) => return Some(parse_server_message(&bytes)),
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Some(vec![LiveEvent::Closed { code, reason }]);
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Closes the socket politely.
    pub async fn close(mut self) {
        // A peer that is not reading must not hold the caller: the close
        // frame gets a second to go out, then the socket is dropped.
        let _ = tokio::time::timeout(CLOSE_LIMIT, self.socket.close(None)).await;
    }
}

fn parse_json(bytes: &[u8]) -> Option<Value> {
    serde_json::from_slice(bytes).ok()
}

fn tokens(details: Option<&Value>, modality: &str) -> u64 {
    details
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|d| d.get("modality").and_then(Value::as_str) == Some(modality))
        .filter_map(|d| d.get("tokenCount").and_then(Value::as_u64))
        .sum()
}

fn usage(metadata: &Value) -> LiveUsage {
    LiveUsage {
        input_audio: tokens(metadata.get("promptTokensDetails"), "AUDIO"),
        input_text: tokens(metadata.get("promptTokensDetails"), "TEXT"),
        output_audio: tokens(metadata.get("candidatesTokensDetails"), "AUDIO"),
        output_text: tokens(metadata.get("candidatesTokensDetails"), "TEXT"),
    }
}

/// Parses "50s" / "1.5s" durations (protobuf JSON).
fn parse_duration(text: &str) -> Option<Duration> {
    text.strip_suffix('s')?
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Parses one server message into events (unknown parts are ignored; never panics).
pub fn parse_server_message(bytes: &[u8]) -> Vec<LiveEvent> {
    let Some(message) = parse_json(bytes) else {
        return Vec::new();
    };
    let mut events = Vec::new();
    if let Some(content) = message.get("serverContent") {
        if let Some(text) = content
            .pointer("/inputTranscription/text")
            .and_then(Value::as_str)
        {
            events.push(LiveEvent::InputTranscription(text.to_owned()));
        }
        if let Some(text) = content
            .pointer("/outputTranscription/text")
            .and_then(Value::as_str)
        {
            events.push(LiveEvent::OutputTranscription(text.to_owned()));
        }
        for part in content
            .pointer("/modelTurn/parts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(inline) = part.get("inlineData") else {
                continue;
            };
            let mime = inline
                .get("mimeType")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let rate = mime
                .split("rate=")
                .nth(1)
                .and_then(|r| r.parse().ok())
                .unwrap_or(24_000);
            if let Some(pcm) = inline
                .get("data")
                .and_then(Value::as_str)
                .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
            {
                events.push(LiveEvent::Audio { pcm, rate });
            }
        }
        if content.get("interrupted").and_then(Value::as_bool) == Some(true) {
            events.push(LiveEvent::Interrupted);
        }
        if content.get("generationComplete").and_then(Value::as_bool) == Some(true) {
            events.push(LiveEvent::GenerationComplete);
        }
        if content.get("turnComplete").and_then(Value::as_bool) == Some(true) {
            events.push(LiveEvent::TurnComplete(
                message.get("usageMetadata").map(usage),
            ));
        }
    }
    if let Some(go_away) = message.get("goAway") {
        let left = go_away
            .get("timeLeft")
            .and_then(Value::as_str)
            .and_then(parse_duration)
            .unwrap_or_default();
        events.push(LiveEvent::GoAway(left));
    }
    if let Some(update) = message.get("sessionResumptionUpdate") {
        let resumable = update
            .get("resumable")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if let (true, Some(handle)) = (resumable, update.get("newHandle").and_then(Value::as_str)) {
            events.push(LiveEvent::ResumptionHandle(handle.to_owned()));
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn config() -> LiveConfig {
        LiveConfig {
            base_url_template: "https://{region}-aiplatform.googleapis.com".into(),
            region: "europe-west1".into(),
            project: "p".into(),
            model: "gemini-live-2.5-flash-native-audio".into(),
            system_instruction: "You are Maya.".into(),
            voice: "Aoede".into(),
            silence_ms: 800,
            resumption_handle: None,
            compression: None,
        }
    }

    #[test]
    fn compression_goes_into_the_setup_as_int64_strings() {
        let mut c = config();
        assert!(
            c.setup_message()["setup"]
                .get("contextWindowCompression")
                .is_none()
        );
        c.compression = Some(ContextCompression {
            trigger_tokens: 16_000,
            target_tokens: 8_000,
        });
        assert_eq!(
            c.setup_message()["setup"]["contextWindowCompression"],
            json!({"triggerTokens": "16000", "slidingWindow": {"targetTokens": "8000"}})
        );
    }

    #[test]
    fn urls_and_model_paths() {
        let mut c = config();
        assert_eq!(
            c.url(),
            "wss://europe-west1-aiplatform.googleapis.com/ws/google.cloud.aiplatform.v1.LlmBidiService/BidiGenerateContent"
        );
        c.base_url_template = "http://127.0.0.1:9000/regions/{region}".into();
        assert!(
            c.url()
                .starts_with("ws://127.0.0.1:9000/regions/europe-west1/ws/")
        );
        assert_eq!(
            c.model_path(),
            "projects/p/locations/europe-west1/publishers/google/models/gemini-live-2.5-flash-native-audio"
        );
        c.resumption_handle = Some("h1".into());
        assert_eq!(
            c.setup_message()["setup"]["sessionResumption"]["handle"],
            "h1"
        );
    }

    #[test]
    fn server_messages() {
        let audio = base64::engine::general_purpose::STANDARD.encode([1u8, 0, 2, 0]);
        let message = json!({"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": audio}}]}}});
        assert_eq!(
            parse_server_message(message.to_string().as_bytes()),
            vec![LiveEvent::Audio {
                pcm: vec![1, 0, 2, 0],
                rate: 24_000
            }]
        );
        let done = json!({"serverContent": {"turnComplete": true}, "usageMetadata": {
            "promptTokenCount": 60, "candidatesTokenCount": 30,
            "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 50}, {"modality": "TEXT", "tokenCount": 10}],
            "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": 25}, {"modality": "TEXT", "tokenCount": 5}]}});
        assert_eq!(
            parse_server_message(done.to_string().as_bytes()),
            vec![LiveEvent::TurnComplete(Some(LiveUsage {
                input_audio: 50,
                input_text: 10,
                output_audio: 25,
                output_text: 5
            }))]
        );
        assert_eq!(
            parse_server_message(br#"{"goAway":{"timeLeft":"50s"}}"#),
            vec![LiveEvent::GoAway(Duration::from_secs(50))]
        );
        assert_eq!(
            parse_server_message(
                br#"{"sessionResumptionUpdate":{"newHandle":"h","resumable":true}}"#
            ),
            vec![LiveEvent::ResumptionHandle("h".into())]
        );
        assert_eq!(
            parse_server_message(br#"{"serverContent":{"inputTranscription":{"text":"hi"},"outputTranscription":{"text":"yo"}}}"#),
            vec![LiveEvent::InputTranscription("hi".into()), LiveEvent::OutputTranscription("yo".into())]
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_server_message(&bytes);
        }

        #[test]
        fn durations(seconds in 0u32..100_000) {
            prop_assert_eq!(parse_duration(&format!("{seconds}s")), Some(Duration::from_secs(u64::from(seconds))));
        }
    }
}
