//! Parsing what a Live API client sends: one JSON object per WebSocket
//! message carrying exactly one of `setup`, `clientContent`, `realtimeInput`,
//! `toolResponse`. Google's own samples send snake_case keys and the SDKs send
//! camelCase, so keys are normalised to camelCase first (see [`super::casing`]). Anything Vertex
//! would refuse (unknown fields, invalid base64, an unsupported audio format)
//! is a [`ParseError`] whose text is the close reason.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::casing::normalize_keys;
use super::context::Compression;

/// Audio sample rate assumed when a `audio/pcm` MIME type names none.
pub(crate) const DEFAULT_INPUT_RATE: u32 = 16_000;

/// Why a client message is refused (the session closes with 1007).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParseError {
    /// Not JSON, or a field of the wrong type.
    #[error("Invalid JSON payload received. {0}")]
    InvalidJson(String),
    /// A field this API does not have.
    #[error("Invalid JSON payload received. Unknown name \"{name}\" at '{at}': Cannot find field.")]
    UnknownField {
        /// The field's name as sent.
        name: String,
        /// Where it was found.
        at: String,
    },
    /// Not exactly one of the four client message kinds.
    #[error(
        "Invalid request: a client message must carry exactly one of setup, clientContent, realtimeInput, toolResponse"
    )]
    NotExactlyOneKind,
    /// `data` is not valid base64.
    #[error("Invalid value at '{at}' (TYPE_BYTES), Base64 decoding failed")]
    InvalidBase64 {
        /// The field holding the data.
        at: String,
    },
    /// A media type the Live API does not take.
    #[error("Unsupported mime type: {0}")]
    UnsupportedMimeType(String),
}

/// A parsed client message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ClientMessage {
    /// The session configuration (first message only).
    Setup(Setup),
    /// Conversation turns typed by the client.
    ClientContent(ClientContent),
    /// Streamed input.
    RealtimeInput(RealtimeInput),
    /// Answers to tool calls (the mock never calls tools; accepted and ignored).
    ToolResponse,
}

/// What the mock uses from `setup`.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Setup {
    /// `projects/{P}/locations/{L}/publishers/google/models/{MODEL}`.
    pub model: String,
    /// `generationConfig.responseModalities`, upper-cased (empty: AUDIO).
    pub response_modalities: Vec<String>,
    /// The text of `systemInstruction` (parts joined by newlines).
    pub system_instruction: Option<String>,
    /// `realtimeInputConfig.automaticActivityDetection.disabled`.
    pub manual_activity: bool,
    /// `realtimeInputConfig.automaticActivityDetection.silenceDurationMs`.
    pub silence_duration_ms: Option<u32>,
    /// `inputAudioTranscription` was given: send `inputTranscription`.
    pub input_transcription: bool,
    /// `outputAudioTranscription` was given: send `outputTranscription`.
    pub output_transcription: bool,
    /// `sessionResumption` was given: send `sessionResumptionUpdate`s.
    pub session_resumption: bool,
    /// `sessionResumption.handle`: continue an earlier session.
    pub resume_handle: Option<String>,
    /// `contextWindowCompression` (a sliding window; Vertex's defaults for
    /// the fields left out).
    pub compression: Option<Compression>,
}

impl Setup {
    /// Whether the model answers in text rather than audio.
    pub(crate) fn text_responses(&self) -> bool {
        !self.response_modalities.is_empty()
            && !self.response_modalities.iter().any(|m| m == "AUDIO")
    }
}

/// `clientContent`.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ClientContent {
    /// The text of each turn (parts joined by newlines), in order.
    pub turns: Vec<String>,
    /// Whether the model should answer now.
    pub turn_complete: bool,
}

/// One chunk of PCM audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AudioChunk {
    /// Samples per second (from `audio/pcm;rate=N`).
    pub sample_rate: u32,
    /// Little-endian 16-bit PCM bytes.
    pub pcm: Vec<u8>,
}

/// `realtimeInput`: the fields present, handled in this order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RealtimeInput {
    /// `activityStart` (manual activity detection).
    pub activity_start: bool,
    /// `audio` and `mediaChunks` audio, in order (images and video are dropped).
    pub audio: Vec<AudioChunk>,
    pub text: Option<String>,
    /// `activityEnd` (manual activity detection).
    pub activity_end: bool,
    /// `audioStreamEnd`.
    pub audio_stream_end: bool,
}

