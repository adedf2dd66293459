//! Gemini Live in the cost report: how the Vertex line of one session is
//! built (the sum over its turns of the prompt's tokens times the rate, with
//! the turn count), whether it was measured over a session of the reference
//! length or projected from the context's growth (never scaled linearly),
//! and the session's cost at 7, 14 and 28 minutes (`harness cost --what-if`),
//! without context compression and with a sliding window side by side.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bill::Component;
use super::live::{ContextGrowth, LiveTurnUsage, Projection};
use super::pricing::PricingTable;

/// The session lengths every curve shows (minutes).
pub(crate) const CURVE_MINUTES: [f64; 3] = [7.0, 14.0, 28.0];

/// The sliding window the curve shows when the run had none: the backend
/// template's defaults (`GeminiCompressionTriggerTokens`, `...TargetTokens`).
pub(crate) const DEFAULT_COMPRESSION: (u64, u64) = (16_000, 8_000);

/// A run's session lengths within 1% of the reference length are measured, not projected.
const SAME_LENGTH: f64 = 0.01;

/// One session of the curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CurvePoint {
    /// Session length (minutes).
    pub minutes: f64,
    /// Model turns.
    pub turns: u64,
    /// Prompt tokens summed over the turns (audio and text).
    pub prompt_tokens: f64,
    /// Output tokens.
    pub output_tokens: f64,
    /// Input cost (USD).
    pub input_usd: f64,
    /// Output cost (USD).
    pub output_usd: f64,
    /// The Live model's cost of the session (USD).
    pub total_usd: f64,
}

/// The Live model's part of the cost report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LiveCost {
    /// What the run's Live sessions used, turn by turn.
    pub usage: LiveTurnUsage,
    /// Whether one session's Live lines were measured or projected, and how.
    pub basis: String,
    /// The Vertex input line of one session, written out.
    pub input_arithmetic: String,
    /// One session at 7, 14 and 28 minutes (and at the reference length),
    /// without context compression.
    pub curve: Vec<CurvePoint>,
    /// The same sessions with a sliding window: the run's, or the backend's
    /// default when the run had none.
    pub compressed_curve: Vec<CurvePoint>,
    /// That sliding window (trigger, target tokens).
    pub compression: (u64, u64),
}

/// The Live model's rates, per token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LiveRates {
    audio_in: f64,
    text_in: f64,
    audio_out: f64,
    text_out: f64,
}

impl LiveRates {
    /// The model's rates from the pricing table (a missing rate is 0).
    pub(crate) fn of(pricing: &PricingTable, model: &str) -> Self {
        let price = pricing.model(model);
        let rate = |usd: Option<f64>| match (usd, price) {
            (Some(usd), Some(price)) => usd / price.per,
            _ => 0.0,
        };
        Self {
            audio_in: rate(price.and_then(|p| p.audio_in_usd)),
            text_in: rate(price.and_then(|p| p.text_in_usd)),
            audio_out: rate(price.and_then(|p| p.audio_out_usd)),
            text_out: rate(price.and_then(|p| p.text_out_usd)),
        }
    }

    fn point(&self, projection: &Projection) -> CurvePoint {
        let input_usd = projection.prompt_audio_tokens * self.audio_in
            + projection.prompt_text_tokens * self.text_in;
        let output_usd = projection.output_audio_tokens * self.audio_out
            + projection.output_text_tokens * self.text_out;
        CurvePoint {
            minutes: projection.minutes,
            turns: projection.turns,
            prompt_tokens: projection.prompt_audio_tokens + projection.prompt_text_tokens,
            output_tokens: projection.output_audio_tokens + projection.output_text_tokens,
            input_usd,
            output_usd,
            total_usd: input_usd + output_usd,
        }
    }
}

/// The curve at 7, 14 and 28 minutes and at `extra` (with `turns` for it),
/// with a sliding window `(trigger, target)` or without.
pub(crate) fn curve(
    growth: &ContextGrowth,
    rates: &LiveRates,
    extra: Option<(f64, Option<u64>)>,
    compression: Option<(u64, u64)>,
) -> Vec<CurvePoint> {
    let mut points: Vec<CurvePoint> = CURVE_MINUTES
        .iter()
        .filter(|m| extra.is_none_or(|(minutes, _)| (*m - minutes).abs() > 1e-9))
        .map(|m| rates.point(&growth.project_with(*m, None, compression)))
        .collect();
    if let Some((minutes, turns)) = extra {
        points.push(rates.point(&growth.project_with(minutes, turns, compression)));
    }
    points.sort_by(|a, b| a.minutes.total_cmp(&b.minutes));
    points
}

