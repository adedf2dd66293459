//! Nova Sonic's event JSON, both ways, as plain functions: the input events
//! in the order Bedrock requires (sessionStart, promptStart, the SYSTEM
//! prompt, the chat history, then live text and audio; promptEnd,
//! sessionEnd), with its size rules (one `textInput` at most 1 KB, split
//! inside its content block; the whole history at most 40 KB, oldest lines
//! dropped). The output side is [`super::output`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::{Endpointing, takes_turn_detection};

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

    /// The role a wire name names.
    pub fn parse(text: &str) -> Option<Self> {
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
    /// `turnDetectionConfiguration.endpointingSensitivity` (Nova 2 Sonic).
    pub endpointing: Option<Endpointing>,
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
            endpointing: None,
        }
    }

    /// With `endpointing`, when `model_id` takes it (v1 gets no such field).
    pub fn with_turn_detection(mut self, model_id: &str, endpointing: Option<Endpointing>) -> Self {
        self.endpointing = endpointing.filter(|_| takes_turn_detection(model_id));
        self
    }
}

fn event(name: &str, body: Value) -> Value {
    let mut inner = serde_json::Map::new();
    inner.insert(name.to_owned(), body);
    json!({ "event": Value::Object(inner) })
}

/// `sessionStart`.
pub fn session_start(settings: &PromptSettings) -> Value {
    let mut body = json!({"inferenceConfiguration": {
        "maxTokens": settings.max_tokens,
        "topP": settings.top_p,
        "temperature": settings.temperature,
    }});
    if let Some(endpointing) = settings.endpointing {
        body["turnDetectionConfiguration"] =
            json!({"endpointingSensitivity": endpointing.as_str()});
    }
    event("sessionStart", body)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn name(event: &Value) -> &str {
        event["event"].as_object().unwrap().keys().next().unwrap()
    }

    #[test]
    fn turn_detection_goes_to_nova_2_sonic_only() {
        let v2 = PromptSettings::new("p1", "matthew")
            .with_turn_detection("amazon.nova-2-sonic-v1:0", Some(Endpointing::Low));
        let start = session_start(&v2);
        assert_eq!(
            start["event"]["sessionStart"]["turnDetectionConfiguration"],
            json!({"endpointingSensitivity": "LOW"})
        );
        let v1 = PromptSettings::new("p1", "matthew")
            .with_turn_detection("amazon.nova-sonic-v1:0", Some(Endpointing::Low));
        let start = session_start(&v1);
        assert!(
            start["event"]["sessionStart"]
                .get("turnDetectionConfiguration")
                .is_none()
        );
        let unset = PromptSettings::new("p1", "matthew")
            .with_turn_detection("amazon.nova-2-sonic-v1:0", None);
        assert!(
            session_start(&unset)["event"]["sessionStart"]
                .get("turnDetectionConfiguration")
                .is_none()
        );
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
    }
}
