//! The input side of a Nova Sonic session as a plain state machine: it checks
//! the order of the client's events (the rules Bedrock enforces with a
//! validationException), collects the system prompt and history, runs voice
//! activity detection on the user's audio, and reports the user's turns.

use std::collections::HashMap;
use std::time::Duration;

use super::events::{ContentType, InputEvent, InvalidEvent, Role};
use crate::speech::{self, Vad, VadConfig, VadEvent};

/// The message Bedrock sends when history follows audio.
pub(crate) const HISTORY_AFTER_AUDIO: &str =
    "Chat history should be sent completely before streaming audio.";

/// What an input event leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    /// The system prompt is complete.
    SystemPrompt(String),
    /// The user started speaking (a barge-in if the assistant is speaking).
    SpeechStarted,
    /// The user finished a turn; `text` is what they said or typed.
    UserTurn {
        /// The transcript or typed text.
        text: String,
        /// Whether it was spoken.
        spoken: bool,
    },
    /// The client ended the session.
    SessionEnded,
}

#[derive(Debug)]
struct OpenContent {
    /// TEXT, AUDIO or TOOL.
    kind: ContentType,
    /// Who it belongs to.
    role: Role,
    /// Live input (a turn) rather than history.
    interactive: bool,
    /// Text received so far (TEXT content).
    text: String,
    /// End-of-utterance detection (AUDIO content).
    vad: Option<Vad>,
}

/// The input state of one session.
#[derive(Debug, Default)]
pub(crate) struct Conversation {
    /// `sessionStart` arrived (nothing else is accepted before it).
    session_started: bool,
    /// From `promptStart`; content events must repeat it.
    prompt_name: Option<String>,
    /// From `promptStart`'s audio output configuration.
    output_sample_rate: u32,
    /// Content blocks opened and not yet ended, by name.
    contents: HashMap<String, OpenContent>,
    /// Audio has started: history is no longer allowed.
    audio_started: bool,
    /// `promptEnd` arrived.
    prompt_ended: bool,
    /// `sessionEnd` arrived: later events are ignored.
    session_ended: bool,
    /// Audio received (speech input tokens are billed on it).
    input_audio: Duration,
    /// The pause that ends a spoken turn, when `sessionStart` set one.
    end_of_turn_pause: Option<Duration>,
    /// Text tokens received.
    input_text_tokens: u64,
}

fn invalid(message: impl Into<String>) -> InvalidEvent {
    InvalidEvent(message.into())
}

impl Conversation {
    /// A session that has received nothing yet.
    pub(crate) fn new() -> Self {
        Self {
            output_sample_rate: 24_000,
            ..Self::default()
        }
    }

    /// The prompt name from `promptStart`.
    pub(crate) fn prompt_name(&self) -> Option<&str> {
        self.prompt_name.as_deref()
    }

    /// The output sample rate the client asked for.
    pub(crate) fn output_sample_rate(&self) -> u32 {
        self.output_sample_rate
    }

    /// Audio received so far.
    pub(crate) fn input_audio(&self) -> Duration {
        self.input_audio
    }

    /// Text tokens received so far (system prompt, history, typed input).
    pub(crate) fn input_text_tokens(&self) -> u64 {
        self.input_text_tokens
    }

    /// Whether `promptEnd` arrived (the model finishes its turns and ends the completion).
    pub(crate) fn prompt_ended(&self) -> bool {
        self.prompt_ended
    }

    /// Whether `sessionEnd` arrived.
    pub(crate) fn ended(&self) -> bool {
        self.session_ended
    }

