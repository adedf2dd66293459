//! Buddy's messages (seed 001), both ways: client messages parsed with
//! errors that say what is wrong, server messages built here and nowhere
//! else. The contract is backend/spec/nova-sonic.asyncapi.yaml
//! (`BuddyWebSocketApi`).

use serde_json::{Value, json};

use crate::client_json::{self, FieldError};
use crate::nova_sonic::owner::{Ending, Presenter};
use crate::nova_sonic::protocol::OUTPUT_SAMPLE_RATE;
use crate::nova_sonic::turns::Delivery;

/// The actions of the API, as error messages list them.
pub const ACTIONS: &str = "initSession, textInput, audioInput or endSession";
/// Largest `patientId`.
pub const MAX_PATIENT_ID_CHARS: usize = 64;
/// Largest typed input.
pub const MAX_TEXT_CHARS: usize = 2_000;

/// A message a client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// `initSession {patientId}`.
    InitSession {
        /// The patient (`pt-001`).
        patient_id: String,
    },
    /// `textInput {text}`.
    TextInput {
        /// What the patient typed.
        text: String,
    },
    /// `audioInput {audio, sampleRate?}`, decoded to 16 kHz PCM.
    AudioInput {
        /// 16 kHz mono 16-bit PCM samples.
        samples: Vec<i16>,
    },
    /// `endSession`.
    EndSession,
}

/// Parses a message body (any route: `$default` gets the malformed ones).
pub fn parse(body: &str) -> Result<ClientMessage, String> {
    parse_fields(body).map_err(|e| e.to_string())
}

fn parse_fields(body: &str) -> Result<ClientMessage, FieldError> {
    let object = client_json::object(body)?;
    let action = client_json::discriminator(&object, "action", ACTIONS)?;
    match action.as_str() {
        "initSession" => {
            let patient_id =
                client_json::required_string(&object, "patientId", MAX_PATIENT_ID_CHARS)?;
            if !patient_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(FieldError::Bad {
                    field: "patientId",
                    problem: "may only contain letters, digits, - and _".to_owned(),
                });
            }
            Ok(ClientMessage::InitSession { patient_id })
        }
        "textInput" => Ok(ClientMessage::TextInput {
            text: client_json::required_string(&object, "text", MAX_TEXT_CHARS)?,
        }),
        "audioInput" => Ok(ClientMessage::AudioInput {
            samples: client_json::pcm_audio(&object, "audio", "sampleRate")?,
        }),
        "endSession" => Ok(ClientMessage::EndSession),
        other => Err(FieldError::Unknown {
            field: "action",
            value: other.to_owned(),
            choices: ACTIONS,
        }),
    }
}

/// The verbatim errors of seed 001 and the ones this API adds.
pub mod errors {
    pub use crate::nova_sonic::session::errors::*;
    /// Seed 001's troubleshooting entry "Missing Patient Data".
    pub const PATIENT_NOT_FOUND: &str = "Patient context not found";
}

/// `{"status":"initialized","patientName":...}`, exactly as seed 001 shows it.
pub fn initialized(patient_name: &str) -> Value {
    json!({"status": "initialized", "patientName": patient_name})
}

/// `{"type":"error","message":...}`
pub fn error(message: &str) -> Value {
    json!({"type": "error", "message": message})
}

/// `{"type":"sessionEnded","reason":...}` (with a notice at the time limit).
pub fn session_ended(ending: &Ending) -> Value {
    let mut message = json!({"type": "sessionEnded", "reason": ending.label()});
    if *ending == Ending::TimeLimit {
        message["message"] = json!(
            "The session reached the time limit of the Buddy function; start a new session to go on."
        );
    }
    message
}

/// What the client reads for each thing Nova Sonic says.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuddyPresenter;

