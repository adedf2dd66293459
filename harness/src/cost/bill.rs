//! Usage priced line by line: what a run used becomes components (service,
//! what, quantity, unit, unit price), one session's share of them is scaled
//! to the reference session length, and a month is N such sessions with the
//! free tiers taken off on lines of their own (so every line's quantity times
//! its unit price is its cost, and the lines add up to the total).

use std::collections::BTreeMap;

use super::pricing::{PriceKey, PricingTable};
use super::rules::{Allowance, gb_seconds};
use super::usage::Usage;
use crate::report::model::{CostLine, CostTable, MonthlyCost};

/// Bytes in a GB as AWS bills data transfer.
const BYTES_PER_GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// One priced component of a run's usage.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Component {
    /// Group (`Lambda`, `API Gateway`, ...).
    pub service: String,
    /// What is counted.
    pub what: String,
    /// How much the whole run used.
    pub quantity: f64,
    pub unit: String,
    /// USD per unit.
    pub unit_price: f64,
    /// The free-tier pool and its monthly allowance.
    pub free_tier: Option<(String, f64)>,
    /// One session's quantity at the reference length, when it does not
    /// scale linearly with the session (Gemini Live's tokens: see
    /// [`super::live_cost`]); `None`: the run's share, scaled linearly.
    pub per_session: Option<f64>,
}

fn priced(pricing: &PricingTable, key: PriceKey, what: String, quantity: f64) -> Component {
    let price = pricing.price(key);
    Component {
        service: price.service.clone(),
        what,
        quantity,
        unit: price.unit.clone(),
        unit_price: price.unit_price(),
        free_tier: price
            .free_tier
            .as_ref()
            .map(|tier| (tier.pool.clone(), tier.quantity)),
        per_session: None,
    }
}

fn lambda_components(usage: &Usage, pricing: &PricingTable, out: &mut Vec<Component>) {
    let requests: u64 = usage.lambda.iter().map(|f| f.invocations).sum();
    if requests > 0 {
        out.push(priced(
            pricing,
            PriceKey::LambdaRequests,
            "requests".to_owned(),
            requests as f64,
        ));
    }
    for function in &usage.lambda {
        let key = if function.architecture == "x86_64" {
            PriceKey::LambdaGbSecondX86
        } else {
            PriceKey::LambdaGbSecondArm
        };
        let label = format!(
            "{}, {} MB {}",
            function.function, function.memory_mb, function.architecture
        );
        out.push(priced(
            pricing,
            key,
            format!("duration ({label})"),
            gb_seconds(function.billed_duration_ms, function.memory_mb),
        ));
        if pricing.billing.lambda_init_billed && function.billed_init_ms > 0 {
            out.push(priced(
                pricing,
                key,
                format!("INIT, {} cold start(s) ({label})", function.cold_starts),
                gb_seconds(function.billed_init_ms, function.memory_mb),
            ));
        }
    }
}

fn gateway_components(usage: &Usage, pricing: &PricingTable, out: &mut Vec<Component>) {
    for api in &usage.websocket {
        let name = &api.api;
        out.push(priced(
            pricing,
            PriceKey::WebSocketMessages,
            format!("WebSocket messages in, 32 KB units ({name})"),
            api.units_in as f64,
        ));
        out.push(priced(
            pricing,
            PriceKey::WebSocketMessages,
            format!("WebSocket messages out, 32 KB units ({name})"),
            api.units_out as f64,
        ));
        out.push(priced(
            pricing,
            PriceKey::WebSocketConnectionMinutes,
            format!("WebSocket connection-minutes ({name})"),
            api.connection_minutes,
        ));
    }
    for api in &usage.http_apis {
        let (key, what) = if api.kind == "rest" {
            (
                PriceKey::RestApiRequests,
                format!("REST API requests ({})", api.api),
            )
        } else {
            (
                PriceKey::HttpApiRequests,
                format!("HTTP API requests, 512 KB units ({})", api.api),
            )
        };
        out.push(priced(pricing, key, what, api.units as f64));
    }
    let bytes_out: u64 = usage.websocket.iter().map(|a| a.bytes_out).sum::<u64>()
        + usage.http_apis.iter().map(|a| a.bytes_out).sum::<u64>();
    if bytes_out > 0 {
        out.push(priced(
            pricing,
            PriceKey::DataTransferOut,
            "API Gateway to clients".to_owned(),
            bytes_out as f64 / BYTES_PER_GB,
        ));
    }
}

fn dynamo_components(usage: &Usage, pricing: &PricingTable, out: &mut Vec<Component>) {
    #[derive(Default)]
    struct Sums {
        read: f64,
        write: f64,
        empty_strong: u64,
        empty_eventual: u64,
        refused: u64,
    }
    let mut by_table: BTreeMap<&str, Sums> = BTreeMap::new();
    for entry in &usage.dynamodb.tables {
        let sums = by_table.entry(entry.table.as_str()).or_default();
        sums.read += entry.read_units;
        sums.write += entry.write_units;
        sums.empty_strong += entry.empty_reads_strong;
        sums.empty_eventual += entry.empty_reads_eventual;
        sums.refused += entry.conditional_check_failures;
    }
    for (table, sums) in by_table {
        if sums.read > 0.0 {
            out.push(priced(
                pricing,
                PriceKey::DynamoReadUnits,
                format!("read request units ({table})"),
                sums.read,
            ));
        }
        if sums.write > 0.0 {
            out.push(priced(
                pricing,
                PriceKey::DynamoWriteUnits,
                format!("write request units ({table})"),
                sums.write,
            ));
        }
        if sums.empty_strong + sums.empty_eventual > 0 {
            out.push(priced(
                pricing,
                PriceKey::DynamoReadUnits,
                format!(
                    "minimum reads of {} Query/Scan calls that found nothing, reported as 0 by \
                     DynamoDB Local ({table})",
                    sums.empty_strong + sums.empty_eventual
                ),
                sums.empty_strong as f64 + 0.5 * sums.empty_eventual as f64,
            ));
        }
        if sums.refused > 0 {
            out.push(priced(
                pricing,
                PriceKey::DynamoWriteUnits,
                format!(
                    "writes refused by their condition, at least 1 WRU each, unreported ({table})"
                ),
                sums.refused as f64,
            ));
        }
    }
}

