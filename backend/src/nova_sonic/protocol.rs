//! Nova Sonic's event JSON, both ways, as plain functions: the input events
//! in the order Bedrock requires (sessionStart, promptStart, the SYSTEM
//! prompt, the chat history, then live text and audio; promptEnd,
//! sessionEnd), with its size rules (one `textInput` at most 1 KB, split
//! inside its content block; the whole history at most 40 KB, oldest lines
//! dropped), and the output events parsed into [`OutputEvent`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

/// Largest `textInput` content, in bytes (larger text is split).
pub const MAX_TEXT_INPUT_BYTES: usize = 1024;
/// Largest chat history, in bytes of text.
pub const MAX_HISTORY_BYTES: usize = 40 * 1024;
/// Input audio: 16 kHz, 16-bit, mono.
pub const INPUT_SAMPLE_RATE: u32 = 16_000;
/// Output audio: 24 kHz, 16-bit, mono.
pub const OUTPUT_SAMPLE_RATE: u32 = 24_000;
/// Bytes of input audio per `audioInput` event (32 ms at 16 kHz).
pub const AUDIO_FRAME_BYTES: usize = 1024;

/// Who a content block or a transcript line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Role {
    /// The system prompt.
    System,
    /// The user.
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "SYSTEM",
            Role::User => "USER",
            Role::Assistant => "ASSISTANT",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "SYSTEM" => Some(Role::System),
            "USER" => Some(Role::User),
            "ASSISTANT" => Some(Role::Assistant),
            _ => None,
        }
    }
}

/// One line of a conversation (history sent on a reopened stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryLine {
    /// USER or ASSISTANT.
    pub role: Role,
    /// What was said.
    pub text: String,
}

/// Settings of one prompt (one stream).
#[derive(Debug, Clone, PartialEq)]
pub struct PromptSettings {
    /// `promptName`, repeated by every content event.
    pub prompt_name: String,
    /// The voice (`matthew`, `tiffany`, `amy`, ...).
    pub voice_id: String,
    /// `inferenceConfiguration.maxTokens`.
    pub max_tokens: u32,
    /// `inferenceConfiguration.topP`.
    pub top_p: f64,
    /// `inferenceConfiguration.temperature`.
    pub temperature: f64,
}

impl PromptSettings {
    /// Defaults of AWS's samples for a voice.
    pub fn new(prompt_name: impl Into<String>, voice_id: impl Into<String>) -> Self {
        Self {
            prompt_name: prompt_name.into(),
            voice_id: voice_id.into(),
            max_tokens: 1024,
            top_p: 0.9,
            temperature: 0.7,
        }
    }
}

fn event(name: &str, body: Value) -> Value {
    let mut inner = serde_json::Map::new();
    inner.insert(name.to_owned(), body);
    json!({ "event": Value::Object(inner) })
}

/// `sessionStart`.
pub fn session_start(settings: &PromptSettings) -> Value {
    event(
        "sessionStart",
        json!({"inferenceConfiguration": {
            "maxTokens": settings.max_tokens,
            "topP": settings.top_p,
            "temperature": settings.temperature,
        }}),
    )
}

/// `promptStart` with text and 24 kHz audio output.
pub fn prompt_start(settings: &PromptSettings) -> Value {
    event(
        "promptStart",
        json!({
            "promptName": settings.prompt_name,
            "textOutputConfiguration": {"mediaType": "text/plain"},
            "audioOutputConfiguration": {
                "mediaType": "audio/lpcm",
                "sampleRateHertz": OUTPUT_SAMPLE_RATE,
                "sampleSizeBits": 16,
                "channelCount": 1,
                "voiceId": settings.voice_id,
                "encoding": "base64",
                "audioType": "SPEECH",
            },
        }),
    )
}

