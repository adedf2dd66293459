//! The cost section of report.html (when the report has one): one session
//! and a month of sessions line by line, a bar chart of one session's cost by
//! component, and the seeds' own cost tables against the measurement with
//! the arithmetic behind each verdict.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::report::charts;
use crate::report::markup::text;
use crate::report::model::{CostReport, CostTable};

/// US dollars with enough digits for sub-cent amounts: `$0.028`, `$0.000012`, `$30.00`.
pub(crate) fn format_usd(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return "$0".to_owned();
    }
    let magnitude = value.abs();
    if magnitude >= 1.0 {
        return format!("${value:.2}");
    }
    // Three significant digits, whatever the magnitude.
    let decimals = (2 - magnitude.log10().floor() as i32).clamp(2, 12) as usize;
    format!("${value:.decimals$}")
}

/// A quantity without trailing zeros: `840`, `0.5`, `1234.567`.
fn format_quantity(value: f64) -> String {
    let shown = format!("{value:.6}");
    let shown = shown.trim_end_matches('0').trim_end_matches('.');
    if shown.is_empty() || shown == "-0" {
        "0".to_owned()
    } else {
        shown.to_owned()
    }
}

fn table(out: &mut String, table: &CostTable) {
    out.push_str("<table><tr><th>service</th><th>what</th><th>quantity</th><th>unit</th><th>unit price</th><th>cost</th></tr>");
    for line in &table.lines {
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td>{}</td><td class="n">{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            text(&line.service),
            text(&line.what),
            format_quantity(line.quantity),
            text(&line.unit),
            text(&format_usd(line.unit_price_usd)),
            text(&format_usd(line.cost_usd)),
        );
    }
    let _ = write!(
        out,
        r#"<tr><th colspan="5">total</th><th class="n">{}</th></tr></table>"#,
        text(&format_usd(table.total_usd))
    );
}

/// Writes the section (a short note when the run has no cost).
pub(crate) fn section(out: &mut String, cost: Option<&CostReport>) {
    out.push_str(r#"<section id="cost"><h2>Cost</h2>"#);
    let Some(cost) = cost else {
        out.push_str("<p class=\"muted\">This run computed no cost.</p></section>\n");
        return;
    };
    let _ = write!(
        out,
        "<p>Prices of {} (<code>{}</code>); one session normalised to {} s of scenario time{}.</p>",
        text(&cost.pricing_date),
        text(&cost.pricing_source),
        format_quantity(cost.normalised_seconds),
        if cost.estimate {
            "; usage estimated from what the harness observed (remote target), not metered"
        } else {
            "; usage metered by the local stack"
        }
    );
    out.push_str("<h3>One session</h3>");
    table(out, &cost.per_session);
    let mut by_service: BTreeMap<&str, f64> = BTreeMap::new();
    for line in &cost.per_session.lines {
        *by_service.entry(line.service.as_str()).or_insert(0.0) += line.cost_usd;
    }
    let mut bars: Vec<(String, f64)> = by_service
        .into_iter()
        .map(|(service, usd)| (service.to_owned(), usd))
        .collect();
    bars.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if !bars.is_empty() {
        let _ = write!(
            out,
            "<figure><figcaption>One session by component</figcaption>{}</figure>",
            charts::bars("one session's cost by component", &bars, &format_usd)
        );
    }
    if let Some(month) = &cost.per_month {
        let _ = write!(
            out,
            "<h3>A month of {} sessions{}</h3>",
            month.sessions,
            if month.free_tiers {
                " (free tiers applied)"
            } else {
                " (no free tiers)"
            }
        );
        table(out, &month.table);
    }
    if !cost.seed_comparisons.is_empty() {
        out.push_str("<h3>The seeds' figures against the measurement</h3>");
    }
    for comparison in &cost.seed_comparisons {
        let _ = write!(
            out,
            "<h4>{}: {}</h4><table><tr><th>item</th><th>seed says</th><th>measured</th><th>holds</th><th>arithmetic</th></tr>",
            text(&comparison.seed),
            text(&comparison.basis)
        );
        for line in &comparison.lines {
            let _ = write!(
                out,
                r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td>{}</td><td><code>{}</code></td></tr>"#,
                text(&line.item),
                text(&format_usd(line.claimed_usd)),
                text(&format_usd(line.measured_usd)),
                if line.consistent {
                    super::badge("PASS").replace(">PASS<", ">yes<")
                } else {
                    super::badge("FAIL").replace(">FAIL<", ">no<")
                },
                text(&line.arithmetic),
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_keep_three_significant_digits() {
        assert_eq!(format_usd(0.0), "$0");
        assert_eq!(format_usd(30.0), "$30.00");
        assert_eq!(format_usd(0.028), "$0.0280");
        assert_eq!(format_usd(0.0000125), "$0.0000125");
        assert_eq!(format_usd(0.5), "$0.500");
    }

    #[test]
    fn quantities_drop_trailing_zeros() {
        assert_eq!(format_quantity(840.0), "840");
        assert_eq!(format_quantity(0.5), "0.5");
        assert_eq!(format_quantity(0.0), "0");
    }
}
