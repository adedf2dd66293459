//! Cost per session, from what a run used and a dated pricing table.
//!
//! - [`usage`]: report.json's `usage` section (what a run used, in billed units);
//! - [`collect`]: usage from the local stack's meters;
//! - [`estimate`]: usage estimated from what the harness observed of a
//!   deployed target and the template's function settings;
//! - [`live`]: Gemini Live's turns, the context's growth, projections;
//! - [`live_cost`]: the Live lines of one session, measured or projected,
//!   and the curve at 7, 14 and 28 minutes;
//! - [`rules`]: metering units, Lambda rounding, GB-seconds, free tiers;
//! - [`pricing`]: the pricing table (pricing/pricing.toml or `--pricing FILE`);
//! - [`bill`]: usage priced line by line, per session and per month;
//! - [`render`]: the cost section on the terminal and in report.md.
//!
//! The seeds' own cost tables, compared with the measured figures, are the
//! product suite [`crate::suites::seed_costs`].
//!
//! [`assess`] puts them together into the report's [`CostReport`].

pub(crate) mod bill;
pub(crate) mod collect;
pub mod estimate;
pub(crate) mod live;
pub(crate) mod live_cost;
pub mod pricing;
pub(crate) mod render;
pub(crate) mod rules;
pub mod usage;

use mocks::token_rules::Provider;

use crate::suites::seed_costs;

use crate::report::model::{CostReport, CostTable};
use pricing::PricingTable;
use rules::gb_seconds;
use usage::{Usage, UsageSource};

/// The length costs are normalised to by default: a 14-minute assessment.
pub const ASSESSMENT_SECONDS: f64 = 14.0 * 60.0;

/// How to price a run.
#[derive(Debug, Clone, PartialEq)]
pub struct CostOptions {
    /// Sessions a month for the monthly table (none: no monthly table).
    pub per_month: Option<u64>,
    /// Take the free tiers off the monthly table.
    pub free_tiers: bool,
    /// The session length one session is normalised to (scenario seconds; 0:
    /// the run's own mean length).
    pub session_seconds: f64,
}

impl Default for CostOptions {
    fn default() -> Self {
        Self {
            per_month: Some(1000),
            free_tiers: false,
            session_seconds: ASSESSMENT_SECONDS,
        }
    }
}

fn minutes_and_seconds(seconds: f64) -> String {
    let whole = seconds.round() as u64;
    format!("{}:{:02}", whole / 60, whole % 60)
}

/// Where the token prices and the token rules behind the run's model lines
/// come from, with what could not be confirmed.
fn model_provenance(usage: &Usage, pricing: &PricingTable) -> Vec<String> {
    let mut notes = Vec::new();
    let mut providers = std::collections::BTreeSet::new();
    for model in &usage.models {
        providers.insert(model.provider.as_str());
        if let Some(price) = pricing.model(&model.model) {
            notes.push(format!("{} prices: {}.", model.model, price.provenance()));
        }
    }
    for provider in [Provider::Vertex, Provider::Bedrock] {
        if !providers.contains(provider.name()) {
            continue;
        }
        let rules = pricing.token_rules(provider);
        notes.push(format!(
            "{} audio tokens (as the mocks count them): {} a second heard, {} spoken; {}.",
            provider.name(),
            rules.audio_in_per_second,
            rules.audio_out_per_second,
            pricing::provenance(
                &rules.source,
                Some(&rules.checked),
                rules.unconfirmed.as_deref()
            )
        ));
    }
    notes
}

/// Prices a run's usage: one session normalised to the reference length, a
/// month of them, the seeds' tables side by side, and notes on every
/// assumption.
pub fn assess(usage: &Usage, pricing: &PricingTable, options: &CostOptions) -> CostReport {
    let (mut components, mut notes) = bill::components(usage, pricing);
    let mean = usage.mean_session_seconds();
    let (factor, normalised_seconds) = match mean {
        Some(mean) if options.session_seconds > 0.0 => {
            (options.session_seconds / mean, options.session_seconds)
        }
        Some(mean) => (1.0, mean),
        None => (1.0, 0.0),
    };
    match mean {
        Some(mean) => notes.insert(
            0,
            format!(
                "One session: the run's usage divided by its {} session(s) (mean {} of scenario \
                 time) and scaled x{factor:.3} to {} (linear: per-session fixed costs such as the \
                 cold start scale too; Gemini Live's tokens excepted, see below).",
                usage.sessions,
                minutes_and_seconds(mean),
                minutes_and_seconds(normalised_seconds)
            ),
        ),
        None => notes.insert(
            0,
            "The run played no session: the figures are the whole run's.".to_owned(),
        ),
    }
    let share = factor / usage.sessions.max(1) as f64;
    if usage.time_scale > 1.0 {
        for function in usage
            .lambda
            .iter()
            .filter(|f| f.real_duration_ms < f.billed_duration_ms)
        {
            notes.push(format!(
                "{}: {:.1} GB-s of duration per session in scenario time; {:.1} GB-s if it all \
                 were compute that the time scale does not stretch (the lower bound).",
                function.function,
                gb_seconds(function.billed_duration_ms, function.memory_mb) * share,
                gb_seconds(function.real_duration_ms, function.memory_mb) * share
            ));
        }
    }
    let live = usage.live_turns.as_ref().map(|live| {
        live_cost::assess_live(
            live,
            pricing,
            mean.unwrap_or(0.0),
            normalised_seconds,
            &mut components,
        )
    });
    if let Some(live) = &live {
        notes.push(format!(
            "Gemini Live ({}): {}.",
            live.usage.model, live.basis
        ));
        notes.push(format!("{}.", live.input_arithmetic));
    }
    notes.extend(usage.assumptions.iter().cloned());
    notes.extend(model_provenance(usage, pricing));
    let session_components = bill::scaled(&components, usage.sessions, factor);
    let per_session = bill::per_session(&components, usage.sessions, factor);
    let per_month = options.per_month.map(|sessions| {
        bill::per_month(
            &session_components,
            sessions,
            usage.secrets_manager.secrets.len(),
            pricing,
            options.free_tiers,
        )
    });
    let exercised = |api: &str, function: &str| {
        usage.websocket.iter().any(|w| w.api == api)
            || usage.lambda.iter().any(|f| f.function == function)
    };
    let measured = seed_costs::Measured {
        per_session: &per_session,
        session_seconds: if normalised_seconds > 0.0 {
            normalised_seconds
        } else {
            ASSESSMENT_SECONDS
        },
        speaking: exercised("SpeakingWebSocketApi", "SpeakingFunction"),
        buddy: exercised("BuddyWebSocketApi", "BuddyFunction"),
        estimate: usage.source == UsageSource::Observed,
        live: live.as_ref(),
    };
    let seed_comparisons = seed_costs::compare(&measured, pricing);
    CostReport {
        pricing_date: pricing.table.date.clone(),
        pricing_source: pricing.origin.clone(),
        estimate: usage.source == UsageSource::Observed,
        normalised_seconds,
        per_session,
        per_month,
        seed_comparisons,
        live,
        notes,
    }
}

/// The total of a table's lines of one service.
pub fn service_total(table: &CostTable, service: &str) -> f64 {
    table
        .lines
        .iter()
        .filter(|l| l.service == service)
        .map(|l| l.cost_usd)
        .sum()
}

#[cfg(test)]
mod tests;
