//! The seeds' own cost tables, line by line, against the measured figures:
//! seed 000 prices one 14-minute assessment, seed 001 an hour of
//! conversation, seed 002 a month of its HTTP API. A line is measured when
//! the run exercised that seed's system; otherwise it is recomputed from the
//! seed's own quantities with the pricing table (the arithmetic says which).
//! Seed 002's lines are checked by their own arithmetic: its HTTP API is not
//! metered by this run.
//!
//! A claim is consistent when it is within [`RELATIVE_TOLERANCE`] of the
//! reference figure, or when both are below [`NEGLIGIBLE_SHARE`] of the
//! table's total (a line that small changes nothing whatever its error); a
//! range claim is consistent when the reference falls in the range.

use mocks::token_rules::Provider;

use crate::cost::pricing::{PriceKey, PricingTable};
use crate::cost::service_total;
use crate::report::model::{CostTable, SeedComparison, SeedLine};

/// A claim within 25% of the reference holds.
pub(crate) const RELATIVE_TOLERANCE: f64 = 0.25;

/// A line under 0.1% of the table's total is negligible.
pub(crate) const NEGLIGIBLE_SHARE: f64 = 0.001;

/// What the run exercised, for the comparisons.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Measured<'a> {
    /// One session, normalised to `session_seconds`.
    pub per_session: &'a CostTable,
    /// The normalised session length (scenario seconds).
    pub session_seconds: f64,
    /// The run exercised seed 000's speaking API.
    pub speaking: bool,
    /// The run exercised seed 001's Buddy API.
    pub buddy: bool,
    /// The figures are an estimate from observed traffic (no DynamoDB,
    /// Secrets Manager or model usage).
    pub estimate: bool,
    /// Gemini Live's turns and how one session's Live lines were obtained.
    pub live: Option<&'a crate::cost::live_cost::LiveCost>,
}

fn usd(value: f64) -> String {
    let digits = if value.abs() >= 1.0 {
        2
    } else if value.abs() >= 0.01 {
        4
    } else {
        6
    };
    format!("${value:.digits$}")
}

fn consistent(claimed: f64, reference: f64, table_total: f64) -> bool {
    let difference = (claimed - reference).abs();
    difference <= RELATIVE_TOLERANCE * reference.abs()
        || claimed.abs().max(reference.abs()) < NEGLIGIBLE_SHARE * table_total.abs()
}

fn verdict(claimed: f64, reference: f64) -> String {
    if reference == 0.0 {
        return String::new();
    }
    let ratio = claimed / reference;
    if (ratio - 1.0).abs() < 0.005 {
        String::new()
    } else if ratio >= 1.0 {
        format!(" (the claim is {ratio:.1}x the reference)")
    } else {
        format!(" (the claim is {:.1}x too low)", 1.0 / ratio)
    }
}

fn seed_line(item: &str, claimed: f64, reference: f64, total: f64, arithmetic: String) -> SeedLine {
    SeedLine {
        item: item.to_owned(),
        claimed_usd: claimed,
        measured_usd: reference,
        consistent: consistent(claimed, reference, total),
        arithmetic: format!("{arithmetic}{}", verdict(claimed, reference)),
    }
}

