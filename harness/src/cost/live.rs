//! Gemini Live's cost by turn. Vertex bills every model turn for the whole
//! context so far, earlier turns' audio included, so a session's input
//! tokens grow with turns x context, roughly with the square of its length:
//! they must never be scaled linearly in time.
//!
//! From the Vertex mock's turn log (each turn's prompt and output tokens, and
//! the session's audio clock when it began) this module keeps:
//! - [`LiveTurnUsage`]: turns, prompt and output tokens per turn by modality
//!   (mean, max, and the mean of each session's last turn), the totals;
//! - [`ContextGrowth`]: the context fitted as a line in the session clock
//!   (tokens at the start, tokens per second of session) and the turn rate;
//! - [`ContextGrowth::project`]: the tokens of a session of M minutes and N
//!   turns, the sum over its turns of the context at each turn, which
//!   `harness cost --what-if` prints as a curve.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Per-turn statistics of one token count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TokenStats {
    /// Mean over every turn.
    pub mean: f64,
    /// The largest turn.
    pub max: u64,
    /// Mean over sessions of their last turn (the context at the end).
    pub last: f64,
}

/// The context as a line in the session clock, and the turn rate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContextGrowth {
    /// Prompt audio tokens at the session's start.
    pub audio_base: f64,
    /// Prompt audio tokens added per second of session (audio in, and the
    /// model's own audio).
    pub audio_per_second: f64,
    /// Prompt text tokens at the start (system prompt, typed text).
    pub text_base: f64,
    /// Prompt text tokens added per second of session.
    pub text_per_second: f64,
    /// Model turns per minute of session.
    pub turns_per_minute: f64,
    /// Output audio tokens per turn.
    pub output_audio_per_turn: f64,
    /// Output text tokens per turn.
    pub output_text_per_turn: f64,
}

/// One session of M minutes and N turns, as the growth model sees it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Projection {
    /// Session length (minutes).
    pub minutes: f64,
    /// Model turns.
    pub turns: u64,
    /// Prompt audio tokens summed over the turns.
    pub prompt_audio_tokens: f64,
    /// Prompt text tokens summed over the turns.
    pub prompt_text_tokens: f64,
    pub output_audio_tokens: f64,
    pub output_text_tokens: f64,
}

/// What a run's Gemini Live sessions used, turn by turn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LiveTurnUsage {
    /// The Live model (short id, as priced).
    pub model: String,
    /// Live sessions (a resumed session counts once).
    pub sessions: u64,
    /// Model turns.
    pub turns: u64,
    /// Prompt audio tokens per turn.
    pub prompt_audio: TokenStats,
    /// Prompt text tokens per turn.
    pub prompt_text: TokenStats,
    /// Output audio tokens per turn.
    pub output_audio: TokenStats,
    /// Output text tokens per turn.
    pub output_text: TokenStats,
    /// Prompt tokens summed over every turn (what input is billed for).
    pub prompt_tokens: u64,
    /// Output tokens summed over every turn.
    pub output_tokens: u64,
    /// The context fitted to the session clock.
    pub growth: ContextGrowth,
    /// The turns the growth was fitted to (those before compression first
    /// trimmed a session's context).
    #[serde(default)]
    pub fitted_turns: u64,
    /// The sessions' `contextWindowCompression` (trigger, target tokens),
    /// if they set one.
    #[serde(default)]
    pub compression: Option<(u64, u64)>,
    /// Turns before which the sliding window discarded the oldest turns.
    #[serde(default)]
    pub context_trims: u64,
}

/// One turn, as the mock logged it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TurnSample {
    /// The session's audio clock when it began (seconds).
    pub at_seconds: f64,
    /// Prompt audio tokens.
    pub prompt_audio: u64,
    /// Prompt text tokens.
    pub prompt_text: u64,
    /// Output audio tokens.
    pub output_audio: u64,
    /// Output text tokens.
    pub output_text: u64,
    /// The sliding window discarded the oldest turns before it.
    pub trimmed: bool,
}

fn stats(sessions: &[Vec<TurnSample>], pick: impl Fn(&TurnSample) -> u64) -> TokenStats {
    let all: Vec<u64> = sessions.iter().flatten().map(&pick).collect();
    let lasts: Vec<u64> = sessions
        .iter()
        .filter_map(|s| s.last())
        .map(&pick)
        .collect();
    let mean = |values: &[u64]| {
        if values.is_empty() {
            0.0
        } else {
            values.iter().sum::<u64>() as f64 / values.len() as f64
        }
    };
    TokenStats {
        mean: mean(&all),
        max: all.iter().copied().max().unwrap_or(0),
        last: mean(&lasts),
    }
}

