//! The cost section for people: a terminal table (`harness cost`) and the
//! Markdown section of report.md, with a chart of the cost by service (a
//! Mermaid pie, which GitHub renders, and bars that read as plain text).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::live::TokenStats;
use super::live_cost::LiveCost;
use crate::report::model::{CostReport, CostTable, SeedComparison};

/// Width of a full bar.
const BAR_WIDTH: usize = 24;

/// `1,234,567` style grouping.
fn grouped(whole: u64) -> String {
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A quantity: whole numbers grouped, fractions with sensible precision.
pub(crate) fn quantity(value: f64) -> String {
    let sign = if value < 0.0 { "-" } else { "" };
    let value = value.abs();
    if value.fract() == 0.0 && value < 1e15 {
        return format!("{sign}{}", grouped(value as u64));
    }
    if value >= 100.0 {
        let whole = value.trunc();
        let tenth = ((value - whole) * 10.0).round() as u64;
        let (whole, tenth) = if tenth == 10 {
            (whole + 1.0, 0)
        } else {
            (whole, tenth)
        };
        return format!("{sign}{}.{tenth}", grouped(whole as u64));
    }
    if value >= 1.0 {
        return format!("{sign}{value:.3}");
    }
    format!("{sign}{value:.6}")
}

/// A price with two to four decimals (`0.20`, `13.3334`).
fn price_digits(value: f64) -> String {
    let text = format!("{value:.4}");
    let trimmed = text.trim_end_matches('0');
    match trimmed.split_once('.') {
        Some((_, decimals)) if decimals.len() >= 2 => trimmed.to_owned(),
        _ => format!("{value:.2}"),
    }
}

/// A unit price: small prices per million units, as rate cards print them.
pub(crate) fn unit_price(value: f64) -> String {
    if value != 0.0 && value.abs() < 0.001 {
        format!("${} / 1M", price_digits(value * 1e6))
    } else {
        format!("${}", price_digits(value))
    }
}

/// A cost in dollars.
pub(crate) fn dollars(value: f64) -> String {
    if value.abs() >= 10.0 {
        format!("${value:.2}")
    } else {
        format!("${value:.6}")
    }
}

fn by_service(table: &CostTable) -> Vec<(String, f64)> {
    let mut sums: BTreeMap<&str, f64> = BTreeMap::new();
    for line in &table.lines {
        *sums.entry(line.service.as_str()).or_default() += line.cost_usd;
    }
    let mut sums: Vec<(String, f64)> = sums.into_iter().map(|(s, c)| (s.to_owned(), c)).collect();
    sums.sort_by(|a, b| b.1.total_cmp(&a.1));
    sums
}

fn bar(share: f64) -> String {
    let filled = ((share * BAR_WIDTH as f64).round() as usize).min(BAR_WIDTH);
    format!("{}{}", "█".repeat(filled), "░".repeat(BAR_WIDTH - filled))
}

fn heading(cost: &CostReport) -> String {
    let length = cost.normalised_seconds.round() as u64;
    let kind = if cost.estimate {
        "ESTIMATE from what the harness observed (no local meters)"
    } else {
        "metered by the local stack"
    };
    format!(
        "One session normalised to {}:{:02} of session (scenario time), {kind}; pricing table of \
         {} ({}).",
        length / 60,
        length % 60,
        cost.pricing_date,
        cost.pricing_source
    )
}

fn text_table(out: &mut String, table: &CostTable) {
    let _ = writeln!(
        out,
        "{:<16} {:<72} {:>16} {:<18} {:>16} {:>12}",
        "service", "what", "quantity", "unit", "unit price", "cost"
    );
    for line in &table.lines {
        let _ = writeln!(
            out,
            "{:<16} {:<72} {:>16} {:<18} {:>16} {:>12}",
            line.service,
            line.what,
            quantity(line.quantity),
            line.unit,
            unit_price(line.unit_price_usd),
            dollars(line.cost_usd)
        );
    }
    let _ = writeln!(
        out,
        "{:<16} {:<72} {:>66}",
        "total",
        "",
        dollars(table.total_usd)
    );
}

fn text_seeds(out: &mut String, seeds: &[SeedComparison]) {
    for seed in seeds {
        let _ = writeln!(out, "\n{} — {}:", seed.seed, seed.basis);
        for line in &seed.lines {
            let verdict = if line.consistent {
                "consistent"
            } else {
                "NOT consistent"
            };
            let _ = writeln!(
                out,
                "  {:<62} claimed {:>10}  reference {:>10}  {verdict}\n      {}",
                line.item,
                dollars(line.claimed_usd),
                dollars(line.measured_usd),
                line.arithmetic
            );
        }
    }
}

fn stats(stats: &TokenStats) -> String {
    format!(
        "mean {}, max {}, last {}",
        quantity(stats.mean.round()),
        quantity(stats.max as f64),
        quantity(stats.last.round())
    )
}

/// Gemini Live's turns and curve, as text.
pub(crate) fn live_text(live: &LiveCost) -> String {
    let usage = &live.usage;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Gemini Live ({}): {} turn(s) in {} session(s); per turn:",
        usage.model, usage.turns, usage.sessions
    );
    for (what, value) in [
        ("prompt audio tokens", &usage.prompt_audio),
        ("prompt text tokens", &usage.prompt_text),
        ("output audio tokens", &usage.output_audio),
        ("output text tokens", &usage.output_text),
    ] {
        let _ = writeln!(out, "  {what:<20} {}", stats(value));
    }
    let _ = writeln!(
        out,
        "  billed in all: {} prompt tokens, {} output tokens",
        quantity(usage.prompt_tokens as f64),
        quantity(usage.output_tokens as f64)
    );
    let (trigger, target) = live.compression;
    let _ = writeln!(
        out,
        "One session's Live cost by length (every turn billed for the whole context), without \
         compression | with a sliding window {} -> {} tokens:",
        quantity(trigger as f64),
        quantity(target as f64)
    );
    for (open, compressed) in live.curve.iter().zip(&live.compressed_curve) {
        let _ = writeln!(
            out,
            "  {:>5.1} min {:>4} turns {:>12} prompt tokens  input {:>9}  output {:>9}  {:>9} | {:>10} prompt tokens  {:>9}",
            open.minutes,
            open.turns,
            quantity(open.prompt_tokens.round()),
            dollars(open.input_usd),
            dollars(open.output_usd),
            dollars(open.total_usd),
            quantity(compressed.prompt_tokens.round()),
            dollars(compressed.total_usd)
        );
    }
    out
}