/// Seed 000: one 14-minute assessment.
fn seed_000(measured: &Measured<'_>, pricing: &PricingTable) -> SeedComparison {
    let x86 = pricing.price(PriceKey::LambdaGbSecondX86).unit_price();
    let own_lambda = 2.0 * 840.0 * x86;
    let own = format!(
        "the seed's own configuration: 2 GB x 840 s x ${x86}/GB-s (x86_64) = {}",
        usd(own_lambda)
    );
    let table = measured.per_session;
    let total = table.total_usd;
    let minutes = measured.session_seconds / 60.0;
    let mut lines = Vec::new();
    if !measured.speaking {
        lines.push(seed_line(
            "Lambda (2GB, 14min): $0.0050",
            0.0050,
            own_lambda,
            own_lambda,
            format!("recomputed (this run did not exercise the speaking API): {own}"),
        ));
        return SeedComparison {
            seed: "seed 000".to_owned(),
            basis: "one 14-minute assessment".to_owned(),
            lines,
        };
    }
    let kind = if measured.estimate {
        "estimated"
    } else {
        "measured"
    };
    let measured_line = |item: &str, claimed: f64, service: &str| {
        let figure = service_total(table, service);
        let detail: Vec<String> = table
            .lines
            .iter()
            .filter(|l| l.service == service)
            .map(|l| {
                format!(
                    "{:.4} {} x ${:.10} = {}",
                    l.quantity,
                    l.unit,
                    l.unit_price_usd,
                    usd(l.cost_usd)
                )
            })
            .collect();
        seed_line(
            item,
            claimed,
            figure,
            total,
            format!(
                "{kind} over {minutes:.1} minutes: {} = {}",
                if detail.is_empty() {
                    "nothing".to_owned()
                } else {
                    detail.join(" + ")
                },
                usd(figure)
            ),
        )
    };
    let mut lambda = measured_line("Lambda (2GB, 14min): $0.0050", 0.0050, "Lambda");
    lambda.arithmetic = format!("{}; {own}", lambda.arithmetic);
    lines.push(lambda);
    lines.push(measured_line(
        "API Gateway WebSocket: $0.0003",
        0.0003,
        "API Gateway",
    ));
    if measured.estimate {
        // An estimate sees neither DynamoDB, Secrets Manager nor the model:
        // nothing to compare those lines or the totals with.
        return SeedComparison {
            seed: "seed 000".to_owned(),
            basis: "one 14-minute assessment (estimate: the lines it can observe)".to_owned(),
            lines,
        };
    }
    lines.push(measured_line(
        "Secrets Manager: $0.00001",
        0.00001,
        "Secrets Manager",
    ));
    lines.push(measured_line("DynamoDB: $0.00001", 0.00001, "DynamoDB"));
    let mut gemini = measured_line("Gemini Flash (Vertex AI): $0.025", 0.025, "Vertex AI");
    if let Some(live) = measured.live {
        let usage = &live.usage;
        let compression = match usage.compression {
            Some((trigger, target)) => format!(
                "with context compression (a sliding window from {trigger} down to {target} \
                 tokens; {} trim(s) in the run)",
                usage.context_trims
            ),
            None => "without context compression".to_owned(),
        };
        gemini.arithmetic = format!(
            "{}; of which Gemini Live: {:.0} turn(s) a session, prompts of {:.0} tokens on \
             average (max {}), each turn billed for the whole context so far, {compression}; {}",
            gemini.arithmetic,
            usage.turns as f64 / usage.sessions.max(1) as f64,
            usage.prompt_audio.mean + usage.prompt_text.mean,
            usage.prompt_audio.max + usage.prompt_text.max,
            live.basis
        );
    }
    lines.push(gemini);
    let transfer = service_total(table, "Data transfer");
    lines.push(seed_line(
        "Total: ~$0.030",
        0.030,
        total,
        total,
        format!(
            "measured: the sum of every line = {} (the seed's table has no data-transfer line: {})",
            usd(total),
            usd(transfer)
        ),
    ));
    lines.push(seed_line(
        "For 1,000 assessments/month: ~$30",
        30.0,
        total * 1000.0,
        total * 1000.0,
        format!(
            "measured: 1,000 x {} = {} (no free tiers)",
            usd(total),
            usd(total * 1000.0)
        ),
    ));
    SeedComparison {
        seed: "seed 000".to_owned(),
        basis: "one 14-minute assessment".to_owned(),
        lines,
    }
}