    /// Applies one event. `recognize` turns an utterance's speech time into
    /// its transcript. An error is a protocol violation (validationException).
    pub(crate) fn apply(
        &mut self,
        event: InputEvent,
        recognize: &dyn Fn(Duration) -> String,
    ) -> Result<Vec<Effect>, InvalidEvent> {
        if self.session_ended {
            return Ok(Vec::new());
        }
        if !self.session_started {
            return match event {
                InputEvent::SessionStart { end_of_turn_pause } => {
                    self.session_started = true;
                    self.end_of_turn_pause = end_of_turn_pause;
                    Ok(Vec::new())
                }
                _ => Err(invalid(
                    "Invalid input request: the first event must be sessionStart.",
                )),
            };
        }
        match event {
            InputEvent::SessionStart { .. } => Err(invalid("sessionStart was already received.")),
            InputEvent::PromptStart {
                prompt_name,
                output_sample_rate,
            } => {
                if self.prompt_name.is_some() {
                    return Err(invalid("promptStart was already received."));
                }
                if ![8_000, 16_000, 24_000].contains(&output_sample_rate) {
                    return Err(invalid(format!(
                        "Unsupported output sampleRateHertz {output_sample_rate}."
                    )));
                }
                self.prompt_name = Some(prompt_name);
                self.output_sample_rate = output_sample_rate;
                Ok(Vec::new())
            }
            InputEvent::ContentStart {
                prompt_name,
                content_name,
                kind,
                role,
                interactive,
                input_sample_rate,
            } => {
                self.check_prompt(&prompt_name)?;
                self.start_content(content_name, kind, role, interactive, input_sample_rate)?;
                Ok(Vec::new())
            }
            InputEvent::TextInput {
                content_name,
                content,
            } => {
                let open = self.content(&content_name)?;
                if open.kind != ContentType::Text {
                    return Err(invalid(format!(
                        "textInput sent to non-text content {content_name}."
                    )));
                }
                open.text.push_str(&content);
                self.input_text_tokens += speech::text_tokens(&content);
                Ok(Vec::new())
            }
            InputEvent::AudioInput {
                content_name,
                samples,
            } => self.audio(&content_name, &samples, recognize),
            InputEvent::ContentEnd { content_name } => self.end_content(&content_name, recognize),
            InputEvent::ToolResult => Ok(Vec::new()),
            InputEvent::PromptEnd => {
                self.prompt_ended = true;
                Ok(Vec::new())
            }
            InputEvent::SessionEnd => {
                self.session_ended = true;
                Ok(vec![Effect::SessionEnded])
            }
        }
    }

    fn check_prompt(&self, prompt_name: &str) -> Result<(), InvalidEvent> {
        match &self.prompt_name {
            None => Err(invalid("promptStart must be sent before any content.")),
            Some(known) if known != prompt_name => {
                Err(invalid(format!("Unknown promptName {prompt_name}.")))
            }
            Some(_) => Ok(()),
        }
    }

    fn start_content(
        &mut self,
        content_name: String,
        kind: ContentType,
        role: Role,
        interactive: bool,
        input_sample_rate: u32,
    ) -> Result<(), InvalidEvent> {
        if self.contents.contains_key(&content_name) {
            return Err(invalid(format!("Content {content_name} is already open.")));
        }
        let history = kind == ContentType::Text
            && matches!(role, Role::User | Role::Assistant)
            && !interactive;
        if history && self.audio_started {
            return Err(invalid(HISTORY_AFTER_AUDIO));
        }
        let vad = match kind {
            ContentType::Audio => {
                if role != Role::User {
                    return Err(invalid("Audio input must have the USER role."));
                }
                if ![8_000, 16_000, 24_000].contains(&input_sample_rate) {
                    return Err(invalid(format!(
                        "Unsupported input sampleRateHertz {input_sample_rate}."
                    )));
                }
                self.audio_started = true;
                let defaults = VadConfig::default();
                let silence_ms = self
                    .end_of_turn_pause
                    .map_or(defaults.silence_ms, |pause| pause.as_millis() as u32);
                Some(Vad::new(VadConfig {
                    sample_rate: input_sample_rate,
                    silence_ms,
                    ..defaults
                }))
            }
            ContentType::Text | ContentType::Tool => None,
        };
        self.contents.insert(
            content_name,
            OpenContent {
                kind,
                role,
                interactive,
                text: String::new(),
                vad,
            },
        );
        Ok(())
    }