/// Gemini Live's turns and curve, for report.md.
fn live_markdown(out: &mut String, live: &LiveCost) {
    let usage = &live.usage;
    let _ = writeln!(
        out,
        "### Gemini Live, turn by turn\n\n{}: {} turn(s) in {} session(s). One session's Live \
         lines are {}. {}.\n",
        usage.model, usage.turns, usage.sessions, live.basis, live.input_arithmetic
    );
    let _ = writeln!(
        out,
        "| per turn | mean | max | last |\n|---|---:|---:|---:|"
    );
    for (what, value) in [
        ("prompt audio tokens", &usage.prompt_audio),
        ("prompt text tokens", &usage.prompt_text),
        ("output audio tokens", &usage.output_audio),
        ("output text tokens", &usage.output_text),
    ] {
        let _ = writeln!(
            out,
            "| {what} | {} | {} | {} |",
            quantity(value.mean.round()),
            quantity(value.max as f64),
            quantity(value.last.round())
        );
    }
    let (trigger, target) = live.compression;
    let _ = writeln!(
        out,
        "\n| session | turns | prompt tokens | input | output | Live total | with a sliding window {} -> {}: prompt tokens | Live total |\n|---:|---:|---:|---:|---:|---:|---:|---:|",
        quantity(trigger as f64),
        quantity(target as f64)
    );
    for (open, compressed) in live.curve.iter().zip(&live.compressed_curve) {
        let _ = writeln!(
            out,
            "| {:.1} min | {} | {} | {} | {} | {} | {} | {} |",
            open.minutes,
            open.turns,
            quantity(open.prompt_tokens.round()),
            dollars(open.input_usd),
            dollars(open.output_usd),
            dollars(open.total_usd),
            quantity(compressed.prompt_tokens.round()),
            dollars(compressed.total_usd)
        );
    }
    let _ = writeln!(out);
}

/// The cost section as `harness cost` prints it.
pub(crate) fn text(cost: &CostReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", heading(cost));
    text_table(&mut out, &cost.per_session);
    let total = cost.per_session.total_usd;
    let _ = writeln!(out, "\nBy service:");
    for (service, usd) in by_service(&cost.per_session) {
        let share = if total > 0.0 { usd / total } else { 0.0 };
        let _ = writeln!(
            out,
            "  {service:<16} {} {:>5.1}%  {}",
            bar(share),
            share * 100.0,
            dollars(usd)
        );
    }
    if let Some(month) = &cost.per_month {
        let tiers = if month.free_tiers {
            "with free tiers"
        } else {
            "no free tiers"
        };
        let _ = writeln!(
            out,
            "\n{} sessions a month ({tiers}):\n",
            grouped(month.sessions)
        );
        text_table(&mut out, &month.table);
    }
    if let Some(live) = &cost.live {
        let _ = write!(out, "\n{}", live_text(live));
    }
    if !cost.seed_comparisons.is_empty() {
        let _ = writeln!(out, "\nThe seeds' cost tables against this run:");
        text_seeds(&mut out, &cost.seed_comparisons);
    }
    if !cost.notes.is_empty() {
        let _ = writeln!(out, "\nNotes:");
        for note in &cost.notes {
            let _ = writeln!(out, "- {note}");
        }
    }
    out
}

