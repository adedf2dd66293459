//! The speaking API's messages (seed 000), both ways. Client messages are
//! parsed with errors that say exactly what is wrong; server messages are
//! built here and nowhere else. The contract is backend/spec/speaking.asyncapi.yaml.

use serde_json::{Value, json};

/// Largest `user_id` accepted.
pub const MAX_USER_ID_LEN: usize = 128;

/// `start_speaking`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartSpeaking {
    /// Who.
    pub user_id: String,
    /// ISO 3166-1 alpha-2.
    pub country_code: String,
    /// `speaking` (the seed's value) or another label the app uses.
    pub assessment_type: String,
    /// Region override.
    pub preferred_region: Option<String>,
}

/// `audio_chunk`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioChunk {
    /// Base64 audio.
    pub audio: String,
    /// `audio/wav` or `audio/pcm;rate=N` (absent: WAV sniffed).
    pub mime_type: Option<String>,
}

/// A message a client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// Start the session.
    Start(StartSpeaking),
    /// Audio.
    Audio(AudioChunk),
    /// End the session and get the assessment.
    End,
}

/// Why a client message was refused (the text the client sees).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Not JSON.
    #[error("Invalid message: not valid JSON")]
    NotJson,
    /// JSON but not an object.
    #[error("Invalid message: expected a JSON object")]
    NotObject,
    /// No `action`.
    #[error("Invalid message: missing \"action\"; use start_speaking, audio_chunk or end_speaking")]
    NoAction,
    /// An action the API does not have.
    #[error("Unknown action: {0}; use start_speaking, audio_chunk or end_speaking")]
    UnknownAction(String),
    /// A required field is missing.
    #[error("Invalid message: missing field \"{0}\"")]
    Missing(&'static str),
    /// A field has the wrong type or value.
    #[error("Invalid message: field \"{field}\" {problem}")]
    BadField {
        /// Field.
        field: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
}

fn string_field(
    object: &serde_json::Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, MessageError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(MessageError::BadField {
            field,
            problem: "must be a string",
        }),
    }
}

fn required(
    object: &serde_json::Map<String, Value>,
    field: &'static str,
) -> Result<String, MessageError> {
    let value = string_field(object, field)?.ok_or(MessageError::Missing(field))?;
    if value.trim().is_empty() {
        return Err(MessageError::BadField {
            field,
            problem: "must not be empty",
        });
    }
    Ok(value)
}

/// Parses a message body.
pub fn parse(body: &str) -> Result<ClientMessage, MessageError> {
    let value: Value = serde_json::from_str(body).map_err(|_| MessageError::NotJson)?;
    let Value::Object(object) = value else {
        return Err(MessageError::NotObject);
    };
    let action = match object.get("action") {
        None | Some(Value::Null) => return Err(MessageError::NoAction),
        Some(Value::String(action)) => action.clone(),
        Some(other) => return Err(MessageError::UnknownAction(other.to_string())),
    };
    match action.as_str() {
        "start_speaking" => {
            let user_id = required(&object, "user_id")?;
            if user_id.len() > MAX_USER_ID_LEN {
                return Err(MessageError::BadField {
                    field: "user_id",
                    problem: "must be at most 128 characters",
                });
            }
            Ok(ClientMessage::Start(StartSpeaking {
                user_id,
                country_code: required(&object, "country_code")?,
                assessment_type: string_field(&object, "assessment_type")?
                    .unwrap_or_else(|| "speaking".to_owned()),
                preferred_region: string_field(&object, "preferred_region")?,
            }))
        }
        "audio_chunk" => Ok(ClientMessage::Audio(AudioChunk {
            audio: string_field(&object, "audio")?.ok_or(MessageError::Missing("audio"))?,
            mime_type: string_field(&object, "mime_type")?,
        })),
        "end_speaking" => Ok(ClientMessage::End),
        other => Err(MessageError::UnknownAction(other.to_owned())),
    }
}

/// The verbatim errors seed 000 documents and the ones this API adds.
pub mod errors {
    /// Audio or end before start (seed 000).
    pub const NO_ACTIVE_SESSION: &str = crate::session_owner::hand_off::NO_ACTIVE_SESSION;
    /// Credentials missing or invalid, or Vertex refused them (seed 000).
    pub const VERTEX_INIT_FAILED: &str = "Failed to initialize Vertex AI";
    /// A second `start_speaking` on the same connection.
    pub const ALREADY_ACTIVE: &str = "Session already active";
    /// The assessment could not be made or stored, with its cause (the
    /// model's answer was invalid, came too late, or could not be stored).
    pub fn assessment_failed(cause: &str) -> String {
        format!("Assessment failed: {cause}; please try again")
    }
    /// The model stream broke.
    pub const MODEL_FAILED: &str =
        "The examiner is unavailable: the model connection failed; reconnect and start again";
}

/// `{"type":"error","message":...}`
pub fn error(message: &str) -> Value {
    json!({"type": "error", "message": message})
}