/// Least squares `y = base + slope * x`; a flat line through the mean when x does not vary.
fn fit(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len() as f64;
    if points.is_empty() {
        return (0.0, 0.0);
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let spread: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if spread <= f64::EPSILON {
        return (mean_y, 0.0);
    }
    let slope = points
        .iter()
        .map(|p| (p.0 - mean_x) * (p.1 - mean_y))
        .sum::<f64>()
        / spread;
    (mean_y - slope * mean_x, slope)
}

impl LiveTurnUsage {
    /// The usage of `sessions` (each its turns in order) of `model` that
    /// lasted `session_seconds` in total (scenario time); `None` without turns.
    pub fn from_turns(
        model: &str,
        sessions: &[Vec<TurnSample>],
        session_seconds: f64,
    ) -> Option<Self> {
        let turns: u64 = sessions.iter().map(|s| s.len() as u64).sum();
        if turns == 0 {
            return None;
        }
        let all: Vec<&TurnSample> = sessions.iter().flatten().collect();
        // The growth is fitted on each session's turns before compression
        // first trimmed its context (all turns when that leaves fewer than two).
        let untrimmed: Vec<&TurnSample> = sessions
            .iter()
            .flat_map(|session| session.iter().take_while(|t| !t.trimmed))
            .collect();
        let fitted = if untrimmed.len() >= 2 {
            &untrimmed
        } else {
            &all
        };
        let points = |pick: fn(&TurnSample) -> u64| -> Vec<(f64, f64)> {
            fitted
                .iter()
                .map(|t| (t.at_seconds, pick(t) as f64))
                .collect()
        };
        let (audio_base, audio_per_second) = fit(&points(|t| t.prompt_audio));
        let (text_base, text_per_second) = fit(&points(|t| t.prompt_text));
        let output_audio = stats(sessions, |t| t.output_audio);
        let output_text = stats(sessions, |t| t.output_text);
        Some(Self {
            model: model.to_owned(),
            sessions: sessions.len() as u64,
            turns,
            prompt_audio: stats(sessions, |t| t.prompt_audio),
            prompt_text: stats(sessions, |t| t.prompt_text),
            output_audio,
            output_text,
            prompt_tokens: all.iter().map(|t| t.prompt_audio + t.prompt_text).sum(),
            output_tokens: all.iter().map(|t| t.output_audio + t.output_text).sum(),
            growth: ContextGrowth {
                audio_base: audio_base.max(0.0),
                audio_per_second: audio_per_second.max(0.0),
                text_base: text_base.max(0.0),
                text_per_second: text_per_second.max(0.0),
                turns_per_minute: if session_seconds > 0.0 {
                    turns as f64 / (session_seconds / 60.0)
                } else {
                    0.0
                },
                output_audio_per_turn: output_audio.mean,
                output_text_per_turn: output_text.mean,
            },
            fitted_turns: fitted.len() as u64,
            compression: None,
            context_trims: 0,
        })
    }
}

impl ContextGrowth {
    /// One session of `minutes` with `turns` model turns (none: at the
    /// measured rate), spread evenly from its start: the sum over the turns
    /// of the context at each.
    pub fn project(&self, minutes: f64, turns: Option<u64>) -> Projection {
        self.project_with(minutes, turns, None)
    }

    /// [`Self::project`] with a sliding window `(trigger, target)`: before a
    /// turn whose context passes the trigger, the oldest audio goes until
    /// the context is back at the target (the text, mostly the system
    /// instruction, stays), and the context grows again from there.
    pub fn project_with(
        &self,
        minutes: f64,
        turns: Option<u64>,
        compression: Option<(u64, u64)>,
    ) -> Projection {
        let turns = turns.unwrap_or_else(|| (self.turns_per_minute * minutes).round() as u64);
        let Some((trigger, target)) = compression else {
            return self.linear(minutes, turns);
        };
        let (trigger, target) = (trigger as f64, target as f64);
        let n = turns as f64;
        let mut dropped = 0.0;
        let (mut audio_sum, mut text_sum) = (0.0, 0.0);
        for i in 0..turns {
            let at = minutes * 60.0 * i as f64 / n;
            let text = self.text_base + self.text_per_second * at;
            let mut audio = self.audio_base + self.audio_per_second * at - dropped;
            if audio + text > trigger {
                let keep = (target - text).max(0.0);
                dropped += audio - keep;
                audio = keep;
            }
            audio_sum += audio;
            text_sum += text;
        }
        Projection {
            prompt_audio_tokens: audio_sum,
            prompt_text_tokens: text_sum,
            ..self.linear(minutes, turns)
        }
    }

    fn linear(&self, minutes: f64, turns: u64) -> Projection {
        let n = turns as f64;
        // Turn i (0-based) begins at i / n of the session: the clock summed
        // over the turns is the session's seconds times (n - 1) / 2.
        let clock_sum = if turns == 0 {
            0.0
        } else {
            minutes * 60.0 * (n - 1.0) / 2.0
        };
        Projection {
            minutes,
            turns,
            prompt_audio_tokens: n * self.audio_base + self.audio_per_second * clock_sum,
            prompt_text_tokens: n * self.text_base + self.text_per_second * clock_sum,
            output_audio_tokens: n * self.output_audio_per_turn,
            output_text_tokens: n * self.output_text_per_turn,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session whose context grows by 50 audio tokens a second from 0,
    /// with 100 text tokens throughout, one turn every 10 s.
    fn steady(turns: u64) -> Vec<TurnSample> {
        (0..turns)
            .map(|i| TurnSample {
                at_seconds: i as f64 * 10.0,
                prompt_audio: i * 500,
                prompt_text: 100,
                output_audio: 40,
                output_text: 0,
                trimmed: false,
            })
            .collect()
    }

    #[test]
    fn a_sliding_window_caps_each_prompt_and_the_fit_ignores_trimmed_turns() {
        // 50 audio tokens a second; trimmed from turn 3 on in the run.
        let mut session = steady(6);
        for turn in session.iter_mut().skip(3) {
            turn.trimmed = true;
            turn.prompt_audio = 400;
        }
        let usage = LiveTurnUsage::from_turns("live", &[session], 60.0).unwrap();
        assert!(
            (usage.growth.audio_per_second - 50.0).abs() < 1e-9,
            "{:?}",
            usage.growth
        );
        let open = usage.growth.project(10.0, None);
        let capped = usage.growth.project_with(10.0, None, Some((3_000, 1_500)));
        assert_eq!(open.turns, capped.turns);
        assert!(capped.prompt_audio_tokens < open.prompt_audio_tokens / 3.0);
        let ceiling = 3_000.0 * capped.turns as f64;
        assert!(capped.prompt_audio_tokens + capped.prompt_text_tokens <= ceiling);
        assert_eq!(capped.output_audio_tokens, open.output_audio_tokens);
    }

    #[test]
    fn statistics_and_totals_come_from_every_turn() {
        let usage = LiveTurnUsage::from_turns("live", &[steady(4), steady(2)], 60.0).unwrap();
        assert_eq!(usage.turns, 6);
        assert_eq!(usage.sessions, 2);
        assert_eq!(usage.prompt_audio.max, 1500);
        assert!((usage.prompt_audio.mean - 3500.0 / 6.0).abs() < 1e-9);
        assert!(
            (usage.prompt_audio.last - 1000.0).abs() < 1e-9,
            "(1500 + 500) / 2"
        );
        assert_eq!(usage.prompt_tokens, 3000 + 500 + 600);
        assert_eq!(usage.output_tokens, 240);
        assert!((usage.growth.audio_per_second - 50.0).abs() < 1e-9);
        assert!(usage.growth.audio_base.abs() < 1e-9);
        assert!((usage.growth.text_base - 100.0).abs() < 1e-9);
        assert!((usage.growth.turns_per_minute - 6.0).abs() < 1e-9);
        assert!(LiveTurnUsage::from_turns("live", &[], 60.0).is_none());
    }

    #[test]
    fn the_projection_reproduces_the_measured_session_and_grows_quadratically() {
        let session = steady(6);
        let usage =
            LiveTurnUsage::from_turns("live", std::slice::from_ref(&session), 60.0).unwrap();
        let same = usage.growth.project(1.0, None);
        assert_eq!(same.turns, 6);
        let measured: u64 = session.iter().map(|t| t.prompt_audio).sum();
        assert!(
            (same.prompt_audio_tokens - measured as f64).abs() < 1e-6,
            "{same:?} vs {measured}"
        );
        let double = usage.growth.project(2.0, None);
        assert_eq!(double.turns, 12);
        // Twice the length: twice the turns, each with about twice the context.
        let ratio = double.prompt_audio_tokens / same.prompt_audio_tokens;
        assert!(ratio > 4.0, "{ratio}");
        assert!((double.output_audio_tokens - 2.0 * same.output_audio_tokens).abs() < 1e-9);
        assert_eq!(usage.growth.project(1.0, Some(3)).turns, 3);
        assert_eq!(usage.growth.project(1.0, Some(0)).prompt_audio_tokens, 0.0);
    }

    #[test]
    fn a_single_turn_fits_a_flat_line() {
        assert_eq!(fit(&[(5.0, 7.0)]), (7.0, 0.0));
        assert_eq!(fit(&[]), (0.0, 0.0));
    }
}
