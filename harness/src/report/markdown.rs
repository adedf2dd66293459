//! `report.md`: the run's verdict, latency percentiles, conformance verdicts,
//! failures with what was expected and received, what the stack metered (with
//! the warnings and errors each function logged), and the cost section
//! ([`crate::cost::render::markdown`]).

use std::fmt::Write as _;

use super::model::RunReport;

/// How many of a function's last warnings report.md shows (report.json keeps up to 100).
const WARNING_LINES_SHOWN: usize = 20;

fn ms(us: u64) -> String {
    format!("{:.1}", us as f64 / 1000.0)
}

/// Renders the report as Markdown.
pub(crate) fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let verdict = if report.passed { "PASS" } else { "FAIL" };
    let _ = writeln!(out, "# Run {} — {verdict}\n", report.run_id);
    let _ = writeln!(
        out,
        "Target `{}`, time scale {}, measured on {}, started {}, took {:.1} s. Command: `{}`\n",
        report.target,
        report.time_scale,
        if report.measured_on.is_empty() {
            "(not recorded)"
        } else {
            &report.measured_on
        },
        report.started_at,
        report.duration_ms as f64 / 1000.0,
        report.command
    );
    if !report.metrics.is_empty() {
        let _ = writeln!(out, "## Latency (ms, real time)\n");
        let _ = writeln!(
            out,
            "| metric | count | p50 | p90 | p95 | p99 | p99.9 | max |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for (name, s) in &report.metrics {
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {} | {} | {} | {} |",
                s.count,
                ms(s.p50_us),
                ms(s.p90_us),
                ms(s.p95_us),
                ms(s.p99_us),
                ms(s.p999_us),
                ms(s.max_us)
            );
        }
        let _ = writeln!(out);
    }
    let c = &report.conformance;
    let _ = writeln!(
        out,
        "## Contract checks\n\n{} messages checked: {} valid, {} invalid, {} unknown.\n",
        c.checked, c.valid, c.invalid, c.unknown
    );
    for scenario in &report.scenarios {
        let verdict = if scenario.passed { "PASS" } else { "FAIL" };
        let _ = writeln!(out, "## Scenario {} — {verdict}\n", scenario.name);
        let _ = writeln!(
            out,
            "`{}` against `{}`: {} session(s).\n",
            scenario.path,
            scenario.api,
            scenario.sessions.len()
        );
        for session in scenario.sessions.iter().filter(|s| !s.passed) {
            for failure in &session.failures {
                let _ = writeln!(
                    out,
                    "- session {}: **{}** at `{}`: {}",
                    session.index, failure.check, failure.step, failure.message
                );
                if let Some(expected) = &failure.expected {
                    let _ = writeln!(out, "  - expected: `{expected}`");
                }
                if let Some(received) = &failure.received {
                    let _ = writeln!(out, "  - received: `{received}`");
                }
                for violation in &failure.violations {
                    let _ = writeln!(
                        out,
                        "  - at `{}` (schema `{}`): {}",
                        violation.instance_path, violation.schema_path, violation.message
                    );
                }
                let _ = writeln!(out, "  - reproduce: `{}`", failure.reproduce);
            }
        }
        let _ = writeln!(out);
    }
    out.push_str(&super::conversation::markdown(report));
    for suite in &report.suites {
        let _ = writeln!(out, "## Conformance: {} (`{}`)\n", suite.api, suite.path);
        let _ = writeln!(out, "| case | description | verdict | close |");
        let _ = writeln!(out, "|---|---|---|---|");
        for case in &suite.cases {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                case.id, case.description, case.verdict, case.close_verdict
            );
        }
        let _ = writeln!(out);
    }
    if !report.errors.is_empty() {
        let _ = writeln!(out, "## Errors by kind\n");
        for (kind, count) in &report.errors {
            let _ = writeln!(out, "- {kind}: {count}");
        }
        let _ = writeln!(out);
    }
    if let Some(stack) = &report.stack {
        let _ = writeln!(out, "## Lambda invocations (local stack)\n");
        let _ = writeln!(
            out,
            "| function | invocations | cold starts | billed ms | memory | arch |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---|");
        for (name, f) in &stack.functions {
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {} MB | {} |",
                f.invocations, f.cold_starts, f.billed_ms, f.memory_mb, f.architecture
            );
        }
        let _ = writeln!(out);
        for (name, f) in stack
            .functions
            .iter()
            .filter(|(_, f)| f.warnings_logged > 0)
        {
            let _ = writeln!(
                out,
                "### {name}: {} warnings or errors logged (the last {})\n\n```text",
                f.warnings_logged,
                f.warnings.len().min(WARNING_LINES_SHOWN)
            );
            for line in f.warnings.iter().rev().take(WARNING_LINES_SHOWN).rev() {
                let _ = writeln!(out, "{line}");
            }
            let _ = writeln!(out, "```\n");
        }
    }
    if let Some(cost) = &report.cost {
        out.push_str(&crate::cost::render::markdown(cost));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_functions_warnings_follow_their_invocations() {
        let page = render(&super::super::sample::report());
        let invocations = page.find("## Lambda invocations").unwrap();
        let warnings = page
            .find("### SpeakingFunction: 1 warnings or errors logged (the last 1)")
            .unwrap();
        assert!(invocations < warnings);
        assert!(page[warnings..].contains("audio relayed out of order: received 17 ms"));
        let mut quiet = super::super::sample::report();
        for function in quiet.stack.as_mut().unwrap().functions.values_mut() {
            function.warnings_logged = 0;
            function.warnings.clear();
        }
        assert!(!render(&quiet).contains("warnings or errors logged"));
    }
}
