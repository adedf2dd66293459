//! How an API's server messages make up model turns: which message types
//! carry the model's audio and text, which one ends a turn (when the API has
//! a turn-end signal; otherwise a quiet gap does), which client messages are
//! typed prompts, how the model opens and closes a conversation, and which
//! replies may only follow a given request. Built in for the speech APIs of
//! `backend/template.yaml`; a scenario's `conversation:` block overrides any
//! of it, or describes another API.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::scenario::duration::Span;

/// The turn-taking shape of one API.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnProfile {
    /// Message types carrying model audio, with the base64 field and the
    /// dotted path of the sample rate (PCM 16-bit mono assumed).
    pub audio: Vec<AudioMessage>,
    /// Message types carrying model text (transcript pieces), with the text field.
    pub text: Vec<(String, String)>,
    /// Messages of those types that echo the user instead (dotted field, value),
    /// e.g. Buddy's `textOutput` with `role: USER`.
    pub user_echo: Option<(String, String)>,
    /// Message types that end a model turn (an `interrupted: true` field marks barge-in).
    pub turn_end: Vec<String>,
    /// Message types that end a turn as interrupted.
    pub interrupt: Vec<String>,
    /// Without a turn-end signal, a gap this long between model messages
    /// ends a turn (scenario time: divided by the time scale, as the model's
    /// own pacing is).
    pub quiet_gap: Duration,
    /// Silence that ends a candidate utterance at the target (its voice
    /// activity detector), scenario time.
    pub end_of_utterance: Duration,
    /// Client messages that are typed prompts: (dotted field, value).
    pub text_prompts: Vec<(String, String)>,
    /// Model turns expected between this client action and the first prompt
    /// (a greeting), if checked: (turns, action).
    pub opening: Option<(u32, String)>,
    /// A regular expression for the model's closing line, if it has one.
    pub closing: Option<String>,
    /// Replies that may only come after a request: (message type, action sent before).
    pub only_after: Vec<(String, String)>,
}

/// A message type that carries model audio.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioMessage {
    /// The message type.
    pub kind: String,
    /// The field holding base64 PCM.
    pub data: String,
    /// The dotted path of the sample rate (absent: `default_rate`).
    pub rate: Option<String>,
    /// Sample rate when the message does not say.
    pub default_rate: u32,
}

