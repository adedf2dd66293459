//! `report.html`: the run on one self-contained page. Inline CSS and inline
//! SVG charts drawn in Rust ([`super::charts`]); no script and no external
//! resource (a Content-Security-Policy forbids loading any), so it works
//! offline, renders the same bytes for the same report, and is well-formed
//! XML as well as HTML (the tests parse it).
//!
//! Sections: the verdict and the run's facts; latency percentiles (a table
//! and a chart per metric); latency over time; a timeline per scenario and
//! per suite; the contract checks and error kinds; every conformance case's
//! verdict and close verdict; the failures in full ([`failures`]); the
//! Lambda invocations the local stack metered; the cost ([`cost`]).

pub(crate) mod cost;
pub(crate) mod failures;

use std::fmt::Write as _;

use super::charts::{self, TimelineRow, format_us};
use super::markup::{attr, text};
use super::model::{RunReport, SessionReport, SuiteReport};

/// How many sessions a timeline draws (the failing ones first).
pub(crate) const TIMELINE_ROWS: usize = 60;

const STYLE: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#111827;margin:0;background:#fff}
main{max-width:1180px;margin:0 auto;padding:0 20px 40px}
header.verdict{padding:18px 20px;color:#fff}
header.verdict h1{margin:0;font-size:26px}
header.verdict p{margin:4px 0 0}
header.pass{background:#15803d}
header.fail{background:#b91c1c}
nav{padding:8px 20px;background:#f3f4f6;border-bottom:1px solid #e5e7eb}
nav a{margin-right:14px;color:#1d4ed8;text-decoration:none}
h2{margin-top:32px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0 16px}
th,td{border:1px solid #e5e7eb;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f9fafb}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px}
dl.facts dt{font-weight:600}
dl.facts dd{margin:0}
code,pre{font:12px/1.4 ui-monospace,"SFMono-Regular",Menlo,monospace}
pre{background:#f9fafb;border:1px solid #e5e7eb;padding:8px;overflow:auto;max-height:360px;white-space:pre-wrap;word-break:break-all}
.charts{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;border:1px solid #e5e7eb;padding:6px}
figcaption{font-weight:600;margin-bottom:4px}
svg.chart{max-width:100%;height:auto;display:block}
svg .axis{font-size:11px;fill:#4b5563}
svg .value{font-size:10px;fill:#111827}
svg .bad{fill:#b91c1c;font-weight:600}
.badge{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px;font-weight:600;color:#fff;background:#6b7280}
.v-pass{background:#15803d}
.v-fail{background:#b91c1c}
.v-non-strict{background:#b45309}
.v-info{background:#2563eb}
.v-unimplemented{background:#6b7280}
article.failure{border:1px solid #fecaca;border-left:4px solid #b91c1c;padding:8px 12px;margin:12px 0}
article.failure h3{margin:0 0 4px;font-size:15px}
.compare{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.compare h4,article.failure h4{margin:8px 0 2px;font-size:13px}
tr.in td:nth-child(2){color:#0e7490}
tr.out td:nth-child(2){color:#7c3aed}
.muted{color:#6b7280}
"#;

/// A verdict as a coloured badge.
pub(crate) fn badge(verdict: &str) -> String {
    format!(
        r#"<span class="badge v-{}">{}</span>"#,
        attr(&verdict.to_ascii_lowercase()),
        text(verdict)
    )
}

/// An id usable in a URL fragment.
pub(crate) fn anchor(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|part| {
            part.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Renders the page.
pub(crate) fn render(report: &RunReport) -> String {
    let verdict = if report.passed { "PASS" } else { "FAIL" };
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"/><meta name="viewport" content="width=device-width, initial-scale=1"/><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"/><title>{verdict} · run {run}</title><style>{STYLE}</style></head>
<body><header class="verdict {class}"><h1>{verdict}</h1><p>Run {run} against {target}</p></header>
<nav><a href="#facts">Run</a><a href="#latency">Latency</a><a href="#over-time">Over time</a><a href="#timelines">Timelines</a><a href="#conversation">Conversation</a><a href="#contract">Contract</a><a href="#conformance">Conformance</a><a href="#failures">Failures</a><a href="#stack">Lambda</a><a href="#cost">Cost</a></nav>
<main>
"##,
        run = text(&report.run_id),
        class = verdict.to_ascii_lowercase(),
        target = text(&report.target),
    );
    facts(&mut out, report);
    latency(&mut out, report);
    over_time(&mut out, report);
    timelines(&mut out, report);
    super::conversation::html(&mut out, report);
    contract(&mut out, report);
    conformance(&mut out, &report.suites);
    failures::section(&mut out, report);
    stack(&mut out, report);
    cost::section(&mut out, report.cost.as_ref());
    let _ = write!(
        out,
        "<footer class=\"muted\"><p>Written by the speechgate harness from report.json (schema version {}).</p></footer>\n</main></body></html>\n",
        report.schema_version
    );
    out
}

fn sessions(report: &RunReport) -> impl Iterator<Item = &SessionReport> {
    report
        .scenarios
        .iter()
        .flat_map(|s| s.sessions.iter())
        .chain(
            report
                .suites
                .iter()
                .flat_map(|s| s.cases.iter().map(|c| &c.session)),
        )
}

fn facts(out: &mut String, report: &RunReport) {
    let session_count = report
        .scenarios
        .iter()
        .map(|s| s.sessions.len())
        .sum::<usize>();
    let failed_sessions = report
        .scenarios
        .iter()
        .flat_map(|s| &s.sessions)
        .filter(|s| !s.passed)
        .count();
    let case_count = report.suites.iter().map(|s| s.cases.len()).sum::<usize>();
    let failed_cases = report
        .suites
        .iter()
        .flat_map(|s| &s.cases)
        .filter(|c| c.verdict == "FAIL" || c.close_verdict == "FAIL")
        .count();
    let (sent, received, bytes_sent, bytes_received) =
        sessions(report).fold((0, 0, 0, 0), |acc, s| {
            (
                acc.0 + s.sent,
                acc.1 + s.received,
                acc.2 + s.bytes_sent,
                acc.3 + s.bytes_received,
            )
        });
    let rows = [
        (
            "Verdict",
            badge(if report.passed { "PASS" } else { "FAIL" }),
        ),
        ("Run id", text(&report.run_id)),
        ("Target", text(&report.target)),
        (
            "Time scale",
            format!(
                "{} (pacing and time limits divided by it; latencies are real time)",
                report.time_scale
            ),
        ),
        ("Measured on", text(&report.measured_on)),
        ("Started", text(&report.started_at)),
        (
            "Duration",
            format!("{:.1} s", report.duration_ms as f64 / 1e3),
        ),
        ("Command", format!("<code>{}</code>", text(&report.command))),
        (
            "Scenarios",
            format!(
                "{} with {session_count} session(s), {failed_sessions} failed",
                report.scenarios.len()
            ),
        ),
        (
            "Conformance",
            format!(
                "{} suite(s) with {case_count} case(s), {failed_cases} failed",
                report.suites.len()
            ),
        ),
        (
            "Messages",
            format!(
                "{sent} sent ({bytes_sent} bytes), {received} received ({bytes_received} bytes)"
            ),
        ),
    ];
    out.push_str(r#"<section id="facts"><h2>The run</h2><dl class="facts">"#);
    for (term, value) in rows {
        let _ = write!(out, "<dt>{term}</dt><dd>{value}</dd>");
    }
    out.push_str("</dl></section>\n");
}

fn latency(out: &mut String, report: &RunReport) {
    out.push_str(r#"<section id="latency"><h2>Latency percentiles</h2>"#);
    if report.metrics.is_empty() {
        out.push_str("<p class=\"muted\">No latency was measured.</p></section>\n");
        return;
    }
    out.push_str(
        "<table><tr><th>metric</th><th>count</th><th>min</th><th>mean</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>p99.9</th><th>max</th></tr>",
    );
    for (name, s) in &report.metrics {
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td class="n">{}</td>"#,
            text(name),
            s.count
        );
        for value in [
            s.min_us as f64,
            s.mean_us,
            s.p50_us as f64,
            s.p90_us as f64,
            s.p95_us as f64,
            s.p99_us as f64,
            s.p999_us as f64,
            s.max_us as f64,
        ] {
            let _ = write!(out, r#"<td class="n">{}</td>"#, text(&format_us(value)));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table><div class=\"charts\">");
    for (name, summary) in &report.metrics {
        let _ = write!(
            out,
            "<figure><figcaption>{}</figcaption>{}</figure>",
            text(name),
            charts::percentiles(name, summary)
        );
    }
    out.push_str("</div></section>\n");
}

fn over_time(out: &mut String, report: &RunReport) {
    out.push_str(r#"<section id="over-time"><h2>Latency over time</h2><div class="charts">"#);
    if report.series.is_empty() {
        out.push_str("<p class=\"muted\">No samples.</p>");
    }
    for (name, samples) in &report.series {
        let _ = write!(
            out,
            "<figure><figcaption>{} ({} sample(s) against the run's clock)</figcaption>{}</figure>",
            text(name),
            samples.len(),
            charts::over_time(name, samples)
        );
    }
    out.push_str("</div></section>\n");
}

/// The rows a timeline draws: every failing one first (up to the cap), then
/// the others, in their order.
fn pick_rows<'a>(rows: Vec<TimelineRow<'a>>) -> (Vec<TimelineRow<'a>>, usize) {
    let total = rows.len();
    if total <= TIMELINE_ROWS {
        return (rows, total);
    }
    let mut keep: Vec<(usize, TimelineRow<'a>)> = Vec::new();
    let (failing, passing): (Vec<_>, Vec<_>) = rows
        .into_iter()
        .enumerate()
        .partition(|(_, row)| !row.session.passed);
    keep.extend(failing.into_iter().take(TIMELINE_ROWS));
    let room = TIMELINE_ROWS - keep.len();
    keep.extend(passing.into_iter().take(room));
    keep.sort_by_key(|(order, _)| *order);
    (keep.into_iter().map(|(_, row)| row).collect(), total)
}

fn timeline_figure(out: &mut String, caption: &str, rows: Vec<TimelineRow<'_>>, scale: f64) {
    if rows.is_empty() {
        return;
    }
    let (rows, total) = pick_rows(rows);
    let shown = if rows.len() < total {
        format!(
            " (showing {} of {total}, every failing one first)",
            rows.len()
        )
    } else {
        String::new()
    };
    let _ = write!(
        out,
        "<figure><figcaption>{}{}</figcaption>{}</figure>",
        text(caption),
        text(&shown),
        charts::timeline(&rows, scale)
    );
}

fn timelines(out: &mut String, report: &RunReport) {
    out.push_str(r#"<section id="timelines"><h2>Timelines</h2><p class="muted">One row per session, against the run's clock. Hover a mark for its details.</p>"#);
    for scenario in &report.scenarios {
        let rows = scenario
            .sessions
            .iter()
            .map(|session| TimelineRow {
                label: format!("#{}", session.index),
                session,
            })
            .collect();
        timeline_figure(
            out,
            &format!("Scenario {} ({})", scenario.name, scenario.api),
            rows,
            report.time_scale,
        );
    }
    for suite in &report.suites {
        let rows = suite
            .cases
            .iter()
            .map(|case| TimelineRow {
                label: case.id.clone(),
                session: &case.session,
            })
            .collect();
        timeline_figure(
            out,
            &format!("Conformance suite {}", suite.api),
            rows,
            report.time_scale,
        );
    }
    out.push_str("</section>\n");
}

fn contract(out: &mut String, report: &RunReport) {
    let c = &report.conformance;
    let _ = write!(
        out,
        r#"<section id="contract"><h2>Contract checks</h2><p>{} message(s) received and judged against the contract: {} valid, {} invalid, {} unknown.</p>"#,
        c.checked, c.valid, c.invalid, c.unknown
    );
    if !c.by_message.is_empty() {
        out.push_str("<table><tr><th>valid message</th><th>count</th></tr>");
        for (name, count) in &c.by_message {
            let _ = write!(
                out,
                r#"<tr><td>{}</td><td class="n">{count}</td></tr>"#,
                text(name)
            );
        }
        out.push_str("</table>");
    }
    if !report.errors.is_empty() {
        out.push_str("<h3>Errors by kind</h3><table><tr><th>kind</th><th>count</th></tr>");
        for (kind, count) in &report.errors {
            let _ = write!(
                out,
                r#"<tr><td>{}</td><td class="n">{count}</td></tr>"#,
                text(kind)
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</section>\n");
}

fn conformance(out: &mut String, suites: &[SuiteReport]) {
    out.push_str(r#"<section id="conformance"><h2>Conformance</h2>"#);
    if suites.is_empty() {
        out.push_str("<p class=\"muted\">No conformance suite ran.</p>");
    }
    for suite in suites {
        let mut tally = std::collections::BTreeMap::<&str, usize>::new();
        for case in &suite.cases {
            *tally.entry(case.verdict.as_str()).or_insert(0) += 1;
        }
        let tally = tally
            .iter()
            .map(|(verdict, count)| format!("{} {count}", badge(verdict)))
            .collect::<Vec<_>>()
            .join(" ");
        let _ = write!(
            out,
            "<h3>{} <span class=\"muted\">({})</span></h3><p>{tally}</p><table><tr><th>case</th><th>category</th><th>description</th><th>expectation</th><th>verdict</th><th>close</th></tr>",
            text(&suite.api),
            text(&suite.path)
        );
        for case in &suite.cases {
            let id = if case.session.failures.is_empty() {
                text(&case.id)
            } else {
                format!(
                    r##"<a href="#{}">{}</a>"##,
                    attr(&anchor(&["case", &suite.api, &case.id])),
                    text(&case.id)
                )
            };
            let close = case
                .session
                .close
                .as_ref()
                .map(|c| format!(" {} by {}", c.code, text(&c.by)))
                .unwrap_or_default();
            let _ = write!(
                out,
                "<tr><td>{id}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{close}</td></tr>",
                text(case.category.as_deref().unwrap_or("")),
                text(&case.description),
                text(&case.expectation),
                badge(&case.verdict),
                badge(&case.close_verdict),
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</section>\n");
}

fn stack(out: &mut String, report: &RunReport) {
    out.push_str(r#"<section id="stack"><h2>Lambda invocations</h2>"#);
    let Some(stack) = &report.stack else {
        out.push_str("<p class=\"muted\">Not metered: the run's target was not the local stack.</p></section>\n");
        return;
    };
    out.push_str("<p class=\"muted\">What the local stack's Lambda emulator recorded (real time).</p><table><tr><th>function</th><th>invocations</th><th>cold starts</th><th>init mean</th><th>init max</th><th>billed ms</th><th>memory</th><th>architecture</th><th>by route</th><th>outcomes</th></tr>");
    for (name, f) in &stack.functions {
        let init_mean = if f.init_ms.is_empty() {
            "–".to_owned()
        } else {
            format!(
                "{:.1} ms",
                f.init_ms.iter().sum::<f64>() / f.init_ms.len() as f64
            )
        };
        let init_max = f
            .init_ms
            .iter()
            .copied()
            .reduce(f64::max)
            .map_or("–".to_owned(), |m| format!("{m:.1} ms"));
        let list = |map: &std::collections::BTreeMap<String, u64>| {
            map.iter()
                .map(|(k, v)| format!("{} {v}", text(if k.is_empty() { "(none)" } else { k })))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{init_mean}</td><td class="n">{init_max}</td><td class="n">{}</td><td class="n">{} MB</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            text(name),
            f.invocations,
            f.cold_starts,
            f.billed_ms,
            f.memory_mb,
            text(&f.architecture),
            list(&f.by_route),
            list(&f.outcomes),
        );
    }
    out.push_str("</table>");
    for (name, f) in stack
        .functions
        .iter()
        .filter(|(_, f)| f.warnings_logged > 0)
    {
        let _ = write!(
            out,
            r#"<h3>{}: {} warnings or errors logged</h3><p class="muted">The last {}, oldest first.</p><pre>"#,
            text(name),
            f.warnings_logged,
            f.warnings.len()
        );
        for line in &f.warnings {
            let _ = writeln!(out, "{}", text(line));
        }
        out.push_str("</pre>");
    }
    out.push_str("</section>\n");
}

#[cfg(test)]
mod tests;
