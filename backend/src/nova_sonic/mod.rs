//! The Amazon Nova Sonic (speech to speech) client, through
//! aws-sdk-bedrockruntime's bidirectional stream, and the session owner both
//! Nova Sonic WebSocket APIs share (Buddy, seed 001; `nova-sonic-stream`,
//! seed 003, [`crate::maya_nova_sonic`]).
//!
//! - [`protocol`]: the input events, in Bedrock's order and limits;
//! - [`output`]: the output events, parsed;
//! - [`bidi_stream`]: one bidirectional stream through the SDK, with its
//!   errors classified;
//! - [`turns`]: output events to client deliveries and the transcript;
//! - [`owner`]: the session owner (relay in, model out, reopen at the
//!   8-minute limit, deadline, alerts);
//! - [`session`]: starting a session (stream, record, ready message) and
//!   concluding it, with the errors both APIs send.

pub mod bidi_stream;
pub mod output;
pub(crate) mod owner;
pub mod protocol;
pub(crate) mod session;
pub mod turns;

use std::time::Duration;

use crate::config::EnvVars;
use crate::session_owner::relay::RelaySettings;
use crate::session_owner::session_item::DEFAULT_TTL_SECONDS;

/// The model when `NOVA_SONIC_MODEL_ID` is not set: Nova 2 Sonic. Nova Sonic
/// v1 (`amazon.nova-sonic-v1:0`) reached its end of life on 2026-09-14 and
/// stays selectable for the record.
pub const DEFAULT_MODEL_ID: &str = "amazon.nova-2-sonic-v1:0";

/// Nova 2 Sonic's turn detection (`sessionStart.turnDetectionConfiguration.
/// endpointingSensitivity`): the pause that ends the user's turn is 1.5 s
/// (HIGH), 1.75 s (MEDIUM) or 2 s (LOW) (Nova 2 user guide, "Turn-taking
/// controllability"). Nova Sonic v1 has no such setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpointing {
    /// 1.5 s.
    High,
    /// 1.75 s.
    Medium,
    /// 2 s.
    Low,
}

impl Endpointing {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::High => "HIGH",
            Self::Medium => "MEDIUM",
            Self::Low => "LOW",
        }
    }

    /// From `HIGH`, `MEDIUM` or `LOW` (any case).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "HIGH" => Some(Self::High),
            "MEDIUM" => Some(Self::Medium),
            "LOW" => Some(Self::Low),
            _ => None,
        }
    }
}

/// Whether `model_id` takes turn-detection settings (Nova 2 Sonic).
pub fn takes_turn_detection(model_id: &str) -> bool {
    model_id.starts_with("amazon.nova-2-sonic")
}

/// Settings both Nova Sonic functions read from the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct SonicSettings {
    /// `NOVA_SONIC_MODEL_ID` (default `amazon.nova-2-sonic-v1:0`).
    pub model_id: String,
    /// `NOVA_SONIC_VOICE`.
    pub voice_id: String,
    /// `NOVA_SONIC_ENDPOINTING` (`HIGH`, `MEDIUM`, `LOW`): sent to models that
    /// take it; unset (or not one of those) leaves the model's default.
    pub endpointing: Option<Endpointing>,
    /// `RELAY_POLL_MS` ([`RelaySettings::poll`]).
    pub relay_poll: Duration,
    /// `RELAY_SETTLE_MS` ([`RelaySettings::settle`]).
    pub relay_settle: Duration,
    /// `SESSION_TTL_SECONDS`: how long a session item lives (default 2 h).
    pub session_ttl_seconds: i64,
}

impl SonicSettings {
    /// The settings of a prompt (one stream) named `prompt_name`.
    pub fn prompt(&self, prompt_name: impl Into<String>) -> protocol::PromptSettings {
        protocol::PromptSettings::new(prompt_name, self.voice_id.clone())
            .with_turn_detection(&self.model_id, self.endpointing)
    }

    /// Reads the environment; `default_voice` when `NOVA_SONIC_VOICE` is unset.
    pub fn from_env(default_voice: &str) -> Self {
        Self::from_vars(default_voice, &EnvVars::process())
    }

    /// The same from any variable lookup (tests).
    pub fn from_lookup(default_voice: &str, var: impl Fn(&str) -> Option<String>) -> Self {
        Self::from_vars(default_voice, &EnvVars::from_lookup(var))
    }

    /// The same from `vars`.
    pub fn from_vars(default_voice: &str, vars: &EnvVars<'_>) -> Self {
        let relay = RelaySettings::from_vars(vars);
        Self {
            model_id: vars.text("NOVA_SONIC_MODEL_ID", DEFAULT_MODEL_ID),
            voice_id: vars.text("NOVA_SONIC_VOICE", default_voice),
            endpointing: vars.optional("NOVA_SONIC_ENDPOINTING").and_then(|v| {
                let parsed = Endpointing::parse(&v);
                if parsed.is_none() {
                    tracing::warn!(
                        "NOVA_SONIC_ENDPOINTING={v:?} is not HIGH, MEDIUM or LOW: the model's default applies"
                    );
                }
                parsed
            }),
            relay_poll: relay.poll,
            relay_settle: relay.settle,
            session_ttl_seconds: vars.parsed_or("SESSION_TTL_SECONDS", DEFAULT_TTL_SECONDS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_and_override() {
        let defaults = SonicSettings::from_lookup("matthew", |_| None);
        assert_eq!(defaults.model_id, "amazon.nova-2-sonic-v1:0");
        assert_eq!(defaults.endpointing, None);
        assert_eq!(defaults.voice_id, "matthew");
        assert_eq!(defaults.relay_poll, Duration::from_millis(25));
        assert_eq!(defaults.relay_settle, Duration::from_millis(300));
        let set = SonicSettings::from_lookup("matthew", |name| match name {
            "NOVA_SONIC_MODEL_ID" => Some("amazon.nova-sonic-v1:0".into()),
            "NOVA_SONIC_ENDPOINTING" => Some("low".into()),
            "RELAY_POLL_MS" => Some("bogus".into()),
            "NOVA_SONIC_VOICE" => Some(" ".into()),
            _ => None,
        });
        assert_eq!(set.model_id, "amazon.nova-sonic-v1:0");
        assert_eq!(set.endpointing, Some(Endpointing::Low));
        let wrong = SonicSettings::from_lookup("matthew", |name| {
            (name == "NOVA_SONIC_ENDPOINTING").then(|| "FAST".into())
        });
        assert_eq!(wrong.endpointing, None);
        assert_eq!(set.relay_poll, Duration::from_millis(25));
        assert_eq!(set.voice_id, "matthew", "blank values fall back");
    }
}
