//! Nova Sonic's output events parsed into [`OutputEvent`]: every event JSON
//! `{"event": {name: body}}` the model streams (completion and content
//! blocks, text, 24 kHz audio, usage), with the generation stage read from
//! `additionalModelFields` and Nova Sonic's barge-in marker recognised.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use super::protocol::Role;

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
        fn arbitrary_output_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_output(&bytes);
        }
    }
}