/// `text` in pieces of at most `max_bytes` bytes, cut at character boundaries.
pub fn split_text(text: &str, max_bytes: usize) -> Vec<&str> {
    let max_bytes = max_bytes.max(4);
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.len() > max_bytes {
        let mut cut = max_bytes;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        pieces.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    if !rest.is_empty() || pieces.is_empty() {
        pieces.push(rest);
    }
    pieces
}

/// A whole TEXT content block: contentStart, one textInput per 1 KB, contentEnd.
pub fn text_content(
    settings: &PromptSettings,
    content_name: &str,
    role: Role,
    interactive: bool,
    text: &str,
) -> Vec<Value> {
    let prompt = &settings.prompt_name;
    let mut events = vec![event(
        "contentStart",
        json!({
            "promptName": prompt,
            "contentName": content_name,
            "type": "TEXT",
            "interactive": interactive,
            "role": role.as_str(),
            "textInputConfiguration": {"mediaType": "text/plain"},
        }),
    )];
    for piece in split_text(text, MAX_TEXT_INPUT_BYTES) {
        events.push(event(
            "textInput",
            json!({"promptName": prompt, "contentName": content_name, "content": piece}),
        ));
    }
    events.push(content_end(settings, content_name));
    events
}

/// The user's AUDIO content block opens (16 kHz PCM, base64).
pub fn audio_content_start(settings: &PromptSettings, content_name: &str) -> Value {
    event(
        "contentStart",
        json!({
            "promptName": settings.prompt_name,
            "contentName": content_name,
            "type": "AUDIO",
            "interactive": true,
            "role": "USER",
            "audioInputConfiguration": {
                "mediaType": "audio/lpcm",
                "sampleRateHertz": INPUT_SAMPLE_RATE,
                "sampleSizeBits": 16,
                "channelCount": 1,
                "audioType": "SPEECH",
                "encoding": "base64",
            },
        }),
    )
}

/// `audioInput` events for PCM bytes, one per [`AUDIO_FRAME_BYTES`].
pub fn audio_input(settings: &PromptSettings, content_name: &str, pcm: &[u8]) -> Vec<Value> {
    pcm.chunks(AUDIO_FRAME_BYTES)
        .map(|frame| {
            event(
                "audioInput",
                json!({
                    "promptName": settings.prompt_name,
                    "contentName": content_name,
                    "content": BASE64.encode(frame),
                }),
            )
        })
        .collect()
}

/// `contentEnd`.
pub fn content_end(settings: &PromptSettings, content_name: &str) -> Value {
    event(
        "contentEnd",
        json!({"promptName": settings.prompt_name, "contentName": content_name}),
    )
}

/// `promptEnd`.
pub fn prompt_end(settings: &PromptSettings) -> Value {
    event("promptEnd", json!({"promptName": settings.prompt_name}))
}

/// `sessionEnd`.
pub fn session_end() -> Value {
    event("sessionEnd", json!({}))
}

/// The most recent lines whose text fits in `max_bytes` (the oldest are dropped).
pub fn trim_history(lines: &[HistoryLine], max_bytes: usize) -> &[HistoryLine] {
    let mut total = 0;
    let mut start = lines.len();
    for (index, line) in lines.iter().enumerate().rev() {
        total += line.text.len();
        if total > max_bytes {
            break;
        }
        start = index;
    }
    &lines[start..]
}

/// Everything a stream starts with, before `send()` is awaited: sessionStart,
/// promptStart, the system prompt, then the history (text, non-interactive,
/// and before any audio, as Bedrock requires).
pub fn opening(
    settings: &PromptSettings,
    system_prompt: &str,
    history: &[HistoryLine],
) -> Vec<Value> {
    let mut events = vec![session_start(settings), prompt_start(settings)];
    events.extend(text_content(
        settings,
        "system",
        Role::System,
        false,
        system_prompt,
    ));
    for (index, line) in trim_history(history, MAX_HISTORY_BYTES)
        .iter()
        .filter(|line| !line.text.trim().is_empty())
        .enumerate()
    {
        events.extend(text_content(
            settings,
            &format!("history-{index}"),
            line.role,
            false,
            &line.text,
        ));
    }
    events
}

/// Generation stage of a TEXT block (`additionalModelFields`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// What the model is about to say.
    Speculative,
    /// What was said (or the transcript of the user's speech).
    Final,
}

/// Kind of an output content block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    /// Text.
    Text,
    /// Audio.
    Audio,
    /// A tool call.
    Tool,
}

/// A parsed output event.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputEvent {
    /// `completionStart`.
    CompletionStart,
    /// `contentStart`.
    ContentStart {
        /// `contentId`.
        content_id: String,
        /// TEXT, AUDIO or TOOL.
        kind: ContentKind,
        /// USER or ASSISTANT.
        role: Role,
        /// From `additionalModelFields` (TEXT only; absent means FINAL).
        stage: Stage,
    },
    /// `textOutput`.
    Text {
        /// `contentId`.
        content_id: String,
        /// USER or ASSISTANT.
        role: Role,
        /// The text.
        content: String,
    },
    /// `audioOutput`, decoded to 24 kHz PCM bytes.
    Audio {
        /// `contentId`.
        content_id: String,
        /// 16-bit little-endian PCM.
        pcm: Vec<u8>,
    },
    /// `contentEnd`.
    ContentEnd {
        /// `contentId`.
        content_id: String,
        /// TEXT, AUDIO or TOOL.
        kind: ContentKind,
        /// PARTIAL_TURN, END_TURN, INTERRUPTED, TOOL_USE.
        stop_reason: String,
    },
    /// `usageEvent` (running totals).
    Usage(TokenTotals),
    /// `completionEnd`.
    CompletionEnd,
    /// Any other event (`toolUse`, new kinds): ignored.
    Other(String),
}