fn markdown_table(out: &mut String, table: &CostTable) {
    let _ = writeln!(
        out,
        "| service | what | quantity | unit | unit price | cost |"
    );
    let _ = writeln!(out, "|---|---|---:|---|---:|---:|");
    for line in &table.lines {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            line.service,
            line.what,
            quantity(line.quantity),
            line.unit,
            unit_price(line.unit_price_usd),
            dollars(line.cost_usd)
        );
    }
    let _ = writeln!(
        out,
        "| **total** | | | | | **{}** |\n",
        dollars(table.total_usd)
    );
}

/// The cost section of report.md.
pub(crate) fn markdown(cost: &CostReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Cost\n\n{}\n", heading(cost));
    markdown_table(&mut out, &cost.per_session);
    let total = cost.per_session.total_usd;
    let services = by_service(&cost.per_session);
    let _ = writeln!(
        out,
        "```mermaid\npie showData title One session by service (USD)"
    );
    for (service, usd) in services.iter().filter(|(_, usd)| *usd > 0.0) {
        let _ = writeln!(out, "    \"{service}\" : {usd:.6}");
    }
    let _ = writeln!(out, "```\n\n| service | cost | share |\n|---|---:|---|");
    for (service, usd) in &services {
        let share = if total > 0.0 { usd / total } else { 0.0 };
        let _ = writeln!(
            out,
            "| {service} | {} | `{}` {:.1}% |",
            dollars(*usd),
            bar(share),
            share * 100.0
        );
    }
    let _ = writeln!(out);
    if let Some(month) = &cost.per_month {
        let tiers = if month.free_tiers {
            "with free tiers"
        } else {
            "no free tiers"
        };
        let _ = writeln!(
            out,
            "### {} sessions a month ({tiers})\n",
            grouped(month.sessions)
        );
        markdown_table(&mut out, &month.table);
    }
    if let Some(live) = &cost.live {
        live_markdown(&mut out, live);
    }
    for seed in &cost.seed_comparisons {
        let _ = writeln!(out, "### {}: {}\n", seed.seed, seed.basis);
        let _ = writeln!(
            out,
            "| the seed's line | claimed | measured or recomputed | verdict | arithmetic |"
        );
        let _ = writeln!(out, "|---|---:|---:|---|---|");
        for line in &seed.lines {
            let verdict = if line.consistent {
                "consistent"
            } else {
                "**not consistent**"
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {verdict} | {} |",
                line.item.replace('|', "\\|"),
                dollars(line.claimed_usd),
                dollars(line.measured_usd),
                line.arithmetic.replace('|', "\\|")
            );
        }
        let _ = writeln!(out);
    }
    if !cost.notes.is_empty() {
        let _ = writeln!(out, "### Notes\n");
        for note in &cost.notes {
            let _ = writeln!(out, "- {note}");
        }
        let _ = writeln!(out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_a_bill() {
        assert_eq!(quantity(2345.0), "2,345");
        assert_eq!(quantity(1720.46), "1,720.5");
        assert_eq!(quantity(13.97), "13.970");
        assert_eq!(quantity(0.000125), "0.000125");
        assert_eq!(quantity(-400000.0), "-400,000");
        assert_eq!(unit_price(0.0000002), "$0.20 / 1M");
        assert_eq!(unit_price(0.0000133334), "$13.3334 / 1M");
        assert_eq!(unit_price(0.000003), "$3.00 / 1M");
        assert_eq!(unit_price(0.09), "$0.09");
        assert_eq!(unit_price(0.4), "$0.40");
        assert_eq!(dollars(0.0123456), "$0.012346");
        assert_eq!(dollars(41.666), "$41.67");
    }

    #[test]
    fn bars_are_proportional() {
        assert_eq!(
            bar(0.5).chars().filter(|c| *c == '█').count(),
            BAR_WIDTH / 2
        );
        assert_eq!(bar(1.5).chars().count(), BAR_WIDTH);
    }
}