    fn content(&mut self, content_name: &str) -> Result<&mut OpenContent, InvalidEvent> {
        self.contents
            .get_mut(content_name)
            .ok_or_else(|| invalid(format!("Unknown contentName {content_name}.")))
    }

    fn audio(
        &mut self,
        content_name: &str,
        samples: &[i16],
        recognize: &dyn Fn(Duration) -> String,
    ) -> Result<Vec<Effect>, InvalidEvent> {
        let open = self.content(content_name)?;
        let Some(vad) = open.vad.as_mut() else {
            return Err(invalid(format!(
                "audioInput sent to non-audio content {content_name}."
            )));
        };
        let rate = vad.config().sample_rate;
        let events = vad.push(samples);
        self.input_audio += speech::duration_of(samples.len(), rate);
        Ok(events
            .into_iter()
            .map(|event| vad_effect(event, recognize))
            .collect())
    }

    fn end_content(
        &mut self,
        content_name: &str,
        recognize: &dyn Fn(Duration) -> String,
    ) -> Result<Vec<Effect>, InvalidEvent> {
        let open = self
            .contents
            .remove(content_name)
            .ok_or_else(|| invalid(format!("Unknown contentName {content_name}.")))?;
        Ok(match (open.kind, open.role) {
            (ContentType::Text, Role::System) => vec![Effect::SystemPrompt(open.text)],
            (ContentType::Text, Role::User) if open.interactive => vec![Effect::UserTurn {
                text: open.text,
                spoken: false,
            }],
            (ContentType::Audio, _) => open
                .vad
                .and_then(|mut vad| vad.finish())
                .map(|event| vad_effect(event, recognize))
                .into_iter()
                .collect(),
            _ => Vec::new(),
        })
    }
}