/// Token totals from a `usageEvent`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TokenTotals {
    /// `totalInputTokens`.
    pub input_tokens: u64,
    /// `totalOutputTokens`.
    pub output_tokens: u64,
    /// `details.total.input.speechTokens`.
    pub speech_input_tokens: u64,
    /// `details.total.output.speechTokens`.
    pub speech_output_tokens: u64,
}

/// Why an output event could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected Nova Sonic output: {0}")]
pub struct BadOutput(pub String);

fn text_field(body: &Value, name: &str) -> Result<String, BadOutput> {
    body.get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| BadOutput(format!("missing {name}")))
}

fn role_field(body: &Value) -> Result<Role, BadOutput> {
    let role = text_field(body, "role")?;
    Role::parse(&role).ok_or_else(|| BadOutput(format!("unknown role {role}")))
}

fn kind_field(body: &Value) -> Result<ContentKind, BadOutput> {
    match text_field(body, "type")?.as_str() {
        "TEXT" => Ok(ContentKind::Text),
        "AUDIO" => Ok(ContentKind::Audio),
        "TOOL" => Ok(ContentKind::Tool),
        other => Err(BadOutput(format!("unknown content type {other}"))),
    }
}

/// The stage in `additionalModelFields`, a string of JSON such as
/// `{"generationStage":"SPECULATIVE"}`.
fn stage_of(body: &Value) -> Stage {
    let speculative = body
        .get("additionalModelFields")
        .and_then(Value::as_str)
        .and_then(|fields| serde_json::from_str::<Value>(fields).ok())
        .and_then(|fields| fields.get("generationStage").cloned())
        .is_some_and(|stage| stage == "SPECULATIVE");
    if speculative {
        Stage::Speculative
    } else {
        Stage::Final
    }
}

fn count(value: &Value, pointer: &str) -> u64 {
    value.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

/// Parses one output event (`{"event": {name: body}}`).
pub fn parse_output(bytes: &[u8]) -> Result<OutputEvent, BadOutput> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| BadOutput(format!("not JSON: {e}")))?;
    let (name, body) = value
        .get("event")
        .and_then(Value::as_object)
        .and_then(|map| map.iter().next())
        .ok_or_else(|| BadOutput("no event".to_owned()))?;
    Ok(match name.as_str() {
        "completionStart" => OutputEvent::CompletionStart,
        "contentStart" => OutputEvent::ContentStart {
            content_id: text_field(body, "contentId")?,
            kind: kind_field(body)?,
            role: role_field(body)?,
            stage: stage_of(body),
        },
        "textOutput" => OutputEvent::Text {
            content_id: text_field(body, "contentId")?,
            role: role_field(body)?,
            content: text_field(body, "content")?,
        },
        "audioOutput" => OutputEvent::Audio {
            content_id: text_field(body, "contentId")?,
            pcm: BASE64
                .decode(text_field(body, "content")?)
                .map_err(|e| BadOutput(format!("audioOutput is not base64: {e}")))?,
        },
        "contentEnd" => OutputEvent::ContentEnd {
            content_id: text_field(body, "contentId")?,
            kind: kind_field(body)?,
            stop_reason: text_field(body, "stopReason").unwrap_or_default(),
        },
        "usageEvent" => OutputEvent::Usage(TokenTotals {
            input_tokens: count(body, "/totalInputTokens"),
            output_tokens: count(body, "/totalOutputTokens"),
            speech_input_tokens: count(body, "/details/total/input/speechTokens"),
            speech_output_tokens: count(body, "/details/total/output/speechTokens"),
        }),
        "completionEnd" => OutputEvent::CompletionEnd,
        other => OutputEvent::Other(other.to_owned()),
    })
}

