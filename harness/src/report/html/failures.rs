//! The failures section of report.html: each failed check in full, where it
//! happened, the step, what was expected next to what was received, the
//! contract's instance and schema paths, the wire transcript before it, and
//! the command that reproduces it.

use std::fmt::Write as _;

use super::anchor;
use crate::report::markup::text;
use crate::report::model::{Failure, RunReport};

/// How many failures are shown in full (the rest are counted; report.json has them all).
pub(crate) const FAILURES_SHOWN: usize = 100;

/// A failure and where it happened.
struct Located<'a> {
    /// `Scenario speaking-smoke, session #3` or `SpeakingWebSocketApi case 2.1.1`.
    place: String,
    /// The anchor of the first failure of a conformance case (the suite table links it).
    anchor: Option<String>,
    failure: &'a Failure,
}

fn located(report: &RunReport) -> Vec<Located<'_>> {
    let mut found = Vec::new();
    for scenario in &report.scenarios {
        for session in &scenario.sessions {
            for failure in &session.failures {
                found.push(Located {
                    place: format!("Scenario {}, session #{}", scenario.name, session.index),
                    anchor: None,
                    failure,
                });
            }
        }
    }
    for suite in &report.suites {
        for case in &suite.cases {
            for (index, failure) in case.session.failures.iter().enumerate() {
                found.push(Located {
                    place: format!(
                        "{} case {} ({}, verdict {})",
                        suite.api, case.id, case.description, case.verdict
                    ),
                    anchor: (index == 0).then(|| anchor(&["case", &suite.api, &case.id])),
                    failure,
                });
            }
        }
    }
    found
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// Writes the section.
pub(crate) fn section(out: &mut String, report: &RunReport) {
    out.push_str(r#"<section id="failures"><h2>Failures</h2>"#);
    let all = located(report);
    if all.is_empty() {
        out.push_str("<p>None: every expectation and every contract check passed.</p></section>\n");
        return;
    }
    let _ = write!(out, "<p>{} failed check(s).", all.len());
    if all.len() > FAILURES_SHOWN {
        let _ = write!(
            out,
            " The first {FAILURES_SHOWN} are shown; report.json has them all."
        );
    }
    out.push_str("</p>");
    for item in all.iter().take(FAILURES_SHOWN) {
        article(out, item);
    }
    out.push_str("</section>\n");
}

fn article(out: &mut String, item: &Located<'_>) {
    let failure = item.failure;
    let id = item
        .anchor
        .as_ref()
        .map(|a| format!(r#" id="{}""#, crate::report::markup::attr(a)))
        .unwrap_or_default();
    let _ = write!(
        out,
        "<article class=\"failure\"{id}><h3>{}: {}</h3><p>At <code>{}</code>: {}</p>",
        text(&item.place),
        text(&failure.check),
        text(&failure.step),
        text(&failure.message)
    );
    if failure.expected.is_some() || failure.received.is_some() {
        out.push_str("<div class=\"compare\">");
        for (title, value) in [
            ("Expected", &failure.expected),
            ("Received", &failure.received),
        ] {
            let shown = value.as_ref().map_or("(nothing)".to_owned(), pretty);
            let _ = write!(
                out,
                "<div><h4>{title}</h4><pre>{}</pre></div>",
                text(&shown)
            );
        }
        out.push_str("</div>");
    }
    if !failure.violations.is_empty() {
        out.push_str(
            "<h4>Contract violations</h4><table><tr><th>instance path</th><th>schema path</th><th>problem</th></tr>",
        );
        for violation in &failure.violations {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
                text(&violation.instance_path),
                text(&violation.schema_path),
                text(&violation.message)
            );
        }
        out.push_str("</table>");
    }
    if !failure.transcript.is_empty() {
        out.push_str(
            "<h4>Wire transcript (the last frames before the failure)</h4><table><tr><th>ms</th><th></th><th>frame</th></tr>",
        );
        for entry in &failure.transcript {
            let (class, arrow) = if entry.direction == "in" {
                ("in", "←")
            } else {
                ("out", "→")
            };
            let _ = write!(
                out,
                "<tr class=\"{class}\"><td class=\"n\">{}</td><td>{arrow}</td><td><code>{}</code></td></tr>",
                entry.at_ms,
                text(&entry.text)
            );
        }
        out.push_str("</table>");
    }
    let _ = write!(
        out,
        "<h4>Reproduce</h4><pre>{}</pre></article>",
        text(&failure.reproduce)
    );
}
