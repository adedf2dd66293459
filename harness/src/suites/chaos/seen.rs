//! What a chaos case's client saw, read from the client's inbox: the
//! messages that matter to the invariants (errors, assessment ids, chat
//! acknowledgements and answers) and the close; and the candidate's speech
//! the speaking cases stream (a clip, then silence, as WAV `audio_chunk`s).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::ChaosError;
use crate::replay::client::Client;
use crate::replay::inbox::Inbox;
use crate::scenario::audio::Clip;
use crate::scenario::model::ChunkFormat;

/// What a client saw.
#[derive(Debug, Default, Clone)]
pub(crate) struct Seen {
    /// Messages received.
    pub messages: u64,
    /// `type: error` messages and gateway errors other than the integration
    /// timeout (which long-running routes always get).
    pub errors: Vec<String>,
    /// Assessment ids of `assessment_complete`.
    pub assessments: Vec<String>,
    /// Chat message ids acknowledged (`message_received`).
    pub acknowledged: Vec<String>,
    /// Chat message ids answered (`chat_reply`, or an error naming them).
    pub answered: Vec<String>,
}

impl Seen {
    /// What the inbox of a client holds.
    pub(crate) fn of(inbox: &Arc<Inbox>) -> Self {
        let mut seen = Self::default();
        for message in inbox.messages() {
            if let Some(value) = &message.value {
                seen.note(value);
            } else {
                seen.messages += 1;
            }
        }
        seen
    }

    fn note(&mut self, message: &Value) {
        self.messages += 1;
        let kind = message["type"].as_str().unwrap_or_default();
        let id = |field: &str| message[field].as_str().map(str::to_owned);
        match kind {
            "assessment_complete" => {
                if let Some(id) = message["assessment"]["assessment_id"].as_str() {
                    self.assessments.push(id.to_owned());
                }
            }
            "message_received" => self.acknowledged.extend(id("messageId")),
            "chat_reply" => self.answered.extend(id("messageId")),
            "error" => {
                self.answered.extend(id("messageId"));
                self.errors.push(message.to_string());
            }
            "" => {
                // API Gateway's own messages: {"message": ..., "connectionId": ...}.
                if let Some(text) = message["message"].as_str()
                    && text != "Endpoint request timed out"
                {
                    self.errors.push(text.to_owned());
                }
            }
            _ => {}
        }
    }
}

/// Streams a clip and then silence as WAV `audio_chunk`s of 100 ms, at the
/// scaled real-time pace; `stop_after` cuts it short after that many
/// chunks. Returns how many were sent.
pub(crate) async fn speak(
    client: &mut Client,
    clip: &Clip,
    silence: Duration,
    time_scale: f64,
    stop_after: Option<usize>,
) -> Result<usize, ChaosError> {
    const CHUNK_MS: u32 = 100;
    let quiet = Clip::silence(silence, clip.sample_rate);
    let mut sent = 0;
    for part in [clip, &quiet] {
        let per_chunk = (part.sample_rate * CHUNK_MS / 1000).max(1) as usize;
        let left = stop_after.map_or(usize::MAX, |n| n.saturating_sub(sent));
        let samples = &part.samples[..part.samples.len().min(left.saturating_mul(per_chunk))];
        sent += client
            .stream_audio(
                samples,
                part.sample_rate,
                CHUNK_MS,
                ChunkFormat::Wav,
                time_scale,
                |audio, mime_type| {
                    json!({"action": "audio_chunk", "audio": audio, "mime_type": mime_type})
                },
            )
            .await?;
    }
    Ok(sent)
}