fn vad_effect(event: VadEvent, recognize: &dyn Fn(Duration) -> String) -> Effect {
    match event {
        VadEvent::SpeechStart { .. } => Effect::SpeechStarted,
        VadEvent::SpeechEnd { speech, .. } => Effect::UserTurn {
            text: recognize(speech),
            spoken: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recognize(speech: Duration) -> String {
        format!("{} ms", (speech.as_millis() + 50) / 100 * 100)
    }

    fn content_start(name: &str, kind: ContentType, role: Role, interactive: bool) -> InputEvent {
        InputEvent::ContentStart {
            prompt_name: "p".into(),
            content_name: name.into(),
            kind,
            role,
            interactive,
            input_sample_rate: 16_000,
        }
    }

    fn started() -> Conversation {
        started_with(None)
    }

    fn started_with(end_of_turn_pause: Option<Duration>) -> Conversation {
        let mut c = Conversation::new();
        for event in [
            InputEvent::SessionStart { end_of_turn_pause },
            InputEvent::PromptStart {
                prompt_name: "p".into(),
                output_sample_rate: 24_000,
            },
        ] {
            assert!(c.apply(event, &recognize).unwrap().is_empty());
        }
        c
    }

    fn text(c: &mut Conversation, name: &str, role: Role, interactive: bool, body: &str) {
        c.apply(
            content_start(name, ContentType::Text, role, interactive),
            &recognize,
        )
        .unwrap();
        c.apply(
            InputEvent::TextInput {
                content_name: name.into(),
                content: body.into(),
            },
            &recognize,
        )
        .unwrap();
    }

    #[test]
    fn events_before_session_start_are_rejected() {
        let mut c = Conversation::new();
        assert!(c.apply(InputEvent::PromptEnd, &recognize).is_err());
    }

    #[test]
    fn system_prompt_history_and_typed_turns() {
        let mut c = started();
        text(
            &mut c,
            "sys",
            Role::System,
            false,
            "- Sarah is your daughter.",
        );
        let end = |name: &str| InputEvent::ContentEnd {
            content_name: name.into(),
        };
        assert_eq!(
            c.apply(end("sys"), &recognize).unwrap(),
            vec![Effect::SystemPrompt("- Sarah is your daughter.".into())]
        );
        text(&mut c, "h1", Role::User, false, "Hello");
        assert!(c.apply(end("h1"), &recognize).unwrap().is_empty());
        text(&mut c, "u1", Role::User, true, "Who is Sarah?");
        assert_eq!(
            c.apply(end("u1"), &recognize).unwrap(),
            vec![Effect::UserTurn {
                text: "Who is Sarah?".into(),
                spoken: false
            }]
        );
        assert!(c.input_text_tokens() > 0);
    }

    #[test]
    fn history_after_audio_is_a_validation_error() {
        let mut c = started();
        c.apply(
            content_start("a", ContentType::Audio, Role::User, true),
            &recognize,
        )
        .unwrap();
        let err = c
            .apply(
                content_start("h", ContentType::Text, Role::Assistant, false),
                &recognize,
            )
            .unwrap_err();
        assert_eq!(err.0, HISTORY_AFTER_AUDIO);
    }

    /// The effects of two seconds of speech then `pause` of silence.
    fn speech_then(c: &mut Conversation, pause: Duration) -> Vec<Effect> {
        c.apply(
            content_start("a", ContentType::Audio, Role::User, true),
            &recognize,
        )
        .unwrap();
        let mut audio = speech::synthesize("one two three four five six seven", 16_000);
        audio.truncate(32_000);
        audio.extend(speech::silence(pause, 16_000));
        let mut effects = Vec::new();
        for chunk in audio.chunks(512) {
            let samples = chunk.to_vec();
            let event = InputEvent::AudioInput {
                content_name: "a".into(),
                samples,
            };
            effects.extend(c.apply(event, &recognize).unwrap());
        }
        effects
    }

    #[test]
    fn nova_2_turn_detection_sets_the_pause_that_ends_a_turn() {
        // The default 800 ms ends the turn within a 1.6 s pause; LOW (2 s) does not.
        let pause = Duration::from_millis(1_600);
        let ended = |effects: &[Effect]| {
            effects
                .iter()
                .any(|e| matches!(e, Effect::UserTurn { spoken: true, .. }))
        };
        assert!(ended(&speech_then(&mut started(), pause)));
        let mut low = started_with(Some(Duration::from_millis(2_000)));
        assert!(!ended(&speech_then(&mut low, pause)));
        let mut high = started_with(Some(Duration::from_millis(1_500)));
        assert!(ended(&speech_then(&mut high, pause)));
    }

    #[test]
    fn spoken_turns_come_from_voice_activity() {
        let mut c = started();
        let effects = speech_then(&mut c, Duration::from_secs(1));
        assert_eq!(effects.len(), 2, "{effects:?}");
        assert_eq!(effects[0], Effect::SpeechStarted);
        assert!(matches!(&effects[1], Effect::UserTurn { spoken: true, .. }));
        assert_eq!(c.input_audio(), Duration::from_secs(3));
    }

    #[test]
    fn content_rules() {
        let mut c = started();
        let bad_prompt = InputEvent::ContentStart {
            prompt_name: "other".into(),
            content_name: "x".into(),
            kind: ContentType::Text,
            role: Role::User,
            interactive: true,
            input_sample_rate: 16_000,
        };
        assert!(c.apply(bad_prompt, &recognize).is_err());
        let unknown = InputEvent::TextInput {
            content_name: "nope".into(),
            content: "x".into(),
        };
        assert!(c.apply(unknown, &recognize).is_err());
        text(&mut c, "t", Role::User, true, "hi");
        let audio_to_text = InputEvent::AudioInput {
            content_name: "t".into(),
            samples: vec![0; 10],
        };
        assert!(c.apply(audio_to_text, &recognize).is_err());
        assert_eq!(
            c.apply(InputEvent::SessionEnd, &recognize).unwrap(),
            vec![Effect::SessionEnded]
        );
        assert!(c.ended());
    }
}