impl Presenter for BuddyPresenter {
    fn present(&self, delivery: &Delivery) -> Value {
        match delivery {
            Delivery::AssistantText(text) => {
                json!({"type": "textOutput", "text": text, "role": "ASSISTANT"})
            }
            Delivery::UserTranscript(text) => {
                json!({"type": "textOutput", "text": text, "role": "USER"})
            }
            Delivery::AssistantAudio(pcm) => {
                use base64::Engine as _;
                json!({
                    "type": "audioOutput",
                    "audio": base64::engine::general_purpose::STANDARD.encode(pcm),
                    "sampleRate": OUTPUT_SAMPLE_RATE,
                })
            }
            Delivery::Interrupted => json!({"type": "interrupted"}),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_seed_messages_parse() {
        assert_eq!(
            parse(r#"{"action":"initSession","patientId":"pt-001"}"#),
            Ok(ClientMessage::InitSession {
                patient_id: "pt-001".into()
            })
        );
        assert_eq!(
            parse(r#"{"action":"textInput","text":"Who is Sarah?"}"#),
            Ok(ClientMessage::TextInput {
                text: "Who is Sarah?".into()
            })
        );
        assert_eq!(
            parse(r#"{"action":"audioInput","audio":"AAABAA=="}"#),
            Ok(ClientMessage::AudioInput {
                samples: vec![0, 1]
            })
        );
        assert_eq!(
            parse(r#"{"action":"endSession"}"#),
            Ok(ClientMessage::EndSession)
        );
        assert_eq!(
            initialized("John"),
            json!({"status": "initialized", "patientName": "John"})
        );
    }

    #[test]
    fn bad_messages_say_what_is_wrong() {
        assert_eq!(
            parse("hello").unwrap_err(),
            "Invalid message: not valid JSON"
        );
        assert_eq!(
            parse("{}").unwrap_err(),
            "Invalid message: missing \"action\"; use initSession, textInput, audioInput or endSession"
        );
        assert_eq!(
            parse(r#"{"action":"dance"}"#).unwrap_err(),
            "Unknown action: dance; use initSession, textInput, audioInput or endSession"
        );
        assert_eq!(
            parse(r#"{"action":"initSession"}"#).unwrap_err(),
            "Invalid message: missing field \"patientId\""
        );
        assert!(
            parse(r#"{"action":"initSession","patientId":"pt 001; drop"}"#)
                .unwrap_err()
                .contains("patientId")
        );
        assert_eq!(
            parse(r#"{"action":"textInput","text":""}"#).unwrap_err(),
            "Invalid message: field \"text\" must not be empty"
        );
        assert!(
            parse(r#"{"action":"audioInput","audio":"!!"}"#)
                .unwrap_err()
                .contains("\"audio\"")
        );
        assert!(
            parse(r#"{"action":"audioInput","audio":"AAAA","sampleRate":3}"#)
                .unwrap_err()
                .contains("sampleRate")
        );
    }

    #[test]
    fn deliveries_are_presented_as_the_seed_shows() {
        let presenter = BuddyPresenter;
        assert_eq!(
            presenter.present(&Delivery::AssistantText("Sarah is your daughter.".into())),
            json!({"type": "textOutput", "text": "Sarah is your daughter.", "role": "ASSISTANT"})
        );
        let audio = presenter.present(&Delivery::AssistantAudio(vec![0, 0]));
        assert_eq!(audio["sampleRate"], 24_000);
        assert_eq!(audio["audio"], "AAA=");
        assert_eq!(
            session_ended(&Ending::Completed),
            json!({"type": "sessionEnded", "reason": "completed"})
        );
        assert!(session_ended(&Ending::TimeLimit)["message"].is_string());
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in "\\PC*") {
            let _ = parse(&body);
        }

        #[test]
        fn any_action_with_fields_never_panics(action in "[a-zA-Z]{0,12}", text in "\\PC{0,40}") {
            let body = json!({"action": action, "text": text, "patientId": text, "audio": text}).to_string();
            let _ = parse(&body);
        }
    }
}