/// `{"type":"session_ready","region":...}`
pub fn session_ready(region: &str, session_id: &str, model: &str) -> Value {
    json!({"type": "session_ready", "region": region, "session_id": session_id, "model": model})
}

/// `{"type":"maya_transcript","text":...}`
pub fn maya_transcript(text: &str) -> Value {
    json!({"type": "maya_transcript", "text": text})
}

/// `{"type":"maya_audio","audio":base64,"format":{...}}`
pub fn maya_audio(audio_base64: &str, sample_rate: u32) -> Value {
    json!({
        "type": "maya_audio",
        "audio": audio_base64,
        "mime_type": format!("audio/pcm;rate={sample_rate}"),
        "format": {"encoding": "pcm_s16le", "sample_rate": sample_rate, "channels": 1}
    })
}

/// `{"type":"maya_turn_complete","interrupted":false}`: Maya's turn is
/// over (`interrupted`: cut short by the candidate's speech). Additive: seed
/// 000's browser client ignores it.
pub fn maya_turn_complete(interrupted: bool) -> Value {
    json!({"type": "maya_turn_complete", "interrupted": interrupted})
}

/// When a model turn ends for the client: every turn that produced output
/// (audio or transcript) ends with one `maya_turn_complete`; Gemini's
/// `turnComplete` after `interrupted` ends the same turn, and a turn that
/// said nothing ends silently.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TurnEnds {
    output: bool,
}

impl TurnEnds {
    /// The model turn in progress produced output.
    pub fn output(&mut self) {
        self.output = true;
    }

    /// The model turn ended (`interrupted`: by barge-in): the message to
    /// send, if any.
    pub fn end(&mut self, interrupted: bool) -> Option<Value> {
        std::mem::take(&mut self.output).then(|| maya_turn_complete(interrupted))
    }
}

/// `{"type":"assessment_complete","assessment":{...}}`
pub fn assessment_complete(assessment: Value) -> Value {
    json!({"type": "assessment_complete", "assessment": assessment})
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_seed_messages_parse() {
        let start = parse(r#"{"action":"start_speaking","user_id":"user123","country_code":"US","assessment_type":"speaking"}"#).unwrap();
        assert_eq!(
            start,
            ClientMessage::Start(StartSpeaking {
                user_id: "user123".into(),
                country_code: "US".into(),
                assessment_type: "speaking".into(),
                preferred_region: None
            })
        );
        // The wscat example omits assessment_type.
        assert!(matches!(
            parse(r#"{"action":"start_speaking","user_id":"test","country_code":"US"}"#),
            Ok(ClientMessage::Start(_))
        ));
        assert!(matches!(
            parse(r#"{"action":"audio_chunk","audio":"AAAA","mime_type":"audio/wav"}"#),
            Ok(ClientMessage::Audio(_))
        ));
        assert_eq!(
            parse(r#"{"action":"end_speaking"}"#),
            Ok(ClientMessage::End)
        );
    }

    #[test]
    fn bad_messages() {
        assert_eq!(parse("{nope"), Err(MessageError::NotJson));
        assert_eq!(parse("[1]"), Err(MessageError::NotObject));
        assert_eq!(parse("{}"), Err(MessageError::NoAction));
        assert_eq!(
            parse(r#"{"action":"dance"}"#),
            Err(MessageError::UnknownAction("dance".into()))
        );
        assert_eq!(
            parse(r#"{"action":"start_speaking","country_code":"US"}"#),
            Err(MessageError::Missing("user_id"))
        );
        assert!(matches!(
            parse(r#"{"action":"start_speaking","user_id":5,"country_code":"US"}"#),
            Err(MessageError::BadField {
                field: "user_id",
                ..
            })
        ));
        assert!(matches!(
            parse(r#"{"action":"start_speaking","user_id":" ","country_code":"US"}"#),
            Err(MessageError::BadField { .. })
        ));
        assert_eq!(
            parse(r#"{"action":"audio_chunk"}"#),
            Err(MessageError::Missing("audio"))
        );
        assert!(
            MessageError::UnknownAction("x".into())
                .to_string()
                .starts_with("Unknown action")
        );
    }

    #[test]
    fn the_turn_end_message() {
        assert_eq!(
            maya_turn_complete(false),
            json!({"type": "maya_turn_complete", "interrupted": false})
        );
        assert_eq!(maya_turn_complete(true)["interrupted"], true);
    }

    #[test]
    fn every_turn_with_output_ends_once() {
        let mut ends = TurnEnds::default();
        assert_eq!(ends.end(false), None, "a turn that said nothing");
        ends.output();
        ends.output();
        assert_eq!(ends.end(false), Some(maya_turn_complete(false)));
        assert_eq!(ends.end(false), None, "told once");
        // Barge-in: interrupted, then Gemini's turnComplete for the same turn.
        ends.output();
        assert_eq!(ends.end(true), Some(maya_turn_complete(true)));
        assert_eq!(ends.end(false), None);
        ends.output();
        assert_eq!(ends.end(false).unwrap()["interrupted"], false);
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in "\\PC*") {
            let _ = parse(&body);
        }
    }
}