const MESSAGE_KINDS: &[&str] = &["setup", "clientContent", "realtimeInput", "toolResponse"];

const SETUP_FIELDS: &[&str] = &[
    "model",
    "generationConfig",
    "systemInstruction",
    "tools",
    "realtimeInputConfig",
    "sessionResumption",
    "contextWindowCompression",
    "inputAudioTranscription",
    "outputAudioTranscription",
    "proactivity",
    "explicitVadSignal",
    "safetySettings",
    "historyConfig",
    "avatarConfig",
];

const REALTIME_FIELDS: &[&str] = &[
    "mediaChunks",
    "audio",
    "video",
    "text",
    "activityStart",
    "activityEnd",
    "audioStreamEnd",
];

const CLIENT_CONTENT_FIELDS: &[&str] = &["turns", "turnComplete"];

fn check_fields(map: &Map<String, Value>, allowed: &[&str], at: &str) -> Result<(), ParseError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(name) => Err(ParseError::UnknownField {
            name: name.clone(),
            at: at.to_owned(),
        }),
        None => Ok(()),
    }
}

fn as_object<'a>(value: &'a Value, at: &str) -> Result<&'a Map<String, Value>, ParseError> {
    value.as_object().ok_or_else(|| {
        ParseError::InvalidJson(format!("Invalid value at '{at}': expected an object"))
    })
}

/// Parses one client message (text or binary frame contents).
pub(crate) fn parse_client_message(bytes: &[u8]) -> Result<ClientMessage, ParseError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ParseError::InvalidJson(format!("Syntax error: {e}")))?;
    let value = normalize_keys(value);
    let map = as_object(&value, "message")?;
    check_fields(map, MESSAGE_KINDS, "message")?;
    if map.len() != 1 {
        return Err(ParseError::NotExactlyOneKind);
    }
    let (kind, body) = map.iter().next().ok_or(ParseError::NotExactlyOneKind)?;
    match kind.as_str() {
        "setup" => parse_setup(body).map(ClientMessage::Setup),
        "clientContent" => parse_client_content(body).map(ClientMessage::ClientContent),
        "realtimeInput" => parse_realtime_input(body).map(ClientMessage::RealtimeInput),
        _ => Ok(ClientMessage::ToolResponse),
    }
}

#[derive(Deserialize)]
struct Part {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    parts: Vec<Part>,
}

impl Content {
    fn text(&self) -> String {
        let texts: Vec<&str> = self
            .parts
            .iter()
            .filter_map(|p| p.text.as_deref())
            .collect();
        texts.join("\n")
    }
}

fn typed<T: serde::de::DeserializeOwned>(value: &Value, at: &str) -> Result<T, ParseError> {
    serde_json::from_value(value.clone())
        .map_err(|e| ParseError::InvalidJson(format!("Invalid value at '{at}': {e}")))
}

fn parse_setup(body: &Value) -> Result<Setup, ParseError> {
    let map = as_object(body, "setup")?;
    check_fields(map, SETUP_FIELDS, "setup")?;
    let model: String = typed(map.get("model").unwrap_or(&Value::Null), "setup.model")
        .map_err(|_| ParseError::InvalidJson("setup.model is required".into()))?;
    let pointer = |path: &str| body.pointer(path);
    let response_modalities: Vec<String> = match pointer("/generationConfig/responseModalities") {
        Some(v) => typed::<Vec<String>>(v, "setup.generationConfig.responseModalities")?,
        None => Vec::new(),
    };
    let system_instruction = match map.get("systemInstruction") {
        // The SDKs send a Content; a bare string is accepted too.
        Some(Value::String(text)) => Some(text.clone()),
        Some(v) => Some(typed::<Content>(v, "setup.systemInstruction")?.text()),
        None => None,
    };
    let detection = "/realtimeInputConfig/automaticActivityDetection";
    let manual_activity = match pointer(&format!("{detection}/disabled")) {
        Some(v) => typed::<bool>(v, "automaticActivityDetection.disabled")?,
        None => false,
    };
    let silence_duration_ms = match pointer(&format!("{detection}/silenceDurationMs")) {
        Some(v) => Some(typed::<u32>(
            v,
            "automaticActivityDetection.silenceDurationMs",
        )?),
        None => None,
    };
    let resume_handle = match pointer("/sessionResumption/handle") {
        Some(Value::Null) | None => None,
        Some(v) => Some(typed::<String>(v, "setup.sessionResumption.handle")?),
    };
    let compression = match map.get("contextWindowCompression") {
        None | Some(Value::Null) => None,
        Some(_) => Some(Compression::new(
            int64(
                pointer("/contextWindowCompression/triggerTokens"),
                "setup.contextWindowCompression.triggerTokens",
            )?,
            int64(
                pointer("/contextWindowCompression/slidingWindow/targetTokens"),
                "setup.contextWindowCompression.slidingWindow.targetTokens",
            )?,
        )),
    };
    Ok(Setup {
        model,
        response_modalities: response_modalities
            .into_iter()
            .map(|m| m.to_ascii_uppercase())
            .collect(),
        system_instruction,
        manual_activity,
        silence_duration_ms,
        input_transcription: map.contains_key("inputAudioTranscription"),
        output_transcription: map.contains_key("outputAudioTranscription"),
        session_resumption: map.contains_key("sessionResumption"),
        resume_handle: resume_handle.filter(|h| !h.is_empty()),
        compression,
    })
}

