//! Nova Sonic's event JSON: parsing the client's input events and building
//! the model's output events (each carrying sessionId, promptName and
//! completionId; content events also a contentId).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::speech;

/// The kind of a content block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum ContentType {
    /// Text (system prompt, history, typed user input).
    Text,
    /// Audio (16 kHz PCM from the user).
    Audio,
    /// A tool result.
    Tool,
}

/// Who a content block belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Role {
    /// The system prompt.
    System,
    User,
    /// The assistant (history).
    Assistant,
    Tool,
}

/// One decoded input event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum InputEvent {
    /// `sessionStart`.
    SessionStart {
        /// The pause that ends the user's turn, from Nova 2 Sonic's
        /// `turnDetectionConfiguration.endpointingSensitivity` (HIGH 1.5 s,
        /// MEDIUM 1.75 s, LOW 2 s); `None`: the model's default.
        end_of_turn_pause: Option<Duration>,
    },
    /// `promptStart`.
    PromptStart {
        /// The prompt's name, repeated by every later event.
        prompt_name: String,
        /// Output sample rate requested (24 kHz when absent).
        output_sample_rate: u32,
    },
    /// `contentStart`.
    ContentStart {
        /// The prompt it belongs to.
        prompt_name: String,
        /// The content's name.
        content_name: String,
        /// TEXT, AUDIO or TOOL.
        kind: ContentType,
        /// SYSTEM, USER, ASSISTANT or TOOL.
        role: Role,
        /// Whether this is live input (as opposed to history).
        interactive: bool,
        /// Input sample rate for audio content (16 kHz when absent).
        input_sample_rate: u32,
    },
    /// `textInput`.
    TextInput {
        /// The content it belongs to.
        content_name: String,
        /// The text.
        content: String,
    },
    /// `audioInput`, already decoded to samples.
    AudioInput {
        /// The content it belongs to.
        content_name: String,
        /// 16-bit PCM samples.
        samples: Vec<i16>,
    },
    /// `contentEnd`.
    ContentEnd {
        /// The content it closes.
        content_name: String,
    },
    /// `toolResult` (accepted and ignored).
    ToolResult,
    /// `promptEnd`.
    PromptEnd,
    /// `sessionEnd`.
    SessionEnd,
}

