//! The seeds' cost tables against measured figures.

use super::*;
use crate::report::model::CostLine;

fn line(service: &str, cost: f64) -> CostLine {
    CostLine {
        service: service.to_owned(),
        what: "x".to_owned(),
        quantity: 1.0,
        unit: "u".to_owned(),
        unit_price_usd: cost,
        cost_usd: cost,
    }
}

/// A 14-minute speaking session per `table` (estimated or measured).
fn speaking(table: &CostTable, estimate: bool) -> Measured<'_> {
    Measured {
        per_session: table,
        session_seconds: 840.0,
        speaking: true,
        buddy: false,
        estimate,
        live: None,
    }
}

fn pricing() -> PricingTable {
    PricingTable::built_in().unwrap()
}

#[test]
fn tolerance_rules() {
    assert!(consistent(0.030, 0.025, 0.05));
    assert!(!consistent(0.0050, 0.028, 0.05));
    // Negligible next to the table's total.
    assert!(consistent(0.00001, 0.000005, 0.05));
    assert!(!consistent(0.00001, 0.02, 0.05));
    assert!(
        !consistent(0.00001, 0.0034, 0.35),
        "340x off is not negligible"
    );
}

#[test]
fn seed_002_arithmetic() {
    let comparison = seed_002(&pricing());
    let by_item = |prefix: &str| {
        comparison
            .lines
            .iter()
            .find(|l| l.item.starts_with(prefix))
            .unwrap()
            .clone()
    };
    let requests = by_item("Lambda: 5M requests");
    assert!(requests.consistent);
    assert!((requests.measured_usd - 1.0).abs() < 1e-9);
    let duration = by_item("Lambda: 5M x 1s");
    assert!(!duration.consistent);
    assert!((duration.measured_usd - 41.66675).abs() < 1e-6);
    assert!(duration.arithmetic.contains("$21.25"));
    assert!(!by_item("DynamoDB: on-demand reads").consistent);
    assert!((by_item("DynamoDB: on-demand reads").measured_usd - 0.125).abs() < 1e-12);
    assert!(by_item("API Gateway").consistent);
    assert!(by_item("CloudFront").consistent);
    let total = by_item("Total");
    assert!(total.consistent, "{total:?}");
}

#[test]
fn seed_000_against_a_measured_assessment() {
    let table = CostTable {
        lines: vec![
            line("Lambda", 0.0226),
            line("API Gateway", 0.0005),
            line("DynamoDB", 0.03),
            line("Secrets Manager", 0.000005),
            line("Vertex AI", 0.06),
        ],
        total_usd: 0.113105,
    };
    let measured = speaking(&table, false);
    let comparison = seed_000(&measured, &pricing());
    let verdicts: Vec<(String, bool)> = comparison
        .lines
        .iter()
        .map(|l| (l.item.clone(), l.consistent))
        .collect();
    assert_eq!(
        verdicts[0],
        ("Lambda (2GB, 14min): $0.0050".to_owned(), false)
    );
    assert!(comparison.lines[0].arithmetic.contains("$0.0280"));
    assert!(
        verdicts[2].1,
        "Secrets Manager's claim is negligible either way"
    );
    assert!(!verdicts[3].1, "DynamoDB");
    let monthly = comparison.lines.last().unwrap();
    assert!((monthly.measured_usd - 113.105).abs() < 1e-9);
}

#[test]
fn an_estimate_compares_only_what_it_observed() {
    let table = CostTable {
        lines: vec![line("Lambda", 0.02), line("API Gateway", 0.003)],
        total_usd: 0.023,
    };
    let measured = speaking(&table, true);
    let comparison = seed_000(&measured, &pricing());
    let items: Vec<&str> = comparison.lines.iter().map(|l| l.item.as_str()).collect();
    assert_eq!(
        items,
        [
            "Lambda (2GB, 14min): $0.0050",
            "API Gateway WebSocket: $0.0003"
        ]
    );
    assert!(comparison.lines[0].arithmetic.starts_with("estimated"));
}

#[test]
fn seed_001_recomputed_when_not_exercised() {
    let table = CostTable {
        lines: Vec::new(),
        total_usd: 0.0,
    };
    let measured = speaking(&table, false);
    let comparison = seed_001(&measured, &pricing());
    assert!(comparison.lines[0].consistent, "the message price matches");
    let lambda = &comparison.lines[1];
    assert!((lambda.measured_usd - 0.03000006).abs() < 1e-6);
    assert!(!lambda.consistent);
    assert!(lambda.arithmetic.starts_with("recomputed"));
    // 1,500 tokens x $3.00 / 1M (Nova 2 Sonic speech in; v1 was $3.40).
    assert!((comparison.lines[2].measured_usd - 0.0045).abs() < 1e-12);
}
