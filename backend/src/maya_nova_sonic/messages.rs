//! The `nova-sonic-stream` route's messages (seed 003), both ways. Every
//! client message has `"action": "nova-sonic-stream"` (API Gateway routes
//! on it) and a `type`: `start`, `audio`, `text` or `end`. Server messages
//! reuse seed 000's names for Maya (`maya_transcript`, `maya_audio`) so one
//! client serves both platforms. The contract is
//! backend/spec/nova-sonic.asyncapi.yaml (`NovaSonicStreamWebSocketApi`).

use base64::Engine as _;
use serde_json::{Value, json};

use crate::client_json::{self, FieldError};
use crate::nova_sonic::owner::{Ending, Presenter};
use crate::nova_sonic::protocol::OUTPUT_SAMPLE_RATE;
use crate::nova_sonic::turns::Delivery;

/// The route (and the only `action`).
pub const ROUTE: &str = "nova-sonic-stream";
/// The types of the route, as error messages list them.
pub const TYPES: &str = "start, audio, text or end";
/// Largest `user_id`.
pub const MAX_USER_ID_CHARS: usize = 128;
/// Largest typed input.
pub const MAX_TEXT_CHARS: usize = 2_000;

/// A message a client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// `type: start` with `user_id`.
    Start {
        /// The candidate.
        user_id: String,
    },
    /// `type: audio` with base64 PCM (16 kHz unless `sample_rate` says otherwise).
    Audio {
        /// 16 kHz mono 16-bit PCM samples.
        samples: Vec<i16>,
    },
    /// `type: text` with `text`.
    Text {
        /// What the candidate typed.
        text: String,
    },
    /// `type: end`.
    End,
}

/// Parses a message body.
pub fn parse(body: &str) -> Result<ClientMessage, String> {
    parse_fields(body).map_err(|e| e.to_string())
}

fn parse_fields(body: &str) -> Result<ClientMessage, FieldError> {
    let object = client_json::object(body)?;
    let action = client_json::discriminator(&object, "action", ROUTE)?;
    if action != ROUTE {
        return Err(FieldError::Unknown {
            field: "action",
            value: action,
            choices: ROUTE,
        });
    }
    let kind = client_json::discriminator(&object, "type", TYPES)?;
    match kind.as_str() {
        "start" => Ok(ClientMessage::Start {
            user_id: client_json::required_string(&object, "user_id", MAX_USER_ID_CHARS)?,
        }),
        "audio" => Ok(ClientMessage::Audio {
            samples: client_json::pcm_audio(&object, "audio", "sample_rate")?,
        }),
        "text" => Ok(ClientMessage::Text {
            text: client_json::required_string(&object, "text", MAX_TEXT_CHARS)?,
        }),
        "end" => Ok(ClientMessage::End),
        other => Err(FieldError::Unknown {
            field: "type",
            value: other.to_owned(),
            choices: TYPES,
        }),
    }
}

/// `{"type":"error","message":...}`
pub fn error(message: &str) -> Value {
    json!({"type": "error", "message": message})
}

/// `{"type":"session_ready","session_id":...,"model":...}`
pub fn session_ready(session_id: &str, model: &str) -> Value {
    json!({"type": "session_ready", "session_id": session_id, "model": model})
}

/// `{"type":"session_ended","reason":...,"transcript_id":...}`
pub fn session_ended(ending: &Ending, transcript_id: &str) -> Value {
    let mut message =
        json!({"type": "session_ended", "reason": ending.label(), "transcript_id": transcript_id});
    if *ending == Ending::TimeLimit {
        message["message"] = json!(
            "The session reached the time limit of the speaking function; the transcript so far is saved."
        );
    }
    message
}

/// Maya's output as the client reads it.
#[derive(Debug, Clone, Copy, Default)]
pub struct MayaPresenter;

impl Presenter for MayaPresenter {
    fn present(&self, delivery: &Delivery) -> Value {
        match delivery {
            Delivery::AssistantText(text) => json!({"type": "maya_transcript", "text": text}),
            Delivery::UserTranscript(text) => json!({"type": "user_transcript", "text": text}),
            Delivery::AssistantAudio(pcm) => json!({
                "type": "maya_audio",
                "audio": base64::engine::general_purpose::STANDARD.encode(pcm),
                "mime_type": format!("audio/pcm;rate={OUTPUT_SAMPLE_RATE}"),
                "format": {"encoding": "pcm_s16le", "sample_rate": OUTPUT_SAMPLE_RATE, "channels": 1},
            }),
            Delivery::Interrupted => json!({"type": "interrupted"}),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn messages_parse() {
        assert_eq!(
            parse(r#"{"action":"nova-sonic-stream","type":"start","user_id":"c-1"}"#),
            Ok(ClientMessage::Start {
                user_id: "c-1".into()
            })
        );
        assert_eq!(
            parse(r#"{"action":"nova-sonic-stream","type":"audio","audio":"AAABAA=="}"#),
            Ok(ClientMessage::Audio {
                samples: vec![0, 1]
            })
        );
        assert_eq!(
            parse(r#"{"action":"nova-sonic-stream","type":"text","text":"Hello"}"#),
            Ok(ClientMessage::Text {
                text: "Hello".into()
            })
        );
        assert_eq!(
            parse(r#"{"action":"nova-sonic-stream","type":"end"}"#),
            Ok(ClientMessage::End)
        );
    }

    #[test]
    fn bad_messages_say_what_is_wrong() {
        assert_eq!(
            parse(r#"{"action":"start_speaking"}"#).unwrap_err(),
            "Unknown action: start_speaking; use nova-sonic-stream"
        );
        assert_eq!(
            parse(r#"{"action":"nova-sonic-stream"}"#).unwrap_err(),
            "Invalid message: missing \"type\"; use start, audio, text or end"
        );
        assert_eq!(
            parse(r#"{"action":"nova-sonic-stream","type":"sing"}"#).unwrap_err(),
            "Unknown type: sing; use start, audio, text or end"
        );
        assert_eq!(
            parse(r#"{"action":"nova-sonic-stream","type":"start"}"#).unwrap_err(),
            "Invalid message: missing field \"user_id\""
        );
        assert!(
            parse(r#"{"action":"nova-sonic-stream","type":"audio","audio":"AAA"}"#)
                .unwrap_err()
                .contains("\"audio\"")
        );
    }

    #[test]
    fn maya_speaks_in_seed_000_shapes() {
        let audio = MayaPresenter.present(&Delivery::AssistantAudio(vec![0, 0, 1, 0]));
        assert_eq!(audio["type"], "maya_audio");
        assert_eq!(audio["format"]["sample_rate"], 24_000);
        assert_eq!(audio["mime_type"], "audio/pcm;rate=24000");
        assert_eq!(
            MayaPresenter.present(&Delivery::UserTranscript("Hi".into())),
            json!({"type": "user_transcript", "text": "Hi"})
        );
        assert_eq!(
            session_ended(&Ending::Completed, "t-1"),
            json!({"type": "session_ended", "reason": "completed", "transcript_id": "t-1"})
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in "\\PC*") {
            let _ = parse(&body);
        }
    }
}
