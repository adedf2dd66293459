//! `junit.xml` for CI: the run as JUnit XML in the common conventions. It
//! validates against Jenkins' `junit-10.xsd` (what GitLab, GitHub actions
//! and most CI servers read), and against Apache Ant's stricter `JUnit.xsd`
//! but for the summary attributes of `<testsuites>`, which that schema does
//! not define: each `<testsuite>` holds `properties`, the test cases,
//! `system-out` and `system-err` in that order, with `package`, `id`,
//! `timestamp` (no zone) and `hostname`; a test case holds at most one
//! `failure` or `skipped`.
//!
//! One `<testsuite>` per scenario and per conformance suite; one `<testcase>`
//! per session or case, with `time` in seconds. A failed session or case
//! (verdict FAIL, or close verdict FAIL) has one `<failure>` whose `message`
//! names the first failed check and whose text lists every failure with what
//! was expected and received, the contract paths, the wire transcript and
//! the reproduce command; an UNIMPLEMENTED case is `<skipped>`; NON-STRICT
//! and INFO cases are passes whose details go to the suite's `<system-out>`.

use std::fmt::Write as _;

use super::markup::{attr, text};
use super::model::{CaseReport, Failure, RunReport, SessionReport};

/// The `package` of every test suite.
const PACKAGE: &str = "speechgate";

/// One test case before rendering.
struct Case {
    name: String,
    classname: String,
    seconds: f64,
    failure: Option<(String, String, String)>,
    skipped: Option<String>,
    /// NON-STRICT and INFO details, written to the suite's `<system-out>`.
    note: Option<String>,
}

/// One test suite before rendering.
struct Suite {
    name: String,
    seconds: f64,
    properties: Vec<(&'static str, String)>,
    cases: Vec<Case>,
}

fn seconds(ms: u64) -> f64 {
    ms as f64 / 1e3
}

/// The wall-clock span the sessions covered.
fn span_seconds<'a>(sessions: impl Iterator<Item = &'a SessionReport>) -> f64 {
    let mut start = u64::MAX;
    let mut end = 0;
    for session in sessions {
        start = start.min(session.started_at_ms);
        end = end.max(session.started_at_ms + session.duration_ms);
    }
    seconds(end.saturating_sub(start.min(end)))
}

/// Every failure as readable text.
fn details(failures: &[Failure]) -> String {
    let mut out = String::new();
    for (index, failure) in failures.iter().enumerate() {
        let _ = writeln!(
            out,
            "{}. [{}] {}: {}",
            index + 1,
            failure.check,
            failure.step,
            failure.message
        );
        if let Some(expected) = &failure.expected {
            let _ = writeln!(out, "   expected: {expected}");
        }
        if let Some(received) = &failure.received {
            let _ = writeln!(out, "   received: {received}");
        }
        for violation in &failure.violations {
            let _ = writeln!(
                out,
                "   at {} (schema {}): {}",
                violation.instance_path, violation.schema_path, violation.message
            );
        }
        if !failure.transcript.is_empty() {
            let _ = writeln!(out, "   wire transcript:");
            for entry in &failure.transcript {
                let arrow = if entry.direction == "in" { "<-" } else { "->" };
                let _ = writeln!(out, "     {:>8} ms {arrow} {}", entry.at_ms, entry.text);
            }
        }
        let _ = writeln!(out, "   reproduce: {}", failure.reproduce);
    }
    out
}

fn first_failure(failures: &[Failure]) -> (String, String) {
    match failures.first() {
        Some(first) if failures.len() == 1 => (first.message.clone(), first.check.clone()),
        Some(first) => (
            format!(
                "{} (and {} more failure(s))",
                first.message,
                failures.len() - 1
            ),
            first.check.clone(),
        ),
        None => ("failed".to_owned(), "failure".to_owned()),
    }
}

fn session_case(scenario: &str, session: &SessionReport) -> Case {
    Case {
        name: format!("session {}", session.index),
        classname: format!("scenario.{scenario}"),
        seconds: seconds(session.duration_ms),
        failure: (!session.passed).then(|| {
            let (message, kind) = first_failure(&session.failures);
            (message, kind, details(&session.failures))
        }),
        skipped: None,
        note: None,
    }
}