/// Whether a FINAL assistant text is Nova Sonic's barge-in marker
/// (`{ "interrupted" : true }`).
pub fn is_interruption_marker(text: &str) -> bool {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("interrupted").and_then(Value::as_bool))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn name(event: &Value) -> &str {
        event["event"].as_object().unwrap().keys().next().unwrap()
    }

    #[test]
    fn opening_sequence_puts_history_after_the_system_prompt() {
        let settings = PromptSettings::new("p1", "matthew");
        let history = vec![
            HistoryLine {
                role: Role::User,
                text: "Who is Sarah?".into(),
            },
            HistoryLine {
                role: Role::Assistant,
                text: "Sarah is your daughter.".into(),
            },
        ];
        let events = opening(
            &settings,
            "You are Buddy.\n- Sarah is your daughter.",
            &history,
        );
        let names: Vec<&str> = events.iter().map(name).collect();
        assert_eq!(
            names,
            [
                "sessionStart",
                "promptStart",
                "contentStart",
                "textInput",
                "contentEnd",
                "contentStart",
                "textInput",
                "contentEnd",
                "contentStart",
                "textInput",
                "contentEnd"
            ]
        );
        let prompt = &events[1]["event"]["promptStart"];
        assert_eq!(
            prompt["audioOutputConfiguration"]["sampleRateHertz"],
            24_000
        );
        assert_eq!(prompt["audioOutputConfiguration"]["voiceId"], "matthew");
        assert_eq!(events[2]["event"]["contentStart"]["role"], "SYSTEM");
        assert_eq!(events[5]["event"]["contentStart"]["role"], "USER");
        assert_eq!(events[5]["event"]["contentStart"]["interactive"], false);
        assert_eq!(events[8]["event"]["contentStart"]["role"], "ASSISTANT");
        assert_eq!(
            events[9]["event"]["textInput"]["content"],
            "Sarah is your daughter."
        );
    }

    #[test]
    fn audio_is_framed_in_32_ms_pieces() {
        let settings = PromptSettings::new("p1", "tiffany");
        let start = audio_content_start(&settings, "mic");
        assert_eq!(
            start["event"]["contentStart"]["audioInputConfiguration"]["sampleRateHertz"],
            16_000
        );
        let frames = audio_input(&settings, "mic", &[7u8; 2500]);
        assert_eq!(frames.len(), 3);
        let last = BASE64
            .decode(
                frames[2]["event"]["audioInput"]["content"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(last.len(), 2500 - 2 * AUDIO_FRAME_BYTES);
    }

    #[test]
    fn output_events_parse() {
        let start = br#"{"event":{"contentStart":{"contentId":"c1","type":"TEXT","role":"ASSISTANT","additionalModelFields":"{\"generationStage\":\"SPECULATIVE\"}"}}}"#;
        assert_eq!(
            parse_output(start).unwrap(),
            OutputEvent::ContentStart {
                content_id: "c1".into(),
                kind: ContentKind::Text,
                role: Role::Assistant,
                stage: Stage::Speculative
            }
        );
        let audio = format!(
            r#"{{"event":{{"audioOutput":{{"contentId":"a","content":"{}"}}}}}}"#,
            BASE64.encode([1u8, 0, 2, 0])
        );
        assert_eq!(
            parse_output(audio.as_bytes()).unwrap(),
            OutputEvent::Audio {
                content_id: "a".into(),
                pcm: vec![1, 0, 2, 0]
            }
        );
        let usage = br#"{"event":{"usageEvent":{"totalInputTokens":5,"totalOutputTokens":9,"details":{"total":{"input":{"speechTokens":3},"output":{"speechTokens":7}}}}}}"#;
        assert_eq!(
            parse_output(usage).unwrap(),
            OutputEvent::Usage(TokenTotals {
                input_tokens: 5,
                output_tokens: 9,
                speech_input_tokens: 3,
                speech_output_tokens: 7
            })
        );
        assert_eq!(
            parse_output(br#"{"event":{"toolUse":{}}}"#).unwrap(),
            OutputEvent::Other("toolUse".into())
        );
        assert!(parse_output(b"nope").is_err());
        assert!(
            parse_output(
                br#"{"event":{"textOutput":{"contentId":"x","role":"ROBOT","content":"?"}}}"#
            )
            .is_err()
        );
        assert!(is_interruption_marker("{ \"interrupted\" : true }"));
        assert!(!is_interruption_marker("Sarah is your daughter."));
    }

    proptest! {
        #[test]
        fn split_text_keeps_text_and_limits(text in "\\PC{0,3000}", max in 4usize..1100) {
            let pieces = split_text(&text, max);
            prop_assert_eq!(pieces.concat(), text.clone());
            prop_assert!(pieces.iter().all(|p| p.len() <= max));
            prop_assert!(!pieces.is_empty());
        }

        #[test]
        fn history_trim_keeps_the_newest_lines_within_the_limit(
            lengths in proptest::collection::vec(0usize..200, 0..40),
            limit in 0usize..3000,
        ) {
            let lines: Vec<HistoryLine> = lengths
                .iter()
                .map(|n| HistoryLine { role: Role::User, text: "x".repeat(*n) })
                .collect();
            let kept = trim_history(&lines, limit);
            prop_assert!(kept.iter().map(|l| l.text.len()).sum::<usize>() <= limit);
            prop_assert_eq!(kept, &lines[lines.len() - kept.len()..]);
            if kept.len() < lines.len() {
                let next = &lines[lines.len() - kept.len() - 1];
                let with_next = kept.iter().map(|l| l.text.len()).sum::<usize>() + next.text.len();
                prop_assert!(with_next > limit, "a line that fits was dropped");
            }
        }

        #[test]
        fn arbitrary_output_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_output(&bytes);
        }
    }
}