/// Seed 001: an hour of conversation with Buddy on Nova Sonic.
fn seed_001(measured: &Measured<'_>, pricing: &PricingTable) -> SeedComparison {
    let table = measured.per_session;
    let hour = 3600.0 / measured.session_seconds.max(1.0);
    let x86 = pricing.price(PriceKey::LambdaGbSecondX86).unit_price();
    let own_lambda = 0.5 * 3600.0 * x86;
    let message_price = pricing.price(PriceKey::WebSocketMessages).unit_price() * 1e6;
    let minute_price = pricing
        .price(PriceKey::WebSocketConnectionMinutes)
        .unit_price()
        * 1e6;
    let mut lines = vec![SeedLine {
        item: "API Gateway WebSocket: $1.00/million messages + connection time".to_owned(),
        claimed_usd: 1.00,
        measured_usd: message_price,
        consistent: (message_price - 1.00).abs() < 1e-9,
        arithmetic: format!(
            "the pricing table: ${message_price:.2} per million messages (32 KB units); the seed \
             leaves connection time unpriced: ${minute_price:.2} per million connection-minutes"
        ),
    }];
    let own = format!(
        "the seed's own configuration: 0.5 GB x 3,600 s x ${x86}/GB-s (x86_64) = {}; Lambda \
         bills GB-seconds, not the timeout",
        usd(own_lambda)
    );
    // The model the template deploys (Nova Sonic v1 reached its end of life on 2026-09-14).
    let sonic = pricing.model("amazon.nova-2-sonic-v1:0");
    let speech_in = sonic
        .and_then(|m| m.audio_in_usd.map(|p| p / m.per))
        .unwrap_or(0.0);
    let speech_out = sonic
        .and_then(|m| m.audio_out_usd.map(|p| p / m.per))
        .unwrap_or(0.0);
    // Audio tokens a second as the table's token rules count them (and the
    // Bedrock mock with them).
    let rules = pricing.token_rules(Provider::Bedrock);
    let minute_in = rules.audio_in_per_second * 60.0 * speech_in;
    let minute_out = rules.audio_out_per_second * 60.0 * speech_out;
    let rate_basis = format!(
        "a minute of speech is {:.0} tokens heard and {:.0} spoken (the table's token rules: {}): \
         {} heard, {} spoken by Nova 2 Sonic",
        rules.audio_in_per_second * 60.0,
        rules.audio_out_per_second * 60.0,
        rules
            .unconfirmed
            .as_deref()
            .map_or("sourced", |_| "unconfirmed"),
        usd(minute_in),
        usd(minute_out)
    );
    let lambda = service_total(table, "Lambda") * hour;
    let lambda_line = |value: f64, note: String| {
        seed_line(
            "Lambda: ~$0.20/hour (512MB, 15 min timeout)",
            0.20,
            value,
            value,
            note,
        )
    };
    if measured.buddy && measured.estimate {
        lines.push(lambda_line(
            lambda,
            format!("estimated: {} an hour; {own}", usd(lambda)),
        ));
    } else if measured.buddy {
        lines.push(lambda_line(
            lambda,
            format!(
                "measured: {} per session x {hour:.2} sessions an hour = {}; {own}",
                usd(service_total(table, "Lambda")),
                usd(lambda)
            ),
        ));
        let per_minute = service_total(table, "Bedrock") / (measured.session_seconds / 60.0);
        lines.push(seed_line(
            "Nova Sonic: ~$0.003/minute of audio",
            0.003,
            per_minute,
            per_minute,
            format!(
                "measured: {} of Bedrock tokens per {:.1}-minute session = {} a minute; {rate_basis}",
                usd(service_total(table, "Bedrock")),
                measured.session_seconds / 60.0,
                usd(per_minute)
            ),
        ));
        let total = table.total_usd * hour;
        lines.push(SeedLine {
            item: "Example: 1-hour conversation ≈ $0.20-0.30".to_owned(),
            claimed_usd: 0.25,
            measured_usd: total,
            consistent: (0.20..=0.30).contains(&total),
            arithmetic: format!(
                "measured: {} per session x {hour:.2} = {} an hour (consistent only inside the range)",
                usd(table.total_usd),
                usd(total)
            ),
        });
    } else {
        lines.push(lambda_line(
            own_lambda,
            format!("recomputed (this run did not exercise the Buddy API): {own}"),
        ));
        lines.push(seed_line(
            "Nova Sonic: ~$0.003/minute of audio",
            0.003,
            minute_in,
            minute_in,
            format!(
                "recomputed (this run did not exercise the Buddy API) for the cheapest reading, a \
                 minute of audio heard: {:.0} tokens x ${speech_in:.7} = {}; {rate_basis}",
                rules.audio_in_per_second * 60.0,
                usd(minute_in)
            ),
        ));
    }
    SeedComparison {
        seed: "seed 001".to_owned(),
        basis: "an hour of conversation".to_owned(),
        lines,
    }
}