/// A proto3 `int64`: a JSON number or a string of digits.
fn int64(value: Option<&Value>, field: &str) -> Result<Option<u64>, ParseError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        Some(Value::String(text)) if text.parse::<u64>().is_ok() => Ok(text.parse().ok()),
        Some(other) => Err(ParseError::InvalidJson(format!(
            "Invalid value at '{field}' (TYPE_INT64), {other}"
        ))),
    }
}

fn parse_client_content(body: &Value) -> Result<ClientContent, ParseError> {
    let map = as_object(body, "clientContent")?;
    check_fields(map, CLIENT_CONTENT_FIELDS, "client_content")?;
    let turns: Vec<Content> = match map.get("turns") {
        Some(v) => typed(v, "clientContent.turns")?,
        None => Vec::new(),
    };
    let turn_complete = match map.get("turnComplete") {
        Some(v) => typed(v, "clientContent.turnComplete")?,
        None => false,
    };
    Ok(ClientContent {
        turns: turns.iter().map(Content::text).collect(),
        turn_complete,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Blob {
    #[serde(default)]
    mime_type: String,
    #[serde(default)]
    data: String,
}

fn parse_realtime_input(body: &Value) -> Result<RealtimeInput, ParseError> {
    let map = as_object(body, "realtimeInput")?;
    check_fields(map, REALTIME_FIELDS, "realtime_input")?;
    let mut input = RealtimeInput {
        activity_start: map.contains_key("activityStart"),
        activity_end: map.contains_key("activityEnd"),
        ..RealtimeInput::default()
    };
    if let Some(chunks) = map.get("mediaChunks") {
        for blob in typed::<Vec<Blob>>(chunks, "realtimeInput.mediaChunks")? {
            input.audio.extend(decode_blob(&blob, "media_chunks.data")?);
        }
    }
    if let Some(audio) = map.get("audio") {
        let blob = typed::<Blob>(audio, "realtimeInput.audio")?;
        input.audio.extend(decode_blob(&blob, "audio.data")?);
    }
    if let Some(video) = map.get("video") {
        decode_blob(&typed::<Blob>(video, "realtimeInput.video")?, "video.data")?;
    }
    if let Some(text) = map.get("text") {
        input.text = Some(typed(text, "realtimeInput.text")?);
    }
    input.audio_stream_end = match map.get("audioStreamEnd") {
        Some(v) => typed(v, "realtimeInput.audioStreamEnd")?,
        None => false,
    };
    Ok(input)
}

/// Decodes a media blob: PCM audio is returned, images and video are dropped.
fn decode_blob(blob: &Blob, at: &str) -> Result<Option<AudioChunk>, ParseError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(blob.data.as_bytes())
        .map_err(|_| ParseError::InvalidBase64 { at: at.to_owned() })?;
    let mime = blob.mime_type.to_ascii_lowercase();
    if mime.starts_with("image/") || mime.starts_with("video/") {
        return Ok(None);
    }
    match pcm_rate(&mime) {
        Some(sample_rate) => Ok(Some(AudioChunk {
            sample_rate,
            pcm: bytes,
        })),
        None => Err(ParseError::UnsupportedMimeType(blob.mime_type.clone())),
    }
}

/// The sample rate of an `audio/pcm[;rate=N]` MIME type.
pub(crate) fn pcm_rate(mime: &str) -> Option<u32> {
    let mut params = mime.split(';').map(str::trim);
    if !params.next()?.eq_ignore_ascii_case("audio/pcm") {
        return None;
    }
    let mut rate = DEFAULT_INPUT_RATE;
    for param in params {
        if let Some((name, value)) = param.split_once('=')
            && name.trim().eq_ignore_ascii_case("rate")
        {
            rate = value.trim().parse().ok().filter(|r| *r > 0)?;
        }
    }
    Some(rate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vertex::casing::FREE_FORM_KEYS;
    use proptest::prelude::*;

    fn snake_case(name: &str) -> String {
        let mut out = String::new();
        for c in name.chars() {
            if c.is_ascii_uppercase() {
                out.push('_');
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    }

    fn snake_keys(value: Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| {
                        let free = FREE_FORM_KEYS.contains(&k.as_str());
                        (snake_case(&k), if free { v } else { snake_keys(v) })
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.into_iter().map(snake_keys).collect()),
            other => other,
        }
    }

    fn parse(value: &Value) -> Result<ClientMessage, ParseError> {
        parse_client_message(value.to_string().as_bytes())
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn context_window_compression_takes_int64_numbers_or_strings_and_defaults() {
        let setup = |compression: Value| {
            parse(&serde_json::json!({"setup": {
                "model": "projects/p/locations/l/publishers/google/models/m",
                "contextWindowCompression": compression,
            }}))
        };
        let read = |compression: Value| match setup(compression).unwrap() {
            ClientMessage::Setup(parsed) => parsed.compression.unwrap(),
            other => panic!("{other:?}"),
        };
        let both = read(
            serde_json::json!({"triggerTokens": "16000", "slidingWindow": {"targetTokens": 8000}}),
        );
        assert_eq!((both.trigger_tokens, both.target_tokens), (16_000, 8_000));
        let defaults = read(serde_json::json!({"slidingWindow": {}}));
        assert_eq!(
            (defaults.trigger_tokens, defaults.target_tokens),
            (102_400, 51_200)
        );
        let error = setup(serde_json::json!({"triggerTokens": "lots"})).unwrap_err();
        assert!(format!("{error:?}").contains("triggerTokens"), "{error:?}");
        let ClientMessage::Setup(none) = setup(Value::Null).unwrap() else {
            panic!()
        };
        assert!(none.compression.is_none());
    }

    #[test]
    fn parses_a_full_setup() {
        let setup = serde_json::json!({"setup": {
            "model": "projects/p/locations/us-central1/publishers/google/models/m",
            "generationConfig": {"responseModalities": ["audio"]},
            "systemInstruction": {"parts": [{"text": "You are Maya."}, {"text": "Be kind."}]},
            "realtimeInputConfig": {"automaticActivityDetection": {"disabled": true, "silenceDurationMs": 500}},
            "inputAudioTranscription": {}, "outputAudioTranscription": {},
            "sessionResumption": {"handle": "h1"}
        }});
        let ClientMessage::Setup(parsed) = parse(&setup).unwrap() else {
            panic!()
        };
        assert_eq!(
            parsed.system_instruction.as_deref(),
            Some("You are Maya.\nBe kind.")
        );
        assert!(
            parsed.manual_activity && parsed.input_transcription && parsed.output_transcription
        );
        assert_eq!(parsed.silence_duration_ms, Some(500));
        assert_eq!(parsed.resume_handle.as_deref(), Some("h1"));
        assert!(!parsed.text_responses());
        assert_eq!(parse(&snake_keys(setup)), Ok(ClientMessage::Setup(parsed)));
    }

    #[test]
    fn refuses_what_vertex_refuses() {
        let unknown = serde_json::json!({"setup": {"model": "m", "systemInstructions": "x"}});
        assert!(
            matches!(parse(&unknown), Err(ParseError::UnknownField { name, .. }) if name == "systemInstructions")
        );
        assert!(matches!(
            parse(&serde_json::json!({"hello": {}})),
            Err(ParseError::UnknownField { .. })
        ));
        assert_eq!(
            parse(&serde_json::json!({"setup": {"model": "m"}, "realtimeInput": {}})),
            Err(ParseError::NotExactlyOneKind)
        );
        let bad = serde_json::json!({"realtimeInput": {"audio": {"mimeType": "audio/pcm", "data": "@@@"}}});
        assert!(matches!(parse(&bad), Err(ParseError::InvalidBase64 { .. })));
        let wav =
            serde_json::json!({"realtimeInput": {"audio": {"mimeType": "audio/wav", "data": ""}}});
        assert!(matches!(
            parse(&wav),
            Err(ParseError::UnsupportedMimeType(_))
        ));
        assert!(matches!(
            parse_client_message(b"{not json"),
            Err(ParseError::InvalidJson(_))
        ));
    }

    #[test]
    fn mime_rates() {
        assert_eq!(pcm_rate("audio/pcm"), Some(16_000));
        assert_eq!(pcm_rate("audio/pcm;rate=24000"), Some(24_000));
        assert_eq!(pcm_rate("audio/PCM; rate = 8000"), Some(8_000));
        assert_eq!(pcm_rate("audio/pcm;rate=zero"), None);
        assert_eq!(pcm_rate("audio/opus"), None);
    }

    fn realtime_message() -> impl Strategy<Value = Value> {
        let audio = (
            proptest::collection::vec(any::<u8>(), 0..64),
            prop_oneof![Just(8_000u32), Just(16_000), Just(24_000)],
        )
            .prop_map(|(bytes, rate)| {
                serde_json::json!({"realtimeInput": {"audio": {"mimeType": format!("audio/pcm;rate={rate}"), "data": b64(&bytes)}}})
            });
        let chunks = proptest::collection::vec(any::<u8>(), 0..64).prop_map(|bytes| {
            serde_json::json!({"realtimeInput": {"mediaChunks": [{"mimeType": "audio/pcm", "data": b64(&bytes)}]}})
        });
        let text =
            "[a-zA-Z ]{0,20}".prop_map(|t| serde_json::json!({"realtimeInput": {"text": t}}));
        let signals = (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(s, e, end)| {
            let mut input = Map::new();
            if s {
                input.insert("activityStart".into(), serde_json::json!({}));
            }
            if e {
                input.insert("activityEnd".into(), serde_json::json!({}));
            }
            input.insert("audioStreamEnd".into(), end.into());
            serde_json::json!({ "realtimeInput": input })
        });
        let content = (
            proptest::collection::vec("[a-z ]{0,12}", 0..3),
            any::<bool>(),
        )
            .prop_map(|(turns, complete)| {
                let turns: Vec<Value> = turns
                    .iter()
                    .map(|t| serde_json::json!({"role": "user", "parts": [{"text": t}]}))
                    .collect();
                serde_json::json!({"clientContent": {"turns": turns, "turnComplete": complete}})
            });
        let setup = (any::<bool>(), proptest::option::of(100u32..3000), any::<bool>()).prop_map(
            |(manual, silence, transcribe)| {
                let mut detection = serde_json::json!({"disabled": manual});
                if let Some(ms) = silence {
                    detection["silenceDurationMs"] = ms.into();
                }
                let mut setup = serde_json::json!({
                    "model": "projects/p/locations/europe-west1/publishers/google/models/m",
                    "realtimeInputConfig": {"automaticActivityDetection": detection},
                    "generationConfig": {"responseModalities": ["AUDIO"], "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Aoede"}}}},
                });
                if transcribe {
                    setup["inputAudioTranscription"] = serde_json::json!({});
                }
                serde_json::json!({ "setup": setup })
            },
        );
        prop_oneof![audio, chunks, text, signals, content, setup]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn both_casings_parse_the_same(message in realtime_message()) {
            let camel = parse(&message);
            prop_assert!(camel.is_ok(), "{:?}", camel);
            prop_assert_eq!(parse(&snake_keys(message)), camel);
        }

        #[test]
        fn audio_bytes_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let message = serde_json::json!({"realtime_input": {"audio": {"mime_type": "audio/pcm;rate=16000", "data": b64(&bytes)}}});
            let ClientMessage::RealtimeInput(input) = parse(&message).unwrap() else { panic!() };
            prop_assert_eq!(&input.audio[0].pcm, &bytes);
            prop_assert_eq!(input.audio[0].sample_rate, 16_000);
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = parse_client_message(&bytes);
        }
    }
}
