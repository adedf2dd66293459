//! Reading a client's JSON message with errors that say exactly what is
//! wrong (the text the client sees): the object, its discriminator field
//! (`action`, `type`), and typed fields. Shared by the Nova Sonic APIs.

use serde_json::{Map, Value};

/// Why a client message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FieldError {
    /// Not JSON.
    #[error("Invalid message: not valid JSON")]
    NotJson,
    /// JSON but not an object.
    #[error("Invalid message: expected a JSON object")]
    NotObject,
    /// The discriminator is missing.
    #[error("Invalid message: missing \"{field}\"; use {choices}")]
    NoDiscriminator {
        /// `action` or `type`.
        field: &'static str,
        /// The values it may take.
        choices: &'static str,
    },
    /// The discriminator names nothing this API has.
    #[error("Unknown {field}: {value}; use {choices}")]
    Unknown {
        /// `action` or `type`.
        field: &'static str,
        /// What was sent.
        value: String,
        /// The values it may take.
        choices: &'static str,
    },
    /// A required field is missing.
    #[error("Invalid message: missing field \"{0}\"")]
    Missing(&'static str),
    /// A field has the wrong type or value.
    #[error("Invalid message: field \"{field}\" {problem}")]
    Bad {
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
}

/// The message as a JSON object.
pub(crate) fn object(body: &str) -> Result<Map<String, Value>, FieldError> {
    match serde_json::from_str(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(FieldError::NotObject),
        Err(_) => Err(FieldError::NotJson),
    }
}

/// The discriminator's value (`action`, `type`).
pub(crate) fn discriminator(
    object: &Map<String, Value>,
    field: &'static str,
    choices: &'static str,
) -> Result<String, FieldError> {
    match object.get(field) {
        None | Some(Value::Null) => Err(FieldError::NoDiscriminator { field, choices }),
        Some(Value::String(value)) => Ok(value.clone()),
        Some(other) => Err(FieldError::Unknown {
            field,
            value: other.to_string(),
            choices,
        }),
    }
}

/// An optional string field.
pub(crate) fn optional_string(
    object: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, FieldError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(FieldError::Bad {
            field,
            problem: "must be a string".to_owned(),
        }),
    }
}

/// A required, non-blank string of at most `max_chars` characters.
pub(crate) fn required_string(
    object: &Map<String, Value>,
    field: &'static str,
    max_chars: usize,
) -> Result<String, FieldError> {
    let value = optional_string(object, field)?.ok_or(FieldError::Missing(field))?;
    if value.trim().is_empty() {
        return Err(FieldError::Bad {
            field,
            problem: "must not be empty".to_owned(),
        });
    }
    if value.chars().count() > max_chars {
        return Err(FieldError::Bad {
            field,
            problem: format!("must be at most {max_chars} characters"),
        });
    }
    Ok(value)
}

/// An optional whole number within `range`.
pub(crate) fn optional_integer(
    object: &Map<String, Value>,
    field: &'static str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, FieldError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_u64().filter(|n| range.contains(n)) {
            Some(n) => Ok(Some(n)),
            None => Err(FieldError::Bad {
                field,
                problem: format!(
                    "must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            }),
        },
    }
}

/// Base64 16-bit PCM in `audio_field` at the rate in `rate_field` (8-48
/// kHz, 16 kHz when absent), as 16 kHz mono samples.
pub(crate) fn pcm_audio(
    object: &Map<String, Value>,
    audio_field: &'static str,
    rate_field: &'static str,
) -> Result<Vec<i16>, FieldError> {
    let audio = optional_string(object, audio_field)?.ok_or(FieldError::Missing(audio_field))?;
    let rate = optional_integer(object, rate_field, 8_000..=48_000)?.unwrap_or(16_000);
    crate::audio::decode_chunk(&audio, Some(&format!("audio/pcm;rate={rate}"))).map_err(|e| {
        FieldError::Bad {
            field: audio_field,
            problem: e.to_string().replace("Invalid audio: ", "is not usable: "),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fields_and_errors() {
        assert_eq!(object("{nope"), Err(FieldError::NotJson));
        assert_eq!(object("[1]"), Err(FieldError::NotObject));
        let message = object(r#"{"action":"x","n":16000,"s":" ","t":5}"#).unwrap();
        assert_eq!(discriminator(&message, "action", "a or b").unwrap(), "x");
        assert_eq!(
            discriminator(&message, "type", "a or b")
                .unwrap_err()
                .to_string(),
            "Invalid message: missing \"type\"; use a or b"
        );
        assert_eq!(
            optional_integer(&message, "n", 8_000..=48_000).unwrap(),
            Some(16_000)
        );
        assert!(optional_integer(&message, "n", 1..=10).is_err());
        assert_eq!(
            required_string(&message, "s", 10).unwrap_err().to_string(),
            "Invalid message: field \"s\" must not be empty"
        );
        assert_eq!(
            required_string(&message, "t", 10).unwrap_err().to_string(),
            "Invalid message: field \"t\" must be a string"
        );
        assert_eq!(
            required_string(&message, "missing", 10),
            Err(FieldError::Missing("missing"))
        );
        let long = object(r#"{"s":"abcdef"}"#).unwrap();
        assert!(required_string(&long, "s", 5).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in "\\PC*") {
            if let Ok(map) = object(&body) {
                let _ = discriminator(&map, "action", "x");
                let _ = required_string(&map, "text", 10);
            }
        }
    }
}
