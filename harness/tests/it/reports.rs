//! The files a run writes, from a real run against the local stack (the
//! speaking smoke scenario and the speaking suite's bad-input cases):
//! reports/report.schema.json is the current schema of report.json and the
//! run's report.json validates against it; report.html is well-formed,
//! self-contained and has its charts; junit.xml parses back with one test
//! case per session and case. With `SPEECHGATE_BROWSER_CHECK=1`, the page is
//! also opened in headless Chromium (scripts/check-report-html.sh), which
//! must log nothing, while a deliberately broken copy must fail the check.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::*;
use harness::replay::{Run, RunOptions, Target, conformance};
use harness::scenario;
use harness::time_scale::TimeScale;
use serde_json::Value;

fn published_schema() -> Value {
    let path = workspace().join("reports/report.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_published_schema_is_current() {
    assert!(
        published_schema() == harness::report::json_schema(),
        "reports/report.schema.json is out of date; regenerate: cargo run --bin harness -- report-schema > reports/report.schema.json"
    );
}

/// Every problem the published schema finds in a report.json.
fn schema_errors(instance: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(&published_schema()).expect("the schema compiles");
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}: {e}", e.schema_path(), e.instance_path()))
        .collect()
}

/// Element counts of a document that must be well-formed XML.
fn xml_elements(document: &str) -> BTreeMap<String, usize> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(document);
    let mut counts = BTreeMap::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(tag) | Event::Empty(tag)) => {
                let name = String::from_utf8_lossy(tag.name().as_ref()).into_owned();
                *counts.entry(name).or_insert(0) += 1;
            }
            Ok(Event::Eof) => return counts,
            Ok(_) => {}
            Err(e) => panic!("not well-formed at {}: {e}", reader.buffer_position()),
        }
    }
}

fn attribute(tag: &str, document: &str, name: &str) -> String {
    let start = document.find(&format!("<{tag} ")).unwrap();
    let rest = &document[start..];
    let at = rest.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
    rest[at..at + rest[at..].find('"').unwrap()].to_owned()
}

fn check_in_browser(folder: &Path) {
    let script = workspace().join("scripts/check-report-html.sh");
    let output = std::process::Command::new("bash")
        .arg(&script)
        .arg(folder)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("check-report-html: OK"), "{stdout}");
    // The check can fail: the same page with an external image and a failing script.
    let broken = tempfile::tempdir().unwrap();
    let page = std::fs::read_to_string(folder.join("report.html"))
        .unwrap()
        .replace(
            "</main>",
            r#"<img src="https://example.invalid/chart.png"/></main>"#,
        );
    std::fs::write(broken.path().join("report.html"), page).unwrap();
    let output = std::process::Command::new("bash")
        .arg(&script)
        .arg(broken.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("Content Security Policy"), "{stderr}");
}

#[tokio::test]
async fn a_real_run_writes_reports_that_validate() {
    let scenarios = workspace().join("scenarios");
    let smoke = scenario::load(&scenarios.join("speaking/smoke.yaml")).unwrap();
    let suite =
        scenario::load_suite(&scenarios.join("conformance/SpeakingWebSocketApi.yaml")).unwrap();
    let mut parameters = smoke.scenario.parameters.clone();
    parameters.extend(suite.suite.parameters.clone());
    let stack = streaming_options(10.0);
    let options = RunOptions {
        target: Target::Local(Box::new(stack)),
        time_scale: TimeScale::new(10.0).unwrap(),
        sessions: None,
        spec_dir: workspace().join("backend/spec"),
        command: "cargo test -p harness --test it reports::".to_owned(),
        progress: false,
    };
    let clips = [
        (smoke.path.as_path(), &smoke.clips),
        (suite.path.as_path(), &suite.clips),
    ];
    let run = Run::start(options, &parameters, &clips).await.unwrap();
    let scenario_report = run.scenario(&smoke).await.unwrap();
    let suite_report = conformance::run_suite(&run, &suite, Some("2.1"))
        .await
        .unwrap();
    let report = run.finish(vec![scenario_report], vec![suite_report]).await;
    assert!(
        report.passed,
        "{:#?}\n{:#?}",
        report.scenarios[0].sessions[0].failures,
        report.suites[0]
            .cases
            .iter()
            .filter(|c| c.verdict != "PASS")
            .collect::<Vec<_>>()
    );
    let dir = tempfile::tempdir().unwrap();
    let folder = harness::report::write(dir.path(), &report).unwrap();

    // report.json validates against the published schema, which is not vacuous.
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(schema_errors(&json), Vec::<String>::new());
    assert!(json["stack"]["functions"]["SpeakingFunction"]["invocations"].as_u64() > Some(3));
    let mut broken = json;
    broken["passed"] = Value::from("yes");
    broken["suites"][0]["cases"][0]
        .as_object_mut()
        .unwrap()
        .remove("verdict");
    let errors = schema_errors(&broken);
    assert_eq!(errors.len(), 2, "{errors:#?}");

    // report.html: well-formed, self-contained, with every chart.
    let html = std::fs::read_to_string(folder.join("report.html")).unwrap();
    let elements = xml_elements(&html);
    let timelines = 2;
    assert_eq!(
        elements["svg"],
        report.metrics.len() + report.series.len() + timelines,
        "{elements:?}"
    );
    for metric in [
        "connect",
        "start_speaking→session_ready",
        "end_speaking→assessment_complete",
        harness::replay::session::STREAM_LATENESS,
    ] {
        assert!(
            report.metrics.contains_key(metric),
            "{metric} in {:?}",
            report.metrics.keys()
        );
    }
    for metric in report.metrics.keys() {
        assert!(html.contains(&format!("<figcaption>{metric}</figcaption>")));
    }
    for forbidden in ["<script", "src=", "href=\"http", "url(", "<link"] {
        assert!(!html.contains(forbidden), "{forbidden}");
    }
    assert!(html.contains("<td>SpeakingFunction</td>"));
    let sends = report.scenarios[0].sessions[0]
        .timeline
        .iter()
        .filter(|e| e.kind == "send")
        .count();
    assert_eq!(sends, 2, "start_speaking and end_speaking");

    // junit.xml: one test case per session and case, nothing failed.
    let junit = std::fs::read_to_string(folder.join("junit.xml")).unwrap();
    let elements = xml_elements(&junit);
    let cases = report.suites[0].cases.len();
    assert!(cases >= 4, "the 2.1 cases");
    assert_eq!(elements["testsuite"], 2);
    assert_eq!(elements["testcase"], 1 + cases);
    assert_eq!(elements.get("failure"), None);
    assert_eq!(
        attribute("testsuites", &junit, "tests"),
        (1 + cases).to_string()
    );
    assert_eq!(attribute("testsuites", &junit, "failures"), "0");

    if std::env::var("SPEECHGATE_BROWSER_CHECK").as_deref() == Ok("1") {
        check_in_browser(&folder);
    }
}
