//! The results table of a chaos run.

use std::fmt::Write as _;

use super::CaseReport;
use super::invariants::Invariant;

/// The Markdown table: one row per case with its fault, expectation and
/// verdict, then one row per invariant with the cases that checked it.
pub(crate) fn markdown(reports: &[CaseReport]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| case | fault injected | expectation | invariants checked | result |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for report in reports {
        let checked: Vec<&str> = report.checked.iter().map(|i| i.id()).collect();
        let result = if report.passed() {
            "PASS".to_owned()
        } else {
            let mut why: Vec<String> = report.problems.clone();
            why.extend(
                report
                    .violations
                    .iter()
                    .map(|v| format!("{}: {} {}", v.invariant.id(), v.subject, v.detail)),
            );
            format!("FAIL: {}", why.join("; "))
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            report.case.id,
            report.case.fault,
            report.case.expectation,
            checked.join(", "),
            result
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "| invariant | cases checking it | violations |");
    let _ = writeln!(out, "|---|---|---|");
    for invariant in Invariant::ALL {
        let cases = reports
            .iter()
            .filter(|r| r.checked.contains(&invariant))
            .count();
        let violations: usize = reports
            .iter()
            .map(|r| {
                r.violations
                    .iter()
                    .filter(|v| v.invariant == invariant)
                    .count()
            })
            .sum();
        let _ = writeln!(
            out,
            "| {} ({}) | {cases} | {violations} |",
            invariant.id(),
            invariant.statement()
        );
    }
    out
}