/// An input event that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct InvalidEvent(pub String);

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SessionStartBody {
    #[serde(default)]
    turn_detection_configuration: Option<TurnDetection>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TurnDetection {
    endpointing_sensitivity: String,
}

/// The pause each `endpointingSensitivity` waits for (Nova 2 user guide,
/// "Turn-taking controllability").
fn end_of_turn_pause(sensitivity: &str) -> Result<Duration, InvalidEvent> {
    match sensitivity {
        "HIGH" => Ok(Duration::from_millis(1_500)),
        "MEDIUM" => Ok(Duration::from_millis(1_750)),
        "LOW" => Ok(Duration::from_millis(2_000)),
        other => Err(InvalidEvent(format!(
            "Invalid sessionStart event: endpointingSensitivity {other:?} is not one of HIGH, MEDIUM, LOW"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptStartBody {
    prompt_name: String,
    #[serde(default)]
    audio_output_configuration: Option<AudioConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AudioConfig {
    #[serde(default)]
    sample_rate_hertz: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContentStartBody {
    prompt_name: String,
    content_name: String,
    #[serde(rename = "type")]
    kind: ContentType,
    role: Role,
    #[serde(default)]
    interactive: bool,
    #[serde(default)]
    audio_input_configuration: Option<AudioConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContentBody {
    content_name: String,
    #[serde(default)]
    content: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContentEndBody {
    content_name: String,
}

fn field<T: serde::de::DeserializeOwned>(name: &str, body: &Value) -> Result<T, InvalidEvent> {
    T::deserialize(body).map_err(|e| InvalidEvent(format!("Invalid {name} event: {e}")))
}

/// Parses `{"event": {name: body}}`.
pub(crate) fn parse_input(event: &Value) -> Result<InputEvent, InvalidEvent> {
    let inner = event
        .get("event")
        .and_then(Value::as_object)
        .filter(|map| map.len() == 1)
        .ok_or_else(|| InvalidEvent("Expected {\"event\": {<eventName>: {...}}}".into()))?;
    let (name, body) = inner.iter().next().expect("one entry checked above");
    Ok(match name.as_str() {
        "sessionStart" => {
            let body: SessionStartBody = field(name, body)?;
            InputEvent::SessionStart {
                end_of_turn_pause: body
                    .turn_detection_configuration
                    .map(|t| end_of_turn_pause(&t.endpointing_sensitivity))
                    .transpose()?,
            }
        }
        "promptStart" => {
            let body: PromptStartBody = field(name, body)?;
            InputEvent::PromptStart {
                prompt_name: body.prompt_name,
                output_sample_rate: body
                    .audio_output_configuration
                    .and_then(|c| c.sample_rate_hertz)
                    .unwrap_or(24_000),
            }
        }
        "contentStart" => {
            let body: ContentStartBody = field(name, body)?;
            InputEvent::ContentStart {
                prompt_name: body.prompt_name,
                content_name: body.content_name,
                kind: body.kind,
                role: body.role,
                interactive: body.interactive,
                input_sample_rate: body
                    .audio_input_configuration
                    .and_then(|c| c.sample_rate_hertz)
                    .unwrap_or(16_000),
            }
        }
        "textInput" => {
            let body: ContentBody = field(name, body)?;
            InputEvent::TextInput {
                content_name: body.content_name,
                content: body.content,
            }
        }
        "audioInput" => {
            let body: ContentBody = field(name, body)?;
            let bytes = BASE64
                .decode(body.content.as_bytes())
                .map_err(|e| InvalidEvent(format!("Invalid audioInput content: {e}")))?;
            InputEvent::AudioInput {
                content_name: body.content_name,
                samples: speech::pcm16_from_bytes(&bytes),
            }
        }
        "contentEnd" => {
            let body: ContentEndBody = field(name, body)?;
            InputEvent::ContentEnd {
                content_name: body.content_name,
            }
        }
        "toolResult" => InputEvent::ToolResult,
        "promptEnd" => InputEvent::PromptEnd,
        "sessionEnd" => InputEvent::SessionEnd,
        other => return Err(InvalidEvent(format!("Unknown input event type: {other}"))),
    })
}

/// The ids every output event of a completion repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CompletionIds {
    /// The session.
    pub session_id: String,
    /// The client's prompt name.
    pub prompt_name: String,
    /// The completion.
    pub completion_id: String,
}

/// Text generation stage, sent as `additionalModelFields`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// A first guess that the FINAL text may revise.
    Speculative,
    /// The final text.
    Final,
}

impl CompletionIds {
    fn base(&self) -> serde_json::Map<String, Value> {
        let mut map = serde_json::Map::new();
        map.insert("sessionId".into(), json!(self.session_id));
        map.insert("promptName".into(), json!(self.prompt_name));
        map.insert("completionId".into(), json!(self.completion_id));
        map
    }

    fn wrap(name: &str, body: serde_json::Map<String, Value>) -> Value {
        json!({ "event": { name: Value::Object(body) } })
    }

    /// `completionStart`.
    pub(crate) fn completion_start(&self) -> Value {
        Self::wrap("completionStart", self.base())
    }

    /// `completionEnd`.
    pub(crate) fn completion_end(&self, stop_reason: &str) -> Value {
        let mut body = self.base();
        body.insert("stopReason".into(), json!(stop_reason));
        Self::wrap("completionEnd", body)
    }

    /// `contentStart` of a TEXT block.
    pub(crate) fn text_start(&self, content_id: &str, role: &str, stage: Stage) -> Value {
        let stage = match stage {
            Stage::Speculative => "SPECULATIVE",
            Stage::Final => "FINAL",
        };
        let mut body = self.base();
        body.insert("contentId".into(), json!(content_id));
        body.insert("type".into(), json!("TEXT"));
        body.insert("role".into(), json!(role));
        body.insert(
            "additionalModelFields".into(),
            json!(json!({ "generationStage": stage }).to_string()),
        );
        body.insert(
            "textOutputConfiguration".into(),
            json!({ "mediaType": "text/plain" }),
        );
        Self::wrap("contentStart", body)
    }

    /// `contentStart` of the assistant's AUDIO block.
    pub(crate) fn audio_start(&self, content_id: &str, sample_rate: u32) -> Value {
        let mut body = self.base();
        body.insert("contentId".into(), json!(content_id));
        body.insert("type".into(), json!("AUDIO"));
        body.insert("role".into(), json!("ASSISTANT"));
        body.insert(
            "audioOutputConfiguration".into(),
            json!({
                "mediaType": "audio/lpcm",
                "sampleRateHertz": sample_rate,
                "sampleSizeBits": 16,
                "channelCount": 1,
                "encoding": "base64",
            }),
        );
        Self::wrap("contentStart", body)
    }

    /// `textOutput`.
    pub(crate) fn text_output(&self, content_id: &str, role: &str, content: &str) -> Value {
        let mut body = self.base();
        body.insert("contentId".into(), json!(content_id));
        body.insert("role".into(), json!(role));
        body.insert("content".into(), json!(content));
        Self::wrap("textOutput", body)
    }

    /// `audioOutput` with PCM `samples` base64-encoded.
    pub(crate) fn audio_output(&self, content_id: &str, samples: &[i16]) -> Value {
        let mut body = self.base();
        body.insert("contentId".into(), json!(content_id));
        body.insert(
            "content".into(),
            json!(BASE64.encode(speech::pcm16_to_bytes(samples))),
        );
        Self::wrap("audioOutput", body)
    }

    /// `contentEnd`.
    pub(crate) fn content_end(&self, content_id: &str, kind: &str, stop_reason: &str) -> Value {
        let mut body = self.base();
        body.insert("contentId".into(), json!(content_id));
        body.insert("type".into(), json!(kind));
        body.insert("stopReason".into(), json!(stop_reason));
        Self::wrap("contentEnd", body)
    }

    /// `usageEvent` with this turn's delta and the session's total.
    pub(crate) fn usage(&self, delta: &SonicTokens, total: &SonicTokens) -> Value {
        let side = |t: &SonicTokens| {
            json!({
                "input": { "speechTokens": t.speech_in, "textTokens": t.text_in },
                "output": { "speechTokens": t.speech_out, "textTokens": t.text_out },
            })
        };
        let mut body = self.base();
        body.insert(
            "details".into(),
            json!({ "delta": side(delta), "total": side(total) }),
        );
        body.insert("totalInputTokens".into(), json!(total.input()));
        body.insert("totalOutputTokens".into(), json!(total.output()));
        body.insert("totalTokens".into(), json!(total.input() + total.output()));
        Self::wrap("usageEvent", body)
    }
}

/// Nova Sonic token counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SonicTokens {
    /// Speech tokens in (by the pricing table's Bedrock token rule).
    pub speech_in: u64,
    /// Text tokens in (system prompt, history, typed input).
    pub text_in: u64,
    /// Speech tokens out (by the same rule).
    pub speech_out: u64,
    /// Text tokens out.
    pub text_out: u64,
}

impl SonicTokens {
    /// All input tokens.
    pub fn input(&self) -> u64 {
        self.speech_in + self.text_in
    }

    /// All output tokens.
    pub fn output(&self) -> u64 {
        self.speech_out + self.text_out
    }

    /// `self - earlier`, field by field.
    pub fn since(&self, earlier: &SonicTokens) -> SonicTokens {
        SonicTokens {
            speech_in: self.speech_in.saturating_sub(earlier.speech_in),
            text_in: self.text_in.saturating_sub(earlier.text_in),
            speech_out: self.speech_out.saturating_sub(earlier.speech_out),
            text_out: self.text_out.saturating_sub(earlier.text_out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_start_reads_nova_2_turn_detection() {
        let start = |config: Value| json!({"event": {"sessionStart": config}});
        let plain = json!({"inferenceConfiguration": {"maxTokens": 1024}});
        assert_eq!(
            parse_input(&start(plain)).unwrap(),
            InputEvent::SessionStart {
                end_of_turn_pause: None
            }
        );
        for (sensitivity, ms) in [("HIGH", 1_500), ("MEDIUM", 1_750), ("LOW", 2_000)] {
            let body =
                json!({"turnDetectionConfiguration": {"endpointingSensitivity": sensitivity}});
            assert_eq!(
                parse_input(&start(body)).unwrap(),
                InputEvent::SessionStart {
                    end_of_turn_pause: Some(Duration::from_millis(ms))
                }
            );
        }
        let wrong = json!({"turnDetectionConfiguration": {"endpointingSensitivity": "FAST"}});
        let refused = parse_input(&start(wrong)).unwrap_err();
        assert!(refused.0.contains("HIGH, MEDIUM, LOW"), "{}", refused.0);
    }

    #[test]
    fn parses_content_start_with_audio_config() {
        let event = json!({"event": {"contentStart": {
            "promptName": "p", "contentName": "c", "type": "AUDIO", "interactive": true,
            "role": "USER", "audioInputConfiguration": {"mediaType": "audio/lpcm",
            "sampleRateHertz": 16000, "sampleSizeBits": 16, "channelCount": 1,
            "audioType": "SPEECH", "encoding": "base64"}}}});
        assert_eq!(
            parse_input(&event).unwrap(),
            InputEvent::ContentStart {
                prompt_name: "p".into(),
                content_name: "c".into(),
                kind: ContentType::Audio,
                role: Role::User,
                interactive: true,
                input_sample_rate: 16_000,
            }
        );
    }

    #[test]
    fn decodes_audio_and_rejects_unknown_events() {
        let audio = BASE64.encode(speech::pcm16_to_bytes(&[1, -2, 300]));
        let event = json!({"event": {"audioInput": {"promptName": "p", "contentName": "a", "content": audio}}});
        assert_eq!(
            parse_input(&event).unwrap(),
            InputEvent::AudioInput {
                content_name: "a".into(),
                samples: vec![1, -2, 300]
            }
        );
        assert!(parse_input(&json!({"event": {"dance": {}}})).is_err());
        assert!(parse_input(&json!({"nope": 1})).is_err());
        assert!(parse_input(&json!({"event": {"textInput": {"content": "x"}}})).is_err());
    }

    #[test]
    fn additional_model_fields_is_a_string_of_json() {
        let ids = CompletionIds {
            session_id: "s".into(),
            prompt_name: "p".into(),
            completion_id: "c".into(),
        };
        let event = ids.text_start("t", "ASSISTANT", Stage::Speculative);
        let fields = event["event"]["contentStart"]["additionalModelFields"]
            .as_str()
            .unwrap();
        let parsed: Value = serde_json::from_str(fields).unwrap();
        assert_eq!(parsed["generationStage"], "SPECULATIVE");
        assert_eq!(event["event"]["contentStart"]["completionId"], "c");
    }

    #[test]
    fn usage_totals_add_up() {
        let ids = CompletionIds {
            session_id: "s".into(),
            prompt_name: "p".into(),
            completion_id: "c".into(),
        };
        let total = SonicTokens {
            speech_in: 50,
            text_in: 10,
            speech_out: 40,
            text_out: 5,
        };
        let event = ids.usage(&total.since(&SonicTokens::default()), &total);
        let usage = &event["event"]["usageEvent"];
        assert_eq!(usage["totalInputTokens"], 60);
        assert_eq!(usage["totalOutputTokens"], 45);
        assert_eq!(usage["totalTokens"], 105);
        assert_eq!(usage["details"]["delta"]["input"]["speechTokens"], 50);
    }
}