fn grouped(value: f64) -> String {
    super::render::quantity(value.round())
}

/// Prices the Live model's part of one session at `normalised_seconds`.
/// When the run's sessions are not that long, the Live lines' per-session
/// quantities become the growth model's projection (on the components, so
/// the per-session and monthly tables carry them), and a note says so.
pub(crate) fn assess_live(
    live: &LiveTurnUsage,
    pricing: &PricingTable,
    mean_session_seconds: f64,
    normalised_seconds: f64,
    components: &mut [Component],
) -> LiveCost {
    let rates = LiveRates::of(pricing, &live.model);
    let minutes = normalised_seconds / 60.0;
    let same_length = mean_session_seconds > 0.0
        && ((normalised_seconds - mean_session_seconds) / mean_session_seconds).abs()
            <= SAME_LENGTH;
    let per_session_turns = live.turns as f64 / live.sessions.max(1) as f64;
    let growth = &live.growth;
    let (basis, turns, audio_in, text_in) = if same_length || normalised_seconds <= 0.0 {
        let share = 1.0 / live.sessions.max(1) as f64;
        let audio_in: f64 = live_quantity(components, &live.model, "audio input tokens") * share;
        let text_in: f64 = live_quantity(components, &live.model, "text input tokens") * share;
        (
            format!(
                "measured: the run's sessions last {:.1} minutes of scenario time, so one session's \
                 Live tokens are the run's per session, each turn billed for its whole context",
                mean_session_seconds / 60.0
            ),
            per_session_turns,
            audio_in,
            text_in,
        )
    } else {
        let projection = growth.project_with(minutes, None, live.compression);
        for (kind, quantity) in [
            ("audio input tokens", projection.prompt_audio_tokens),
            ("text input tokens", projection.prompt_text_tokens),
            ("audio output tokens", projection.output_audio_tokens),
            ("text output tokens", projection.output_text_tokens),
        ] {
            for component in components.iter_mut() {
                if is_live_line(component, &live.model, kind) {
                    component.per_session = Some(quantity);
                }
            }
        }
        (
            format!(
                "projected, not scaled linearly: the run's sessions last {:.1} minutes, so the \
                 context was fitted to {} of its turns ({} audio and {} text tokens at the start, \
                 +{:.1} audio and +{:.2} text tokens per second of session), and a {minutes:.1}-minute \
                 session has {} turns at the run's {:.2} turns per minute, each billed for the \
                 context at its time{}",
                mean_session_seconds / 60.0,
                live.fitted_turns,
                grouped(growth.audio_base),
                grouped(growth.text_base),
                growth.audio_per_second,
                growth.text_per_second,
                projection.turns,
                growth.turns_per_minute,
                match live.compression {
                    Some((trigger, target)) =>
                        format!(" with the run's sliding window ({trigger} -> {target} tokens)"),
                    None => String::new(),
                }
            ),
            projection.turns as f64,
            projection.prompt_audio_tokens,
            projection.prompt_text_tokens,
        )
    };
    let input_arithmetic = format!(
        "Vertex input of one session = the sum over its {turns:.0} turns of each prompt (the \
         whole context so far): {} audio tokens x ${}/M + {} text tokens x ${}/M = ${:.4}",
        grouped(audio_in),
        rates.audio_in * 1e6,
        grouped(text_in),
        rates.text_in * 1e6,
        audio_in * rates.audio_in + text_in * rates.text_in
    );
    let compression = live.compression.unwrap_or(DEFAULT_COMPRESSION);
    LiveCost {
        usage: live.clone(),
        basis,
        input_arithmetic,
        curve: curve(growth, &rates, Some((minutes, None)), None),
        compressed_curve: curve(growth, &rates, Some((minutes, None)), Some(compression)),
        compression,
    }
}

fn is_live_line(component: &Component, model: &str, kind: &str) -> bool {
    component.service == "Vertex AI" && component.what == format!("{kind} ({model})")
}

fn live_quantity(components: &[Component], model: &str, kind: &str) -> f64 {
    components
        .iter()
        .filter(|c| is_live_line(c, model, kind))
        .map(|c| c.quantity)
        .sum()
}

#[cfg(test)]
mod tests;