fn conformance_case(api: &str, case: &CaseReport) -> Case {
    let session = &case.session;
    let close = session.close.as_ref().map_or("no close".to_owned(), |c| {
        format!("closed {} by {}", c.code, c.by)
    });
    let verdicts = format!(
        "verdict {}, close verdict {} ({close}); expectation: {}",
        case.verdict, case.close_verdict, case.expectation
    );
    let failed = case.verdict == "FAIL" || case.close_verdict == "FAIL";
    let failure = failed.then(|| {
        let (message, kind) = if case.verdict == "FAIL" {
            first_failure(&session.failures)
        } else {
            (
                format!("close verdict FAIL ({close})"),
                "close code".to_owned(),
            )
        };
        (
            message,
            kind,
            format!("{verdicts}\n{}", details(&session.failures)),
        )
    });
    let skipped = (case.verdict == "UNIMPLEMENTED").then(|| format!("UNIMPLEMENTED: {verdicts}"));
    let note = (!failed && skipped.is_none()).then(|| {
        let mut note = verdicts.clone();
        if !session.failures.is_empty() {
            note.push('\n');
            note.push_str(&details(&session.failures));
        }
        note
    });
    Case {
        name: format!("{} {}", case.id, case.description),
        classname: format!("conformance.{api}"),
        seconds: seconds(session.duration_ms),
        failure,
        skipped,
        note,
    }
}

fn suites(report: &RunReport) -> Vec<Suite> {
    let mut suites = Vec::new();
    for scenario in &report.scenarios {
        suites.push(Suite {
            name: format!("scenario {}", scenario.name),
            seconds: span_seconds(scenario.sessions.iter()),
            properties: vec![
                ("path", scenario.path.clone()),
                ("api", scenario.api.clone()),
            ],
            cases: scenario
                .sessions
                .iter()
                .map(|s| session_case(&scenario.name, s))
                .collect(),
        });
    }
    for suite in &report.suites {
        suites.push(Suite {
            name: format!("conformance {}", suite.api),
            seconds: span_seconds(suite.cases.iter().map(|c| &c.session)),
            properties: vec![("path", suite.path.clone()), ("api", suite.api.clone())],
            cases: suite
                .cases
                .iter()
                .map(|c| conformance_case(&suite.api, c))
                .collect(),
        });
    }
    suites
}

/// The run's start as JUnit's timestamp (`YYYY-MM-DDTHH:MM:SS`, UTC, no zone).
fn timestamp(started_at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(started_at)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|_| "1970-01-01T00:00:00".to_owned())
}