fn audio(kind: &str, data: &str, rate: Option<&str>, default_rate: u32) -> AudioMessage {
    AudioMessage {
        kind: kind.to_owned(),
        data: data.to_owned(),
        rate: rate.map(str::to_owned),
        default_rate,
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

impl TurnProfile {
    /// A profile with no message types (a scenario's `conversation:` block
    /// fills in what it needs).
    pub fn generic() -> Self {
        Self {
            audio: Vec::new(),
            text: Vec::new(),
            user_echo: None,
            turn_end: Vec::new(),
            interrupt: Vec::new(),
            quiet_gap: Duration::from_millis(1_500),
            end_of_utterance: Duration::from_millis(800),
            text_prompts: Vec::new(),
            opening: None,
            closing: None,
            only_after: Vec::new(),
        }
    }

    /// The built-in profile of an API of `backend/template.yaml`, by logical id.
    pub fn for_api(api: &str) -> Option<Self> {
        let base = Self::generic();
        match api {
            // Seed 000: Maya on Gemini Live. `maya_turn_complete` is Gemini's turnComplete.
            "SpeakingWebSocketApi" => Some(Self {
                audio: vec![audio(
                    "maya_audio",
                    "audio",
                    Some("format.sample_rate"),
                    24_000,
                )],
                text: pairs(&[("maya_transcript", "text")]),
                turn_end: names(&["maya_turn_complete"]),
                opening: Some((1, "start_speaking".to_owned())),
                closing: Some("(?i)that is the end of the speaking test".to_owned()),
                only_after: pairs(&[("assessment_complete", "end_speaking")]),
                ..base
            }),
            // Seed 001: Buddy on Nova Sonic; no turn-end message, so a quiet gap.
            "BuddyWebSocketApi" => Some(Self {
                audio: vec![audio("audioOutput", "audio", Some("sampleRate"), 24_000)],
                text: pairs(&[("textOutput", "text")]),
                user_echo: Some(("role".to_owned(), "USER".to_owned())),
                interrupt: names(&["interrupted"]),
                text_prompts: pairs(&[("action", "textInput")]),
                opening: Some((0, "initSession".to_owned())),
                ..base
            }),
            // Seed 003: Maya on Nova Sonic (`nova-sonic-stream`).
            "NovaSonicStreamWebSocketApi" => Some(Self {
                audio: vec![audio(
                    "maya_audio",
                    "audio",
                    Some("format.sample_rate"),
                    24_000,
                )],
                text: pairs(&[("maya_transcript", "text")]),
                interrupt: names(&["interrupted"]),
                text_prompts: pairs(&[("type", "text")]),
                ..base
            }),
            _ => None,
        }
    }

    /// The profile with a scenario's overrides applied.
    pub fn with(mut self, overrides: &ConversationConfig) -> Self {
        if let Some(gap) = overrides.quiet_gap {
            self.quiet_gap = gap.0;
        }
        if let Some(eou) = overrides.end_of_utterance {
            self.end_of_utterance = eou.0;
        }
        if let Some(turns) = overrides.opening_turns {
            let after = self.opening.take().map(|(_, after)| after);
            self.opening = after.map(|after| (turns, after));
        }
        if let Some(closing) = &overrides.closing {
            self.closing = Some(closing.clone());
        }
        self
    }

    /// Whether `kind` is a message of the model's turns.
    pub fn is_model_message(&self, kind: &str) -> bool {
        self.audio.iter().any(|a| a.kind == kind) || self.text.iter().any(|(t, _)| t == kind)
    }
}

/// A scenario's `conversation:` block: the conversation checks and how turns
/// are told apart.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationConfig {
    /// Run the conversation checks (default: on for the speech APIs).
    #[serde(default)]
    pub checks: Option<bool>,
    /// Model turns expected per completed candidate utterance (default 1;
    /// an `answer` step's `replies` overrides it for that answer).
    #[serde(default)]
    pub replies_per_utterance: Option<u32>,
    /// Silence that ends an utterance at the target (default 800 ms, Gemini's and the mocks').
    #[serde(default)]
    pub end_of_utterance: Option<Span>,
    /// Without a turn-end message, the gap (scenario time) that ends a model turn.
    #[serde(default)]
    pub quiet_gap: Option<Span>,
    /// Model turns between the request that opens the conversation
    /// (`start_speaking`, `initSession`) and the first prompt (the greeting).
    #[serde(default)]
    pub opening_turns: Option<u32>,
    /// A regular expression for the model's closing line.
    #[serde(default)]
    pub closing: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_speech_apis_have_profiles_and_others_do_not() {
        let speaking = TurnProfile::for_api("SpeakingWebSocketApi").unwrap();
        assert!(speaking.is_model_message("maya_audio"));
        assert!(speaking.is_model_message("maya_transcript"));
        assert!(!speaking.is_model_message("session_ready"));
        assert_eq!(speaking.turn_end, ["maya_turn_complete"]);
        assert!(TurnProfile::for_api("BuddyWebSocketApi").is_some());
        assert!(TurnProfile::for_api("NovaSonicStreamWebSocketApi").is_some());
        assert!(TurnProfile::for_api("ChatWebSocketApi").is_none());
    }

    #[test]
    fn overrides_apply() {
        let config = ConversationConfig {
            end_of_utterance: Some(Span(Duration::from_millis(500))),
            opening_turns: Some(0),
            ..ConversationConfig::default()
        };
        let profile = TurnProfile::for_api("SpeakingWebSocketApi")
            .unwrap()
            .with(&config);
        assert_eq!(profile.end_of_utterance, Duration::from_millis(500));
        assert_eq!(profile.opening, Some((0, "start_speaking".to_owned())));
    }
}
