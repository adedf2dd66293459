//! What the mock sends: the Live API's server messages (camelCase JSON, sent
//! as text frames) and the Vertex `usageMetadata` shape.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Token counts of one model turn, split by modality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TurnUsage {
    /// Audio tokens in the prompt (the whole context so far).
    pub prompt_audio: u64,
    /// Text tokens in the prompt (the whole context so far).
    pub prompt_text: u64,
    /// Audio tokens the model produced.
    pub candidates_audio: u64,
    /// Text tokens the model produced.
    pub candidates_text: u64,
    /// Thinking tokens (`thoughtsTokenCount`, billed where the model bills
    /// thinking; none in a Live turn).
    #[serde(default)]
    pub thoughts: u64,
}

impl TurnUsage {
    /// `promptTokenCount`.
    pub fn prompt(&self) -> u64 {
        self.prompt_audio + self.prompt_text
    }

    /// `candidatesTokenCount`.
    pub fn candidates(&self) -> u64 {
        self.candidates_audio + self.candidates_text
    }

    /// Vertex's `usageMetadata` object.
    pub fn to_usage_metadata(self) -> Value {
        let mut metadata = json!({
            "promptTokenCount": self.prompt(),
            "candidatesTokenCount": self.candidates(),
            "totalTokenCount": self.prompt() + self.candidates() + self.thoughts,
            "promptTokensDetails": details(self.prompt_audio, self.prompt_text),
            "candidatesTokensDetails": details(self.candidates_audio, self.candidates_text),
            "trafficType": "ON_DEMAND",
        });
        if self.thoughts > 0 {
            metadata["thoughtsTokenCount"] = self.thoughts.into();
        }
        metadata
    }
}

/// `[{modality, tokenCount}]`, listing only modalities that were used.
fn details(audio: u64, text: u64) -> Value {
    let mut entries = Vec::new();
    if audio > 0 {
        entries.push(json!({"modality": "AUDIO", "tokenCount": audio}));
    }
    if text > 0 || audio == 0 {
        entries.push(json!({"modality": "TEXT", "tokenCount": text}));
    }
    Value::Array(entries)
}

/// `{"setupComplete": {}}`.
pub(crate) fn setup_complete() -> Value {
    json!({"setupComplete": {}})
}

/// A piece of the user's speech, transcribed.
pub(crate) fn input_transcription(text: &str, finished: bool) -> Value {
    json!({"serverContent": {"inputTranscription": {"text": text, "finished": finished}}})
}

/// A piece of the transcription of the model's speech.
pub(crate) fn output_transcription(text: &str) -> Value {
    json!({"serverContent": {"outputTranscription": {"text": text}}})
}

/// A chunk of model audio (base64 16-bit PCM).
pub(crate) fn model_audio(base64_pcm: &str, sample_rate: u32) -> Value {
    json!({"serverContent": {"modelTurn": {"parts": [{"inlineData": {
        "mimeType": format!("audio/pcm;rate={sample_rate}"),
        "data": base64_pcm,
    }}]}}})
}

/// Model text (when the session asked for TEXT responses).
pub(crate) fn model_text(text: &str) -> Value {
    json!({"serverContent": {"modelTurn": {"parts": [{"text": text}]}}})
}

/// `{"serverContent": {"generationComplete": true}}`.
pub(crate) fn generation_complete() -> Value {
    json!({"serverContent": {"generationComplete": true}})
}

/// The end of a model turn, with its usage.
pub(crate) fn turn_complete(usage: &TurnUsage) -> Value {
    json!({"serverContent": {"turnComplete": true}, "usageMetadata": usage.to_usage_metadata()})
}

/// The model stopped because the user spoke (barge-in).
pub(crate) fn interrupted() -> Value {
    json!({"serverContent": {"interrupted": true}})
}

/// The server will close the connection in `time_left`.
pub(crate) fn go_away(time_left: std::time::Duration) -> Value {
    json!({"goAway": {"timeLeft": proto_duration(time_left)}})
}

/// A handle that resumes the session as it is now.
pub(crate) fn session_resumption_update(handle: &str) -> Value {
    json!({"sessionResumptionUpdate": {"newHandle": handle, "resumable": true}})
}

/// A `google.protobuf.Duration` in its JSON form: `"60s"`, `"0.250s"`.
pub(crate) fn proto_duration(duration: std::time::Duration) -> String {
    let millis = duration.subsec_millis();
    if millis == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}.{millis:03}s", duration.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn usage_metadata_has_the_vertex_shape() {
        let usage = TurnUsage {
            prompt_audio: 100,
            prompt_text: 20,
            candidates_audio: 50,
            candidates_text: 0,
            thoughts: 0,
        };
        let metadata = usage.to_usage_metadata();
        assert_eq!(metadata["promptTokenCount"], 120);
        assert_eq!(metadata["candidatesTokenCount"], 50);
        assert_eq!(metadata["totalTokenCount"], 170);
        assert_eq!(metadata["trafficType"], "ON_DEMAND");
        assert_eq!(
            metadata["promptTokensDetails"],
            json!([{"modality": "AUDIO", "tokenCount": 100}, {"modality": "TEXT", "tokenCount": 20}])
        );
        assert_eq!(
            metadata["candidatesTokensDetails"],
            json!([{"modality": "AUDIO", "tokenCount": 50}])
        );
    }

    #[test]
    fn durations_in_proto_json() {
        assert_eq!(proto_duration(Duration::from_secs(60)), "60s");
        assert_eq!(proto_duration(Duration::from_millis(250)), "0.250s");
        assert_eq!(go_away(Duration::from_secs(6))["goAway"]["timeLeft"], "6s");
    }
}