/// Renders the run as JUnit XML.
pub(crate) fn render(report: &RunReport) -> String {
    let suites = suites(report);
    let count = |pick: fn(&Case) -> bool| -> usize {
        suites
            .iter()
            .map(|s| s.cases.iter().filter(|c| pick(c)).count())
            .sum()
    };
    let tests = count(|_| true);
    let failures = count(|c| c.failure.is_some());
    let timestamp = timestamp(&report.started_at);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        r#"<testsuites name="{}" tests="{tests}" failures="{failures}" errors="0" time="{:.3}">"#,
        attr(&format!("harness run {}", report.run_id)),
        seconds(report.duration_ms),
    );
    for (id, suite) in suites.iter().enumerate() {
        let failed = suite.cases.iter().filter(|c| c.failure.is_some()).count();
        let skipped = suite.cases.iter().filter(|c| c.skipped.is_some()).count();
        let _ = writeln!(
            out,
            r#"  <testsuite name="{}" package="{PACKAGE}" id="{id}" tests="{}" failures="{failed}" errors="0" skipped="{skipped}" time="{:.3}" timestamp="{timestamp}" hostname="localhost">"#,
            attr(&suite.name),
            suite.cases.len(),
            suite.seconds,
        );
        out.push_str("    <properties>\n");
        let common = [
            ("run_id", report.run_id.clone()),
            ("target", report.target.clone()),
            ("time_scale", report.time_scale.to_string()),
        ];
        for (name, value) in common.iter().chain(suite.properties.iter()) {
            let _ = writeln!(
                out,
                r#"      <property name="{name}" value="{}"/>"#,
                attr(value)
            );
        }
        out.push_str("    </properties>\n");
        let mut notes = String::new();
        for case in &suite.cases {
            let _ = write!(
                out,
                r#"    <testcase name="{}" classname="{}" time="{:.3}""#,
                attr(&case.name),
                attr(&case.classname),
                case.seconds
            );
            if let Some(note) = &case.note {
                let _ = writeln!(notes, "{}: {note}", case.name);
            }
            if let Some((message, kind, body)) = &case.failure {
                let _ = writeln!(
                    out,
                    r#">
      <failure message="{}" type="{}">{}</failure>
    </testcase>"#,
                    attr(message),
                    attr(kind),
                    text(body)
                );
            } else if let Some(message) = &case.skipped {
                let _ = writeln!(
                    out,
                    r#">
      <skipped message="{}"/>
    </testcase>"#,
                    attr(message)
                );
            } else {
                out.push_str("/>\n");
            }
        }
        let _ = writeln!(
            out,
            "    <system-out>{}</system-out>\n    <system-err></system-err>\n  </testsuite>",
            text(&notes)
        );
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::markup::kept;
    use crate::report::sample;
    use proptest::prelude::*;
    use serde::Deserialize;

    /// JUnit XML as CI servers read it.
    #[derive(Debug, Deserialize)]
    struct Suites {
        #[serde(rename = "@name")]
        name: String,
        #[serde(rename = "@tests")]
        tests: usize,
        #[serde(rename = "@failures")]
        failures: usize,
        #[serde(rename = "@errors")]
        errors: usize,
        #[serde(rename = "@time")]
        time: f64,
        #[serde(rename = "testsuite", default)]
        suites: Vec<SuiteXml>,
    }

    #[derive(Debug, Deserialize)]
    struct SuiteXml {
        #[serde(rename = "@name")]
        name: String,
        #[serde(rename = "@tests")]
        tests: usize,
        #[serde(rename = "@failures")]
        failures: usize,
        #[serde(rename = "@skipped")]
        skipped: usize,
        #[serde(rename = "@time")]
        time: f64,
        #[serde(rename = "@timestamp")]
        timestamp: String,
        #[serde(rename = "@package")]
        package: String,
        #[serde(rename = "@id")]
        id: usize,
        #[serde(rename = "@hostname")]
        hostname: String,
        properties: Properties,
        #[serde(rename = "testcase", default)]
        cases: Vec<CaseXml>,
        #[serde(rename = "system-out", default)]
        system_out: String,
        #[serde(rename = "system-err", default)]
        system_err: String,
    }

    #[derive(Debug, Deserialize)]
    struct Properties {
        #[serde(rename = "property", default)]
        properties: Vec<Property>,
    }

    #[derive(Debug, Deserialize)]
    struct Property {
        #[serde(rename = "@name")]
        name: String,
        #[serde(rename = "@value")]
        value: String,
    }

    #[derive(Debug, Deserialize)]
    struct CaseXml {
        #[serde(rename = "@name")]
        name: String,
        #[serde(rename = "@classname")]
        classname: String,
        #[serde(rename = "@time")]
        time: f64,
        failure: Option<FailureXml>,
        skipped: Option<SkippedXml>,
    }

    #[derive(Debug, Deserialize)]
    struct FailureXml {
        #[serde(rename = "@message")]
        message: String,
        #[serde(rename = "@type")]
        kind: String,
        #[serde(rename = "$text", default)]
        text: String,
    }

    #[derive(Debug, Deserialize)]
    struct SkippedXml {
        #[serde(rename = "@message")]
        message: String,
    }

    fn parse(xml: &str) -> Suites {
        quick_xml::de::from_str(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"))
    }

    #[test]
    fn one_suite_per_scenario_and_suite_one_case_per_session_and_case() {
        let report = sample::report();
        let xml = render(&report);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "));
        let parsed = parse(&xml);
        assert_eq!(parsed.name, "harness run 20261122T010000Z-abcd");
        assert_eq!(parsed.suites.len(), 2);
        assert_eq!((parsed.tests, parsed.failures, parsed.errors), (8, 3, 0));
        assert_eq!(parsed.time, 12.345);
        let scenario = &parsed.suites[0];
        assert_eq!(scenario.name, "scenario speaking-smoke");
        assert_eq!(
            (scenario.tests, scenario.failures, scenario.skipped),
            (2, 1, 0)
        );
        assert_eq!(scenario.timestamp, "2026-11-22T01:00:00");
        assert_eq!(
            (
                scenario.package.as_str(),
                scenario.id,
                scenario.hostname.as_str()
            ),
            ("speechgate", 0, "localhost")
        );
        assert_eq!(
            (scenario.system_out.as_str(), scenario.system_err.as_str()),
            ("", "")
        );
        // Sessions 0 and 1 start 100 ms apart and last 2.5 s each.
        assert_eq!(scenario.time, 2.6);
        let properties: Vec<(&str, &str)> = scenario
            .properties
            .properties
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str()))
            .collect();
        assert!(properties.contains(&("api", "SpeakingWebSocketApi")));
        assert!(properties.contains(&("time_scale", "10")));
        assert_eq!(scenario.cases[0].name, "session 0");
        assert_eq!(scenario.cases[0].classname, "scenario.speaking-smoke");
        assert_eq!(scenario.cases[0].time, 2.5);
        assert!(scenario.cases[0].failure.is_none());
        let failure = scenario.cases[1].failure.as_ref().unwrap();
        assert_eq!(failure.message, "session_ready breaks the contract");
        assert_eq!(failure.kind, "payload schema");
        for needed in [
            "expected: \"backend/spec/speaking.asyncapi.yaml\"",
            "received: {\"region\":42,\"type\":\"session_ready\"}",
            "at /region (schema /properties/region/type): 42 is not of type \"string\"",
            "<- </pre><script>alert(1)</script>\u{FFFD}",
            "reproduce: harness run scenarios/speaking/smoke.yaml --target ws://127.0.0.1:9 --sessions 1",
        ] {
            assert!(
                failure.text.contains(needed),
                "{needed:?} in {}",
                failure.text
            );
        }
    }

    #[test]
    fn verdicts_map_to_failure_skipped_and_suite_output() {
        let parsed = parse(&render(&sample::report()));
        let suite = &parsed.suites[1];
        assert_eq!(suite.name, "conformance SpeakingWebSocketApi");
        assert_eq!((suite.tests, suite.failures, suite.skipped), (6, 2, 1));
        let by_id = |id: &str| {
            suite
                .cases
                .iter()
                .find(|c| c.name.starts_with(&format!("{id} ")))
                .unwrap()
        };
        assert_eq!(by_id("2.1.1").name, "2.1.1 case 2.1.1 & <friends>");
        assert_eq!(by_id("2.1.1").classname, "conformance.SpeakingWebSocketApi");
        assert_eq!(
            by_id("2.1.1").failure.as_ref().unwrap().kind,
            "known message type"
        );
        let close = by_id("3.1.1").failure.as_ref().unwrap();
        assert_eq!(close.message, "close verdict FAIL (closed 1000 by client)");
        assert!(
            by_id("2.1.2")
                .skipped
                .as_ref()
                .unwrap()
                .message
                .starts_with("UNIMPLEMENTED")
        );
        assert!(by_id("2.1.2").failure.is_none());
        assert!(by_id("2.1.3").failure.is_none() && by_id("2.1.3").skipped.is_none());
        let notes = &suite.system_out;
        assert!(
            notes.contains("2.1.3 case 2.1.3 & <friends>: verdict NON-STRICT"),
            "{notes}"
        );
        assert!(notes.contains("[unexpected error]"), "{notes}");
        assert!(
            notes.contains("9.1.1 case 9.1.1 & <friends>: verdict INFO"),
            "{notes}"
        );
        assert!(by_id("1.1.1").failure.is_none() && by_id("1.1.1").skipped.is_none());
    }

    #[test]
    fn each_suite_lists_properties_cases_then_output_and_cases_hold_one_outcome() {
        use quick_xml::events::Event;
        let xml = render(&sample::report());
        let mut reader = quick_xml::Reader::from_str(&xml);
        let mut path: Vec<String> = Vec::new();
        let mut suite_children: Vec<String> = Vec::new();
        let mut case_children = 0;
        loop {
            let (name, empty) = match reader.read_event().unwrap() {
                Event::Start(tag) => (
                    String::from_utf8_lossy(tag.name().as_ref()).into_owned(),
                    false,
                ),
                Event::Empty(tag) => (
                    String::from_utf8_lossy(tag.name().as_ref()).into_owned(),
                    true,
                ),
                Event::End(_) => {
                    if path.pop().as_deref() == Some("testsuite") {
                        let order: Vec<&str> = suite_children.iter().map(String::as_str).collect();
                        let cases = order.iter().filter(|c| **c == "testcase").count();
                        let mut expected = vec!["properties"];
                        expected.extend(std::iter::repeat_n("testcase", cases));
                        expected.extend(["system-out", "system-err"]);
                        assert_eq!(order, expected);
                        suite_children.clear();
                    }
                    continue;
                }
                Event::Eof => break,
                _ => continue,
            };
            match path.last().map(String::as_str) {
                Some("testsuite") => suite_children.push(name.clone()),
                Some("testcase") => {
                    case_children += 1;
                    assert!(["failure", "skipped"].contains(&name.as_str()), "{name}");
                }
                _ => {}
            }
            if !empty {
                path.push(name);
            }
        }
        assert_eq!(case_children, 4, "three failures and one skipped case");
    }

    proptest! {
        #[test]
        fn any_failure_text_survives_the_round_trip(message in "\\PC{0,40}|[\\x00-\\x1f<>&\"']{0,20}") {
            let mut report = sample::report();
            report.suites.clear();
            report.scenarios[0].sessions[1].failures[0].message = message.clone();
            let parsed = parse(&render(&report));
            let failure = parsed.suites[0].cases[1].failure.as_ref().unwrap();
            prop_assert_eq!(&failure.message, &kept(&message));
        }
    }
}