fn model_components(
    usage: &Usage,
    pricing: &PricingTable,
    out: &mut Vec<Component>,
    notes: &mut Vec<String>,
) {
    for model in &usage.models {
        let price = pricing.model(&model.model);
        let kinds = [
            (
                "audio input tokens",
                model.audio_in_tokens,
                price.and_then(|p| p.audio_in_usd),
            ),
            (
                "audio output tokens",
                model.audio_out_tokens,
                price.and_then(|p| p.audio_out_usd),
            ),
            (
                "text input tokens",
                model.text_in_tokens,
                price.and_then(|p| p.text_in_usd),
            ),
            (
                "text output tokens",
                model.text_out_tokens,
                price.and_then(|p| p.text_out_usd),
            ),
            (
                "thinking tokens",
                model.thinking_tokens,
                price.and_then(|p| p.thinking_usd()),
            ),
        ];
        for (kind, tokens, usd) in kinds {
            if tokens == 0 {
                continue;
            }
            let unit_price = match (usd, price) {
                (Some(usd), Some(price)) => usd / price.per,
                _ => {
                    notes.push(format!(
                        "{} {} of {} have no price in the pricing table: priced at 0.",
                        tokens, kind, model.model
                    ));
                    0.0
                }
            };
            out.push(Component {
                service: model.provider.clone(),
                what: format!("{kind} ({})", model.model),
                quantity: tokens as f64,
                unit: "token".to_owned(),
                unit_price,
                free_tier: None,
                per_session: None,
            });
        }
    }
}

/// Every priced component of a run's usage, and notes on what could not be priced.
pub(crate) fn components(usage: &Usage, pricing: &PricingTable) -> (Vec<Component>, Vec<String>) {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    lambda_components(usage, pricing, &mut out);
    gateway_components(usage, pricing, &mut out);
    dynamo_components(usage, pricing, &mut out);
    if usage.secrets_manager.calls > 0 {
        out.push(priced(
            pricing,
            PriceKey::SecretsCalls,
            "API calls".to_owned(),
            usage.secrets_manager.calls as f64,
        ));
    }
    model_components(usage, pricing, &mut out, &mut notes);
    (out, notes)
}

fn line(component: &Component, quantity: f64) -> CostLine {
    CostLine {
        service: component.service.clone(),
        what: component.what.clone(),
        quantity,
        unit: component.unit.clone(),
        unit_price_usd: component.unit_price,
        cost_usd: quantity * component.unit_price,
    }
}

fn table(lines: Vec<CostLine>) -> CostTable {
    let total_usd = lines.iter().map(|l| l.cost_usd).sum();
    CostTable { lines, total_usd }
}

/// What one session used, as a share of the run scaled by `factor` (the
/// reference length over the mean session length).
pub(crate) fn per_session(components: &[Component], sessions: u64, factor: f64) -> CostTable {
    let share = factor / sessions.max(1) as f64;
    table(
        components
            .iter()
            .map(|component| {
                let quantity = component.per_session.unwrap_or(component.quantity * share);
                line(component, quantity)
            })
            .collect(),
    )
}

/// A month of `sessions` sessions like the per-session table's, plus the
/// month's fixed items (the secrets stored), with free tiers when asked.
pub(crate) fn per_month(
    per_session: &[Component],
    sessions: u64,
    secrets: usize,
    pricing: &PricingTable,
    free_tiers: bool,
) -> MonthlyCost {
    let mut components: Vec<Component> = per_session
        .iter()
        .map(|c| Component {
            quantity: c.quantity * sessions as f64,
            ..c.clone()
        })
        .collect();
    if secrets > 0 {
        components.push(priced(
            pricing,
            PriceKey::SecretMonths,
            "secrets read by the functions".to_owned(),
            secrets as f64,
        ));
    }
    let mut pools: BTreeMap<String, Allowance> = BTreeMap::new();
    let mut lines = Vec::new();
    for component in &components {
        lines.push(line(component, component.quantity));
        let Some((pool, allowance)) = component.free_tier.as_ref().filter(|_| free_tiers) else {
            continue;
        };
        let tier = pools
            .entry(pool.clone())
            .or_insert_with(|| Allowance::new(*allowance));
        let free = component.quantity - tier.apply(component.quantity);
        if free > 0.0 {
            let mut credit = line(component, -free);
            credit.what = format!("free tier: {}", component.what);
            lines.push(credit);
        }
    }
    MonthlyCost {
        sessions,
        free_tiers,
        table: table(lines),
    }
}

/// Components scaled to one session (for [`per_month`] and the seeds).
pub(crate) fn scaled(components: &[Component], sessions: u64, factor: f64) -> Vec<Component> {
    let share = factor / sessions.max(1) as f64;
    components
        .iter()
        .map(|c| Component {
            quantity: c.per_session.unwrap_or(c.quantity * share),
            per_session: None,
            ..c.clone()
        })
        .collect()
}