/// Seed 002: a month of its HTTP API, by its own arithmetic.
fn seed_002(pricing: &PricingTable) -> SeedComparison {
    let unit = |key: PriceKey| pricing.price(key).unit_price();
    let requests = 5_000_000.0 * unit(PriceKey::LambdaRequests);
    let duration = 5_000_000.0 * 1.0 * 0.5 * unit(PriceKey::LambdaGbSecondX86);
    let reads = 1_000_000.0 * unit(PriceKey::DynamoReadUnits);
    let writes = 100_000.0 * unit(PriceKey::DynamoWriteUnits);
    let rest = 5_000_000.0 * unit(PriceKey::RestApiRequests);
    let http = 5_000_000.0 * unit(PriceKey::HttpApiRequests);
    let cloudfront = 10.0 * 0.085;
    let total = requests + duration + reads + writes + rest + cloudfront;
    let lines =
        vec![
        seed_line(
            "Lambda: 5M requests/month x $0.20 per 1M = $1.00",
            1.00,
            requests,
            total,
            format!("5,000,000 x ${:.7} = {}", unit(PriceKey::LambdaRequests), usd(requests)),
        ),
        seed_line(
            "Lambda: 5M x 1s x 512MB x $0.0000000083 = $24.00",
            24.00,
            duration,
            total,
            format!(
                "the seed's factors multiply to 5,000,000 x 1 x 512 x 0.0000000083 = $21.25, not \
                 $24.00; $0.0000000083 is the price of 1 ms at 512 MB, so 5,000,000 x 1,000 ms x \
                 $0.0000000083 = $41.50; with the pricing table: 5,000,000 s x 0.5 GB x ${} = {} \
                 (x86_64, the seed's Python 3.11 function)",
                unit(PriceKey::LambdaGbSecondX86),
                usd(duration)
            ),
        ),
        seed_line(
            "Lambda subtotal: $25/month",
            25.0,
            requests + duration,
            total,
            format!("{} + {} = {}", usd(requests), usd(duration), usd(requests + duration)),
        ),
        seed_line(
            "DynamoDB: on-demand reads (1M/month) = $12.50",
            12.50,
            reads,
            total,
            format!(
                "1,000,000 RRU x ${:.9} = {} (a read of an item up to 4 KB is one unit; $12.50 \
                 would be 100 million units)",
                unit(PriceKey::DynamoReadUnits),
                usd(reads)
            ),
        ),
        seed_line(
            "DynamoDB: on-demand writes (100K/month) = $2.50",
            2.50,
            writes,
            total,
            format!(
                "100,000 WRU x ${:.9} = {} (a write of an item up to 1 KB is one unit)",
                unit(PriceKey::DynamoWriteUnits),
                usd(writes)
            ),
        ),
        seed_line(
            "DynamoDB subtotal: $15/month",
            15.0,
            reads + writes,
            total,
            format!("{} + {} = {}", usd(reads), usd(writes), usd(reads + writes)),
        ),
        seed_line(
            "API Gateway: 5M requests x $3.50 per 1M = $17.50",
            17.50,
            rest,
            total,
            format!(
                "5,000,000 x ${:.7} = {} at the REST API price the seed uses; the same requests \
                 on an HTTP API (as seed 003 deploys) cost {}",
                unit(PriceKey::RestApiRequests),
                usd(rest),
                usd(http)
            ),
        ),
        seed_line(
            "CloudFront: 10GB transfer x $0.085 = $0.85",
            0.85,
            cloudfront,
            total,
            "10 x $0.085 = $0.85 (the seed's own price: CloudFront is not in the pricing table)"
                .to_owned(),
        ),
        seed_line(
            "Total Infrastructure: ~$60/month",
            60.0,
            total,
            total,
            format!(
                "{} + {} + {} + {} + {} + {} = {}: the total holds only because the Lambda \
                 duration line is {} too low and the DynamoDB lines {} too high",
                usd(requests),
                usd(duration),
                usd(reads),
                usd(writes),
                usd(rest),
                usd(cloudfront),
                usd(total),
                usd(duration - 24.0),
                usd(15.0 - reads - writes)
            ),
        ),
    ];
    SeedComparison {
        seed: "seed 002".to_owned(),
        basis: "a month".to_owned(),
        lines,
    }
}

/// Every seed's table against this run.
pub(crate) fn compare(measured: &Measured<'_>, pricing: &PricingTable) -> Vec<SeedComparison> {
    vec![
        seed_000(measured, pricing),
        seed_001(measured, pricing),
        seed_002(pricing),
    ]
}

#[cfg(test)]
mod tests;
